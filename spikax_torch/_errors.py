"""Shared checks with clear, actionable messages (the torch twins of `spikax._errors`)."""

from __future__ import annotations

import numbers

import numpy as np
import torch


def as_numpy(value) -> np.ndarray:
    """A concrete value (number, NumPy array or tensor) as a float64 NumPy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def _show(arr) -> str:
    arr = np.asarray(arr)
    return repr(arr.item()) if arr.size == 1 else f"an array with min {arr.min()} and max {arr.max()}"


def check_positive(owner: str, name: str, value, fix: str = "") -> None:
    """Raise if `value` is not strictly positive everywhere."""
    arr = as_numpy(value)
    if not np.all(arr > 0):
        raise ValueError(
            f"`{owner}`: `{name}` must be positive, got {_show(arr)}. {fix or f'Pass a positive `{name}`.'}"
        )


def check_in_range(owner: str, name: str, value, low: float, high: float, fix: str = "",
                   include_low: bool = False) -> None:
    """Raise if `value` lies outside (low, high] (or [low, high] with `include_low`)."""
    arr = as_numpy(value)
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


def check_steps(owner: str, name: str, value, allow_none: bool = False) -> None:
    """Raise unless `value` is a whole number >= 1 (or None when allowed)."""
    if value is None and allow_none:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{owner}`: `{name}` must be a whole number of steps >= 1, got {value!r}.")
