"""Tests of `spikax.training`: train step, fit, evaluation, early stopping, checkpoints, history, tasks."""

import math
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import assert_tree_allclose

import spikax
from spikax import training


def tiny_data(n=48, n_in=6, steps=12, seed=0):
    """Two classes on background noise: class 0 bursts on the first half of the inputs, class 1 on the rest."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = (rng.random((n, steps, n_in)) < 0.1).astype(np.float64)
    half = n_in // 2
    for i in range(n):
        channels = slice(half, n_in) if y[i] else slice(0, half)
        x[i, :, channels] = rng.random((steps, half)) < 0.5
    return x, y


def tiny_net(key, n_in=6, hidden=16, n_out=2, dtype=jnp.float64):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    net = spikax.Chain([spikax.layers.dense(n_in, hidden, spikax.neurons.LIF(beta=0.8), key=k1, dtype=dtype),
                        spikax.layers.dense(hidden, n_out, spikax.neurons.LI(beta=0.8), key=k2, dtype=dtype)])
    # Larger weights so the hidden layer fires (neurons integrate (1 - beta) * x).
    w1 = 3.0 * jax.random.normal(k3, net.layers[0].connection.weight.shape, dtype)
    w2 = 1.0 * jax.random.normal(k4, net.layers[1].connection.weight.shape, dtype)
    net = eqx.tree_at(lambda n: n.layers[0].connection.weight, net, w1)
    return eqx.tree_at(lambda n: n.layers[1].connection.weight, net, w2)


LOSS = training.classification_loss("max")
SGD = optax.sgd(0.5)  # one optimiser object for all tests, so their fits share one compiled step


def test_train_step_is_one_sgd_step_on_the_bptt_gradient(getkey):
    net, (x, y) = tiny_net(getkey()), tiny_data(8)
    lr = 0.1
    opt = optax.sgd(lr)
    params, static = eqx.partition(net, spikax.trainable(net))
    opt_state = opt.init(params)
    key = getkey()
    new, _, loss, metrics = training.make_train_step(LOSS, opt)(net, opt_state, x, y, key)

    def loss_of(p):
        return LOSS(eqx.combine(p, static), x, y, method=spikax.BPTT(), key=key)[0]

    grads = eqx.filter_jit(jax.grad(loss_of))(params)
    expected = eqx.combine(jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), static)
    assert_tree_allclose(eqx.filter(new, eqx.is_array), eqx.filter(expected, eqx.is_array), rtol=1e-12, atol=1e-14)
    assert np.isclose(loss, eqx.filter_jit(loss_of)(params))
    assert 0.0 <= float(metrics["accuracy"]) <= 1.0
    # fixed neuron constants were neither differentiated nor changed
    assert float(new.layers[0].neuron.beta) == pytest.approx(0.8)


@pytest.fixture(scope="module")
def bptt_reference():
    net, (x, y) = tiny_net(jax.random.key(3)), tiny_data(8)
    params, static = eqx.partition(net, spikax.trainable(net))
    args = (params, static, x, y, jax.random.key(4))
    return args, eqx.filter_jit(training.get_method("bptt"))(LOSS, *args)


@pytest.mark.parametrize("name, options", [("checkpointed", {"every": 5}), ("truncated", {"k": 100})])
def test_named_methods_give_the_bptt_gradient(name, options, bptt_reference):
    args, ((loss_ref, _), g_ref) = bptt_reference
    (loss, _), g = eqx.filter_jit(training.get_method(name, **options))(LOSS, *args)
    assert np.isclose(loss, loss_ref)
    assert_tree_allclose(g, g_ref, rtol=1e-10, atol=1e-14)


def test_truncated_gradient_differs_when_cut(bptt_reference):
    args, (_, g_ref) = bptt_reference
    _, g = eqx.filter_jit(training.get_method(spikax.TruncatedBPTT(k=2)))(LOSS, *args)
    w, w_ref = g.layers[0].connection.weight, g_ref.layers[0].connection.weight
    assert not np.allclose(w, w_ref)


def test_method_registry_and_errors():
    assert {"bptt", "checkpointed", "truncated"} <= set(training.methods())
    with pytest.raises(ValueError, match="unknown method 'nope'.*bptt"):
        training.get_method("nope")
    with pytest.raises(TypeError, match="does not take the options"):
        training.get_method("bptt", k=3)
    with pytest.raises(TypeError, match="must be a name"):
        training.get_method(3)
    training.register_method("bptt-alias", lambda: training.reverse_mode(spikax.BPTT()), "test alias")
    assert training.methods()["bptt-alias"] == "test alias"
    with pytest.raises(ValueError, match="non-empty string"):
        training.register_method("", lambda: None)


def test_fit_learns_and_is_deterministic(getkey):
    x, y = tiny_data(64)
    net = tiny_net(jax.random.key(1))
    kwargs = dict(epochs=4, batch_size=16, optimizer=SGD, eval_data=tiny_data(32, seed=1),
                  key=jax.random.key(2), progress=False)
    trained, history = training.fit(net, LOSS, (x, y), **kwargs)
    assert len(history) == 4 and set(history.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy", "time", "val_time"}
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    # the recorded validation metrics are those of the returned model
    val = training.evaluate(trained, LOSS, tiny_data(32, seed=1), batch_size=16)
    assert val["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert val["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-9)
    _, again = training.fit(net, LOSS, (x, y), **kwargs)
    assert again["loss"] == history["loss"]


def test_evaluate_weights_a_ragged_last_batch(getkey):
    net, (x, y) = tiny_net(getkey()), tiny_data(10)
    whole_loss, whole = eqx.filter_jit(LOSS)(net, x, y)
    metrics = training.evaluate(net, LOSS, (x, y), batch_size=4)  # batches of 4, 4, 2
    assert metrics["loss"] == pytest.approx(float(whole_loss), rel=1e-10)
    assert metrics["accuracy"] == pytest.approx(float(whole["accuracy"]))


def test_early_stopping_restores_the_best_model(getkey):
    x, y = tiny_data(32)
    net = tiny_net(getkey())
    # No change counts as an improvement with a huge `min_delta`: training stops after `patience` epochs.
    seen = []
    model, history = training.fit(net, LOSS, (x, y), epochs=30, batch_size=16, optimizer=SGD, patience=2,
                                  min_delta=1e9, progress=False, callback=lambda e, m, r: seen.append(m) and False)
    assert history.stopped_early and len(history) == 3  # no improvement after epoch 0 -> stop after 2 more
    assert history.best_epoch == 0
    assert_tree_allclose(eqx.filter(model, eqx.is_array), eqx.filter(seen[0], eqx.is_array))
    assert not np.allclose(model.layers[0].connection.weight, seen[-1].layers[0].connection.weight)


def test_callback_can_stop(getkey):
    x, y = tiny_data(16)
    _, history = training.fit(tiny_net(getkey()), LOSS, (x, y), epochs=5, batch_size=16, optimizer=SGD,
                              progress=False, callback=lambda epoch, model, record: epoch == 1)
    assert len(history) == 2 and not history.stopped_early


@pytest.mark.standard_promotion  # optax's adam mixes an int32 count with floats
def test_fit_with_adam_checkpoints_and_resumes(tmp_path, getkey):
    x, y = tiny_data(32)
    net = tiny_net(getkey())
    model, history = training.fit(net, LOSS, (x, y), epochs=2, batch_size=16, learning_rate=1e-2,
                                  checkpoint_dir=tmp_path, progress=False)
    assert {p.name for p in tmp_path.iterdir()} == {"last.eqx", "best.eqx", "history.json"}
    opt_state = optax.adam(1e-2).init(eqx.filter(net, spikax.trainable(net)))
    loaded, loaded_opt = training.load_checkpoint(tmp_path / "last.eqx", like=(net, opt_state))
    assert_tree_allclose(eqx.filter(loaded, eqx.is_array), eqx.filter(model, eqx.is_array))
    assert int(loaded_opt[0].count) == 4  # two epochs of two steps
    meta = training.checkpoint_metadata(tmp_path / "last.eqx")
    assert meta["epoch"] == 1 and meta["metrics"]["loss"] == pytest.approx(history["loss"][-1])
    assert training.History.load(tmp_path / "history.json")["loss"] == history["loss"]


def test_checkpoint_round_trip_and_errors(tmp_path, getkey):
    net = tiny_net(getkey())
    path = training.save_checkpoint(tmp_path / "sub" / "m.eqx", net, {"note": "hi", "acc": 0.5})
    other = tiny_net(getkey())
    loaded = training.load_checkpoint(path, like=other)
    assert_tree_allclose(eqx.filter(loaded, eqx.is_array), eqx.filter(net, eqx.is_array), rtol=0)
    assert training.checkpoint_metadata(path) == {"note": "hi", "acc": 0.5}
    with pytest.raises(ValueError, match="does not fit the structure"):
        training.load_checkpoint(path, like=tiny_net(getkey(), hidden=5))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        training.load_checkpoint(tmp_path / "missing.eqx", like=net)
    (tmp_path / "junk.eqx").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a spikax checkpoint"):
        training.load_checkpoint(tmp_path / "junk.eqx", like=net)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        training.save_checkpoint(tmp_path / "bad.eqx", net, {"a": np.zeros(2)})


def test_history_records_best_and_plot(tmp_path):
    history = training.History()
    history.append({"loss": 1.0, "accuracy": 0.5})
    history.append({"loss": 0.5, "accuracy": 0.7, "val_accuracy": 0.6})
    assert len(history) == 2 and math.isnan(history["val_accuracy"][0])
    assert history.best("loss") == (1, 0.5) and history.best("accuracy") == (1, 0.7)
    history.save(tmp_path / "h.json")
    again = training.History.load(tmp_path / "h.json")
    assert again["loss"] == [1.0, 0.5] and math.isnan(again["val_accuracy"][0])
    with pytest.raises(KeyError, match="no metric 'nope'"):
        history["nope"]
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = history.plot()
    assert len(axes) == 2 and axes[0].get_xlabel() == "epoch"
    plt.close("all")


@pytest.mark.parametrize("readout, reference", [
    ("count", spikax.losses.spike_count_cross_entropy),
    ("mean", spikax.losses.mean_membrane_cross_entropy),
])
def test_classification_loss_matches_the_loss_functions(readout, reference, getkey):
    net, (x, y) = tiny_net(getkey()), tiny_data(6)
    loss, metrics = eqx.filter_jit(training.classification_loss(readout))(net, x, y)
    xs = jnp.swapaxes(jnp.asarray(x), 0, 1)
    _, ys = eqx.filter_jit(spikax.run)(net, net.init_state((6,)), xs, batch_axis=1)
    assert float(loss) == pytest.approx(float(reference(ys, jnp.asarray(y))))
    logits = ys.sum(0) if readout == "count" else ys.mean(0)
    assert float(metrics["accuracy"]) == pytest.approx(float(spikax.losses.accuracy(logits, jnp.asarray(y))))
    with pytest.raises(ValueError, match="unknown readout 'median'"):
        training.classification_loss("median")


def test_fit_input_errors(getkey):
    net, data = tiny_net(getkey()), tiny_data(16)
    with pytest.raises(ValueError, match="`epochs` must be a positive int, got 0"):
        training.fit(net, LOSS, data, epochs=0)
    with pytest.raises(TypeError, match="must be a pair"):
        training.fit(net, LOSS, data[0])
    with pytest.raises(ValueError, match="same number of examples"):
        training.fit(net, LOSS, (data[0], data[1][:3]))
    with pytest.raises(ValueError, match="needs validation data"):
        training.fit(net, LOSS, data, monitor="val_accuracy")
    with pytest.raises(ValueError, match="`learning_rate` must be a positive number"):
        training.fit(net, LOSS, data, learning_rate=-1.0)
    with pytest.raises(ValueError, match="cannot monitor 'f1'"):
        training.fit(net, LOSS, data, epochs=1, batch_size=16, optimizer=SGD, monitor="f1", progress=False)


def test_task_registry():
    assert {"randman", "digits", "mnist-conv", "mnist-seq", "braille"} <= set(training.tasks())
    with pytest.raises(ValueError, match="unknown task 'cifar'. Known tasks: braille, digits"):
        training.get_task("cifar")
    with pytest.raises(TypeError, match="expected a `spikax.training.Task`"):
        training.register_task("randman")


@pytest.mark.parametrize("name, shape, step_shape, classes", [  # one example as stored; one step into the model
    ("randman", (100, 100), (100,), 10), ("digits", (64,), (64,), 10), ("mnist-conv", (1, 28, 28), (1, 28, 28), 10),
    ("mnist-seq", (784, 1), (1,), 10), ("braille", (77, 24), (24,), 27)])
def test_task_models_take_their_inputs(name, shape, step_shape, classes, getkey):
    task = training.get_task(name)
    model = task.model(getkey())
    x = jax.ShapeDtypeStruct((2, *shape), jnp.float32)
    y = jax.ShapeDtypeStruct((2,), jnp.int32)
    # Shapes only (no compilation): the model accepts the task's inputs and gives one loss.
    loss, metrics = eqx.filter_eval_shape(lambda m, x, y, k: task.loss(m, x, y, method=spikax.BPTT(), key=k),
                                          model, x, y, getkey())
    assert loss.shape == () and metrics["accuracy"].shape == ()
    assert model.output_shape(step_shape) == (classes,)


def _rows(x, y):
    return {row.tobytes(): label for row, label in zip(x, y)}


def test_task_limit_is_a_class_balanced_subset_of_the_same_data(data_path):
    """`limit` drew a different randman data set, and kept 3 of 27 Braille letters (issue 10)."""
    task = training.get_task("randman")
    small, large = task.load(None, 100), task.load(None, 300)
    for (x, y), (xl, yl) in zip(small, large):  # training and test sets
        assert x.shape == (100, 100, 100) and np.bincount(y).tolist() == [10] * 10
        rows = _rows(xl, yl)
        assert all(rows.get(row.tobytes()) == label for row, label in zip(x, y))
    if not (data_path / "braille" / "braille_taxel.npz").is_file():
        pytest.skip("braille/braille_taxel.npz not found under SPIKAX_DATA")
    braille = training.get_task("braille")
    full = braille.load(data_path, None)
    for (x, y), (xf, yf) in zip(braille.load(data_path, 100), full):
        assert len(y) == 100 and len(np.unique(y)) == 27
        rows = _rows(xf, yf)
        assert all(rows.get(row.tobytes()) == label for row, label in zip(x, y))


def test_task_data_loaders(data_path):
    (x, y), (xt, yt) = training.get_task("randman").load(None, 40)
    assert x.shape == (40, 100, 100) and set(np.unique(x)) <= {0.0, 1.0} and len(yt) <= 40
    if not (data_path / "braille" / "braille_taxel.npz").is_file():
        pytest.skip("braille/braille_taxel.npz not found under SPIKAX_DATA")
    (x, y), (xt, yt) = training.get_task("braille").load(data_path, None)
    assert x.shape == (1080, 77, 24) and xt.shape == (270, 77, 24)
    assert np.bincount(yt).tolist() == [10] * 27
    assert set(np.unique(x)) == {0.0, 1.0}


def test_online_method_rtrl_gives_the_gradient_of_the_mean_per_step_loss(bptt_reference):
    (params, static, x, y, key), _ = bptt_reference
    x, y = x[:4], y[:4]
    (loss, metrics), grads = eqx.filter_jit(training.get_method("rtrl"))(LOSS, params, static, x, y, key)

    def mean_step_loss(p):
        model = eqx.combine(p, static)
        xs = jnp.swapaxes(jnp.asarray(x), 0, 1)
        _, ys = spikax.run(model, model.init_state((6,)), xs, batch_axis=1)  # (T, B, C)
        per_step = jax.vmap(jax.vmap(LOSS.per_step))(ys, jnp.broadcast_to(jnp.asarray(y), ys.shape[:2]))
        return per_step.mean()

    expected = eqx.filter_jit(jax.grad(mean_step_loss))(params)
    assert_tree_allclose(grads, expected, rtol=1e-8, atol=1e-12)
    # the reported loss is the task's own (max-membrane) loss
    assert float(loss) == pytest.approx(float(eqx.filter_jit(LOSS)(eqx.combine(params, static), x, y)[0]))


def test_online_methods_are_registered_and_need_a_per_step_loss(bptt_reference):
    assert {"eprop", "rtrl", "ottt", "forward_gradient"} <= set(training.methods())
    (params, static, x, y, key), _ = bptt_reference

    def plain_loss(model, x, y, *, method=None, key=None):
        return LOSS(model, x, y, method=method, key=key)

    with pytest.raises(TypeError, match="needs a loss with a per-step form"):
        training.get_method("eprop")(plain_loss, params, static, x, y, key)


# --- issue 10: no silent wrong results -----------------------------------------------------------


def test_nan_inputs_stop_fit_and_evaluate_naming_the_examples(getkey):
    """One NaN example turned the first layer's weights to NaN while the loss looked finite (issue 10)."""
    net = tiny_net(getkey())
    x, y = tiny_data(32)
    x[5, 3, 1] = np.nan
    x[20, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"`train_data` holds NaN or infinite inputs in 2 example\(s\), at indices "
                                         r"5, 20.*on_nonfinite='skip'"):
        training.fit(net, LOSS, (x, y), epochs=1, batch_size=16, optimizer=SGD, progress=False)
    with pytest.raises(ValueError, match=r"`data` holds NaN or infinite inputs .* at indices 5, 20"):
        training.evaluate(net, LOSS, (x, y))
    bad = eqx.tree_at(lambda n: n.layers[0].connection.weight, net, net.layers[0].connection.weight.at[0, 0].set(np.nan))
    with pytest.raises(ValueError, match=r"NaN or infinite parameters in .*layers\[0\]\.connection\.weight"):
        training.evaluate(bad, LOSS, tiny_data(8))
    with pytest.raises(ValueError, match=r"fit`: the model has NaN or infinite parameters"):
        training.fit(bad, LOSS, tiny_data(8), epochs=1, optimizer=SGD, progress=False)


