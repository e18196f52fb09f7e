"""Adaptive exponential integrate-and-fire (torch twin of `spikax.neurons.AdEx`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from .._errors import as_numpy, check_positive
from ._base import AbstractNeuron, SpikeOptions, default_dtype, fire, reset


class AdExState(NamedTuple):
    """State of [`spikax_torch.neurons.AdEx`][]."""

    v: torch.Tensor  # membrane potential, in mV
    w: torch.Tensor  # adaptation current, in pA


class AdEx(AbstractNeuron):
    r"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005, J. Neurophysiol. 94:3637).

    $$C\dot V = -g_L(V-E_L) + g_L\Delta_T e^{(V-V_T)/\Delta_T} - w + x,\quad \tau_w\dot w = a(V-E_L) - w,$$
    $$V > V_{peak}:\ V \leftarrow V_r,\ w \leftarrow w + b$$

    One forward-Euler step of `dt` ms per call, as [`spikax.neurons.AdEx`][] (same units and
    defaults). The voltage and adaptation updates are separate methods a subclass may replace.

    **Arguments:** `c_m`, `g_l`, `e_l`, `v_t`, `delta_t`, `tau_w`, `a`, `b`, `v_reset`, `v_peak`, `dt`,
    `detach_reset`, `surrogate`, `learnable`, `dtype`.

    **Example:**

    ```python
    neuron = spikax_torch.neurons.AdEx()
    state, s = neuron(None, torch.tensor([0.0, 1000.0]))  # input in pA
    ```
    """

    constraints = spec.constraints("AdEx")
    static_fields = ("dt", "spiking")
    input_scale = 1000.0

    def __init__(self, c_m=None, g_l=None, e_l=None, v_t=None, delta_t=None, tau_w=None, a=None, b=None, *,
                 v_reset=None, v_peak=20.0, dt=0.1, detach_reset=False, surrogate=None, learnable=None,
                 dtype=None):
        super().__init__(learnable)
        self.init_parameters({"c_m": c_m, "g_l": g_l, "e_l": e_l, "v_t": v_t, "delta_t": delta_t, "tau_w": tau_w,
                              "a": a, "b": b}, dtype=dtype)
        check_positive(self.owner(), "dt", dt, "Pass the time step in ms, e.g. `dt=0.1`.")
        dtype = default_dtype(dtype)
        v_reset = self.param("e_l") if v_reset is None else as_numpy(v_reset)
        self.register_buffer("v_reset", torch.as_tensor(v_reset, dtype=dtype))
        self.register_buffer("v_peak", torch.as_tensor(as_numpy(v_peak), dtype=dtype))
        self.dt = float(dt)
        self.spiking = SpikeOptions("zero", None, detach_reset, surrogate=surrogate, owner=self.owner())

    def init_state(self, shape, dtype=None, device=None) -> AdExState:
        self.check_params(shape)
        zeros = torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device)
        return AdExState(v=zeros + self.param("e_l", zeros.dtype), w=zeros)

    def update_voltage(self, v, w, x):
        """One Euler step of the membrane (exponential evaluated at min(V, V_peak))."""
        p = lambda name: self.param(name, v.dtype)  # noqa: E731
        g_l, delta_t = p("g_l"), p("delta_t")
        upswing = g_l * delta_t * torch.exp((torch.minimum(v, self.v_peak.to(v.dtype)) - p("v_t")) / delta_t)
        return v + self.dt * (-g_l * (v - p("e_l")) + upswing - w + x) / p("c_m")

    def update_adaptation(self, v, w):
        """One Euler step of the adaptation current."""
        p = lambda name: self.param(name, v.dtype)  # noqa: E731
        return w + self.dt * (p("a") * (v - p("e_l")) - w) / p("tau_w")

    def forward(self, state: AdExState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.v, x)
        dtype = state.v.dtype
        v_peak = self.v_peak.to(dtype)
        v_new = self.update_voltage(state.v, state.w, x)
        w_new = self.update_adaptation(state.v, state.w)
        s = fire(v_new, v_peak, self.surrogate)
        v_new = reset(v_new, s, v_peak, mode="zero", v_reset=self.v_reset.to(dtype), detach=self.detach_reset)
        w_new = w_new + self.param("b", dtype) * self.spiking.reset_signal(s)
        return AdExState(v=v_new, w=w_new), s
