"""Class-balanced subsets and stratified splits of a labelled data set (NumPy, on the host)."""

from __future__ import annotations

import numpy as np


def _check_pair(owner: str, x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
        raise ValueError(f"`{owner}`: `x` and `y` need the same number of examples on axis 0, got shapes "
                         f"{x.shape} and {y.shape}.")
    return x, y


def _rank_in_class(labels: np.ndarray) -> np.ndarray:
    """For each example, how many earlier examples have its label (0 for the first of each class)."""
    _, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(labels), np.int64)
    rank[order] = np.arange(len(labels)) - starts[inverse[order]]
    return rank


def _take_indices(labels, n: int) -> np.ndarray:
    """Indices (sorted) of the first `n` examples taken class by class in turn (see `take`)."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):  # not class labels: the first n
        return np.arange(n)
    return np.sort(np.argsort(_rank_in_class(labels), kind="stable")[:n])


def take(x, y, n: int):
    r"""A class-balanced subset of `n` examples: the first examples of each class, taken in turn.

    Example $i$ of class $c$ is kept when fewer than `n` examples come before it in the order
    "first of every class, then second of every class, ...". Every class gets $\lfloor n/C \rfloor$
    or $\lceil n/C \rceil$ examples (fewer if it runs out; the others fill in), the subset keeps
    the data's order, and a larger `n` gives a superset. Unlike `x[:n]`, this also works on data
    sets stored sorted by class (`x[:100]` of Braille holds 2 of its 27 letters). Labels that
    are not 1-D integers are not classes: the first `n` examples are kept.

    **Arguments:**

    - `x`, `y`: inputs and integer labels, examples on axis 0.
    - `n`: number of examples to keep (all if `n >= len(y)`).

    **Returns:**

    `(x_subset, y_subset)`.

    **Example:**

    ```python
    x, y = np.arange(12.0), np.repeat([0, 1, 2], 4)  # sorted by class
    spikax.datasets.take(x, y, 6)[1]  # array([0, 0, 1, 1, 2, 2])
    ```
    """
    owner = "spikax.datasets.take"
    x, y = _check_pair(owner, x, y)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`{owner}`: `n` must be a positive int, got {n!r}.")
    idx = _take_indices(y, int(n))
    return x[idx], y[idx]


def _split_indices(labels, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) sorted indices; `fraction` of every class held out, at random."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        groups = [np.arange(len(labels))]
    else:
        groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    held = [rng.permutation(g)[:int(round(fraction * len(g)))] for g in groups]
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    mask = np.zeros(len(labels), bool)
    mask[held] = True
    return np.flatnonzero(~mask), held


def split(x, y, fraction: float, *, seed: int = 0):
    r"""Hold out a fraction of every class at random (a stratified split), e.g. for validation.

    From each class with $n_c$ examples, $\mathrm{round}(f\,n_c)$ are drawn at random (fixed by
    `seed`) into the held-out part; both parts keep the data's order. Use it to take a
    validation set from the training data, so that model selection (early stopping) never
    looks at the test set.

    **Arguments:**

    - `x`, `y`: inputs and integer labels, examples on axis 0 (labels that are not 1-D integers
      are split without stratification).
    - `fraction`: share held out, in (0, 1).
    - `seed`: seed of the random choice (the same seed gives the same split).

    **Returns:**

    `((x_rest, y_rest), (x_held, y_held))`.

    **Example:**

    ```python
    x, y = np.arange(20.0), np.repeat([0, 1], 10)
    (x_train, y_train), (x_val, y_val) = spikax.datasets.split(x, y, 0.2)  # 2 of each class held out
    ```
    """
    owner = "spikax.datasets.split"
    x, y = _check_pair(owner, x, y)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) or not 0 < fraction < 1:
        raise ValueError(f"`{owner}`: `fraction` must be a number in (0, 1), got {fraction!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`{owner}`: `seed` must be a non-negative int, got {seed!r}.")
    rest, held = _split_indices(y, float(fraction), int(seed))
    return (x[rest], y[rest]), (x[held], y[held])