def test_labels_outside_the_classes_stop_fit(getkey):
    x, y = tiny_data(16)
    y[3] = 2  # the network has 2 outputs
    with pytest.raises(Exception, match=r"a label lies outside \[0, 2\)"):
        training.fit(tiny_net(getkey()), LOSS, (x, y), epochs=1, batch_size=16, optimizer=SGD, progress=False)


def test_skip_mode_skips_the_nan_batch_and_keeps_the_weights_finite(getkey):
    net = tiny_net(getkey())
    x, y = tiny_data(32)
    x[5, 3, 1] = np.nan
    model, history = training.fit(net, LOSS, (x, y), epochs=2, batch_size=16, optimizer=SGD, progress=False,
                                  on_nonfinite="skip")
    assert history["skipped"] == [1.0, 1.0]  # one of two batches per epoch holds example 5
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)))
    assert all(np.isfinite(history["loss"]))
    assert not np.allclose(model.layers[0].connection.weight, net.layers[0].connection.weight)  # it still learned


def test_a_diverging_batch_is_named_and_not_applied(getkey):
    net = tiny_net(getkey())
    x, y = tiny_data(32)
    x[11] = 2.0  # finite, but the loss below turns it into NaN: a stand-in for a diverging step

    def loss_fn(model, xb, yb, *, method=None, key=None):
        loss, metrics = LOSS(model, xb, yb, method=method, key=key)
        return loss * jnp.where(jnp.max(xb) > 1.5, jnp.nan, 1.0), metrics

    with pytest.raises(FloatingPointError, match=r"batch \d of epoch 1 is NaN or infinite \(examples [\d, ]*\b11\b"
                                                 r".*not updated.*on_nonfinite='skip'"):
        training.fit(net, loss_fn, (x, y), epochs=1, batch_size=8, optimizer=SGD, progress=False)


