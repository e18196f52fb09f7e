"""What every neuron shares: parameter storage, learnability, firing, reset and refractoriness.

Neuron parameters are stored *unconstrained* (fields named `raw_<name>`) and mapped to
their valid range on use, so any optimiser step keeps them valid:

| constraint | valid range | stored as |
| --- | --- | --- |
| `"decay"` | [0, 1] | `log(-log(d))`, read back as `exp(-exp(raw))` |
| `"positive"` | (0, inf) | `log(p)`, read back as `exp(raw)` |
| `"real"` | any | itself |

A parameter learns only when its name is in the neuron's `learnable` set; otherwise it is
read through `lax.stop_gradient` and [`spikax.trainable`][] leaves it out of optimisers.

The parameter table (defaults, constraints, valid ranges) and the checks come from
`spikax_spec`, which `spikax_torch` shares. Neurons can be built inside `jax.jit` and
`eqx.filter_vmap` (e.g. an ensemble with one time constant per member): a traced parameter is
checked with `eqx.error_if` instead of at construction.

How a neuron fires, resets and rests (reset mode, `v_reset`, detached reset, refractory period,
surrogate) is one composed part, [`spikax.neurons.SpikeOptions`][], held as the neuron's field
`spiking`; `neuron.reset`, `neuron.surrogate`, ... read it.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import spikax_spec as spec
from jax import lax
from jaxtyping import Array, Float

from .._errors import check_param_dtype, guard
from ..surrogate import AbstractSurrogate, FastSigmoid, spike

StateT = TypeVar("StateT")

RESET_MODES = spec.RESET_MODES


def default_dtype(dtype=None):
    """`dtype`, or JAX's default float (float64 when x64 is enabled, else float32)."""
    return jnp.result_type(float) if dtype is None else dtype


def decay_from(owner: str, name: str, *, decay=None, tau=None, dt=1.0, learnable: bool = False,
               tau_name: str = "tau"):
    r"""A per-step decay from either `decay` itself or a time constant `tau` with step `dt`.

    Forward Euler, the convention NIR, Norse and Lava use: $d = 1 - \Delta t/\tau$, so a
    time constant needs `tau >= dt`. Exactly one of `decay` and `tau` must be given.
    `tau_name` is the argument's public name used in messages (e.g. `"tau_syn"`).
    Traced values are checked with `eqx.error_if`.
    """
    return spec.decay_from(owner, name, decay=decay, tau=tau, dt=dt, learnable=learnable, tau_name=tau_name,
                           guard=guard)


