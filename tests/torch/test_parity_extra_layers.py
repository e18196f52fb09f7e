"""Delays (fixed and learnable), pooling, flatten and dropout: same outputs and gradients in
spikax and spikax_torch; the torch sequence path equals the step loop."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from spikax_torch.convert import from_spikax, state_from_spikax, to_spikax  # noqa: E402

T, B = 12, 3
L, N = spikax.layers, spikax.neurons


def _get(tree, name):
    for part in name.split("."):
        tree = tree[int(part)] if part.isdigit() else getattr(tree, part)
    return tree


def _nets():
    k = jax.random.split(jax.random.key(7), 4)
    conv = jax.tree_util.tree_map(lambda w: w * 3 if eqx.is_inexact_array(w) and w.ndim == 4 else w,
                                  eqx.nn.Conv2d(1, 2, 3, padding=1, key=k[0]))
    return {
        "delay-fixed-then-delayed-linear-learnable": (spikax.Chain([
            L.Delay(4, delays=jnp.array([0, 2, 4, 1])), L.DelayedLinear(4, 3, 3, learnable=True, key=jax.random.key(0)),
            N.LIF(beta=0.5, learnable="beta")]), (4,)),
        "delay-learnable-then-delayed-linear-fixed": (spikax.Chain([
            L.Delay(4, delays=jnp.array([0.3, 2.5, 3.9, 1.0]), learnable=True, sigma=0.8),
            L.DelayedLinear(4, 3, 3, key=k[2]), N.LIF()]), (4,)),
        "conv-maxpool-flatten": (spikax.Chain([L.Layer(conv, N.LIF()), L.Pool("max", 2), L.Flatten(),
                                               L.dense(2 * 3 * 3, 3, N.LIF(beta=0.3), key=k[3])]), (1, 6, 6)),
        "conv-sumpool-avgpool": (spikax.Chain([L.Layer(conv, N.LIF()), L.Pool("sum", 2, 1), L.Pool("avg", 2, padding=1),
                                               L.Flatten(), L.dense(2 * 3 * 3, 3, N.LI(), key=k[3])]), (1, 6, 6)),
    }


NETS = list(_nets())


@pytest.mark.parametrize("name", NETS)
def test_same_outputs_and_gradients(name):
    net, shape = _nets()[name]
    net = jax.tree_util.tree_map_with_path(
        lambda path, w: w * 8.0 if "weight" in jax.tree_util.keystr(path) and w.ndim == 2 else w, net)
    model = from_spikax(net)
    assert eqx.tree_equal(to_spikax(model), net)
    rng = np.random.default_rng(NETS.index(name))
    xs = rng.uniform(0, 1.5, size=(T, B) + shape)
    weights = rng.normal(size=(T, B, 3))

    @eqx.filter_jit
    @eqx.filter_value_and_grad(has_aux=True)
    def jax_loss(pair):
        net, xs = pair
        _, ys = spikax.run(net, net.init_state(shape), xs, batch_axis=1)
        return jnp.sum(ys * weights), ys

    (_, j_ys), (j_grads, j_xgrad) = jax_loss((net, jnp.asarray(xs)))
    t_xs = torch.tensor(xs, requires_grad=True)
    _, t_ys = spikax_torch.run(model, None, t_xs)
    (t_ys * torch.tensor(weights)).sum().backward()
    assert t_ys.detach().numpy().any()
    np.testing.assert_allclose(t_ys.detach().numpy(), np.asarray(j_ys), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t_xs.grad.numpy(), np.asarray(j_xgrad), rtol=1e-10, atol=1e-12)
    for pname, p in model.named_parameters():
        expected = np.asarray(_get(j_grads, pname)).reshape(tuple(p.shape))
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-10, atol=1e-12, err_msg=pname)


@pytest.mark.parametrize("name", NETS[:2])
def test_sequence_equals_step_loop(name):
    model = from_spikax(_nets()[name][0])
    xs = torch.rand(T, B, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    final, ys = spikax_torch.run(model, None, xs)
    state, outs = None, []
    for x in xs.unbind(0):
        state, y = model(state, x)
        outs.append(y)
    np.testing.assert_allclose(torch.stack(outs).detach(), ys.detach(), rtol=1e-12, atol=1e-13)
    for a, b in zip(torch.utils._pytree.tree_leaves(state), torch.utils._pytree.tree_leaves(final)):
        assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-12, atol=1e-13)


def test_delay_buffer_layout_and_dropout_mask():
    delay = L.Delay(3, delays=jnp.array([0, 1, 3]))
    twin = from_spikax(delay)
    xs = np.random.default_rng(0).normal(size=(5, 3))
    j_state, j_ys = spikax.run(delay, delay.init_state((3,)), jnp.asarray(xs))
    t_state, t_ys = spikax_torch.run(twin, None, torch.tensor(xs))
    np.testing.assert_array_equal(t_ys.numpy(), np.asarray(j_ys))
    # one sample: the same ring buffer (the layouts differ only once a batch axis is added)
    np.testing.assert_array_equal(t_state.buffer.numpy(), np.asarray(j_state.buffer))
    assert int(t_state.position) == int(j_state.position)

    drop = L.Dropout(0.4)
    mask_state = drop.init_state((6,), key=jax.random.key(1))
    x = np.ones(6)
    t_drop = from_spikax(drop)
    _, y = t_drop(state_from_spikax(mask_state), torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), np.asarray(drop(mask_state, jnp.asarray(x))[1]))
    with pytest.raises(ValueError, match="needs a key"):
        t_drop.init_state((6,))
    masks = t_drop.init_state((2000, 6), key=0).mask
    assert abs(float((masks == 0).double().mean()) - 0.4) < 0.02
    np.testing.assert_allclose(masks.unique().numpy(), [0.0, 1 / 0.6])


def test_bntt_matches_spikax():
    k1, k2 = jax.random.split(jax.random.key(3))
    net = spikax.Chain([eqx.nn.Conv2d(1, 3, 3, padding=1, key=k1), L.BNTT(6, 3), N.LIF(),
                        L.Flatten(), L.dense(3 * 4 * 4, 2, N.LI(), key=k2)])
    net = eqx.tree_at(lambda n: n.layers[1].weight, net, net.layers[1].weight * jnp.linspace(0.5, 2.0, 3))
    model = from_spikax(net)
    assert eqx.tree_equal(to_spikax(model), net)
    xs = np.random.default_rng(0).uniform(0, 1, size=(8, B, 1, 4, 4))  # 8 steps: the last 2 reuse step 5's scale

    @eqx.filter_jit
    @eqx.filter_value_and_grad(has_aux=True)
    def jax_loss(net):
        final, ys = spikax.run(net, net.init_state((1, 4, 4)), jnp.asarray(xs), batch_axis=1)
        return jnp.sum(ys**2), (final, ys)

    (_, (j_final, j_ys)), j_grads = jax_loss(net)
    final, ys = spikax_torch.run(model, None, torch.tensor(xs))
    (ys**2).sum().backward()
    np.testing.assert_allclose(ys.detach().numpy(), np.asarray(j_ys), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.layers[1].weight.grad.numpy(), np.asarray(j_grads.layers[1].weight), rtol=1e-9,
                               atol=1e-12)
    # one batch-wide copy of the running statistics in torch; one (identical) copy per example in spikax
    np.testing.assert_allclose(final[1].running_mean.numpy(), np.asarray(j_final[1].running_mean[0]), rtol=1e-10)
    np.testing.assert_allclose(final[1].running_var.numpy(), np.asarray(j_final[1].running_var[0]), rtol=1e-10)
    assert int(final[1].step) == 8
