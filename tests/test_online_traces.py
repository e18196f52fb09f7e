"""Eligibility-trace learners (e-prop, OSTL, SnAp-1, OTTT, OTPE) against BPTT and closed forms.

Tests follow docs/online_learning.md: E1-E4 (e-prop), O1-O2 (OSTL/OTTT), A1-A2 (all approximate
learners), S1 (memory independent of T). float64 unless stated.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

import spikax
from spikax import online
from spikax.neurons import ALIF, ALL_NEURONS, LI, LIF, CubaLIF
from spikax.online._eligibility import detach_reset, linearize_neuron, trace_step

from helpers import assert_tree_allclose, cosine, type_name

T, N_IN, N_HID, N_OUT = 20, 4, 7, 3


def mse(y, target):
    return jnp.sum((y - target) ** 2)


def split(model):
    return eqx.partition(model, spikax.trainable(model))[0]


def scale_weight(model, index, factor):
    return eqx.tree_at(lambda m: m.layers[index].connection.weight, model,
                       model.layers[index].connection.weight * factor)


def data(key, n_in=N_IN, n_out=N_OUT, steps=T, dtype=jnp.float64):
    k1, k2 = jax.random.split(key)
    xs = (jax.random.uniform(k1, (steps, n_in)) < 0.4).astype(dtype)
    return xs, jax.random.normal(k2, (steps, n_out), dtype)


def hidden_readout(key, neuron, *, recurrent=False, readout=None, w_scale=8.0):
    """Hidden layer (dense or recurrent) of `neuron` followed by a readout (default LI(0.8))."""
    k1, k2 = jax.random.split(key)
    make = spikax.layers.recurrent_dense if recurrent else spikax.layers.dense
    readout = LI(beta=0.8) if readout is None else readout
    last = (spikax.layers.Stateless(eqx.nn.Linear(N_HID, N_OUT, key=k2)) if readout == "linear"
            else spikax.layers.dense(N_HID, N_OUT, readout, key=k2))
    net = spikax.Chain([make(N_IN, N_HID, neuron, key=k1), last])
    return scale_weight(net, 0, w_scale)


def compare(est, net, xs, targets, ref=None, chunk=None):
    """The learner's summed gradient and the BPTT gradient (`ref`, computed unless given)."""
    params = split(net)
    state0 = net.init_state((xs.shape[-1],))
    loss, grads = online.run(est, params, state0, xs, targets, chunk=chunk)
    if ref is None:
        ref_loss, ref = online.bptt(net, mse, state0, xs, targets)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    return grads, ref


def rel_gap(a, b):
    fa = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(a)])
    fb = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(b)])
    return float(jnp.linalg.norm(fa - fb) / jnp.linalg.norm(fb))


def assert_spiking(net, xs):
    """Guard against vacuous tests: the hidden layer must fire, but not all the time."""
    _, ys = spikax.run(net.layers[0], net.layers[0].init_state((xs.shape[-1],)), xs)
    rate = float(jnp.mean(ys))
    assert 0.02 < rate < 0.9, rate


# -- per-neuron trace maths ------------------------------------------------------------------


def test_lif_and_alif_traces_match_closed_forms(getkey):
    """The jvp trace reproduces e-prop's LIF and ALIF formulas (reset cut, as in e-prop)."""
    n, m = 5, 3
    xs = (jax.random.uniform(getkey(), (T, m)) < 0.5).astype(jnp.float64)
    w = 2.0 * jax.random.normal(getkey(), (n, m))
    alif = ALIF(alpha=0.9, rho=0.95, beta_a=0.3)
    alpha, rho, beta_a = 0.9, 0.95, 0.3
    surrogate = alif.surrogate

    def body(carry, x):
        state, trace, eps_v, eps_a, lif_eps = carry
        current = w @ x
        threshold = 1.0 + beta_a * state.a
        v_tilde = alpha * state.v + (1 - alpha) * current
        psi = surrogate.derivative(v_tilde - threshold)
        new_state, _, lin = linearize_neuron(detach_reset(alif), state, current)
        trace, e = trace_step(lin, trace, jnp.ones(n), (), presyn=x)
        # closed forms (Bellec et al. 2020, Methods, with the (1 - alpha) input scaling)
        eps_v_new = alpha * eps_v + (1 - alpha) * x[None, :]
        e_ref = psi[:, None] * (eps_v_new - beta_a * eps_a)
        eps_a_new = psi[:, None] * eps_v_new + (rho - beta_a * psi[:, None]) * eps_a
        return (new_state, trace, eps_v_new, eps_a_new, lif_eps), (e, e_ref, trace["n"].v, eps_v_new,
                                                                   trace["n"].a, eps_a_new)

    state = alif.init_state((n,))
    trace = {"n": jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape + (m,)), state), "z": None}
    zeros = jnp.zeros((n, m))
    _, (e, e_ref, ev, ev_ref, ea, ea_ref) = lax.scan(body, (state, trace, zeros, zeros, None), xs)
    assert float(jnp.abs(e_ref).max()) > 1e-3
    np.testing.assert_allclose(e, e_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ev, ev_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ea, ea_ref, rtol=1e-12, atol=1e-15)

    # LIF: epsilon is the (1 - beta)-scaled, beta-filtered presynaptic trace; e = psi * epsilon.
    lif = LIF(beta=0.8)

    def lif_body(carry, x):
        state, trace, x_bar = carry
        current = w @ x
        v_tilde = 0.8 * state.v + 0.2 * current
        new_state, _, lin = linearize_neuron(detach_reset(lif), state, current)
        trace, e = trace_step(lin, trace, jnp.ones(n), (), presyn=x)
        x_bar = 0.8 * x_bar + 0.2 * x
        return (new_state, trace, x_bar), (e, lif.surrogate.derivative(v_tilde - 1.0)[:, None] * x_bar[None, :])

    state = lif.init_state((n,))
    trace = {"n": jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape + (m,)), state), "z": None}
    _, (e, e_ref) = lax.scan(lif_body, (state, trace, jnp.zeros(m)), xs)
    np.testing.assert_allclose(e, e_ref, rtol=1e-12, atol=1e-15)


