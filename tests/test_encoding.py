"""Tests for spikax.encoding: determinism, expected rates, exact latencies, delta on ramps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spikax
from spikax import encoding


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_rate_shape_dtype_and_determinism(dtype):
    x = np.linspace(0, 1, 6).reshape(2, 3).astype(dtype)
    key = jax.random.key(0)
    a = encoding.rate(x, 50, key=key)
    b = encoding.rate(x, 50, key=key)
    c = encoding.rate(x, 50, key=jax.random.key(1))
    assert a.shape == (50, 2, 3) and a.dtype == dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(np.asarray(a))) <= {0.0, 1.0}


def test_rate_expected_rates():
    x = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    n = 4000
    spikes = np.asarray(encoding.rate(x, n, key=jax.random.key(2), max_prob=0.5))
    # 5 standard errors of a Bernoulli mean
    np.testing.assert_allclose(spikes.mean(0), 0.5 * x, atol=5 * np.sqrt(0.25 / n))
    assert spikes[:, 0].sum() == 0
    always = np.asarray(encoding.rate(x, n, key=jax.random.key(3)))  # max_prob = 1: x = 1 always fires
    assert always[:, -1].min() == 1.0


def test_rate_under_jit_and_vmap():
    x = jnp.full((4, 3), 0.5)
    keys = jax.random.split(jax.random.key(4), 4)
    f = jax.jit(jax.vmap(lambda xi, k: encoding.rate(xi, 10, key=k)))
    out = f(x, keys)
    assert out.shape == (4, 10, 3)
    np.testing.assert_array_equal(out[1], encoding.rate(x[1], 10, key=keys[1]))


def test_rate_errors():
    with pytest.raises(ValueError, match=r"`spikax.encoding.rate`: input values must lie in \[0, 1\]"):
        encoding.rate(jnp.array([0.5, 2.0]), 10, key=jax.random.key(0))
    with pytest.raises(TypeError, match="needs a PRNG key"):
        encoding.rate(jnp.array([0.5]), 10, key=None)
    with pytest.raises(ValueError, match="`n_steps` must be a positive int"):
        encoding.rate(jnp.array([0.5]), 0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`max_prob` must lie in"):
        encoding.rate(jnp.array([0.5]), 10, key=jax.random.key(0), max_prob=1.5)


def test_latency_linear_exact_times():
    x = np.random.default_rng(0).random(200)
    x[:3] = [1.0, 0.01, 0.0]  # the top, the threshold itself, zero
    n, threshold = 11, 0.01
    spikes = np.asarray(encoding.latency(x, n))
    assert spikes.shape == (n, x.size)
    fires = x > threshold  # at or below the threshold: no spike
    np.testing.assert_array_equal(spikes.sum(0), fires.astype(float))
    # t(x) = round((1 - x)(T - 1)), the documented closed form, evaluated independently in NumPy
    np.testing.assert_array_equal(np.argmax(spikes, axis=0)[fires], np.round((1 - x[fires]) * (n - 1)))


def test_latency_log_closed_form():
    x = np.array([1.0, 0.6, 0.3, 0.15, 0.1])
    tau, th, n = 10.0, 0.1, 100
    spikes = np.asarray(encoding.latency(x, n, kind="log", tau=tau, threshold=th))
    expected = np.round(tau * np.log(x[:4] / (x[:4] - th)))
    np.testing.assert_array_equal(np.argmax(spikes[:, :4], axis=0), expected)
    assert spikes[:, 4].sum() == 0  # x == threshold never reaches it
    assert np.all(np.diff(expected) >= 0)  # brighter fires earlier
    # times beyond the window are clipped to the last step
    late = np.asarray(encoding.latency(np.array([0.1001]), 20, kind="log", tau=10.0, threshold=0.1))
    assert late[-1, 0] == 1.0 and late.sum() == 1.0


def test_latency_errors():
    with pytest.raises(ValueError, match="unknown kind 'exp'"):
        encoding.latency(jnp.array([0.5]), 10, kind="exp")
    with pytest.raises(ValueError, match="`tau` must be positive"):
        encoding.latency(jnp.array([0.5]), 10, kind="log", tau=-1.0)


def test_delta_ramp_and_steps():
    ramp = 0.03 * np.arange(10.0)
    spikes = np.asarray(encoding.delta(ramp, threshold=0.1))
    assert spikes.shape == (10, 2)
    np.testing.assert_array_equal(np.nonzero(spikes[:, 0])[0], [4, 8])
    assert spikes[:, 1].sum() == 0
    down = encoding.delta(-ramp, threshold=0.1)
    np.testing.assert_array_equal(down[:, ::-1], spikes)  # a falling ramp gives the same OFF spikes
    step = np.array([0.0, 0.0, 0.5, 0.5, 0.0])
    on_only = encoding.delta(step, threshold=0.2, off_spikes=False)
    np.testing.assert_array_equal(on_only, [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(encoding.delta(step, threshold=0.2)[:, 1], [0, 0, 0, 0, 1])


def test_delta_multichannel_and_dtype():
    x = np.stack([0.03 * np.arange(10.0), np.zeros(10)], axis=1).astype(np.float32)
    spikes = encoding.delta(x, threshold=0.1)
    assert spikes.shape == (10, 2, 2) and spikes.dtype == jnp.float32
    spikes = np.asarray(spikes)
    assert spikes[:, :, 1].sum() == 0 and spikes[:, 0, 0].sum() == 2
    with pytest.raises(ValueError, match="`threshold` must be positive"):
        encoding.delta(x, threshold=0.0)
    with pytest.raises(ValueError, match="time on axis 0"):
        encoding.delta(jnp.array(1.0))


def test_population_rates_closed_form():
    x = np.array([0.0, 0.25, 1.0])
    rates = np.asarray(encoding.population(x, 5))  # centres 0, .25, .5, .75, 1; sigma .25
    assert rates.shape == (3, 5)
    np.testing.assert_array_equal(np.argmax(rates, axis=-1), [0, 1, 4])
    np.testing.assert_allclose(rates[1], np.exp(-((0.25 - np.linspace(0, 1, 5)) ** 2) / (2 * 0.25**2)), rtol=1e-12)
    spikes = np.asarray(encoding.population(x, 5, n_steps=3000, key=jax.random.key(0)))
    assert spikes.shape == (3000, 3, 5)
    np.testing.assert_allclose(spikes.mean(0), rates, atol=0.05)


def test_population_errors():
    with pytest.raises(ValueError, match="need `low < high`"):
        encoding.population(jnp.array([0.5]), 4, low=1.0, high=0.0)
    with pytest.raises(TypeError, match="needs a PRNG key"):
        encoding.population(jnp.array([0.5]), 4, n_steps=10)
    with pytest.raises(ValueError, match="`n_neurons` must be a positive int"):
        encoding.population(jnp.array([0.5]), 0)


def test_delta_send_on_delta_invariants():
    """Re-derived in NumPy from the spikes alone: between spikes the signal stays within the threshold
    of its value at the last spike; each spike marks a move beyond it, in the direction of its channel."""
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(0.0, 0.05, (300, 4)), axis=0)  # random walks
    threshold = 0.1
    spikes = np.asarray(encoding.delta(x, threshold=threshold))
    on, off = spikes[:, 0], spikes[:, 1]
    assert on.sum() > 10 and off.sum() > 10 and not np.any(on * off)
    for c in range(x.shape[1]):
        reference = x[0, c]
        for t in range(1, len(x)):
            moved = x[t, c] - reference
            assert on[t, c] == (moved > threshold) and off[t, c] == (-moved > threshold), (t, c)
            if on[t, c] or off[t, c]:
                reference = x[t, c]


def test_rate_coded_input_drives_a_fresh_network():
    """Rate-coded pixels in [0, 1] are unit-scale input: a freshly built dense LIF layer fires on them."""
    pixels = np.random.default_rng(2).random(64)
    spikes_in = encoding.rate(pixels, 100, key=jax.random.key(5))
    layer = spikax.layers.dense(64, 128, spikax.neurons.LIF(beta=0.9), key=jax.random.key(6))
    _, spikes_out = spikax.run(layer, layer.init_state((64,)), spikes_in)
    np.testing.assert_allclose(np.asarray(spikes_in).mean(0), pixels, atol=5 * 0.5 / np.sqrt(100))
    assert 0.005 < float(spikes_out.mean()) < 0.5


def test_traced_hyper_parameters_are_accepted():
    """Range checks skip traced values instead of failing on them."""
    f = jax.jit(lambda p, th: (encoding.rate(jnp.full(3, 0.5), 4, key=jax.random.key(0), max_prob=p),
                               encoding.latency(jnp.full(3, 0.5), 4, threshold=th)))
    rate, lat = f(1.0, 0.1)
    assert rate.shape == lat.shape == (4, 3)
