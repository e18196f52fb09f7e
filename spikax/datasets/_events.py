"""Event-based data: N-MNIST files, SHD files, and binning events into frames."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
NMNIST_SENSOR_SIZE = (34, 34, 2)
SHD_UNITS = 700


def read_nmnist(path: str | os.PathLike) -> np.ndarray:
    r"""Read one N-MNIST recording (Orchard et al. 2015, *Front. Neurosci.* 9:437).

    Each event is 5 bytes: $x$ (byte 0), $y$ (byte 1), polarity (bit 7 of byte 2) and a 23-bit
    timestamp in microseconds (bits 0-6 of byte 2, then bytes 3 and 4, big-endian). A record
    with $y = 240$ marks a timestamp overflow: it is dropped and $2^{13}$ is added to every
    later timestamp.

    **Arguments:**

    - `path`: a `.bin` file.

    **Returns:**

    A tonic-style structured array with fields `x`, `y` (int16), `t` (int64, µs) and `p`
    (int8, 0 = OFF, 1 = ON), one entry per event. The sensor is 34 x 34 x 2
    (`spikax.datasets.NMNIST_SENSOR_SIZE`).

    **Example:**

    ```python
    import pathlib, tempfile
    path = pathlib.Path(tempfile.mkdtemp()) / "two_events.bin"  # x, y, polarity + 23-bit time (us)
    path.write_bytes(bytes([3, 4, 0x80, 0x00, 0x10, 5, 6, 0x00, 0x01, 0x00]))
    events = spikax.datasets.read_nmnist(path)  # x = [3, 5], y = [4, 6], t = [16, 256], p = [1, 0]
    frames = spikax.datasets.events_to_frames(events, (34, 34, 2), n_time_bins=10)  # (10, 2, 34, 34)
    ```
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"`spikax.datasets.read_nmnist`: {path} has {raw.size} bytes, not a multiple of 5; it "
                         "is not an N-MNIST .bin file or it is truncated.")
    raw = raw.reshape(-1, 5).astype(np.int64)
    y = raw[:, 1]
    t = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    overflow = y == 240
    t = t + (np.cumsum(overflow) << 13)  # every overflow record shifts all later timestamps
    keep = ~overflow
    events = np.empty(int(keep.sum()), EVENT_DTYPE)
    events["x"] = raw[keep, 0]
    events["y"] = y[keep]
    events["t"] = t[keep]
    events["p"] = raw[keep, 2] >> 7
    return events


