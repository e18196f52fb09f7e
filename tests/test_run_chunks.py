"""`spikax.run` with a batch goes through long sequences in chunks (BPTT's `chunk_bytes`): the same results."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import spikax

WHOLE = spikax.BPTT(chunk_bytes=None)
SMALL = spikax.BPTT(chunk_bytes=8000)  # small target: these small runs get cut into chunks of 10 steps


def _net(key):
    k1, k2 = jax.random.split(key)
    return spikax.Chain([
        spikax.layers.recurrent_dense(3, 6, spikax.neurons.LIF(beta=0.9), key=k1),
        spikax.layers.dense(6, 4, spikax.neurons.ALIF(), key=k2, gain=10.0),
    ])


def test_chunk_length_is_a_divisor_near_the_target():
    method = spikax.BPTT(chunk_bytes=1000)
    assert method.batch_chunk(500, 40) == 25  # target 25 steps, and 25 divides 500
    assert method.batch_chunk(97, 40) is None  # prime: no divisor in [13, 25], so whole
    assert method.batch_chunk(40, 40) is None  # no larger than twice the target: whole
    assert WHOLE.batch_chunk(10_000, 10_000) is None
    assert spikax.CheckpointedBPTT().batch_chunk(10_000, 10_000) is None


def test_chunk_bytes_is_checked():
    with pytest.raises(ValueError, match="chunk_bytes"):
        spikax.BPTT(chunk_bytes=0)


@pytest.mark.parametrize("batched_state", [False, True])
def test_chunked_run_equals_the_whole_run(batched_state, getkey):
    net = _net(getkey())
    xs = 2.0 * jax.random.normal(getkey(), (60, 5, 3))
    state = net.init_state((3,))
    if batched_state:
        state = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (5,) + a.shape), state)
    from spikax.loop._run import _step_bytes

    assert SMALL.batch_chunk(60, 5 * _step_bytes(state, batched_state, xs, 1)) == 10

    def loss(net, method):
        final, ys = spikax.run(net, state, xs, batch_axis=1, method=method)
        return jnp.sum(ys) + sum(jnp.sum(leaf) for leaf in jax.tree_util.tree_leaves(final)), (final, ys)

    (l0, (f0, y0)), g0 = eqx.filter_value_and_grad(loss, has_aux=True)(net, WHOLE)
    (l1, (f1, y1)), g1 = eqx.filter_value_and_grad(loss, has_aux=True)(net, SMALL)
    assert jnp.sum(y0) > 0 and jnp.array_equal(y0, y1)  # identical spikes
    assert all(jnp.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in
               zip(jax.tree_util.tree_leaves(f0), jax.tree_util.tree_leaves(f1)))
    for a, b in zip(jax.tree_util.tree_leaves(eqx.filter(g0, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(g1, eqx.is_array))):
        assert jnp.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_forward_mode_through_the_chunked_run(getkey):
    net = _net(getkey())
    xs = 2.0 * jax.random.normal(getkey(), (60, 5, 3))
    state = net.init_state((3,))
    params, static = eqx.partition(net, eqx.is_inexact_array)
    tangent = jax.tree_util.tree_map(jnp.ones_like, params)

    def out(params, method):
        return spikax.run(eqx.combine(params, static), state, xs, batch_axis=1, method=method)[1]

    for method in (WHOLE, SMALL):
        primal, jvp = jax.jvp(lambda p: out(p, method), (params,), (tangent,))
        if method is WHOLE:
            expected = (primal, jvp)
    assert jnp.array_equal(primal, expected[0])
    assert jnp.allclose(jvp, expected[1], rtol=1e-10, atol=1e-12) and jnp.any(jvp != 0)
