"""`spikax.Parallel`: parallel-in-time execution equals the sequential scan (values, spikes, derivatives)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import spikax
from helpers import assert_tree_allclose, type_name

F64 = jnp.float64

LINEAR = [spikax.neurons.LI(beta=0.8, dtype=F64), spikax.neurons.LIF(beta=0.9, reset="none", dtype=F64),
          spikax.neurons.CubaLIF(alpha=0.7, beta=0.9, reset="none", dtype=F64)]
RESETTING = [spikax.neurons.LIF(beta=0.9, dtype=F64), spikax.neurons.LIF(beta=0.8, reset="zero", v_reset=0.1, dtype=F64),
             spikax.neurons.CubaLIF(alpha=0.6, beta=0.9, dtype=F64), spikax.neurons.IF(threshold=1.5, dtype=F64)]


def network(neuron, key, n_in=4, n_out=6):
    return spikax.Chain([spikax.layers.dense(n_in, n_out, neuron, key=key, dtype=F64)])


def inputs(key, steps=60, n_in=4):
    return 2.0 * jax.random.normal(key, (steps, n_in), F64)


def test_neurons_say_how_they_are_linear():
    assert spikax.neurons.LI().between_spikes() == "linear"
    assert spikax.neurons.LIF(reset="none").between_spikes() == "linear"
    assert spikax.neurons.LIF().between_spikes() == "linear between spikes"
    assert spikax.neurons.LIF(refractory=2).between_spikes() is None
    assert spikax.neurons.Izhikevich().between_spikes() is None


@pytest.mark.parametrize("neuron", LINEAR + RESETTING, ids=type_name)
def test_parallel_equals_sequential_scan(neuron, getkey):
    net, xs = network(neuron, getkey()), inputs(getkey())
    state = net.init_state((4,), F64)
    got_state, got = spikax.run(net, state, xs, method=spikax.Parallel())
    want_state, want = spikax.run(net, state, xs)
    if neuron.between_spikes() == "linear between spikes":
        assert jnp.sum(want) > 10  # the case is not trivial: the neurons spike and reset
        assert jnp.array_equal(got, want)  # identical spikes
    assert_tree_allclose(got, want, rtol=0, atol=1e-12)
    assert_tree_allclose(got_state, want_state, rtol=0, atol=1e-12)


@pytest.mark.parametrize("neuron", [LINEAR[2], RESETTING[2]], ids=type_name)
def test_forward_mode_works_and_derivatives_equal_bptt(neuron, getkey):
    net, xs = network(neuron, getkey()), inputs(getkey(), steps=12)
    state = net.init_state((4,), F64)

    def outputs(xs, method):
        return spikax.run(net, state, xs, method=method)[1].sum(axis=0)

    forward = jax.jacfwd(outputs)(xs, spikax.Parallel())
    reverse = jax.jacrev(outputs)(xs, spikax.Parallel())
    sequential = jax.jacrev(outputs)(xs, spikax.BPTT())
    assert jnp.max(jnp.abs(sequential)) > 0
    assert_tree_allclose(forward, reverse, rtol=0, atol=1e-12)
    assert_tree_allclose(forward, sequential, rtol=0, atol=1e-12)

    def loss(net, method):
        return jnp.sum(spikax.run(net, state, xs, method=method)[1] ** 2)

    assert_tree_allclose(eqx.filter_grad(loss)(net, spikax.Parallel()), eqx.filter_grad(loss)(net, spikax.BPTT()),
                         rtol=0, atol=1e-12)


def test_bounded_passes_fall_back_to_the_sequential_scan(getkey):
    net, xs = network(RESETTING[0], getkey()), inputs(getkey(), steps=80)
    state = net.init_state((4,), F64)
    want = spikax.run(net, state, xs)[1]
    assert jnp.sum(want) > 10
    for max_iter in (1, 2):  # too few passes to settle: the fallback finishes the job
        assert jnp.array_equal(spikax.run(net, state, xs, method=spikax.Parallel(max_iter=max_iter))[1], want)


def test_chunked_batched_and_jitted(getkey):
    net = network(RESETTING[2], getkey())
    xs = 2.0 * jax.random.normal(getkey(), (40, 3, 4), F64)  # [time, batch, features]
    state = net.init_state((4,), F64)
    want_state, want = spikax.run(net, state, xs, batch_axis=1)
    run = eqx.filter_jit(lambda net, xs, method: spikax.run(net, state, xs, method=method, batch_axis=1))
    got_state, got = run(net, xs, spikax.Parallel(every=16))  # chunks of 16, 16 and 8 steps
    assert jnp.array_equal(got, want)
    assert_tree_allclose(got_state, want_state, rtol=0, atol=1e-12)

    def loss(net, method):
        return jnp.sum(spikax.run(net, state, xs, method=method, batch_axis=1)[1] ** 2)

    assert_tree_allclose(eqx.filter_grad(loss)(net, spikax.Parallel(every=16)), eqx.filter_grad(loss)(net, spikax.BPTT()),
                         rtol=0, atol=1e-12)


def test_other_layers_and_neurons_run_sequentially(getkey):
    net = spikax.Chain([spikax.layers.dense(4, 5, spikax.neurons.LIF(dtype=F64), key=getkey(), dtype=F64),
                        spikax.layers.recurrent_dense(5, 5, spikax.neurons.LIF(dtype=F64), key=getkey(), dtype=F64),
                        spikax.layers.dense(5, 3, spikax.neurons.LIF(refractory=2, dtype=F64), key=getkey(), dtype=F64),
                        spikax.layers.dense(3, 2, spikax.neurons.LI(dtype=F64), key=getkey(), dtype=F64)])
    xs, state = inputs(getkey()), net.init_state((4,), F64)
    got_state, got = spikax.run(net, state, xs, method=spikax.Parallel())
    want_state, want = spikax.run(net, state, xs)
    assert_tree_allclose((got_state, got), (want_state, want), rtol=0, atol=1e-12)


def test_a_neuron_as_the_model(getkey):
    neuron, xs = RESETTING[1], 3.0 * jax.random.normal(getkey(), (40, 7), F64)
    state = neuron.init_state((7,), F64)
    got = spikax.run(neuron, state, xs, method=spikax.Parallel())
    want = spikax.run(neuron, state, xs)
    assert jnp.array_equal(got[1], want[1])
    assert_tree_allclose(got, want, rtol=0, atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="spikax.Parallel.*max_iter"):
        spikax.Parallel(max_iter=0)
    with pytest.raises(ValueError, match="spikax.Parallel.*linear between spikes"):
        spikax.loop._parallel.parallel_neuron(spikax.neurons.Izhikevich(), None, jnp.zeros((3, 2)))


@pytest.mark.parametrize("neuron", [spikax.neurons.LI(beta=0.8, learnable="beta", dtype=F64),
                                    spikax.neurons.LIF(beta=0.9, learnable=("beta", "threshold"), dtype=F64)],
                         ids=type_name)
def test_learnable_neuron_parameters_get_the_sequential_gradient(neuron, getkey):
    net, xs = network(neuron, getkey()), inputs(getkey(), steps=25)
    state = net.init_state((4,), F64)

    def loss(net, method):
        return jnp.sum(spikax.run(net, state, xs, method=method)[1] ** 2)

    got, want = eqx.filter_grad(loss)(net, spikax.Parallel()), eqx.filter_grad(loss)(net, spikax.BPTT())
    assert jnp.abs(want.layers[0].neuron.raw_beta) > 0
    assert_tree_allclose(got, want, rtol=0, atol=1e-12)
