r"""The framework-free specification that `spikax` and `spikax_torch` share.

Everything here is plain Python and NumPy (no JAX, no torch), so both packages import the same
rules and cannot drift apart:

- the valid ranges of parameters (`Interval`) and the checks that raise clear errors
  (`check`, `check_positive`, `check_in_range`, `check_choice`, ...);
- the per-step decay from a time constant (`decay_from`: $d = 1 - \Delta t/\tau$) and the
  refractory period in whole steps (`refractory_steps`);
- how a neuron parameter is stored unconstrained (`to_raw`, `from_raw`);
- the neuron parameter table `NEURONS` (default, storage and valid range of every
  parameter) and the surrogate hyper-parameter table `SURROGATES`.

A value that cannot be read yet (a JAX tracer, when a model is built inside `jax.jit` or
`eqx.filter_vmap`) is not checked here; a `guard(value, bad, message)` function passed by the
caller (spikax passes `eqx.error_if`) checks it when it runs instead.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

Guard = Callable[[Any, Any, str], Any]  # (value, bad mask, message) -> value, raising at run time where bad

# -- valid ranges -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Interval:
    """A range of valid values, open or closed at each end."""

    low: float = -math.inf
    high: float = math.inf
    closed_low: bool = False
    closed_high: bool = False

    def holds(self, value):
        """Elementwise: is `value` inside? Works on NumPy arrays, JAX arrays and tracers alike (NaN is outside)."""
        above = value >= self.low if self.closed_low else value > self.low
        if self.high == math.inf:
            return above & (value == value)  # NaN is never valid
        below = value <= self.high if self.closed_high else value < self.high
        return above & below

    def describe(self) -> str:
        """The condition as a message says it: `be positive`, `be >= 0`, `lie in [0, 1]`."""
        if self.high == math.inf:
            if self.low == 0 and not self.closed_low:
                return "be positive"
            return f"be {'>=' if self.closed_low else '>'} {self.low:g}"
        return (f"lie in {'[' if self.closed_low else '('}{self.low:g}, {self.high:g}"
                f"{']' if self.closed_high else ')'}")


POSITIVE = Interval(0.0)
NONNEGATIVE = Interval(0.0, closed_low=True)
ABOVE_ONE = Interval(1.0)

# -- checks -----------------------------------------------------------------------------------


def concrete(value) -> np.ndarray | None:
    """`value` (number, NumPy/JAX array or torch tensor) as a float64 NumPy array; None when it is traced."""
    if isinstance(value, numbers.Number):
        return np.asarray(value, dtype=np.float64)
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except Exception:  # a JAX tracer under jit/vmap: its value is not known yet
        return None


def show(arr) -> str:
    """A value as messages print it: the number, or the range of an array."""
    arr = np.asarray(arr)
    return repr(arr.item()) if arr.size == 1 else f"an array with min {arr.min()} and max {arr.max()}"


def check(owner: str, name: str, value, valid: Interval, fix: str = "", guard: Guard | None = None):
    """Return `value` if it lies in `valid` everywhere, else raise `ValueError` naming `owner`, `name` and the fix.

    A traced value goes through `guard` (when given), which raises when the value is computed.
    """
    arr = concrete(value)
    head = f"`{owner}`: `{name}` must {valid.describe()}"
    fix = fix or f"Pass a `{name}` that does."
    if arr is None:
        return value if guard is None else guard(value, ~valid.holds(value), f"{head}. {fix}")
    if not np.all(valid.holds(arr)):
        raise ValueError(f"{head}, got {show(arr)}. {fix}")
    return value


def check_positive(owner: str, name: str, value, fix: str = "", guard: Guard | None = None):
    """Raise unless `value` is strictly positive everywhere; return it."""
    return check(owner, name, value, POSITIVE, fix or f"Pass a positive `{name}`.", guard)


def check_in_range(owner: str, name: str, value, low: float, high: float, fix: str = "",
                   include_low: bool = False, guard: Guard | None = None):
    """Raise unless `value` lies in (low, high] (or [low, high] with `include_low`); return it."""
    valid = Interval(low, high, closed_low=include_low, closed_high=True)
    return check(owner, name, value, valid, fix or f"Pass a `{name}` inside that interval.", guard)


def check_choice(owner: str, name: str, value, choices) -> None:
    """Raise if `value` is not one of `choices`, listing the valid ones."""
    if value not in choices:
        raise ValueError(
            f"`{owner}`: unknown {name} {value!r}. Choose one of {', '.join(repr(c) for c in choices)}."
        )


def check_same_shape(owner: str, got_name: str, got_shape, want_name: str, want_shape, fix: str) -> None:
    """Raise if two shapes differ."""
    if tuple(got_shape) != tuple(want_shape):
        raise ValueError(
            f"`{owner}`: {got_name} has shape {tuple(got_shape)} but {want_name} has shape "
            f"{tuple(want_shape)}. {fix}"
        )


def check_float_dtype(owner: str, dtype_name: str, is_floating: bool) -> None:
    """Raise `TypeError` for a parameter dtype that is not floating point (an int would round the parameters)."""
    if not is_floating:
        raise TypeError(
            f"`{owner}`: `dtype` must be a floating-point dtype, got {dtype_name}. Parameters are real numbers "
            "(an integer dtype would round them); pass e.g. `dtype=float32`, or leave `dtype` out."
        )


# -- time constants and refractoriness --------------------------------------------------------


def decay_from(owner: str, name: str, *, decay=None, tau=None, dt=1.0, learnable: bool = False,
               tau_name: str = "tau", guard: Guard | None = None):
    r"""A per-step decay from either `decay` itself or a time constant `tau` with step `dt`.

    Forward Euler, the convention NIR, Norse and Lava use: $d = 1 - \Delta t/\tau$, so a
    time constant needs `tau >= dt`. Exactly one of `decay` and `tau` must be given.
    `tau_name` is the argument's public name used in messages (e.g. `"tau_syn"`). A fixed decay
    may be 0 (memoryless); a learnable one lies in (0, 1), the range its reparametrisation reaches.
    """
    if (decay is None) == (tau is None):
        raise ValueError(
            f"`{owner}`: give exactly one of `{name}` (a per-step decay) and `{tau_name}` (a time constant, with "
            f"`dt`); got {name}={decay!r}, {tau_name}={tau!r}."
        )
    if tau is not None:
        tau = check_positive(owner, tau_name, tau, f"Time constants are durations; pass e.g. `{tau_name}=20.0`.", guard)
        dt = check_positive(owner, "dt", dt, "The time step is a duration; pass e.g. `dt=1.0`.", guard)
        c_tau, c_dt = concrete(tau), concrete(dt)
        decay = 1.0 - (c_dt / c_tau if c_tau is not None and c_dt is not None else dt / tau)
        decay = check(owner, f"{name} = 1 - dt/{tau_name}", decay, Interval(0.0, 1.0, True, True),
                      f"Forward Euler needs `{tau_name} >= dt`: use a smaller `dt` or a larger `{tau_name}`.", guard)
    if learnable:
        return check(owner, name, decay, Interval(0.0, 1.0),
                     f"A learnable decay stays strictly between 0 and 1 (its reparametrisation exp(-exp(raw)) "
                     f"reaches neither, and at 1 it gets no gradient): start from e.g. `{name}=0.99`, or keep it "
                     "fixed.", guard)
    return check(owner, name, decay, Interval(0.0, 1.0, True, True),
                 "A per-step decay keeps this fraction of the state each step: pass a value in [0, 1], "
                 "or `tau` and `dt` instead.", guard)


def refractory_steps(owner: str, refractory, refractory_time, dt) -> int:
    """The refractory period in whole steps, from steps (`refractory`) or from time (`refractory_time` with `dt`)."""
    if refractory is not None and refractory_time is not None:
        raise ValueError(f"`{owner}`: give the refractory period in steps or in time, not both.")
    if refractory_time is not None:
        if isinstance(refractory_time, bool) or concrete(refractory_time) is None:
            raise TypeError(
                f"`{owner}`: `refractory_time` must be a number (a duration in the units of `dt`), got "
                f"{refractory_time!r}. It sets the model's structure, so it cannot be traced."
            )
        check_positive(owner, "dt", dt, "Pass a positive time step `dt`.")
        check(owner, "refractory_time", refractory_time, NONNEGATIVE, "Pass a duration >= 0.")
        return int(round(float(refractory_time) / float(dt)))
    steps = 0 if refractory is None else refractory
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(
            f"`{owner}`: `refractory` must be a whole number of steps >= 0, got {refractory!r}. "
            "For a period in time pass `refractory_time=` with `dt=`."
        )
    return int(steps)


RESET_MODES = ("subtract", "zero", "none")


def check_reset(owner: str, reset: str, modes: tuple[str, ...] = RESET_MODES) -> str:
    """`reset` if it is one of `modes`, else a clear error listing them."""
    check_choice(owner, "reset mode", reset, modes)
    return reset


# -- stored (unconstrained) neuron parameters ------------------------------------------------

DECAY, POSITIVE_KIND, REAL = "decay", "positive", "real"


def to_raw(kind: str, value, xp=np):
    """The unconstrained number stored for a parameter of constraint `kind`; `xp` is `np`, `jax.numpy` or `torch`.

    | kind | valid range | stored as |
    | --- | --- | --- |
    | `"decay"` | [0, 1] | `log(-log(d))` |
    | `"positive"` | (0, inf) | `log(p)` |
    | `"real"` | any | itself |
    """
    with np.errstate(divide="ignore"):
        if kind == DECAY:
            return xp.log(-xp.log(value))
        if kind == POSITIVE_KIND:
            return xp.log(value)
    return value


def from_raw(kind: str, raw, xp):
    """The parameter's value from its stored number: `exp(-exp(raw))`, `exp(raw)` or `raw`."""
    if kind == DECAY:
        return xp.exp(-xp.exp(raw))
    if kind == POSITIVE_KIND:
        return xp.exp(raw)
    return raw