# -- E1-E4: e-prop ------------------------------------------------------------------------------


def test_e1_factorisation_is_exact(getkey):
    """E1: sum_t (dE/dz_t)_BPTT . e_t == BPTT for a recurrent ALIF layer (reset kept in the trace)."""
    net = hidden_readout(getkey(), ALIF(learnable=("alpha", "threshold")), recurrent=True)
    xs, targets = data(getkey())
    assert_spiking(net, xs)
    params = split(net)
    state0 = net.init_state((N_IN,))
    est = online.ostl(net, mse)
    zero_probes = est.make_probes(params, state0, xs[0])

    def total(pz):  # probes on the hidden spikes (output and fed-back copy) at every step
        def body(state, inputs):
            x, target, p = inputs
            probes = zero_probes._replace(outputs=(p,) + zero_probes.outputs[1:])
            state, y = est.model_step(params, state, x, probes)
            return state, mse(y, target)

        return lax.scan(body, state0, (xs, targets, pz))[1].sum()

    dE_dz = jax.grad(total)(jnp.zeros((T, N_HID)))
    hidden = net.layers[0]
    fields = ("raw_alpha", "raw_threshold")

    def body(carry, inputs):
        state, traces = carry
        x, signal = inputs
        current = hidden.connection.weight @ x + hidden.connection.bias + hidden.recurrent.weight @ state.spikes
        new_n, z, lin = linearize_neuron(hidden.neuron, state.neuron, current, fields)
        zf = (jnp.zeros(N_HID),) * 2
        ones = jnp.ones(N_HID)
        new_traces, grads = {}, {}
        for name, presyn, dc, df in (("W", x, ones, zf), ("R", state.spikes, ones, zf), ("b", None, ones, zf),
                                     ("alpha", None, 0 * ones, (ones, zf[1])),
                                     ("threshold", None, 0 * ones, (zf[0], ones))):
            new_traces[name], e = trace_step(lin, traces[name], dc, df, presyn=presyn)
            grads[name] = signal.reshape((N_HID,) + (1,) * (e.ndim - 1)) * e
        return (spikax.layers.RecurrentState(new_n, z), new_traces), grads

    def zeros(extra):
        return {"n": jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape + extra), state0[0].neuron), "z": None}

    traces = {"W": zeros((N_IN,)), "R": zeros((N_HID,)), "b": zeros(()), "alpha": zeros(()), "threshold": zeros(())}
    _, per_step = lax.scan(body, (state0[0], traces), (xs, dE_dz))
    got = jax.tree_util.tree_map(lambda a: a.sum(0), per_step)
    _, ref = online.bptt(net, mse, state0, xs, targets)
    ref_h = ref.layers[0]
    np.testing.assert_allclose(got["W"], ref_h.connection.weight, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["R"], ref_h.recurrent.weight, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["b"], ref_h.connection.bias, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["alpha"].sum(), ref_h.neuron.raw_alpha, rtol=1e-9)
    np.testing.assert_allclose(got["threshold"].sum(), ref_h.neuron.raw_threshold, rtol=1e-9)


