"""Latency (time-to-first-spike) coding."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .._errors import check_choice, check_in_range, check_positive
from ._common import as_param, check_steps, check_unit_interval, float_input


def latency(x, n_steps: int, *, kind: str = "linear", threshold: float = 0.01, tau: float | None = None,
            dtype=None):
    r"""Latency coding: one spike per input, brighter inputs spike earlier.

    With `kind="linear"` the spike time falls linearly with the input,

    $$t(x) = \operatorname{round}\big((1 - x)(T - 1)\big),$$

    so $x = 1$ fires at step 0 and $x$ just above the threshold fires near step $T-1$.
    With `kind="log"` the spike time is the time an RC circuit driven by the constant current
    $x$ needs to charge up to `threshold` $\vartheta$ (Gütig & Sompolinsky 2006; Zenke & Vogels 2021),

    $$t(x) = \operatorname{round}\Big(\tau \ln \frac{x}{x - \vartheta}\Big),$$

    clipped to $T - 1$. In both kinds an input $x \le \vartheta$ never spikes.

    **Arguments:**

    - `x`: values in $[0, 1]$, any shape.
    - `n_steps`: number of time steps $T$.
    - `kind`: `"linear"` (default) or `"log"`.
    - `threshold`: inputs at or below this value emit no spike.
    - `tau`: time constant in steps for `kind="log"` (default `n_steps / 5`).
    - `dtype`: output float dtype.

    **Returns:**

    Spikes of shape `(n_steps, *x.shape)` with at most one spike per input.

    **Example:**

    ```python
    spikes = spikax.encoding.latency(jnp.array([1.0, 0.5, 0.0]), 11)
    jnp.argmax(spikes, axis=0)  # [0, 5, 0]; the third column has no spike at all
    ```
    """
    owner = "spikax.encoding.latency"
    n_steps = check_steps(owner, n_steps)
    check_choice(owner, "kind", kind, ("linear", "log"))
    check_in_range(owner, "threshold", threshold, 0.0, 1.0, include_low=True,
                   fix="Pass a threshold in [0, 1).")
    x = float_input(owner, x, dtype)
    check_unit_interval(owner, x)
    if kind == "log":
        tau = n_steps / 5 if tau is None else tau
        check_positive(owner, "tau", tau)
    else:
        tau = 1.0  # unused
    return _latency(x, as_param(threshold, x.dtype), as_param(tau, x.dtype), n_steps, kind)


@functools.partial(jax.jit, static_argnums=(3, 4))  # one compiled kernel per shape, also when called eagerly
def _latency(x, threshold, tau, n_steps, kind):
    fires = x > threshold
    if kind == "linear":
        times = jnp.round((1 - x) * (n_steps - 1))
    else:
        safe_x = jnp.where(fires, x, 1.0)  # avoids log(0) and a NaN gradient where no spike is emitted
        times = jnp.round(tau * jnp.log(safe_x / (safe_x - threshold)))
    times = jnp.clip(times, 0, n_steps - 1)
    steps = jnp.arange(n_steps, dtype=x.dtype).reshape((n_steps,) + (1,) * x.ndim)
    return ((steps == times) & fires).astype(x.dtype)