class AbstractNeuron(eqx.Module, Generic[StateT]):
    """Base class of all neurons: a pure, elementwise step `(state, x) -> (state, spikes)`.

    Subclasses declare `constraints` (parameter name -> constraint kind), store each parameter
    with [`AbstractNeuron.store`][spikax.neurons.AbstractNeuron.store] and read it with
    [`AbstractNeuron.param`][spikax.neurons.AbstractNeuron.param].
    """

    learnable: frozenset[str] = eqx.field(static=True)
    constraints: ClassVar[Mapping[str, str]] = {}
    # An input amplitude that makes the default neuron respond (fire) within a few steps, in the
    # neuron's own input units; generic tests and examples scale random inputs by it.
    input_scale: ClassVar[float] = 1.0

    def eligibility_leak(self, dtype=None) -> Array | None:
        r"""The per-step decay $\lambda$ of this neuron's membrane when it is one leaky integrator of its input, else None.

        Eligibility-trace learners read it (a presynaptic trace $\hat a_t = \lambda\hat a_{t-1} + x_t$,
        or the filter of a leaky readout) instead of knowing the neuron's class: LIF and LI give
        $\beta$, ALIF its membrane decay $\alpha$, IF 1; neurons without a single membrane leak
        (CubaLIF filters twice, Izhikevich and AdEx are non-linear) keep this default, None.

        **Example:**

        ```python
        spikax.neurons.LI(beta=0.8).eligibility_leak()  # 0.8
        ```
        """
        del dtype
        return None


    def between_spikes(self) -> str | None:
        r"""How the state evolves between spikes, for parallel-in-time execution ([`spikax.Parallel`][]).

        `"linear"`: the new state is an affine function of the state and the input, whatever the
        spikes (LI; LIF, CubaLIF, IF without reset); `"linear between spikes"`: affine once the
        spikes are known (a reset by subtraction or to a value); None (this default): neither
        (non-linear dynamics, refractory counters).

        **Example:**

        ```python
        spikax.neurons.LIF().between_spikes()  # "linear between spikes"
        ```
        """
        return None

    def with_detached_reset(self):
        """This neuron with its reset's gradient cut (`detach_reset=True`), all values kept.

        Online learners that model the reset as a constant call it; a neuron without a
        [`spikax.neurons.SpikeOptions`][] part (LI, SigmaDelta), or already detached, is returned as is.

        **Example:**

        ```python
        spikax.neurons.LIF(beta=0.9).with_detached_reset().detach_reset  # True
        ```
        """
        part = getattr(self, "spiking", None)
        if part is None or part.detach_reset:
            return self
        return eqx.tree_at(lambda n: n.spiking, self, part.with_detached_reset())

    @abc.abstractmethod
    def init_state(self, shape: tuple[int, ...], dtype=None) -> StateT:
        """The resting state for neurons of `shape` (zeros unless documented); `dtype` defaults to JAX's default float."""

    @abc.abstractmethod
    def __call__(self, state: StateT, x: Float[Array, "*neurons"]) -> tuple[StateT, Float[Array, "*neurons"]]:
        """One time step: the new state and the output (spikes in {0, 1}, or a membrane for LI)."""

    # `lax.scan(neuron, state, xs)` hashes its body; equinox's field-wise hash fails on arrays
    # (and on tracers under `grad`), so hash by identity: equal copies only miss a cache.
    def __hash__(self):
        return id(self)

    # -- parameters ------------------------------------------------------------------------
    @classmethod
    def owner(cls) -> str:
        """The public name errors use, e.g. `spikax.neurons.LIF`."""
        return f"spikax.neurons.{cls.__name__}"

    @classmethod
    def check_learnable(cls, learnable: Iterable[str] | str | None) -> frozenset[str]:
        """Validate the names of learnable parameters against the class's parameters."""
        return spec.check_learnable(cls.owner(), cls.constraints, learnable)

    @classmethod
    def store(cls, name: str, value, dtype=None) -> Array:
        """The unconstrained array stored for parameter `name` with (valid) value `value`.

        A concrete value is mapped in float64 NumPy (as spikax_torch does, so both store the same
        numbers); a traced one (construction under `jit`/`vmap`) with `jax.numpy`.
        """
        dtype = default_dtype(dtype)
        kind = cls.constraints[name]
        arr = spec.concrete(value)
        if arr is not None:
            return jnp.asarray(spec.to_raw(kind, arr, np), dtype=dtype)
        return spec.to_raw(kind, jnp.asarray(value, dtype=dtype), jnp)

    def init_parameters(self, given: Mapping[str, Any], *, learnable, dt=1.0, dtype=None) -> None:
        """Check and store every parameter of the class (`raw_<name>`); call first from `__init__`.

        `given` maps the constructor's parameter arguments (and time constants such as `tau`) to
        their values, None meaning the default of the parameter table.
        """
        owner = self.owner()
        self.learnable = self.check_learnable(learnable)
        check_param_dtype(owner, dtype)
        values = spec.neuron_parameters(owner, type(self), given, learnable=self.learnable, dt=dt,
                                        guard=guard)
        for name, value in values.items():
            setattr(self, "raw_" + name, self.store(name, value, dtype))

    def param(self, name: str, dtype=None) -> Array:
        """The constrained value of parameter `name`, cut from the graph unless learnable."""
        value = spec.from_raw(self.constraints[name], getattr(self, "raw_" + name), jnp)
        if name not in self.learnable:
            value = lax.stop_gradient(value)
        return value if dtype is None else value.astype(dtype)

    def __getattr__(self, name: str):
        # `neuron.beta` reads the constrained value of `raw_beta`; `neuron.reset` (and the other
        # firing options) read the neuron's `SpikeOptions` part, read-only.
        if name in type(self).constraints:
            return self.param(name)
        if name in SPIKE_OPTIONS:
            part = getattr(self, "spiking", None)
            if part is not None:
                return getattr(part, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- input checks ------------------------------------------------------------------------
    def check_input(self, state_array: Array, x: Array) -> None:
        """Raise a clear error when `x` does not match the state's shape, or a parameter does not broadcast to it."""
        name = type(self).__name__
        if jnp.shape(x) != jnp.shape(state_array):
            raise ValueError(
                f"`spikax.neurons.{name}`: input has shape {jnp.shape(x)} but state has shape "
                f"{jnp.shape(state_array)}. Neurons are elementwise and take one sample: make the state with "
                f"`init_state(x.shape)`, use `jax.vmap` for a batch and `spikax.run` for time."
            )
        self.check_params(jnp.shape(state_array))

    def check_params(self, shape: tuple[int, ...]) -> None:
        """Raise a clear error when a (per-neuron) parameter does not broadcast to the neurons' `shape`."""
        shape = tuple(shape)
        part = getattr(self, "spiking", None)
        arrays = [(f.name, getattr(m, f.name, None)) for m in ((self,) if part is None else (self, part))
                  for f in dataclasses.fields(m)]
        for name, value in arrays:
            if not isinstance(value, jax.Array | np.ndarray):
                continue
            try:
                ok = np.broadcast_shapes(np.shape(value), shape) == shape
            except ValueError:
                ok = False
            if not ok:
                pname = name.removeprefix("raw_")
                raise ValueError(
                    f"`spikax.neurons.{type(self).__name__}`: parameter `{pname}` has shape {np.shape(value)}, "
                    f"which does not broadcast to the state shape {shape}. Give a scalar or one value per neuron "
                    f"(an array broadcastable to {shape}), or make the state for the neurons the parameters "
                    f"describe, e.g. `init_state({np.shape(value)})`."
                )


SPIKE_OPTIONS = ("reset", "v_reset", "detach_reset", "refractory", "surrogate")


class SpikeOptions(eqx.Module):
    r"""How a threshold neuron fires, resets and rests: the options every spiking neuron shares.

    A neuron integrates its input into a membrane $\tilde v$ in its own way; this part does the
    rest of the step, with a refractory count-down $c$ (steps left to wait):

    $$a = [c \le 0],\qquad u = a\,\tilde v + (1-a)\,v,\qquad s = a\,H(u-\theta),$$
    $$v' = \begin{cases}u - \vartheta s & \text{reset="subtract"}\\
                       u(1-s) + v_r s & \text{reset="zero"}\\
                       u & \text{reset="none"}\end{cases},\qquad
      c' = r s + (1-s)\max(c-1, 0),$$

    where $\vartheta$ is the amount a spike subtracts (the threshold, or ALIF's baseline
    threshold), $H$ has the surrogate's pseudo-derivative, and with `detach_reset` the $s$ of the
    reset carries no gradient. A neuron holds it as its field `spiking`; `neuron.reset`,
    `neuron.v_reset`, `neuron.detach_reset`, `neuron.refractory` and `neuron.surrogate` read it.
    Gerstner et al., *Neuronal Dynamics* (2014), ch. 1.3.

    Neurons whose reset is their own (Izhikevich, AdEx, ResonateAndFire) hold one too, with
    `v_reset=None` and no refractory period, for the surrogate and the detached reset.

    **Arguments:**

    - `reset`: `"subtract"` (default), `"zero"` (to `v_reset`) or `"none"`.
    - `v_reset`: value to reset to with `reset="zero"` (default 0); None for a neuron that resets
      to a value of its own.
    - `detach_reset`: cut the gradient through the reset (default False).
    - `refractory` / `refractory_time`: refractory period $r$ in steps, or in time units with `dt`.
    - `surrogate`: pseudo-derivative of the step (default `FastSigmoid()`).
    - `dtype`: dtype of `v_reset` (default: JAX's default float).
    - `owner`, `modes`: for the neuron that builds it: its public name, used in error messages,
      and the reset modes it supports.

    **Example:**

    ```python
    part = spikax.neurons.SpikeOptions(reset="zero", v_reset=-0.5, refractory=2)
    counter = part.refractory_counter(jnp.zeros(2))
    v, s, counter = part.fire_and_reset(jnp.zeros(2), jnp.array([0.5, 1.5]), counter, jnp.ones(()))
    # s == [0, 1], v == [0.5, -0.5], counter == [0, 2]
    spikax.neurons.LIF(reset="zero").spiking.reset  # "zero"
    ```
    """

    v_reset: Array | None
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)
    refractory: int = eqx.field(static=True)
    surrogate: AbstractSurrogate

    def __init__(self, reset="subtract", v_reset=0.0, detach_reset=False, refractory=None, refractory_time=None,
                 dt=1.0, surrogate=None, *, dtype=None, owner: str = "spikax.neurons.SpikeOptions",
                 modes: tuple[str, ...] = RESET_MODES):
        self.v_reset = None if v_reset is None else jnp.asarray(v_reset, dtype=default_dtype(dtype))
        self.reset = spec.check_reset(owner, reset, modes)
        self.detach_reset = bool(detach_reset)
        self.refractory = spec.refractory_steps(owner, refractory, refractory_time, dt)
        self.surrogate = FastSigmoid() if surrogate is None else surrogate

    def with_detached_reset(self) -> SpikeOptions:
        """These options with `detach_reset=True`."""
        dtype = None if self.v_reset is None else self.v_reset.dtype
        return SpikeOptions(self.reset, self.v_reset, True, self.refractory, surrogate=self.surrogate, dtype=dtype)

    def reset_signal(self, s: Array) -> Array:
        """The spikes as the reset sees them: `s`, cut from the gradient with `detach_reset`."""
        return lax.stop_gradient(s) if self.detach_reset else s

    def between_spikes(self) -> str | None:
        """[`between_spikes`][spikax.neurons.AbstractNeuron.between_spikes] of a neuron whose integration
        is affine: `"linear"` without reset, `"linear between spikes"` with one, None with a refractory period."""
        if self.refractory > 0:
            return None
        return "linear" if self.reset == "none" else "linear between spikes"

    def refractory_counter(self, zeros: Array) -> Array | None:
        """The initial refractory count-down: `zeros` with a refractory period, else None."""
        return zeros if self.refractory > 0 else None

    def fire_and_reset(self, v: Array, integrated: Array, counter: Array | None, threshold: Array,
                       reset_by: Array | None = None) -> tuple[Array, Array, Array | None]:
        """What a threshold neuron does once it has integrated its input (the equations above).

        Holds the membrane at `v` while refractory (else takes `integrated`), spikes where it
        exceeds `threshold`, resets it by `reset_by` (default `threshold`) as `reset` says, and
        restarts or counts down the refractory `counter`. Returns `(v', spikes, counter')`.
        """
        active = refractory_mask(counter)
        v = hold(active, integrated, v)
        s = fire(v, threshold, self.surrogate, active)
        v_reset = None if self.v_reset is None else self.v_reset.astype(v.dtype)
        v = reset(v, s, threshold if reset_by is None else reset_by, mode=self.reset, v_reset=v_reset,
                  detach=self.detach_reset)
        return v, s, refractory_update(counter, s, self.refractory)


