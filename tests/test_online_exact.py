"""Exact and forward-mode online learners (docs/online_learning.md: R1-R4, F1-F4, S1, S2, A1).

Small random networks (float64 unless stated) with recurrence, ALIF and CubaLIF neurons,
learnable leaks and thresholds, and attached and detached resets.
"""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import spikax
from spikax import online
from spikax.layers import dense, recurrent_dense
from spikax.neurons import ALIF, LI, LIF, CubaLIF

from helpers import assert_tree_allclose


def mse(y, target):
    return jnp.sum((y - target) ** 2)


def flat(tree):
    return ravel_pytree(tree)[0]


def make_net(kind, key, n_in=3, n_hid=6, n_out=2, dtype=jnp.float64):
    """A small network of the given kind, with learnable neuron parameters."""
    k1, k2, k3 = jax.random.split(key, 3)
    if kind == "lif":
        hidden = recurrent_dense(n_in, n_hid, LIF(beta=0.8, learnable=("beta", "threshold"), dtype=dtype), key=k1,
                                 dtype=dtype)
    elif kind == "lif_detached":
        hidden = recurrent_dense(n_in, n_hid, LIF(beta=0.8, detach_reset=True, learnable=("beta", "threshold"),
                                                  dtype=dtype), key=k1, dtype=dtype)
    elif kind == "alif":
        hidden = recurrent_dense(n_in, n_hid, ALIF(alpha=0.8, rho=0.9, beta_a=0.3, learnable=("alpha", "beta_a",
                                                                                             "threshold"), dtype=dtype),
                                 key=k1, dtype=dtype)
    elif kind == "cuba":
        hidden = recurrent_dense(n_in, n_hid, CubaLIF(alpha=0.6, beta=0.8, learnable=("alpha", "beta"), dtype=dtype),
                                 key=k1, dtype=dtype)
    elif kind == "deep":  # feed-forward LIF into recurrent ALIF into a leaky readout
        net = spikax.Chain([
            dense(n_in, n_hid, LIF(beta=0.7, learnable=("threshold",), dtype=dtype), key=k1, dtype=dtype),
            recurrent_dense(n_hid, 5, ALIF(alpha=0.8, rho=0.9, detach_reset=True, learnable=("alpha",), dtype=dtype),
                            key=k2, dtype=dtype),
            dense(5, n_out, LI(beta=0.7, learnable=("beta",), dtype=dtype), key=k3, dtype=dtype),
        ])
        # drive the second layer hard enough to fire (it is fed by the first layer's spikes)
        return eqx.tree_at(lambda n: n.layers[1].connection.weight, net, 2.0 * net.layers[1].connection.weight)
    else:
        raise ValueError(kind)
    return spikax.Chain([hidden, dense(n_hid, n_out, LI(beta=0.7, dtype=dtype), key=k2, dtype=dtype)])


def make_problem(kind, key, steps=12, dtype=jnp.float64):
    k1, k2, k3 = jax.random.split(key, 3)
    net = make_net(kind, k1, dtype=dtype)
    xs = 10.0 * jax.random.normal(k2, (steps, 3), dtype)
    targets = jax.random.normal(k3, (steps, 2), dtype)
    params, _ = eqx.partition(net, spikax.trainable(net))
    return net, params, net.init_state((3,), dtype), xs, targets


# attached resets (alif, cuba, the LIF of deep), a detached one (the ALIF of deep), recurrence, learnable leaks
# and thresholds
KINDS = ["alif", "cuba", "deep"]


def relative_error(a, b):
    a, b = flat(a), flat(b)
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


# -- R1, S2: RTRL == oracle == BPTT -----------------------------------------------------------------


def firing_rates(net, state0, xs):
    """Mean firing rate of each spiking (non-readout) layer."""
    rates = []
    for layer, state in zip(net.layers[:-1], state0):
        _, xs = spikax.run(layer, state, xs)
        rates.append(jnp.mean(xs))
    return jnp.stack(rates)