def test_validation_split_selects_and_the_test_metrics_are_the_returned_models(getkey):
    """Model selection used `eval_data`, which users fill with the test set (issue 10)."""
    net = tiny_net(getkey())
    x, y = tiny_data(64)
    test = tiny_data(32, seed=1)
    seen = []
    model, history = training.fit(net, LOSS, (x, y), epochs=4, batch_size=16, optimizer=SGD, val_fraction=0.25,
                                  test_data=test, patience=2, min_delta=1e9, progress=False,
                                  callback=lambda e, m, r: seen.append(m) and False)
    assert "val_loss" in history and history.best_epoch == 0 and history.selected_epoch == 0
    assert_tree_allclose(eqx.filter(model, eqx.is_array), eqx.filter(seen[0], eqx.is_array))
    assert history.test == training.evaluate(model, LOSS, test, batch_size=256)  # the returned (best) model
    (_, _), val = spikax.datasets.split(x, y, 0.25, seed=0)
    assert history["val_loss"][0] == pytest.approx(training.evaluate(seen[0], LOSS, val)["loss"], rel=1e-9)
    with pytest.raises(ValueError, match="both `val_data` and `val_fraction`"):
        training.fit(net, LOSS, (x, y), val_data=test, val_fraction=0.1)


def _interrupt_after(monkeypatch, n_batches):
    """Make the training batches raise KeyboardInterrupt after `n_batches` (as Ctrl-C would)."""
    real = spikax.datasets.batches
    count = [0]

    def batches(*arrays, **kwargs):
        for batch in real(*arrays, **kwargs):
            if kwargs.get("shuffle"):
                if count[0] == n_batches:
                    raise KeyboardInterrupt
                count[0] += 1
            yield batch

    monkeypatch.setattr(spikax.datasets, "batches", batches)