class Param(NamedTuple):
    """One neuron parameter: its default, how it is stored and what values it accepts."""

    default: float
    kind: str  # "decay", "positive" or "real" (see `to_raw`)
    tau: str | None = None  # decays: the name of the time-constant alternative (`tau`, `tau_mem`, ...)
    fix: str = ""  # the hint an out-of-range value gets
    zero_ok: bool = False  # a "positive" parameter that may also be exactly 0 while it is fixed


def _paper(name: str, value: float) -> str:
    return f"It is a physical constant; the paper uses `{name}={value}`."


def _table(rows: dict[str, dict[str, Param]]) -> Mapping[str, Mapping[str, Param]]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in rows.items()})


_THRESHOLD = Param(1.0, POSITIVE_KIND)
_ADEX = {"c_m": 281.0, "g_l": 30.0, "e_l": -70.6, "v_t": -50.4, "delta_t": 2.0, "tau_w": 144.0, "a": 4.0, "b": 80.5}

NEURONS: Mapping[str, Mapping[str, Param]] = _table({
    "IF": {"threshold": _THRESHOLD},
    "LIF": {"beta": Param(0.9, DECAY, "tau"), "threshold": _THRESHOLD},
    "CubaLIF": {"alpha": Param(0.8, DECAY, "tau_syn"), "beta": Param(0.9, DECAY, "tau_mem"), "threshold": _THRESHOLD},
    "ALIF": {"alpha": Param(0.9, DECAY, "tau_mem"), "rho": Param(0.99, DECAY, "tau_adapt"),
             "beta_a": Param(0.2, POSITIVE_KIND, zero_ok=True), "threshold": _THRESHOLD},
    "LI": {"beta": Param(0.9, DECAY, "tau")},
    "Izhikevich": {"a": Param(0.02, POSITIVE_KIND, fix="The recovery rate is positive; the paper uses 0.02 to 0.1."),
                   "b": Param(0.2, REAL), "c": Param(-65.0, REAL), "d": Param(8.0, REAL)},
    "AdEx": {name: Param(value, POSITIVE_KIND if name in ("c_m", "g_l", "delta_t", "tau_w") else REAL,
                         fix=_paper(name, value)) for name, value in _ADEX.items()},
    "ResonateAndFire": {"decay": Param(0.9, DECAY, "tau"), "omega": Param(2 * math.pi / 10, REAL),
                        "threshold": _THRESHOLD},
    "SigmaDelta": {"threshold": Param(0.1, POSITIVE_KIND), "leak": Param(1.0, DECAY, "tau")},
})
"""Every neuron's parameters (name -> `Param`), in the order they are stored."""


