"""S3: the trace learners of spikax_torch.online give spikax.online's gradients on the converted model (float64).

e-prop (symmetric, explicit and default readout filter, reset in the trace, feedback matrix with the
rate regulariser), OSTL, SnAp-1, OTTT and OTPE on recurrent ALIF / LIF networks that fire, with
learnable leaks and thresholds, a batch, attached and detached resets; `online.train` with SGD
and with FPTT gives the same parameters.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from spikax_torch.convert import from_spikax  # noqa: E402

T, BATCH = 12, 2
TOL = 1e-10


def _mse(y, t):
    return ((y - t) ** 2).sum()


def _get(tree, name):
    for part in name.split("."):
        tree = tree[int(part)] if part.isdigit() else getattr(tree, part)
    return tree


def _scaled(net, factor):
    return jax.tree_util.tree_map(lambda w: w * factor if eqx.is_inexact_array(w) and w.ndim == 2 else w, net)


def recurrent_alif(key):
    k1, k2 = jax.random.split(key)
    return _scaled(spikax.Chain([
        spikax.layers.recurrent_dense(3, 5, spikax.neurons.ALIF(alpha=0.8, rho=0.9, beta_a=0.3,
                                                                learnable=("alpha", "threshold")), key=k1),
        spikax.layers.dense(5, 2, spikax.neurons.LI(beta=0.8, learnable="beta"), key=k2),
    ]), 2.0)


def deep_lif(key):
    """Feed-forward LIF -> recurrent LIF with a detached reset -> LI: OTPE's next-layer filter, three layers."""
    k1, k2, k3 = jax.random.split(key, 3)
    return _scaled(spikax.Chain([
        spikax.layers.dense(3, 4, spikax.neurons.LIF(beta=0.7, learnable="threshold"), key=k1),
        spikax.layers.recurrent_dense(4, 4, spikax.neurons.LIF(beta=0.85, detach_reset=True, learnable="beta"),
                                      key=k2),
        spikax.layers.dense(4, 2, spikax.neurons.LI(beta=0.75), key=k3),
    ]), 2.0)


def _data(seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 2, size=(T, BATCH, 3)), rng.normal(size=(T, BATCH, 2))


def _learners(name, net):
    """(spikax learner, spikax_torch learner) factories with the same arguments."""
    feedback = np.random.default_rng(3).normal(size=(5, 2))
    table = {
        "eprop": lambda o, m: o.eprop(m, _mse),
        "eprop_kappa_reset": lambda o, m: o.eprop(m, _mse, readout_kappa=0.6, reset_in_trace=True),
        "eprop_feedback_rate": lambda o, m: o.eprop(
            m, _mse, feedback=jnp.asarray(feedback) if o is spikax.online else torch.tensor(feedback),
            readout_kappa=0.0, rate_reg=(0.3, 0.1)),
        "ostl": lambda o, m: o.ostl(m, _mse),
        "snap1": lambda o, m: o.snap1(m, _mse),
        "ottt": lambda o, m: o.ottt(m, _mse),
        "otpe": lambda o, m: o.otpe(m, _mse),
    }
    return table[name]


@functools.cache  # the learners' comparisons reuse these runs
def gradients(name, make_net, seed=0, batch=True):
    """Both packages' `online.run` of learner `name` (with a batch on axis 1, or one example)."""
    net = make_net(jax.random.key(seed))
    model = from_spikax(net)
    xs, targets = _data(seed)
    axis = 1 if batch else None
    if not batch:
        xs, targets = xs[:, 0], targets[:, 0]
    factory = _learners(name, net)
    params, _ = eqx.partition(net, spikax.trainable(net))
    j_loss, j_grads = spikax.online.run(factory(spikax.online, net), params, net.init_state((3,)), jnp.asarray(xs),
                                        jnp.asarray(targets), batch_axis=axis)
    t_params = dict(model.named_parameters())
    t_loss, t_grads = spikax_torch.online.run(factory(spikax_torch.online, model), t_params,
                                              model.init_state((3,), torch.float64), torch.tensor(xs),
                                              torch.tensor(targets), batch_axis=axis)
    return net, (j_loss, j_grads), (t_loss, t_grads), t_params


