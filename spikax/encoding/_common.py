"""Helpers shared by the encoders."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def float_input(owner: str, x, dtype=None):
    """`x` as a floating JAX array (its own float dtype, else `dtype`, else JAX's default float)."""
    x = jnp.asarray(x)
    if dtype is not None:
        return x.astype(dtype)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
        return x.astype(jnp.asarray(0.0).dtype)
    raise TypeError(f"`{owner}`: expected a real-valued array, got dtype {x.dtype}. Pass floats in [0, 1].")


def check_steps(owner: str, n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"`{owner}`: `n_steps` must be a positive int, got {n_steps!r}. "
                         "Pass the number of time steps to generate, e.g. `n_steps=100`.")
    return int(n_steps)


def check_unit_interval(owner: str, x) -> None:
    """Raise if a concrete `x` has values outside [0, 1] (skipped under `jit`)."""
    if isinstance(x, jax.core.Tracer):
        return
    arr = np.asarray(x)
    if arr.size and (np.isnan(arr).any() or arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"`{owner}`: input values must lie in [0, 1], got min {arr.min()} and max {arr.max()}. "
                         "Normalise the data first, e.g. `x / 255.0` for 8-bit images.")


def check_key(owner: str, key) -> None:
    if key is None:
        raise TypeError(f"`{owner}`: this encoding is random and needs a PRNG key. "
                        "Pass `key=jax.random.key(0)` (keyword-only).")


def as_param(value, dtype):
    """Python numbers stay weakly typed; arrays are cast to the data's dtype (strict promotion)."""
    return value if isinstance(value, (int, float)) else jnp.asarray(value, dtype)
