"""Shared checks that raise clear, actionable errors (never `assert` on user input).

The checks themselves live in `spikax_spec`, which `spikax_torch` imports too, so both packages
say the same thing about the same bad input. `guard` is how spikax checks a value it cannot read
yet (a tracer, when a model is built inside `jax.jit` or `eqx.filter_vmap`): through
`eqx.error_if`, which raises when the value is computed.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from spikax_spec import check_choice as check_choice
from spikax_spec import check_float_dtype
from spikax_spec import check_in_range as check_in_range
from spikax_spec import check_positive as check_positive
from spikax_spec import check_same_shape as check_same_shape


def guard(value, bad, message: str):
    """`value`, raising `message` at run time wherever `bad` holds (for values traced under jit/vmap)."""
    return eqx.error_if(value, bad, message)


def check_param_dtype(owner: str, dtype) -> None:
    """Raise `TypeError` unless `dtype` (None meaning JAX's default float) is a floating-point dtype."""
    if dtype is not None:
        check_float_dtype(owner, jnp.dtype(dtype).name, jnp.issubdtype(dtype, jnp.floating))
