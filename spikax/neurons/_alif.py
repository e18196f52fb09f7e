"""Adaptive-threshold LIF (the ALIF neuron of LSNNs and e-prop)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from ._base import AbstractNeuron, SpikeOptions, default_dtype


class ALIFState(NamedTuple):
    """State of [`spikax.neurons.ALIF`][]."""

    v: Float[Array, "*neurons"]  # membrane potential, in units of the input
    a: Float[Array, "*neurons"]  # adaptation: a leaky count of past spikes (dimensionless)
    refractory: Float[Array, "*neurons"] | None = None  # steps left to wait; None without a refractory period


class ALIF(AbstractNeuron[ALIFState]):
    r"""Leaky integrate-and-fire neuron with an adaptive threshold; one time step per call.

    $$\begin{aligned}
      \tilde v_t &= \alpha v_{t-1} + (1-\alpha)\,x_t, &
      A_t &= \theta + \beta_a a_{t-1}, &
      s_t &= H(\tilde v_t - A_t),\\
      v_t &= \tilde v_t - \theta s_t\ \ (\text{or reset to } v_r,\ \text{or none}), &
      a_t &= \rho\, a_{t-1} + s_t .
    \end{aligned}$$

    Each spike raises the threshold by $\beta_a$, and the rise decays by $\rho$ per step, so
    the neuron adapts on the slow time scale $\tau_a$. This is the ALIF neuron of LSNNs
    (Bellec et al. 2018, NeurIPS) in the form used by e-prop (Bellec et al. 2020, Nat. Commun.
    11:3625, Methods): the adaptation counts spikes without a $(1-\rho)$ factor, and the
    subtractive reset removes the *baseline* threshold $\theta$ (not $A_t$), so the reset does
    not depend on $a$. The membrane uses the same $(1-\alpha)$ input scaling as
    [`spikax.neurons.LIF`][]; with $\beta_a = 0$ the neuron equals `LIF(beta=alpha)`.

    e-prop eligibility traces follow from these equations. For a weight feeding $x_t$ with
    presynaptic signal $z_t$, the surrogate $\psi_t = \sigma'(\tilde v_t - A_t)$ and a detached
    (or ignored) reset:
    $\epsilon^v_t = \alpha\epsilon^v_{t-1} + (1-\alpha) z_t$,
    $e_t = \psi_t(\epsilon^v_t - \beta_a\epsilon^a_{t-1})$,
    $\epsilon^a_t = \psi_t\epsilon^v_t + (\rho - \beta_a\psi_t)\,\epsilon^a_{t-1}$.

    **Arguments:**

    - `alpha`: membrane decay per step $\alpha \in [0, 1]$ (default 0.9), or `tau_mem` with `dt`:
      $\alpha = 1 - \Delta t/\tau_{mem}$ (forward Euler).
    - `rho`: adaptation decay per step $\rho \in [0, 1]$ (default 0.99), or `tau_adapt` with `dt`.
    - `beta_a`: adaptation strength $\beta_a \ge 0$, the threshold rise per spike (default 0.2).
    - `threshold`: baseline threshold $\theta > 0$ (default 1).
    - `reset`, `v_reset`, `detach_reset`, `refractory`, `refractory_time`, `surrogate`, `dtype`:
      as for [`spikax.neurons.LIF`][].
    - `learnable`: any of `("alpha", "rho", "beta_a", "threshold")`; default none.

    **Example:**

    ```python
    neuron = spikax.neurons.ALIF(tau_mem=20.0, tau_adapt=200.0, beta_a=0.5)
    state = neuron.init_state((2,))
    state, s = neuron(state, jnp.array([0.5, 30.0]))
    neuron.adaptive_threshold(state)  # [1.0, 1.5]
    ```
    """

    raw_alpha: Array
    raw_rho: Array
    raw_beta_a: Array
    raw_threshold: Array
    spiking: SpikeOptions  # reset, v_reset, detach_reset, refractory, surrogate
    constraints = spec.constraints("ALIF")
    input_scale = 2.0

    def __init__(self, alpha=None, rho=None, beta_a=None, threshold=None, *, tau_mem=None, tau_adapt=None, dt=1.0,
                 reset="subtract", v_reset=0.0, detach_reset=False, refractory=None, refractory_time=None,
                 surrogate=None, learnable=None, dtype=None):
        self.init_parameters({"alpha": alpha, "tau_mem": tau_mem, "rho": rho, "tau_adapt": tau_adapt,
                              "beta_a": beta_a, "threshold": threshold}, learnable=learnable, dt=dt, dtype=dtype)
        self.spiking = SpikeOptions(reset, v_reset, detach_reset, refractory, refractory_time, dt, surrogate,
                                    dtype=self.raw_threshold.dtype, owner=self.owner())

    def eligibility_leak(self, dtype=None) -> Array:
        """The membrane decay $\\alpha$ (see [`spikax.neurons.AbstractNeuron.eligibility_leak`][])."""
        return self.param("alpha", dtype)

    def init_state(self, shape, dtype=None) -> ALIFState:
        self.check_params(shape)
        zeros = jnp.zeros(shape, default_dtype(dtype))
        return ALIFState(v=zeros, a=zeros, refractory=self.spiking.refractory_counter(zeros))

    def adaptive_threshold(self, state: ALIFState) -> Array:
        r"""The threshold $A = \theta + \beta_a a$ the *next* step will compare against."""
        dtype = state.a.dtype
        return self.param("threshold", dtype) + self.param("beta_a", dtype) * state.a

    def __call__(self, state: ALIFState, x):
        self.check_input(state.v, x)
        dtype = state.v.dtype
        alpha, rho = self.param("alpha", dtype), self.param("rho", dtype)
        threshold = self.param("threshold", dtype)
        v, s, counter = self.spiking.fire_and_reset(state.v, alpha * state.v + (1 - alpha) * x, state.refractory,
                                                    self.adaptive_threshold(state), reset_by=threshold)
        return ALIFState(v=v, a=rho * state.a + s, refractory=counter), s
