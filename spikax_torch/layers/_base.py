"""The layer interface shared by every building block of a torch network."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import torch

from .._pytree import tree_stack, tree_unbind
from ..neurons._base import default_dtype

Scan = Callable[..., Any]  # scan(f, carry, xs) -> (carry, ys), time on axis 0


def python_scan(f, carry, xs):
    """`lax.scan` as a Python loop: iterate with `unbind(0)` and stack the outputs.

    Iterating with `unbind` (never `xs[t]`) keeps backward O(T): indexing a tensor that
    requires grad step by step makes each step's backward allocate a full-size zero tensor.
    """
    steps = xs.unbind(0) if isinstance(xs, torch.Tensor) else tree_unbind(xs)
    if len(steps) == 0:
        raise ValueError("`spikax_torch.run`: the inputs have no time steps (axis 0 has length 0).")
    ys = []
    for x in steps:
        carry, y = f(carry, x)
        ys.append(y)
    return carry, (torch.stack(ys) if isinstance(ys[0], torch.Tensor) else tree_stack(ys))


class AbstractLayer(torch.nn.Module, abc.ABC):
    """A building block of a network: `forward(state, x) -> (state, y)` on a (batch of) sample(s).

    The torch twin of [`spikax.layers.AbstractLayer`][]. Batch axes are native: a layer takes
    whatever leading axes its connection accepts (`torch.nn.Linear` any, `Conv2d` 0 or 1), and
    `init_state(input_shape)` takes the input shape of one step *including* those axes.
    `sequence` runs a whole sequence (time on axis 0); layers override it to apply their
    stateless parts to all time steps at once, which gives the same result.
    """

    @abc.abstractmethod
    def init_state(self, input_shape, dtype=None, *, key=None) -> Any:
        """The initial state for a step input of shape `input_shape` (batch axes included)."""

    def output_shape(self, input_shape, dtype=None) -> tuple[int, ...]:
        """The shape of `y` for an input of shape `input_shape`."""
        dtype = default_dtype(dtype)
        with torch.no_grad():
            state = self.init_state(tuple(input_shape), dtype)
            return tuple(self(state, torch.zeros(tuple(input_shape), dtype=dtype, device=_device(self)))[1].shape)

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        """Run over `xs` (time on axis 0); returns `(final_state, ys)`."""
        return scan(lambda s, x: self(s, x), state, xs)


def _device(module: torch.nn.Module):
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return None


def _dtype(module) -> torch.dtype | None:
    """The dtype of a module's first floating-point parameter or buffer (None if it has none)."""
    if not isinstance(module, torch.nn.Module):
        return None
    for t in [*module.parameters(), *module.buffers()]:
        if t.is_floating_point():
            return t.dtype
    return None


def apply_connection(owner: str, connection: Callable, x):
    """Call `connection(x)`, turning an obscure shape failure into an actionable error."""
    try:
        return connection(x)
    except RuntimeError as error:
        model_dtype = _dtype(connection)
        if isinstance(x, torch.Tensor) and model_dtype is not None and x.dtype != model_dtype:
            raise TypeError(
                f"`{owner}`: the input has dtype {x.dtype} but the model's parameters have dtype {model_dtype} "
                f"(torch does not promote, unlike spikax). Cast the input with `x.to({model_dtype})`, or build the "
                f"model with `dtype={x.dtype}`."
            ) from error
        if "shape" not in str(error) and "size" not in str(error) and "channels" not in str(error):
            raise
        raise ValueError(
            f"`{owner}`: its connection {type(connection).__name__} cannot take an input of shape "
            f"{tuple(getattr(x, 'shape', ()))}: {error}. Check the input size of the first connection; time is "
            "axis 0 of the sequence given to `spikax_torch.run`."
        ) from error


def apply_over_time(owner: str, connection: Callable, xs):
    """Apply a stateless one-step `connection` to every step of `xs` at once (one large op).

    `torch.nn.Linear` and `Identity` take any leading axes; other connections go through
    `torch.func.vmap` over time, which folds time into their batch (one convolution over T x B).
    """
    if isinstance(connection, (torch.nn.Linear, torch.nn.Identity)):
        return apply_connection(owner, connection, xs)
    return torch.func.vmap(lambda x: apply_connection(owner, connection, x))(xs)


def connection_output_shape(owner: str, connection: Callable, input_shape, dtype, device=None) -> tuple[int, ...]:
    """The output shape of a stateless connection (one step), with a clear error for a bad input shape."""
    with torch.no_grad():
        x = torch.zeros(tuple(input_shape), dtype=default_dtype(dtype), device=device)
        return tuple(apply_connection(owner, connection, x).shape)