def test_e2_online_eprop_equals_offline_autodiff_eprop(getkey):
    """E2: online e-prop == jax.grad with the recurrent spikes and the reset cut (adaptation kept)."""
    c, f_target = 0.3, 0.05
    net = hidden_readout(getkey(), ALIF(beta_a=0.5, learnable=("alpha", "threshold")), recurrent=True)
    xs, targets = data(getkey())
    assert_spiking(net, xs)
    params, static = eqx.partition(net, spikax.trainable(net))
    state0 = net.init_state((N_IN,))
    est = online.eprop(net, mse, readout_kappa=0.8, rate_reg=(c, f_target))
    loss, grads = online.run(est, params, state0, xs, targets)

    def offline(p):
        hidden, readout = eqx.combine(p, static).layers
        neuron = detach_reset(hidden.neuron)

        def body(carry, inputs):
            hs, rs = carry
            x, target = inputs
            current = hidden.connection(x) + hidden.recurrent(lax.stop_gradient(hs.spikes))
            new_n, z = neuron(hs.neuron, current)
            rs, y = readout(rs, z)
            return (spikax.layers.RecurrentState(new_n, z), rs), (mse(y, target), z)

        _, (losses, zs) = lax.scan(body, state0, (xs, targets))
        return losses.sum() + c * jnp.sum((zs.mean(0) - f_target) ** 2)

    ref = jax.grad(offline)(params)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)
    assert float(jnp.abs(ref.layers[0].recurrent.weight).max()) > 1e-4  # recurrent weights do learn


@pytest.mark.parametrize("readout,kappa", [(LI(beta=0.8), 0.8), ("linear", None)], ids=["leaky", "stateless"])
def test_e3_single_layer_equals_bptt_only_under_reset_condition(readout, kappa, getkey):
    """E3: R = 0, B = W_out^T: exact with a detached reset or reset_in_trace=True, not otherwise."""
    key, xs_key = getkey(), getkey()
    xs, targets = data(xs_key)
    detached = hidden_readout(key, ALIF(detach_reset=True, learnable=("alpha",)), readout=readout)
    attached = hidden_readout(key, ALIF(learnable=("alpha",)), readout=readout)
    assert_spiking(attached, xs)
    grads, ref = compare(online.eprop(detached, mse, readout_kappa=kappa), detached, xs, targets)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)
    grads, ref = compare(online.eprop(attached, mse, readout_kappa=kappa, reset_in_trace=True), attached, xs, targets)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)
    grads, _ = compare(online.eprop(attached, mse, readout_kappa=kappa), attached, xs, targets, ref)
    assert rel_gap(grads, ref) > 1e-3  # the attached reset is missing from the trace


def test_e4_given_feedback_equal_to_readout_weights_is_symmetric(getkey):
    net = hidden_readout(getkey(), ALIF(), recurrent=True)
    xs, targets = data(getkey())
    params, state0 = split(net), net.init_state((N_IN,))
    symmetric = online.run(online.eprop(net, mse, readout_kappa=0.8), params, state0, xs, targets)
    given = online.run(online.eprop(net, mse, feedback=net.layers[1].connection.weight.T, readout_kappa=0.8),
                       params, state0, xs, targets)
    assert_tree_allclose(given, symmetric, rtol=1e-12)
    random = online.eprop(net, mse, feedback="random", key=jax.random.key(1), readout_kappa=0.8)
    _, g_random = online.run(random, params, state0, xs, targets)
    assert rel_gap(g_random.layers[0], symmetric[1].layers[0]) > 1e-2
    # the readout learns from its own exact signal whatever the feedback
    assert_tree_allclose(g_random.layers[1], symmetric[1].layers[1], rtol=1e-12)


# -- O1-O2: OSTL and OTTT ------------------------------------------------------------------------


CORE = (LIF, ALIF, CubaLIF)


@pytest.mark.parametrize("neuron", [n if isinstance(n, CORE) else pytest.param(n, marks=pytest.mark.slow)
                                    for n in ALL_NEURONS], ids=type_name)
def test_o1_ostl_single_layer_equals_bptt_for_every_neuron(neuron, getkey):
    """O1: one stateful layer (any neuron of the zoo) under a memoryless (stateless, trainable) readout."""
    net = hidden_readout(getkey(), neuron, readout="linear", w_scale=8.0 * type(neuron).input_scale)
    xs, targets = data(getkey())
    grads, ref = compare(online.ostl(net, mse), net, xs, targets)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("neuron", [pytest.param(LIF(learnable=("beta", "threshold")), marks=pytest.mark.slow), CubaLIF(learnable=("alpha", "beta")),
                                    ALIF(learnable=("alpha", "rho", "beta_a", "threshold"), beta_a=0.5)],
                         ids=type_name)
