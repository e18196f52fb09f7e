"""The neuron zoo: one shared suite for every neuron, closed forms, firing patterns and errors."""

import dataclasses
import re

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cases import ERROR_CASES, ERROR_IDS, NEURON_CASES, NEURON_IDS, build
from helpers import assert_tree_allclose, type_name
from jax.flatten_util import ravel_pytree

import spikax
from spikax.neurons import (
    ALIF,
    ALL_NEURONS,
    IF,
    IZHIKEVICH_PRESETS,
    LI,
    LIF,
    AdEx,
    CubaLIF,
    Izhikevich,
    ResonateAndFire,
    SigmaDelta,
)

N = 5  # neurons per test (the per-neuron parameters of `cases.NEURON_CASES` have 5 values); x64 is on
T = 6  # time steps

# The shared cases (also run by the parity tests), plus options only the JAX side has.
OPTION_VARIANTS = [
    pytest.param(build(spikax, f"neurons.{name}", kwargs), id=case_id)
    for (name, kwargs), case_id in zip(NEURON_CASES, NEURON_IDS)
] + [
    pytest.param(LIF(refractory=2), id="LIF-refractory"),
    pytest.param(Izhikevich(dtype=jnp.float32), id="Izhikevich-float32_params"),
]
LEARNABLE_VARIANTS = [  # every parameter learnable (a decay of exactly 1 cannot learn, so no leak=1)
    pytest.param(type(n)(**({"leak": 0.95} if isinstance(n, SigmaDelta) else {}),
                         learnable=tuple(type(n).constraints)), id=f"{type_name(n)}-learnable")
    for n in ALL_NEURONS
]
SUITE = [pytest.param(n, id=type_name(n)) for n in ALL_NEURONS] + OPTION_VARIANTS
# Gradient checks: every neuron with all parameters but the last learnable (the last one stays fixed;
# `test_only_learnable_parameters_get_gradients` makes it learnable), and options that change the graph.
GRADIENT_SUITE = [
    pytest.param(type(n)(learnable=tuple(type(n).constraints)[:-1] or tuple(type(n).constraints)),
                 id=f"{type_name(n)}-learnable") for n in ALL_NEURONS
] + [
    pytest.param(LIF(refractory=1, reset="zero", learnable="threshold"), id="LIF-refractory-learnable"),
    pytest.param(ALIF(detach_reset=True, learnable=("rho", "beta_a")), id="ALIF-detached-learnable"),
]
# Izhikevich and AdEx need a strong current to fire within a few steps (from rest, with dt = 0.1 ms for AdEx)
DRIVE = {"Izhikevich": 5.0, "AdEx": 30.0}


def strong_inputs(neuron, key, steps):
    scale = neuron.input_scale * DRIVE.get(type_name(neuron), 1.0)
    return scale * jax.random.uniform(key, (steps, N), minval=1.0, maxval=3.0)


def all_parameters(neuron):
    """Filter spec marking every stored parameter (`raw_<name>`), learnable or fixed."""
    spec = jax.tree_util.tree_map(lambda _: False, neuron)
    for name in type(neuron).constraints:
        spec = eqx.tree_at(lambda n: getattr(n, "raw_" + name), spec, True)
    return spec


def inputs(neuron, key, shape=(T, N), dtype=jnp.float64):
    """Random inputs of the size that makes this neuron respond."""
    return neuron.input_scale * jax.random.uniform(key, shape, dtype, 0.0, 3.0)


def run_loop(neuron, state, xs):
    ys = []
    for x in xs:
        state, y = neuron(state, x)
        ys.append(y)
    return state, jnp.stack(ys)


def run_scan(neuron, state, xs):
    return jax.lax.scan(lambda s, x: neuron(s, x), state, xs)


def summary(neuron, xs, run=run_loop):
    """Everything a run produces, as one flat vector (outputs and final state)."""
    state, ys = run(neuron, neuron.init_state(xs.shape[1:], xs.dtype), xs)
    return jnp.concatenate([ys.ravel()] + [leaf.ravel() for leaf in jax.tree_util.tree_leaves(state)])


# -- shared suite --------------------------------------------------------------------------


