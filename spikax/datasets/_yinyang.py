"""The Yin-Yang data set (Kriener et al. 2022): a small 2-D task no linear classifier solves."""

from __future__ import annotations

import numpy as np

CLASSES = ("yin", "yang", "dot")


def _yin_yang_class(x, y, r_small, r_big):
    """Class of points (x, y) inside the big circle: 0 yin, 1 yang, 2 dot."""
    # The two eyes sit on the horizontal diameter, at a quarter and three quarters of it.
    to_left = np.hypot(x - 0.5 * r_big, y - r_big)
    to_right = np.hypot(x - 1.5 * r_big, y - r_big)
    dot = (to_left < r_small) | (to_right < r_small)
    # Yin: the upper half outside the right half-disc, the lower-left half-disc, and the right eye.
    yin = (to_right <= r_small) | ((to_left > r_small) & (to_left <= 0.5 * r_big)) | (
        (y > r_big) & (to_right > 0.5 * r_big))
    return np.where(dot, 2, np.where(yin, 0, 1))


def yin_yang(n: int, *, seed: int = 0, r_small: float = 0.1, r_big: float = 0.5, dtype=np.float32):
    r"""Points of the Yin-Yang symbol and their class: yin (0), yang (1) or one of the two dots (2).

    The Yin-Yang data set of Kriener, Göltz and Petrovici (2022, *Neuro-Inspired Computational
    Elements*, doi:10.1145/3517343.3517380): points $(x, y)$ drawn uniformly inside a disc of
    radius $r_{big}$ centred at $(r_{big}, r_{big})$; the class is the region of the Yin-Yang symbol
    the point falls in. A linear classifier reaches about 64 %, a shallow network trained well
    over 95 %. Classes are balanced: each sample's class is drawn first (uniformly), then points
    are drawn until one lands in it. Features are $(x, y, 1-x, 1-y)$ (mirrored coordinates, so
    every point has the same total input, as in the original).

    **Arguments:**

    - `n`: number of samples.
    - `seed`: seed of NumPy's generator (use different seeds for training and test sets).
    - `r_small`: radius of the dots.
    - `r_big`: radius of the symbol (coordinates lie in $[0, 2 r_{big}]$).
    - `dtype`: float dtype of the features.

    **Returns:**

    `(x, labels)`: `(n, 4)` features and int64 labels `(n,)` in `{0, 1, 2}`.

    **Example:**

    ```python
    x, y = spikax.datasets.yin_yang(100, seed=1)  # (100, 4), (100,)
    ```
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"`spikax.datasets.yin_yang`: `n` must be a whole number >= 0, got {n!r}. Pass e.g. `n=1000`.")
    if not 0 < r_small < 0.5 * r_big:
        raise ValueError(f"`spikax.datasets.yin_yang`: need 0 < r_small < r_big / 2, got r_small={r_small}, "
                         f"r_big={r_big}. The default is r_small=0.1, r_big=0.5.")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), n)
    points = np.empty((n, 2))
    missing = np.arange(n)
    while missing.size:
        # draw a batch of candidates per missing sample; keep those inside the disc and of the wanted class
        xy = rng.uniform(0.0, 2 * r_big, (missing.size, 2))
        inside = np.hypot(xy[:, 0] - r_big, xy[:, 1] - r_big) <= r_big
        ok = inside & (_yin_yang_class(xy[:, 0], xy[:, 1], r_small, r_big) == labels[missing])
        points[missing[ok]] = xy[ok]
        missing = missing[~ok]
    x = np.concatenate([points, 2 * r_big - points], axis=1).astype(dtype)
    return x, labels.astype(np.int64)