def test_o1_ostl_learns_neuron_parameters_exactly(neuron, getkey):
    net = hidden_readout(getkey(), neuron, readout="linear")
    xs, targets = data(getkey())
    assert_spiking(net, xs)
    grads, ref = compare(online.ostl(net, mse), net, xs, targets)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)


def test_o2_ottt_single_layer_and_last_layer_exact(getkey):
    xs, targets = data(getkey())
    net = hidden_readout(getkey(), LIF(beta=0.8, detach_reset=True), readout="linear")
    assert_spiking(net, xs)
    grads, ref = compare(online.ottt(net, mse, trace_decay=0.8), net, xs, targets)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)
    # multi-layer: the last layer is exact, the first is not
    k1, k2, k3 = jax.random.split(getkey(), 3)
    deep = spikax.Chain([spikax.layers.dense(N_IN, N_HID, LIF(beta=0.8, detach_reset=True), key=k1),
                         spikax.layers.dense(N_HID, N_HID, LIF(beta=0.7, detach_reset=True), key=k2),
                         spikax.layers.dense(N_HID, N_OUT, LI(beta=0.9), key=k3)])
    deep = scale_weight(scale_weight(deep, 0, 3.0), 1, 3.0)
    grads, ref = compare(online.ottt(deep, mse), deep, xs, targets)
    assert_tree_allclose(grads.layers[2], ref.layers[2], rtol=1e-9, atol=1e-12)
    assert rel_gap(grads.layers[0], ref.layers[0]) > 1e-3


def test_snap1_is_exact_for_a_single_recurrent_neuron(getkey):
    """With one neuron per layer the diagonal is the whole Jacobian: SnAp-1 == RTRL == BPTT."""
    k1, k2 = jax.random.split(getkey())
    net = spikax.Chain([spikax.layers.recurrent_dense(N_IN, 1, ALIF(learnable=("alpha",)), key=k1),
                        spikax.layers.Stateless(eqx.nn.Linear(1, N_OUT, key=k2))])
    net = eqx.tree_at(lambda m: m.layers[0].recurrent.weight, scale_weight(net, 0, 3.0), jnp.array([[2.0]]))
    xs, targets = data(getkey())
    grads, ref = compare(online.snap1(net, mse), net, xs, targets)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)
    grads, _ = compare(online.ostl(net, mse), net, xs, targets, ref)
    print("OSTL gap on a self-loop:", rel_gap(grads.layers[0], ref.layers[0]))
    assert rel_gap(grads.layers[0], ref.layers[0]) > 1e-5  # OSTL misses the self-loop


# -- A1-A2: all approximate learners ---------------------------------------------------------------

LEARNERS = {
    "eprop": lambda net: online.eprop(net, mse),
    "ostl": lambda net: online.ostl(net, mse),
    "snap1": lambda net: online.snap1(net, mse),
    "ottt": lambda net: online.ottt(net, mse),
    "otpe": lambda net: online.otpe(net, mse),
}


def _slow_unless(names, keep):
    return [n if n in keep else pytest.param(n, marks=pytest.mark.slow) for n in names]


@pytest.mark.parametrize("name", _slow_unless(LEARNERS, ("eprop", "snap1", "otpe")))
def test_a1_memoryless_neurons_every_learner_equals_bptt(name, getkey):
    k1, k2, k3 = jax.random.split(getkey(), 3)
    memoryless = LIF(beta=0.0, reset="none")
    net = spikax.Chain([spikax.layers.dense(N_IN, N_HID, memoryless, key=k1),
                        spikax.layers.dense(N_HID, N_HID, memoryless, key=k2),
                        spikax.layers.dense(N_HID, N_OUT, LI(beta=0.0), key=k3)])
    xs, targets = data(getkey())
    xs = xs * 2.0
    grads, ref = compare(LEARNERS[name](net), net, xs, targets)
    assert_tree_allclose(grads, ref, rtol=1e-9, atol=1e-12)
    assert float(jnp.abs(ref.layers[0].connection.weight).max()) > 1e-4


