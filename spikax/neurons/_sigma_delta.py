"""Sigma-delta neuron: sends graded spikes carrying the change of its activation (Loihi 2)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

import spikax_spec as spec

from .._errors import check_choice
from ..surrogate import AbstractSurrogate, FastSigmoid
from ._base import AbstractNeuron, default_dtype, fire

ACTIVATIONS = ("relu", "identity")


class SigmaDeltaState(NamedTuple):
    """State of [`spikax.neurons.SigmaDelta`][]."""

    sigma: Float[Array, "*neurons"]  # accumulated input (the pre-activation), in units of the input
    ref: Float[Array, "*neurons"]  # the activation as the receivers know it: the sum of all outputs sent so far


class SigmaDelta(AbstractNeuron[SigmaDeltaState]):
    r"""Sigma-delta neuron, as on Loihi 2 (O'Connor & Welling 2016, arXiv:1611.02024; Shrestha et al. 2024, ICASSP).

    $$\sigma' = \lambda\sigma + x,\qquad a = f(\sigma'),\qquad \Delta = a - r,\qquad
      y = \Delta\cdot H(|\Delta| - \theta),\qquad r' = r + y$$

    The *sigma* stage sums its (delta) inputs back into a pre-activation, $f$ is ReLU or the
    identity, and the *delta* stage sends a **graded spike**: the output $y$ is not in {0, 1}
    but the change $\Delta$ of the activation since the last message, sent only when it exceeds
    $\theta$ in size, and 0 otherwise. Receivers that add up the outputs reconstruct the
    activation: $\left|\sum_{k\le t} y_k - a_t\right| \le \theta$ at every step. When the input is
    steady the neuron falls silent, which is the point: events only where things change.
    With `quantize=True` a change that is sent is rounded to a nearest multiple of $\theta$ (an
    integer payload `y / threshold`, never 0 since $|\Delta| > \theta$), with a straight-through
    gradient; the reconstruction bound stays $\theta$.
    $\lambda = 1$ (default) is Loihi's pure sigma; $\lambda < 1$ makes it leaky.

    **Arguments:**

    - `threshold`: smallest change that is sent, $\theta > 0$ (default 0.1).
    - `leak`: decay of the sigma stage per step $\lambda \in [0, 1]$ (default 1, no leak), or
      `tau` with `dt`.
    - `activation`: `"relu"` (default) or `"identity"`.
    - `quantize`: round sent changes to multiples of $\theta$ (default False).
    - `surrogate`: pseudo-derivative of the send decision $H$ (default `FastSigmoid()`).
    - `learnable`: any of `("threshold", "leak")`; default none. A learnable `leak` must start below 1.
    - `dtype`: dtype of stored parameters (default: JAX's default float).

    **Example:**

    ```python
    neuron = spikax.neurons.SigmaDelta(threshold=0.1)
    state, y = neuron(neuron.init_state((2,)), jnp.array([0.05, 0.5]))  # y == [0, 0.5]
    ```
    """

    raw_threshold: Array
    raw_leak: Array
    activation: str = eqx.field(static=True)
    quantize: bool = eqx.field(static=True)
    surrogate: AbstractSurrogate
    constraints = spec.constraints("SigmaDelta")

    def __init__(self, threshold=None, *, leak=None, tau=None, dt=1.0, activation="relu", quantize=False,
                 surrogate=None, learnable=None, dtype=None):
        self.init_parameters({"threshold": threshold, "leak": leak, "tau": tau}, learnable=learnable, dt=dt,
                             dtype=dtype)
        check_choice(self.owner(), "activation", activation, ACTIVATIONS)
        self.activation = activation
        self.quantize = bool(quantize)
        self.surrogate = FastSigmoid() if surrogate is None else surrogate

    def init_state(self, shape, dtype=None) -> SigmaDeltaState:
        self.check_params(shape)
        zeros = jnp.zeros(shape, default_dtype(dtype))
        return SigmaDeltaState(sigma=zeros, ref=zeros)

    def __call__(self, state: SigmaDeltaState, x):
        self.check_input(state.sigma, x)
        dtype = state.sigma.dtype
        threshold, leak = self.param("threshold", dtype), self.param("leak", dtype)
        sigma = leak * state.sigma + x
        act = jnp.maximum(sigma, 0) if self.activation == "relu" else sigma
        delta = act - state.ref
        send = fire(jnp.abs(delta), threshold, self.surrogate)
        if self.quantize:  # straight-through: forward rounds, backward is the identity
            delta = delta + lax.stop_gradient(threshold * jnp.round(delta / threshold) - delta)
        y = delta * send
        return SigmaDeltaState(sigma=sigma, ref=state.ref + y), y
