"""Neurons: the same parameters and inputs give the same spikes, states and gradients (reverse
and forward mode) in spikax and spikax_torch, with models converted in both directions."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from spikax_torch.convert import from_spikax, state_from_spikax, to_spikax  # noqa: E402
from cases import NEURON_CASES, NEURON_IDS, build  # noqa: E402
from torch_helpers import JAX_DTYPE, TOL, TORCH_DTYPE, assert_close, leaves, to_np  # noqa: E402

T, SHAPE = 10, (3, 5)  # time steps; batch x neurons (neurons are elementwise: the batch is just more neurons)

# The shared table of `tests/cases.py` (the JAX neuron suite runs on it too).
CASES, IDS = NEURON_CASES, NEURON_IDS


def _build(package, name, kwargs, dtype):
    return build(package, f"neurons.{name}", kwargs, dtype=dtype)


def _pair(index, dtype):
    """A spikax neuron and its torch twin; even cases convert JAX -> torch, odd ones torch -> JAX."""
    name, kwargs = CASES[index]
    if index % 2 == 0:
        jax_neuron = _build(spikax, name, kwargs, JAX_DTYPE[dtype])
        return jax_neuron, from_spikax(jax_neuron)
    torch_neuron = _build(spikax_torch, name, kwargs, TORCH_DTYPE[dtype])
    return to_spikax(torch_neuron), torch_neuron


def _data(index, neuron, dtype):
    rng = np.random.default_rng(index)
    scale = type(neuron).input_scale
    xs = (scale * rng.normal(1.0, 1.0, size=(T,) + SHAPE)).astype(dtype)
    weights = rng.normal(size=(T,) + SHAPE).astype(dtype)
    tangent = rng.normal(size=(T,) + SHAPE).astype(dtype)
    return xs, weights, tangent


def test_every_neuron_is_covered_and_listed_in_the_same_order():
    names = [type(n).__name__ for n in spikax.neurons.ALL_NEURONS]
    assert names == [type(n).__name__ for n in spikax_torch.neurons.ALL_NEURONS]
    assert set(names) <= {name for name, _ in CASES}
    for j, t in zip(spikax.neurons.ALL_NEURONS, spikax_torch.neurons.ALL_NEURONS):
        # same defaults: the torch default instance converts to the JAX one (up to the default dtype)
        assert jax.tree_util.tree_structure(to_spikax(t)) == jax.tree_util.tree_structure(j)
        for a, b in zip(jax.tree_util.tree_leaves(to_spikax(t)), jax.tree_util.tree_leaves(j)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


@pytest.mark.parametrize("index", range(len(CASES)), ids=IDS)
def test_constructors_store_the_same_numbers(index):
    name, kwargs = CASES[index]
    jax_neuron = _build(spikax, name, kwargs, jnp.float64)
    torch_neuron = _build(spikax_torch, name, kwargs, torch.float64)
    assert eqx.tree_equal(to_spikax(torch_neuron), jax_neuron)
    twin = from_spikax(jax_neuron)
    assert twin.state_dict().keys() == torch_neuron.state_dict().keys()
    for key, value in torch_neuron.state_dict().items():
        assert torch.equal(twin.state_dict()[key], value), key
    learnable = {n for n, _ in twin.named_parameters()}
    assert learnable == {"raw_" + p for p in jax_neuron.learnable}
    assert eqx.tree_equal(to_spikax(from_spikax(jax_neuron)), jax_neuron)


def _jax_side(neuron, xs, weights, tangent):
    names = sorted(neuron.learnable)
    where = lambda n: [getattr(n, "raw_" + k) for k in names]  # noqa: E731

    def trajectory(raws, xs):
        # A Python loop run op by op (no jit): far cheaper here than compiling a scan and its gradient.
        model = eqx.tree_at(where, neuron, raws)
        state, states, ys = model.init_state(SHAPE, xs.dtype), [], []
        for t in range(xs.shape[0]):
            state, y = model(state, xs[t])
            states.append(state)
            ys.append(y)
        return jax.tree_util.tree_map(lambda *s: jnp.stack(s), *states), jnp.stack(ys)

    def loss_and_trajectory(raws, xs):
        states, ys = trajectory(raws, xs)
        last = jax.tree_util.tree_map(lambda s: s[-1], states)
        value = jnp.sum(ys * weights) + sum(jnp.sum(leaf) for leaf in jax.tree_util.tree_leaves(last)) * 1e-2
        return value, (states, ys)

    def run(raws, xs):
        (_, (states, ys)), grads = jax.value_and_grad(loss_and_trajectory, argnums=(0, 1), has_aux=True)(raws, xs)
        return states, ys, grads

    raws = where(neuron)
    raw_tangents = [jnp.ones_like(r) * 0.3 for r in raws]
    states, ys, grads = run(raws, xs)
    # JAX's forward mode equals its reverse mode (tested in tests/); compare torch's jvp with JAX's gradient.
    directional = sum(jnp.vdot(g, t) for g, t in zip(grads[0], raw_tangents)) + jnp.vdot(grads[1], tangent)
    return names, raws, raw_tangents, (states, ys, grads, directional)


def _torch_side(neuron, names, xs, weights, tangent, raw_tangents):
    params = {"raw_" + k: getattr(neuron, "raw_" + k).detach() for k in names}

    def trajectory(params, xs):
        state = None  # made from the input inside functional_call, so init_state sees the parameters
        states, ys = [], []
        for x in xs.unbind(0):
            state, y = torch.func.functional_call(neuron, params, (state, x))
            states.append(state)
            ys.append(y)
        return states, torch.stack(ys)

    def loss(params, xs):
        states, ys = trajectory(params, xs)
        # scale before reducing: torch.func.jvp gives a float64 tangent for `0-dim float32 tensor * python float`
        return (ys * weights).sum() + sum((leaf * 1e-2).sum() for leaf in states[-1] if leaf is not None)

    states, ys = trajectory(params, xs)
    grads = torch.func.grad(loss, argnums=(0, 1))(params, xs)
    tangents = {"raw_" + k: t for k, t in zip(names, raw_tangents)}
    _, directional = torch.func.jvp(loss, (params, xs), (tangents, tangent))
    return states, ys, grads, directional


FIRST_OF_EACH = sorted({name: i for i, (name, _) in reversed(list(enumerate(CASES)))}.values())
PARAMS = [pytest.param(i, "float64", id=f"{IDS[i]}-float64") for i in range(len(CASES))] + [
    pytest.param(i, "float32", id=f"{IDS[i]}-float32") for i in FIRST_OF_EACH]


@pytest.mark.parametrize(("index", "dtype"), PARAMS)
def test_same_trajectories_and_gradients(index, dtype):
    """Free-running over T steps: float64 to 1e-12 (values) and 1e-10 (gradients) for every case;
    float32 for one case per neuron to 1e-5 (rounding accumulates over the steps; the one-step
    test below holds float32 to 1e-6)."""
    jax_neuron, torch_neuron = _pair(index, dtype)
    xs, weights, tangent = _data(index, jax_neuron, dtype)
    names, raws, raw_tangents, (j_states, j_ys, j_grads, j_dir) = _jax_side(
        jax_neuron, jnp.asarray(xs), jnp.asarray(weights), jnp.asarray(tangent))
    t_states, t_ys, t_grads, t_dir = _torch_side(
        torch_neuron, names, torch.tensor(xs), torch.tensor(weights), torch.tensor(tangent),
        [torch.tensor(np.asarray(t)) for t in raw_tangents])
    rtol, atol = TOL[dtype]["value" if dtype == "float64" else "grad"]
    spiking = type(jax_neuron).__name__ not in ("LI", "SigmaDelta")
    if spiking:  # spikes exactly equal over the whole free-running trajectory
        np.testing.assert_array_equal(to_np(t_ys), np.asarray(j_ys))
    else:
        assert_close(t_ys, j_ys, rtol, atol, "outputs")
    t_stack = [torch.stack([s[i] for s in t_states]) if t_states[0][i] is not None else None
               for i in range(len(t_states[0]))]
    assert_close(t_stack, j_states, rtol, atol, "states")
    grtol, gatol = TOL[dtype]["grad"]
    # float32 over a free run: surrogate slopes (up to 50 per unit for FastSigmoid's second derivative)
    # amplify the last-bit differences of the two packages' membranes step after step, and a scalar
    # parameter's gradient sums T x neurons terms in a different order: ~1e-4 relative. The one-step
    # test below holds float32 gradients to 1e-5 per element.
    prtol = grtol if dtype == "float64" else 1e-3
    assert_close([t_grads[0]["raw_" + k] for k in names], j_grads[0], prtol, gatol, "parameter gradients")
    assert_close(t_grads[1], j_grads[1], prtol, gatol, "input gradients")
    assert_close(t_dir, j_dir, prtol, gatol, "forward-mode directional derivative")
    # within torch, forward mode equals reverse mode along the same direction
    flat = sum(float((t_grads[0]["raw_" + k] * torch.tensor(np.asarray(t))).sum())
               for k, t in zip(names, raw_tangents)) + float((t_grads[1] * torch.tensor(tangent)).sum())
    np.testing.assert_allclose(float(t_dir), flat, rtol=prtol, atol=gatol)


@pytest.mark.parametrize("index", FIRST_OF_EACH, ids=[IDS[i] for i in FIRST_OF_EACH])
def test_one_step_from_the_same_state_float32(index):
    """Teacher-forced float32 check: from each state of the JAX trajectory, one step in each package
    gives states within 1e-6 and the same spikes, except where the firing decision flips under a
    1e-4 perturbation of the input (a membrane at threshold up to rounding)."""
    jax_neuron, torch_neuron = _pair(index, "float32")
    xs, _, _ = _data(index, jax_neuron, "float32")
    xs = jnp.asarray(xs)
    step = lambda s, x: (lambda ns, y: (ns, (ns, y)))(*jax_neuron(s, x))  # noqa: E731
    _, (states, _) = lax.scan(step, jax_neuron.init_state(SHAPE, jnp.float32), xs)
    before = jax.tree_util.tree_map(lambda s: s[:-1], states)  # state before steps 1..T-1
    x_next = xs[1:]
    j_new, j_y = jax_neuron(before, x_next)
    t_new, t_y = torch_neuron(state_from_spikax(before), torch.tensor(np.asarray(x_next)))
    assert_close(t_new, j_new, 1e-6, 1e-6, "states")
    delta = 1e-4 * type(jax_neuron).input_scale
    # where the output's support (fired / sent or not) flips under the perturbation
    support = lambda x: np.asarray(jax_neuron(before, x)[1] != 0)  # noqa: E731
    near = support(x_next + delta) != support(x_next - delta)
    differ = ~np.isclose(to_np(t_y), np.asarray(j_y), rtol=1e-6, atol=1e-6)
    assert not np.any(differ & ~near), "outputs differ away from threshold"
    assert near.mean() < 0.02

    # gradients of one step, float32, to 1e-5: inputs and every learnable parameter
    names = sorted(jax_neuron.learnable)
    weights = np.random.default_rng(index + 100).normal(size=x_next.shape).astype(np.float32)

    def jax_loss(raws, x):
        model = eqx.tree_at(lambda n: [getattr(n, "raw_" + k) for k in names], jax_neuron, raws)
        new, y = model(before, x)
        return jnp.sum(y * weights) + sum(jnp.sum(leaf * 1e-2) for leaf in jax.tree_util.tree_leaves(new))

    def torch_loss(params, x):
        new, y = torch.func.functional_call(torch_neuron, params, (state_from_spikax(before), x))
        return (y * torch.tensor(weights)).sum() + sum((leaf * 1e-2).sum() for leaf in new if leaf is not None)

    j_grads = jax.grad(jax_loss, argnums=(0, 1))([getattr(jax_neuron, "raw_" + k) for k in names], x_next)
    params = {"raw_" + k: getattr(torch_neuron, "raw_" + k).detach() for k in names}
    t_grads = torch.func.grad(torch_loss, argnums=(0, 1))(params, torch.tensor(np.asarray(x_next)))
    if not near.any():
        # a scalar parameter's gradient is a sum over all neurons and steps, in different orders: 1e-4
        assert_close([t_grads[0]["raw_" + k] for k in names], j_grads[0], 1e-4, 1e-5, "parameter gradients")
        assert_close(t_grads[1], j_grads[1], 1e-5, 1e-5, "input gradients")


def test_state_made_from_the_input_and_errors():
    lif = spikax_torch.neurons.LIF(beta=torch.tensor([0.5, 0.9]))  # parameters as tensors of the proper shape
    state, s = lif(None, torch.tensor([[3.0, 3.0]], dtype=torch.float32))
    assert state.v.shape == (1, 2) and state.v.dtype == torch.float32
    np.testing.assert_allclose(state.v, [[1.5 - 1.0, 0.3]], rtol=1e-6)
    assert torch.equal(s, torch.tensor([[1.0, 0.0]]))
    assert isinstance(lif.beta, torch.Tensor) and not lif.beta.requires_grad
    assert [n for n, _ in lif.named_parameters()] == []
    learn = spikax_torch.neurons.LIF(learnable="beta")
    assert [n for n, _ in learn.named_parameters()] == ["raw_beta"]
    with pytest.raises(ValueError, match="cannot make \\['gamma'\\] learnable"):
        spikax_torch.neurons.LIF(learnable="gamma")
    with pytest.raises(ValueError, match="input has shape"):
        lif(lif.init_state((3, 2)), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="does not broadcast to the state shape"):
        lif.init_state((3,))
    with pytest.raises(ValueError, match="must lie in"):
        spikax_torch.neurons.LIF(beta=1.5)
    with pytest.raises(ValueError, match="give exactly one of"):
        spikax_torch.neurons.LIF(beta=0.9, tau=3.0)
    with pytest.raises(ValueError, match="unknown reset mode"):
        spikax_torch.neurons.LIF(reset="sometimes")


def test_update_methods_can_be_replaced():
    class QuadraticLIF(spikax_torch.neurons.LIF):
        def update_voltage(self, v, x):
            return 0.5 * v + x * x

    neuron = QuadraticLIF(threshold=10.0)
    state, _ = neuron(None, torch.tensor([2.0]))
    state, _ = neuron(state, torch.tensor([1.0]))
    np.testing.assert_allclose(state.v, [3.0])


def test_learnable_parameter_trains_the_same_in_both():
    """One SGD step on a learnable decay changes `raw_beta` identically in both packages."""
    jax_neuron = spikax.neurons.LIF(beta=0.8, learnable="beta", dtype=jnp.float64)
    twin = from_spikax(jax_neuron)
    xs = np.linspace(0.5, 2.5, 10)[:, None]

    def jax_loss(n):
        return jnp.sum(lax.scan(lambda s, x: n(s, x), n.init_state((1,), jnp.float64), jnp.asarray(xs))[0].v ** 2)

    g = eqx.filter_grad(jax_loss)(jax_neuron)
    jax_new = jax_neuron.raw_beta - 0.1 * g.raw_beta
    opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    loss = spikax_torch.run(twin, None, torch.tensor(xs))[0].v.pow(2).sum()
    loss.backward()
    opt.step()
    np.testing.assert_allclose(twin.raw_beta.detach().numpy(), np.asarray(jax_new), rtol=1e-12)
    assert leaves(twin.beta)[0] < 1.0  # still a valid decay


@pytest.mark.parametrize("name", ["IF", "LIF", "CubaLIF", "ALIF", "Izhikevich", "AdEx", "ResonateAndFire"])
def test_with_detached_reset_matches_spikax_and_shares_the_parameters(name):
    """The torch twin of `spikax.neurons.AbstractNeuron.with_detached_reset`: the reset's gradient is cut as
    in a neuron built with `detach_reset=True`, the parameters are the same tensors, the original is unchanged."""
    neuron = getattr(spikax_torch.neurons, name)(learnable=None, dtype=torch.float64)
    detached = neuron.with_detached_reset()
    assert detached.detach_reset and not neuron.detach_reset and detached.with_detached_reset() is detached
    assert all(a is b for a, b in zip(detached.buffers(), neuron.buffers()))
    assert to_spikax(detached).detach_reset and jax.tree_util.tree_structure(to_spikax(detached)) == \
        jax.tree_util.tree_structure(getattr(spikax.neurons, name)(detach_reset=True))
    li = spikax_torch.neurons.LI()
    assert li.with_detached_reset() is li


def test_a_torch_state_dict_saved_before_the_spiking_part_loads():
    """Before the firing options were the `spiking` submodule, `v_reset` was the neuron's own buffer."""
    old = {"raw_beta": torch.tensor(0.3, dtype=torch.float64), "raw_threshold": torch.tensor(0.2, dtype=torch.float64),
           "v_reset": torch.tensor(-0.4, dtype=torch.float64)}
    lif = spikax_torch.neurons.LIF(reset="zero", dtype=torch.float64)
    lif.load_state_dict(old)
    assert lif.v_reset.item() == -0.4 and lif.spiking.v_reset.item() == -0.4 and lif.raw_beta.item() == 0.3
    assert set(lif.state_dict()) == {"raw_beta", "raw_threshold", "spiking.v_reset"}
    lif.surrogate = spikax_torch.surrogate.ATan()  # sets the option the step reads
    assert isinstance(lif.spiking.surrogate, spikax_torch.surrogate.ATan) and "surrogate" not in vars(lif)