@pytest.mark.slow
def test_a2_alignment_on_randman_float32(getkey):
    """A2 (float32 regression, not a proof): cosine to BPTT on randman, LIF 64-50-10, T = 20, batch 32."""
    spikes, labels = spikax.datasets.randman(n_classes=10, n_units=64, n_steps=20, samples_per_class=4, seed=0)
    xs = jnp.asarray(spikes[:32]).transpose(1, 0, 2)  # [time, batch, units]
    targets = jnp.broadcast_to(jax.nn.one_hot(labels[:32], 10, dtype=jnp.float32), (20, 32, 10))
    k1, k2 = jax.random.split(getkey())
    net = spikax.Chain([spikax.layers.dense(64, 50, LIF(beta=0.9, dtype=jnp.float32), key=k1, dtype=jnp.float32),
                        spikax.layers.dense(50, 10, LIF(beta=0.9, dtype=jnp.float32), key=k2, dtype=jnp.float32)])
    net = scale_weight(scale_weight(net, 0, 8.0), 1, 8.0)

    def xent(y, target):
        return -jnp.sum(target * jax.nn.log_softmax(2.0 * y))

    params, state0 = split(net), net.init_state((64,), jnp.float32)
    _, ref = online.bptt(net, xent, state0, xs, targets, batch_axis=1)
    cos = {}
    for name, make in (("ostl", online.ostl), ("ottt", online.ottt), ("otpe", online.otpe)):
        _, g = online.run(make(net, xent), params, state0, xs, targets, batch_axis=1)
        cos[name] = [cosine(g.layers[i], ref.layers[i]) for i in range(2)]
        for i in range(2):
            for leaf in ("weight", "bias"):
                a, b = getattr(g.layers[i].connection, leaf), getattr(ref.layers[i].connection, leaf)
                print(f"A2 {name} layer {i} {leaf}: cosine {cosine(a, b):.5f}")
    assert cos["ostl"][1] >= 0.999
    assert cos["ottt"][1] >= 0.99
    assert cos["otpe"][0] >= 0.85


# -- S1: memory does not grow with T ---------------------------------------------------------------


@pytest.mark.parametrize("name", _slow_unless(["eprop", "snap1", "otpe"], ("eprop", "otpe")))
def test_s1_compiled_memory_is_independent_of_sequence_length(name, getkey):
    net = hidden_readout(getkey(), LIF() if name in ("ottt", "otpe") else ALIF(), recurrent=True)
    est = LEARNERS[name](net)
    params, state0 = split(net), net.init_state((N_IN,))

    def temp(steps, chunk):
        xs, targets = jnp.zeros((steps, N_IN)), jnp.zeros((steps, N_OUT))
        run = jax.jit(lambda p, x, t: online.run(est, p, state0, x, t, chunk=chunk))
        return run.lower(params, xs, targets).compile().memory_analysis().temp_size_in_bytes

    assert temp(100, 1) == temp(1000, 1)  # step by step
    assert temp(4 * est.default_chunk, None) == temp(40 * est.default_chunk, None)  # in chunks (no shorter last one)


# -- the learners inside training, batching and jit ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.standard_promotion
def test_eprop_trains_online_with_batches(getkey):
    net = hidden_readout(getkey(), ALIF(), recurrent=True)
    xs = jnp.stack([data(getkey())[0] for _ in range(4)], axis=1)  # [T, batch, N_IN]
    targets = jnp.ones((T, 4, N_OUT))
    est = online.eprop(net, mse, feedback="random", key=getkey(), readout_kappa=0.8, rate_reg=(0.1, 0.05))
    opt = optax.adam(3e-2)
    params, state0 = split(net), net.init_state((N_IN,))
    opt_state = opt.init(params)
    first = None
    train = jax.jit(lambda p, o: online.train(est, opt, p, o, state0, xs, targets, update_every=5, batch_axis=1))
    for _ in range(6):
        params, opt_state, losses = train(params, opt_state)
        first = float(losses.mean()) if first is None else first
    assert float(losses.mean()) < 0.7 * first


def test_float32_gradients_keep_dtype(getkey):
    k1, k2 = jax.random.split(getkey())
    net = spikax.Chain([spikax.layers.recurrent_dense(N_IN, N_HID, ALIF(dtype=jnp.float32), key=k1, dtype=jnp.float32),
                        spikax.layers.dense(N_HID, N_OUT, LI(dtype=jnp.float32), key=k2, dtype=jnp.float32)])
    xs, targets = data(getkey(), dtype=jnp.float32)
    params, state0 = split(net), net.init_state((N_IN,), jnp.float32)
    for name in ("eprop", "otpe"):  # the diagonal and the separable code paths
        loss, grads = online.run(LEARNERS[name](net), params, state0, xs, targets)
        assert loss.dtype == jnp.float32
        assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(grads))


# -- errors ---------------------------------------------------------------------------------------


