"""Izhikevich's simple model, with the named cortical presets of the 2003 paper."""

from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from .._errors import check_choice, check_positive
from ._base import AbstractNeuron, SpikeOptions, default_dtype, fire, reset

# (a, b, c, d) from Izhikevich (2003), Fig. 2, for v in mV and t in ms.
IZHIKEVICH_PRESETS = MappingProxyType({
    "regular_spiking": {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0},
    "intrinsically_bursting": {"a": 0.02, "b": 0.2, "c": -55.0, "d": 4.0},
    "chattering": {"a": 0.02, "b": 0.2, "c": -50.0, "d": 2.0},
    "fast_spiking": {"a": 0.1, "b": 0.2, "c": -65.0, "d": 2.0},
    "low_threshold_spiking": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 2.0},
    "thalamo_cortical": {"a": 0.02, "b": 0.25, "c": -65.0, "d": 0.05},
    "resonator": {"a": 0.1, "b": 0.26, "c": -65.0, "d": 2.0},
})

V_REST = -65.0  # initial membrane potential (mV), as in Izhikevich's reference code


class IzhikevichState(NamedTuple):
    """State of [`spikax.neurons.Izhikevich`][]."""

    v: Float[Array, "*neurons"]  # membrane potential, in mV
    u: Float[Array, "*neurons"]  # recovery variable, in the units of the input current (mV/ms)


class Izhikevich(AbstractNeuron[IzhikevichState]):
    r"""Izhikevich's simple spiking model (Izhikevich 2003, IEEE Trans. Neural Netw. 14:1569).

    $$\dot v = 0.04v^2 + 5v + 140 - u + x,\qquad \dot u = a(bv - u),\qquad
      \text{if } v > v_{peak}:\ v \leftarrow c,\ u \leftarrow u + d$$

    with $v$ in mV, time in ms and the input current $x$ in the paper's units (about 10 drives
    a regular-spiking cell). One call advances `dt` ms with `substeps` forward-Euler steps of
    `dt / substeps` (the paper's code uses two half-millisecond steps for $v$); once $v$ passes
    $v_{peak}$ within a call it stops integrating, so the upswing cannot overflow. The spike and
    reset happen at the end of the call. The state starts at $v = -65$, $u = b v$.

    Named cell types of the paper's Fig. 2 come from [`spikax.neurons.Izhikevich.preset`][]:
    `Izhikevich.PRESET_NAMES` lists them and `spikax.neurons.IZHIKEVICH_PRESETS` holds their
    $(a, b, c, d)$.

    **Arguments:**

    - `a`: recovery rate $a > 0$ (1/ms); `b`: recovery sensitivity $b$; `c`: reset potential
      (mV); `d`: recovery jump per spike. Defaults: regular spiking (0.02, 0.2, -65, 8). Each is
      a scalar or one value per neuron.
    - `v_peak`: spike cut-off in mV (default 30).
    - `dt`: time per call in ms (default 1); `substeps`: Euler steps per call (default 2).
    - `detach_reset`: cut the gradient through the reset (default False).
    - `surrogate`: pseudo-derivative of the step, applied to $v - v_{peak}$ in mV (default `FastSigmoid()`).
    - `learnable`: any of `("a", "b", "c", "d")`; default none.
    - `dtype`: dtype of stored parameters (default: JAX's default float).

    **Example:**

    ```python
    neuron = spikax.neurons.Izhikevich.preset("chattering")
    state = neuron.init_state((1,))
    state, s = neuron(state, jnp.array([10.0]))
    ```
    """

    raw_a: Array
    raw_b: Array
    raw_c: Array
    raw_d: Array
    v_peak: Array
    dt: float = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    spiking: SpikeOptions  # detach_reset, surrogate (the reset to `c` is the neuron's own)
    constraints = spec.constraints("Izhikevich")
    PRESET_NAMES: ClassVar[tuple[str, ...]] = tuple(IZHIKEVICH_PRESETS)
    input_scale = 10.0

    def __init__(self, a=None, b=None, c=None, d=None, *, v_peak=30.0, dt=1.0, substeps=2, detach_reset=False,
                 surrogate=None, learnable=None, dtype=None):
        owner = self.owner()
        self.init_parameters({"a": a, "b": b, "c": c, "d": d}, learnable=learnable, dtype=dtype)
        check_positive(owner, "dt", dt, "Pass the time per call in ms, e.g. `dt=1.0`.")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(
                f"`{owner}`: `substeps` must be a whole number >= 1, got {substeps!r}. Pass e.g. `substeps=2`."
            )
        self.v_peak = jnp.asarray(v_peak, dtype=self.raw_a.dtype)
        self.dt = float(dt)
        self.substeps = substeps
        self.spiking = SpikeOptions("zero", None, detach_reset, surrogate=surrogate, owner=owner)

    @classmethod
    def preset(cls, name: str, **kwargs) -> Izhikevich:
        """An `Izhikevich` neuron with the $(a, b, c, d)$ of a named cell type from Izhikevich (2003).

        **Arguments:**

        - `name`: one of `Izhikevich.PRESET_NAMES`: `"regular_spiking"`, `"intrinsically_bursting"`,
          `"chattering"`, `"fast_spiking"`, `"low_threshold_spiking"`, `"thalamo_cortical"`, `"resonator"`.
        - `**kwargs`: any other constructor argument (`dt`, `learnable`, ...), or an override of `a`-`d`.

        **Example:**

        ```python
        fs = spikax.neurons.Izhikevich.preset("fast_spiking", dt=0.5)
        ```
        """
        check_choice("spikax.neurons.Izhikevich.preset", "preset name", name, cls.PRESET_NAMES)
        return cls(**{**IZHIKEVICH_PRESETS[name], **kwargs})

    def init_state(self, shape, dtype=None) -> IzhikevichState:
        self.check_params(shape)
        v = jnp.full(shape, V_REST, default_dtype(dtype))
        return IzhikevichState(v=v, u=self.param("b", v.dtype) * v)

    def __call__(self, state: IzhikevichState, x):
        self.check_input(state.v, x)
        dtype = state.v.dtype
        a, b = self.param("a", dtype), self.param("b", dtype)
        c, d = self.param("c", dtype), self.param("d", dtype)
        v_peak = self.v_peak.astype(dtype)
        h = self.dt / self.substeps
        v, u = state.v, state.u
        for _ in range(self.substeps):
            below = (v <= v_peak).astype(dtype)  # stop integrating past the peak (the upswing is explosive)
            dv = 0.04 * v * v + 5.0 * v + 140.0 - u + x
            du = a * (b * v - u)
            v, u = v + h * below * dv, u + h * du
        s = fire(v, v_peak, self.surrogate)
        v = reset(v, s, v_peak, mode="zero", v_reset=c, detach=self.detach_reset)
        u = u + d * self.spiking.reset_signal(s)
        return IzhikevichState(v=v, u=u), s
