"""Adaptive exponential integrate-and-fire neuron (AdEx)."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from .._errors import check_positive
from ._base import AbstractNeuron, SpikeOptions, default_dtype, fire, reset


class AdExState(NamedTuple):
    """State of [`spikax.neurons.AdEx`][]."""

    v: Float[Array, "*neurons"]  # membrane potential, in mV
    w: Float[Array, "*neurons"]  # adaptation current, in pA


class AdEx(AbstractNeuron[AdExState]):
    r"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005, J. Neurophysiol. 94:3637).

    $$C\dot V = -g_L(V-E_L) + g_L\Delta_T\,e^{(V-V_T)/\Delta_T} - w + x,\qquad
      \tau_w\dot w = a(V-E_L) - w,$$
    $$\text{if } V > V_{peak}:\ V \leftarrow V_r,\ w \leftarrow w + b .$$

    One call is one forward-Euler step of `dt` ms, then spike and reset. Units: mV, ms, pF,
    nS and pA (so the input $x$ is a current in pA; about 1 nA makes the default cell fire).
    The exponential is evaluated at $\min(V, V_{peak})$, which bounds the upswing so it cannot
    overflow. Defaults are the paper's fit to a pyramidal cell: $C = 281$ pF, $g_L = 30$ nS,
    $E_L = -70.6$ mV, $V_T = -50.4$ mV, $\Delta_T = 2$ mV, $\tau_w = 144$ ms, $a = 4$ nS,
    $b = 80.5$ pA, with $V_r = E_L$ and $V_{peak} = 20$ mV. The state starts at $V = E_L$, $w = 0$.

    **Arguments:**

    - `c_m`: capacitance $C$ (pF); `g_l`: leak conductance $g_L$ (nS); `e_l`: leak reversal
      $E_L$ (mV); `v_t`: threshold slope position $V_T$ (mV); `delta_t`: slope factor $\Delta_T$
      (mV; not the time step); `tau_w`: adaptation time constant (ms); `a`: subthreshold
      adaptation (nS); `b`: spike-triggered adaptation (pA). Each a scalar or one value per neuron.
    - `v_reset`: reset potential $V_r$ (mV, default $E_L$); `v_peak`: spike cut-off (mV, default 20).
    - `dt`: time step in ms (default 0.1).
    - `detach_reset`: cut the gradient through the reset (default False).
    - `surrogate`: pseudo-derivative applied to $V - V_{peak}$ in mV (default `FastSigmoid()`).
    - `learnable`: any of `("c_m", "g_l", "e_l", "v_t", "delta_t", "tau_w", "a", "b")`; default none.
    - `dtype`: dtype of stored parameters (default: JAX's default float).

    **Example:**

    ```python
    neuron = spikax.neurons.AdEx()
    state = neuron.init_state((2,))
    state, s = neuron(state, jnp.array([0.0, 1000.0]))  # input in pA
    ```
    """

    raw_c_m: Array
    raw_g_l: Array
    raw_e_l: Array
    raw_v_t: Array
    raw_delta_t: Array
    raw_tau_w: Array
    raw_a: Array
    raw_b: Array
    v_reset: Array
    v_peak: Array
    dt: float = eqx.field(static=True)
    spiking: SpikeOptions  # detach_reset, surrogate (the reset to `v_reset` and the jump of w are the neuron's own)
    constraints = spec.constraints("AdEx")
    input_scale = 1000.0

    def __init__(self, c_m=None, g_l=None, e_l=None, v_t=None, delta_t=None, tau_w=None, a=None, b=None, *,
                 v_reset=None, v_peak=20.0, dt=0.1, detach_reset=False, surrogate=None, learnable=None,
                 dtype=None):
        self.init_parameters({"c_m": c_m, "g_l": g_l, "e_l": e_l, "v_t": v_t, "delta_t": delta_t, "tau_w": tau_w,
                              "a": a, "b": b}, learnable=learnable, dtype=dtype)
        check_positive(self.owner(), "dt", dt, "Pass the time step in ms, e.g. `dt=0.1`.")
        self.v_reset = jnp.asarray(self.param("e_l") if v_reset is None else v_reset, dtype=self.raw_c_m.dtype)
        self.v_peak = jnp.asarray(v_peak, dtype=self.raw_c_m.dtype)
        self.dt = float(dt)
        self.spiking = SpikeOptions("zero", None, detach_reset, surrogate=surrogate, owner=self.owner())

    def init_state(self, shape, dtype=None) -> AdExState:
        self.check_params(shape)
        dtype = default_dtype(dtype)
        v = jnp.broadcast_to(self.param("e_l", dtype), shape)
        return AdExState(v=v, w=jnp.zeros(shape, dtype))

    def __call__(self, state: AdExState, x):
        self.check_input(state.v, x)
        dtype = state.v.dtype
        c_m, g_l, e_l = self.param("c_m", dtype), self.param("g_l", dtype), self.param("e_l", dtype)
        v_t, delta_t, tau_w = self.param("v_t", dtype), self.param("delta_t", dtype), self.param("tau_w", dtype)
        a, b = self.param("a", dtype), self.param("b", dtype)
        v_peak = self.v_peak.astype(dtype)
        v, w = state.v, state.w
        upswing = g_l * delta_t * jnp.exp((jnp.minimum(v, v_peak) - v_t) / delta_t)
        v_new = v + self.dt * (-g_l * (v - e_l) + upswing - w + x) / c_m
        w_new = w + self.dt * (a * (v - e_l) - w) / tau_w
        s = fire(v_new, v_peak, self.surrogate)
        v_new = reset(v_new, s, v_peak, mode="zero", v_reset=self.v_reset.astype(dtype), detach=self.detach_reset)
        w_new = w_new + b * self.spiking.reset_signal(s)
        return AdExState(v=v_new, w=w_new), s