def test_errors_name_the_learner_and_the_fix(getkey):
    k1, k2 = jax.random.split(getkey())
    conv = spikax.Chain([spikax.layers.Layer(eqx.nn.Conv1d(1, 2, 3, padding=1, key=k1), LIF()),
                         spikax.layers.Stateless(jnp.ravel)])
    with pytest.raises(TypeError, match=r"spikax.online.eprop.*Conv1d.*equinox.nn.Linear"):
        online.eprop(conv, mse)
    net = hidden_readout(k2, ALIF(), recurrent=True)
    with pytest.raises(ValueError, match=r"spikax.online.eprop.*unknown feedback 'randm'"):
        online.eprop(net, mse, feedback="randm")
    with pytest.raises(ValueError, match=r"needs a PRNG key"):
        online.eprop(net, mse, feedback="random")
    with pytest.raises(ValueError, match=r"feedback matrix has shape \(3, 7\), expected \(7, 3\)"):
        online.eprop(net, mse, feedback=jnp.zeros((3, 7)))
    with pytest.raises(ValueError, match=r"rate_reg"):
        online.eprop(net, mse, rate_reg=0.1)
    with pytest.raises(ValueError, match=r"readout_kappa"):
        online.eprop(net, mse, readout_kappa=1.5)
    with pytest.raises(TypeError, match=r"reset_in_trace"):
        online.eprop(net, mse, reset_in_trace="yes")
    cuba = hidden_readout(k2, CubaLIF())
    with pytest.raises(ValueError, match=r"spikax.online.ottt.*CubaLIF.*no single membrane leak.*trace_decay"):
        online.ottt(cuba, mse)
    online.ottt(cuba, mse, trace_decay=0.9)  # an explicit decay is fine
    with pytest.raises(ValueError, match=r"spikax.online.otpe.*CubaLIF"):
        online.otpe(hidden_readout(k2, LIF(), readout=CubaLIF()), mse)
    with pytest.raises(ValueError, match=r"trace_decay"):
        online.ottt(net, mse, trace_decay=2.0)
    with pytest.raises(ValueError, match=r"single stateful layer"):
        online.eprop(hidden_readout(k2, LIF(), readout="linear"), mse, feedback="random", key=k1)
    assert isinstance(online.eprop(net, mse, feedback="symmetric"), online.EligibilityEngine)


def test_eprop_readout_filter_defaults_to_the_readout_leak(getkey):
    """The readout filter comes from the readout neuron's leak: equal to `readout_kappa=0.8` for LI(0.8), and
    closer to BPTT on the hidden layer than no filter (`readout_kappa=0`, the old default)."""
    for _ in range(3):
        net = hidden_readout(getkey(), LIF(), recurrent=True)
        xs, targets = data(getkey())
        default, ref = compare(online.eprop(net, mse), net, xs, targets)
        explicit, _ = compare(online.eprop(net, mse, readout_kappa=0.8), net, xs, targets, ref)
        unfiltered, _ = compare(online.eprop(net, mse, readout_kappa=0.0), net, xs, targets, ref)
        assert_tree_allclose(default, explicit, rtol=1e-12, atol=1e-15)
        hidden = lambda g: g.layers[0]  # noqa: E731
        assert cosine(hidden(default), hidden(ref)) > cosine(hidden(unfiltered), hidden(ref)) + 1e-3


def test_eprop_refuses_a_readout_its_default_filter_cannot_follow(getkey):
    """The default readout filter needs a leaky, non-spiking readout with one leak: a clear error otherwise, and an
    explicit `readout_kappa` (or a memoryless readout, or a single layer that is its own readout) is accepted."""
    readouts = {"LIF": (LIF(), r"readout is a spiking LIF neuron.*non-spiking.*readout_kappa="),
                "CubaLIF": (CubaLIF(), r"readout is a spiking CubaLIF"),
                "ALIF": (ALIF(), r"spiking ALIF"),
                "LI per neuron": (LI(beta=jnp.linspace(0.7, 0.9, N_OUT)),
                                  rf"readout LI neuron has one leak per neuron \(shape \({N_OUT},\)\).*readout_kappa=")}
    for name, (neuron, message) in readouts.items():
        net = hidden_readout(getkey(), LIF(), readout=neuron)
        with pytest.raises(ValueError, match=rf"spikax\.online\.eprop.*{message}"):
            online.eprop(net, mse)
        online.eprop(net, mse, readout_kappa=0.5)  # the filter chosen explicitly
    online.eprop(hidden_readout(getkey(), LIF(), readout="linear"), mse)  # memoryless readout: no filter
    single = spikax.layers.dense(N_IN, N_OUT, LIF(), key=getkey())
    online.eprop(single, mse)  # one layer: it is its own readout, learning from its exact signal


@pytest.mark.parametrize("neuron", [LIF(), LIF(beta=0.7, threshold=jnp.linspace(0.8, 1.2, N_HID), learnable="beta"),
                                    spikax.neurons.IF(), CubaLIF(alpha=0.7, beta=0.8)], ids=type_name)
