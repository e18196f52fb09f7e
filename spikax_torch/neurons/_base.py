"""What every torch neuron shares: parameter storage, learnability, firing, reset, refractoriness.

The storage mirrors [`spikax.neurons.AbstractNeuron`][] exactly, so a learnable parameter takes
the same optimiser steps in both packages: each parameter lives *unconstrained* in an attribute
`raw_<name>` and is mapped to its valid range on use.

| constraint | valid range | stored as |
| --- | --- | --- |
| `"decay"` | [0, 1] | `log(-log(d))`, read back as `exp(-exp(raw))` |
| `"positive"` | (0, inf) | `log(p)`, read back as `exp(raw)` |
| `"real"` | any | itself |

A learnable `raw_<name>` is a `torch.nn.Parameter` (so `model.parameters()` hands it to an
optimiser); a fixed one is a buffer, read through `detach()` (the twin of `lax.stop_gradient`).
Parameters may be given as numbers, arrays or tensors of any shape that broadcasts to the
neurons' (the ancestor's "parameters as tensors of the proper shape").
"""

from __future__ import annotations

import abc
import contextlib
import copy
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import spikax_spec as spec
import torch

from .._errors import check_param_dtype
from ..surrogate import AbstractSurrogate, FastSigmoid, spike

RESET_MODES = spec.RESET_MODES


def default_dtype(dtype=None) -> torch.dtype:
    """`dtype`, or torch's default float (`torch.get_default_dtype()`, float32 unless changed)."""
    return torch.get_default_dtype() if dtype is None else dtype


def decay_from(owner: str, name: str, *, decay=None, tau=None, dt=1.0, learnable: bool = False,
               tau_name: str = "tau"):
    r"""A per-step decay from either `decay` or a time constant: $d = 1 - \Delta t/\tau$ (forward Euler).

    The same rule as `spikax` (both call `spikax_spec.decay_from`).
    """
    return spec.decay_from(owner, name, decay=decay, tau=tau, dt=dt, learnable=learnable, tau_name=tau_name)


