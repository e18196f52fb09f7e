"""`spikax.run` and the gradient methods: agreement between BPTT, forward mode and checkpointing;
truncation; memory growth in T; batching; clear errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_tree_allclose
from layer_cases import GRAD_CASES, cheap_keys, make

import spikax
from spikax import layers as L

run = eqx.filter_jit(spikax.run)  # compiled: much faster than op-by-op for these tests

LIF = spikax.neurons.LIF(beta=0.5)


@pytest.fixture
def getkey():
    return cheap_keys()


def _readout(ys):
    """A fixed, generic linear readout of the outputs (so every output and time step matters)."""
    weights = jnp.asarray(np.random.default_rng(7).standard_normal(ys.shape))
    return jnp.sum(ys * weights)


def _loss_fn(model, state, xs, method, batch_axis=None):
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(params):
        _, ys = spikax.run(eqx.combine(params, static), state, xs, method=method, batch_axis=batch_axis)
        return _readout(ys)

    return loss, params


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_bptt_forward_mode_and_checkpointed_gradients_agree(name):
    """Every layer kind (grouped into a few small networks, to keep compile time low)."""
    model, state, xs = make(name, seed=5, steps=6)
    bptt, params = _loss_fn(model, state, xs, spikax.BPTT())
    ckpt, _ = _loss_fn(model, state, xs, spikax.CheckpointedBPTT(every=2))
    reverse, forward, checkpointed = jax.jit(
        lambda p: (jax.grad(bptt)(p), jax.jacfwd(bptt)(p), jax.grad(ckpt)(p)))(params)
    assert_tree_allclose(forward, reverse, rtol=1e-9, atol=1e-12)
    assert_tree_allclose(checkpointed, reverse, rtol=1e-9, atol=1e-12)
    # Every learnable array receives a gradient (in particular learnable delays and recurrent weights).
    for path, g in jax.tree_util.tree_flatten_with_path(reverse)[0]:
        if jax.tree_util.keystr(path).endswith(("weight", "delays")):  # (neuron constants are fixed)
            assert float(jnp.sum(jnp.abs(g))) > 0, jax.tree_util.keystr(path)


def test_bntt_gradients_agree_across_methods(getkey):
    net = spikax.Chain([eqx.nn.Linear(3, 4, key=getkey()), L.BNTT(4, 4), LIF])
    xs = jnp.asarray(np.random.default_rng(0).standard_normal((5, 3, 3)))
    state = net.init_state((3,))
    bptt, params = _loss_fn(net, state, xs, spikax.BPTT(), batch_axis=1)
    ckpt, _ = _loss_fn(net, state, xs, spikax.CheckpointedBPTT(), batch_axis=1)
    reverse, forward, checkpointed = jax.jit(
        lambda p: (jax.grad(bptt)(p), jax.jacfwd(bptt)(p), jax.grad(ckpt)(p)))(params)
    assert_tree_allclose(forward, reverse, rtol=1e-9, atol=1e-12)
    assert_tree_allclose(checkpointed, reverse, rtol=1e-9, atol=1e-12)


def test_checkpointed_equals_bptt_for_any_chunk_length():
    model, state, xs = make("recurrent_dense", seed=2, steps=10)
    run = jax.jit(lambda xs, method: spikax.run(model, state, xs, method=method), static_argnums=1)
    for every in (1, 3, 10, 20):  # chunks with a remainder, one chunk, longer than the sequence
        assert_tree_allclose(run(xs, spikax.CheckpointedBPTT(every=every)), run(xs, spikax.BPTT()),
                             rtol=1e-12, atol=1e-12)


def test_truncated_bptt(getkey):
    model, state, xs = make("recurrent_dense", seed=1, steps=9)
    grads = {}
    for label, method in [("bptt", spikax.BPTT()), ("k9", spikax.TruncatedBPTT(9)), ("k4", spikax.TruncatedBPTT(4))]:
        loss, params = _loss_fn(model, state, xs, method)
        grads[label] = jax.jit(jax.grad(loss))(params)
    # Truncation changes gradients only: the forward pass and the carried state are unchanged.
    assert_tree_allclose(run(model, state, xs, method=spikax.TruncatedBPTT(4)), run(model, state, xs),
                         rtol=1e-12, atol=1e-12)
    assert_tree_allclose(grads["k9"], grads["bptt"], rtol=1e-12)
    differ = [not np.allclose(a, b) for a, b in zip(jax.tree_util.tree_leaves(grads["k4"]),
                                                     jax.tree_util.tree_leaves(grads["bptt"]))]
    assert any(differ)


def test_truncated_bptt_cuts_gradients_at_chunk_boundaries():
    # A reset-free LIF integrates: v_T depends on x_0 only through the carried state, which k=2 cuts.
    lif = spikax.neurons.LIF(beta=0.5, reset="none")
    xs = jnp.ones((6, 1))

    def final_v(xs, method):
        state, _ = spikax.run(lif, lif.init_state((1,)), xs, method=method)
        return state.v[0]

    full = jax.grad(final_v)(xs, spikax.BPTT())[:, 0]
    cut = jax.grad(final_v)(xs, spikax.TruncatedBPTT(2))[:, 0]
    np.testing.assert_allclose(full, 0.5 * 0.5 ** jnp.arange(5.0, -1.0, -1.0), rtol=1e-12)  # (1-b) b^(T-1-t)
    np.testing.assert_allclose(cut, [0, 0, 0, 0, 0.25, 0.5], rtol=1e-12)


def test_memory_grows_linearly_for_bptt_and_sublinearly_when_checkpointed(getkey):
    net = L.dense(16, 32, spikax.neurons.LIF(dtype=jnp.float32), key=getkey(), dtype=jnp.float32)

    def temp_bytes(method, steps):
        def loss(xs):  # the loss reads the final state only: the stacked outputs are dead code
            state, _ = spikax.run(net, net.init_state((16,), jnp.float32), xs, method=method)
            return jnp.sum(state.v)

        xs = jax.ShapeDtypeStruct((steps, 16), jnp.float32)
        return jax.jit(jax.grad(loss)).lower(xs).compile().memory_analysis().temp_size_in_bytes

    bptt = temp_bytes(spikax.BPTT(), 1600) / temp_bytes(spikax.BPTT(), 100)
    ckpt = temp_bytes(spikax.CheckpointedBPTT(), 1600) / temp_bytes(spikax.CheckpointedBPTT(), 100)
    assert bptt > 10  # ~16x for 16x the steps
    assert ckpt < 5  # ~sqrt(16) = 4x or less


def test_unroll_gives_the_same_result():
    model, state, xs = make("recurrent_dense", seed=1, steps=7)
    for method in (spikax.BPTT(), spikax.CheckpointedBPTT(every=3)):
        assert_tree_allclose(run(model, state, xs, method=method, unroll=4),
                             run(model, state, xs, method=method), rtol=1e-12, atol=1e-12)


def test_batch_axis_equals_vmap(getkey):
    model, state, _ = make("recurrent_conv", seed=0)
    xs = jnp.asarray(4.0 * np.random.default_rng(3).standard_normal((6, 3, 2, 5)))  # [time, batch, ...]
    final, ys = run(model, state, xs, batch_axis=1)
    manual = jax.jit(jax.vmap(lambda x: spikax.run(model, state, x), in_axes=1, out_axes=(0, 1)))(xs)
    assert_tree_allclose((final, ys), manual, rtol=1e-12)
    assert ys.shape == (6, 3, 3, 5)
    # A batched state (e.g. carried over from a previous call) is accepted too.
    again = run(model, final, xs, batch_axis=1)
    assert again[1].shape == ys.shape
    # Batch on the last axis.
    moved = run(model, state, jnp.moveaxis(xs, 1, 3), batch_axis=3)
    np.testing.assert_allclose(moved[1], jnp.moveaxis(ys, 1, 3))


# -- errors ------------------------------------------------------------------------------------


def test_state_from_another_model_is_a_clear_error(getkey):
    a = spikax.Chain([L.dense(3, 4, LIF, key=getkey())])
    b = spikax.Chain([L.dense(3, 4, LIF, key=getkey()), L.dense(4, 2, LIF, key=getkey())])
    xs = jnp.ones((5, 3))
    with pytest.raises(ValueError, match=r"spikax.run.*does not belong to this Chain"):
        spikax.run(b, a.init_state((3,)), xs)
    c = spikax.Chain([L.dense(3, 6, LIF, key=getkey())])
    with pytest.raises(ValueError, match=r"spikax.run.*state shapes.*do not match this Chain"):
        spikax.run(c, a.init_state((3,)), xs)


def test_input_shape_mismatch_with_first_layer_is_a_clear_error(getkey):
    net = spikax.Chain([L.dense(3, 4, LIF, key=getkey())])
    with pytest.raises(ValueError, match=r"spikax.layers.Layer.*Linear cannot take an input of shape \(5,\)"):
        spikax.run(net, net.init_state((5,)), jnp.ones((4, 5)))
    with pytest.raises(ValueError, match=r"spikax.layers.Layer.*cannot take an input of shape \(3, 2\)"):
        spikax.run(net, net.init_state((3,)), jnp.ones((4, 3, 2)))  # a batch without `batch_axis`
    with pytest.raises(ValueError, match=r"spikax.run.*need a time axis"):
        spikax.run(net, net.init_state((3,)), jnp.float64(1.0))


def test_time_axis_mismatch_between_inputs_and_targets():
    spikax.loop.check_time_axis(jnp.zeros((10, 4, 3)), jnp.zeros((10, 4)))
    with pytest.raises(ValueError, match=r"inputs have 10 time steps \(axis 0\) but targets have 4"):
        spikax.loop.check_time_axis(jnp.zeros((10, 4, 3)), jnp.zeros((4, 10)))
    with pytest.raises(ValueError, match=r"`my.loss`: targets need a time axis"):
        spikax.loop.check_time_axis(jnp.zeros((10, 3)), jnp.float64(1.0), owner="my.loss")


def test_bad_method_arguments():
    with pytest.raises(TypeError, match=r"spikax.run.*`method` must be a gradient method"):
        spikax.run(LIF, LIF.init_state((1,)), jnp.ones((3, 1)), method="bptt")
    with pytest.raises(ValueError, match=r"TruncatedBPTT.*`k` must be a whole number"):
        spikax.TruncatedBPTT(0)
    with pytest.raises(ValueError, match=r"CheckpointedBPTT.*`every` must be a whole number"):
        spikax.CheckpointedBPTT(every=2.5)
    with pytest.raises(ValueError, match=r"`batch_axis` must be between 1 and 2"):
        spikax.run(LIF, LIF.init_state((1,)), jnp.ones((3, 1, 1)), batch_axis=3)


def test_missing_time_axis_is_named(getkey):
    net = spikax.Chain([L.dense(3, 4, spikax.neurons.LIF(), key=getkey())])
    with pytest.raises(ValueError, match=r"the inputs have no time axis: shape \(3,\) is what one step.*\[time, 3\]"):
        spikax.run(net, net.init_state((3,)), jnp.ones(3))
