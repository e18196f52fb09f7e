"""RTRL in O(n_s·P) memory: no P x P tangent basis, still exactly BPTT, and a clear error when J will not fit."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import spikax
from spikax import online

# Every online learner needs a few buffers of J's size while a step runs (J_{t-1}, the pulled-back
# rows [M_t; r_t], J_t); a P x P basis would be P / n_s times more (6x to 40x here).
MAX_MULTIPLE = 6


def mse(y, target):
    return jnp.sum((y - target) ** 2)


def flat(tree):
    return ravel_pytree(tree)[0]


def recurrent_net(key, hidden, n_in=8, neuron=None):
    """Recurrent LIF -> LI (the network of the issue's memory figures), learnable leaks."""
    k1, k2 = jax.random.split(key)
    neuron = spikax.neurons.LIF(beta=0.8, learnable=("beta", "threshold")) if neuron is None else neuron
    hidden_layer = spikax.layers.recurrent_dense(n_in, hidden, neuron, key=k1)
    hidden_layer = eqx.tree_at(lambda r: r.connection.weight, hidden_layer, 4.0 * hidden_layer.connection.weight)
    return spikax.Chain([hidden_layer, spikax.layers.dense(hidden, 2, spikax.neurons.LI(beta=0.7, learnable="beta"),
                                                           key=k2)])


def problem(key, hidden, steps=20, neuron=None):
    k1, k2, k3 = jax.random.split(key, 3)
    net = recurrent_net(k1, hidden, neuron=neuron)
    params, _ = eqx.partition(net, spikax.trainable(net))
    xs = (jax.random.uniform(k2, (steps, 8)) < 0.4).astype(jnp.float64) * 2.0
    targets = jax.random.normal(k3, (steps, 2))
    return net, params, net.init_state((8,)), xs, targets


def temp_bytes(fn, *args):
    return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


@pytest.mark.parametrize("hidden", [16, 32])
def test_rtrl_temporary_memory_is_a_small_multiple_of_the_influence_matrix(hidden, getkey):
    net, params, state0, xs, targets = problem(getkey(), hidden)
    n_s, n_p = flat(state0).size, flat(params).size
    influence_bytes = n_s * n_p * flat(params).dtype.itemsize
    assert n_p > 5 * n_s  # a P x P basis would not fit in the bound below
    learners = (online.rtrl(net, mse), online.snap(net, mse, 1)) if hidden == 16 else (online.rtrl(net, mse),)
    for est in learners:
        used = temp_bytes(lambda p, x, t, est=est: online.run(est, p, state0, x, t), params, xs, targets)
        assert used < MAX_MULTIPLE * influence_bytes, (type(est).__name__, used, influence_bytes)
        assert used < n_p * n_p * 8  # far below one P x P matrix


@pytest.mark.parametrize("neuron", [spikax.neurons.ALIF(alpha=0.8, rho=0.9, beta_a=0.3,
                                                        learnable=("alpha", "beta_a", "threshold"))], ids=["alif"])
def test_rtrl_equals_bptt_to_1e12(neuron, getkey):
    """Attached resets, learnable leaks and thresholds, recurrence; a batch of 2 (per-example influence)."""
    net, params, state0, _, _ = problem(getkey(), 12, neuron=neuron)
    k1, k2 = jax.random.split(getkey())
    xs = (jax.random.uniform(k1, (20, 2, 8)) < 0.4).astype(jnp.float64) * 2.0
    targets = jax.random.normal(k2, (20, 2, 2))
    loss_ref, grad_ref = online.bptt(net, mse, state0, xs, targets, batch_axis=1)
    loss, grad = online.run(online.rtrl(net, mse), params, state0, xs, targets, batch_axis=1)
    _, spikes = spikax.run(net.layers[0], state0[0], xs[:, 0])
    assert 0 < float(jnp.mean(spikes)) < 1  # the hidden layer fires, so resets and surrogates matter
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-13)
    g, r = flat(grad), flat(grad_ref)
    assert float(jnp.linalg.norm(r)) > 0
    assert float(jnp.linalg.norm(g - r) / jnp.linalg.norm(r)) < 1e-12
    np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12 * float(jnp.max(jnp.abs(r))))


