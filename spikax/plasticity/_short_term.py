"""Short-term synaptic plasticity (Tsodyks-Markram) as a synapse state."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .._errors import check_in_range
from ._rule import decay


class ShortTermPlasticity(NamedTuple):
    """A short-term synapse model: `init(shape, dtype) -> state`, `update(pre, state) -> (release, state)`.

    `release` has the shape of `pre` and replaces the presynaptic spikes as the input of the
    connection (the efficacy of each spike); see [`spikax.plasticity.tsodyks_markram`][].
    """

    init: Callable
    update: Callable


class TsodyksMarkramState(NamedTuple):
    """State of [`spikax.plasticity.tsodyks_markram`][] (one entry per presynaptic neuron)."""

    u: jax.Array  # utilisation of synaptic efficacy just before a spike, in [0, 1]
    x: jax.Array  # fraction of available resources, in [0, 1]


def tsodyks_markram(U: float = 0.5, tau_d: float = 200.0, tau_f: float | None = None,
                    dt: float = 1.0) -> ShortTermPlasticity:
    r"""Tsodyks-Markram short-term depression and facilitation (Tsodyks, Pawelzik & Markram 1998;
    Markram, Wang & Tsodyks 1998).

    Between spikes the utilisation $u$ relaxes to 0 with $\tau_f$ and the resources $x$ recover
    to 1 with $\tau_d$; at a presynaptic spike ($s=1$)

    $$u^+ = u + U(1-u),\qquad r = u^+ x,\qquad x \leftarrow x - r,\qquad u \leftarrow u^+$$

    and the spike transmits with efficacy $r$ (`release`). Each step first relaxes by `dt`
    (exactly: $u \leftarrow e^{-dt/\tau_f}u$, $x \leftarrow 1-(1-x)e^{-dt/\tau_d}$), then
    registers the step's spikes. `tau_f=None` is pure depression ($u^+ = U$ at every spike).
    For a regular train with interval $\Delta$ the release converges to

    $$u^* = \frac{U}{1-(1-U)e^{-\Delta/\tau_f}},\qquad
    x^* = \frac{1-e^{-\Delta/\tau_d}}{1-(1-u^*)e^{-\Delta/\tau_d}},\qquad r^* = u^* x^*.$$

    Elementwise, so it serves any input shape (dense or convolutional connections alike).

    **Arguments:** `U` (utilisation increment, in (0, 1]), `tau_d` (recovery time constant),
    `tau_f` (facilitation time constant, or None), `dt` (all in one unit).

    **Returns:** a [`spikax.plasticity.ShortTermPlasticity`][]; state
    [`spikax.plasticity.TsodyksMarkramState`][] starts at $u=0$, $x=1$.

    **Example:**

    ```python
    stp = spikax.plasticity.tsodyks_markram(U=0.5, tau_d=100.0, tau_f=50.0)
    state = stp.init((3,))
    release, state = stp.update(jnp.array([1.0, 0.0, 1.0]), state)  # [0.5, 0, 0.5]
    ```
    """
    owner = "spikax.plasticity.tsodyks_markram"
    check_in_range(owner, "U", U, 0.0, 1.0)
    d_d = decay(owner, tau_d, dt)
    d_f = 0.0 if tau_f is None else decay(owner, tau_f, dt)

    def init_fn(shape, dtype=None):
        dtype = jnp.result_type(float) if dtype is None else dtype
        return TsodyksMarkramState(u=jnp.zeros(shape, dtype), x=jnp.ones(shape, dtype))

    def update_fn(pre, state):
        if jnp.shape(pre) != jnp.shape(state.u):
            raise ValueError(f"`{owner}`: `pre` has shape {jnp.shape(pre)} but the state has shape "
                             f"{jnp.shape(state.u)}; build the state with `init(pre.shape)` (one sample; vmap batches).")
        u = d_f * state.u
        x = 1 - (1 - state.x) * d_d
        u_plus = u + U * (1 - u)
        release = pre * u_plus * x
        return release, TsodyksMarkramState(u=u + pre * (u_plus - u), x=x - release)

    return ShortTermPlasticity(init_fn, update_fn)
