"""Tests for spikax.losses against closed forms and optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from spikax import losses


# Test data come from NumPy: cheaper than compiling JAX's PRNG for every shape.
RNG = np.random.default_rng(0)


def _spikes(shape, p=0.3, dtype=np.float64):
    return jnp.asarray((RNG.random(shape) < p).astype(dtype))


def test_spike_count_cross_entropy_matches_optax():
    spikes = _spikes((20, 5))
    got = losses.spike_count_cross_entropy(spikes, 3)
    want = optax.softmax_cross_entropy_with_integer_labels(spikes.sum(0), jnp.array(3))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # one-hot targets give the same value as the integer label
    np.testing.assert_allclose(losses.spike_count_cross_entropy(spikes, jax.nn.one_hot(3, 5, dtype=jnp.float64)),
                               got, rtol=1e-12)


def test_cross_entropies_batch_time_major_equals_vmap():
    v = jnp.asarray(RNG.normal(size=(15, 4, 3)))  # (T, B, C)
    labels = jnp.array([0, 2, 1, 1])
    for loss, reduce in [(losses.spike_count_cross_entropy, jnp.sum),
                         (losses.max_membrane_cross_entropy, jnp.max),
                         (losses.mean_membrane_cross_entropy, jnp.mean)]:
        batched = loss(v, labels)
        per_sample = jax.jit(jax.vmap(loss, in_axes=(1, 0)))(v, labels)
        np.testing.assert_allclose(batched, per_sample.mean(), rtol=1e-12)
        want = optax.softmax_cross_entropy_with_integer_labels(reduce(v, axis=0), labels).mean()
        np.testing.assert_allclose(batched, want, rtol=1e-12)


def test_max_membrane_gradient_only_at_the_maximum():
    v = jnp.asarray(RNG.normal(size=(10, 3)))
    g = jax.jit(jax.grad(losses.max_membrane_cross_entropy))(v, 1)
    nonzero_rows = np.nonzero(np.asarray(g))[0]
    np.testing.assert_array_equal(np.sort(nonzero_rows), np.sort(np.argmax(np.asarray(v), axis=0)))
    # d loss / d max_c = softmax - onehot
    p = jax.nn.softmax(v.max(0))
    np.testing.assert_allclose(g.sum(0), p - jax.nn.one_hot(1, 3, dtype=p.dtype), rtol=1e-12)


def test_spike_count_gradient_and_float32():
    spikes = _spikes((8, 4), dtype=np.float32)
    loss, g = jax.jit(jax.value_and_grad(losses.spike_count_cross_entropy))(spikes, 0)
    assert loss.dtype == jnp.float32 and g.dtype == jnp.float32
    expected_row = jax.nn.softmax(spikes.sum(0)) - jax.nn.one_hot(0, 4, dtype=jnp.float32)
    np.testing.assert_allclose(g, jnp.broadcast_to(expected_row, (8, 4)), rtol=1e-6)


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match="time on axis 0 and classes on the last axis"):
        losses.spike_count_cross_entropy(jnp.ones(3), 0)
    with pytest.raises(ValueError, match="integer labels have shape"):
        losses.max_membrane_cross_entropy(jnp.ones((5, 2, 3)), jnp.array([0, 1, 2]))
    with pytest.raises(ValueError, match="target probabilities have shape"):
        losses.mean_membrane_cross_entropy(jnp.ones((5, 3)), jnp.ones(2))


def test_rate_mse_closed_form():
    spikes = jnp.zeros((10, 2)).at[::2, 0].set(1.0)
    assert losses.rate_mse(spikes, jnp.array([0.5, 0.5])) == 0.125
    assert losses.rate_mse(spikes, 0.0) == 0.125  # (0.25 + 0) / 2
    g = jax.jit(jax.grad(losses.rate_mse))(spikes, jnp.array([0.0, 0.0]))
    np.testing.assert_allclose(g[:, 0], 0.5 / 10)  # d/ds mean((r - 0)^2) = 2 r / (N T)
    with pytest.raises(ValueError, match="does not broadcast"):
        losses.rate_mse(spikes, jnp.zeros(3))


def _van_rossum_closed_form(t1, t2, tau):
    """Continuous van Rossum D^2 for two trains (times in the same units as tau)."""
    def k(a, b):
        return sum(np.exp(-abs(x - y) / tau) for x in a for y in b)
    return 0.5 * k(t1, t1) + 0.5 * k(t2, t2) - k(t1, t2)


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_van_rossum_single_pair(dt):
    n = int(400 / dt)
    a = jnp.zeros(n).at[int(10 / dt)].set(1.0)
    b = jnp.zeros(n).at[int(25 / dt)].set(1.0)
    tau = 10.0
    d = losses.van_rossum_distance(a, b, tau, dt=dt)
    np.testing.assert_allclose(d, np.sqrt(1 - np.exp(-15 / tau)), rtol=1e-9)
    np.testing.assert_allclose(losses.van_rossum_distance(a, jnp.zeros(n), tau, dt=dt, squared=True), 0.5,
                               rtol=1e-9)
    np.testing.assert_allclose(losses.van_rossum_distance(b, a, tau, dt=dt), d, rtol=1e-12)


def test_van_rossum_multi_spike_closed_form():
    s1 = _spikes((300, 3), p=0.03).at[250:].set(0.0)  # let kernels decay before the end
    s2 = _spikes((300, 3), p=0.03).at[250:].set(0.0)
    tau = 5.0
    want = sum(_van_rossum_closed_form(np.nonzero(np.asarray(s1[:, i]))[0], np.nonzero(np.asarray(s2[:, i]))[0], tau)
               for i in range(3))
    np.testing.assert_allclose(losses.van_rossum_distance(s1, s2, tau, squared=True), want, rtol=1e-9)


def test_van_rossum_gradients():
    s1 = _spikes((40,), p=0.2)
    s2 = _spikes((40,), p=0.2)
    f = lambda s: losses.van_rossum_distance(s, s2, 4.0, squared=True)  # noqa: E731
    np.testing.assert_allclose(jax.jit(jax.grad(f))(s1), jax.jit(jax.jacfwd(f))(s1), rtol=1e-10)
    g0 = jax.jit(jax.grad(lambda s: losses.van_rossum_distance(s, s, 4.0)))(s1)  # D = 0: defined gradient 0
    assert np.all(np.isfinite(g0)) and np.all(g0 == 0)
    with pytest.raises(ValueError, match="same shape"):
        losses.van_rossum_distance(s1, s2[:5], 4.0)
    with pytest.raises(ValueError, match="`tau` must be positive"):
        losses.van_rossum_distance(s1, s2, 0.0)


def test_firing_rate_penalty():
    spikes = jnp.zeros((100, 4)).at[::4].set(1.0)  # rate 0.25 everywhere
    assert losses.firing_rate_penalty(spikes, 0.25) == 0.0
    np.testing.assert_allclose(losses.firing_rate_penalty(spikes, 0.05), 0.04, rtol=1e-12)
    np.testing.assert_allclose(losses.firing_rate_penalty(spikes, 0.05, tolerance=0.1), 0.01, rtol=1e-12)
    mixed = jnp.zeros((100, 2)).at[:, 0].set(1.0)  # rates 1 and 0, mean 0.5
    assert losses.firing_rate_penalty(mixed, 0.5, per_neuron=False) == 0.0
    assert losses.firing_rate_penalty(mixed, 0.5) == 0.25
    g = jax.jit(jax.grad(losses.firing_rate_penalty), static_argnums=1)(spikes, 0.05)
    np.testing.assert_allclose(g, jnp.full((100, 4), 2 * 0.2 / (100 * 4)), rtol=1e-12)


def test_sparsity_penalty():
    s = jnp.array([[1.0, 0.0], [1.0, 1.0]])
    assert losses.sparsity_penalty(s, reduce="sum") == 3.0
    assert losses.sparsity_penalty(s) == 0.75
    np.testing.assert_allclose(jax.jit(jax.grad(losses.sparsity_penalty))(s), jnp.full((2, 2), 0.25))
    with pytest.raises(ValueError, match="unknown reduce 'max'"):
        losses.sparsity_penalty(s, reduce="max")


def test_accuracy():
    logits = jnp.array([[3.0, 1.0], [0.0, 2.0], [1.0, 1.0]])
    assert losses.accuracy(logits, jnp.array([0, 0, 0])) == pytest.approx(2 / 3)  # tie goes to class 0
    counts = jnp.array([[5, 1], [0, 2]])
    assert losses.accuracy(counts, jnp.array([0, 1])) == 1.0
    with pytest.raises(ValueError, match="reduce it first"):
        losses.accuracy(jnp.ones((10, 3, 2)), jnp.array([0, 1, 1]))


def test_public_names_are_documented_with_examples():
    import spikax.losses as package

    names = [n for n in dir(package) if not n.startswith("_") and callable(getattr(package, n))]
    assert names
    for name in names:
        doc = getattr(package, name).__doc__ or ""
        assert "**Example:**" in doc and "**Arguments:**" in doc, name
