"""Tsodyks-Markram short-term plasticity (mirrors `spikax.plasticity.tsodyks_markram`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from .._errors import check_in_range
from ._rule import decay


class ShortTermPlasticity(NamedTuple):
    """`init(shape, dtype) -> state`, `update(pre, state) -> (release, state)`."""

    init: Callable
    update: Callable


class TsodyksMarkramState(NamedTuple):
    """State of `spikax_torch.plasticity.tsodyks_markram`."""

    u: torch.Tensor
    x: torch.Tensor


def tsodyks_markram(U: float = 0.5, tau_d: float = 200.0, tau_f: float | None = None,
                    dt: float = 1.0) -> ShortTermPlasticity:
    r"""Tsodyks-Markram depression and facilitation, as `spikax.plasticity.tsodyks_markram`:
    $u^+ = u + U(1-u)$, $r = u^+ x$, $x \leftarrow x - r$ at a spike, relaxing in between.

    **Example:**

    ```python
    stp = spikax_torch.plasticity.tsodyks_markram(U=0.5, tau_d=100.0, tau_f=50.0)
    release, state = stp.update(torch.tensor([1.0, 0.0]), stp.init((2,)))
    ```
    """
    owner = "spikax_torch.plasticity.tsodyks_markram"
    check_in_range(owner, "U", U, 0.0, 1.0)
    d_d = decay(owner, tau_d, dt)
    d_f = 0.0 if tau_f is None else decay(owner, tau_f, dt)

    def init_fn(shape, dtype=None):
        return TsodyksMarkramState(torch.zeros(shape, dtype=dtype), torch.ones(shape, dtype=dtype))

    def update_fn(pre, state):
        if tuple(pre.shape) != tuple(state.u.shape):
            raise ValueError(f"`{owner}`: `pre` has shape {tuple(pre.shape)} but the state has shape "
                             f"{tuple(state.u.shape)}; build the state with `init(pre.shape)`.")
        u = d_f * state.u
        x = 1 - (1 - state.x) * d_d
        u_plus = u + U * (1 - u)
        release = pre * u_plus * x
        return release, TsodyksMarkramState(u + pre * (u_plus - u), x - release)

    return ShortTermPlasticity(init_fn, update_fn)