def _assert_same(j_grads, t_grads, names):
    scale = max(float(np.abs(np.asarray(_get(j_grads, n))).max()) for n in names)
    assert scale > 0
    for n in names:
        expected = np.asarray(_get(j_grads, n))
        got = t_grads[n].numpy()
        assert got.shape == expected.shape, n
        np.testing.assert_allclose(got, expected, rtol=TOL, atol=TOL * scale, err_msg=n)


@pytest.mark.parametrize("name", ["eprop", "eprop_kappa_reset", "eprop_feedback_rate", "ostl", "snap1", "ottt",
                                  "otpe"])
def test_s3_trace_learners_match_spikax_on_a_recurrent_alif_network(name):
    net, (j_loss, j_grads), (t_loss, t_grads), t_params = gradients(name, recurrent_alif)
    np.testing.assert_allclose(float(t_loss), float(j_loss), rtol=1e-12)
    _assert_same(j_grads, t_grads, list(t_params))
    # the hidden layer fires and its learning signal reaches every hidden parameter kind
    for n in ("layers.0.connection.weight", "layers.0.recurrent.weight", "layers.0.neuron.raw_alpha"):
        assert np.abs(t_grads[n].numpy()).max() > 0, n


@pytest.mark.parametrize("name", ["eprop", "ostl", "ottt", "otpe"])
def test_s3_trace_learners_match_spikax_on_a_deep_network(name):
    """One example (no batch axis), three layers."""
    net, (j_loss, j_grads), (t_loss, t_grads), t_params = gradients(name, deep_lif, seed=1, batch=False)
    np.testing.assert_allclose(float(t_loss), float(j_loss), rtol=1e-12)
    _assert_same(j_grads, t_grads, list(t_params))
    assert np.abs(t_grads["layers.0.connection.weight"].numpy()).max() > 0


def test_s3_learners_differ_from_each_other():
    """The parity above is not vacuous: the learners give different gradients on the same network."""
    grads = {name: gradients(name, recurrent_alif)[2][1]["layers.0.connection.weight"].numpy()
             for name in ("eprop", "ostl", "ottt")}
    assert np.abs(grads["eprop"] - grads["ostl"]).max() > 1e-6
    assert np.abs(grads["ostl"] - grads["ottt"]).max() > 1e-6


@pytest.mark.parametrize("fptt", [False, True], ids=["sgd", "fptt"])
def test_train_matches_spikax(fptt):
    net = recurrent_alif(jax.random.key(2))
    model = from_spikax(net)
    xs, targets = _data(2)
    lr, alpha = 0.05, 0.5
    params, _ = eqx.partition(net, spikax.trainable(net))
    opt = optax.sgd(lr)
    opt = spikax.online.fptt(opt, alpha) if fptt else opt
    j_params, _, j_losses = spikax.online.train(spikax.online.eprop(net, _mse), opt, params, opt.init(params),
                                                net.init_state((3,)), jnp.asarray(xs), jnp.asarray(targets),
                                                update_every=5, batch_axis=1)
    t_opt = torch.optim.SGD(model.parameters(), lr=lr)
    t_opt = spikax_torch.online.fptt(t_opt, alpha) if fptt else t_opt
    t_params, state, t_losses = spikax_torch.online.train(
        spikax_torch.online.eprop(model, _mse), t_opt, dict(model.named_parameters()), None,
        model.init_state((3,), torch.float64), torch.tensor(xs), torch.tensor(targets), update_every=5, batch_axis=1)
    np.testing.assert_allclose(t_losses.numpy(), np.asarray(j_losses), rtol=1e-10)
    moved = 0.0
    for n, value in t_params.items():
        expected = np.asarray(_get(j_params, n))
        np.testing.assert_allclose(value.detach().numpy(), expected, rtol=TOL, atol=TOL, err_msg=n)
        moved = max(moved, float(np.abs(expected - np.asarray(_get(params, n))).max()))
    assert moved > 1e-4  # three updates happened (T=12, every 5 steps, plus the remainder)
    if fptt:
        assert isinstance(state, spikax_torch.online.FPTTState)


