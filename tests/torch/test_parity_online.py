"""Forward-mode online learning: spikax_torch.online (torch.func) gives spikax.online's numbers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from spikax_torch.convert import from_spikax  # noqa: E402

T = 10


def _setup():
    k1, k2 = jax.random.split(jax.random.key(5))
    net = spikax.Chain([
        spikax.layers.recurrent_dense(3, 4, spikax.neurons.ALIF(learnable=("alpha", "threshold")), key=k1),
        spikax.layers.dense(4, 2, spikax.neurons.LI(learnable="beta"), key=k2),
    ])
    net = jax.tree_util.tree_map(lambda w: w * 3 if eqx.is_inexact_array(w) and w.ndim == 2 else w, net)
    rng = np.random.default_rng(0)
    xs, targets = rng.uniform(0, 2, size=(T, 3)), rng.normal(size=(T, 2))
    return net, from_spikax(net), xs, targets


def _get(tree, name):
    for part in name.split("."):
        tree = tree[int(part)] if part.isdigit() else getattr(tree, part)
    return tree


def _mse(y, t):
    return ((y - t) ** 2).sum()


def test_rtrl_and_references_match_spikax():
    net, model, xs, targets = _setup()
    params, _ = eqx.partition(net, spikax.trainable(net))
    j_loss, j_grads = spikax.online.run(spikax.online.rtrl(net, _mse), params, net.init_state((3,)),
                                        jnp.asarray(xs), jnp.asarray(targets))
    t_params = dict(model.named_parameters())
    state0 = model.init_state((3,), torch.float64)
    t_xs, t_targets = torch.tensor(xs), torch.tensor(targets)
    t_loss, t_grads = spikax_torch.online.run(spikax_torch.online.rtrl(model, _mse), t_params, state0, t_xs, t_targets)
    b_loss, b_grads = spikax_torch.online.bptt(model, _mse, state0, t_xs, t_targets)
    o_loss, o_grads = spikax_torch.online.rtrl_oracle(model, _mse, state0, t_xs, t_targets)
    assert float(t_loss) == pytest.approx(float(j_loss), rel=1e-12)
    assert abs(float(j_loss)) > 0
    for name in t_params:
        expected = np.asarray(_get(j_grads, name))
        assert np.abs(expected).max() > 0 or "raw_" in name
        for got in (t_grads, b_grads, o_grads):
            np.testing.assert_allclose(got[name].numpy(), expected, rtol=1e-9, atol=1e-12, err_msg=name)


def test_forward_gradient_along_a_fixed_direction_matches_spikax():
    net, model, xs, targets = _setup()
    params, _ = eqx.partition(net, spikax.trainable(net))
    t_params = dict(model.named_parameters())
    rng = np.random.default_rng(1)
    direction = {k: torch.tensor(rng.normal(size=tuple(v.shape))) for k, v in t_params.items()}
    j_direction = jax.tree_util.tree_map(lambda x: x, params)
    for name, value in direction.items():
        j_direction = eqx.tree_at(lambda p, n=name: _get(p, n), j_direction, jnp.asarray(value.numpy()))
    _, j_grads = spikax.online.run(spikax.online.forward_gradient(net, _mse, direction=j_direction), params,
                                   net.init_state((3,)), jnp.asarray(xs), jnp.asarray(targets))
    _, t_grads = spikax_torch.online.run(spikax_torch.online.forward_gradient(model, _mse, direction=direction),
                                         t_params, model.init_state((3,), torch.float64), torch.tensor(xs),
                                         torch.tensor(targets))
    for name in t_params:
        np.testing.assert_allclose(t_grads[name].numpy(), np.asarray(_get(j_grads, name)), rtol=1e-9, atol=1e-12)


def test_batched_rtrl_equals_batched_bptt_and_random_forward_gradient_is_unbiased():
    _, model, _, _ = _setup()
    rng = np.random.default_rng(2)
    xs, targets = torch.tensor(rng.uniform(0, 2, size=(T, 4, 3))), torch.tensor(rng.normal(size=(T, 4, 2)))
    params = dict(model.named_parameters())
    state0 = model.init_state((3,), torch.float64)
    loss, grads = spikax_torch.online.run(spikax_torch.online.rtrl(model, _mse), params, state0, xs, targets,
                                          batch_axis=1)
    b_loss, b_grads = spikax_torch.online.bptt(model, _mse, state0, xs, targets, batch_axis=1)
    np.testing.assert_allclose(float(loss), float(b_loss), rtol=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], b_grads[name], rtol=1e-9, atol=1e-12)
    # E[(g.v) v] = g for Rademacher v: with many tangents the estimate approaches the gradient
    _, fg = spikax_torch.online.run(spikax_torch.online.forward_gradient(model, _mse, num_tangents=400), params,
                                    state0, xs, targets, batch_axis=1, key=0)
    flat = lambda g: torch.cat([g[n].reshape(-1) for n in params])  # noqa: E731
    cos = torch.nn.functional.cosine_similarity(flat(fg), flat(b_grads), dim=0)
    assert cos > 0.8
    with pytest.raises(ValueError, match="need `key=`"):
        spikax_torch.online.run(spikax_torch.online.forward_gradient(model, _mse), params, state0, xs, targets,
                                batch_axis=1)
    with pytest.raises(ValueError, match="must be the model's trainable tensors"):
        spikax_torch.online.run(spikax_torch.online.rtrl(model, _mse), {}, state0, xs, targets, batch_axis=1)


def test_rtrl_refuses_an_influence_matrix_over_max_bytes():
    _, model, xs, targets = _setup()
    params = dict(model.named_parameters())
    state0 = model.init_state((3,), torch.float64)
    n_s = sum(t.numel() for t in spikax_torch._pytree.split_tensors(state0)[0])
    n_p = sum(p.numel() for p in params.values())
    t_xs, t_targets = torch.tensor(xs), torch.tensor(targets)
    with pytest.raises(ValueError, match=rf"{n_s} state entries x {n_p} parameters x 8 bytes"):
        spikax_torch.online.run(spikax_torch.online.rtrl(model, _mse, max_bytes=n_s * n_p * 8 - 1), params, state0,
                                t_xs, t_targets)
    loss, _ = spikax_torch.online.run(spikax_torch.online.rtrl(model, _mse, max_bytes=n_s * n_p * 8), params, state0,
                                      t_xs, t_targets)
    assert np.isfinite(float(loss))
    with pytest.raises(ValueError, match="max_bytes"):
        spikax_torch.online.rtrl(model, _mse, max_bytes=0)
