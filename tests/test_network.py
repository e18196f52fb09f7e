"""Networks: Chain and Graph (skip, feedback one step later), and the registered-state adapter."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_tree_allclose
from layer_cases import cheap_keys, make, sequence, step_loop

import spikax
from spikax import layers as L

run = eqx.filter_jit(spikax.run)  # compiled: much faster than op-by-op for these tests

LIF = spikax.neurons.LIF(beta=0.5)


@pytest.fixture
def getkey():
    return cheap_keys()


def _identity():
    return L.Stateless(lambda x: x)


def test_self_feedback_arrives_one_step_later():
    # y_t = x_t + y_{t-1}: a cumulative sum, exactly.
    net = spikax.Graph({"acc": _identity()}, [("input", "acc"), ("acc", "acc")])
    xs = jnp.arange(1.0, 7.0)[:, None]
    state, ys = spikax.run(net, net.init_state((1,)), xs)
    np.testing.assert_array_equal(ys[:, 0], np.cumsum(np.arange(1.0, 7.0)))
    assert float(state.feedback["acc"][0]) == 21.0


def test_feedback_between_layers_and_skip_closed_form():
    # a: x_t + 10 * b_{t-1};  b: 2 * a_t;  out = a_t + b_t (skip from a). Unrolled by hand below.
    net = spikax.Graph(
        {"a": _identity(), "b": L.Stateless(lambda x: 2 * x), "out": _identity()},
        [("input", "a"), ("a", "b"), ("b", "a"), ("a", "out"), ("b", "out")],
    )
    xs = jnp.array([[1.0], [0.0], [0.0]])
    _, ys = spikax.run(net, net.init_state((1,)), xs)
    a = [1.0, 0.0 + 2.0, 0.0 + 4.0]  # a_t = x_t + b_{t-1} = x_t + 2 a_{t-1}
    np.testing.assert_array_equal(ys[:, 0], [3 * v for v in a])
    assert net.is_feedback("b", "a") and not net.is_feedback("a", "b") and net.feedback_sources == ("b",)


def test_graph_without_feedback_equals_chain(getkey):
    k1, k2, k3 = getkey(), getkey(), getkey()
    blocks = [L.dense(3, 5, LIF, key=k1), L.recurrent_dense(5, 4, LIF, key=k2), L.dense(4, 2, LIF, key=k3)]
    chain = spikax.Chain(blocks)
    graph = spikax.Graph({"l0": blocks[0], "l1": blocks[1], "l2": blocks[2]},
                         [("input", "l0"), ("l0", "l1"), ("l1", "l2")])
    xs = jnp.asarray(6.0 * np.random.default_rng(0).standard_normal((7, 3)))
    chain_state, chain_ys = run(chain, chain.init_state((3,)), xs)
    graph_state, graph_ys = run(graph, graph.init_state((3,)), xs)
    np.testing.assert_array_equal(graph_ys, chain_ys)
    assert_tree_allclose(tuple(graph_state.nodes[k] for k in ("l0", "l1", "l2")), chain_state)


@pytest.mark.parametrize("name", ["graph_skip", "graph_feedback", "graph_conv_feedback", "conv_pool",
                                  "delay_learnable", "dropout"])
def test_run_equals_single_step_loop(name):
    model, state, xs = make(name, seed=3)
    got = run(model, state, xs)
    assert_tree_allclose(got, step_loop(model, state, xs), rtol=1e-10, atol=1e-12)
    assert_tree_allclose(got, sequence(model, state, xs), rtol=1e-10, atol=1e-12)


def test_output_shapes_are_inferred(getkey):
    net = spikax.Chain([
        L.Layer(eqx.nn.Conv2d(2, 4, 3, padding=1, key=getkey()), LIF),
        L.Pool("max", 2),
        L.Flatten(),
        L.recurrent_dense(16, 3, LIF, key=getkey()),
    ])
    assert net.output_shape((2, 4, 4)) == (3,)
    state = net.init_state((2, 4, 4))
    assert state[0].v.shape == (4, 4, 4) and state[3].spikes.shape == (3,)
    graph = spikax.Graph({"net": net, "out": eqx.nn.Linear(3, 5, key=getkey())}, [("input", "net"), ("net", "out")])
    assert graph.output_shape((2, 4, 4)) == (5,)


def test_graph_errors(getkey):
    dense = L.dense(3, 4, LIF, key=getkey())
    with pytest.raises(ValueError, match=r"spikax.Graph.*unknown node"):
        spikax.Graph({"a": dense}, [("input", "a"), ("b", "a")])
    with pytest.raises(ValueError, match=r"spikax.Graph.*'input' is\s+reserved|other than 'input'"):
        spikax.Graph({"input": dense}, [])
    with pytest.raises(ValueError, match=r"spikax.Graph.*node 'b' has no forward source"):
        spikax.Graph({"a": dense, "b": _identity()}, [("input", "a"), ("b", "b")])
    net = spikax.Graph({"a": dense}, [("input", "a"), ("a", "a")])  # feeds 4 back into a 3-input node
    with pytest.raises(ValueError, match=r"spikax.Graph.*node 'a' have different shapes"):
        net.init_state((3,))
    with pytest.raises(ValueError, match=r"spikax.Graph.*output 'z' is not a node"):
        spikax.Graph({"a": dense}, [("input", "a")], output="z")


def test_chain_errors(getkey):
    with pytest.raises(TypeError, match=r"spikax.Chain.*expected a list of layers"):
        spikax.Chain(L.dense(3, 4, LIF, key=getkey()))
    net = spikax.Chain([L.dense(3, 4, LIF, key=getkey()), L.dense(4, 2, LIF, key=getkey())])
    with pytest.raises(ValueError, match=r"spikax.Chain.*one entry per layer \(2\)"):
        net(net.init_state((3,))[:1], jnp.ones(3))


# -- registered state ------------------------------------------------------------------------


def test_stateful_adapter_gives_identical_results(getkey):
    model, state, xs = make("dropout", seed=4)
    key = getkey()
    explicit_state = model.init_state((3,), key=key)
    expected_state, expected = run(model, explicit_state, xs)

    stateful, registry = eqx.nn.make_with_state(spikax.network.Stateful)(model, (3,), key=key)
    ys, registry = stateful.run(xs, registry)
    np.testing.assert_array_equal(ys, expected)
    assert_tree_allclose(registry.get(stateful.index), expected_state)

    # Step by step through the registry: the same again.
    registry = stateful.reset(registry, key=key)
    steps = []
    for x in xs:
        y, registry = stateful(x, registry)
        steps.append(y)
    np.testing.assert_allclose(jnp.stack(steps), expected, rtol=1e-12)


def test_stateful_adapter_with_a_batch(getkey):
    net = spikax.Chain([L.dense(3, 4, LIF, key=getkey())])
    xs = jnp.asarray(5.0 * np.random.default_rng(1).standard_normal((6, 2, 3)))
    stateful, registry = eqx.nn.make_with_state(spikax.network.Stateful)(net, (3,), batch_size=2)
    ys, registry = stateful.run(xs, registry)
    _, expected = run(net, net.init_state((3,)), xs, batch_axis=1)
    np.testing.assert_array_equal(ys, expected)
    y, registry = stateful(xs[0], registry)  # one step with the batch
    assert y.shape == (2, 4)


def _matmuls_outside_scan(fn, *args):
    """Output shapes of the matrix products that run once over the whole sequence (not inside a scan)."""
    eqns = jax.make_jaxpr(fn)(*args).jaxpr.eqns
    return [e.outvars[0].aval.shape for e in eqns if e.primitive.name == "dot_general"]


def test_feedforward_parts_run_on_the_whole_sequence_at_once():
    # graph_feedback: enc -> [a <-> b] -> out. enc and out are outside the loop: one matmul each over T steps;
    # only a and b are scanned.
    model, state, xs = make("graph_feedback", seed=0, steps=8)
    shapes = _matmuls_outside_scan(lambda xs: model.sequence(state, xs), xs)
    assert sorted(sorted(s) for s in shapes) == [[2, 8], [4, 8]]  # (T, features) in either layout
    chain, chain_state, chain_xs = make("mixed_conv", seed=0, steps=8)
    shapes = _matmuls_outside_scan(lambda xs: chain.sequence(chain_state, xs), chain_xs)
    assert [3, 8] in [sorted(s) for s in shapes]  # the final dense layer, applied to all 8 steps in one product


def test_chain_with_mismatched_sizes_names_the_layer_and_both_sizes():
    k1, k2 = jax.random.split(jax.random.key(0))
    bad = spikax.Chain([spikax.layers.dense(3, 5, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(4, 2, spikax.neurons.LI(), key=k2)])
    with pytest.raises(ValueError, match=r"layer 1 \(Layer\) expects inputs of size 4 but receives the output of layer 0, "
                                         r"of shape \(5,\)"):
        bad.init_state((3,))