@pytest.mark.parametrize("stop_after", [6, 8], ids=["mid-epoch", "epoch-end"])
def test_an_interrupted_fit_resumes_to_the_uninterrupted_result(tmp_path, getkey, monkeypatch, stop_after):
    net = tiny_net(getkey())
    data = tiny_data(64)
    kwargs = dict(epochs=3, batch_size=16, optimizer=SGD, key=jax.random.key(4), progress=False)
    whole, whole_history = training.fit(net, LOSS, data, **kwargs)
    with monkeypatch.context() as patch:
        _interrupt_after(patch, stop_after)  # 4 batches an epoch
        with pytest.raises(KeyboardInterrupt):
            training.fit(net, LOSS, data, checkpoint_dir=tmp_path, **kwargs)
    meta = training.checkpoint_metadata(tmp_path / "last.eqx")
    assert meta["epoch"] == stop_after // 4 - 1 and meta["step"] == stop_after % 4
    resumed, history = training.fit(net, LOSS, data, resume_from=tmp_path / "last.eqx", **kwargs)
    assert_tree_allclose(eqx.filter(resumed, eqx.is_array), eqx.filter(whole, eqx.is_array), rtol=1e-12, atol=1e-14)
    assert history["loss"] == pytest.approx(whole_history["loss"], rel=1e-12)


