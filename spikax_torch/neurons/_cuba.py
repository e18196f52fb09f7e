"""Current-based LIF (torch twin of `spikax.neurons.CubaLIF`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class CubaLIFState(NamedTuple):
    """State of [`spikax_torch.neurons.CubaLIF`][]."""

    i: torch.Tensor  # synaptic current, in units of the input
    v: torch.Tensor  # membrane potential, in units of the input
    refractory: torch.Tensor | None = None  # steps left to wait; None without a refractory period


class CubaLIF(AbstractNeuron):
    r"""Current-based LIF; one time step per call (as `spikax.neurons.CubaLIF`).

    $$i' = \alpha i + x,\qquad \tilde v = \beta v + (1-\beta)\,i',\qquad s = H(\tilde v-\theta),\qquad
      v' = \tilde v - \theta s$$

    The current and the voltage updates are separate methods
    ([`update_current`][spikax_torch.neurons.CubaLIF.update_current],
    [`update_voltage`][spikax_torch.neurons.CubaLIF.update_voltage]) that a subclass may replace.
    Gerstner et al., *Neuronal Dynamics* (2014), ch. 1.3 and 3.1.

    **Arguments:** `alpha` (or `tau_syn`), `beta` (or `tau_mem`), `threshold`, `dt`, `reset`,
    `v_reset`, `detach_reset`, `refractory` / `refractory_time`, `surrogate`, `learnable`, `dtype`.

    **Example:**

    ```python
    neuron = spikax_torch.neurons.CubaLIF(tau_syn=5.0, tau_mem=10.0)
    state, s = neuron(None, torch.tensor([1.0, 5.0, 50.0]))
    ```
    """

    constraints = spec.constraints("CubaLIF")
    static_fields = ("spiking",)

    def __init__(self, alpha=None, beta=None, threshold=None, *, tau_syn=None, tau_mem=None, dt=1.0,
                 reset="subtract", v_reset=0.0, detach_reset=False, refractory=None, refractory_time=None,
                 surrogate=None, learnable=None, dtype=None):
        super().__init__(learnable)
        self.init_parameters({"alpha": alpha, "tau_syn": tau_syn, "beta": beta, "tau_mem": tau_mem,
                              "threshold": threshold}, dt=dt, dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=dtype, owner=self.owner())

    def init_state(self, shape, dtype=None, device=None) -> CubaLIFState:
        self.check_params(shape)
        zeros = torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device)
        return CubaLIFState(i=zeros, v=zeros, refractory=self.spiking.refractory_counter(zeros))

    def update_current(self, i, x):
        r"""Synaptic filter $\alpha i + x$."""
        return self.param("alpha", i.dtype) * i + x

    def update_voltage(self, v, i):
        r"""Membrane $\beta v + (1-\beta) i$, driven by the *new* current."""
        beta = self.param("beta", v.dtype)
        return beta * v + (1 - beta) * i

    def forward(self, state: CubaLIFState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.v, x)
        i = self.update_current(state.i, x)
        threshold = self.param("threshold", state.v.dtype)
        v, s, count = self.spiking.fire_and_reset(state.v, self.update_voltage(state.v, i), state.refractory, threshold)
        return CubaLIFState(i=i, v=v, refractory=count), s