def events_to_frames(events: np.ndarray, sensor_size, *, n_time_bins: int | None = None,
                     time_window: float | None = None, dtype=np.float32) -> np.ndarray:
    r"""Count events into frames of shape `(T, P, H, W)` (tonic's `ToFrame` layout).

    Time is measured from the first event $t_0$. With `n_time_bins` $=T$, the span
    $[t_0, t_{\max}]$ is cut into $T$ equal bins: event $k$ goes to
    $\lfloor T (t_k - t_0) / (t_{\max} - t_0 + 1) \rfloor$ for integer times (clock ticks such
    as microseconds), or $\min(\lfloor T (t_k - t_0) / (t_{\max} - t_0) \rfloor, T-1)$ for float
    times. With `time_window` $=w$, event $k$ goes to bin $\lfloor (t_k - t_0)/w \rfloor$ and
    there are as many bins as needed.

    **Arguments:**

    - `events`: structured array with fields `x`, `y`, `t`, `p` (e.g. from [`spikax.datasets.read_nmnist`][]).
    - `sensor_size`: `(W, H, P)`, e.g. `(34, 34, 2)`. With `P = 1` polarity is ignored; with
      `P = 2` events with `p > 0` go to channel 1.
    - `n_time_bins` or `time_window` (exactly one; `time_window` in the units of `t`).
    - `dtype`: dtype of the counts.

    **Returns:**

    Event counts, `(T, P, H, W)`.

    **Example:**

    ```python
    events = np.zeros(3, spikax.datasets.EVENT_DTYPE)
    events["x"], events["t"], events["p"] = [0, 1, 1], [0, 5, 9], [1, 0, 1]
    spikax.datasets.events_to_frames(events, (2, 1, 2), n_time_bins=2).shape  # (2, 2, 1, 2)
    ```
    """
    owner = "spikax.datasets.events_to_frames"
    if (n_time_bins is None) == (time_window is None):
        raise ValueError(f"`{owner}`: pass exactly one of `n_time_bins` and `time_window`, got "
                         f"n_time_bins={n_time_bins!r}, time_window={time_window!r}.")
    if events.dtype.names is None or not {"x", "y", "t", "p"} <= set(events.dtype.names):
        raise TypeError(f"`{owner}`: expected a structured array with fields x, y, t, p, got dtype "
                        f"{events.dtype}. Build one with `np.zeros(n, spikax.datasets.EVENT_DTYPE)`.")
    if len(sensor_size) != 3:
        raise ValueError(f"`{owner}`: `sensor_size` must be (W, H, P), got {sensor_size!r}.")
    width, height, n_pol = (int(s) for s in sensor_size)
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    if len(events) and (x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height):
        raise ValueError(f"`{owner}`: events reach x in [{x.min()}, {x.max()}], y in [{y.min()}, {y.max()}] "
                         f"but the sensor is {width} x {height}. Check `sensor_size` (it is (W, H, P)).")
    p = (events["p"] > 0).astype(np.int64) if n_pol == 2 else np.zeros(len(events), np.int64)
    if n_pol not in (1, 2):
        raise ValueError(f"`{owner}`: the sensor must have 1 or 2 polarities, got P = {n_pol}.")
    t = events["t"]
    t = t - t.min() if len(events) else t
    if n_time_bins is not None:
        if isinstance(n_time_bins, bool) or not isinstance(n_time_bins, (int, np.integer)) or n_time_bins < 1:
            raise ValueError(f"`{owner}`: `n_time_bins` must be a positive int, got {n_time_bins!r}.")
        if np.issubdtype(t.dtype, np.integer):  # integer clock ticks: the last tick still needs room
            span = int(t.max()) + 1 if len(events) else 1
            bins = t.astype(np.int64) * n_time_bins // span
        else:  # real-valued times: the last event closes the last bin
            span = float(t.max()) if len(events) and t.max() > 0 else 1.0
            bins = np.minimum(np.floor(t * n_time_bins / span), n_time_bins - 1).astype(np.int64)
        n_bins = int(n_time_bins)
    else:
        if not time_window > 0:
            raise ValueError(f"`{owner}`: `time_window` must be positive, got {time_window!r}.")
        bins = np.floor(t / time_window).astype(np.int64)
        n_bins = int(bins.max()) + 1 if len(events) else 0
    frames = np.zeros((n_bins, n_pol, height, width), dtype)
    np.add.at(frames, (bins, p, y, x), 1)
    return frames


class SHD(NamedTuple):
    """Spiking Heidelberg Digits samples, as returned by [`spikax.datasets.load_shd`][].

    **Example:**

    ```python
    data = spikax.datasets.SHD(times=[np.array([0.1])], units=[np.array([3])], labels=np.array([0]), frames=None)
    ```
    """

    times: list  # per sample: float array of spike times in seconds
    units: list  # per sample: int array of input channels, 0..699
    labels: np.ndarray  # (N,) int64 class, 0..19
    frames: np.ndarray | None  # (N, T, 700) float32 spike counts per bin, or None without binning


