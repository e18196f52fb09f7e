"""Izhikevich's simple model (torch twin of `spikax.neurons.Izhikevich`)."""

from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar, NamedTuple

import spikax_spec as spec
import torch

from .._errors import as_numpy, check_choice, check_positive
from ._base import AbstractNeuron, SpikeOptions, default_dtype, fire, reset

IZHIKEVICH_PRESETS = MappingProxyType({
    "regular_spiking": {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0},
    "intrinsically_bursting": {"a": 0.02, "b": 0.2, "c": -55.0, "d": 4.0},
    "chattering": {"a": 0.02, "b": 0.2, "c": -50.0, "d": 2.0},
    "fast_spiking": {"a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0},
    "low_threshold_spiking": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 2.0},
    "thalamo_cortical": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 0.05},
    "resonator": {"a": 0.1, "b": 0.26, "c": -65.0, "d": 2.0},
})
V_REST = -65.0  # initial membrane potential (mV)


class IzhikevichState(NamedTuple):
    """State of [`spikax_torch.neurons.Izhikevich`][]."""

    v: torch.Tensor  # membrane potential, in mV
    u: torch.Tensor  # recovery variable


class Izhikevich(AbstractNeuron):
    r"""Izhikevich's simple spiking model (Izhikevich 2003, IEEE Trans. Neural Netw. 14:1569).

    $$\dot v = 0.04v^2 + 5v + 140 - u + x,\quad \dot u = a(bv - u),\quad
      v > v_{peak}:\ v \leftarrow c,\ u \leftarrow u + d$$

    `substeps` forward-Euler steps of `dt / substeps` per call, integration frozen past the peak,
    exactly as [`spikax.neurons.Izhikevich`][]. The voltage and recovery updates are separate
    methods a subclass may replace.

    **Arguments:** `a`, `b`, `c`, `d`, `v_peak`, `dt`, `substeps`, `detach_reset`, `surrogate`,
    `learnable`, `dtype`; named cell types from [`Izhikevich.preset`][].

    **Example:**

    ```python
    neuron = spikax_torch.neurons.Izhikevich.preset("chattering")
    state, s = neuron(None, torch.tensor([10.0]))
    ```
    """

    constraints = spec.constraints("Izhikevich")
    static_fields = ("dt", "substeps", "spiking")
    PRESET_NAMES: ClassVar[tuple[str, ...]] = tuple(IZHIKEVICH_PRESETS)
    input_scale = 10.0

    def __init__(self, a=None, b=None, c=None, d=None, *, v_peak=30.0, dt=1.0, substeps=2, detach_reset=False,
                 surrogate=None, learnable=None, dtype=None):
        owner = self.owner()
        super().__init__(learnable)
        self.init_parameters({"a": a, "b": b, "c": c, "d": d}, dtype=dtype)
        check_positive(owner, "dt", dt, "Pass the time per call in ms, e.g. `dt=1.0`.")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"`{owner}`: `substeps` must be a whole number >= 1, got {substeps!r}. Pass e.g. `substeps=2`.")
        self.register_buffer("v_peak", torch.as_tensor(as_numpy(v_peak), dtype=default_dtype(dtype)))
        self.dt = float(dt)
        self.substeps = substeps
        self.spiking = SpikeOptions("zero", None, detach_reset, surrogate=surrogate, owner=owner)

    @classmethod
    def preset(cls, name: str, **kwargs) -> Izhikevich:
        """An `Izhikevich` neuron with the $(a, b, c, d)$ of a named cell type (see `PRESET_NAMES`).

        **Example:**

        ```python
        spikax_torch.neurons.Izhikevich.preset("fast_spiking", dt=0.5)
        ```
        """
        check_choice("spikax_torch.neurons.Izhikevich.preset", "preset name", name, cls.PRESET_NAMES)
        return cls(**{**IZHIKEVICH_PRESETS[name], **kwargs})

    def init_state(self, shape, dtype=None, device=None) -> IzhikevichState:
        self.check_params(shape)
        v = torch.full(tuple(shape), V_REST, dtype=default_dtype(dtype), device=device)
        return IzhikevichState(v=v, u=self.param("b", v.dtype) * v)

    def update_voltage(self, v, u, x, h):
        """One Euler step of the membrane; frozen once past the peak."""
        below = (v <= self.v_peak.to(v.dtype)).to(v.dtype)
        return v + h * below * (0.04 * v * v + 5.0 * v + 140.0 - u + x)

    def update_recovery(self, v, u, h):
        """One Euler step of the recovery variable."""
        a, b = self.param("a", v.dtype), self.param("b", v.dtype)
        return u + h * (a * (b * v - u))

    def forward(self, state: IzhikevichState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.v, x)
        dtype = state.v.dtype
        c, d = self.param("c", dtype), self.param("d", dtype)
        v_peak = self.v_peak.to(dtype)
        h = self.dt / self.substeps
        v, u = state.v, state.u
        for _ in range(self.substeps):
            v, u = self.update_voltage(v, u, x, h), self.update_recovery(v, u, h)
        s = fire(v, v_peak, self.surrogate)
        v = reset(v, s, v_peak, mode="zero", v_reset=c, detach=self.detach_reset)
        u = u + d * self.spiking.reset_signal(s)
        return IzhikevichState(v=v, u=u), s