# -- shared firing, reset and refractory logic ----------------------------------------------


def fire(v: Array, threshold: Array, surrogate: AbstractSurrogate, active: Array | None = None) -> Array:
    """Spikes where `v > threshold` (and the neuron is not refractory)."""
    s = spike(v - threshold, surrogate)
    return s if active is None else s * active


def reset(v: Array, s: Array, threshold: Array, *, mode: str, v_reset: Array, detach: bool) -> Array:
    """Reset a membrane that has just fired: subtract the threshold, set to `v_reset`, or nothing."""
    if mode == "none":
        return v
    if detach:
        s = lax.stop_gradient(s)
    if mode == "subtract":
        return v - threshold * s
    return v * (1 - s) + v_reset * s  # "zero": reset to a value


def refractory_mask(counter: Array | None) -> Array | None:
    """1.0 where the neuron may integrate and fire, 0.0 while it is refractory."""
    return None if counter is None else lax.stop_gradient((counter <= 0).astype(counter.dtype))


def refractory_update(counter: Array | None, s: Array, period: int) -> Array | None:
    """Start the count-down where a neuron fired; count down elsewhere."""
    if counter is None:
        return None
    s = lax.stop_gradient(s)
    return s * period + (1 - s) * jnp.maximum(counter - 1, 0)


def hold(active: Array | None, new: Array, old: Array) -> Array:
    """`new` where the neuron is active, `old` where it is refractory (clamped)."""
    return new if active is None else active * new + (1 - active) * old
