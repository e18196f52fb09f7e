"""Tests for spikax.datasets: file readers on the shared data, generators, batching.

Tests that need a data file skip (with the reason) when it is absent from $SPIKAX_DATA.
"""

import gzip
import pathlib
import shutil
import urllib.error

import jax
import numpy as np
import pytest

from spikax import datasets
from spikax.datasets import _files


def need(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        pytest.skip(f"reason: file {path.name} not found under SPIKAX_DATA ({path.parent})")
    return path


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty cache, no SPIKAX_DATA, and a network that always fails."""
    monkeypatch.setenv("SPIKAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPIKAX_DATA", raising=False)
    calls = []

    def no_network(url, dest, timeout=60.0):
        calls.append(url)
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(_files, "_download", no_network)
    return calls


# --- paths --------------------------------------------------------------------------------------


def test_data_dir_and_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKAX_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("SPIKAX_CACHE", str(tmp_path / "cache"))
    assert datasets.data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert datasets.data_dir() == tmp_path / "env"
    monkeypatch.delenv("SPIKAX_DATA")
    assert datasets.data_dir() == tmp_path / "cache" == datasets.cache_dir()
    monkeypatch.delenv("SPIKAX_CACHE")
    assert datasets.cache_dir() == pathlib.Path.home() / ".cache" / "spikax"


# --- MNIST --------------------------------------------------------------------------------------


def test_mnist_checksums_match_md5sums_file(data_path):
    sums = need(data_path / "mnist" / "MD5SUMS").read_text().split()
    listed = dict(zip(sums[1::2], sums[0::2]))
    from spikax.datasets._mnist import MNIST_FILES

    ours = {name: md5 for split in MNIST_FILES.values() for name, md5 in split}
    assert ours == listed


def test_mnist_views(data_path, monkeypatch):
    need(data_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    monkeypatch.setenv("SPIKAX_DATA", str(data_path))
    x, y = datasets.load_mnist("test", limit=20, download=False)
    assert x.shape == (20, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(y[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])  # the well-known first test labels
    pixel, _ = datasets.load_mnist("test", view="pixel", limit=20, download=False)
    row, _ = datasets.load_mnist("test", view="row", limit=20, download=False)
    flat, _ = datasets.load_mnist("test", view="flat", limit=20, download=False, dtype=np.float64)
    assert pixel.shape == (20, 784, 1) and flat.dtype == np.float64
    np.testing.assert_array_equal(pixel[:, :, 0], x.reshape(20, 784))
    np.testing.assert_array_equal(row, x)
    # limit reads a prefix: the first 5 of 20 are the first 5
    x5, y5 = datasets.load_mnist("test", limit=5, root=data_path / "mnist", download=False)
    np.testing.assert_array_equal(x5, x[:5])


def test_mnist_spike_views(data_path):
    need(data_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    x, _ = datasets.load_mnist("test", root=data_path, limit=3, download=False)
    lat, _ = datasets.load_mnist("test", view="latency", root=data_path, limit=3, n_steps=20, download=False)
    assert lat.shape == (3, 20, 28, 28)
    np.testing.assert_array_equal(lat.sum(1), x > 0.01)  # one spike per pixel above the threshold
    key = jax.random.key(1)
    r1, _ = datasets.load_mnist("test", view="rate", root=data_path, limit=3, n_steps=20, key=key, download=False)
    r2, _ = datasets.load_mnist("test", view="rate", root=data_path, limit=3, n_steps=20, key=key, download=False)
    np.testing.assert_array_equal(r1, r2)
    assert r1[0][:, x[0] == 0].sum() == 0 and r1[0][:, x[0] == 1].min() == 1  # p = x per step
    with pytest.raises(TypeError, match="needs `key="):
        datasets.load_mnist("test", view="rate", root=data_path, limit=3)


def test_mnist_checksum_mismatch(data_path, tmp_path):
    need(data_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_path / "mnist" / name, tmp_path / name)
    with open(tmp_path / "t10k-labels-idx1-ubyte.gz", "ab") as f:
        f.write(b"junk")
    with pytest.raises(OSError, match="wrong MD5 checksum"):
        datasets.load_mnist("test", root=tmp_path, limit=2, download=False)


def test_mnist_offline_error(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match="could not be downloaded.*offline"):
        datasets.load_mnist("test", root=tmp_path / "empty")
    assert len(offline) == 2  # every mirror was tried once
    with pytest.raises(FileNotFoundError, match="downloads are disabled"):
        datasets.load_mnist("test", root=tmp_path / "empty", download=False)


def test_mnist_download_verifies_checksum(data_path, tmp_path, monkeypatch):
    """Two local `file://` mirrors: the first serves corrupt files, the second the real ones."""
    need(data_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    from spikax.datasets import _mnist

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz"):
        (corrupt / name).write_bytes(b"not the file")
    monkeypatch.setattr(_mnist, "MNIST_MIRRORS", (corrupt.as_uri(), (data_path / "mnist").as_uri()))
    monkeypatch.setenv("SPIKAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPIKAX_DATA", raising=False)
    x, y = datasets.load_mnist("test", limit=4)
    assert x.shape == (4, 28, 28)
    cached = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    monkeypatch.setattr(_mnist, "MNIST_MIRRORS", ())  # now read from the cache, no mirror needed
    np.testing.assert_array_equal(datasets.load_mnist("test", limit=4)[0], x)
    monkeypatch.setattr(_mnist, "MNIST_MIRRORS", (corrupt.as_uri(),))
    with pytest.raises(FileNotFoundError, match="wrong MD5 checksum"):
        datasets.load_mnist("train", limit=4)
    assert not list(cached.glob("train-*"))  # a corrupt download is not left behind


def test_read_idx_errors(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="is not an IDX file"):
        datasets.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(5))
    with pytest.raises(ValueError, match="is truncated"):
        datasets.read_idx(short)
    ok = tmp_path / "ok"
    ok.write_bytes(bytes([0, 0, 8, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6)))
    np.testing.assert_array_equal(datasets.read_idx(ok), np.arange(6).reshape(2, 3))


# --- digits, Braille ----------------------------------------------------------------------------


def test_digits(data_path):
    need(data_path / "digits" / "digits.csv.gz")
    x, y = datasets.load_digits(root=data_path, download=False)
    assert x.shape == (1797, 8, 8) and x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    flat, _ = datasets.load_digits(root=data_path / "digits", flatten=True, download=False)
    np.testing.assert_array_equal(flat, x.reshape(1797, 64))
    assert np.all(x * 16 == np.round(x * 16))  # the raw values are integers 0..16


def test_braille(data_path):
    path = need(data_path / "braille" / "braille_taxel.npz")
    data = datasets.load_braille(root=data_path)
    with np.load(path, allow_pickle=False) as raw:
        offsets, taxels = raw["offsets"], raw["taxel_data"]
    assert data.x.shape == (1350, np.diff(offsets).max(), 12)
    np.testing.assert_array_equal(data.lengths, np.diff(offsets))
    i = 7
    np.testing.assert_array_equal(data.x[i, :data.lengths[i]], taxels[offsets[i]:offsets[i + 1]])
    assert np.all(data.x[i, data.lengths[i]:] == 0)
    assert len(data.letters) == 27 and data.letters[1] == "A"
    np.testing.assert_array_equal(np.bincount(data.labels), np.full(27, 50))
    cut = datasets.load_braille(root=data_path, max_length=40)
    assert cut.x.shape == (1350, 40, 12) and cut.lengths.max() == 40


def test_missing_file_without_mirror(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match="no download mirror is known"):
        datasets.load_braille(root=tmp_path)


# --- events -------------------------------------------------------------------------------------


def _encode_nmnist(x, y, p, t):
    """The 5-byte N-MNIST record layout, written independently of the reader."""
    t = np.asarray(t)
    rec = np.stack([x, y, (np.asarray(p) << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], axis=1)
    return rec.astype(np.uint8).tobytes()


def test_read_nmnist_sample(data_path):
    path = need(data_path / "nmnist" / "sample_nmnist.bin")
    assert datasets.md5sum(path) == "a31ca78398ea46063dc394a5a2ba0acd"
    ev = datasets.read_nmnist(path)
    assert len(ev) == 4325 and ev.dtype.names == ("x", "y", "t", "p")
    assert ev["x"].min() >= 0 and ev["x"].max() <= 33 and ev["y"].min() >= 0 and ev["y"].max() <= 33
    assert set(np.unique(ev["p"])) == {0, 1}
    assert np.all(np.diff(ev["t"]) >= 0) and 0 <= ev["t"][0] < ev["t"][-1] < 400_000  # a ~300 ms saccade sequence
    frames = datasets.events_to_frames(ev, datasets.NMNIST_SENSOR_SIZE, n_time_bins=3)
    assert frames.shape == (3, 2, 34, 34) and frames.sum() == 4325
    np.testing.assert_array_equal(frames.sum(axis=(0, 2, 3)), np.bincount(ev["p"]))


def test_read_nmnist_round_trip_and_overflow(tmp_path):
    body = _encode_nmnist([1, 2, 0, 3], [4, 5, 240, 6], [1, 0, 0, 1], [100, 8_000_000, 0, 7])
    path = tmp_path / "x.bin"
    path.write_bytes(body)
    ev = datasets.read_nmnist(path)
    np.testing.assert_array_equal(ev["x"], [1, 2, 3])
    np.testing.assert_array_equal(ev["y"], [4, 5, 6])
    np.testing.assert_array_equal(ev["p"], [1, 0, 1])
    np.testing.assert_array_equal(ev["t"], [100, 8_000_000, 7 + 2**13])  # overflow record dropped and applied
    path.write_bytes(body[:-2])
    with pytest.raises(ValueError, match="not a multiple of 5"):
        datasets.read_nmnist(path)


def _events(x, y, t, p):
    ev = np.zeros(len(x), datasets.EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev


def test_events_to_frames_by_hand():
    ev = _events([0, 1, 1, 2], [0, 0, 1, 1], [10, 15, 19, 40], [1, 0, 1, 1])
    frames = datasets.events_to_frames(ev, (3, 2, 2), n_time_bins=2)  # span 31 us: bins [10, 25.5), [25.5, 41)
    want = np.zeros((2, 2, 2, 3))
    want[0, 1, 0, 0] = want[0, 0, 0, 1] = want[0, 1, 1, 1] = want[1, 1, 1, 2] = 1
    np.testing.assert_array_equal(frames, want)
    windows = datasets.events_to_frames(ev, (3, 2, 2), time_window=10)  # t - t0 = 0, 5, 9, 30
    assert windows.shape == (4, 2, 2, 3)
    np.testing.assert_array_equal(windows.sum(axis=(1, 2, 3)), [3, 0, 0, 1])
    as_float = np.zeros(4, [("x", int), ("y", int), ("t", float), ("p", int)])
    for name in "xyp":
        as_float[name] = ev[name]
    as_float["t"] = [1.0, 1.5, 1.9, 4.0]  # seconds; span 3 s: bins [1, 2.5), [2.5, 4]
    np.testing.assert_array_equal(datasets.events_to_frames(as_float, (3, 2, 2), n_time_bins=2), want)
    one_pol = datasets.events_to_frames(ev, (3, 2, 1), n_time_bins=1)
    assert one_pol.shape == (1, 1, 2, 3) and one_pol.sum() == 4


def test_events_to_frames_errors():
    ev = _events([0, 5], [0, 0], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="exactly one of `n_time_bins` and `time_window`"):
        datasets.events_to_frames(ev, (6, 1, 2))
    with pytest.raises(ValueError, match="but the sensor is 3 x 1"):
        datasets.events_to_frames(ev, (3, 1, 2), n_time_bins=2)
    with pytest.raises(TypeError, match="fields x, y, t, p"):
        datasets.events_to_frames(np.zeros(3), (3, 1, 2), n_time_bins=2)


def _write_shd(path, samples, labels):
    h5py = pytest.importorskip("h5py", reason="h5py is needed to write an SHD file")
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, np.float32)
            units[i] = np.asarray(u, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint8))


def test_load_shd(tmp_path):
    samples = [([0.0, 0.1, 0.5, 1.5], [0, 699, 3, 3]), ([0.25], [10]), ([], [])]
    _write_shd(tmp_path / "shd.h5", samples, [5, 19, 0])
    data = datasets.load_shd(tmp_path / "shd.h5", n_time_bins=4, max_time=1.0)
    np.testing.assert_array_equal(data.labels, [5, 19, 0])
    np.testing.assert_allclose(data.times[0], [0.0, 0.1, 0.5, 1.5], rtol=1e-6)
    np.testing.assert_array_equal(data.units[0], [0, 699, 3, 3])
    assert data.frames.shape == (3, 4, 700) and data.frames.dtype == np.float32
    assert data.frames[0, 0, 0] == 1 and data.frames[0, 0, 699] == 1 and data.frames[0, 2, 3] == 1
    assert data.frames[0].sum() == 3  # the spike at 1.5 s is past max_time
    assert data.frames[1, 1, 10] == 1 and data.frames[2].sum() == 0
    raw = datasets.load_shd(tmp_path / "shd.h5", limit=2)
    assert raw.frames is None and len(raw.times) == 2


def test_load_shd_wrong_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(2))
    with pytest.raises(ValueError, match="has no `spikes/times` data set"):
        datasets.load_shd(tmp_path / "other.h5")


def test_bin_spikes():
    frames = datasets.bin_spikes(np.array([0.0, 0.26, 0.5, 0.99]), np.array([1, 1, 2, 0]), n_time_bins=4,
                                 max_time=1.0, n_units=3)
    want = np.zeros((4, 3))
    want[0, 1] = want[1, 1] = want[2, 2] = want[3, 0] = 1
    np.testing.assert_array_equal(frames, want)
    with pytest.raises(ValueError, match="unit indices span"):
        datasets.bin_spikes(np.array([0.0]), np.array([5]), n_time_bins=2, max_time=1.0, n_units=3)


# --- generators ---------------------------------------------------------------------------------


def test_randman_deterministic_one_spike_per_unit():
    s1, l1 = datasets.randman(n_classes=3, n_units=12, n_steps=30, samples_per_class=20, seed=4)
    s2, l2 = datasets.randman(n_classes=3, n_units=12, n_steps=30, samples_per_class=20, seed=4)
    s3, _ = datasets.randman(n_classes=3, n_units=12, n_steps=30, samples_per_class=20, seed=5)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(l1, l2)
    assert not np.array_equal(s1, s3)
    assert s1.shape == (60, 30, 12) and s1.dtype == np.float32
    np.testing.assert_array_equal(s1.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.bincount(l1), [20, 20, 20])
    k1, _ = datasets.randman(n_classes=2, n_units=5, samples_per_class=3, key=jax.random.key(7))
    k2, _ = datasets.randman(n_classes=2, n_units=5, samples_per_class=3, key=jax.random.key(7))
    np.testing.assert_array_equal(k1, k2)


def test_randman_classes_are_learnable():
    """Points of a class lie on a 2-D manifold: a 1-nearest-neighbour rule classifies held-out points."""
    x, y = datasets.randman(n_classes=5, n_units=30, samples_per_class=200, spiking=False, seed=0)
    assert x.min() >= 0 and x.max() <= 1
    train, test = slice(0, 800), slice(800, None)
    dist = ((x[test, None, :] - x[None, train, :]) ** 2).sum(-1)
    accuracy = (y[train][dist.argmin(1)] == y[test]).mean()
    assert accuracy > 0.9
    spikes, _ = datasets.randman(n_classes=5, n_units=30, samples_per_class=200, seed=0)
    np.testing.assert_array_equal(spikes.argmax(1), np.minimum(np.floor(x * 100), 99))


def test_generators_need_a_seed_or_key():
    with pytest.raises(TypeError, match="exactly one of `key=`"):
        datasets.randman()
    with pytest.raises(TypeError, match="exactly one of `key=`"):
        datasets.delayed_xor(2, seed=0, key=jax.random.key(0))


def test_cue_accumulation_labels_and_layout():
    # rate * dt = 1: active groups fire every step, so the cues can be read back exactly
    kw = dict(n_cues=5, cue_steps=4, cue_period=6, delay_steps=10, recall_steps=5, channels_per_group=3,
              rate=1000.0, noise_rate=0.0, seed=1)
    spikes, labels = datasets.cue_accumulation(20, **kw)
    assert spikes.shape == (20, 5 * 6 + 10 + 5, 12)
    left, right = spikes[:, :, 0:3].sum((1, 2)), spikes[:, :, 3:6].sum((1, 2))
    assert np.all(left + right == 5 * 4 * 3)
    np.testing.assert_array_equal(labels, (right > left).astype(int))
    assert 0 < labels.sum() < 20
    recall = spikes[:, :, 6:9]
    assert recall[:, -5:].min() == 1 and recall[:, :-5].max() == 0
    default, _ = datasets.cue_accumulation(1, seed=0)
    assert default.shape == (1, 2250, 40)
    with pytest.raises(ValueError, match="`n_cues` must be odd"):
        datasets.cue_accumulation(2, n_cues=4, seed=0)
    with pytest.raises(ValueError, match="spike probability"):
        datasets.cue_accumulation(2, rate=2000.0, seed=0)


def test_cue_accumulation_poisson_rates():
    spikes, _ = datasets.cue_accumulation(4, seed=2)
    noise = spikes[:, :, 30:].mean()
    assert abs(noise - 0.010) < 0.002  # 10 Hz at 1 ms: 4 * 2250 * 10 draws, std ~ 0.0003


def test_delayed_xor():
    spikes, labels = datasets.delayed_xor(32, cue_steps=3, gap_steps=2, delay_steps=4, recall_steps=2,
                                          channels_per_group=2, rate=1000.0, seed=0)
    assert spikes.shape == (32, 14, 6)
    a = spikes[:, 0, 2:4].max(1)  # value "1" group active in the first cue
    b = spikes[:, 5, 2:4].max(1)
    np.testing.assert_array_equal(labels, np.logical_xor(a, b))
    assert spikes[:, -2:, 4:].min() == 1 and spikes[:, :-2, 4:].max() == 0
    assert set(labels) == {0, 1}


def test_store_recall():
    spikes, labels = datasets.store_recall(32, n_windows=4, window_steps=3, channels_per_group=2, rate=1000.0,
                                           seed=0)
    assert spikes.shape == (32, 12, 8)
    store_window = spikes[:, ::3, 4].argmax(1)
    shown = spikes[np.arange(32), store_window * 3, 2]  # value "1" group in the store window
    np.testing.assert_array_equal(labels, shown)
    assert spikes[:, -3:, 6:].min() == 1 and spikes[:, -3:, :4].max() == 0
    assert set(labels) == {0, 1}


# --- batches ------------------------------------------------------------------------------------


def test_batches_cover_every_sample_once():
    x = np.arange(10 * 3).reshape(10, 3)
    y = np.arange(10)
    got = list(datasets.batches(x, y, batch_size=4, shuffle=True, seed=3, to_device=False))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in got])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, y)
    for xb, yb in got:
        np.testing.assert_array_equal(xb, x[yb])  # rows stay paired
    again = list(datasets.batches(x, y, batch_size=4, shuffle=True, seed=3, to_device=False))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in again]), seen)
    dropped = list(datasets.batches(y, batch_size=4, drop_last=True, to_device=False))
    assert len(dropped) == 2 and isinstance(dropped[0], np.ndarray)
    np.testing.assert_array_equal(np.concatenate(dropped), np.arange(8))


def test_batches_device_prefetch_and_time_major():
    x = np.random.default_rng(0).random((9, 5, 2)).astype(np.float32)
    y = np.arange(9)
    for prefetch in (0, 2, 10):
        out = list(datasets.batches(x, y, batch_size=4, time_major=True, prefetch=prefetch))
        assert len(out) == 3 and isinstance(out[0][0], jax.Array)
        assert out[0][0].shape == (5, 4, 2) and out[2][0].shape == (5, 1, 2) and out[0][1].shape == (4,)
        np.testing.assert_array_equal(np.concatenate([np.asarray(b[0]) for b in out], axis=1),
                                      x.transpose(1, 0, 2))
    keyed = [np.asarray(b) for b in datasets.batches(y, batch_size=3, shuffle=True, key=jax.random.key(0))]
    assert sorted(np.concatenate(keyed)) == list(range(9))


def test_batches_errors():
    with pytest.raises(ValueError, match="same length along axis 0"):
        next(datasets.batches(np.zeros(3), np.zeros(4), batch_size=2))
    with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
        datasets.batches(np.zeros(3), batch_size=0)
    with pytest.raises(TypeError, match="exactly one of `key=`"):
        datasets.batches(np.zeros(3), batch_size=2, shuffle=True)
    with pytest.raises(ValueError, match="only matter with `shuffle=True`"):
        datasets.batches(np.zeros(3), batch_size=2, seed=1)


def test_public_names_are_documented_with_examples():
    for name in datasets.__all__ if hasattr(datasets, "__all__") else dir(datasets):
        obj = getattr(datasets, name)
        if name.startswith("_") or not callable(obj):
            continue
        assert "**Example:**" in (obj.__doc__ or ""), name
    with pytest.raises(FileNotFoundError, match="zenkelab.org"):
        datasets.load_shd("/nonexistent/shd_test.h5")


# --- subsets and splits -------------------------------------------------------------------------


def test_take_is_class_balanced_nested_and_keeps_the_order():
    y = np.repeat(np.arange(27), 40)  # sorted by class, like the Braille training set
    x = np.arange(len(y)) * 10.0
    xs, ys = datasets.take(x, y, 100)
    counts = np.bincount(ys, minlength=27)
    assert len(ys) == 100 and counts.min() == 3 and counts.max() == 4  # y[:100] holds 3 of 27 classes
    assert np.all(np.diff(xs) > 0)  # original order
    np.testing.assert_array_equal(y[(xs / 10).astype(int)], ys)
    bigger, _ = datasets.take(x, y, 300)
    assert set(xs) <= set(bigger)  # a larger n gives a superset
    # a class that runs out leaves its share to the others
    xs, ys = datasets.take(np.arange(7), np.array([0, 1, 1, 1, 1, 1, 1]), 4)
    np.testing.assert_array_equal(ys, [0, 1, 1, 1])
    np.testing.assert_array_equal(datasets.take(np.arange(5), np.arange(5.0), 3)[0], [0, 1, 2])  # not classes
    with pytest.raises(ValueError, match="`n` must be a positive int, got 0"):
        datasets.take(x, y, 0)


def test_split_is_stratified_disjoint_and_seeded():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    x = np.arange(100.0)
    (xr, yr), (xh, yh) = datasets.split(x, y, 0.1, seed=3)
    np.testing.assert_array_equal(np.bincount(yh), [5, 3, 2])
    assert sorted(np.concatenate([xr, xh]).tolist()) == x.tolist() and not set(xr) & set(xh)
    (_, _), (xh2, _) = datasets.split(x, y, 0.1, seed=3)
    (_, _), (xh3, _) = datasets.split(x, y, 0.1, seed=4)
    np.testing.assert_array_equal(xh, xh2)
    assert not np.array_equal(xh, xh3)
    with pytest.raises(ValueError, match=r"`fraction` must be a number in \(0, 1\), got 1.5"):
        datasets.split(x, y, 1.5)


@pytest.mark.parametrize("content", [b"not a zip file at all", b"PK\x03\x04truncated"], ids=["junk", "truncated"])
def test_a_corrupt_braille_file_is_named_with_what_to_do(tmp_path, content):
    (tmp_path / "braille_taxel.npz").write_bytes(content)
    with pytest.raises(OSError, match=r"cannot read .*braille_taxel.npz: it is not a valid .npz file.*damaged or "
                                      r"truncated.*copy it again"):
        datasets.load_braille(root=tmp_path)


def test_a_braille_file_without_its_arrays_says_which_are_missing(tmp_path):
    np.savez(tmp_path / "braille_taxel.npz", taxel_data=np.zeros((3, 12), np.uint8), offsets=np.array([0, 3]))
    with pytest.raises(OSError, match=r"lacks the arrays \['labels', 'letters', 'repetition'\]"):
        datasets.load_braille(root=tmp_path)
