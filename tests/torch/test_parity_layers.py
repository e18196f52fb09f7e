"""Layers and networks: the same weights give the same outputs, states and gradients (reverse and
forward mode) in spikax and spikax_torch, for linear/convolutional x feed-forward/recurrent layers
with any neuron, and Chains with stateless blocks; models converted in both directions."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from spikax_torch._pytree import split_tensors  # noqa: E402
from spikax_torch.convert import from_spikax, to_spikax  # noqa: E402
from torch_helpers import JAX_DTYPE, TOL, assert_close, to_np  # noqa: E402

T, B = 10, 3


def _linear(key, n_in, n_out, dtype, bias=True):
    return eqx.nn.Linear(n_in, n_out, use_bias=bias, key=key, dtype=dtype)


def _conv(key, c_in, c_out, dtype, bias=True):
    return eqx.nn.Conv2d(c_in, c_out, 3, padding=1, use_bias=bias, key=key, dtype=dtype)


def _scaled(tree, factor):  # larger weights so that the layers spike
    return jax.tree_util.tree_map(lambda w: w * factor if eqx.is_inexact_array(w) and w.ndim > 1 else w, tree)


def build(kind, dtype):
    """(spikax model, one-sample input shape)."""
    k = jax.random.split(jax.random.key(3), 6)
    N = spikax.neurons
    if kind == "linear-feedforward":
        return spikax.layers.Layer(_scaled(_linear(k[0], 4, 6, dtype), 4.0),
                                   N.LIF(learnable=("beta", "threshold"), dtype=dtype)), (4,)
    if kind == "linear-recurrent":
        return spikax.layers.Recurrent(_scaled(_linear(k[0], 4, 6, dtype), 4.0),
                                       _scaled(_linear(k[1], 6, 6, dtype, bias=False), 2.0),
                                       N.ALIF(learnable=("alpha", "beta_a"), dtype=dtype)), (4,)
    if kind == "conv-feedforward":
        return spikax.layers.Layer(_scaled(_conv(k[0], 2, 3, dtype), 3.0),
                                   N.CubaLIF(learnable="beta", dtype=dtype)), (2, 5, 5)
    if kind == "conv-recurrent":
        return spikax.layers.Recurrent(_scaled(_conv(k[0], 2, 3, dtype), 6.0),
                                       _conv(k[1], 3, 3, dtype, bias=False),
                                       N.LIF(reset="zero", learnable="threshold", dtype=dtype)), (2, 5, 5)
    if kind == "chain":
        return spikax.Chain([
            spikax.layers.Layer(_scaled(_conv(k[0], 2, 4, dtype), 3.0), N.LIF(learnable="beta", dtype=dtype)),
            spikax.layers.Stateless(eqx.nn.AvgPool2d(2, 2)),
            spikax.layers.Layer(eqx.nn.Sequential([eqx.nn.Conv2d(4, 4, 1, key=k[1], dtype=dtype)]),
                                N.IF(dtype=dtype)),
            spikax.layers.Recurrent(_scaled(eqx.nn.Conv2d(4, 2, 2, key=k[2], dtype=dtype), 3.0),
                                    eqx.nn.Conv2d(2, 2, 1, use_bias=False, key=k[3], dtype=dtype),
                                    N.SigmaDelta(learnable="threshold", dtype=dtype)),
            spikax.layers.Layer(eqx.nn.Identity(), N.LI(learnable="beta", dtype=dtype)),
        ]), (2, 5, 5)
    raise ValueError(kind)


KINDS = ["linear-feedforward", "linear-recurrent", "conv-feedforward", "conv-recurrent", "chain"]


def _get(model, name):
    """The leaf of a spikax model at a torch parameter name such as `layers.0.connection.weight`."""
    for part in name.split("."):
        model = model[int(part)] if part.isdigit() else getattr(model, part)
    return model


def _compare(jax_model, torch_model, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0, 1.5, size=(T, B) + shape).astype(dtype)
    out_shape = jax_model.output_shape(shape, JAX_DTYPE[dtype]) if hasattr(jax_model, "output_shape") else None
    weights = rng.normal(size=(T, B) + tuple(out_shape)).astype(dtype)
    names = [name for name, _ in torch_model.named_parameters()]
    tangents = {name: torch.tensor(rng.normal(size=tuple(p.shape)).astype(dtype))
                for name, p in torch_model.named_parameters()}

    # JAX: vmapped run, gradient with respect to the whole model
    def jax_loss(model_and_xs):
        model, xs = model_and_xs
        final, ys = spikax.run(model, model.init_state(shape, xs.dtype), xs, batch_axis=1)
        return jnp.sum(ys * weights), (final, ys)

    (_, (j_final, j_ys)), (j_grads, j_xgrad) = eqx.filter_jit(
        eqx.filter_value_and_grad(jax_loss, has_aux=True))((jax_model, jnp.asarray(xs)))

    # torch: native batch; gradients by torch.func.grad and the forward-mode directional derivative
    params = {name: p.detach() for name, p in torch_model.named_parameters()}
    t_xs = torch.tensor(xs)
    t_weights = torch.tensor(weights)

    rebuild = []

    def torch_loss(params, xs):
        final, ys = _run_with(torch_model, params, xs)
        # torch.func wants tensor-only outputs: states may hold None (optional fields), so split them off
        tensors, rebuild_state = split_tensors(final)
        rebuild.append(rebuild_state)
        return (ys * t_weights).sum(), (tensors, ys)

    (t_grads, t_xgrad), (t_tensors, t_ys) = torch.func.grad(torch_loss, argnums=(0, 1), has_aux=True)(params, t_xs)
    t_final = rebuild[-1](t_tensors)
    t_dir = torch.func.jvp(lambda p: torch_loss(p, t_xs)[0], (params,), (tangents,))[1]

    rtol, atol = TOL[dtype]["value" if dtype == "float64" else "grad"]
    outputs_are_spikes = not isinstance(getattr(torch_model, "neuron", None) or torch_model[-1].neuron,
                                        (spikax_torch.neurons.LI, spikax_torch.neurons.SigmaDelta))
    if outputs_are_spikes:
        np.testing.assert_array_equal(to_np(t_ys), np.asarray(j_ys))
    assert to_np(t_ys).any(), "the test network should produce output"
    assert_close(t_ys, j_ys, rtol, atol, "outputs")
    assert_close(t_final, j_final, rtol, atol, "final states")
    grtol, gatol = TOL[dtype]["grad"] if dtype == "float64" else (1e-3, 1e-5)
    for name in names:
        j = np.asarray(_get(j_grads, name))
        assert_close(t_grads[name], j.reshape(tuple(t_grads[name].shape)), grtol, gatol, name)
    assert_close(t_xgrad, j_xgrad, grtol, gatol, "input gradient")
    j_dir = sum(float(jnp.vdot(_get(j_grads, n).reshape(tuple(tangents[n].shape)), jnp.asarray(to_np(tangents[n]))))
                for n in names)
    np.testing.assert_allclose(float(t_dir), j_dir, rtol=grtol, atol=gatol * max(1.0, abs(j_dir)))


def _run_with(model, params, xs):
    class _Runner(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, xs):
            return spikax_torch.run(self.inner, None, xs)

    runner = _Runner(model)
    return torch.func.functional_call(runner, {"inner." + k: v for k, v in params.items()}, (xs,))


@pytest.mark.parametrize("kind", ["linear-feedforward", "linear-recurrent", "chain"])
def test_same_outputs_states_and_gradients_float64(kind):
    """The chain holds a convolutional feed-forward and a convolutional recurrent layer (and pooling,
    a `Sequential`, an identity connection, a graded SigmaDelta and an LI readout)."""
    jax_model, shape = build(kind, jnp.float64)
    _compare(jax_model, from_spikax(jax_model), shape, "float64", seed=KINDS.index(kind))


@pytest.mark.parametrize("kind", ["conv-recurrent"])
def test_same_outputs_states_and_gradients_float32_other_direction(kind):
    """Built natively in torch (the twin's own parameters), converted to spikax with `to_spikax`."""
    jax_model, shape = build(kind, jnp.float32)
    torch_model = from_spikax(jax_model)
    with torch.no_grad():  # give the torch model its own (different) weights, then convert the other way
        for p in torch_model.parameters():
            p.mul_(1.1)
    _compare(to_spikax(torch_model), torch_model, shape, "float32", seed=10 + KINDS.index(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_is_exact(kind):
    jax_model, shape = build(kind, jnp.float64)
    assert eqx.tree_equal(to_spikax(from_spikax(jax_model)), jax_model)
    state = jax.vmap(lambda _: jax_model.init_state(shape))(jnp.arange(B))
    torch_state = spikax_torch.convert.state_from_spikax(state)
    expected = from_spikax(jax_model).init_state((B,) + shape, torch.float64)
    assert_close(torch_state, expected, 0, 0, "initial state")
    assert jax.tree_util.tree_structure(spikax_torch.convert.state_to_spikax(torch_state)) == \
        jax.tree_util.tree_structure(state)


def test_step_by_step_equals_sequence_run():
    jax_model, shape = build("chain", jnp.float64)
    model = from_spikax(jax_model)
    xs = torch.rand((T, B) + shape, dtype=torch.float64) * 1.5
    final, ys = spikax_torch.run(model, model.init_state(xs.shape[1:], torch.float64), xs)
    state, outs = None, []
    for x in xs.unbind(0):
        state, y = model(state, x)
        outs.append(y)
    assert torch.equal(torch.stack(outs), ys)
    assert_close(state, final, 0, 0, "final state")


def test_graph_with_skip_and_feedback_matches_spikax():
    k = jax.random.split(jax.random.key(9), 4)
    lif = spikax.neurons.LIF(learnable="beta")
    net = spikax.Graph(
        nodes={"enc": eqx.nn.Linear(4, 8, key=k[0]),
               "a": spikax.layers.dense(8, 8, lif, key=k[1]),
               "b": spikax.layers.dense(8, 8, lif, key=k[2]),
               "out": spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k[3])},
        edges=[("input", "enc"), ("enc", "a"), ("a", "b"), ("b", "out"), ("a", "out"), ("b", "a")],
        output="out")
    net = _scaled(net, 3.0)
    model = from_spikax(net)
    assert eqx.tree_equal(to_spikax(model), net)
    xs = np.random.default_rng(0).uniform(0, 1.5, size=(T, B, 4))

    @eqx.filter_jit
    @eqx.filter_value_and_grad(has_aux=True)
    def jax_loss(net):
        _, ys = spikax.run(net, net.init_state((4,)), jnp.asarray(xs), batch_axis=1)
        return jnp.sum(ys**2), ys

    (_, j_ys), j_grads = jax_loss(net)
    _, ys = spikax_torch.run(model, None, torch.tensor(xs))
    (ys**2).sum().backward()
    np.testing.assert_allclose(ys.detach().numpy(), np.asarray(j_ys), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.nodes["a"].connection.weight.grad.numpy(),
                               np.asarray(j_grads.nodes["a"].connection.weight), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.nodes["a"].neuron.raw_beta.grad.numpy(),
                               np.asarray(j_grads.nodes["a"].neuron.raw_beta), rtol=1e-10, atol=1e-12)
    state, outs = None, []
    for x in torch.tensor(xs).unbind(0):
        state, y = model(state, x)
        outs.append(y)
    np.testing.assert_allclose(torch.stack(outs).detach(), ys.detach(), rtol=1e-12, atol=1e-13)
