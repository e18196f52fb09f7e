"""Leaky integrator readout (torch twin of `spikax.neurons.LI`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from ._base import AbstractNeuron, default_dtype


class LIState(NamedTuple):
    """State of [`spikax_torch.neurons.LI`][]."""

    v: torch.Tensor  # membrane potential, in units of the input


class LI(AbstractNeuron):
    r"""Leaky integrator, a non-spiking readout: $v' = \beta v + (1-\beta)x$, output $v'$.

    As [`spikax.neurons.LI`][] (the e-prop readout, Bellec et al. 2020).

    **Arguments:** `beta` (or `tau` with `dt`), `learnable` (`("beta",)`), `dtype`.

    **Example:**

    ```python
    readout = spikax_torch.neurons.LI(tau=20.0, dt=1.0)
    state, v = readout(None, torch.ones(10))  # v == 0.05
    ```
    """

    constraints = spec.constraints("LI")

    def __init__(self, beta=None, *, tau=None, dt=1.0, learnable=None, dtype=None):
        super().__init__(learnable)
        self.init_parameters({"beta": beta, "tau": tau}, dt=dt, dtype=dtype)

    def init_state(self, shape, dtype=None, device=None) -> LIState:
        self.check_params(shape)
        return LIState(v=torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device))

    def update_voltage(self, v, x):
        r"""Leaky integration $\beta v + (1-\beta)x$; replace in a subclass for other dynamics."""
        beta = self.param("beta", v.dtype)
        return beta * v + (1 - beta) * x

    def forward(self, state: LIState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.v, x)
        v = self.update_voltage(state.v, x)
        return LIState(v=v), v