def test_factorised_eprop_traces_equal_the_general_path(neuron, getkey):
    """e-prop on a layer whose neurons share one constant Jacobian (LIF, IF, CubaLIF) keeps presynaptic traces
    (outer-product eligibilities); same gradient as the per-synapse path."""
    import dataclasses

    net = hidden_readout(getkey(), neuron, recurrent=True)
    xs, targets = data(getkey())
    for kwargs in ({}, {"rate_reg": (0.1, 0.05)}, {"feedback": "random", "key": getkey()}):
        fast = online.eprop(net, mse, **kwargs)
        assert any(fast.traces.factorised(fast.plans[0], slot) for slot in fast.plans[0].slots)
        general = dataclasses.replace(fast, traces=online.DiagonalTraces(False, factorise=False))
        got, ref = compare(fast, net, xs, targets, chunk=1)  # step by step (chunks keep per-synapse traces)
        expected, _ = compare(general, net, xs, targets, ref, chunk=1)
        assert_tree_allclose(got, expected, rtol=1e-10, atol=1e-13)
    # the factorised state is one presynaptic trace per weight input and state component, not one per synapse
    lstate = fast.init(split(net), net.init_state((N_IN,)))
    assert [leaf.shape for leaf in jax.tree_util.tree_leaves(lstate[0].traces[0])] == \
        [(N_IN,)] * len(jax.tree_util.tree_leaves(net.layers[0].neuron_state(net.layers[0].init_state((N_IN,)))))


@pytest.mark.parametrize("neuron", [ALIF(), CubaLIF(), LIF(reset="zero")], ids=type_name)
def test_weight_traces_from_the_read_jacobian_equal_one_jvp_per_input(neuron, getkey):
    """Weight traces read from the neuron's k x k Jacobian once per step (e-prop, OSTL, SnAp-1) equal the
    jvp-per-input path."""
    net = hidden_readout(getkey(), neuron)
    x = (jax.random.uniform(getkey(), (N_IN,)) < 0.5).astype(jnp.float64)
    layer = net.layers[0]
    state = jax.tree_util.tree_map(lambda a: a + 0.3, layer.init_state((N_IN,)))
    _, _, signals = layer.step(state, x)
    _, _, lin = linearize_neuron(layer.neuron, state, signals.current)
    plan = online._eligibility.plan_layer("test", 0, layer, split(layer))
    slot = plan.slots[0]
    # without and with SnAp-1's self-recurrence (the trace's output returning through R_jj)
    for self_weight in (None, jax.random.normal(getkey(), (N_HID,))):
        ctx = online._eligibility.LayerContext(lin, state, signals.current, signals, self_weight)
        trace = online.DiagonalTrace(
            jax.tree_util.tree_map(lambda a: jax.random.normal(getkey(), a.shape + (N_IN,), a.dtype), state),
            None if self_weight is None else jax.random.normal(getkey(), (N_HID, N_IN)))
        fast = online._eligibility._diagonal_update(ctx, plan, slot, trace, explicit=True)
        general = online._eligibility._diagonal_update(ctx, plan, slot, trace, explicit=False)
        assert_tree_allclose(fast, general, rtol=1e-12, atol=1e-14)


# -- chunks: many steps at once, the same sums ---------------------------------------------------------

CHUNK_CASES = {
    "eprop-ALIF": (ALIF(), lambda net, key: online.eprop(net, mse)),
    "eprop-ALIF-rate-random": (ALIF(), lambda net, key: online.eprop(net, mse, rate_reg=(0.2, 0.05),
                                                                      feedback="random", key=key)),
    "eprop-LIF-learnable": (LIF(beta=0.7, learnable=("beta", "threshold")), lambda net, key: online.eprop(net, mse)),
    "ostl-CubaLIF": (CubaLIF(alpha=0.7, beta=0.8), lambda net, key: online.ostl(net, mse)),
    "snap1-ALIF": (ALIF(), lambda net, key: online.snap1(net, mse)),
    "ottt-LIF": (LIF(), lambda net, key: online.ottt(net, mse)),
    "otpe-ALIF": (ALIF(), lambda net, key: online.otpe(net, mse)),
}


