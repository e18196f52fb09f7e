"""Leaky integrate-and-fire neuron (torch twin of `spikax.neurons.LIF`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class LIFState(NamedTuple):
    """State of [`spikax_torch.neurons.LIF`][]."""

    v: torch.Tensor  # membrane potential, in units of the input
    refractory: torch.Tensor | None = None  # steps left to wait; None without a refractory period


class LIF(AbstractNeuron):
    r"""Leaky integrate-and-fire neuron; one time step per call (same equations as `spikax.neurons.LIF`).

    $$\tilde v = \beta v + (1-\beta)\,x,\qquad s = H(\tilde v-\theta),\qquad
      v' = \tilde v - \theta s\ \ (\text{or } \tilde v(1-s) + v_r s,\ \text{or } \tilde v)$$

    Integrate ([`update_voltage`][spikax_torch.neurons.LIF.update_voltage], which a subclass may
    replace), spike if $\tilde v > \theta$, reset in the same step. Gerstner et al., *Neuronal
    Dynamics* (2014), ch. 1.3.

    **Arguments:** as [`spikax.neurons.LIF`][]: `beta` (or `tau` with `dt`), `threshold`,
    `reset`, `v_reset`, `detach_reset`, `refractory` / `refractory_time`, `surrogate`,
    `learnable`, `dtype` (default: torch's default float). Parameters may be tensors of any
    shape that broadcasts to the neurons (e.g. one `beta` per neuron).

    **Example:**

    ```python
    lif = spikax_torch.neurons.LIF(beta=0.9)
    state, s = lif(None, torch.tensor([[0.5, 2.0, 20.0]]))  # state made from the input's shape
    ```
    """

    constraints = spec.constraints("LIF")
    static_fields = ("spiking",)

    def __init__(self, beta=None, threshold=None, *, tau=None, dt=1.0, reset="subtract", v_reset=0.0,
                 detach_reset=False, refractory=None, refractory_time=None, surrogate=None, learnable=None,
                 dtype=None):
        super().__init__(learnable)
        self.init_parameters({"beta": beta, "tau": tau, "threshold": threshold}, dt=dt, dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=dtype, owner=self.owner())

    def init_state(self, shape, dtype=None, device=None) -> LIFState:
        self.check_params(shape)
        zeros = torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device)
        return LIFState(v=zeros, refractory=self.spiking.refractory_counter(zeros))

    def update_voltage(self, v, x):
        r"""Leaky integration $\beta v + (1-\beta)x$; replace in a subclass for other dynamics."""
        beta = self.param("beta", v.dtype)
        return beta * v + (1 - beta) * x

    def forward(self, state: LIFState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.v, x)
        threshold = self.param("threshold", state.v.dtype)
        v, s, count = self.spiking.fire_and_reset(state.v, self.update_voltage(state.v, x), state.refractory, threshold)
        return LIFState(v=v, refractory=count), s
