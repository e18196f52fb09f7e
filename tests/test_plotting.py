"""Tests for spikax.plotting: each plot renders to a PNG and draws the data it was given."""

import subprocess
import sys

import numpy as np
import pytest

from spikax import plotting


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is optional (pip install 'spikax[plot]')")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_import_spikax_does_not_import_matplotlib():
    code = "import sys, spikax; assert 'matplotlib' not in sys.modules, 'matplotlib was imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _save(ax, path):
    ax.figure.savefig(path)
    assert path.is_file() and path.stat().st_size > 2000  # a real image, not an empty file


def test_raster(tmp_path, plt):
    rng = np.random.default_rng(0)
    spikes = (rng.random((50, 2, 4)) < 0.1).astype(np.float32)
    ax = plotting.raster(spikes, dt=0.5)
    _save(ax, tmp_path / "raster.png")
    t, n = np.nonzero(spikes.reshape(50, 8))
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.stack([t * 0.5, n], axis=1))
    fig, given = plt.subplots()
    assert plotting.raster(spikes, ax=given) is given


def test_traces(tmp_path, plt):
    v = np.cumsum(np.full((30, 3), 0.05), axis=0)
    ax = plotting.traces(v, threshold=1.0)
    _save(ax, tmp_path / "traces.png")
    assert len(ax.lines) == 4  # 3 neurons + threshold
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), v[:, 1])
    np.testing.assert_array_equal(ax.lines[3].get_ydata(), [1.0, 1.0])
    ax2 = plotting.traces(v, neurons=[2], dt=2.0)
    assert len(ax2.lines) == 1
    np.testing.assert_array_equal(ax2.lines[0].get_xdata(), np.arange(30) * 2.0)


def test_rate_histogram(tmp_path, plt):
    spikes = np.zeros((100, 6))
    spikes[::10, :3] = 1  # three neurons at 100 Hz (dt = 1 ms), three silent
    ax = plotting.rate_histogram(spikes, dt=1e-3, bins=[0, 50, 150])
    _save(ax, tmp_path / "rates.png")
    np.testing.assert_array_equal([p.get_height() for p in ax.patches], [3, 3])


def test_training_curves(tmp_path, plt):
    history = {"loss": [1.0, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.4, 0.6, 0.7]}
    axes = plotting.training_curves(history)
    assert len(axes) == 2
    _save(axes[0], tmp_path / "curves.png")
    np.testing.assert_array_equal(axes[0].lines[0].get_ydata(), history["loss"])
    assert [line.get_label() for line in axes[1].lines] == ["accuracy", "val_accuracy"]
    fig, ax = plt.subplots()
    assert plotting.training_curves({"loss": [2.0, 1.0]}, ax=ax) == [ax]
    with pytest.raises(TypeError, match="expected a non-empty dict"):
        plotting.training_curves([1, 2])
    with pytest.raises(ValueError, match="must be a flat list"):
        plotting.training_curves({"loss": [[1.0, 2.0]]})


def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'`spikax.plotting.raster` needs matplotlib.*pip install "spikax\[plot\]"'):
        plotting.raster(np.zeros((3, 2)))


def test_public_names_are_documented_with_examples():
    import spikax.plotting as package

    names = [n for n in dir(package) if not n.startswith("_") and callable(getattr(package, n))]
    assert names
    for name in names:
        doc = getattr(package, name).__doc__ or ""
        assert "**Example:**" in doc and "**Arguments:**" in doc, name
