"""Shape and regularisation helpers for spike tensors: `Flatten`, `Pool`, `Dropout`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from .._errors import check_choice
from ..neurons._base import default_dtype
from ._base import AbstractLayer, Scan, plain_signals
from ._layers import AbstractStateless

POOL_KINDS = ("sum", "avg", "max")


class Flatten(AbstractStateless):
    """Flatten one sample to a vector (e.g. between a convolution and a dense layer).

    Time and batch are not touched: over a sequence it is applied to each step.

    **Example:**

    ```python
    _, y = spikax.layers.Flatten()(None, jnp.ones((2, 4, 4)))  # y.shape == (32,)
    ```
    """

    def apply(self, x):
        return jnp.reshape(x, (-1,))


class Pool(AbstractStateless):
    r"""Spike pooling over spatial windows: sum (spike count), average (rate) or max (any spike).

    For one channel and window $W$: $\text{sum}: y = \sum_{i\in W} s_i$,
    $\text{avg}: y = \frac{1}{|W|}\sum_{i\in W} s_i$, $\text{max}: y = \max_{i\in W} s_i$
    (an OR of binary spikes). Built on `equinox.nn` pooling; one sample is channels-first,
    `(channels, *spatial)`. Max pooling of spikes passes the gradient to one spike of the
    window (ties go to the first); sum and average spread it evenly.

    **Arguments:**

    - `kind`: `"sum"`, `"avg"` or `"max"`.
    - `kernel_size`: window size (int or one per spatial dimension).
    - `stride`: step between windows (default: `kernel_size`, non-overlapping).
    - `num_spatial_dims`: 1, 2 (default) or 3.
    - `padding`: as in `equinox.nn.Pool`.

    **Example:**

    ```python
    pool = spikax.layers.Pool("sum", 2)
    _, counts = pool(None, jnp.ones((1, 4, 4)))  # counts == 4 everywhere, shape (1, 2, 2)
    ```
    """

    kind: str = eqx.field(static=True)
    pool: eqx.Module

    def __init__(self, kind: str, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None, *,
                 num_spatial_dims: int = 2, padding=0):
        check_choice("spikax.layers.Pool", "pooling kind", kind, POOL_KINDS)
        if num_spatial_dims not in (1, 2, 3):
            raise ValueError(f"`spikax.layers.Pool`: `num_spatial_dims` must be 1, 2 or 3, got {num_spatial_dims!r}.")
        stride = kernel_size if stride is None else stride
        self.kind = kind
        if kind == "max":
            self.pool = eqx.nn.Pool(-jnp.inf, lax.max, num_spatial_dims, kernel_size, stride, padding)
        else:
            self.pool = eqx.nn.Pool(0.0, lax.add, num_spatial_dims, kernel_size, stride, padding)

    def apply(self, x):
        y = self.pool(x)
        if self.kind == "avg":
            sizes = self.pool.kernel_size
            y = y / math.prod(sizes)
        return y


class DropoutState(NamedTuple):
    """State of [`spikax.layers.Dropout`][]."""

    mask: Float[Array, "*features"]  # 0 where dropped, 1/(1-p) where kept; fixed for the whole sequence


class Dropout(AbstractLayer):
    r"""Time-consistent dropout: one mask per sequence, drawn from an explicit key.

    $$y_t = m \odot x_t,\qquad m_i = \frac{b_i}{1-p},\quad b_i \sim \text{Bernoulli}(1-p)$$

    The same units are dropped at every time step of a sequence (dropping different units
    each step would let a recurrent or leaky state average the noise away). The mask lives in
    the state, drawn by `init_state(input_shape, key=key)`; draw a new state (mask) for every
    training sequence. For a batch, draw one per example:
    `jax.vmap(lambda k: net.init_state(shape, key=k))(jax.random.split(key, batch))`.
    In inference mode (`equinox.nn.inference_mode(net)`, or `inference=True`) it is the
    identity and needs no key. Gal & Ghahramani (2016), "variational" dropout.

    **Arguments:**

    - `p`: probability of dropping a unit, in [0, 1).
    - `inference`: act as the identity.

    **Example:**

    ```python
    drop = spikax.layers.Dropout(0.3)
    state = drop.init_state((10,), key=jax.random.key(0))
    _, y = drop(state, jnp.ones(10))  # entries are 0 or 1/0.7, the same at every step
    ```
    """

    p: float = eqx.field(static=True)
    inference: bool = False

    def __check_init__(self):
        if not (isinstance(self.p, (int, float)) and 0 <= self.p < 1):
            raise ValueError(f"`spikax.layers.Dropout`: `p` must lie in [0, 1), got {self.p!r}.")

    def init_state(self, input_shape, dtype=None, *, key=None):
        dtype = default_dtype(dtype)
        if self.inference or self.p == 0:
            return DropoutState(mask=jnp.ones(tuple(input_shape), dtype))
        if key is None:
            raise ValueError(
                "`spikax.layers.Dropout`: the dropout mask is drawn once per sequence in `init_state`, which needs "
                "a key: `net.init_state(input_shape, key=key)` (a new key for every training sequence). For "
                "evaluation switch it off with `net = equinox.nn.inference_mode(net)`."
            )
        keep = jax.random.bernoulli(key, 1 - self.p, tuple(input_shape))
        return DropoutState(mask=keep.astype(dtype) / jnp.asarray(1 - self.p, dtype))

    def output_shape(self, input_shape, dtype=None):
        return tuple(input_shape)

    def step(self, state: DropoutState, x):
        y = self._apply(state, x)
        return state, y, plain_signals(x, y)

    def _apply(self, state: DropoutState, x):
        if jnp.shape(x) != state.mask.shape:
            raise ValueError(
                f"`spikax.layers.Dropout`: input has shape {jnp.shape(x)} but the mask has shape {state.mask.shape}. "
                "Make the state from the input shape of one sample: `init_state(x.shape, key=key)`."
            )
        if self.inference:
            return x
        return x * state.mask.astype(x.dtype)

    def sequence(self, state: DropoutState, xs, *, scan: Scan = lax.scan):
        del scan
        if jnp.shape(xs)[1:] != state.mask.shape:
            self(state, xs[0])  # raises the shape error
        if self.inference:
            return state, xs
        return state, xs * state.mask.astype(xs.dtype)