@pytest.mark.parametrize("kind", KINDS)
def test_r1_rtrl_equals_bptt_float64(kind, getkey):
    with_oracle = kind == "deep"  # the jacfwd oracle once, on the deepest network (it is slow to compile)

    def compare(key):
        net, params, state0, xs, targets = make_problem(kind, key)
        oracle = online.rtrl_oracle(net, mse, state0, xs, targets) if with_oracle else None
        return (firing_rates(net, state0, xs), online.bptt(net, mse, state0, xs, targets), oracle,
                online.run(online.rtrl(net, mse), params, state0, xs, targets))

    keys = jax.random.split(getkey(), 2)  # two seeds, one compilation
    rates, (loss_ref, grad_ref), oracle, (loss_rtrl, grad_rtrl) = jax.jit(jax.vmap(compare))(keys)
    # the spikes matter: every spiking layer fires, sometimes
    assert jnp.all(rates > 0.02) and jnp.all(rates < 0.9), rates
    np.testing.assert_allclose(loss_rtrl, loss_ref, rtol=1e-12)
    assert_tree_allclose(grad_rtrl, grad_ref, rtol=1e-9, atol=1e-12)
    for i in range(2):
        one = lambda tree: jax.tree_util.tree_map(lambda a: a[i], tree)  # noqa: E731
        assert relative_error(one(grad_rtrl), one(grad_ref)) < 1e-9
    if with_oracle:
        loss_oracle, grad_oracle = oracle
        np.testing.assert_allclose(loss_oracle, loss_ref, rtol=1e-12)
        assert_tree_allclose(grad_oracle, grad_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_r1_rtrl_equals_bptt_float32(getkey):
    net, params, state0, xs, targets = make_problem("alif", getkey(), dtype=jnp.float32)
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    _, grad_rtrl = online.run(online.rtrl(net, mse), params, state0, xs, targets)
    assert flat(grad_rtrl).dtype == jnp.float32
    assert relative_error(grad_rtrl, grad_ref) < 1e-4


def test_s2_batched_accumulate_equals_bptt(getkey):
    net, params, state0, xs, targets = make_problem("lif", getkey())
    xb = jnp.stack([xs, 0.5 * xs, -xs], axis=1)
    tb = jnp.stack([targets, -targets, targets], axis=1)
    loss_ref, grad_ref = online.bptt(net, mse, state0, xb, tb, batch_axis=1)
    singles = [online.bptt(net, mse, state0, xb[:, i], tb[:, i]) for i in range(3)]
    np.testing.assert_allclose(loss_ref, np.mean([s[0] for s in singles]), rtol=1e-12)
    loss, grad = online.run(online.rtrl(net, mse), params, state0, xb, tb, batch_axis=1)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-12)
    assert_tree_allclose(grad, grad_ref, rtol=1e-9, atol=1e-12)


def test_s2_train_with_one_update_equals_an_offline_step(getkey):
    net, params, state0, xs, targets = make_problem("alif", getkey())
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    opt = optax.sgd(0.1)
    est = online.rtrl(net, mse)
    new, _, losses = online.train(est, opt, params, opt.init(params), state0, xs, targets, update_every=len(xs))
    expected = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grad_ref)
    assert_tree_allclose(new, expected, rtol=1e-9, atol=1e-12)
    assert losses.shape == (len(xs),)
    # a remainder is applied at the end: 12 steps, updates every 5 -> 3 updates; params change mid-sequence
    new5, _, losses5 = online.train(est, opt, params, opt.init(params), state0, xs, targets, update_every=5)
    np.testing.assert_allclose(losses5[:5], losses[:5], rtol=1e-12)
    assert not np.allclose(losses5[5:], losses[5:])
    assert not np.allclose(flat(new5), flat(new))


# -- R2, R3, R4 ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_r2_influence_equals_jacfwd_of_unrolled_state(getkey):
    net, params, state0, xs, targets = make_problem("deep", getkey(), steps=8)
    est = online.rtrl(net, mse)

    def body(carry, inputs):
        state, lstate = carry
        state, lstate, *_ = est.step(params, lstate, state, *inputs)
        return (state, lstate), lstate.influence

    flat_p, unravel = ravel_pytree(params)

    def states(fp):
        model = eqx.combine(unravel(fp), est.static)
        return jax.lax.scan(lambda s, x: (model(s, x)[0], flat(model(s, x)[0])), state0, xs)[1]

    @jax.jit
    def both(params):
        influences = jax.lax.scan(body, (state0, est.init(params, state0)), (xs, targets))[1]
        return influences, jax.jacfwd(states)(ravel_pytree(params)[0])  # [T, n_s, P]

    influences, expected = both(params)
    np.testing.assert_allclose(influences, expected, rtol=1e-10, atol=1e-12)
    assert np.abs(expected).max() > 0