def bin_spikes(times, units, *, n_time_bins: int, max_time: float, n_units: int = SHD_UNITS,
               dtype=np.float32) -> np.ndarray:
    r"""Count one sample's spikes into `n_time_bins` equal bins over $[0, t_{\max})$.

    A spike at time $t$ on unit $u$ adds 1 to frame $\lfloor t\,T/t_{\max}\rfloor$, column $u$;
    spikes at or after $t_{\max}$ are dropped.

    **Arguments:**

    - `times`: spike times (seconds for SHD); `units`: their channels.
    - `n_time_bins`: $T$; `max_time`: $t_{\max}$; `n_units`: number of channels.

    **Returns:**

    Counts of shape `(n_time_bins, n_units)`.

    **Example:**

    ```python
    spikax.datasets.bin_spikes(np.array([0.0, 0.5]), np.array([3, 3]), n_time_bins=4, max_time=1.0, n_units=5)
    ```
    """
    owner = "spikax.datasets.bin_spikes"
    if not max_time > 0 or n_time_bins < 1:
        raise ValueError(f"`{owner}`: need `max_time > 0` and `n_time_bins >= 1`, got {max_time!r} and "
                         f"{n_time_bins!r}.")
    times = np.asarray(times, np.float64)
    units = np.asarray(units, np.int64)
    if units.size and (units.min() < 0 or units.max() >= n_units):
        raise ValueError(f"`{owner}`: unit indices span [{units.min()}, {units.max()}] but `n_units` is {n_units}.")
    bins = np.floor(times * n_time_bins / max_time).astype(np.int64)
    keep = (bins >= 0) & (bins < n_time_bins)
    frames = np.zeros((n_time_bins, n_units), dtype)
    np.add.at(frames, (bins[keep], units[keep]), 1)
    return frames


def load_shd(path: str | os.PathLike, *, n_time_bins: int | None = None, max_time: float = 1.4,
             limit: int | None = None) -> SHD:
    r"""Read a Spiking Heidelberg Digits `.h5` file (Cramer et al. 2022, *IEEE TNNLS* 33:2744).

    The file holds `spikes/times` and `spikes/units` (one variable-length array per sample:
    spike times in seconds and cochlea channels 0..699) and `labels` (0..19). Needs `h5py`
    (`pip install "spikax[data]"`). With `n_time_bins`, each sample is also binned with
    [`spikax.datasets.bin_spikes`][] into `(n_time_bins, 700)` counts over $[0, t_{\max})$.

    **Arguments:**

    - `path`: e.g. `shd_train.h5`.
    - `n_time_bins`: if given, also return frames.
    - `max_time`: end of the binned window in seconds (SHD samples last at most about 1.4 s).
    - `limit`: read only the first `limit` samples.

    **Returns:**

    A [`spikax.datasets.SHD`][] tuple `(times, units, labels, frames)`.

    **Example:**

    ```python
    import h5py  # a two-sample file in the SHD layout (the real shd_test.h5 holds 2264 samples)
    with h5py.File("tiny_shd.h5", "w") as f:
        ragged = h5py.vlen_dtype(np.float32), h5py.vlen_dtype(np.uint16)
        f.create_dataset("spikes/times", data=[np.array([0.1, 0.5], np.float32), np.array([0.2], np.float32)],
                         dtype=ragged[0])
        f.create_dataset("spikes/units", data=[np.array([3, 699], np.uint16), np.array([7], np.uint16)],
                         dtype=ragged[1])
        f.create_dataset("labels", data=np.array([4, 19], np.uint8))
    data = spikax.datasets.load_shd("tiny_shd.h5", n_time_bins=100)
    data.frames.shape  # (2, 100, 700)
    ```
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`spikax.datasets.load_shd`: {path} not found. SHD files are published by "
                                "Cramer et al. at https://zenkelab.org/datasets/ (shd_train.h5.gz, shd_test.h5.gz; "
                                "unzip them first).")
    try:
        import h5py
    except ImportError as e:
        raise ImportError('`spikax.datasets.load_shd` needs h5py: pip install "spikax[data]"') from e
    with h5py.File(path, "r") as f:
        for name in ("spikes/times", "spikes/units", "labels"):
            if name not in f:
                raise ValueError(f"`spikax.datasets.load_shd`: {path} has no `{name}` data set; it is not an "
                                 "SHD/SSC file.")
        n = len(f["labels"]) if limit is None else min(int(limit), len(f["labels"]))
        times = [np.asarray(a, np.float64) for a in f["spikes/times"][:n]]
        units = [np.asarray(a, np.int64) for a in f["spikes/units"][:n]]
        labels = np.asarray(f["labels"][:n], np.int64)
    frames = None
    if n_time_bins is not None:
        frames = np.stack([bin_spikes(t, u, n_time_bins=n_time_bins, max_time=max_time)
                           for t, u in zip(times, units)]) if n else np.zeros((0, n_time_bins, SHD_UNITS),
                                                                               np.float32)
    return SHD(times, units, labels, frames)