def test_all_neurons_has_one_of_each():
    names = [type_name(n) for n in ALL_NEURONS]
    assert names == ["IF", "LIF", "CubaLIF", "ALIF", "LI", "Izhikevich", "AdEx", "ResonateAndFire", "SigmaDelta"]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("neuron", SUITE)
def test_state_shape_and_dtype_are_stable(neuron, dtype, getkey):
    state = neuron.init_state((N,), dtype)
    chex.assert_tree_shape_prefix(state, (N,))
    xs = inputs(neuron, getkey(), shape=(3, N), dtype=dtype)
    for x in xs:  # eagerly: jit is covered by the retrace test
        new_state, y = neuron(state, x)
        chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
        chex.assert_shape(y, (N,))
        chex.assert_type(y, dtype)
        state = new_state
    chex.assert_tree_all_finite(state)


@pytest.mark.parametrize("neuron", SUITE)
def test_second_jitted_call_does_not_retrace(neuron, getkey):
    traces = 0

    def step(state, x):
        nonlocal traces
        traces += 1
        return neuron(state, x)

    step = jax.jit(step)
    xs = inputs(neuron, getkey())
    state, _ = step(neuron.init_state((N,)), xs[0])
    step(state, xs[1])
    assert traces == 1


@pytest.mark.parametrize("neuron", SUITE)
def test_vmap_equals_python_loop_over_batch(neuron, getkey):
    xs = inputs(neuron, getkey(), shape=(2, N))
    states = jax.vmap(lambda _: neuron.init_state((N,)))(jnp.arange(2))
    # two steps, so the batched state is used as well as produced
    s1, y1 = jax.vmap(neuron)(states, xs)
    s2, y2 = jax.vmap(neuron)(s1, 2 * xs)
    for b in range(2):
        state = neuron.init_state((N,))
        state, yb1 = neuron(state, xs[b])
        state, yb2 = neuron(state, 2 * xs[b])
        assert_tree_allclose((yb1, yb2, state), (y1[b], y2[b], jax.tree_util.tree_map(lambda l: l[b], s2)),
                             rtol=1e-12)


@pytest.mark.parametrize("neuron", SUITE)
def test_scan_over_time_equals_python_loop(neuron, getkey):
    xs = inputs(neuron, getkey())
    state = neuron.init_state((N,))
    assert_tree_allclose(jax.jit(run_scan)(neuron, state, xs), run_loop(neuron, state, xs), rtol=1e-12)


@pytest.mark.parametrize("neuron", GRADIENT_SUITE)
def test_jacfwd_equals_jacrev_and_gradients_are_finite(neuron, getkey):
    """Forward mode (RTRL's) and reverse mode (BPTT's) agree on the step's Jacobian wrt the state,
    the input and every parameter, taken mid-run (after a few strongly driven steps).

    Over a sequence both modes compose these same step Jacobians, so equality per step is what
    matters; it keeps the compiled graph small. Rows of the reverse-mode Jacobian are the
    gradients `jax.grad` gives: finite, and exactly zero for fixed parameters.
    """
    xs = strong_inputs(neuron, getkey(), 3)
    state, _ = run_loop(neuron, neuron.init_state((N,)), xs[:2])
    params, static = eqx.partition(neuron, all_parameters(neuron))
    flat, unravel = ravel_pytree(params)
    names = [f.name.removeprefix("raw_") for f in dataclasses.fields(neuron) if f.name.startswith("raw_")]
    assert flat.shape == (len(names),)  # scalar parameters, flattened in field order

    def step(flat, state, x):
        state, y = eqx.combine(unravel(flat), static)(state, x)
        return jnp.concatenate([y] + jax.tree_util.tree_leaves(state))

    both = jax.jit(lambda *a: (jax.jacfwd(step, argnums=(0, 1, 2))(*a), jax.jacrev(step, argnums=(0, 1, 2))(*a)))
    fwd, rev = both(flat, state, xs[2])
    chex.assert_tree_all_finite(rev)
    assert jnp.any(rev[2] != 0)
    for column, name in zip(rev[0].T, names):
        if name not in neuron.learnable:
            assert jnp.all(column == 0), f"fixed {name} got gradient {column}"
    for a, b in zip(jax.tree_util.tree_leaves(fwd), jax.tree_util.tree_leaves(rev)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(float(jnp.max(jnp.abs(a))), 1.0))


