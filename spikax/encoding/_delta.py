"""Delta (send-on-delta / threshold-crossing) coding."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .._errors import check_positive
from ._common import as_param, float_input


def delta(x, threshold: float = 0.1, *, off_spikes: bool = True):
    r"""Delta coding: spike whenever a signal has moved by more than a threshold since the last spike.

    The encoder keeps a reference $r$ per channel, starting at the first sample, and for $t \ge 1$

    $$s^{\mathrm{on}}_t = H(x_t - r_{t-1} - \vartheta),\qquad
      s^{\mathrm{off}}_t = H(r_{t-1} - x_t - \vartheta),\qquad
      r_t = \begin{cases} x_t & \text{if a spike was emitted}\\ r_{t-1} & \text{otherwise}\end{cases}$$

    (send-on-delta sampling, as in event cameras and sigma-delta encoders; Lichtsteiner et al. 2008).
    A slow ramp therefore still produces regular spikes, not just steps larger than $\vartheta$.
    No spike is emitted at $t = 0$.

    **Arguments:**

    - `x`: signal with time on axis 0, shape `(T, ...)`.
    - `threshold`: change $\vartheta > 0$ needed for a spike.
    - `off_spikes`: if True (default), return ON and OFF channels; if False, only ON spikes.

    **Returns:**

    Spikes of shape `(T, 2, ...)` (channel 0: ON, increases; channel 1: OFF, decreases), or
    `(T, ...)` with `off_spikes=False`.

    **Example:**

    ```python
    ramp = 0.03 * jnp.arange(10.0)
    spikes = spikax.encoding.delta(ramp, threshold=0.1)
    spikes[:, 0]  # ON spikes at steps 4 and 8, where the ramp has risen by 0.12 since the last spike
    ```
    """
    owner = "spikax.encoding.delta"
    check_positive(owner, "threshold", threshold)
    x = float_input(owner, x)
    if x.ndim < 1:
        raise ValueError(f"`{owner}`: expected a signal with time on axis 0, got a scalar. "
                         "Pass an array of shape (T, ...).")
    return _delta(x, as_param(threshold, x.dtype), off_spikes)


@functools.partial(jax.jit, static_argnums=2)  # one compiled kernel per shape, also when called eagerly
def _delta(x, threshold, off_spikes):
    def step(ref, xt):
        on = xt - ref > threshold
        off = ref - xt > threshold
        ref = jnp.where(on | off, xt, ref)
        return ref, jnp.stack([on, off]).astype(x.dtype)

    _, rest = jax.lax.scan(step, x[0], x[1:])
    spikes = jnp.concatenate([jnp.zeros((1, 2, *x.shape[1:]), x.dtype), rest])
    return spikes if off_spikes else spikes[:, 0]
