"""Shared checks with clear, actionable messages: the same `spikax_spec` checks that spikax uses."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from spikax_spec import check_choice as check_choice
from spikax_spec import check_float_dtype
from spikax_spec import check_in_range as check_in_range
from spikax_spec import check_positive as check_positive
from spikax_spec import concrete


def as_numpy(value) -> np.ndarray:
    """A concrete value (number, NumPy array or tensor) as a float64 NumPy array."""
    return concrete(value)


def check_param_dtype(owner: str, dtype) -> None:
    """Raise `TypeError` unless `dtype` (None meaning torch's default float) is a floating-point dtype."""
    if dtype is not None:
        is_floating = isinstance(dtype, torch.dtype) and dtype.is_floating_point
        check_float_dtype(owner, str(dtype).removeprefix("torch."), is_floating)


def check_steps(owner: str, name: str, value, allow_none: bool = False) -> None:
    """Raise unless `value` is a whole number >= 1 (or None when allowed)."""
    if value is None and allow_none:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{owner}`: `{name}` must be a whole number of steps >= 1, got {value!r}.")