@pytest.mark.parametrize("neuron", ALL_NEURONS, ids=type_name)
def test_only_learnable_parameters_get_gradients(neuron, getkey):
    """Over a run, every learnable parameter gets a non-zero gradient and every fixed one exactly zero.

    Checked twice per neuron: all parameters but the last learnable, then only the last.
    """
    cls = type(neuron)
    names = tuple(cls.constraints)
    xs = strong_inputs(neuron, getkey(), 8)

    @eqx.filter_jit
    @eqx.filter_grad
    def grads(model):
        state, ys = run_scan(model, model.init_state((N,)), xs)
        return ys.sum() + sum(leaf.sum() for leaf in jax.tree_util.tree_leaves(state))

    for learnable in (names[:-1], names[-1:]):
        neuron = cls(learnable=learnable, **({"leak": 0.95} if cls is SigmaDelta else {}))
        g = grads(neuron)
        for name in names:
            value = getattr(g, "raw_" + name)
            if name in learnable:
                assert jnp.all(jnp.isfinite(value)) and jnp.any(value != 0), f"learnable {name} got {value}"
            else:
                assert jnp.all(value == 0), f"fixed {name} got gradient {value}"


@pytest.mark.parametrize("neuron", LEARNABLE_VARIANTS)
def test_big_random_sgd_step_keeps_parameters_valid(neuron, getkey):
    params, static = eqx.partition(neuron, spikax.trainable(neuron))
    leaves, treedef = jax.tree_util.tree_flatten(params)
    grads = jax.tree_util.tree_unflatten(
        treedef, [5.0 * jax.random.normal(getkey(), jnp.shape(l), l.dtype) for l in leaves])
    opt = optax.sgd(1.0)
    updates, _ = opt.update(grads, opt.init(params))
    new = eqx.combine(eqx.apply_updates(params, updates), static)
    for name, kind in type(neuron).constraints.items():
        value = new.param(name)
        assert jnp.all(jnp.isfinite(value)), name
        assert not jnp.array_equal(value, neuron.param(name)), f"{name} did not move"
        if kind == "decay":
            assert jnp.all((value > 0) & (value <= 1)), f"{name} = {value}"
        if kind == "positive":
            assert jnp.all(value > 0), f"{name} = {value}"


# -- closed forms --------------------------------------------------------------------------


def test_reset_free_lif_with_constant_input_is_a_geometric_sum():
    beta, x = np.array([0.5, 0.8, 0.95]), np.array([0.3, -1.0, 2.0])
    lif = LIF(beta=beta, reset="none", threshold=1e9)
    state, _ = run_scan(lif, lif.init_state((3,)), jnp.tile(x, (T, 1)))
    np.testing.assert_allclose(state.v, (1 - beta) * x * (1 - beta**T) / (1 - beta), rtol=1e-12)


def test_if_spike_count_is_floor_of_total_input_over_threshold():
    x, theta, steps = np.array([0.0, 0.07, 0.37, 0.93]), 1.0, 50  # T*x/theta is never a whole number here
    neuron = IF(threshold=theta)
    _, s = run_scan(neuron, neuron.init_state((4,)), jnp.tile(x, (steps, 1)))
    np.testing.assert_array_equal(s.sum(0), np.floor(steps * x / theta))
    # at a whole number the strict threshold (v > theta) delays the last spike: x = theta fires T - 1 times
    _, s = run_scan(neuron, neuron.init_state((1,)), jnp.full((steps, 1), theta))
    assert s.sum() == steps - 1


def test_if_heterogeneous_thresholds_count_floor():
    theta = np.array([0.5, 1.0, 3.0])
    neuron = IF(threshold=theta)
    _, s = run_scan(neuron, neuron.init_state((3,)), jnp.full((40, 3), 0.31))
    np.testing.assert_array_equal(s.sum(0), np.floor(40 * 0.31 / theta))


