"""Integrate-and-fire neuron without leak (torch twin of `spikax.neurons.IF`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class IFState(NamedTuple):
    """State of [`spikax_torch.neurons.IF`][]."""

    v: torch.Tensor  # membrane potential (summed input since the last reset)
    refractory: torch.Tensor | None = None  # steps left to wait; None without a refractory period


class IF(AbstractNeuron):
    r"""Integrate-and-fire neuron without leak; one time step per call (as `spikax.neurons.IF`).

    $$\tilde v = v + x,\qquad s = H(\tilde v-\theta),\qquad v' = \tilde v - \theta s\ \ (\text{or reset to } v_r,
      \text{ or none})$$

    Lapicque (1907); Gerstner et al., *Neuronal Dynamics* (2014), ch. 1.3.

    **Arguments:** `threshold`, `dt` (for `refractory_time`), `reset`, `v_reset`, `detach_reset`,
    `refractory` / `refractory_time`, `surrogate`, `learnable` (`("threshold",)`), `dtype`.

    **Example:**

    ```python
    neuron = spikax_torch.neurons.IF()
    state, s = neuron(None, torch.tensor([0.5, 1.0, 1.5]))  # s == [0, 0, 1]
    ```
    """

    constraints = spec.constraints("IF")
    static_fields = ("spiking",)

    def __init__(self, threshold=None, *, dt=1.0, reset="subtract", v_reset=0.0, detach_reset=False,
                 refractory=None, refractory_time=None, surrogate=None, learnable=None, dtype=None):
        super().__init__(learnable)
        self.init_parameters({"threshold": threshold}, dt=dt, dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=dtype, owner=self.owner())

    def init_state(self, shape, dtype=None, device=None) -> IFState:
        self.check_params(shape)
        zeros = torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device)
        return IFState(v=zeros, refractory=self.spiking.refractory_counter(zeros))

    def update_voltage(self, v, x):
        """Perfect integration $v + x$; replace in a subclass for other dynamics."""
        return v + x

    def forward(self, state: IFState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.v, x)
        threshold = self.param("threshold", state.v.dtype)
        v, s, count = self.spiking.fire_and_reset(state.v, self.update_voltage(state.v, x), state.refractory, threshold)
        return IFState(v=v, refractory=count), s