def test_an_influence_matrix_that_does_not_fit_raises_before_allocating(getkey):
    net, params, state0, xs, targets = problem(getkey(), 16)
    n_s, n_p = flat(state0).size, flat(params).size
    needed = n_s * n_p * 8
    with pytest.raises(ValueError, match=rf"{n_s} state entries x {n_p} parameters x 8 bytes") as info:
        online.run(online.rtrl(net, mse, max_bytes=needed - 1), params, state0, xs, targets)
    message = str(info.value)
    assert "spikax.online.rtrl" in message and "max_bytes" in message and "eprop" in message
    with pytest.raises(ValueError, match="spikax.online.snap"):
        online.run(online.snap(net, mse, 1, max_bytes=1000), params, state0, xs, targets)
    # exactly at the cap, and without a cap, it runs
    for cap in (needed, None):
        loss, _ = online.run(online.rtrl(net, mse, max_bytes=cap), params, state0, xs, targets)
        assert np.isfinite(float(loss))
    # the default cap is 1 GiB: a 1000 -> 1000 layer (10^3 states x 10^6 parameters, 8 GB) is refused at once
    wide = spikax.layers.dense(1000, 1000, spikax.neurons.LIF(), key=getkey())
    wide_params, _ = eqx.partition(wide, spikax.trainable(wide))
    with pytest.raises(ValueError, match="MiB per example"):
        online.rtrl(wide, mse).init(wide_params, wide.init_state((1000,)))
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="max_bytes"):
            online.rtrl(net, mse, max_bytes=bad)


@pytest.mark.parametrize("n", [1, 2])
def test_sparse_snap_equals_rtrl_with_its_dense_mask(n, getkey):
    """SnAp keeps only its pattern's entries (SnApState) and gives RTRL's gradient under the same mask."""
    net, params, state0, xs, targets = problem(getkey(), 6)
    est = online.snap(net, mse, n)
    lstate = eqx.filter_jit(est.init)(params, state0)
    assert isinstance(lstate, online.SnApState)
    mask = lstate.mask
    n_s, n_p = flat(state0).size, flat(params).size
    assert mask.shape == (n_s, n_p)
    kept = lstate.values.size + lstate.wide_values.size
    assert kept >= int(mask.sum())
    if n == 1:  # SnAp-1 is sparse: a weight reaches its own neuron's rows (and the readout's)
        assert kept < n_s * n_p // 3
    _, grad_sparse = online.run(est, params, state0, xs, targets)
    _, grad_dense = online.run(online.rtrl(net, mse, mask=mask), params, state0, xs, targets)
    _, grad_exact = online.run(online.rtrl(net, mse), params, state0, xs, targets)
    np.testing.assert_allclose(flat(grad_sparse), flat(grad_dense), rtol=1e-12,
                               atol=1e-13 * float(jnp.max(jnp.abs(flat(grad_dense)))))
    if n == 1:
        assert float(jnp.linalg.norm(flat(grad_sparse) - flat(grad_exact))) > 1e-8  # an approximation

    # the dense view of the carried state is the masked influence matrix of dense masked RTRL
    def influence(est):
        def body(carry, inputs):
            state, ls = carry
            state, ls, _, _, _ = est.step(params, ls, state, *inputs)
            return (state, ls), None
        (_, ls), _ = jax.lax.scan(body, (state0, est.init(params, state0)), (xs, targets))
        return ls.influence

    if n == 1:
        np.testing.assert_allclose(eqx.filter_jit(influence)(est),
                                   eqx.filter_jit(influence)(online.rtrl(net, mse, mask=mask)), rtol=1e-12, atol=1e-14)