def test_reset_free_cuba_lif_matches_two_stage_recurrence_and_closed_form(getkey):
    alpha, beta = np.array([0.6, 0.8, 0.9]), np.array([0.9, 0.5, 0.95])
    xs = np.asarray(jax.random.normal(getkey(), (T, 3)))
    neuron = CubaLIF(alpha=alpha, beta=beta, reset="none")

    def membrane(state, x):
        state, _ = neuron(state, x)
        return state, state.v

    _, v_out = run_scan(membrane, neuron.init_state((3,)), xs)
    i, v, expected = np.zeros(3), np.zeros(3), []
    for x in xs:  # the current first, then the membrane integrates the NEW current
        i = alpha * i + x
        v = beta * v + (1 - beta) * i
        expected.append(v)
    np.testing.assert_allclose(v_out, np.stack(expected), rtol=1e-12)
    # constant input: i_t = x (1 - a^t)/(1 - a), and v_t = sum_k b^(t-k) (1-b) i_k in closed form
    x = 0.7
    _, v_const = run_scan(membrane, neuron.init_state((3,)), jnp.full((T, 3), x))
    closed = x / (1 - alpha) * ((1 - beta**T) - (1 - beta) * alpha * (alpha**T - beta**T) / (alpha - beta))
    np.testing.assert_allclose(v_const[-1], closed, rtol=1e-12)


def test_li_equals_its_geometric_sum():
    beta = np.array([0.0, 0.5, 0.9])
    readout = LI(beta=beta)
    _, v = run_scan(readout, readout.init_state((3,)), jnp.full((T, 3), 2.0))
    t = np.arange(1, T + 1)[:, None]
    np.testing.assert_allclose(v, 2.0 * (1 - beta**t), rtol=1e-12)


def test_alif_threshold_rises_after_a_spike_and_decays_with_rho():
    neuron = ALIF(alpha=0.5, rho=0.8, beta_a=0.3, threshold=1.0, reset="zero")
    state = neuron.init_state((1,))
    state, s = neuron(state, jnp.array([10.0]))  # 5.0 > 1: one spike
    assert s[0] == 1.0
    np.testing.assert_allclose(neuron.adaptive_threshold(state), 1.3, rtol=1e-12)
    for k in range(1, 6):
        state, s = neuron(state, jnp.array([0.0]))
        assert s[0] == 0.0
        np.testing.assert_allclose(state.a, 0.8**k, rtol=1e-12)
        np.testing.assert_allclose(neuron.adaptive_threshold(state), 1.0 + 0.3 * 0.8**k, rtol=1e-12)


def test_alif_adaptation_slows_firing_and_without_it_equals_lif(getkey):
    xs = jnp.full((60, 1), 3.0)
    _, s_adapt = run_scan(ALIF(alpha=0.8, beta_a=0.5), ALIF().init_state((1,)), xs)
    _, s_plain = run_scan(LIF(beta=0.8), LIF().init_state((1,)), xs)
    assert s_adapt[30:].sum() < s_plain[30:].sum()
    xs = 3 * jax.random.uniform(getkey(), (T, N))
    alif, lif = ALIF(alpha=0.8, beta_a=0.0), LIF(beta=0.8)
    np.testing.assert_array_equal(run_scan(alif, alif.init_state((N,)), xs)[1],
                                  run_scan(lif, lif.init_state((N,)), xs)[1])


@pytest.mark.parametrize("cls", [IF, LIF, CubaLIF, ALIF], ids=type_name)
@pytest.mark.parametrize("refractory", [0, 2])
def test_refractory_neuron_driven_hard_spikes_every_period_plus_one(cls, refractory):
    neuron = cls(refractory=refractory)
    _, s = run_scan(neuron, neuron.init_state((1,)), jnp.full((20, 1), 1000.0))
    np.testing.assert_array_equal(np.flatnonzero(s[:, 0]), np.arange(0, 20, refractory + 1))


def test_refractory_time_is_rounded_to_steps():
    assert LIF(refractory_time=2.0, dt=0.5).refractory == 4


def _isis(neuron, current, steps):
    _, s = run_scan(neuron, neuron.init_state((1,)), jnp.full((steps, 1), current))
    return np.diff(np.flatnonzero(s[:, 0]))