def test_r3_snap_with_long_reach_equals_rtrl(getkey):
    net, params, state0, xs, targets = make_problem("deep", getkey())
    n_s, n_p = flat(state0).size, flat(params).size

    def grads(mask):
        return online.run(online.rtrl(net, mse, mask=mask), params, state0, xs, targets)[1]

    grad_rtrl = online.run(online.rtrl(net, mse), params, state0, xs, targets)[1]
    mask_long = eqx.filter_jit(online.snap(net, mse, len(xs)).init)(params, state0).mask
    mask1 = eqx.filter_jit(online.snap(net, mse, 1).init)(params, state0).mask
    assert 0 < int(mask1.sum()) < int(mask_long.sum())  # SnAp-1 keeps fewer entries
    ones = jnp.ones((n_s, n_p), bool)
    batched = jax.vmap(grads)(jnp.stack([mask_long, ones, mask1]))  # one compilation for three masks
    grad_long, grad_ones, grad_snap1 = (jax.tree_util.tree_map(lambda a, i=i: a[i], batched) for i in range(3))
    assert_tree_allclose(grad_long, grad_rtrl, rtol=1e-12, atol=1e-14)
    assert_tree_allclose(grad_ones, grad_rtrl, rtol=1e-12, atol=1e-14)
    # SnAp-1 is an approximation and differs
    assert relative_error(grad_snap1, grad_rtrl) > 1e-6


def test_snap1_single_recurrent_layer_keeps_each_neurons_own_entries(getkey):
    k1, k2 = jax.random.split(getkey())
    layer = recurrent_dense(2, 3, LIF(detach_reset=True), key=k1)
    net = spikax.Chain([layer])
    params, _ = eqx.partition(net, spikax.trainable(net))
    state0 = net.init_state((2,))
    mask = np.asarray(eqx.filter_jit(online.snap(net, mse, 1).init)(params, state0).mask)
    # rows: (v_0..v_2, z_0..z_2); columns: ravel order of params: W_in (3x2), b (3), W_rec (3x3)
    w_in = mask[:, :6].reshape(6, 3, 2)
    for j in range(3):
        for row in range(6):
            assert w_in[row, j].all() == (row % 3 == j)
    # SnAp-2 reaches every neuron through the dense recurrence
    mask2 = np.asarray(eqx.filter_jit(online.snap(net, mse, 2).init)(params, state0).mask)
    assert mask2.all()


def test_r4_step_dot_product_test(getkey):
    net, params, state0, xs, targets = make_problem("deep", getkey())
    est = online.rtrl(net, mse)
    rng = np.random.default_rng(0)

    @jax.jit
    def products(params):
        state = jax.lax.scan(lambda s, x: (net(s, x)[0], None), state0, xs[:5])[0]  # a state that has fired
        f, fs, fp, _, _ = online._api.flat_step(est, params, state, xs[5], targets[5])
        g = lambda s, p: f(s, p)[0]  # noqa: E731  (new state, loss)
        u = (jnp.asarray(rng.normal(size=fs.shape)), jnp.asarray(rng.normal(size=fp.shape)))
        w = (jnp.asarray(rng.normal(size=fs.shape)), jnp.asarray(rng.normal()))
        _, ju = jax.jvp(g, (fs, fp), u)
        _, pullback = jax.vjp(g, fs, fp)
        vw = pullback(w)
        return jnp.vdot(ju[0], w[0]) + ju[1] * w[1], jnp.vdot(u[0], vw[0]) + jnp.vdot(u[1], vw[1])

    lhs, rhs = products(params)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


# -- A1: memoryless neurons ------------------------------------------------------------------------