def _lif_net(key, **options):
    return spikax.Chain([spikax.layers.dense(3, 4, spikax.neurons.LIF(**options), key=key, dtype=jnp.float64)])


def test_a_checkpoint_refuses_a_model_built_with_other_options(tmp_path, getkey):
    """Only arrays were stored: loading into a model with another reset mode, refractory period or
    surrogate succeeded silently (issue 10)."""
    key = getkey()
    saved = _lif_net(key, reset="zero", refractory=2, surrogate=spikax.surrogate.ATan())
    path = training.save_checkpoint(tmp_path / "m.eqx", saved, {"epoch": 1})
    assert training.checkpoint_metadata(path) == {"epoch": 1}
    loaded = training.load_checkpoint(path, like=_lif_net(getkey(), reset="zero", refractory=2,
                                                          surrogate=spikax.surrogate.ATan()))
    assert_tree_allclose(eqx.filter(loaded, eqx.is_array), eqx.filter(saved, eqx.is_array), rtol=0)
    with pytest.raises(ValueError, match=r"(?s)built with other options:.*\.layers\[0\]\.neuron\.spiking\.reset: "
                                         r"saved 'zero', `like` has 'subtract'.*\.layers\[0\]\.neuron\.spiking\."
                                         r"refractory: saved 2, `like` has 0.*\.layers\[0\]\.neuron\.spiking\."
                                         r"surrogate: saved 'ATan', `like` has 'FastSigmoid'"):
        training.load_checkpoint(path, like=_lif_net(key))
    with pytest.raises(ValueError, match=r"connection\.weight: saved 'float64\[4, 3\]', `like` has 'float32\[4, 3\]'"):
        training.load_checkpoint(path, like=spikax.Chain([spikax.layers.dense(
            3, 4, spikax.neurons.LIF(reset="zero", refractory=2, surrogate=spikax.surrogate.ATan()), key=key,
            dtype=jnp.float32)]))


