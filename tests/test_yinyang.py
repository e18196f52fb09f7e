"""The Yin-Yang data set generator: geometry checked against the symbol's symmetry and areas."""

import numpy as np
import pytest

import spikax
from spikax.datasets._yinyang import _yin_yang_class


def test_shapes_balance_and_determinism():
    x, y = spikax.datasets.yin_yang(3000, seed=3)
    assert x.shape == (3000, 4) and x.dtype == np.float32 and y.shape == (3000,)
    counts = np.bincount(y, minlength=3)
    assert np.all(np.abs(counts / 3000 - 1 / 3) < 0.04)
    np.testing.assert_allclose(x[:, :2] + x[:, 2:], 1.0, atol=1e-6)  # mirrored coordinates
    assert np.all(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) <= 0.5 + 1e-6)  # inside the disc
    x2, y2 = spikax.datasets.yin_yang(3000, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(spikax.datasets.yin_yang(100, seed=4)[1], y[:100])
    # every label matches the region its point lies in
    np.testing.assert_array_equal(_yin_yang_class(x[:, 0].astype(float), x[:, 1].astype(float), 0.1, 0.5), y)


def test_symbol_is_point_symmetric_with_yin_and_yang_swapped():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (20000, 2))
    p = p[np.hypot(p[:, 0] - 0.5, p[:, 1] - 0.5) < 0.5]
    c = _yin_yang_class(p[:, 0], p[:, 1], 0.1, 0.5)
    rotated = _yin_yang_class(1 - p[:, 0], 1 - p[:, 1], 0.1, 0.5)
    swap = np.array([1, 0, 2])
    boundary = np.isclose(np.hypot(p[:, 0] - 0.25, p[:, 1] - 0.5), 0.25) | np.isclose(p[:, 1], 0.5)
    np.testing.assert_array_equal(rotated[~boundary], swap[c][~boundary])


def test_region_areas():
    # yin and yang each cover half the disc minus one dot: (pi R^2 - 2 pi r^2) / 2; the dots 2 pi r^2
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, (400000, 2))
    inside = np.hypot(p[:, 0] - 0.5, p[:, 1] - 0.5) <= 0.5
    c = _yin_yang_class(p[inside, 0], p[inside, 1], 0.1, 0.5)
    area = np.bincount(c, minlength=3) / p.shape[0]  # fraction of the unit square
    expected = np.array([(np.pi * 0.25 - 2 * np.pi * 0.01) / 2] * 2 + [2 * np.pi * 0.01])
    np.testing.assert_allclose(area, expected, atol=3e-3)
    assert _yin_yang_class(np.array([0.25, 0.75]), np.array([0.5, 0.5]), 0.1, 0.5).tolist() == [2, 2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="yin_yang"):
        spikax.datasets.yin_yang(-1)
    with pytest.raises(ValueError, match="r_small"):
        spikax.datasets.yin_yang(10, r_small=0.3)
