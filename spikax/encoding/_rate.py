"""Rate (Bernoulli / Poisson) coding."""

from __future__ import annotations

import functools

import jax

from .._errors import check_in_range
from ._common import as_param, check_key, check_steps, check_unit_interval, float_input


def rate(x, n_steps: int, *, key, max_prob: float = 1.0, dtype=None):
    r"""Rate coding: every input value becomes an independent Bernoulli spike train.

    $$s_t \sim \mathrm{Bernoulli}(p),\qquad p = x\,p_{\max},\qquad t = 0,\dots,T-1$$

    so the expected spike count of an input over $T$ steps is $T x p_{\max}$. For small $p$ this
    is the discrete-time version of a Poisson process with rate $p/\Delta t$ (Gerstner et al.,
    *Neuronal Dynamics*, 2014, ch. 7).

    **Arguments:**

    - `x`: values in $[0, 1]$ (e.g. pixel intensities), any shape.
    - `n_steps`: number of time steps $T$.
    - `key`: JAX PRNG key (keyword-only).
    - `max_prob`: spike probability per step of an input equal to 1, in $(0, 1]$.
    - `dtype`: output float dtype (default: `x`'s float dtype, else JAX's default float).

    **Returns:**

    Spikes in $\{0, 1\}$ of shape `(n_steps, *x.shape)`.

    **Example:**

    ```python
    spikes = spikax.encoding.rate(jnp.array([0.0, 0.5, 1.0]), 100, key=jax.random.key(0))
    spikes.shape  # (100, 3); spikes[:, 2] is all ones, spikes[:, 0] all zeros
    ```
    """
    owner = "spikax.encoding.rate"
    n_steps = check_steps(owner, n_steps)
    check_key(owner, key)
    check_in_range(owner, "max_prob", max_prob, 0.0, 1.0)
    x = float_input(owner, x, dtype)
    check_unit_interval(owner, x)
    return _rate(x, as_param(max_prob, x.dtype), key, n_steps)


@functools.partial(jax.jit, static_argnums=3)  # one compiled kernel per shape, also when called eagerly
def _rate(x, max_prob, key, n_steps):
    u = jax.random.uniform(key, (n_steps, *x.shape), dtype=x.dtype)
    return (u < x * max_prob).astype(x.dtype)
