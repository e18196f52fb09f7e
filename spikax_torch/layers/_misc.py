"""Shape and regularisation helpers (torch twins of `spikax.layers.Flatten`, `Pool`, `Dropout`)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .._errors import check_choice
from ..neurons._base import default_dtype
from ._base import AbstractLayer, Scan, python_scan
from ._layers import AbstractStateless

POOL_KINDS = ("sum", "avg", "max")


class Flatten(AbstractStateless):
    """Flatten each sample to a vector; the first axis is the batch (torch's `nn.Flatten` convention).

    spikax's `Flatten` takes one sample and flattens all of it; a torch layer sees the batch,
    so here axis 0 is kept. Pass `sample_ndim` to flatten exactly the last `sample_ndim` axes
    instead (e.g. `sample_ndim=3` for unbatched or batched `(C, H, W)` images).

    **Example:**

    ```python
    _, y = spikax_torch.layers.Flatten()(None, torch.ones(5, 2, 4, 4))  # y.shape == (5, 32)
    ```
    """

    def __init__(self, sample_ndim: int | None = None):
        super().__init__()
        self.sample_ndim = sample_ndim

    def apply(self, x):
        if self.sample_ndim is None:
            return x.flatten(1)
        return x.flatten(x.ndim - self.sample_ndim) if self.sample_ndim > 0 else x.unsqueeze(-1)


class Pool(AbstractStateless):
    r"""Spike pooling over spatial windows: sum (count), average (rate) or max (any spike).

    As [`spikax.layers.Pool`][]; inputs are `(channels, *spatial)` or `(batch, channels, *spatial)`.

    **Example:**

    ```python
    _, counts = spikax_torch.layers.Pool("sum", 2)(None, torch.ones(1, 4, 4))  # 4 everywhere, (1, 2, 2)
    ```
    """

    def __init__(self, kind: str, kernel_size, stride=None, *, num_spatial_dims: int = 2, padding=0):
        super().__init__()
        check_choice("spikax_torch.layers.Pool", "pooling kind", kind, POOL_KINDS)
        if num_spatial_dims not in (1, 2, 3):
            raise ValueError(f"`spikax_torch.layers.Pool`: `num_spatial_dims` must be 1, 2 or 3, got {num_spatial_dims!r}.")
        self.kind = kind
        self.num_spatial_dims = num_spatial_dims
        self.kernel_size = _tuple(kernel_size, num_spatial_dims)
        self.stride = _tuple(kernel_size if stride is None else stride, num_spatial_dims)
        self.padding = _tuple(padding, num_spatial_dims)

    def apply(self, x):
        n = self.num_spatial_dims
        if self.kind == "max":
            return getattr(F, f"max_pool{n}d")(x, self.kernel_size, self.stride, self.padding)
        y = getattr(F, f"avg_pool{n}d")(x, self.kernel_size, self.stride, self.padding, count_include_pad=True)
        return y * math.prod(self.kernel_size) if self.kind == "sum" else y


def _tuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * n


class DropoutState(NamedTuple):
    """State of [`spikax_torch.layers.Dropout`][]."""

    mask: torch.Tensor  # 0 where dropped, 1/(1-p) where kept; fixed for the whole sequence


class Dropout(AbstractLayer):
    r"""Time-consistent dropout: one mask per sequence (and per example), drawn in `init_state`.

    $y_t = m\odot x_t$, $m_i = b_i/(1-p)$, $b_i\sim\text{Bernoulli}(1-p)$; as [`spikax.layers.Dropout`][].
    `key` is a `torch.Generator` or an int seed; with `inference=True` it is the identity.

    **Example:**

    ```python
    drop = spikax_torch.layers.Dropout(0.3)
    state = drop.init_state((8, 10), key=0)  # a batch of 8: one mask per example
    ```
    """

    def __init__(self, p: float, inference: bool = False):
        super().__init__()
        if not (isinstance(p, (int, float)) and 0 <= p < 1):
            raise ValueError(f"`spikax_torch.layers.Dropout`: `p` must lie in [0, 1), got {p!r}.")
        self.p = p
        self.inference = inference

    def init_state(self, input_shape, dtype=None, *, key=None):
        dtype = default_dtype(dtype)
        if self.inference or self.p == 0:
            return DropoutState(mask=torch.ones(tuple(input_shape), dtype=dtype))
        if key is None:
            raise ValueError(
                "`spikax_torch.layers.Dropout`: the dropout mask is drawn once per sequence in `init_state`, which "
                "needs a key: `net.init_state(input_shape, key=seed_or_generator)`. For evaluation use "
                "`Dropout(p, inference=True)`."
            )
        generator = key if isinstance(key, torch.Generator) else torch.Generator().manual_seed(int(key))
        keep = torch.rand(tuple(input_shape), generator=generator) < 1 - self.p
        return DropoutState(mask=keep.to(dtype) / (1 - self.p))

    def output_shape(self, input_shape, dtype=None):
        return tuple(input_shape)

    def forward(self, state, x):
        if state is None:
            state = self.init_state(x.shape, x.dtype)
        if x.shape != state.mask.shape:
            raise ValueError(f"`spikax_torch.layers.Dropout`: input has shape {tuple(x.shape)} but the mask has shape "
                             f"{tuple(state.mask.shape)}. Make the state from the input shape: `init_state(x.shape, key=...)`.")
        return state, x if self.inference else x * state.mask.to(x.dtype)

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        del scan
        if state is None:
            state = self.init_state(xs.shape[1:], xs.dtype)
        if xs.shape[1:] != state.mask.shape:
            self(state, xs[0])  # raises the shape error
        return state, xs if self.inference else xs * state.mask.to(xs.dtype)
