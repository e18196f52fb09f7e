"""Small static and tactile data sets: scikit-learn digits and Braille reading."""

from __future__ import annotations

import gzip
from typing import NamedTuple

import numpy as np

from ._files import find_file

DIGITS_MD5 = "9b335364a7bfd63947c7480a5bd51f2d"
DIGITS_MIRRORS = ("https://raw.githubusercontent.com/scikit-learn/scikit-learn/main/sklearn/datasets/data",)


def load_digits(*, root=None, flatten: bool = False, download: bool = True, dtype=np.float32):
    r"""scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), without scikit-learn.

    Reads `digits.csv.gz` (64 pixel values in $0..16$, then the label, one row per image; UCI
    "Optical Recognition of Handwritten Digits", Alpaydin & Kaynak 1998) and checks its MD5.
    Pixels are scaled to $[0, 1]$ by dividing by 16.

    **Arguments:**

    - `root`: folder holding `digits.csv.gz` (directly or in `digits/`); default `$SPIKAX_DATA/digits`.
    - `flatten`: return `(N, 64)` instead of `(N, 8, 8)`.
    - `download`: allow fetching the file into the cache when it is not found.
    - `dtype`: float dtype of the images.

    **Returns:**

    `(images, labels)`: `(1797, 8, 8)` floats in $[0, 1]$ and int64 labels `(1797,)`.

    **Example:**

    ```python
    x, y = spikax.datasets.load_digits(flatten=True)  # (1797, 64), (1797,)
    ```
    """
    path = find_file("spikax.datasets.load_digits", "digits", "digits.csv.gz", DIGITS_MD5, root=root,
                     mirrors=DIGITS_MIRRORS, download=download)
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = table[:, :64].astype(dtype) / np.asarray(16, dtype)
    labels = table[:, 64]
    return (images if flatten else images.reshape(-1, 8, 8)), labels


def _read_npz(owner: str, path, keys: tuple[str, ...], what_to_do: str) -> list[np.ndarray]:
    """The arrays `keys` of an `.npz` file (no pickles); an unreadable or incomplete file raises `OSError`
    naming the file, what went wrong and `what_to_do`."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as f:  # our handle: closed on error
            found = {k: f[k] for k in keys if k in f.files}
            names = sorted(f.files)
    except Exception as error:  # zipfile.BadZipFile, ValueError (a truncated array, a pickle), EOFError, OSError, ...
        raise OSError(f"`{owner}`: cannot read {path}: it is not a valid .npz file ({type(error).__name__}: "
                      f"{error}). The file is damaged or truncated. {what_to_do}") from error
    missing = [k for k in keys if k not in found]
    if missing:
        raise OSError(f"`{owner}`: {path} lacks the arrays {missing} (it has {names}). {what_to_do}")
    return [found[k] for k in keys]


class Braille(NamedTuple):
    """Braille reading trials, as returned by [`spikax.datasets.load_braille`][].

    **Example:**

    ```python
    data = spikax.datasets.load_braille()
    first = data.x[0, :data.lengths[0]]  # (76, 12) pressures of trial 0, without padding
    ```
    """

    x: np.ndarray  # (N, T_max, 12) float32 taxel pressures, zero-padded after each trial's end
    lengths: np.ndarray  # (N,) int64 number of valid steps of each trial
    labels: np.ndarray  # (N,) int64 letter index
    letters: np.ndarray  # (27,) str: "Space", "A", ..., "Z"; letters[labels[i]] names trial i
    repetition: np.ndarray  # (N,) int64 repetition number of the trial


def load_braille(*, root=None, max_length: int | None = None, dtype=np.float32) -> Braille:
    r"""Tactile Braille reading (Müller-Cleve et al. 2022, *Front. Neurosci.* 16:951164).

    A robotic fingertip with 12 capacitive taxels slid over 27 Braille characters (space and
    A-Z), 50 repetitions each: 1350 trials of about 76 steps. The raw pressures are returned;
    [`spikax.encoding.delta`][] turns them into ON/OFF spikes, as in the paper.

    Reads `braille_taxel.npz` with `allow_pickle=False` (no code is executed on load). The file
    stores all trials stacked over time, with `offsets` marking where each trial starts.

    **Arguments:**

    - `root`: folder holding `braille_taxel.npz` (directly or in `braille/`); default
      `$SPIKAX_DATA/braille`. There is no download mirror.
    - `max_length`: pad (or cut) every trial to this many steps (default: the longest trial).
    - `dtype`: float dtype of `x`.

    **Returns:**

    A [`spikax.datasets.Braille`][] tuple `(x, lengths, labels, letters, repetition)`.

    **Example:**

    ```python
    data = spikax.datasets.load_braille()
    data.x.shape, data.letters[data.labels[0]]  # ((1350, 77, 12), 'Space')
    ```
    """
    owner = "spikax.datasets.load_braille"
    path = find_file(owner, "braille", "braille_taxel.npz", None, root=root)
    taxels, offsets, labels, letters, repetition = _read_npz(
        owner, path, ("taxel_data", "offsets", "labels", "letters", "repetition"),
        "It should be the tactile Braille data set of Mueller-Cleve et al. 2022 saved with NumPy; copy it again "
        "from its source, or convert the original braille_taxel.pkl.gz again.")
    lengths = np.diff(offsets)
    if len(offsets) != len(labels) + 1 or np.any(lengths < 1) or offsets[-1] > len(taxels):
        raise OSError(f"`{owner}`: {path} is inconsistent: {len(labels)} labels, {len(offsets)} offsets (expected "
                      f"{len(labels) + 1}, increasing, ending at most at {len(taxels)}). The file is damaged; copy "
                      "it again.")
    if max_length is None:
        max_length = int(lengths.max())
    if max_length < 1:
        raise ValueError(f"`{owner}`: `max_length` must be positive, got {max_length}.")
    x = np.zeros((len(lengths), max_length, taxels.shape[1]), dtype)
    kept = np.minimum(lengths, max_length)
    for i, (start, n) in enumerate(zip(offsets[:-1], kept)):
        x[i, :n] = taxels[start:start + n]
    return Braille(x, kept.astype(np.int64), labels.astype(np.int64), letters, repetition.astype(np.int64))
