"""Encoders and losses: same numbers (and loss gradients) in spikax and spikax_torch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, size=(4, 6))


@pytest.mark.parametrize("kwargs", [{}, {"kind": "log", "threshold": 0.2}, {"kind": "log", "tau": 3.0}], ids=str)
def test_latency(kwargs):
    j = spikax.encoding.latency(jnp.asarray(X), 12, **kwargs)
    t = spikax_torch.encoding.latency(torch.tensor(X), 12, **kwargs)
    np.testing.assert_array_equal(t.numpy(), np.asarray(j))


def test_delta_and_population():
    signal = np.cumsum(RNG.normal(0, 0.1, size=(30, 3)), axis=0)
    for off in (True, False):
        np.testing.assert_array_equal(spikax_torch.encoding.delta(torch.tensor(signal), 0.1, off_spikes=off).numpy(),
                                      np.asarray(spikax.encoding.delta(jnp.asarray(signal), 0.1, off_spikes=off)))
    np.testing.assert_allclose(spikax_torch.encoding.population(torch.tensor(X), 7, sigma=0.2).numpy(),
                               np.asarray(spikax.encoding.population(jnp.asarray(X), 7, sigma=0.2)), rtol=1e-14)


def test_random_encoders_have_the_right_rates():
    """Random streams differ between JAX and torch: compare the spike probabilities instead."""
    x = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    spikes = spikax_torch.encoding.rate(x, 4000, key=0, max_prob=0.5)
    np.testing.assert_allclose(spikes.mean(0).numpy(), 0.5 * x.numpy(), atol=0.03)
    again = spikax_torch.encoding.rate(x, 4000, key=torch.Generator().manual_seed(0), max_prob=0.5)
    assert torch.equal(spikes, again)  # a seed and a generator with that seed agree
    pop = spikax_torch.encoding.population(x, 4, n_steps=3000, key=1)
    np.testing.assert_allclose(pop.mean(0).numpy(), spikax_torch.encoding.population(x, 4).numpy(), atol=0.04)
    with pytest.raises(ValueError, match="inputs must lie in \\[0, 1\\]"):
        spikax_torch.encoding.rate(x + 1, 5, key=0)
    with pytest.raises(TypeError, match="torch.Generator or an int seed"):
        spikax_torch.encoding.rate(x, 5, key=jax.random.key(0))


LOSSES = [
    ("spike_count_cross_entropy", lambda L, s, lab: L.spike_count_cross_entropy(s, lab)),
    ("max_membrane_cross_entropy", lambda L, s, lab: L.max_membrane_cross_entropy(s, lab)),
    ("mean_membrane_cross_entropy", lambda L, s, lab: L.mean_membrane_cross_entropy(s, lab)),
    ("probabilities", lambda L, s, lab: L.spike_count_cross_entropy(s, s[0] * 0 + 0.25)),
    ("rate_mse", lambda L, s, lab: L.rate_mse(s, 0.3)),
    ("firing_rate_penalty", lambda L, s, lab: L.firing_rate_penalty(s, 0.2, tolerance=0.05)),
    ("firing_rate_penalty_population", lambda L, s, lab: L.firing_rate_penalty(s, 0.2, per_neuron=False)),
    ("sparsity_penalty", lambda L, s, lab: L.sparsity_penalty(s, reduce="sum")),
    ("van_rossum_distance", lambda L, s, lab: L.van_rossum_distance(s, s * s * 0.5, tau=3.0)),
    ("van_rossum_squared", lambda L, s, lab: L.van_rossum_distance(s, s * 0.5, tau=3.0, dt=0.5, squared=True)),
]


@pytest.mark.parametrize("fn", [f for _, f in LOSSES], ids=[n for n, _ in LOSSES])
def test_losses_and_their_gradients(fn):
    s = RNG.uniform(0, 1, size=(10, 5, 4))
    label = np.array([0, 3, 1, 2, 3])
    j_value, j_grad = jax.value_and_grad(lambda s: fn(spikax.losses, s, jnp.asarray(label)))(jnp.asarray(s))
    t_s = torch.tensor(s, requires_grad=True)
    t_value = fn(spikax_torch.losses, t_s, torch.tensor(label))
    t_value.backward()
    np.testing.assert_allclose(float(t_value.detach()), float(j_value), rtol=1e-12)
    np.testing.assert_allclose(t_s.grad.numpy(), np.asarray(j_grad), rtol=1e-10, atol=1e-14)


def test_accuracy():
    scores = RNG.normal(size=(8, 3))
    labels = RNG.integers(0, 3, size=8)
    assert float(spikax_torch.losses.accuracy(torch.tensor(scores), torch.tensor(labels))) == pytest.approx(
        float(spikax.losses.accuracy(jnp.asarray(scores), jnp.asarray(labels))))
    with pytest.raises(ValueError, match="reduce it first"):
        spikax_torch.losses.accuracy(torch.zeros(5, 8, 3), torch.zeros(8))


def test_convert_says_which_direction_it_copies():
    """`from_spikax(torch_model)` said only "cannot convert a LIF" (issue 10)."""
    with pytest.raises(TypeError, match=r"from_spikax`: got a torch model \(spikax_torch\.neurons.*LIF\).*use "
                                        r"`spikax_torch.convert.to_spikax`"):
        spikax_torch.convert.from_spikax(spikax_torch.neurons.LIF())
    with pytest.raises(TypeError, match="got a torch model .*to_spikax"):
        spikax_torch.convert.from_spikax(torch.nn.Linear(2, 3))
    with pytest.raises(TypeError, match=r"to_spikax`: got a JAX/equinox model .*LIF.*use "
                                        r"`spikax_torch.convert.from_spikax`"):
        spikax_torch.convert.to_spikax(spikax.neurons.LIF())