class AbstractNeuron(torch.nn.Module, abc.ABC):
    """Base class of all torch neurons: `forward(state, x) -> (state, spikes)`, elementwise.

    Subclasses declare `constraints` (parameter name -> constraint kind), store each parameter
    with [`AbstractNeuron.store`][] and read it with [`AbstractNeuron.param`][]. `neuron.beta`
    reads the constrained value of `raw_beta`. Passing `state=None` makes the resting state from
    the input's shape and dtype on first call.
    """

    constraints: ClassVar[Mapping[str, str]] = {}
    input_scale: ClassVar[float] = 1.0
    # Attributes (besides `raw_*` and `learnable`) that `spikax_torch.convert` copies as they are.
    static_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, learnable: Iterable[str] | str | None = None):
        super().__init__()
        self.learnable = self.check_learnable(learnable)

    @abc.abstractmethod
    def init_state(self, shape, dtype=None, device=None) -> Any:
        """The resting state for neurons of `shape` (any leading batch axes included)."""

    # -- parameters ------------------------------------------------------------------------
    @classmethod
    def owner(cls) -> str:
        """The public name errors use, e.g. `spikax_torch.neurons.LIF`."""
        return f"spikax_torch.neurons.{cls.__name__}"

    @classmethod
    def check_learnable(cls, learnable) -> frozenset[str]:
        """Validate the names of learnable parameters against the class's parameters."""
        return spec.check_learnable(cls.owner(), cls.constraints, learnable)

    def store(self, name: str, value, dtype=None) -> None:
        """Store parameter `name` with (valid) value `value` as `raw_<name>`: a Parameter if learnable, else a buffer."""
        # Computed in float64 NumPy exactly as spikax does, so both packages store the same numbers.
        raw = spec.to_raw(self.constraints[name], spec.concrete(value), np)
        self.set_raw(name, torch.as_tensor(raw, dtype=default_dtype(dtype)))

    def init_parameters(self, given: Mapping[str, Any], *, dt=1.0, dtype=None) -> None:
        """Check and store every parameter of the class (`raw_<name>`), as spikax's `init_parameters` does.

        `given` maps the constructor's parameter arguments (and time constants such as `tau`) to
        their values, None meaning the default of the parameter table.
        """
        owner = self.owner()
        check_param_dtype(owner, dtype)
        values = spec.neuron_parameters(owner, type(self), given, learnable=self.learnable, dt=dt)
        for name, value in values.items():
            self.store(name, value, dtype)

    def set_raw(self, name: str, raw: torch.Tensor) -> None:
        """Put an already unconstrained tensor in `raw_<name>` (used by `spikax_torch.convert`)."""
        attr = "raw_" + name
        if attr in self._parameters:
            del self._parameters[attr]
        if attr in self._buffers:
            del self._buffers[attr]
        raw = raw.detach().clone()
        if name in self.learnable:
            self.register_parameter(attr, torch.nn.Parameter(raw))
        else:
            self.register_buffer(attr, raw)

    def param(self, name: str, dtype=None) -> torch.Tensor:
        """The constrained value of parameter `name`, detached unless learnable."""
        cache = self.__dict__.get("_param_cache")
        if cache is not None and (name, dtype) in cache:
            return cache[name, dtype]
        value = spec.from_raw(self.constraints[name], getattr(self, "raw_" + name), torch)
        if name not in self.learnable:
            value = value.detach()
        value = value if dtype is None else value.to(dtype)
        if cache is not None:
            cache[name, dtype] = value
        return value

    @contextlib.contextmanager
    def cached_params(self):
        """Within this block each constrained parameter is computed once and reused at every step.

        The layers' sequence paths use it: a parameter's constraint (`exp(-exp(raw))`...) is then
        one op per sequence instead of one per step; gradients are the same (they accumulate
        through the one shared value).
        """
        outer = self.__dict__.get("_param_cache")
        self.__dict__["_param_cache"] = {} if outer is None else outer
        try:
            yield self
        finally:
            self.__dict__["_param_cache"] = outer

    def __getattr__(self, name: str):
        # `neuron.beta` reads the constrained value of `raw_beta`; `neuron.reset` (and the other
        # firing options) read the neuron's `SpikeOptions` part.
        if name in type(self).constraints:
            return self.param(name)
        try:
            return super().__getattr__(name)
        except AttributeError:
            part = self._modules.get("spiking")
            if name in SPIKE_OPTIONS and part is not None:
                return getattr(part, name)
            raise

    def __setattr__(self, name: str, value) -> None:
        # `neuron.surrogate = ...` sets the option on the `SpikeOptions` part (the one the step reads).
        part = self.__dict__.get("_modules", {}).get("spiking")
        if name in SPIKE_OPTIONS and part is not None and name not in self._buffers:
            setattr(part, name, value)
        else:
            super().__setattr__(name, value)

    def with_detached_reset(self):
        """A shallow copy of this neuron whose reset's gradient is cut (`detach_reset=True`), sharing its
        parameters; the neuron itself without a [`SpikeOptions`][spikax_torch.neurons.SpikeOptions] part or
        when already detached. As [`spikax.neurons.AbstractNeuron.with_detached_reset`][].

        **Example:**

        ```python
        spikax_torch.neurons.LIF(beta=0.9).with_detached_reset().detach_reset  # True
        ```
        """
        part = self._modules.get("spiking")
        if part is None or part.detach_reset:
            return self
        new = copy.copy(self)
        new._modules = dict(self._modules)  # the copy's own submodule table, so the original keeps its part
        new.spiking = part.with_detached_reset()
        return new

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # State dicts saved before the firing options became the `spiking` part hold `v_reset` on
        # the neuron itself; it is the same tensor, now at `spiking.v_reset`.
        old, new = prefix + "v_reset", prefix + "spiking.v_reset"
        part = self._modules.get("spiking")
        if (old in state_dict and new not in state_dict and "v_reset" not in self._buffers and part is not None
                and part.v_reset is not None):
            state_dict[new] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- input checks ------------------------------------------------------------------------
    def resolve_state(self, state, x: torch.Tensor):
        """`state`, or (when it is None) the resting state for an input like `x`."""
        if state is None:
            return self.init_state(x.shape, x.dtype, x.device)
        return state

    def check_input(self, state_tensor: torch.Tensor, x: torch.Tensor) -> None:
        """Raise a clear error when `x` does not match the state's shape."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"`spikax_torch.neurons.{type(self).__name__}`: input must be a torch.Tensor, got {type(x).__name__}."
            )
        if x.shape != state_tensor.shape:
            raise ValueError(
                f"`spikax_torch.neurons.{type(self).__name__}`: input has shape {tuple(x.shape)} but state has shape "
                f"{tuple(state_tensor.shape)}. Neurons are elementwise: make the state with `init_state(x.shape)` "
                "(batch axes included), or pass `state=None` to make it from the input."
            )

    def check_params(self, shape) -> None:
        """Raise a clear error when a (per-neuron) parameter does not broadcast to the neurons' `shape`."""
        shape = tuple(shape)
        part = self._modules.get("spiking")
        tensors = list(self.named_parameters(recurse=False)) + list(self.named_buffers(recurse=False))
        for name, value in tensors + ([] if part is None else list(part.named_buffers())):
            try:
                ok = tuple(torch.broadcast_shapes(value.shape, shape)) == shape
            except RuntimeError:
                ok = False
            if not ok:
                pname = name.removeprefix("raw_")
                raise ValueError(
                    f"`spikax_torch.neurons.{type(self).__name__}`: parameter `{pname}` has shape "
                    f"{tuple(value.shape)}, which does not broadcast to the state shape {shape}. Give a scalar or "
                    f"one value per neuron (a tensor broadcastable to {shape})."
                )

    def extra_repr(self) -> str:
        parts = [f"{name}={_short(self.param(name))}" for name in self.constraints if hasattr(self, "raw_" + name)]
        if self.learnable:
            parts.append(f"learnable={sorted(self.learnable)}")
        return ", ".join(parts)


def _short(t: torch.Tensor) -> str:
    return f"{t.item():.4g}" if t.numel() == 1 else f"tensor{tuple(t.shape)}"


