"""Seeding NumPy generators from a JAX key or an int."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def numpy_rng(owner: str, key=None, seed=None) -> np.random.Generator:
    """A NumPy generator determined by a JAX PRNG key or an int seed (exactly one)."""
    if (key is None) == (seed is None):
        raise TypeError(f"`{owner}`: pass exactly one of `key=` (a JAX PRNG key) and `seed=` (an int), so the "
                        f"data are reproducible; got key={key!r}, seed={seed!r}.")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise TypeError(f"`{owner}`: `seed` must be a non-negative int, got {seed!r}.")
        return np.random.default_rng(int(seed))
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = np.asarray(key)
    if not np.issubdtype(words.dtype, np.unsignedinteger):
        raise TypeError(f"`{owner}`: `key` must be a JAX PRNG key (e.g. `jax.random.key(0)`), got {key!r}.")
    return np.random.default_rng([int(w) for w in words.ravel()])