def test_a1_memoryless_network_every_exact_learner_equals_bptt(getkey):
    k1, k2, k3, k4 = jax.random.split(getkey(), 4)
    net = spikax.Chain([dense(3, 5, LIF(beta=0.0, reset="none", learnable=("threshold",)), key=k1),
                        dense(5, 2, LI(beta=0.0), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    state0 = net.init_state((3,))
    xs, targets = 3.0 * jax.random.normal(k3, (10, 3)), jax.random.normal(k4, (10, 2))
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    for est in (online.rtrl(net, mse), online.snap(net, mse, 1)):
        _, grad = online.run(est, params, state0, xs, targets)
        assert_tree_allclose(grad, grad_ref, rtol=1e-10, atol=1e-13)
    # the forward gradient is exact once averaged over the standard basis (F2)
    assert_tree_allclose(basis_forward_gradient(net, params, state0, xs, targets), grad_ref, rtol=1e-10, atol=1e-13)


# -- forward gradients -----------------------------------------------------------------------------


def basis_forward_gradient(net, params, state0, xs, targets):
    """Sum of (grad . e_k) e_k over the standard basis, each from a `direction=e_k` forward gradient."""
    flat_p, unravel = ravel_pytree(params)

    def one(e):
        est = online.forward_gradient(net, mse, direction=unravel(e))
        return flat(online.run(est, params, state0, xs, targets)[1])

    return unravel(jax.vmap(one)(jnp.eye(flat_p.size, dtype=flat_p.dtype)).sum(0))


def test_f1_directional_derivative_is_exact(getkey):
    net, params, state0, xs, targets = make_problem("alif", getkey())
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    flat_p, unravel = ravel_pytree(params)
    v = jax.random.normal(getkey(), flat_p.shape, flat_p.dtype)
    _, g = online.run(online.forward_gradient(net, mse, direction=unravel(v)), params, state0, xs, targets)
    # g = (grad . v) v
    np.testing.assert_allclose(flat(g), jnp.vdot(flat(grad_ref), v) * v, rtol=1e-10, atol=1e-13)


def test_f2_standard_basis_recovers_the_gradient(getkey):
    net, params, state0, xs, targets = make_problem("alif", getkey())
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    assert_tree_allclose(basis_forward_gradient(net, params, state0, xs, targets), grad_ref, rtol=1e-10, atol=1e-13)


def tiny_problem(key):
    k1, k2, k3 = jax.random.split(key, 3)
    net = spikax.Chain([dense(2, 2, LIF(beta=0.8, learnable=("threshold",)), key=k1), dense(2, 1, LI(), key=k2,
                                                                                           use_bias=False)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    xs = 3.0 * jax.random.normal(k3, (10, 2))
    return net, params, net.init_state((2,)), xs, jnp.ones((10, 1))


def test_f3_rademacher_enumeration_is_exact(getkey):
    net, params, state0, xs, targets = tiny_problem(getkey())
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    flat_p, unravel = ravel_pytree(params)
    assert flat_p.size == 9
    signs = jnp.asarray(list(itertools.product([-1.0, 1.0], repeat=flat_p.size)))

    def one(v):
        return flat(online.run(online.forward_gradient(net, mse, direction=unravel(v)), params, state0, xs, targets)[1])

    mean = jax.jit(jax.vmap(one))(signs).mean(0)
    np.testing.assert_allclose(mean, flat(grad_ref), rtol=1e-10, atol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("dist", ["normal", "rademacher"])
def test_f3_f4_random_tangents_unbiased_with_theoretical_variance(dist, getkey):
    net, params, state0, xs, targets = tiny_problem(getkey())
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    g_ref = flat(grad_ref)
    n_params = g_ref.size
    samples = 4000
    keys = jax.random.split(jax.random.key(7), samples)
    est = online.forward_gradient(net, mse, num_tangents=1, dist=dist)
    estimates = jax.jit(jax.vmap(lambda k: flat(online.run(est, params, state0, xs, targets, key=k)[1])))(keys)
    # F3: the mean of K estimates is within 3 sqrt(P/K) |grad| of the gradient
    err = float(jnp.linalg.norm(estimates.mean(0) - g_ref))
    assert err < 3 * np.sqrt(n_params / samples) * float(jnp.linalg.norm(g_ref))
    # F4: E|g|^2 / |grad|^2 = P + 2 (Gaussian) or P (Rademacher), within 10 %
    ratio = float(jnp.mean(jnp.sum(estimates**2, axis=1)) / jnp.sum(g_ref**2))
    theory = n_params + 2 if dist == "normal" else n_params
    assert abs(ratio / theory - 1) < 0.10, (ratio, theory)
    if dist == "rademacher":
        return
    # K tangents average: with K = 4 the second moment drops towards |grad|^2 (1 + (theory - 1)/K)
    est4 = online.forward_gradient(net, mse, num_tangents=4, dist=dist)
    est4_samples = jax.jit(jax.vmap(lambda k: flat(online.run(est4, params, state0, xs, targets, key=k)[1])))(
        keys[:1000])
    ratio4 = float(jnp.mean(jnp.sum(est4_samples**2, axis=1)) / jnp.sum(g_ref**2))
    assert abs(ratio4 / (1 + (theory - 1) / 4) - 1) < 0.15


def test_forward_gradient_direction_function_and_training(getkey):
    net, params, state0, xs, targets = tiny_problem(getkey())
    flat_p, unravel = ravel_pytree(params)
    est = online.forward_gradient(net, mse, direction=lambda key: unravel(jax.random.normal(key, flat_p.shape)))
    loss, grad = online.run(est, params, state0, xs, targets, key=getkey())
    assert np.isfinite(loss) and jnp.linalg.norm(flat(grad)) > 0
    opt = optax.sgd(1e-3)
    est = online.forward_gradient(net, mse, num_tangents=2)
    xb = jnp.stack([xs, -xs], axis=1)
    tb = jnp.stack([targets, targets], axis=1)
    new, _, losses = online.train(est, opt, params, opt.init(params), state0, xb, tb, update_every=3, key=getkey(),
                                  batch_axis=1)
    assert losses.shape == (10,) and not np.allclose(flat(new), flat_p)


# -- S1: memory does not grow with T ---------------------------------------------------------------


def compiled_temp_bytes(fn, *args) -> int:
    return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


@pytest.mark.slow
def test_s1_online_memory_is_independent_of_sequence_length(getkey):
    net, params, state0, _, _ = make_problem("alif", getkey())
    learners = {
        "rtrl": online.rtrl(net, mse),
        "snap1": online.snap(net, mse, 1),
        "forward_gradient": online.forward_gradient(net, mse, num_tangents=2),
    }
    key = jax.random.key(0)
    sizes = {}
    for steps in (100, 1000):
        xs = jnp.zeros((steps, 3))
        targets = jnp.zeros((steps, 2))
        for name, est in learners.items():
            sizes[name, steps] = compiled_temp_bytes(lambda p, x, t, e=est: online.run(e, p, state0, x, t, key=key),
                                                     params, xs, targets)
        sizes["bptt", steps] = compiled_temp_bytes(lambda p, x, t: online.bptt(eqx.combine(p, learners["rtrl"].static),
                                                                               mse, state0, x, t), params, xs, targets)
    for name in learners:
        assert sizes[name, 100] == sizes[name, 1000], (name, sizes)
    assert sizes["bptt", 1000] > 5 * sizes["bptt", 100], sizes


# -- the API: probes, model step, errors ---------------------------------------------------------------


def test_model_step_and_spatial_signals(getkey):
    net, params, state0, xs, targets = make_problem("deep", getkey())
    est = online.rtrl(net, mse)
    state = jax.lax.scan(lambda s, x: (net(s, x)[0], None), state0, xs[:4])[0]
    expected_state, expected_y = net(state, xs[4])
    new_state, y = est.model_step(params, state, xs[4])
    assert_tree_allclose((new_state, y), (expected_state, expected_y), rtol=0)
    new_state, y, loss, signals = est.spatial_signals(params, state, xs[4], targets[4])
    assert_tree_allclose(new_state, expected_state, rtol=0)
    np.testing.assert_allclose(loss, mse(expected_y, targets[4]))
    # the readout's signal is dl/dy; the hidden layer's is the same signal pulled back through the readout
    np.testing.assert_allclose(signals.outputs[2], jax.grad(mse)(y, targets[4]))
    readout = net[2]

    def loss_of_hidden(z):
        return mse(readout(state[2], z)[1], targets[4])

    np.testing.assert_allclose(signals.outputs[1], jax.grad(loss_of_hidden)(expected_state[1].spikes), rtol=1e-12)
    assert jax.tree_util.tree_structure(signals.states) == jax.tree_util.tree_structure(state)


def test_errors_are_clear(getkey):
    net, params, state0, xs, targets = make_problem("lif", getkey())
    est = online.rtrl(net, mse)
    with pytest.raises(ValueError, match="structure of the trainable part"):
        online.run(est, net, state0, xs, targets)
    with pytest.raises(ValueError, match="must return a scalar"):
        online.run(online.rtrl(net, lambda y, t: (y - t) ** 2), params, state0, xs, targets)
    with pytest.raises(TypeError, match="loss_fn"):
        online.rtrl(net, "mse")
    with pytest.raises(TypeError, match="expected an online learner"):
        online.run(optax.sgd(0.1), params, state0, xs, targets)
    with pytest.raises(ValueError, match="time on axis 0"):
        online.run(est, params, state0, xs, targets[:5])
    with pytest.raises(ValueError, match="update_every"):
        online.train(est, optax.sgd(0.1), params, None, state0, xs, targets, update_every=0)
    with pytest.raises(ValueError, match="`n` must be"):
        online.snap(net, mse, 0)
    with pytest.raises(ValueError, match="mask"):
        online.run(online.rtrl(net, mse, mask=np.ones((3, 3), bool)), params, state0, xs, targets)
    with pytest.raises(ValueError, match="unknown tangent distribution"):
        online.forward_gradient(net, mse, dist="uniform")
    with pytest.raises(ValueError, match="num_tangents"):
        online.forward_gradient(net, mse, num_tangents=0)
    with pytest.raises(ValueError, match="PRNG key"):
        online.run(online.forward_gradient(net, mse), params, state0, xs, targets)


def test_unsupported_models_raise_clear_errors(getkey):
    k1, k2 = jax.random.split(getkey())
    graph = spikax.network.Graph({"a": dense(3, 4, LIF(), key=k1), "b": dense(4, 2, LI(), key=k2)},
                                 [("input", "a"), ("a", "b")])
    params, _ = eqx.partition(graph, spikax.trainable(graph))
    state0 = graph.init_state((3,))
    xs, targets = jnp.ones((5, 3)), jnp.zeros((5, 2))
    est = online.rtrl(graph, mse)
    # RTRL needs no probes: any model works, and equals BPTT
    _, grad = online.run(est, params, state0, xs, targets)
    assert_tree_allclose(grad, online.bptt(graph, mse, state0, xs, targets)[1], rtol=1e-9, atol=1e-12)
    # a Graph is one layer to the learners: its spatial signal is dl/dy at its output
    _, y, loss, signals = est.spatial_signals(params, state0, xs[0], targets[0])
    np.testing.assert_allclose(signals.outputs[0], jax.grad(mse)(y, targets[0]), rtol=1e-12)
    # eligibility traces need a neuron in every layer that has a state
    bad = spikax.Chain([dense(3, 4, LIF(), key=k1), spikax.layers.Dropout(0.5)])
    with pytest.raises(TypeError, match=r"spikax.online.ostl.*layer 1 \(Dropout\) has a state but no neuron"):
        online.run(online.ostl(bad, mse), eqx.partition(bad, spikax.trainable(bad))[0],
                   bad.init_state((3,), key=k2), xs, jnp.zeros((5, 4)))


# The notebook 03_online_learning.ipynb is executed by tests/test_notebooks.py.


# -- FPTT ----------------------------------------------------------------------------------------------


def test_fptt_updates_follow_the_algorithm():
    params = {"w": jnp.array([1.0, -2.0])}
    alpha, lr = 0.5, 0.1
    opt = online.fptt(optax.sgd(lr), alpha)
    state = opt.init(params)
    w, avg, lam = np.array([1.0, -2.0]), np.array([1.0, -2.0]), np.zeros(2)
    for g in (np.array([0.3, -0.4]), np.array([-1.0, 2.0]), np.array([0.5, 0.5])):
        updates, state = opt.update({"w": jnp.asarray(g)}, state, params)
        params = optax.apply_updates(params, updates)
        # by hand: a gradient step on l_t + alpha/2 |W - avg - lam/(2 alpha)|^2, then lam, then avg
        w = w - lr * (g + alpha * (w - avg - lam / (2 * alpha)))
        lam = lam - alpha * (w - avg)
        avg = 0.5 * (avg + w) - lam / (2 * alpha)
        np.testing.assert_allclose(params["w"], w, rtol=1e-14)
        np.testing.assert_allclose(state.lam["w"], lam, rtol=1e-14)
        np.testing.assert_allclose(state.average["w"], avg, rtol=1e-14)
    with pytest.raises(ValueError, match="alpha"):
        online.fptt(optax.sgd(0.1), 0.0)
    with pytest.raises(ValueError, match="needs the current parameters"):
        opt.update({"w": jnp.zeros(2)}, state)


def test_fptt_trains_online_with_any_learner(getkey):
    net, params, state0, xs, targets = make_problem("alif", getkey())
    opt = online.fptt(optax.sgd(2e-3), alpha=0.5)
    est = online.rtrl(net, mse)
    loss0 = online.run(est, params, state0, xs, targets)[0]
    opt_state = opt.init(params)
    for _ in range(3):
        params, opt_state, _ = online.train(est, opt, params, opt_state, state0, xs, targets, update_every=4)
    assert online.run(est, params, state0, xs, targets)[0] < loss0


# -- the whole neuron zoo ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("neuron", spikax.neurons.ALL_NEURONS, ids=lambda n: type(n).__name__)
def test_rtrl_equals_bptt_for_every_neuron(neuron, getkey):
    k1, k2, k3, k4 = jax.random.split(getkey(), 4)
    net = spikax.Chain([recurrent_dense(3, 4, neuron, key=k1), dense(4, 2, LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    state0 = net.init_state((3,))
    xs = 3.0 * neuron.input_scale * jax.random.normal(k3, (8, 3))
    targets = jax.random.normal(k4, (8, 2))
    _, grad_ref = online.bptt(net, mse, state0, xs, targets)
    _, grad = online.run(online.rtrl(net, mse), params, state0, xs, targets)
    assert_tree_allclose(grad, grad_ref, rtol=1e-8, atol=1e-10 * float(jnp.max(jnp.abs(flat(grad_ref)))))


@pytest.mark.parametrize("factory", [online.rtrl, online.eprop, online.ottt], ids=lambda f: f.__name__)
def test_a_new_lambda_loss_does_not_recompile(factory, getkey):
    """Two learners built around two `lambda`s of the same code share one compilation (the loss is not static)."""
    net, params, state0, xs, targets = make_problem("lif", getkey())

    def build(scale):  # a new function object every call, same code; `scale` is a captured array
        return factory(net, lambda y, t: scale * jnp.sum((y - t) ** 2))

    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, *_, **__: compiles.append(event) if event == "/jax/core/compile/backend_compile_duration" else None)
    first = online.run(build(jnp.asarray(1.0)), params, state0, xs, targets)
    assert compiles, "the listener sees compilations"
    compiles.clear()
    second = online.run(build(jnp.asarray(2.0)), params, state0, xs, targets)
    assert not compiles, "the second learner compiled again"
    # the captured value is a leaf, not baked into the compilation
    assert_tree_allclose(second, jax.tree_util.tree_map(lambda a: 2 * a, first), rtol=1e-12)


def test_online_run_errors_name_the_expected_shapes(getkey):
    net, params, state0, xs, targets = make_problem("lif", getkey())
    est = online.eprop(net, mse)
    n_out = targets.shape[1]
    with pytest.raises(ValueError, match=rf"output of one step has shape \({n_out},\).*targets shaped \[time, {n_out}\]"):
        online.run(est, params, state0, xs, jnp.zeros((xs.shape[0], n_out + 1)))
    other = spikax.Chain([dense(3, 5, LIF(), key=getkey()), dense(5, n_out, LI(), key=getkey())])
    with pytest.raises(ValueError, match=r"spikax.online.run`: the state does not belong to this Chain"):
        online.run(est, params, other.init_state((3,)), xs, targets)
    with pytest.raises(ValueError, match=r"spikax.online.train`: the state does not belong"):
        online.train(est, optax.sgd(0.1), params, optax.sgd(0.1).init(params), other.init_state((3,)), xs, targets)


@pytest.mark.parametrize("make", [lambda net: online.rtrl(net, mse),
                                  lambda net: online.forward_gradient(net, mse, num_tangents=2)],
                         ids=["rtrl", "forward_gradient"])
def test_an_explicit_chunk_gives_the_step_by_step_sums(make, getkey):
    """Learners without their own `chunk_step` run a chunk as `step` in a scan: the same loss, gradient and keys."""
    net, params, state0, xs, targets = make_problem("alif", getkey(), steps=11)
    est, key = make(net), getkey()
    want = online.run(est, params, state0, xs, targets, key=key, chunk=1)
    assert est.default_chunk == 1
    assert_tree_allclose(online.run(est, params, state0, xs, targets, key=key, chunk=4), want, rtol=1e-12, atol=1e-14)
    assert float(jnp.abs(flat(want[1])).max()) > 1e-6
