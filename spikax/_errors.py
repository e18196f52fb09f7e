"""Shared checks that raise clear, actionable errors (never `assert` on user input)."""

from __future__ import annotations

import numbers

import numpy as np


def check_positive(owner: str, name: str, value, fix: str = "") -> None:
    """Raise if a concrete (non-traced) `value` is not strictly positive everywhere."""
    arr = _concrete(value)
    if arr is not None and not np.all(arr > 0):
        raise ValueError(
            f"`{owner}`: `{name}` must be positive, got {_show(arr)}. {fix or f'Pass a positive `{name}`.'}"
        )


def check_in_range(owner: str, name: str, value, low: float, high: float, fix: str = "",
                   include_low: bool = False) -> None:
    """Raise if a concrete `value` lies outside (low, high] (or [low, high] with `include_low`)."""
    arr = _concrete(value)
    if arr is None:  # traced under jit: cannot be checked now
        return
    above = np.all(arr >= low) if include_low else np.all(arr > low)
    if not (above and np.all(arr <= high)):
        interval = f"{'[' if include_low else '('}{low:g}, {high:g}]"
        raise ValueError(
            f"`{owner}`: `{name}` must lie in {interval}, got {_show(arr)}. "
            f"{fix or f'Pass a `{name}` inside that interval.'}"
        )


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


def _concrete(value):
    """The value as a NumPy array, or None when it is traced (checked later, if at all)."""
    if isinstance(value, numbers.Number):
        return np.asarray(value)
    try:
        return np.asarray(value)
    except Exception:  # a tracer under jit: cannot be inspected now
        return None


def _show(arr) -> str:
    arr = np.asarray(arr)
    return repr(arr.item()) if arr.size == 1 else f"an array with min {arr.min()} and max {arr.max()}"