def test_clear_errors():
    model = from_spikax(recurrent_alif(jax.random.key(0)))
    with pytest.raises(ValueError, match="feedback matrix has shape"):
        spikax_torch.online.eprop(model, _mse, feedback=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="needs `key=`"):
        spikax_torch.online.eprop(model, _mse, feedback="random")
    with pytest.raises(ValueError, match="readout_kappa"):
        spikax_torch.online.eprop(model, _mse, readout_kappa=1.5)
    with pytest.raises(ValueError, match="rate_reg"):
        spikax_torch.online.eprop(model, _mse, rate_reg=0.1)
    with pytest.raises(TypeError, match="reset_in_trace"):
        spikax_torch.online.eprop(model, _mse, reset_in_trace="yes")
    with pytest.raises(ValueError, match="trace_decay"):
        spikax_torch.online.ottt(model, _mse, trace_decay=2.0)
    cuba = spikax_torch.Chain([spikax_torch.layers.dense(3, 4, spikax_torch.neurons.CubaLIF(), key=0)])
    with pytest.raises(ValueError, match="no single membrane leak"):
        spikax_torch.online.ottt(cuba, _mse)
    conv = spikax_torch.Chain([spikax_torch.layers.Layer(torch.nn.Conv1d(1, 2, 3), spikax_torch.neurons.LIF())])
    with pytest.raises(TypeError, match="needs a dense `torch.nn.Linear`"):
        spikax_torch.online.ostl(conv, _mse)
    params = dict(model.named_parameters())
    with pytest.raises(ValueError, match="exactly the tensors of `params`"):
        spikax_torch.online.train(spikax_torch.online.ostl(model, _mse), torch.optim.SGD([torch.zeros(2)], lr=0.1),
                                  params, None, model.init_state((3,), torch.float64), torch.ones(4, 3),
                                  torch.zeros(4, 2))
    with pytest.raises(ValueError, match="update_every"):
        spikax_torch.online.train(spikax_torch.online.ostl(model, _mse), torch.optim.SGD(model.parameters(), lr=0.1),
                                  params, None, model.init_state((3,), torch.float64), torch.ones(4, 3),
                                  torch.zeros(4, 2), update_every=0)
    with pytest.raises(ValueError, match="alpha"):
        spikax_torch.online.fptt(torch.optim.SGD(model.parameters(), lr=0.1), alpha=0.0)


def test_run_and_train_take_the_same_arguments_in_both_packages():
    """Code written for one package runs in the other: same names, order, kinds and defaults (`chunk` included)."""
    import inspect

    describe = lambda fn: [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]  # noqa: E731
    for name in ("run", "train"):
        assert describe(getattr(spikax.online, name)) == describe(getattr(spikax_torch.online, name)), name


def test_chunk_is_checked_alike_and_gives_the_same_sums():
    net = recurrent_alif(jax.random.key(0))
    model = from_spikax(net)
    xs, targets = _data(0)
    t_args = (dict(model.named_parameters()), model.init_state((3,), torch.float64), torch.tensor(xs),
              torch.tensor(targets))
    j_est, t_est = spikax.online.eprop(net, _mse), spikax_torch.online.eprop(model, _mse)
    params, _ = eqx.partition(net, spikax.trainable(net))
    j_args = (params, net.init_state((3,)), jnp.asarray(xs), jnp.asarray(targets))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError) as j_err:
            spikax.online.run(j_est, *j_args, batch_axis=1, chunk=bad)
        with pytest.raises(ValueError) as t_err:
            spikax_torch.online.run(t_est, *t_args, batch_axis=1, chunk=bad)
        assert str(t_err.value).replace("spikax_torch", "spikax") == str(j_err.value)
    # the mirror steps one at a time whatever the chunk; spikax's chunks give the same sums
    _, t_grads = spikax_torch.online.run(t_est, *t_args, batch_axis=1, chunk=5)
    _, j_grads = spikax.online.run(j_est, *j_args, batch_axis=1, chunk=5)
    _assert_same(j_grads, t_grads, list(t_args[0]))