def _every_spiking_neuron_net(key, **lif_options):
    """The model stored in tests/checkpoints/*_before_spike_options.ckpt, written (with key 7) by spikax before the
    neurons' firing options became their `spiking` part: every neuron with that part, non-default options."""
    N = spikax.neurons
    per = jnp.linspace(0.6, 0.9, 4)
    neurons = [N.LIF(**{"beta": per, "reset": "zero", "v_reset": 0.1, "refractory": 2,
                        "surrogate": spikax.surrogate.ATan(), **lif_options}),
               N.ALIF(alpha=0.8, rho=0.95, beta_a=0.3, threshold=1.2, v_reset=-0.1, reset="zero", detach_reset=True),
               N.CubaLIF(alpha=0.7, beta=per, threshold=0.9, refractory=1,
                         surrogate=spikax.surrogate.Triangle(gamma=0.5)),
               N.IF(threshold=1.5, reset="zero", v_reset=0.2, learnable="threshold"),
               N.Izhikevich(a=0.03, d=6.0, detach_reset=True, surrogate=spikax.surrogate.FastSigmoid(slope=3.0)),
               N.AdEx(v_reset=-60.0, v_peak=10.0, detach_reset=True),
               N.ResonateAndFire(omega=0.7, threshold=0.8, reset="none", surrogate=spikax.surrogate.Sigmoid(slope=4.0))]
    keys = jax.random.split(key, len(neurons))
    return spikax.Chain([spikax.layers.dense(4, 4, n, key=k, dtype=jnp.float64) for n, k in zip(neurons, keys)])


