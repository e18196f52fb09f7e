"""Tests for spikax.losses against closed forms and optax.

Losses are called under `jax.jit` and references are computed in NumPy: one compilation per
test instead of one per eager operation keeps this file fast.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from spikax import losses

def _rng(seed):
    return np.random.default_rng(seed)  # a fresh generator per test: results do not depend on test order


def _spikes(shape, p=0.3, dtype=np.float64, seed=0):
    return (_rng(seed).random(shape) < p).astype(dtype)


def _np_cross_entropy(logits, labels):
    z = logits - logits.max(-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(log_p, np.asarray(labels)[..., None], -1)[..., 0]


def _one_hot(label, n, dtype=np.float64):
    return np.eye(n, dtype=dtype)[label]


def test_spike_count_cross_entropy_matches_optax():
    spikes = _spikes((20, 5))

    @jax.jit
    def both(spikes):
        got = losses.spike_count_cross_entropy(spikes, 3)
        want = optax.softmax_cross_entropy_with_integer_labels(spikes.sum(0), jnp.array(3))
        by_target = losses.spike_count_cross_entropy(spikes, jnp.asarray(_one_hot(3, 5)))
        return got, want, by_target

    got, want, by_target = both(spikes)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(by_target, got, rtol=1e-12)  # one-hot targets equal the integer label
    np.testing.assert_allclose(got, _np_cross_entropy(spikes.sum(0), 3), rtol=1e-12)


@pytest.mark.parametrize("loss, reduce", [(losses.spike_count_cross_entropy, np.sum),
                                          (losses.max_membrane_cross_entropy, np.max),
                                          (losses.mean_membrane_cross_entropy, np.mean)],
                         ids=["count", "max", "mean"])
def test_cross_entropies_batch_time_major_equals_vmap(loss, reduce):
    v = _rng(1).normal(size=(15, 4, 3))  # (T, B, C)
    labels = np.array([0, 2, 1, 1])

    @jax.jit
    def both(v, labels):
        return loss(v, labels), jax.vmap(loss, in_axes=(1, 0))(v, labels)

    batched, per_sample = both(v, labels)
    np.testing.assert_allclose(batched, per_sample.mean(), rtol=1e-12)
    np.testing.assert_allclose(batched, _np_cross_entropy(reduce(v, axis=0), labels).mean(), rtol=1e-12)


def test_max_membrane_gradient_only_at_the_maximum():
    v = _rng(2).normal(size=(10, 3))
    g = np.asarray(jax.jit(jax.grad(losses.max_membrane_cross_entropy))(v, 1))
    np.testing.assert_array_equal(np.sort(np.nonzero(g)[0]), np.sort(np.argmax(v, axis=0)))
    p = np.exp(v.max(0)) / np.exp(v.max(0)).sum()
    np.testing.assert_allclose(g.sum(0), p - _one_hot(1, 3), rtol=1e-12)  # d loss / d max = softmax - onehot


def test_spike_count_gradient_and_float32():
    spikes = _spikes((8, 4), dtype=np.float32)
    loss, g = jax.jit(jax.value_and_grad(losses.spike_count_cross_entropy))(spikes, 0)
    assert loss.dtype == jnp.float32 and g.dtype == jnp.float32
    counts = spikes.sum(0).astype(np.float64)
    row = np.exp(counts) / np.exp(counts).sum() - _one_hot(0, 4)
    np.testing.assert_allclose(g, np.broadcast_to(row, (8, 4)), rtol=1e-5)


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match="time on axis 0 and classes on the last axis"):
        losses.spike_count_cross_entropy(np.ones(3), 0)
    with pytest.raises(ValueError, match="integer labels have shape"):
        losses.max_membrane_cross_entropy(np.ones((5, 2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="target probabilities have shape"):
        losses.mean_membrane_cross_entropy(np.ones((5, 3)), np.ones(2))


def test_rate_mse_closed_form():
    spikes = np.zeros((10, 2))
    spikes[::2, 0] = 1.0  # rates [0.5, 0]

    @jax.jit
    def run(spikes):
        return (losses.rate_mse(spikes, jnp.array([0.5, 0.5])), losses.rate_mse(spikes, 0.0),
                jax.grad(losses.rate_mse)(spikes, 0.0))

    a, b, g = run(spikes)
    assert a == 0.125 and b == 0.125
    np.testing.assert_allclose(g[:, 0], 0.5 / 10)  # d/ds mean_i (r_i)^2 = 2 r / (N T)
    with pytest.raises(ValueError, match="does not broadcast"):
        losses.rate_mse(spikes, np.zeros(3))


def _van_rossum_closed_form(t1, t2, tau):
    """Continuous van Rossum D^2 for two trains (times in the same units as tau)."""
    def k(a, b):
        return sum(np.exp(-abs(x - y) / tau) for x in a for y in b)
    return 0.5 * k(t1, t1) + 0.5 * k(t2, t2) - k(t1, t2)


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_van_rossum_single_pair(dt):
    n = int(400 / dt)
    a, b = np.zeros(n), np.zeros(n)
    a[int(10 / dt)] = b[int(25 / dt)] = 1.0
    tau = 10.0

    @jax.jit
    def run(a, b):
        return (losses.van_rossum_distance(a, b, tau, dt=dt), losses.van_rossum_distance(b, a, tau, dt=dt),
                losses.van_rossum_distance(a, jnp.zeros_like(a), tau, dt=dt, squared=True))

    d, d_swapped, single = run(a, b)
    np.testing.assert_allclose(d, np.sqrt(1 - np.exp(-15 / tau)), rtol=1e-9)
    np.testing.assert_allclose(single, 0.5, rtol=1e-9)
    np.testing.assert_allclose(d_swapped, d, rtol=1e-12)


def test_van_rossum_multi_spike_closed_form():
    s1, s2 = _spikes((300, 3), p=0.03, seed=3), _spikes((300, 3), p=0.03, seed=4)
    s1[200:] = s2[200:] = 0  # let the kernels decay (by e^-20) before the end of the window
    tau = 5.0
    want = sum(_van_rossum_closed_form(np.nonzero(s1[:, i])[0], np.nonzero(s2[:, i])[0], tau) for i in range(3))
    got = jax.jit(lambda a, b: losses.van_rossum_distance(a, b, tau, squared=True))(s1, s2)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_van_rossum_gradients():
    s1, s2 = _spikes((40,), p=0.2, seed=5), _spikes((40,), p=0.2, seed=6)

    @jax.jit
    def run(s1, s2):
        f = lambda s: losses.van_rossum_distance(s, s2, 4.0, squared=True)  # noqa: E731
        at_zero = jax.grad(lambda s: losses.van_rossum_distance(s, s, 4.0))(s1)  # D = 0: gradient defined as 0
        return jax.grad(f)(s1), jax.jacfwd(f)(s1), at_zero

    reverse, forward, at_zero = run(s1, s2)
    np.testing.assert_allclose(reverse, forward, rtol=1e-10)
    assert np.any(reverse != 0) and np.all(at_zero == 0)
    with pytest.raises(ValueError, match="same shape"):
        losses.van_rossum_distance(s1, s2[:5], 4.0)
    with pytest.raises(ValueError, match="`tau` must be positive"):
        losses.van_rossum_distance(s1, s2, 0.0)


def test_firing_rate_penalty():
    spikes = np.zeros((100, 4))
    spikes[::4] = 1.0  # rate 0.25 everywhere
    mixed = np.zeros((100, 2))
    mixed[:, 0] = 1.0  # rates 1 and 0, mean 0.5

    @jax.jit
    def run(spikes, mixed):
        return (losses.firing_rate_penalty(spikes, 0.25), losses.firing_rate_penalty(spikes, 0.05),
                losses.firing_rate_penalty(spikes, 0.05, tolerance=0.1),
                losses.firing_rate_penalty(mixed, 0.5, per_neuron=False), losses.firing_rate_penalty(mixed, 0.5),
                jax.grad(losses.firing_rate_penalty)(spikes, 0.05))

    exact, off, tolerated, population, per_neuron, g = run(spikes, mixed)
    np.testing.assert_allclose([exact, population], 0.0, atol=1e-28)  # XLA's mean may round the last bit
    np.testing.assert_allclose([off, tolerated, per_neuron], [0.04, 0.01, 0.25], rtol=1e-12)
    np.testing.assert_allclose(g, np.full((100, 4), 2 * 0.2 / (100 * 4)), rtol=1e-12)


def test_sparsity_penalty():
    s = np.array([[1.0, 0.0], [1.0, 1.0]])
    total, mean, g = jax.jit(lambda s: (losses.sparsity_penalty(s, reduce="sum"), losses.sparsity_penalty(s),
                                        jax.grad(losses.sparsity_penalty)(s)))(s)
    assert total == 3.0 and mean == 0.75
    np.testing.assert_allclose(g, np.full((2, 2), 0.25))
    with pytest.raises(ValueError, match="unknown reduce 'max'"):
        losses.sparsity_penalty(s, reduce="max")


def test_accuracy():
    logits = np.array([[3.0, 1.0], [0.0, 2.0], [1.0, 1.0]])
    assert losses.accuracy(logits, np.array([0, 0, 0])) == pytest.approx(2 / 3)  # a tie goes to class 0
    assert losses.accuracy(np.array([[5, 1], [0, 2]]), np.array([0, 1])) == 1.0
    with pytest.raises(ValueError, match="reduce it first"):
        losses.accuracy(np.ones((10, 3, 2)), np.array([0, 1, 1]))


def test_public_names_are_documented_with_examples():
    names = [n for n in dir(losses) if not n.startswith("_") and callable(getattr(losses, n))]
    assert names
    for name in names:
        doc = getattr(losses, name).__doc__ or ""
        assert "**Example:**" in doc and "**Arguments:**" in doc, name


def test_accuracy_takes_int32_labels_under_strict_promotion():
    scores = jnp.array([[3.0, 1.0], [0.0, 2.0], [1.0, 0.0]])
    labels = jnp.array([0, 0, 0], dtype=jnp.int32)
    assert float(losses.accuracy(scores, labels)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("loss", [losses.spike_count_cross_entropy, losses.max_membrane_cross_entropy,
                                  losses.mean_membrane_cross_entropy], ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [2, -1])
def test_labels_outside_the_classes_are_refused(loss, bad):
    """A label >= n_classes gave NaN and -1 wrapped to the last class, both without a word (issue 10)."""
    v = jnp.ones((3, 4, 2))
    labels = jnp.array([0, 1, bad, 1])
    with pytest.raises(ValueError, match=rf"labels must be class indices in \[0, 2\) for 2 classes, got \[{bad}\]"):
        loss(v, labels)
    # under jit the labels are traced: the check runs with the computation
    with pytest.raises(Exception, match=r"a label lies outside \[0, 2\)"):
        jax.block_until_ready(jax.jit(loss)(v, labels))
    assert np.isfinite(jax.jit(loss)(v, jnp.array([0, 1, 1, 0])))  # valid labels pass under jit
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\)"):
        losses.accuracy(jnp.ones((4, 2)), labels)


def test_accuracy_says_when_labels_look_one_hot():
    """The old message said "labels have shape (64, 2) but the scores have shape (64, 2)" (issue 10)."""
    with pytest.raises(ValueError, match=r"they look like one-hot vectors.*shape \(64,\).*labels.argmax\(-1\)"):
        losses.accuracy(jnp.ones((64, 2)), jnp.ones((64, 2), jnp.int32))
    with pytest.raises(ValueError, match=r"got labels of shape \(3,\) for scores of shape \(10, 3, 2\); expected "
                                         r"labels of shape \(10, 3\)"):
        losses.accuracy(np.ones((10, 3, 2)), np.array([0, 1, 1]))
