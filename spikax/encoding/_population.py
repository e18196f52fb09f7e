"""Population coding with Gaussian receptive fields."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .._errors import check_in_range, check_positive
from ._common import as_param, check_key, check_steps, float_input


def population(x, n_neurons: int, *, low: float = 0.0, high: float = 1.0, sigma: float | None = None,
               n_steps: int | None = None, key=None, max_prob: float = 1.0, dtype=None):
    r"""Population coding: each value drives a bank of neurons with Gaussian tuning curves.

    Neuron $j$ of $J$ has its preferred value $\mu_j$ evenly spaced on $[\text{low}, \text{high}]$
    and responds with

    $$r_j(x) = \exp\Big(-\frac{(x - \mu_j)^2}{2\sigma^2}\Big) \in (0, 1]$$

    (Bohte, Kok & La Poutré 2002). Without `n_steps` the rates are returned; with `n_steps`
    (and a `key`) they are turned into Bernoulli spikes with probability $r_j p_{\max}$ per step.

    **Arguments:**

    - `x`: values, any shape.
    - `n_neurons`: neurons per value, $J \ge 1$.
    - `low`, `high`: range covered by the preferred values.
    - `sigma`: tuning width (default: the spacing $(\text{high}-\text{low})/(J-1)$).
    - `n_steps`: if given, return spikes over this many steps (needs `key`).
    - `key`: JAX PRNG key (keyword-only), only for spikes.
    - `max_prob`: spike probability per step at the peak of a tuning curve.
    - `dtype`: output float dtype.

    **Returns:**

    Rates of shape `(*x.shape, n_neurons)`, or spikes of shape `(n_steps, *x.shape, n_neurons)`.

    **Example:**

    ```python
    rates = spikax.encoding.population(jnp.array([0.0, 1.0]), 5)  # (2, 5); peaks at neurons 0 and 4
    spikes = spikax.encoding.population(jnp.array([0.3]), 5, n_steps=50, key=jax.random.key(0))
    ```
    """
    owner = "spikax.encoding.population"
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, int) or n_neurons < 1:
        raise ValueError(f"`{owner}`: `n_neurons` must be a positive int, got {n_neurons!r}.")
    if not high > low:
        raise ValueError(f"`{owner}`: need `low < high`, got low={low!r}, high={high!r}. Swap or widen the range.")
    x = float_input(owner, x, dtype)
    if sigma is None:
        sigma = (high - low) / max(n_neurons - 1, 1)
    check_positive(owner, "sigma", sigma)
    if n_steps is not None:
        n_steps = check_steps(owner, n_steps)
        check_key(owner, key)
        check_in_range(owner, "max_prob", max_prob, 0.0, 1.0)
    return _population(x, as_param(sigma, x.dtype), as_param(max_prob, x.dtype), key, n_neurons, float(low),
                       float(high), n_steps)


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))  # one compiled kernel per shape
def _population(x, sigma, max_prob, key, n_neurons, low, high, n_steps):
    centres = jnp.linspace(low, high, n_neurons, dtype=x.dtype)
    rates = jnp.exp(-((x[..., None] - centres) ** 2) / (2 * sigma**2))
    if n_steps is None:
        return rates
    u = jax.random.uniform(key, (n_steps, *rates.shape), dtype=x.dtype)
    return (u < rates * max_prob).astype(x.dtype)
