"""Leaky integrator: the non-spiking readout neuron."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from ._base import AbstractNeuron, default_dtype


class LIState(NamedTuple):
    """State of [`spikax.neurons.LI`][]."""

    v: Float[Array, "*neurons"]  # membrane potential, in units of the input


class LI(AbstractNeuron[LIState]):
    r"""Leaky integrator, a non-spiking readout; one time step per call.

    $$v' = \beta v + (1-\beta)\,x,\qquad \text{output} = v'$$

    The output is the membrane itself (not spikes), so a readout layer's loss can use its
    maximum or mean over time. From rest with constant input $x$, $v_t = x(1-\beta^t)$.
    It is [`spikax.neurons.LIF`][] without threshold; NIR's `LI` node with $\tau = \Delta t/(1-\beta)$,
    $r = 1$. Used as the readout of e-prop (Bellec et al. 2020, Nat. Commun. 11:3625).

    **Arguments:**

    - `beta`: decay per step $\beta \in [0, 1]$ (default 0.9); a scalar or one value per neuron.
      Alternatively give `tau` and `dt`: $\beta = 1 - \Delta t/\tau$ (forward Euler).
    - `learnable`: `("beta",)` to learn the decay; default none.
    - `dtype`: dtype of stored parameters (default: JAX's default float).

    **Example:**

    ```python
    readout = spikax.neurons.LI(tau=20.0, dt=1.0)
    state, v = readout(readout.init_state((10,)), jnp.ones(10))  # v == 0.05
    ```
    """

    raw_beta: Array
    constraints = spec.constraints("LI")

    def __init__(self, beta=None, *, tau=None, dt=1.0, learnable=None, dtype=None):
        self.init_parameters({"beta": beta, "tau": tau}, learnable=learnable, dt=dt, dtype=dtype)

    def eligibility_leak(self, dtype=None) -> Array:
        """The membrane decay $\\beta$ (see [`spikax.neurons.AbstractNeuron.eligibility_leak`][])."""
        return self.param("beta", dtype)

    def between_spikes(self) -> str:
        """`"linear"`: see [`spikax.neurons.AbstractNeuron.between_spikes`][]."""
        return "linear"

    def init_state(self, shape, dtype=None) -> LIState:
        self.check_params(shape)
        return LIState(v=jnp.zeros(shape, default_dtype(dtype)))

    def __call__(self, state: LIState, x):
        self.check_input(state.v, x)
        beta = self.param("beta", state.v.dtype)
        v = beta * state.v + (1 - beta) * x
        return LIState(v=v), v
