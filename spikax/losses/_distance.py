"""Van Rossum spike-train distance."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._errors import check_positive


def van_rossum_distance(s1, s2, tau: float, *, dt: float = 1.0, squared: bool = False):
    r"""Van Rossum distance between two spike trains (van Rossum 2001, *Neural Comput.* 13:751).

    The difference of the trains is filtered with a causal exponential kernel and its energy is
    integrated. In discrete time, with $a = e^{-\Delta t/\tau}$,

    $$f_t = a f_{t-1} + (s^1_t - s^2_t),\qquad
      D^2 = \frac{1 - a^2}{2}\sum_t \sum_i f_{t,i}^2 .$$

    The factor $(1-a^2)/2$ ($\approx \Delta t/\tau$ for $\Delta t \ll \tau$) makes the discrete
    distance agree with the continuous definition $D^2 = \frac1\tau\int (f_1 - f_2)^2\,dt$ on
    single spikes at any step size: one spike against an empty train gives $D^2 = 1/2$ and two
    single spikes $\delta$ apart give $D^2 = 1 - e^{-\delta/\tau}$ (once the kernels have decayed
    before the end of the window). Trains with several channels sum their squared distances.

    **Arguments:**

    - `s1`, `s2`: spike trains of the same shape `(T, ...)`.
    - `tau`: kernel time constant (same units as `dt`).
    - `dt`: time step.
    - `squared`: return $D^2$ (smooth everywhere; better as a loss) instead of $D$.

    **Returns:**

    Scalar $D$ (or $D^2$). The gradient of $D$ at $D = 0$ is defined as 0.

    **Example:**

    ```python
    a = jnp.zeros(100).at[10].set(1.0)
    b = jnp.zeros(100).at[20].set(1.0)
    spikax.losses.van_rossum_distance(a, b, tau=10.0)  # sqrt(1 - exp(-1)) = 0.795
    ```
    """
    owner = "spikax.losses.van_rossum_distance"
    check_positive(owner, "tau", tau)
    check_positive(owner, "dt", dt)
    s1 = jnp.asarray(s1)
    s2 = jnp.asarray(s2)
    if s1.shape != s2.shape or s1.ndim < 1:
        raise ValueError(f"`{owner}`: the spike trains have shapes {s1.shape} and {s2.shape}; expected two "
                         "arrays of the same shape with time on axis 0.")
    diff = s1 - s2
    if not jnp.issubdtype(diff.dtype, jnp.floating):
        diff = diff.astype(jnp.asarray(0.0).dtype)
    a = jnp.exp(jnp.asarray(-dt / tau, diff.dtype))

    def step(f, x):
        f = a * f + x
        return f, f

    _, f = jax.lax.scan(step, jnp.zeros(diff.shape[1:], diff.dtype), diff)
    d2 = (1 - a**2) / 2 * jnp.sum(f**2)
    if squared:
        return d2
    positive = d2 > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, d2, 1.0)), 0.0)
