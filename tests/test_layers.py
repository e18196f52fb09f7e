"""Layers: sequence == step loop for every kind, closed forms for delays, pooling, dropout, BNTT."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_tree_allclose, type_name
from layer_cases import CASES, cheap_key, cheap_keys, make, sequence, step_loop

import spikax
from spikax import layers as L
from spikax.neurons import ALL_NEURONS


@pytest.fixture
def getkey():
    """Cheap keys: eager random draws with them compile much faster than with threefry."""
    return cheap_keys()


@pytest.mark.parametrize("name", sorted(CASES))
def test_sequence_equals_step_loop(name):
    model, state, xs = make(name)
    expected = step_loop(model, state, xs)
    got = sequence(model, state, xs)
    assert_tree_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert float(jnp.sum(expected[1] != 0)) > 0, "the case should be active"


@pytest.mark.parametrize("neuron", ALL_NEURONS, ids=type_name)
def test_any_neuron_in_feedforward_and_recurrent_conv_layers(neuron):
    k1, k2, k3 = jax.random.split(cheap_key(1), 3)
    scale = type(neuron).input_scale
    layers = [
        L.Layer(eqx.nn.Linear(3, 4, key=k1), neuron),
        L.Recurrent(eqx.nn.Conv2d(2, 3, 3, padding=1, key=k2), eqx.nn.Conv2d(3, 3, 3, padding=1, key=k3), neuron),
    ]
    for layer, shape in zip(layers, [(3,), (2, 4, 4)]):
        xs = jnp.asarray(scale * (1.0 + np.random.default_rng(0).standard_normal((5,) + shape)))
        state = layer.init_state(shape)
        got = sequence(layer, state, xs)
        assert_tree_allclose(got, step_loop(layer, state, xs), rtol=1e-10, atol=1e-12)
        assert got[1].shape == (5,) + layer.output_shape(shape)


def test_float32_layers_keep_dtype():
    model, _, xs = make("delayed_linear_learnable")
    model = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32) if eqx.is_inexact_array(a) else a, model)
    state = model.init_state((3,), jnp.float32)
    _, ys = eqx.filter_jit(spikax.run)(model, state, xs.astype(jnp.float32))
    assert ys.dtype == jnp.float32


# -- delays -----------------------------------------------------------------------------------


def test_fixed_delay_shifts_each_channel():
    delay = L.Delay(3, delays=jnp.array([0, 1, 3]))
    xs = jnp.arange(1.0, 19.0).reshape(6, 3)
    _, ys = spikax.run(delay, delay.init_state((3,)), xs)
    expected = np.zeros((6, 3))
    for i, d in enumerate([0, 1, 3]):
        expected[d:, i] = np.asarray(xs)[: 6 - d, i]
    np.testing.assert_array_equal(ys, expected)


def test_delay_state_carries_over_between_calls():
    model, state, xs = make("delayed_linear_fixed", steps=9)
    whole = sequence(model, state, xs)
    state1, ys1 = sequence(model, state, xs[:4])
    state2, ys2 = sequence(model, state1, xs[4:])
    assert_tree_allclose((state2, jnp.concatenate([ys1, ys2])), whole, rtol=1e-12, atol=1e-12)


def test_learnable_delay_interpolates_and_equals_fixed_at_integers():
    xs = jnp.arange(1.0, 11.0)[:, None] ** 2
    fixed = L.Delay(3, delays=jnp.array([2]))
    learned = L.Delay(3, delays=jnp.array([2.0]), learnable=True)
    half = L.Delay(3, delays=jnp.array([1.5]), learnable=True)
    run = eqx.filter_jit(lambda m: spikax.run(m, m.init_state((1,)), xs)[1])
    np.testing.assert_allclose(run(learned), run(fixed), rtol=1e-12)
    shifted = lambda d: jnp.concatenate([jnp.zeros((d, 1)), xs[: 10 - d]])  # noqa: E731
    np.testing.assert_allclose(run(half), 0.5 * shifted(1) + 0.5 * shifted(2), rtol=1e-12)


def test_learnable_delay_gradient_matches_finite_difference():
    xs = jnp.sin(jnp.arange(12.0))[:, None]

    def out(d):
        delay = L.Delay(4, delays=jnp.array([d]), learnable=True, sigma=0.8)
        return jnp.sum(spikax.run(delay, delay.init_state((1,)), xs)[1] * jnp.arange(12.0)[:, None])

    d, eps = 1.7, 1e-6
    value, grad, fwd = jax.jit(lambda d: (out(d + eps) - out(d - eps), jax.grad(out)(d), jax.jacfwd(out)(d)))(d)
    np.testing.assert_allclose(grad, value / (2 * eps), rtol=1e-6)
    np.testing.assert_allclose(fwd, grad, rtol=1e-12)


def test_delayed_linear_matches_explicit_sum(getkey):
    k1, k2 = jax.random.split(getkey())
    delays = jax.random.randint(k1, (4, 3), 0, 4)
    syn = L.DelayedLinear(3, 4, 3, delays=delays, key=k2)
    xs = jax.random.normal(k1, (7, 3))
    _, ys = spikax.run(syn, syn.init_state((3,)), xs)
    w, b, d, x = map(np.asarray, (syn.weight, syn.bias, delays, xs))
    expected = np.tile(b, (7, 1))
    for t in range(7):
        for o in range(4):
            for i in range(3):
                if t - d[o, i] >= 0:
                    expected[t, o] += w[o, i] * x[t - d[o, i], i]
    np.testing.assert_allclose(ys, expected, rtol=1e-12, atol=1e-12)


def test_fixed_delays_are_not_trainable_and_learnable_ones_are(getkey):
    fixed = L.DelayedLinear(3, 4, 3, key=getkey())
    learned = L.DelayedLinear(3, 4, 3, learnable=True, key=getkey())
    assert not spikax.trainable(fixed).delays
    assert spikax.trainable(learned).delays


def test_delay_errors():
    with pytest.raises(ValueError, match=r"spikax.layers.Delay.*max_delay=2"):
        L.Delay(2, delays=jnp.array([3]))
    with pytest.raises(ValueError, match=r"spikax.layers.Delay.*whole numbers"):
        L.Delay(2, delays=jnp.array([1.5]))
    with pytest.raises(ValueError, match=r"spikax.layers.Delay.*do not broadcast"):
        L.Delay(2, delays=jnp.array([1, 2])).init_state((3,))
    with pytest.raises(ValueError, match=r"spikax.layers.DelayedLinear.*per synapse"):
        L.DelayedLinear(3, 4, 2, delays=jnp.array([1, 2]), key=cheap_key(0))
    with pytest.raises(ValueError, match=r"spikax.layers.DelayedLinear.*expects one sample of shape \(3,\)"):
        L.DelayedLinear(3, 4, 2, key=cheap_key(0)).init_state((5, 3))


# -- dropout, pooling, flatten ---------------------------------------------------------------


def test_dropout_mask_is_constant_over_time_and_scaled(getkey):
    drop = L.Dropout(0.25)
    state = drop.init_state((2000,), key=getkey())
    _, ys = spikax.run(drop, state, jnp.ones((5, 2000)))
    np.testing.assert_array_equal(ys, jnp.broadcast_to(ys[0], ys.shape))
    assert set(np.unique(np.asarray(ys))) <= {0.0, 1 / 0.75}
    assert abs(float(jnp.mean(ys[0] == 0)) - 0.25) < 0.04
    again = drop.init_state((2000,), key=getkey())
    assert not np.array_equal(again.mask, state.mask)  # a new key, a new mask


def test_dropout_inference_is_identity_and_training_needs_a_key(getkey):
    net = spikax.Chain([L.dense(3, 4, spikax.neurons.LIF(), key=getkey()), L.Dropout(0.5)])
    with pytest.raises(ValueError, match=r"spikax.layers.Dropout.*needs a key"):
        net.init_state((3,))
    plain = spikax.Chain([net.layers[0]])
    evaluation = eqx.nn.inference_mode(net)
    xs = 3.0 * jax.random.normal(getkey(), (6, 3))
    _, ys = spikax.run(evaluation, evaluation.init_state((3,)), xs)
    np.testing.assert_array_equal(ys, spikax.run(plain, plain.init_state((3,)), xs)[1])
    with pytest.raises(ValueError, match=r"`p` must lie in \[0, 1\)"):
        L.Dropout(1.0)


def test_pooling_closed_forms():
    x = jnp.array([[[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]]])  # (1, 2, 4)
    assert L.Pool("sum", 2)(None, x)[1].tolist() == [[[1.0, 3.0]]]
    assert L.Pool("avg", 2)(None, x)[1].tolist() == [[[0.25, 0.75]]]
    assert L.Pool("max", 2)(None, x)[1].tolist() == [[[1.0, 1.0]]]
    assert L.Pool("sum", 2, num_spatial_dims=1)(None, x[0])[1].tolist() == [[1.0, 2.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="unknown pooling kind 'mean'"):
        L.Pool("mean", 2)


def test_flatten_and_shapes():
    net = spikax.Chain([L.Pool("max", 2), L.Flatten()])
    assert net.output_shape((3, 4, 6)) == (18,)
    _, ys = spikax.run(net, net.init_state((3, 4, 6)), jnp.ones((2, 3, 4, 6)))
    assert ys.shape == (2, 18)


# -- BNTT --------------------------------------------------------------------------------------


def _bntt_net(key, steps=4):
    return spikax.Chain([eqx.nn.Linear(3, 5, key=key), L.BNTT(steps, 5)])


def test_bntt_normalises_per_time_step_and_matches_step_loop(getkey):
    net = _bntt_net(getkey())
    xs = jax.random.normal(getkey(), (6, 32, 3)) * jnp.arange(1.0, 7.0)[:, None, None]
    state = net.init_state((3,))
    final, ys = eqx.filter_jit(spikax.run)(net, state, xs, batch_axis=1)
    np.testing.assert_allclose(jnp.mean(ys, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(jnp.var(ys, axis=1), 1.0, atol=1e-3)  # eps = 1e-5
    loop = jax.jit(jax.vmap(lambda s, x: step_loop(net, s, x), in_axes=(None, 1), out_axes=(0, 1), axis_name="batch"))
    assert_tree_allclose((final, ys), loop(state, xs), rtol=1e-10, atol=1e-12)
    # Steps 4 and 5 reuse the last slot; its running mean saw three updates.
    assert int(final[1].step[0]) == 6


def test_bntt_inference_uses_stored_statistics(getkey):
    net = _bntt_net(getkey(), steps=3)
    xs = 2.0 + jax.random.normal(getkey(), (3, 64, 3))
    trained, _ = eqx.filter_jit(spikax.run)(net, net.init_state((3,)), xs, batch_axis=1)
    bntt = net.layers[1].with_statistics(trained[1])
    np.testing.assert_allclose(bntt.running_mean[0], 0.1 * jnp.mean(jax.vmap(net.layers[0].fn)(xs[0]), axis=0))
    evaluation = eqx.nn.inference_mode(eqx.tree_at(lambda n: n.layers[1], net, bntt))
    state = evaluation.init_state((3,))
    _, one = eqx.filter_jit(spikax.run)(evaluation, state, xs[:, 0])  # no batch needed
    x0 = jax.vmap(net.layers[0].fn)(xs[:, 0])
    expected = (x0 - bntt.running_mean) / jnp.sqrt(bntt.running_var + 1e-5)
    np.testing.assert_allclose(one, expected, rtol=1e-10)


def test_bntt_without_batch_is_a_clear_error(getkey):
    net = _bntt_net(getkey())
    with pytest.raises(ValueError, match=r"spikax.layers.BNTT.*batch_axis=1"):
        spikax.run(net, net.init_state((3,)), jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"spikax.layers.BNTT.*5 channels"):
        L.BNTT(4, 5).init_state((3,))


# -- errors ------------------------------------------------------------------------------------


def test_wrong_input_shape_to_first_layer_is_a_clear_error(getkey):
    layer = L.dense(3, 4, spikax.neurons.LIF(), key=getkey())
    with pytest.raises(ValueError, match=r"spikax.layers.Layer.*Linear cannot take an input of shape \(5,\)"):
        layer.init_state((5,))
    with pytest.raises(ValueError, match=r"spikax.layers.Layer.*cannot take an input of shape \(5,\)"):
        layer(layer.init_state((3,)), jnp.ones(5))


def test_layer_rejects_non_neuron(getkey):
    with pytest.raises(TypeError, match=r"spikax.layers.Layer.*must be a spikax neuron"):
        L.Layer(eqx.nn.Linear(3, 4, key=getkey()), jnp.tanh)


@pytest.mark.parametrize("name", sorted(CASES))
def test_step_is_call_with_signals(name):
    """`layer(state, x)` is `layer.step(state, x)` without the signals, for every kind of layer and network."""
    model, state, xs = make(name)
    new_state, y, signals = model.step(state, xs[0])
    expected_state, expected_y = model(state, xs[0])
    assert_tree_allclose((new_state, y), (expected_state, expected_y), rtol=0, atol=0)
    leaves = signals if isinstance(signals, tuple) and not isinstance(signals, L.LayerSignals) else (signals,)
    if isinstance(signals, dict):
        leaves = tuple(signals.values())
    assert all(isinstance(s, L.LayerSignals) for s in leaves)


def test_layer_signals_report_input_recurrent_input_current_and_output(getkey):
    """The signals are the layer's own equation: I = W x + b + R s_prev, y = neuron(state, I)."""
    rnn = L.recurrent_dense(3, 4, spikax.neurons.LIF(beta=0.7), key=getkey())
    state = rnn.init_state((3,))
    state = state._replace(spikes=jnp.array([1.0, 0.0, 1.0, 1.0]))
    x = jnp.array([0.3, -1.2, 2.0])
    new_state, y, signals = rnn.step(state, x)
    current = rnn.connection.weight @ x + rnn.connection.bias + rnn.recurrent.weight @ state.spikes
    _, expected_y = rnn.neuron(state.neuron, current)
    np.testing.assert_allclose(signals.current, current, rtol=1e-12)
    np.testing.assert_array_equal(signals.input, x)
    np.testing.assert_array_equal(signals.recurrent_input, state.spikes)
    np.testing.assert_array_equal(signals.output, expected_y)
    np.testing.assert_array_equal(new_state.spikes, y)
    net = spikax.Chain([rnn, L.Flatten(), L.dense(4, 2, spikax.neurons.LI(), key=getkey())])
    _, y, chain_signals = net.step(net.init_state((3,)), x)
    assert len(chain_signals) == 3
    assert chain_signals[1].current is None and chain_signals[1].recurrent_input is None
    np.testing.assert_array_equal(chain_signals[2].output, y)
    np.testing.assert_array_equal(chain_signals[2].input, chain_signals[1].output)
