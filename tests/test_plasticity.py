"""spikax.plasticity: closed forms, conv == unfolded dense, layer-step integration, jit/vmap, errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

import spikax
from helpers import assert_tree_allclose

P = spikax.plasticity


def run_rule(rule, pres, posts, weights, state=None, rewards=None):
    """Run a rule over [T, ...] pre/post trains with fixed weights; returns (dws [T, ...], final state)."""
    state = rule.init(weights) if state is None else state

    def body(s, inputs):
        pre, post, reward = inputs
        dw, s = rule.update(pre, post, s, weights, reward)
        return s, dw

    rewards = rewards if rewards is not None else None
    state, dws = lax.scan(body, state, (pres, posts, rewards))
    return dws, state


def one_pair(t_pre, t_post, steps=60):
    pre = np.zeros((steps, 1))
    post = np.zeros((steps, 1))
    pre[t_pre, 0] = 1.0
    post[t_post, 0] = 1.0
    return jnp.asarray(pre), jnp.asarray(post)


# -- pair STDP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("interaction", ["all_to_all", "nearest"])
@pytest.mark.parametrize("bounds", ["additive", "multiplicative"])
@pytest.mark.parametrize("delta", [7, 0, -5])
def test_stdp_single_pair_gives_the_textbook_window(interaction, bounds, delta):
    a_plus, a_minus, tau_plus, tau_minus, dt = 0.01, 0.015, 16.0, 27.0, 0.5
    w0, w_max = 0.3, 1.0
    rule = P.stdp(a_plus, a_minus, tau_plus, tau_minus, dt, interaction=interaction, bounds=bounds,
                  w_max=w_max if bounds == "multiplicative" else None)
    t_pre = 20
    pre, post = one_pair(t_pre, t_pre + delta)
    dws, _ = run_rule(rule, pre, post, jnp.full((1, 1), w0))
    lag = delta * dt  # t_post - t_pre, in the unit of tau
    if delta >= 0:
        expected = a_plus * math.exp(-lag / tau_plus) * ((w_max - w0) if bounds == "multiplicative" else 1.0)
    else:
        expected = -a_minus * math.exp(lag / tau_minus) * (w0 if bounds == "multiplicative" else 1.0)
    np.testing.assert_allclose(float(dws.sum()), expected, rtol=1e-12)


def test_stdp_nearest_only_pairs_neighbours_and_all_to_all_sums_every_pair():
    tau = 10.0
    pre = np.zeros((30, 1))
    pre[[2, 6], 0] = 1.0
    post = np.zeros((30, 1))
    post[12, 0] = 1.0
    w = jnp.zeros((1, 1))
    all_dw, _ = run_rule(P.stdp(1.0, 0.0, tau, tau), jnp.asarray(pre), jnp.asarray(post), w)
    near_dw, _ = run_rule(P.stdp(1.0, 0.0, tau, tau, interaction="nearest"), jnp.asarray(pre), jnp.asarray(post), w)
    np.testing.assert_allclose(float(all_dw.sum()), math.exp(-10 / tau) + math.exp(-6 / tau), rtol=1e-12)
    np.testing.assert_allclose(float(near_dw.sum()), math.exp(-6 / tau), rtol=1e-12)


def test_stdp_hard_bounds_clip_the_weight():
    rule = P.stdp(0.5, 0.5, 20.0, 20.0, w_min=0.0, w_max=1.0)
    w = jnp.array([[0.9, 0.1]])
    state = rule.init(w)
    _, state = rule.update(jnp.array([1.0, 0.0]), jnp.zeros(1), state, w)
    dw, state = rule.update(jnp.zeros(2), jnp.ones(1), state, w)  # potentiates synapse 0 by 0.5 e^{-1/20}
    np.testing.assert_allclose(np.asarray(w + dw), [[1.0, 0.1]])
    dw, _ = rule.update(jnp.array([0.0, 1.0]), jnp.zeros(1), state, w)  # depresses synapse 1 by ~0.5
    np.testing.assert_allclose(np.asarray(w + dw), [[0.9, 0.0]])


# -- triplet STDP: Pfister & Gerstner's pairing-frequency experiment ---------------------------------


def pairing_protocol(delta_ms, rate_hz, pairs=60):
    """60 pre/post pairs at `rate_hz` with post - pre = `delta_ms` (dt = 1 ms), plus a silent tail."""
    period = int(round(1000.0 / rate_hz))
    steps = pairs * period + 200
    first = 100
    pre = np.zeros((steps, 1))
    post = np.zeros((steps, 1))
    times = first + period * np.arange(pairs)
    pre[times, 0] = 1.0
    post[times + delta_ms, 0] = 1.0
    return jnp.asarray(pre), jnp.asarray(post)


@pytest.mark.parametrize("minimal", [True, False], ids=["minimal", "full"])
def test_triplet_rule_reproduces_the_pairing_frequency_experiment(minimal):
    rule = P.triplet_visual_cortex("all_to_all", minimal=minimal, dt=1.0)
    w = jnp.zeros((1, 1))
    run = jax.jit(lambda pre, post: run_rule(rule, pre, post, w)[0].sum())
    rates = [1.0, 10.0, 20.0, 40.0, 50.0]
    plus = [float(run(*pairing_protocol(10, f))) for f in rates]
    minus = [float(run(*pairing_protocol(-10, f))) for f in rates]
    # pre-before-post: potentiation at every frequency, growing with frequency
    assert all(v > 0 for v in plus), plus
    assert all(b > a for a, b in zip(plus, plus[1:])), plus
    # post-before-pre: depression at low frequency turning into potentiation at high frequency
    assert minus[0] < 0 and minus[-1] > 0, minus
    # the pair rule alone (no triplet term) cannot turn post-before-pre into potentiation
    pair_only = P.triplet_stdp(0.0, 0.0, 7.1e-3, 0.0)
    assert float(run_rule(pair_only, *pairing_protocol(-10, 50.0), w)[0].sum()) < 0


def test_triplet_single_pair_matches_the_pair_window():
    # one pair: the triplet terms see empty slow traces, only A2 terms act
    rule = P.triplet_stdp(0.004, 0.5, 0.003, 0.5, tau_plus=15.0, tau_minus=30.0)
    for delta, expected in [(8, 0.004 * math.exp(-8 / 15)), (-8, -0.003 * math.exp(-8 / 30))]:
        dws, _ = run_rule(rule, *one_pair(20, 20 + delta), jnp.zeros((1, 1)))
        np.testing.assert_allclose(float(dws.sum()), expected, rtol=1e-12)


def test_triplet_post_post_pre_closed_form():
    # post at 0, pre at 10, post at 20: the second post sees o2 = e^{-20/tau_y}
    tau_plus, tau_minus, tau_y = 15.0, 30.0, 100.0
    rule = P.triplet_stdp(0.0, 1.0, 0.0, 0.0, tau_plus=tau_plus, tau_minus=tau_minus, tau_y=tau_y)
    pre = np.zeros((40, 1))
    post = np.zeros((40, 1))
    post[[5, 25], 0] = 1.0
    pre[15, 0] = 1.0
    dws, _ = run_rule(rule, jnp.asarray(pre), jnp.asarray(post), jnp.zeros((1, 1)))
    np.testing.assert_allclose(float(dws.sum()), math.exp(-10 / tau_plus) * math.exp(-20 / tau_y), rtol=1e-12)


@pytest.mark.parametrize("interaction", ["all_to_all", "nearest"])
def test_triplet_slow_post_trace_sums_or_keeps_the_nearest(interaction):
    tau_plus, tau_y = 15.0, 100.0
    rule = P.triplet_stdp(0.0, 1.0, 0.0, 0.0, tau_plus=tau_plus, tau_y=tau_y, interaction=interaction)
    pre, post = np.zeros((40, 1)), np.zeros((40, 1))
    post[[5, 10, 25], 0] = 1.0
    pre[15, 0] = 1.0
    dws, _ = run_rule(rule, jnp.asarray(pre), jnp.asarray(post), jnp.zeros((1, 1)))
    o2 = math.exp(-15 / tau_y) + (math.exp(-20 / tau_y) if interaction == "all_to_all" else 0.0)
    np.testing.assert_allclose(float(dws.sum()), math.exp(-10 / tau_plus) * o2, rtol=1e-12)


# -- reward-modulated STDP ---------------------------------------------------------------------------


def test_reward_modulated_stdp_closed_form():
    a_plus, tau_plus, tau_e = 0.02, 10.0, 50.0
    rule = P.reward_modulated(P.stdp(a_plus, 0.0, tau_plus, 20.0), tau_e=tau_e)
    pre, post = one_pair(5, 9, steps=40)
    rewards = jnp.zeros(40).at[30].set(2.0)
    dws, _ = run_rule(rule, pre, post, jnp.zeros((1, 1)), rewards=rewards)
    expected = 2.0 * a_plus * math.exp(-4 / tau_plus) * math.exp(-(30 - 9) / tau_e)
    np.testing.assert_allclose(float(dws.sum()), expected, rtol=1e-12)
    assert float(jnp.abs(dws[:30]).sum()) == 0.0  # nothing changes before the reward


# -- rate rules -----------------------------------------------------------------------------------------


def test_oja_converges_to_the_first_principal_component(getkey):
    rotation, _ = jnp.linalg.qr(jax.random.normal(getkey(), (3, 3)))
    cov = rotation @ jnp.diag(jnp.array([4.0, 1.0, 0.25])) @ rotation.T
    xs = jax.random.multivariate_normal(getkey(), jnp.zeros(3), cov, (4000,))
    rule = P.oja(lr=0.005)
    w0 = jax.random.normal(getkey(), (1, 3)) * 0.1

    def body(w, x):
        dw, _ = rule.update(x, w @ x, P.EmptyState(), w)
        return w + dw, None

    w, _ = lax.scan(body, w0, xs)
    pc1 = rotation[:, 0]
    assert abs(float(w[0] @ pc1)) / float(jnp.linalg.norm(w)) > 0.995
    np.testing.assert_allclose(float(jnp.linalg.norm(w)), 1.0, atol=0.05)


def test_hebbian_and_bcm_closed_forms():
    x, y = jnp.array([1.0, 2.0]), jnp.array([3.0])
    w = jnp.ones((1, 2))
    dw, _ = P.hebbian(lr=0.5).update(x, y, P.EmptyState(), w)
    np.testing.assert_allclose(np.asarray(dw), [[1.5, 3.0]])
    rule = P.bcm(lr=0.1, tau_theta=10.0, theta0=1.0)
    dw, state = rule.update(x, y, rule.init(w), w)
    np.testing.assert_allclose(np.asarray(dw), 0.1 * 3.0 * (3.0 - 1.0) * np.array([[1.0, 2.0]]))
    rate = 1 - math.exp(-1 / 10)
    np.testing.assert_allclose(np.asarray(state.theta), [1.0 + rate * (9.0 - 1.0)])


def test_bcm_threshold_slides_to_the_mean_square_activity():
    rule = P.bcm(lr=0.0, tau_theta=5.0)
    w = jnp.ones((1, 1))
    state = rule.init(w)
    for _ in range(200):
        _, state = rule.update(jnp.ones(1), jnp.array([2.0]), state, w)
    np.testing.assert_allclose(np.asarray(state.theta), [4.0], rtol=1e-9)


# -- short-term plasticity -------------------------------------------------------------------------------


@pytest.mark.parametrize("tau_f", [None, 80.0], ids=["depression", "facilitation"])
def test_tsodyks_markram_matches_its_steady_state(tau_f):
    U, tau_d, interval = 0.3, 150.0, 25
    stp = P.tsodyks_markram(U=U, tau_d=tau_d, tau_f=tau_f, dt=1.0)
    spikes = jnp.zeros((interval * 80,)).at[::interval].set(1.0)[:, None]
    _, releases = lax.scan(lambda s, pre: stp.update(pre, s)[::-1], stp.init((1,)), spikes)
    e_f = 0.0 if tau_f is None else math.exp(-interval / tau_f)
    e_d = math.exp(-interval / tau_d)
    u_star = U / (1 - (1 - U) * e_f)
    x_star = (1 - e_d) / (1 - (1 - u_star) * e_d)
    np.testing.assert_allclose(float(releases[-interval, 0]), u_star * x_star, rtol=1e-10)
    np.testing.assert_allclose(float(releases[0, 0]), U)  # the first spike releases U
    assert float(jnp.abs(releases[1:interval]).sum()) == 0.0  # no release without a spike


# -- competition and homeostasis --------------------------------------------------------------------------


def test_competition_and_homeostasis_closed_forms():
    np.testing.assert_array_equal(np.asarray(P.kwta(jnp.array([0.2, 0.9, 0.9, 0.1]), k=2)), [0, 1, 1, 0])
    np.testing.assert_array_equal(np.asarray(P.kwta(jnp.array([0.5, 0.5, 0.5]), k=1)), [1, 0, 0])  # ties: lowest index
    fmap = jnp.array([[[1.0, 0.0]], [[2.0, -1.0]]])  # [channels, 1, 2]
    np.testing.assert_array_equal(np.asarray(P.kwta(fmap, k=1, axis=0)), [[[0, 1]], [[1, 0]]])
    np.testing.assert_allclose(np.asarray(P.lateral_inhibition(jnp.array([1.0, 2.0, 3.0]), 0.5)), [-1.5, 0.0, 1.5])
    thr = P.adaptive_threshold(increment=0.2, tau=10.0)
    state = thr.init((2,))
    theta, state = thr.update(jnp.array([1.0, 0.0]), state)
    theta, state = thr.update(jnp.array([1.0, 1.0]), state)
    np.testing.assert_allclose(np.asarray(theta), [0.2 * math.exp(-0.1) + 0.2, 0.2])
    w = P.normalize_weights(jnp.array([[3.0, 4.0], [1.0, -1.0]]), norm=2.0, ord=1)
    np.testing.assert_allclose(np.asarray(jnp.abs(w).sum(axis=1)), [2.0, 2.0])
    kernel = P.normalize_weights(jax.random.normal(jax.random.key(0), (3, 2, 3, 3)))
    np.testing.assert_allclose(np.asarray(jnp.sqrt((kernel**2).sum(axis=(1, 2, 3)))), np.ones(3), rtol=1e-9)


def test_synaptic_scaling_moves_rates_toward_the_target():
    rule = P.synaptic_scaling(target=0.5, lr=0.1, tau=1.0)
    w = jnp.ones((2, 3))
    dw, state = rule.update(jnp.ones(3), jnp.array([1.0, 0.0]), rule.init(w), w)
    rate = 1 - math.exp(-1.0)
    np.testing.assert_allclose(np.asarray(state.rate), [rate, 0.0])
    np.testing.assert_allclose(np.asarray(dw[:, 0]), [0.1 * (0.5 - rate), 0.1 * 0.5])


# -- convolutions equal the unfolded dense layer ----------------------------------------------------------

RULES = {
    "stdp": lambda: P.stdp(0.01, 0.012, 5.0, 7.0),
    "stdp_nearest_clipped": lambda: P.stdp(0.3, 0.2, 5.0, 7.0, interaction="nearest", w_min=-0.2, w_max=0.2),
    "stdp_multiplicative": lambda: P.stdp(0.01, 0.012, 5.0, 7.0, bounds="multiplicative", w_min=-1.0, w_max=1.0),
    "triplet": lambda: P.triplet_stdp(0.01, 0.02, 0.012, 0.005, tau_plus=5.0, tau_minus=7.0, tau_x=20.0, tau_y=30.0),
    "hebbian": lambda: P.hebbian(0.1),
    "oja": lambda: P.oja(0.1),
    "bcm": lambda: P.bcm(0.1, tau_theta=3.0, theta0=0.5),
    "synaptic_scaling": lambda: P.synaptic_scaling(0.3, lr=0.1, tau=3.0),
}
GEOMETRIES = [  # (spatial input, kernel, stride, padding, dilation)
    ((6, 6), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((7, 6), (3, 2), (2, 1), ((1, 1), (0, 2)), (1, 1)),
    ((7, 7), (2, 3), (1, 2), ((1, 0), (2, 2)), (2, 1)),
    ((9,), (3,), (2,), ((2, 1),), (2,)),
]


GEOMETRY_IDS = ["plain", "stride_padding", "dilation", "conv1d"]
# every rule on the padded, strided geometry; the weight-dependent ones (where padding matters) on all
CONV_CASES = [pytest.param(name, GEOMETRIES[1], id=f"{name}-stride_padding") for name in RULES] + [
    pytest.param(name, geometry, id=f"{name}-{gid}") for name, gid in (
        ("oja", "plain"), ("oja", "dilation"), ("stdp_nearest_clipped", "conv1d"), ("stdp_multiplicative", "dilation"))
    for geometry in [GEOMETRIES[GEOMETRY_IDS.index(gid)]]]


@pytest.mark.parametrize("name, geometry", CONV_CASES)
def test_conv_update_equals_the_unfolded_dense_update(name, geometry):
    spatial, ksize, stride, padding, dilation = geometry
    c_in, c_out, steps = 2, 3, 5
    rng = np.random.default_rng(0)  # NumPy draws: no compilation per shape
    kernel = jnp.asarray(0.15 * rng.normal(size=(c_out, c_in) + ksize))

    def conv_fn(w, x):
        return lax.conv_general_dilated(x[None], w, stride, padding, rhs_dilation=dilation)[0]

    x_shape = (c_in,) + spatial
    y_shape = jax.eval_shape(conv_fn, kernel, jnp.zeros(x_shape)).shape
    xs = jnp.asarray((rng.random((steps,) + x_shape) < 0.4).astype(np.float64))
    ys = jnp.asarray((rng.random((steps,) + tuple(y_shape)) < 0.4).astype(np.float64))

    # the unfolded layer: W_big[o, i] = sum_k ties[o, i, k] w_k, where ties[:, i, k] is the
    # convolution of the i-th unit input with the k-th unit kernel
    n_in, n_out, n_k = math.prod(x_shape), math.prod(y_shape), kernel.size
    unit_inputs = jnp.eye(n_in).reshape((n_in,) + x_shape)
    unit_kernels = jnp.eye(n_k).reshape((n_k * c_out, c_in) + ksize)  # all unit kernels as output channels
    ties = lax.conv_general_dilated(unit_inputs, unit_kernels, stride, padding, rhs_dilation=dilation)
    ties = ties.reshape(n_in, n_k, n_out).transpose(2, 0, 1)
    big = jnp.einsum("oik,k->oi", ties, kernel.ravel())
    dense_dws, _ = run_rule(RULES[name](), xs.reshape(steps, n_in), ys.reshape(steps, n_out), big)
    expected = jnp.einsum("oi,oik->k", dense_dws.sum(0), ties).reshape(kernel.shape)

    rule = P.conv(RULES[name](), stride=stride, padding=padding, dilation=dilation)
    total, _ = run_rule(rule, xs, ys, kernel, state=rule.init(kernel, x_shape))
    total = total.sum(0)
    assert float(jnp.abs(expected).max()) > 0
    np.testing.assert_allclose(np.asarray(total), np.asarray(expected), rtol=1e-10, atol=1e-13)


# -- the layer step -----------------------------------------------------------------------------------------


def test_step_on_a_dense_layer_uses_the_layer_signals(getkey):
    layer = spikax.layers.dense(4, 3, spikax.neurons.LIF(), key=getkey())
    rule = P.stdp()
    xs = (jax.random.uniform(getkey(), (30, 4)) < 0.5).astype(jnp.float64) * 3.0

    def body(carry, x):
        state, rule_state = carry
        state, y, rule_state, dw = P.step(layer, rule, state, rule_state, x)
        return (state, rule_state), (y, dw)

    carry = (layer.init_state((4,)), P.init(layer, rule, (4,)))
    _, (ys, dws) = jax.jit(lambda c, xs: lax.scan(body, c, xs))(carry, xs)
    _, ys_ref = spikax.run(layer, layer.init_state((4,)), xs)
    np.testing.assert_array_equal(np.asarray(ys), np.asarray(ys_ref))
    assert float(ys.sum()) > 0
    expected, _ = run_rule(rule, xs, ys_ref, layer.connection.weight)
    np.testing.assert_allclose(np.asarray(dws), np.asarray(expected), rtol=1e-12)


def test_step_on_a_conv_layer_reads_the_convolution_geometry(getkey):
    connection = eqx.nn.Conv2d(2, 3, 3, stride=2, padding=1, dilation=1, key=getkey())
    layer = spikax.layers.Layer(connection, spikax.neurons.LIF())
    rule = P.hebbian(0.1)
    x = (jax.random.uniform(getkey(), (2, 7, 7)) < 0.5).astype(jnp.float64) * 4.0
    step = eqx.filter_jit(lambda layer, state, rule_state, x: P.step(layer, rule, state, rule_state, x))
    state, y, _, dw = step(layer, layer.init_state(x.shape), P.init(layer, rule, x.shape), x)
    manual = P.conv(rule, stride=2, padding=1)
    expected, _ = jax.jit(manual.update)(x, y, manual.init(connection.weight, x.shape), connection.weight)
    np.testing.assert_allclose(np.asarray(dw), np.asarray(expected), rtol=1e-12)
    # the surrogate-loss route through the convolution's own transpose gives the same update
    grads = eqx.filter_grad(P.hebbian_loss)(connection, x, y)
    np.testing.assert_allclose(np.asarray(-0.1 * grads.weight), np.asarray(dw), rtol=1e-10, atol=1e-14)
    new_layer = P.apply(layer, dw)
    np.testing.assert_allclose(np.asarray(new_layer.connection.weight), np.asarray(connection.weight + dw))


def test_step_on_recurrent_weights(getkey):
    layer = spikax.layers.recurrent_dense(3, 4, spikax.neurons.LIF(), key=getkey())
    rule = P.hebbian(1.0)
    state = layer.init_state((3,))
    rule_state = P.init(layer, rule, (4,), which="recurrent")
    state, y1, rule_state, _ = P.step(layer, rule, state, rule_state, 5 * jnp.ones(3), which="recurrent")
    state, y2, rule_state, dw = P.step(layer, rule, state, rule_state, 5 * jnp.ones(3), which="recurrent")
    np.testing.assert_allclose(np.asarray(dw), np.asarray(jnp.outer(y2, y1)))


def test_vmap_over_a_batch_equals_a_loop():
    rule = P.conv(P.triplet_stdp(0.01, 0.02, 0.012, 0.005), stride=1, padding=1)
    rng = np.random.default_rng(1)
    kernel = jnp.asarray(rng.normal(size=(2, 1, 3, 3)))
    xs = jnp.asarray((rng.random((4, 1, 5, 5)) < 0.5).astype(np.float64))
    ys = jnp.asarray((rng.random((4, 2, 5, 5)) < 0.5).astype(np.float64))
    states = jax.vmap(lambda _: rule.init(kernel, (1, 5, 5)))(jnp.arange(4))
    dws, _ = jax.jit(jax.vmap(rule.update, in_axes=(0, 0, 0, None)))(xs, ys, states, kernel)
    update = jax.jit(rule.update)
    for b in range(4):
        dw, _ = update(xs[b], ys[b], rule.init(kernel, (1, 5, 5)), kernel)
        np.testing.assert_allclose(np.asarray(dws[b]), np.asarray(dw), rtol=1e-12)


# -- the surrogate-loss route and the online learner ---------------------------------------------------------


@pytest.mark.standard_promotion  # optax's internals mix dtypes
def test_surrogate_loss_through_optax_applies_the_rule_update(getkey):
    rule = P.oja(0.05)
    w = jax.random.normal(getkey(), (2, 5))
    xs = jax.random.normal(getkey(), (20, 5))
    opt = optax.sgd(1.0)
    opt_state = opt.init(w)
    w_direct, w_optax = w, w
    for x in xs:
        dw, _ = rule.update(x, w_direct @ x, P.EmptyState(), w_direct)
        w_direct = w_direct + dw
        dw2, _ = rule.update(x, w_optax @ x, P.EmptyState(), w_optax)
        grads = jax.grad(P.surrogate_loss)(w_optax, dw2)
        updates, opt_state = opt.update(grads, opt_state, w_optax)
        w_optax = optax.apply_updates(w_optax, updates)
    np.testing.assert_allclose(np.asarray(w_optax), np.asarray(w_direct), rtol=1e-12)


@pytest.mark.standard_promotion  # optax's internals mix dtypes
def test_learner_in_online_train_equals_applying_the_steps(getkey):
    net = spikax.Chain([spikax.layers.dense(4, 3, spikax.neurons.LIF(), key=getkey())])
    rule = P.stdp(0.05, 0.04, 10.0, 10.0)
    xs = (jax.random.uniform(getkey(), (40, 4)) < 0.4).astype(jnp.float64) * 3.0
    est = P.learner(net, (rule,), (4,))
    params, _ = eqx.partition(net, spikax.trainable(net))
    opt = optax.sgd(1.0)
    params, _, _ = spikax.online.train(est, opt, params, opt.init(params), net.init_state((4,)), xs, None)

    layer, state = net.layers[0], net.layers[0].init_state((4,))
    rule_state = P.init(layer, rule, (4,))
    for x in xs:
        state, _, rule_state, dw = P.step(layer, rule, state, rule_state, x)
        layer = P.apply(layer, dw)
    assert_tree_allclose(params.layers[0].connection.weight, layer.connection.weight, rtol=1e-10)
    assert float(jnp.abs(layer.connection.weight - net.layers[0].connection.weight).max()) > 0


# -- errors ----------------------------------------------------------------------------------------------------


def test_clear_errors():
    w = jnp.zeros((2, 3))
    rule = P.stdp()
    with pytest.raises(ValueError, match=r"spikax.plasticity.stdp.*expected pre \(3,\) and post \(2,\)"):
        rule.update(jnp.ones(4), jnp.ones(2), rule.init(w), w)
    with pytest.raises(ValueError, match=r"spikax.plasticity.stdp.*conv"):
        rule.update(jnp.ones(3), jnp.ones(2), rule.init(w), jnp.zeros((2, 1, 3, 3)))
    with pytest.raises(TypeError, match="not reward-modulated"):
        rule.update(jnp.ones(3), jnp.ones(2), rule.init(w), w, 1.0)
    modulated = P.reward_modulated(rule)
    with pytest.raises(TypeError, match="needs `reward=`"):
        modulated.update(jnp.ones(3), jnp.ones(2), modulated.init(w), w)
    with pytest.raises(ValueError, match="unknown interaction 'pairwise'"):
        P.stdp(interaction="pairwise")
    with pytest.raises(ValueError, match="need `w_max`"):
        P.stdp(bounds="multiplicative")
    with pytest.raises(ValueError, match="`tau` must be positive"):
        P.stdp(tau_plus=-1.0)
    with pytest.raises(ValueError, match="`w_min`.*must be below"):
        P.stdp(w_min=1.0, w_max=0.0)
    conv_rule = P.conv(P.hebbian(), stride=2)
    kernel = jnp.zeros((3, 2, 3, 3))
    with pytest.raises(TypeError, match="needs the shape of one input sample"):
        conv_rule.init(kernel)
    with pytest.raises(ValueError, match=r"the input has shape \(3, 8, 8\)"):
        conv_rule.init(kernel, (3, 8, 8))
    with pytest.raises(ValueError, match=r"the output has shape \(3, 6, 6\).*give \(3, 3, 3\)"):
        conv_rule.update(jnp.ones((2, 8, 8)), jnp.ones((3, 6, 6)), conv_rule.init(kernel, (2, 8, 8)), kernel)
    with pytest.raises(TypeError, match="does not support a MaxPool2d connection"):
        P.for_connection(P.hebbian(), eqx.nn.MaxPool2d(2))
    grouped = eqx.nn.Conv2d(2, 4, 3, groups=2, key=jax.random.key(0))
    with pytest.raises(TypeError, match="groups=2"):
        P.for_connection(P.hebbian(), grouped)
    with pytest.raises(TypeError, match="has no `connection` with a `weight`"):
        P.init(spikax.layers.Stateless(jnp.tanh), P.hebbian(), (3,))
    with pytest.raises(ValueError, match="k` must be an int in \\[1, 3\\]"):
        P.kwta(jnp.ones(3), k=4)
    stp = P.tsodyks_markram()
    with pytest.raises(ValueError, match="`U` must lie in"):
        P.tsodyks_markram(U=1.5)
    with pytest.raises(ValueError, match=r"`pre` has shape \(2,\) but the state has shape \(3,\)"):
        stp.update(jnp.ones(2), stp.init((3,)))


def test_learner_alongside_a_gradient_learner_adds_both(getkey):
    net = spikax.Chain([spikax.layers.dense(3, 4, spikax.neurons.LIF(), key=getkey()),
                        spikax.layers.dense(4, 2, spikax.neurons.LI(), key=getkey())])
    mse = lambda y, target: jnp.sum((y - target) ** 2)  # noqa: E731
    rule = P.hebbian(0.01)
    xs = 3.0 * (jax.random.uniform(getkey(), (15, 3)) < 0.5).astype(jnp.float64)
    targets = jnp.ones((15, 2))
    params, _ = eqx.partition(net, spikax.trainable(net))
    state0 = net.init_state((3,))
    rtrl = spikax.online.rtrl(net, mse)
    loss, grads = spikax.online.run(P.learner(net, (rule, None), (3,), alongside=rtrl), params, state0, xs, targets)
    loss_ref, grads_ref = spikax.online.run(rtrl, params, state0, xs, targets)

    layer, state, rule_state = net.layers[0], net.layers[0].init_state((3,)), P.init(net.layers[0], rule, (3,))
    total = jnp.zeros_like(layer.connection.weight)
    for x in xs:
        state, _, rule_state, dw = P.step(layer, rule, state, rule_state, x)
        total = total + dw
    assert float(jnp.abs(total).max()) > 0
    np.testing.assert_allclose(float(loss), float(loss_ref), rtol=1e-12)
    expected = eqx.tree_at(lambda p: p.layers[0].connection.weight, grads_ref,
                           grads_ref.layers[0].connection.weight - total)
    assert_tree_allclose(grads, expected, rtol=1e-10, atol=1e-12)


def test_chain_sums_the_updates_and_keeps_each_state():
    w = jnp.full((2, 3), 0.5)
    pre, post = jnp.array([1.0, 0.0, 1.0]), jnp.array([1.0, 0.0])
    stdp, scaling = P.stdp(), P.synaptic_scaling(0.1, lr=0.2, tau=5.0)
    dw, state = P.chain(stdp, scaling).update(pre, post, P.chain(stdp, scaling).init(w), w)
    dw1, s1 = stdp.update(pre, post, stdp.init(w), w)
    dw2, s2 = scaling.update(pre, post, scaling.init(w), w)
    np.testing.assert_allclose(np.asarray(dw), np.asarray(dw1 + dw2))
    assert_tree_allclose(state, (s1, s2))
    with pytest.raises(TypeError, match="spikax.plasticity.chain"):
        P.chain(stdp, "oja")


def test_hyperparameters_can_be_traced():
    w = jnp.full((1, 2), 0.5)

    def dw_of(tau, w_max):
        rule = P.stdp(0.01, 0.012, tau_plus=tau, w_min=0.0, w_max=w_max, bounds="multiplicative")
        state = rule.init(w)
        _, state = rule.update(jnp.ones(2), jnp.zeros(1), state, w)
        return rule.update(jnp.zeros(2), jnp.ones(1), state, w)[0]

    got = jax.jit(jax.vmap(dw_of))(jnp.array([10.0, 20.0]), jnp.array([1.0, 2.0]))
    expected = [0.01 * math.exp(-1 / 10) * 0.5, 0.01 * math.exp(-1 / 20) * 1.5]
    np.testing.assert_allclose(np.asarray(got[:, 0, 0]), expected, rtol=1e-12)