@pytest.mark.parametrize("version", [1, 2])
def test_a_checkpoint_written_before_the_spiking_part_loads_the_same_values(version, getkey):
    """The firing options moved from each neuron's fields into its `spiking` part with the same leaves in
    the same order: an older file loads every value where it was (and a version-2 file still checks options)."""
    path = pathlib.Path(__file__).parent / "checkpoints" / f"v{version}_before_spike_options.ckpt"
    saved = _every_spiking_neuron_net(jax.random.key(7))
    loaded = training.load_checkpoint(path, like=_every_spiking_neuron_net(getkey()))
    assert_tree_allclose(eqx.filter(loaded, eqx.is_array), eqx.filter(saved, eqx.is_array), rtol=0, atol=0)
    assert loaded.layers[0].neuron.v_reset == 0.1 and loaded.layers[5].neuron.v_reset == -60.0
    if version == 2:
        with pytest.raises(ValueError, match=r"(?s)other options:\n  \.layers\[0\]\.neuron\.reset: saved "
                                             r"'zero', `like` has 'subtract'\n  \.layers\[0\]\.neuron\.surrogate: "
                                             r"saved 'ATan'"):
            training.load_checkpoint(path, like=_every_spiking_neuron_net(getkey(), reset="subtract", surrogate=None))


def test_a_version_1_checkpoint_still_loads(tmp_path, getkey):
    net = tiny_net(getkey())
    path = tmp_path / "v1.eqx"
    with open(path, "wb") as f:  # the layout written before the structure was stored
        f.write(b"spikax-checkpoint-v1\n" + b'{"epoch": 3}\n')
        eqx.tree_serialise_leaves(f, net)
    assert training.checkpoint_metadata(path) == {"epoch": 3}
    loaded = training.load_checkpoint(path, like=tiny_net(getkey()))
    assert_tree_allclose(eqx.filter(loaded, eqx.is_array), eqx.filter(net, eqx.is_array), rtol=0)
