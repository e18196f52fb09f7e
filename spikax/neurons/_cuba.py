"""Current-based LIF: a synaptic current filter feeding a leaky membrane."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class CubaLIFState(NamedTuple):
    """State of [`spikax.neurons.CubaLIF`][]."""

    i: Float[Array, "*neurons"]  # synaptic current, in units of the input
    v: Float[Array, "*neurons"]  # membrane potential, in units of the input
    refractory: Float[Array, "*neurons"] | None = None  # steps left to wait; None without a refractory period


class CubaLIF(AbstractNeuron[CubaLIFState]):
    r"""Current-based leaky integrate-and-fire neuron (two-stage filter); one time step per call.

    $$i' = \alpha i + x,\qquad \tilde v = \beta v + (1-\beta)\,i',\qquad s = H(\tilde v-\theta),\qquad
      v' = \tilde v - \theta s\ \ (\text{or reset to } v_r,\ \text{or none})$$

    The current is updated first and the membrane integrates the **new** current $i'$ (the
    convention of NIR's `CubaLIF`, snnTorch's `Synaptic` and Lava's CUBA neuron), so an input
    reaches the membrane in the same step. The current is never reset. The steady state for a
    constant input is $i = x/(1-\alpha)$, $v = x/(1-\alpha)$. In NIR terms:
    $\tau_{syn} = \Delta t/(1-\alpha)$, $w_{in} = 1/(1-\alpha)$, $\tau_{mem} = \Delta t/(1-\beta)$, $r = 1$.
    Gerstner et al., *Neuronal Dynamics* (2014), ch. 1.3 and 3.1.

    With a refractory period the membrane is held for that many steps after a spike while the
    current keeps filtering its input.

    **Arguments:**

    - `alpha`: synaptic decay per step $\alpha \in [0, 1]$ (default 0.8), or `tau_syn` with `dt`:
      $\alpha = 1 - \Delta t/\tau_{syn}$.
    - `beta`: membrane decay per step $\beta \in [0, 1]$ (default 0.9), or `tau_mem` with `dt`.
    - `threshold`: firing threshold $\theta > 0$ (default 1).
    - `reset`, `v_reset`, `detach_reset`, `refractory`, `refractory_time`, `surrogate`, `dtype`:
      as for [`spikax.neurons.LIF`][].
    - `learnable`: any of `("alpha", "beta", "threshold")`; default none.

    **Example:**

    ```python
    neuron = spikax.neurons.CubaLIF(tau_syn=5.0, tau_mem=10.0, dt=1.0)
    state, s = neuron(neuron.init_state((3,)), jnp.array([1.0, 5.0, 50.0]))
    ```
    """

    raw_alpha: Array
    raw_beta: Array
    raw_threshold: Array
    spiking: SpikeOptions  # reset, v_reset, detach_reset, refractory, surrogate
    constraints = spec.constraints("CubaLIF")

    def __init__(self, alpha=None, beta=None, threshold=None, *, tau_syn=None, tau_mem=None, dt=1.0,
                 reset="subtract", v_reset=0.0, detach_reset=False, refractory=None, refractory_time=None,
                 surrogate=None, learnable=None, dtype=None):
        self.init_parameters({"alpha": alpha, "tau_syn": tau_syn, "beta": beta, "tau_mem": tau_mem,
                              "threshold": threshold}, learnable=learnable, dt=dt, dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=self.raw_threshold.dtype, owner=self.owner())

    def between_spikes(self) -> str | None:
        """Affine integration: see [`spikax.neurons.AbstractNeuron.between_spikes`][]."""
        return self.spiking.between_spikes()

    def init_state(self, shape, dtype=None) -> CubaLIFState:
        self.check_params(shape)
        zeros = jnp.zeros(shape, default_dtype(dtype))
        return CubaLIFState(i=zeros, v=zeros, refractory=self.spiking.refractory_counter(zeros))

    def __call__(self, state: CubaLIFState, x):
        self.check_input(state.v, x)
        dtype = state.v.dtype
        alpha, beta = self.param("alpha", dtype), self.param("beta", dtype)
        threshold = self.param("threshold", dtype)
        i = alpha * state.i + x
        v, s, counter = self.spiking.fire_and_reset(state.v, beta * state.v + (1 - beta) * i, state.refractory,
                                                    threshold)
        return CubaLIFState(i=i, v=v, refractory=counter), s
