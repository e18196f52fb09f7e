"""Host-side NumPy mini-batches, prefetched to the device."""

from __future__ import annotations

import collections

import jax
import numpy as np

from ._random import numpy_rng


def batches(*arrays, batch_size: int, shuffle: bool = False, drop_last: bool = False, key=None,
            seed=None, prefetch: int = 2, to_device: bool = True, device=None, time_major: bool = False):
    r"""Iterate over mini-batches of NumPy arrays: one pass (epoch) over the data.

    Indexing and shuffling happen in NumPy on the host, which was the ancestor project's main
    speed fix (loading data through JAX ops is much slower). With `to_device=True` each batch
    is sent with `jax.device_put`, `prefetch` batches ahead of the one being used, so the copy
    overlaps with the training step (`device_put` is asynchronous).

    **Arguments:**

    - `*arrays`: arrays with the same length along axis 0 (e.g. `x, y`).
    - `batch_size`: samples per batch.
    - `shuffle`: visit the samples in a random order (needs `key` or `seed`; use a new one per epoch).
    - `drop_last`: skip the last batch if it is smaller than `batch_size`.
    - `key` or `seed`: a JAX PRNG key or an int, for the shuffle.
    - `prefetch`: batches to send ahead (0: send each when it is needed).
    - `to_device`: yield device arrays (default) or NumPy arrays.
    - `device`: a `jax.Device` or `jax.sharding.Sharding` for `device_put` (default: JAX's default device).
    - `time_major`: swap the first two axes of every array with at least 2 dimensions, turning
      batch-major `(B, T, ...)` into the library's time-major `(T, B, ...)`; 1-D arrays such as
      labels stay `(B,)`.

    **Returns:**

    A generator of batches: a tuple with one entry per input array, or the batch itself when
    only one array was given.

    **Example:**

    ```python
    x, y = np.zeros((100, 20, 3), np.float32), np.arange(100)
    for epoch in range(2):
        for xb, yb in spikax.datasets.batches(x, y, batch_size=32, shuffle=True, seed=epoch, time_major=True):
            pass  # xb: (20, 32, 3) on the device, yb: (32,)
    ```
    """
    owner = "spikax.datasets.batches"
    if not arrays:
        raise TypeError(f"`{owner}`: pass at least one array, e.g. `batches(x, y, batch_size=32)`.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`{owner}`: `batch_size` must be a positive int, got {batch_size!r}.")
    if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)) or prefetch < 0:
        raise ValueError(f"`{owner}`: `prefetch` must be a non-negative int, got {prefetch!r}.")
    arrays = [np.asarray(a) for a in arrays]
    lengths = [a.shape[0] if a.ndim else None for a in arrays]
    if None in lengths or len(set(lengths)) != 1:
        raise ValueError(f"`{owner}`: all arrays need the same length along axis 0, got shapes "
                         f"{[a.shape for a in arrays]}.")
    if shuffle:
        order = numpy_rng(owner, key, seed).permutation(lengths[0])
    else:
        if key is not None or seed is not None:
            raise ValueError(f"`{owner}`: `key`/`seed` only matter with `shuffle=True`; pass `shuffle=True` or "
                             "drop them.")
        order = None
    return _generate(arrays, order, int(batch_size), drop_last, int(prefetch), to_device, device, time_major)


def _generate(arrays, order, batch_size, drop_last, prefetch, to_device, device, time_major):
    n = arrays[0].shape[0]
    stop = n - n % batch_size if drop_last else n

    def host_batches():
        for start in range(0, stop, batch_size):
            if order is None:
                batch = [a[start:start + batch_size] for a in arrays]  # views, no copy
            else:
                idx = order[start:start + batch_size]
                batch = [np.take(a, idx, axis=0) for a in arrays]
            if time_major:
                batch = [np.swapaxes(b, 0, 1) if b.ndim >= 2 else b for b in batch]
            yield batch

    def pack(batch):
        return batch[0] if len(batch) == 1 else tuple(batch)

    if not to_device:
        for batch in host_batches():
            yield pack(batch)
        return
    queue = collections.deque()
    for batch in host_batches():
        queue.append(jax.device_put(batch, device))
        if len(queue) > prefetch:
            yield pack(queue.popleft())
    while queue:
        yield pack(queue.popleft())
