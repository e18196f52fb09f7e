"""The layer factories' spiking-aware initialisation: a fresh network on unit-scale input fires.

Before it, `dense` used equinox's U(+-1/sqrt(n)) weights: a LIF layer (beta = 0.9) on Gaussian or
rate-coded input stayed silent, and the quickstarts showed a network that never spiked.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spikax

N_IN, N_OUT, T = 64, 128, 200


def unit_scale_inputs():
    rng = np.random.default_rng(0)
    return {
        "gaussian": rng.normal(size=(T, N_IN)),
        "rate-coded pixels in [0, 1]": (rng.random((T, N_IN)) < rng.random(N_IN)).astype(np.float64),
        "constant ones": np.ones((T, N_IN)),
    }


def run_layer(layer, xs):
    return spikax.run(layer, layer.init_state((N_IN,)), jnp.asarray(xs))[1]


@pytest.mark.parametrize("name", list(unit_scale_inputs()))
def test_fresh_dense_lif_layer_fires_on_unit_scale_input(name):
    xs = unit_scale_inputs()[name]
    layer = spikax.layers.dense(N_IN, N_OUT, spikax.neurons.LIF(beta=0.9), key=jax.random.key(0))
    spikes = np.asarray(run_layer(layer, xs))
    active = (spikes.sum(0) > 0).mean()
    assert 0.005 < spikes.mean() < 0.5, spikes.mean()  # some activity, not saturated
    assert active > 0.2, active  # a good part of the layer takes part
    # equinox's default scale, for contrast: the same layer is (nearly) silent on this input
    plain = spikax.layers.Layer(eqx.nn.Linear(N_IN, N_OUT, key=jax.random.key(0)), spikax.neurons.LIF(beta=0.9))
    assert np.asarray(run_layer(plain, xs)).mean() < spikes.mean() / 3


def test_fresh_recurrent_network_fires_and_has_gradients():
    k1, k2 = jax.random.split(jax.random.key(1))
    net = spikax.Chain([spikax.layers.recurrent_dense(N_IN, 32, spikax.neurons.LIF(beta=0.9), key=k1),
                        spikax.layers.dense(32, 2, spikax.neurons.LI(beta=0.9), key=k2)])
    xs = jnp.asarray(unit_scale_inputs()["rate-coded pixels in [0, 1]"][:50])
    _, hidden = spikax.run(net.layers[0], net.layers[0].init_state((N_IN,)), xs)
    assert float(hidden.mean()) > 0.01

    def loss(net):
        return jnp.mean(spikax.run(net, net.init_state((N_IN,)), xs)[1] ** 2)

    grads = eqx.filter_grad(loss)(net)
    assert float(jnp.linalg.norm(grads.layers[0].connection.weight)) > 1e-3


@pytest.mark.parametrize("factory", ["dense", "recurrent_dense"])
def test_weight_law(factory):
    layer = getattr(spikax.layers, factory)(400, 300, spikax.neurons.LIF(), key=jax.random.key(2), gain=2.0)
    ff = layer.connection
    w = np.asarray(ff.weight)
    # std of 120000 Gaussian draws: relative standard error 0.2 %
    np.testing.assert_allclose(w.std(), 2.0 / np.sqrt(400), rtol=0.02)
    assert abs(w.mean()) < 5 * w.std() / np.sqrt(w.size)
    np.testing.assert_array_equal(np.asarray(ff.bias), 0.0)
    if factory == "recurrent_dense":
        np.testing.assert_allclose(np.asarray(layer.recurrent.weight).std(), 1.0 / np.sqrt(300), rtol=0.02)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
@pytest.mark.parametrize("factory", ["dense", "recurrent_dense"])
def test_bad_sizes_are_rejected(factory, bad):
    with pytest.raises(ValueError, match=rf"`spikax.layers.{factory}`: `in_features` must be a positive int, "
                                         rf"got {bad!r}"):
        getattr(spikax.layers, factory)(bad, 10, spikax.neurons.LIF(), key=jax.random.key(0))
    with pytest.raises(ValueError, match=rf"`out_features` must be a positive int, got {bad!r}"):
        getattr(spikax.layers, factory)(10, bad, spikax.neurons.LIF(), key=jax.random.key(0))
    with pytest.raises(ValueError, match="weight gain must be a positive number"):
        getattr(spikax.layers, factory)(10, 10, spikax.neurons.LIF(), key=jax.random.key(0), gain=0.0)


def test_empty_chain_is_rejected():
    with pytest.raises(ValueError, match=r"`spikax.Chain`: got an empty list of layers, expected at least one"):
        spikax.Chain([])


def test_empty_torch_chain_is_rejected():
    pytest.importorskip("torch")
    import spikax_torch

    with pytest.raises(ValueError, match=r"`spikax_torch.Chain`: got an empty list of layers, expected at least one"):
        spikax_torch.Chain([])


@pytest.mark.parametrize("factory", ["dense", "recurrent_dense"])
def test_torch_mirror_uses_the_same_law(factory):
    torch = pytest.importorskip("torch")
    import spikax_torch

    layer = getattr(spikax_torch.layers, factory)(400, 300, spikax_torch.neurons.LIF(), key=0, gain=2.0)
    ff = layer.connection
    w = ff.weight.detach().numpy()
    np.testing.assert_allclose(w.std(), 2.0 / np.sqrt(400), rtol=0.02)
    assert torch.count_nonzero(ff.bias) == 0
    if factory == "recurrent_dense":
        np.testing.assert_allclose(layer.recurrent.weight.detach().numpy().std(), 1.0 / np.sqrt(300), rtol=0.02)
    with pytest.raises(ValueError, match=rf"`spikax_torch.layers.{factory}`: `in_features` must be a positive int"):
        getattr(spikax_torch.layers, factory)(0, 10, spikax_torch.neurons.LIF())
    # the default gain matches
    import inspect

    for name in ("gain", "recurrent_gain"):
        jax_default = inspect.signature(getattr(spikax.layers, factory)).parameters.get(name)
        torch_default = inspect.signature(getattr(spikax_torch.layers, factory)).parameters.get(name)
        assert (jax_default and jax_default.default) == (torch_default and torch_default.default)