def test_izhikevich_presets_show_their_firing_patterns():
    assert set(Izhikevich.PRESET_NAMES) == set(IZHIKEVICH_PRESETS) and len(Izhikevich.PRESET_NAMES) == 7
    rs = _isis(Izhikevich.preset("regular_spiking"), 10.0, 400)
    fs = _isis(Izhikevich.preset("fast_spiking"), 10.0, 400)
    ch = _isis(Izhikevich.preset("chattering"), 10.0, 400)
    ib = _isis(Izhikevich.preset("intrinsically_bursting"), 10.0, 400)
    # regular spiking: spike-frequency adaptation, ISIs grow then settle
    assert rs[0] < rs[1] <= rs[-1] and np.all(np.diff(rs) >= 0)
    # fast spiking: several times the rate of RS, with no adaptation (steady ISIs)
    assert len(fs) > 3 * len(rs)
    assert fs[5:].max() <= 1.5 * fs[5:].min()
    # chattering: bursts of short ISIs separated by long ones, repeatedly
    assert ch.max() > 5 * ch.min() and np.sum(ch > 5 * ch.min()) >= 3
    # intrinsically bursting: an initial burst (short ISIs), then a long pause and tonic spiking
    assert ib[0] < 10 and ib[1] < 10 and ib[2] > 3 * ib[1] and np.sum(ib < 10) == 2


def test_izhikevich_is_silent_at_rest_and_preset_kwargs_override():
    neuron = Izhikevich.preset("fast_spiking", d=5.0)
    assert float(neuron.d) == 5.0 and float(neuron.a) == pytest.approx(0.1, rel=1e-12)
    _, s = run_scan(neuron, neuron.init_state((1,)), jnp.zeros((200, 1)))
    assert s.sum() == 0


def test_adex_shows_spike_frequency_adaptation():
    isi = _isis(AdEx(), 2000.0, 1000)
    assert len(isi) > 5 and np.all(np.diff(isi) >= 0) and isi[-1] > isi[0]
    _, s = run_scan(AdEx(), AdEx().init_state((1,)), jnp.zeros((300, 1)))
    assert s.sum() == 0


def test_resonate_and_fire_impulse_response_is_a_damped_rotation():
    r, omega = 0.9, 2 * np.pi / 7
    neuron = ResonateAndFire(decay=r, omega=omega, threshold=1e9)
    xs = jnp.zeros((T + 1, 1)).at[0].set(0.5)
    state = neuron.init_state((1,))
    for k, x in enumerate(xs):
        state, _ = neuron(state, x)
        np.testing.assert_allclose([state.re[0], state.im[0]],
                                   [0.5 * r**k * np.cos(k * omega), 0.5 * r**k * np.sin(k * omega)], atol=1e-14)