def constraints(neuron: str) -> Mapping[str, str]:
    """Parameter name -> constraint kind for the neuron class named `neuron`."""
    return MappingProxyType({name: p.kind for name, p in NEURONS[neuron].items()})


def check_learnable(owner: str, names: Iterable[str], learnable) -> frozenset[str]:
    """The set of learnable parameter names, checked against the neuron's parameters `names`."""
    if learnable is None:
        return frozenset()
    if isinstance(learnable, str):
        learnable = (learnable,)
    learnable = frozenset(learnable)
    unknown = sorted(learnable - set(names))
    if unknown:
        raise ValueError(
            f"`{owner}`: cannot make {unknown} learnable; its parameters are {sorted(names)}. "
            "Pass `learnable=` a subset of those names."
        )
    return learnable


def neuron_table(cls: type) -> Mapping[str, Param]:
    """The parameter table of a neuron class (or of the nearest base class in `NEURONS`, for a torch subclass)."""
    for base in cls.__mro__:
        if base.__name__ in NEURONS:
            return NEURONS[base.__name__]
    raise KeyError(f"no parameter table for {cls.__name__}; known neurons: {', '.join(NEURONS)}")


def neuron_parameters(owner: str, cls: type, given: Mapping[str, Any], *, learnable: frozenset[str],
                      dt=1.0, guard: Guard | None = None) -> dict[str, Any]:
    """The checked values of the parameters of the neuron class `cls` (see `neuron_table`).

    `given` holds the constructor's arguments: a parameter that is None takes its default, a decay
    may come from its time constant (`given[param.tau]`) with `dt`. Raises a clear error for
    anything out of range.
    """
    values = {}
    for name, p in neuron_table(cls).items():
        value = given.get(name)
        if p.kind == DECAY:
            tau = given.get(p.tau)
            if value is None and tau is None:
                value = p.default
            values[name] = decay_from(owner, name, decay=value, tau=tau, dt=dt, learnable=name in learnable,
                                      tau_name=p.tau, guard=guard)
            continue
        value = p.default if value is None else value
        if p.kind == POSITIVE_KIND and p.zero_ok and name not in learnable:
            value = check(owner, name, value, NONNEGATIVE, f"Pass a non-negative `{name}`.", guard)
        elif p.kind == POSITIVE_KIND and p.zero_ok:
            value = check(owner, name, value, POSITIVE, f"It is learnable and stored by its log, so it could never "
                          f"leave 0: pass a positive `{name}`, or keep it fixed.", guard)
        elif p.kind == POSITIVE_KIND:
            value = check_positive(owner, name, value, p.fix, guard)
        values[name] = value
    return values


