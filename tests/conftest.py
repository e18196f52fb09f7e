"""Test configuration shared by the whole suite.

- float64 is available everywhere (`jax_enable_x64`); tests that check float32 behaviour pass
  `dtype=jnp.float32` explicitly.
- dtype promotion is strict, so an accidental float32/float64 mix is an error, not a silent cast.
  Tests that drive third-party code which is not strict-clean (optax's Adam mixes an int32 step
  count with floats) opt out with `@pytest.mark.standard_promotion`.
- `getkey` hands out fresh PRNG keys from a fixed seed, so every test is deterministic.
"""

import os
import pathlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)

REPO = pathlib.Path(__file__).resolve().parents[1]


def data_dir() -> pathlib.Path:
    """Where the shared data sets live: `$SPIKAX_DATA`, else `../shared/data` next to the repo."""
    return pathlib.Path(os.environ.get("SPIKAX_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _strict_dtype_promotion(request):
    mode = "standard" if request.node.get_closest_marker("standard_promotion") else "strict"
    with jax.numpy_dtype_promotion(mode):
        yield


@pytest.fixture
def getkey():
    """A function returning a new PRNG key on every call (deterministic sequence)."""
    key = jax.random.key(0)

    def next_key():
        nonlocal key
        key, sub = jax.random.split(key)
        return sub

    return next_key


@pytest.fixture
def data_path():
    """Path to the shared data folder (tests skip, with a reason, when a file is absent)."""
    return data_dir()