SPIKE_OPTIONS = ("reset", "v_reset", "detach_reset", "refractory", "surrogate")


class SpikeOptions(torch.nn.Module):
    r"""How a threshold neuron fires, resets and rests; the torch twin of [`spikax.neurons.SpikeOptions`][].

    The same equations and arguments: `reset`, `v_reset` (a buffer, so it moves with `.to()`;
    None for a neuron that resets to a value of its own), `detach_reset`, `refractory` /
    `refractory_time` with `dt`, `surrogate`, `dtype`, `owner` and `modes`. A neuron holds it as its submodule
    `spiking`; `neuron.reset`, `neuron.v_reset`, `neuron.detach_reset`, `neuron.refractory` and
    `neuron.surrogate` read (and set) it.

    **Example:**

    ```python
    part = spikax_torch.neurons.SpikeOptions(reset="zero", v_reset=-0.5, refractory=2)
    counter = part.refractory_counter(torch.zeros(2))
    v, s, counter = part.fire_and_reset(torch.zeros(2), torch.tensor([0.5, 1.5]), counter, torch.tensor(1.0))
    # s == [0, 1], v == [0.5, -0.5], counter == [0, 2]
    ```
    """

    def __init__(self, reset="subtract", v_reset=0.0, detach_reset=False, refractory=None, refractory_time=None,
                 dt=1.0, surrogate=None, *, dtype=None, owner: str = "spikax_torch.neurons.SpikeOptions",
                 modes: tuple[str, ...] = RESET_MODES):
        super().__init__()
        v_reset = None if v_reset is None else torch.as_tensor(spec.concrete(v_reset), dtype=default_dtype(dtype))
        self.register_buffer("v_reset", v_reset)
        self.reset = spec.check_reset(owner, reset, modes)
        self.detach_reset = bool(detach_reset)
        self.refractory = spec.refractory_steps(owner, refractory, refractory_time, dt)
        self.surrogate = FastSigmoid() if surrogate is None else surrogate

    def with_detached_reset(self) -> SpikeOptions:
        """These options with `detach_reset=True` (the same `v_reset` tensor)."""
        new = copy.copy(self)
        new.detach_reset = True
        return new

    def reset_signal(self, s: torch.Tensor) -> torch.Tensor:
        """The spikes as the reset sees them: `s`, detached with `detach_reset`."""
        return s.detach() if self.detach_reset else s

    def between_spikes(self) -> str | None:
        """As [`spikax.neurons.SpikeOptions.between_spikes`][]."""
        if self.refractory > 0:
            return None
        return "linear" if self.reset == "none" else "linear between spikes"

    def refractory_counter(self, zeros: torch.Tensor) -> torch.Tensor | None:
        """The initial refractory count-down: `zeros` with a refractory period, else None."""
        return zeros if self.refractory > 0 else None

    def fire_and_reset(self, v, integrated, counter, threshold, reset_by=None):
        """What a threshold neuron does once it has integrated its input, as spikax's `SpikeOptions.fire_and_reset`.

        Holds the membrane at `v` while refractory (else takes `integrated`), spikes where it
        exceeds `threshold`, resets it by `reset_by` (default `threshold`) as `reset` says, and
        restarts or counts down the refractory `counter`. Returns `(v', spikes, counter')`.
        """
        active = refractory_mask(counter)
        v_new = hold(active, integrated, v)
        s = fire(v_new, threshold, self.surrogate, active)
        v_reset = None if self.v_reset is None else self.v_reset.to(v.dtype)
        v_new = reset(v_new, s, threshold if reset_by is None else reset_by, mode=self.reset, v_reset=v_reset,
                      detach=self.detach_reset)
        return v_new, s, refractory_update(counter, s, self.refractory)

    def extra_repr(self) -> str:
        return f"reset={self.reset!r}, detach_reset={self.detach_reset}, refractory={self.refractory}"


# -- shared firing, reset and refractory logic ----------------------------------------------


def fire(v, threshold, surrogate: AbstractSurrogate, active=None):
    """Spikes where `v > threshold` (and the neuron is not refractory)."""
    s = spike(v - threshold, surrogate)
    return s if active is None else s * active


def reset(v, s, threshold, *, mode: str, v_reset, detach: bool):
    """Reset a membrane that has just fired: subtract the threshold, set to `v_reset`, or nothing."""
    if mode == "none":
        return v
    if detach:
        s = s.detach()
    if mode == "subtract":
        return v - threshold * s
    return v * (1 - s) + v_reset * s


def refractory_mask(counter):
    """1.0 where the neuron may integrate and fire, 0.0 while it is refractory."""
    return None if counter is None else (counter <= 0).to(counter.dtype).detach()


def refractory_update(counter, s, period: int):
    """Start the count-down where a neuron fired; count down elsewhere."""
    if counter is None:
        return None
    s = s.detach()
    return s * period + (1 - s) * torch.clamp(counter - 1, min=0)


def hold(active, new, old):
    """`new` where the neuron is active, `old` where it is refractory."""
    return new if active is None else active * new + (1 - active) * old
