"""MNIST from the original IDX files, with static, sequential and spiking views."""

from __future__ import annotations

import gzip
import os

import jax
import numpy as np

from .._errors import check_choice
from ._files import find_file

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
)
MNIST_FILES = {
    "train": (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
    "test": (("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
VIEWS = ("image", "flat", "pixel", "row", "rate", "latency")


def read_idx(path: str | os.PathLike, limit: int | None = None) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed (`.gz`) or not.

    The header is two zero bytes, a type code, the number of dimensions $d$, then $d$ big-endian
    int32 sizes; the data follows in C order (LeCun et al., http://yann.lecun.com/exdb/mnist/).

    **Arguments:**

    - `path`: the file.
    - `limit`: read only the first `limit` entries along axis 0 (faster for tests).

    **Returns:**

    A NumPy array with the file's shape (first axis cut to `limit`) and dtype.

    **Example:**

    ```python
    import pathlib, tempfile
    path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"  # a tiny IDX file: magic, count, data
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    labels = spikax.datasets.read_idx(path, limit=2)  # array([7, 2], dtype=uint8)
    ```
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
            raise ValueError(f"`spikax.datasets.read_idx`: {path} is not an IDX file (bad magic number "
                             f"{head!r}).")
        dtype = np.dtype(_IDX_TYPES[head[2]])
        shape = [int(n) for n in np.frombuffer(f.read(4 * head[3]), ">i4")]
        if limit is not None:
            shape[0] = min(shape[0], int(limit))
        count = int(np.prod(shape))
        data = np.frombuffer(f.read(count * dtype.itemsize), dtype)
    if data.size != count:
        raise ValueError(f"`spikax.datasets.read_idx`: {path} is truncated: expected {count} values, read "
                         f"{data.size}. Delete it and download it again.")
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(split: str = "train", *, view: str = "image", root=None, limit: int | None = None,
               download: bool = True, n_steps: int = 100, key=None, max_prob: float = 1.0,
               dtype=np.float32):
    r"""MNIST handwritten digits (LeCun et al. 1998) as NumPy arrays, in several views.

    Files are looked for in `root` (or `root/mnist`) when it is given, otherwise in
    `$SPIKAX_DATA/mnist`; then in the cache (`$SPIKAX_CACHE` or `~/.cache/spikax`, sub-folder
    `mnist/`). If absent they are downloaded into the cache from a list of mirrors. Every file's
    MD5 is checked against the standard checksums, whether found or downloaded.

    Views (pixel values scaled to $[0, 1]$; time is axis 1, right after the sample axis):

    - `"image"`: `(N, 28, 28)`;  `"flat"`: `(N, 784)`.
    - `"pixel"`: sequential MNIST, one pixel per step, `(N, 784, 1)` (Le et al. 2015).
    - `"row"`: one row of 28 pixels per step, `(N, 28, 28)`.
    - `"rate"`: Bernoulli spikes `(N, n_steps, 28, 28)` from [`spikax.encoding.rate`][] (needs `key`).
    - `"latency"`: one spike per pixel `(N, n_steps, 28, 28)` from [`spikax.encoding.latency`][].

    The spike views hold `n_steps` times the data; use them with `limit`, or encode each batch
    on the device instead (`jax.vmap` over [`spikax.encoding.rate`][]).

    **Arguments:**

    - `split`: `"train"` (60000) or `"test"` (10000).
    - `view`: one of the views above.
    - `root`: folder holding the four `.gz` files (directly or in `mnist/`).
    - `limit`: load only the first `limit` examples.
    - `download`: allow downloading missing files.
    - `n_steps`, `key`, `max_prob`: for the spike views.
    - `dtype`: float dtype of the inputs.

    **Returns:**

    `(x, labels)`: `x` as described, `labels` int64 of shape `(N,)`.

    **Example:**

    ```python
    x, y = spikax.datasets.load_mnist("test", view="pixel", limit=256)  # (256, 784, 1), (256,)
    ```
    """
    owner = "spikax.datasets.load_mnist"
    check_choice(owner, "split", split, tuple(MNIST_FILES))
    check_choice(owner, "view", view, VIEWS)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"`{owner}`: `limit` must be a positive int or None, got {limit!r}.")
    if view == "rate" and key is None:
        raise TypeError(f"`{owner}`: view='rate' is random and needs `key=jax.random.key(...)`.")
    (img_name, img_md5), (lab_name, lab_md5) = MNIST_FILES[split]
    img_path = find_file(owner, "mnist", img_name, img_md5, root=root, mirrors=MNIST_MIRRORS, download=download)
    lab_path = find_file(owner, "mnist", lab_name, lab_md5, root=root, mirrors=MNIST_MIRRORS, download=download)
    images = read_idx(img_path, limit).astype(dtype) / np.asarray(255, dtype)
    labels = read_idx(lab_path, limit).astype(np.int64)
    n = len(labels)
    if view in ("image", "row"):
        return images, labels
    if view == "flat":
        return images.reshape(n, 784), labels
    if view == "pixel":
        return images.reshape(n, 784, 1), labels
    from .. import encoding  # JAX is only needed for the spike views

    with jax.default_device(jax.devices("cpu")[0]):
        if view == "rate":
            spikes = encoding.rate(images, n_steps, key=key, max_prob=max_prob)
        else:
            spikes = encoding.latency(images, n_steps)
    return np.moveaxis(np.asarray(spikes), 0, 1), labels
