"""Integrate-and-fire neuron (no leak)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class IFState(NamedTuple):
    """State of [`spikax.neurons.IF`][]."""

    v: Float[Array, "*neurons"]  # membrane potential, in units of the input (summed input since the last reset)
    refractory: Float[Array, "*neurons"] | None = None  # steps left to wait; None without a refractory period


class IF(AbstractNeuron[IFState]):
    r"""Integrate-and-fire neuron without leak (a perfect integrator); one time step per call.

    $$\tilde v = v + x,\qquad s = H(\tilde v-\theta),\qquad
      v' = \begin{cases}\tilde v - \theta s & \text{reset="subtract"}\\
                        \tilde v(1-s) + v_r s & \text{reset="zero"}\\
                        \tilde v & \text{reset="none"}\end{cases}$$

    Step order as in [`spikax.neurons.LIF`][]: integrate, spike if $\tilde v > \theta$, reset in
    the same step. With subtraction the neuron is a rate encoder whose spike count over $T$
    steps of constant input $0 \le x \le \theta$ is $\lceil Tx/\theta\rceil - 1$ (i.e.
    $\lfloor Tx/\theta\rfloor$ unless $Tx/\theta$ is a whole number), the basis of ANN-to-SNN
    conversion (Rueckauer et al. 2017, Front. Neurosci. 11:682). The input gain is one per step
    with no `dt`, as NIR's `IF` node is read by every peer. Lapicque (1907); Gerstner et al.,
    *Neuronal Dynamics* (2014), ch. 1.3.

    **Arguments:**

    - `threshold`: firing threshold $\theta > 0$ (default 1); a scalar or one value per neuron.
    - `reset`: `"subtract"` (default), `"zero"` (to `v_reset`) or `"none"`.
    - `v_reset`: value to reset to with `reset="zero"` (default 0).
    - `detach_reset`: cut the gradient through the reset (default False).
    - `refractory` / `refractory_time`: refractory period in steps, or in time units with `dt`.
    - `dt`: time step, used only to convert `refractory_time` to steps.
    - `surrogate`: pseudo-derivative of the step (default `FastSigmoid()`).
    - `learnable`: names of parameters that learn, here only `("threshold",)`; default none.
    - `dtype`: dtype of stored parameters (default: JAX's default float).

    **Example:**

    ```python
    neuron = spikax.neurons.IF(threshold=1.0)
    state, s = neuron(neuron.init_state((3,)), jnp.array([0.5, 1.0, 1.5]))  # s == [0, 0, 1]
    ```
    """

    raw_threshold: Array
    spiking: SpikeOptions  # reset, v_reset, detach_reset, refractory, surrogate
    constraints = spec.constraints("IF")

    def __init__(self, threshold=None, *, dt=1.0, reset="subtract", v_reset=0.0, detach_reset=False,
                 refractory=None, refractory_time=None, surrogate=None, learnable=None, dtype=None):
        self.init_parameters({"threshold": threshold}, learnable=learnable, dt=dt, dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=self.raw_threshold.dtype, owner=self.owner())

    def eligibility_leak(self, dtype=None) -> Array:
        """No leak: 1 (see [`spikax.neurons.AbstractNeuron.eligibility_leak`][])."""
        return jnp.ones((), default_dtype(dtype))

    def between_spikes(self) -> str | None:
        """Affine integration: see [`spikax.neurons.AbstractNeuron.between_spikes`][]."""
        return self.spiking.between_spikes()

    def init_state(self, shape, dtype=None) -> IFState:
        self.check_params(shape)
        zeros = jnp.zeros(shape, default_dtype(dtype))
        return IFState(v=zeros, refractory=self.spiking.refractory_counter(zeros))

    def __call__(self, state: IFState, x):
        self.check_input(state.v, x)
        dtype = state.v.dtype
        threshold = self.param("threshold", dtype)
        v, s, counter = self.spiking.fire_and_reset(state.v, state.v + x, state.refractory, threshold)
        return IFState(v=v, refractory=counter), s