# -- surrogate hyper-parameters ---------------------------------------------------------------

_SQRT_2PI = math.sqrt(2.0 * math.pi)

SURROGATES: Mapping[str, Mapping[str, tuple[float, Interval]]] = _table({
    "FastSigmoid": {"slope": (25.0, POSITIVE)},
    "Sigmoid": {"slope": (4.0, POSITIVE)},
    "ATan": {"alpha": (2.0, POSITIVE)},
    "Triangle": {"gamma": (0.3, POSITIVE), "width": (1.0, POSITIVE)},
    "Rectangle": {"width": (1.0, POSITIVE)},
    "Gaussian": {"sigma": (1.0 / _SQRT_2PI, POSITIVE)},
    "MultiGaussian": {"sigma": (0.5, POSITIVE), "height": (0.15, NONNEGATIVE), "scale": (6.0, POSITIVE),
                      "gamma": (0.5, POSITIVE)},
    "Exponential": {"alpha": (1.0, POSITIVE), "beta": (1.0, NONNEGATIVE)},
    "Erfc": {"alpha": (2.0, POSITIVE)},
    "PiecewiseQuadratic": {"alpha": (1.0, POSITIVE)},
    "PiecewiseExp": {"alpha": (2.0, POSITIVE)},
    "SoftSign": {"alpha": (2.0, POSITIVE)},
    "Tanh": {"slope": (2.0, POSITIVE)},
    "Circ": {"alpha": (0.5, POSITIVE)},
    "QPseudo": {"q": (2.0, ABOVE_ONE)},
    "LogTailed": {"alpha": (0.0, NONNEGATIVE)},
    "StraightThrough": {"scale": (1.0, POSITIVE)},
    "SpikeRateEscape": {"beta": (1.0, NONNEGATIVE), "slope": (25.0, POSITIVE)},
})
"""Every named surrogate's hyper-parameters: name -> (default, valid range), in field order.

A pseudo-derivative must be finite and non-negative: a negative slope or width flips or
blows up the gradient, a zero width divides by zero."""


def check_hyperparameter(owner: str, name: str, value, valid: Interval, default: float,
                         guard: Guard | None = None):
    """`value` if it is a valid surrogate hyper-parameter, else a clear error naming the default."""
    if isinstance(value, bool):
        raise TypeError(f"`{owner}`: `{name}` must be a number, got {value!r}. The default is `{name}={default!r}`.")
    return check(owner, name, value, valid, f"The default is `{name}={default!r}`.", guard)
