"""Adaptive-threshold LIF (torch twin of `spikax.neurons.ALIF`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class ALIFState(NamedTuple):
    """State of [`spikax_torch.neurons.ALIF`][]."""

    v: torch.Tensor  # membrane potential, in units of the input
    a: torch.Tensor  # adaptation: a leaky count of past spikes
    refractory: torch.Tensor | None = None  # steps left to wait; None without a refractory period


class ALIF(AbstractNeuron):
    r"""LIF with an adaptive threshold (Bellec et al. 2018; e-prop form, Bellec et al. 2020).

    $$\tilde v_t = \alpha v_{t-1} + (1-\alpha)x_t,\quad A_t = \theta + \beta_a a_{t-1},\quad
      s_t = H(\tilde v_t - A_t),\quad v_t = \tilde v_t - \theta s_t,\quad a_t = \rho a_{t-1} + s_t$$

    Same equations, options and defaults as [`spikax.neurons.ALIF`][]. The voltage and
    adaptation updates are separate methods that a subclass may replace.

    **Arguments:** `alpha` (or `tau_mem`), `rho` (or `tau_adapt`), `beta_a`, `threshold`, `dt`,
    `reset`, `v_reset`, `detach_reset`, `refractory` / `refractory_time`, `surrogate`, `learnable`, `dtype`.

    **Example:**

    ```python
    neuron = spikax_torch.neurons.ALIF(tau_mem=20.0, tau_adapt=200.0, beta_a=0.5)
    state, s = neuron(None, torch.tensor([0.5, 30.0]))
    neuron.adaptive_threshold(state)  # [1.0, 1.5]
    ```
    """

    constraints = spec.constraints("ALIF")
    static_fields = ("spiking",)

    def __init__(self, alpha=None, rho=None, beta_a=None, threshold=None, *, tau_mem=None, tau_adapt=None, dt=1.0,
                 reset="subtract", v_reset=0.0, detach_reset=False, refractory=None, refractory_time=None,
                 surrogate=None, learnable=None, dtype=None):
        super().__init__(learnable)
        self.init_parameters({"alpha": alpha, "tau_mem": tau_mem, "rho": rho, "tau_adapt": tau_adapt,
                              "beta_a": beta_a, "threshold": threshold}, dt=dt, dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=dtype, owner=self.owner())

    def init_state(self, shape, dtype=None, device=None) -> ALIFState:
        self.check_params(shape)
        zeros = torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device)
        return ALIFState(v=zeros, a=zeros, refractory=self.spiking.refractory_counter(zeros))

    def adaptive_threshold(self, state: ALIFState):
        r"""The threshold $A = \theta + \beta_a a$ the *next* step will compare against."""
        dtype = state.a.dtype
        return self.param("threshold", dtype) + self.param("beta_a", dtype) * state.a

    def update_voltage(self, v, x):
        r"""Leaky integration $\alpha v + (1-\alpha)x$."""
        alpha = self.param("alpha", v.dtype)
        return alpha * v + (1 - alpha) * x

    def update_adaptation(self, a, s):
        r"""Spike count with leak, $\rho a + s$."""
        return self.param("rho", a.dtype) * a + s

    def forward(self, state: ALIFState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.v, x)
        dtype = state.v.dtype
        threshold = self.param("threshold", dtype)
        v, s, counter = self.spiking.fire_and_reset(state.v, self.update_voltage(state.v, x), state.refractory,
                                                    self.adaptive_threshold(state), reset_by=threshold)
        return ALIFState(v=v, a=self.update_adaptation(state.a, s), refractory=counter), s