@pytest.mark.parametrize("case", list(CHUNK_CASES))
def test_chunks_give_the_step_by_step_sums(case, getkey):
    """`run` in chunks (unit-column coefficients, matrix products per chunk) equals the learner step by step, f64,
    for chunks that do and do not divide T, with and without a batch."""
    neuron, make = CHUNK_CASES[case]
    net = hidden_readout(getkey(), neuron, recurrent=True)
    est = make(net, getkey())
    params, state0 = split(net), net.init_state((N_IN,))
    xs, targets = data(getkey(), steps=23)
    assert_spiking(net, xs)
    loss1, step_by_step = online.run(est, params, state0, xs, targets, chunk=1)
    for chunk in (5, 23, 64):
        loss, chunked = online.run(est, params, state0, xs, targets, chunk=chunk)
        np.testing.assert_allclose(loss, loss1, rtol=1e-13)
        assert_tree_allclose(chunked, step_by_step, rtol=1e-11, atol=1e-13)
    batch = jnp.stack([xs, jnp.roll(xs, 3, axis=0)], axis=1), jnp.stack([targets, -targets], axis=1)
    want = online.run(est, params, state0, *batch, batch_axis=1, chunk=1)
    assert_tree_allclose(online.run(est, params, state0, *batch, batch_axis=1, chunk=7), want, rtol=1e-11, atol=1e-13)
    # the hidden weights are the ones whose traces the chunks fold: they must carry a gradient here
    assert float(jnp.abs(step_by_step.layers[0].recurrent.weight).max()) > 1e-4


def test_chunks_of_a_single_layer_and_a_stateless_readout(getkey):
    layer = spikax.layers.recurrent_dense(N_IN, N_OUT, ALIF(), key=getkey())
    net = hidden_readout(getkey(), LIF(), readout="linear")
    xs, targets = data(getkey(), steps=17)
    for model in (scale_weight(spikax.Chain([layer]), 0, 8.0).layers[0], net):
        est = online.ostl(model, mse)
        params, state0 = split(model), model.init_state((N_IN,))
        want = online.run(est, params, state0, xs, targets, chunk=1)
        assert_tree_allclose(online.run(est, params, state0, xs, targets, chunk=4), want, rtol=1e-11, atol=1e-13)


def test_a_bad_chunk_is_refused(getkey):
    net = hidden_readout(getkey(), LIF())
    est, xs, targets = online.eprop(net, mse), *data(getkey())
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="`chunk` must be a whole number of steps >= 1"):
            online.run(est, split(net), net.init_state((N_IN,)), xs, targets, chunk=bad)


@pytest.mark.standard_promotion  # optax's adam mixes Python floats and int32 counts
@pytest.mark.parametrize("batch_axis", [None, 1])
def test_train_in_chunks_equals_train_step_by_step(batch_axis, getkey):
    """`train` advances in chunks that divide `update_every` (here 6 -> 6, then a last chunk of 2 steps and an update
    for the remainder); the parameters it returns are those of the step-by-step run."""
    net = hidden_readout(getkey(), ALIF(), recurrent=True)
    est = online.eprop(net, mse, rate_reg=(0.1, 0.05))
    params, state0 = split(net), net.init_state((N_IN,))
    xs, targets = data(getkey(), steps=20)
    if batch_axis is not None:
        xs, targets = jnp.stack([xs, 1 - xs], axis=1), jnp.stack([targets, -targets], axis=1)
    opt = optax.adam(1e-2)
    run = lambda chunk: online.train(est, opt, params, opt.init(params), state0, xs, targets,  # noqa: E731
                                     update_every=6, batch_axis=batch_axis, chunk=chunk)
    got, want = run(None), run(1)
    assert_tree_allclose(got[0], want[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-10, atol=1e-12)
    assert not np.allclose(got[0].layers[0].recurrent.weight, params.layers[0].recurrent.weight)
    with pytest.raises(ValueError, match="does not divide `update_every=6`"):
        run(4)


@pytest.mark.standard_promotion  # optax's adam mixes Python floats and int32 counts
def test_factorised_traces_stay_exact_when_training_changes_the_gain(getkey):
    """Online updates change a learnable leak mid-sequence, and with it the neuron's input gain (1 - β): the
    factorised presynaptic trace keeps the gain inside, so step by step it equals the per-synapse path (and chunks)."""
    import dataclasses

    net = hidden_readout(getkey(), LIF(beta=0.8, learnable="beta"), readout=LI(beta=0.7, learnable="beta"))
    est = online.eprop(net, mse)
    general = dataclasses.replace(est, traces=online.DiagonalTraces(False, factorise=False))
    params, state0 = split(net), net.init_state((N_IN,))
    xs, targets = data(getkey(), steps=12)
    opt = optax.adam(0.05)
    run = lambda e, chunk: online.train(e, opt, params, opt.init(params), state0, xs, targets,  # noqa: E731
                                        update_every=3, chunk=chunk)
    want = run(general, 1)
    assert_tree_allclose(run(est, 1)[0], want[0], rtol=1e-10, atol=1e-12)
    assert_tree_allclose(run(est, None)[0], want[0], rtol=1e-10, atol=1e-12)
    assert not np.allclose(want[0].layers[1].neuron.raw_beta, params.layers[1].neuron.raw_beta)