def test_resonate_and_fire_fires_for_resonant_pulse_trains_only():
    period = 8
    neuron = ResonateAndFire(decay=0.95, omega=2 * np.pi / period, threshold=1.0)
    # pulses one period apart build up; half a period apart they cancel
    resonant = jnp.zeros((80, 1)).at[::period].set(0.5)
    off = jnp.zeros((80, 1)).at[::period // 2].set(0.5)
    assert run_scan(neuron, neuron.init_state((1,)), resonant)[1].sum() > 0
    assert run_scan(neuron, neuron.init_state((1,)), off)[1].sum() == 0


@pytest.mark.parametrize("quantize", [False, True])
def test_sigma_delta_outputs_reconstruct_the_activation(quantize, getkey):
    theta = 0.1
    neuron = SigmaDelta(threshold=theta, quantize=quantize)
    xs = jax.random.normal(getkey(), (40, N)) * 0.3
    _, ys = run_scan(neuron, neuron.init_state((N,)), xs)
    act = np.maximum(np.cumsum(xs, axis=0), 0)
    assert np.all(np.abs(np.cumsum(ys, axis=0) - act) <= theta + 1e-12)
    assert np.any(ys == 0) and np.any(ys != 0)
    if quantize:
        np.testing.assert_allclose(ys / theta, np.round(ys / theta), atol=1e-9)
    # a steady input after a step: one message, then silence
    _, ys = run_scan(neuron, neuron.init_state((1,)), jnp.zeros((10, 1)).at[0].set(0.55))
    assert np.count_nonzero(ys) == 1


def test_tau_and_dt_give_forward_euler_decays():
    assert float(LIF(tau=20.0, dt=1.0).beta) == pytest.approx(0.95, rel=1e-12)
    assert float(LI(tau=4.0, dt=0.5).beta) == pytest.approx(0.875, rel=1e-12)
    cuba = CubaLIF(tau_syn=5.0, tau_mem=10.0, dt=2.0)
    assert float(cuba.alpha) == pytest.approx(0.6, rel=1e-12) and float(cuba.beta) == pytest.approx(0.8, rel=1e-12)
    alif = ALIF(tau_mem=20.0, tau_adapt=200.0, dt=1.0)
    assert float(alif.alpha) == pytest.approx(0.95, rel=1e-12) and float(alif.rho) == pytest.approx(0.995, rel=1e-12)
    assert float(ResonateAndFire(tau=10.0).decay) == pytest.approx(0.9, rel=1e-12)
    assert float(SigmaDelta(tau=100.0, dt=1.0).leak) == pytest.approx(0.99, rel=1e-12)
    np.testing.assert_allclose(LIF(tau=np.array([2.0, 4.0])).beta, [0.5, 0.75], rtol=1e-12)


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("neuron", SUITE)
def test_shape_mismatch_names_the_neuron_and_the_fix(neuron):
    name = type_name(neuron)
    with pytest.raises(ValueError, match=rf"spikax.neurons.{name}`: input has shape \(2, {N}\).*state has shape "
                                         rf"\({N},\).*jax.vmap"):
        neuron(neuron.init_state((N,)), jnp.ones((2, N)))


def test_parameter_shape_not_broadcastable_to_state():
    lif = LIF(beta=jnp.full(4, 0.9))
    with pytest.raises(ValueError, match=r"LIF`: parameter `beta` has shape \(4,\).*state shape \(3,\).*"
                                         r"one value per neuron"):
        lif.init_state((3,))
    with pytest.raises(ValueError, match=r"CubaLIF`: parameter `v_reset` has shape \(2, 3\).*state shape \(3,\)"):
        neuron = CubaLIF(v_reset=jnp.zeros((2, 3)))
        neuron(CubaLIF().init_state((3,)), jnp.ones(3))
    LIF(beta=jnp.full(3, 0.9)).init_state((2, 3))  # broadcasting over leading axes is fine


NEURON_ERROR_CASES = [(c, i) for c, i in zip(ERROR_CASES, ERROR_IDS) if c[0].startswith("neurons.")]


@pytest.mark.parametrize("target, kwargs, error, pattern", [c for c, _ in NEURON_ERROR_CASES],
                         ids=[i for _, i in NEURON_ERROR_CASES])
def test_bad_arguments_name_the_object_and_the_fix(target, kwargs, error, pattern):
    with pytest.raises(error) as info:
        build(spikax, target, kwargs)
    assert str(info.value).startswith(f"`spikax.{target}`: ") and re.search(pattern, str(info.value)), info.value


# -- construction under jit and vmap ------------------------------------------------------------


@pytest.mark.parametrize("neuron", ALL_NEURONS, ids=type_name)
def test_built_under_jit_stores_the_same_parameters(neuron):
    """Issue 9: parameters may be traced at construction (no `np.asarray` on them)."""
    cls = type(neuron)
    values = {name: neuron.param(name) for name in cls.constraints}
    built = jax.jit(lambda values: cls(**values))(values)
    assert jax.tree_util.tree_structure(built) == jax.tree_util.tree_structure(neuron)
    assert_tree_allclose(built, neuron, rtol=1e-12, atol=1e-12)


def test_traced_bad_parameter_raises_when_run():
    np.testing.assert_allclose(jax.jit(lambda tau: LIF(tau=tau).beta)(20.0), 0.95, rtol=1e-12)
    with pytest.raises(Exception, match=r"spikax.neurons.LIF`: `tau` must be positive"):
        jax.block_until_ready(jax.jit(lambda tau: LIF(tau=tau).beta)(-1.0))
    with pytest.raises(Exception, match=r"spikax.neurons.CubaLIF`: `alpha` must lie in \[0, 1\]"):
        jax.block_until_ready(jax.jit(lambda a: CubaLIF(alpha=a).alpha)(1.5))


def test_ensemble_of_lif_networks_built_with_filter_vmap(getkey):
    """An ensemble with one time constant per member is one `eqx.filter_vmap` away, and equals each member."""
    key, taus = getkey(), jnp.array([2.0, 5.0, 20.0])
    xs = 2.0 * jax.random.uniform(getkey(), (8, 3))

    def network(tau):
        return spikax.Chain([spikax.layers.dense(3, 4, LIF(tau=tau), key=key),
                             spikax.layers.dense(4, 2, LI(tau=tau), key=key)])

    def run(net):
        return spikax.run(net, net.init_state((3,)), xs)

    ensemble = eqx.filter_vmap(network)(taus)
    assert ensemble.layers[0].neuron.raw_beta.shape == (3,)
    finals, ys = eqx.filter_vmap(run)(ensemble)
    for i, tau in enumerate(np.asarray(taus)):
        final_i, ys_i = run(network(float(tau)))
        assert_tree_allclose(jax.tree_util.tree_map(lambda leaf: leaf[i], (finals, ys)), (final_i, ys_i), rtol=1e-12)
    assert jnp.any(ys[0] != ys[2])  # the time constants matter


@pytest.mark.parametrize("cls", [IF, LIF, CubaLIF, ALIF, Izhikevich, AdEx, ResonateAndFire], ids=type_name)
def test_with_detached_reset_equals_a_neuron_built_detached(cls):
    """`with_detached_reset()` (what online learners use) is the neuron built with `detach_reset=True`:
    same spikes, the same gradient, and a different gradient from the neuron that keeps its reset's."""
    neuron, built = cls(), cls(detach_reset=True)
    detached = neuron.with_detached_reset()
    assert detached.detach_reset and detached.spiking.detach_reset and not neuron.detach_reset
    assert detached.with_detached_reset() is detached
    assert_tree_allclose(detached.spiking.surrogate, neuron.spiking.surrogate, rtol=0)
    xs = cls.input_scale * jax.random.uniform(jax.random.key(3), (150, 4), minval=0.5, maxval=3.0)

    def total(n, xs):
        final, spikes = jax.lax.scan(n, n.init_state((4,)), xs)
        return sum(jnp.sum(leaf) for leaf in jax.tree_util.tree_leaves(final)) + jnp.sum(spikes)

    grad = jax.grad(total, argnums=1)
    assert jnp.sum(jax.lax.scan(neuron, neuron.init_state((4,)), xs)[1]) > 0  # the reset happens
    assert_tree_allclose(grad(detached, xs), grad(built, xs), rtol=0, atol=0)
    assert not np.allclose(grad(detached, xs), grad(neuron, xs))


def test_neurons_without_a_reset_are_their_own_detached_version():
    li, sd = LI(), spikax.neurons.SigmaDelta()
    assert li.with_detached_reset() is li and sd.with_detached_reset() is sd


def test_the_firing_options_are_one_part_read_through_the_neuron():
    lif = LIF(reset="zero", v_reset=-0.3, refractory=2, detach_reset=True, surrogate=spikax.surrogate.ATan())
    part = spikax.neurons.SpikeOptions(reset="zero", v_reset=-0.3, refractory=2, detach_reset=True,
                                       surrogate=spikax.surrogate.ATan())
    assert jax.tree_util.tree_structure(lif.spiking) == jax.tree_util.tree_structure(part)
    assert (lif.reset, lif.refractory, lif.detach_reset, float(lif.v_reset)) == ("zero", 2, True, -0.3)
    assert lif.surrogate is lif.spiking.surrogate
    with pytest.raises(AttributeError):
        lif.reset = "subtract"  # read-only: build a new neuron
    with pytest.raises(ValueError, match=r"`spikax.neurons.SpikeOptions`: unknown reset mode 'soft'"):
        spikax.neurons.SpikeOptions(reset="soft")
