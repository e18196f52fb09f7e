"""Leaky integrate-and-fire neuron."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class LIFState(NamedTuple):
    """State of [`spikax.neurons.LIF`][]."""

    v: Float[Array, "*neurons"]  # membrane potential, in units of the input
    refractory: Float[Array, "*neurons"] | None = None  # steps left to wait; None without a refractory period


class LIF(AbstractNeuron[LIFState]):
    r"""Leaky integrate-and-fire neuron; one time step per call.

    $$\tilde v = \beta v + (1-\beta)\,x,\qquad s = H(\tilde v-\theta),\qquad
      v' = \begin{cases}\tilde v - \theta s & \text{reset="subtract"}\\
                        \tilde v(1-s) + v_r s & \text{reset="zero"}\\
                        \tilde v & \text{reset="none"}\end{cases}$$

    Step order: integrate, spike if $\tilde v > \theta$, reset in the same step (the
    convention NIR readers use). With a refractory period of $r$ steps, a neuron that fired
    holds its membrane and cannot fire for the next $r$ steps. Gerstner et al., *Neuronal
    Dynamics* (2014), ch. 1.3.

    **Arguments:**

    - `beta`: decay per step $\beta \in [0, 1]$; a scalar or one value per neuron (broadcast).
      Alternatively give `tau` and `dt`: $\beta = 1 - \Delta t/\tau$ (forward Euler).
    - `threshold`: firing threshold $\theta > 0$ (default 1).
    - `reset`: `"subtract"` (default), `"zero"` (to `v_reset`) or `"none"`.
    - `v_reset`: value to reset to with `reset="zero"` (default 0).
    - `detach_reset`: cut the gradient through the reset (default False).
    - `refractory` / `refractory_time`: refractory period in steps, or in time units with `dt`.
    - `surrogate`: pseudo-derivative of the step (default `FastSigmoid()`).

      These five options form the neuron's [`spikax.neurons.SpikeOptions`][] part, `lif.spiking`;
      `lif.reset`, `lif.surrogate`, ... read it.
    - `learnable`: names of parameters that learn, e.g. `("beta", "threshold")`; default none.
    - `dtype`: dtype of stored parameters (default: JAX's default float).

    **Example:**

    ```python
    lif = spikax.neurons.LIF(beta=0.9)
    state, s = lif(lif.init_state((3,)), jnp.array([0.5, 2.0, 20.0]))
    ```
    """

    raw_beta: Array
    raw_threshold: Array
    spiking: SpikeOptions  # reset, v_reset, detach_reset, refractory, surrogate
    constraints = spec.constraints("LIF")
    input_scale = 2.0

    def __init__(self, beta=None, threshold=None, *, tau=None, dt=1.0, reset="subtract", v_reset=0.0,
                 detach_reset=False, refractory=None, refractory_time=None, surrogate=None, learnable=None,
                 dtype=None):
        self.init_parameters({"beta": beta, "tau": tau, "threshold": threshold}, learnable=learnable, dt=dt,
                             dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=self.raw_threshold.dtype, owner=self.owner())

    def eligibility_leak(self, dtype=None) -> Array:
        """The membrane decay $\\beta$ (see [`spikax.neurons.AbstractNeuron.eligibility_leak`][])."""
        return self.param("beta", dtype)

    def between_spikes(self) -> str | None:
        """Affine integration: see [`spikax.neurons.AbstractNeuron.between_spikes`][]."""
        return self.spiking.between_spikes()

    def init_state(self, shape, dtype=None) -> LIFState:
        self.check_params(shape)
        zeros = jnp.zeros(shape, default_dtype(dtype))
        return LIFState(v=zeros, refractory=self.spiking.refractory_counter(zeros))

    def __call__(self, state: LIFState, x):
        self.check_input(state.v, x)
        dtype = state.v.dtype
        beta, threshold = self.param("beta", dtype), self.param("threshold", dtype)
        v, s, counter = self.spiking.fire_and_reset(state.v, beta * state.v + (1 - beta) * x, state.refractory,
                                                    threshold)
        return LIFState(v=v, refractory=counter), s
