"""The training step, evaluation, and the `fit` loop (progress bar, early stopping, checkpoints, sharding)."""

from __future__ import annotations

import functools
import math
import os
import pathlib
import time
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import datasets
from .._errors import check_choice
from .._trainable import trainable
from ..datasets._random import numpy_rng
from ..loop import BPTT
from ._checkpoint import checkpoint_metadata, load_checkpoint, save_checkpoint
from ._history import History, _mode
from ._methods import get_method
from ._sharding import DataParallel

_OWNER = "spikax.training.fit"


def train_step(model, opt_state, x, y, key, *, loss_fn: Callable, optimizer: optax.GradientTransformation,
               grad_fn: Callable | None = None):
    r"""One optimisation step: gradients of `loss_fn` on a batch, then an optimiser update.

    Only the leaves marked by [`spikax.trainable`][] are differentiated and updated; fixed neuron
    constants get neither a gradient nor an update. Pure and jittable; see
    [`spikax.training.make_train_step`][] for the jitted version.

    **Arguments:**

    - `model`: the network.
    - `opt_state`: `optimizer.init(eqx.filter(model, spikax.trainable(model)))`.
    - `x`, `y`: a batch of inputs and targets.
    - `key`: PRNG key handed to the loss (encoders, dropout).
    - `loss_fn`: `loss_fn(model, x, y, *, method, key) -> (loss, metrics)`.
    - `optimizer`: an optax optimiser.
    - `grad_fn`: the gradient function from [`spikax.training.get_method`][] (default: BPTT).

    **Returns:**

    `(model, opt_state, loss, metrics)` after the update (loss and metrics of the batch before it).

    **Example:**

    ```python
    x, y = spikax.datasets.randman(n_classes=2, n_units=20, n_steps=20, samples_per_class=16, seed=0)
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.dense(20, 16, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(16, 2, spikax.neurons.LI(), key=k2)])
    loss_fn = spikax.training.classification_loss("max")
    xb, yb = x[:8], y[:8]
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(net, spikax.trainable(net)))
    net, opt_state, loss, metrics = spikax.training.train_step(
        net, opt_state, xb, yb, jax.random.key(0), loss_fn=loss_fn, optimizer=opt)
    ```
    """
    model, opt_state, loss, metrics, _ = _checked_step(model, opt_state, x, y, key, loss_fn=loss_fn,
                                                       optimizer=optimizer, grad_fn=grad_fn, guard=False)
    return model, opt_state, loss, metrics


def _checked_step(model, opt_state, x, y, key, *, loss_fn, optimizer, grad_fn, guard: bool):
    """`train_step`, plus a flag: are the loss and every gradient finite? With `guard`, a step
    whose flag is false leaves the model and optimiser state as they were."""
    grad_fn = get_method("bptt") if grad_fn is None else grad_fn
    params, static = eqx.partition(model, trainable(model))
    (loss, metrics), grads = grad_fn(loss_fn, params, static, x, y, key)
    updates, new_opt_state = optimizer.update(grads, opt_state, params)
    new_params = eqx.apply_updates(params, updates)
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in
                                jax.tree_util.tree_leaves(eqx.filter((loss, grads), eqx.is_inexact_array))]))
    if guard:  # a NaN would otherwise spread into the weights, where spikes (a step function) can hide it
        new_params, new_opt_state = jax.tree_util.tree_map(
            lambda new, old: jnp.where(finite, new, old) if eqx.is_array(new) else new,
            (new_params, new_opt_state), (params, opt_state))
    return eqx.combine(new_params, static), new_opt_state, loss, metrics, finite


def make_train_step(loss_fn: Callable, optimizer: optax.GradientTransformation, method="bptt", *,
                    parallel: DataParallel | None = None, **method_options) -> Callable:
    """The jitted training step used by [`spikax.training.fit`][].

    **Arguments:**

    - `loss_fn`: `loss_fn(model, x, y, *, method, key) -> (loss, metrics)`.
    - `optimizer`: an optax optimiser.
    - `method`: gradient method: a registered name (`"bptt"`, `"checkpointed"`, `"truncated"`, ...;
      see [`spikax.training.methods`][]), an instance such as `spikax.TruncatedBPTT(k=20)`, or a
      gradient function.
    - `parallel`: a [`spikax.training.DataParallel`][]; the updated model and optimiser state are
      then kept replicated over its devices.
    - `method_options`: options for a named method (e.g. `k=20`).

    **Returns:**

    `step(model, opt_state, x, y, key) -> (model, opt_state, loss, metrics)`, compiled with
    `eqx.filter_jit` once per input shape (and shared by every step made from the same
    `loss_fn`, `optimizer` and method, so a second `fit` with them does not compile again).

    **Example:**

    ```python
    x, y = spikax.datasets.randman(n_classes=2, n_units=20, n_steps=20, samples_per_class=16, seed=0)
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.dense(20, 16, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(16, 2, spikax.neurons.LI(), key=k2)])
    loss_fn = spikax.training.classification_loss("max")
    xb, yb = x[:8], y[:8]
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(net, spikax.trainable(net)))
    step = spikax.training.make_train_step(loss_fn, opt, "bptt")
    net, opt_state, loss, metrics = step(net, opt_state, xb, yb, jax.random.key(0))
    ```
    """
    grad_fn = get_method(method, **method_options)
    return functools.partial(_jitted_train_step, loss_fn=loss_fn, optimizer=optimizer, grad_fn=grad_fn,
                             parallel=parallel)


@eqx.filter_jit
def _jitted_train_step(model, opt_state, x, y, key, *, loss_fn, optimizer, grad_fn, parallel, guard=False):
    model, opt_state, loss, metrics, finite = _checked_step(model, opt_state, x, y, key, loss_fn=loss_fn,
                                                            optimizer=optimizer, grad_fn=grad_fn, guard=guard)
    if parallel is not None:
        model, opt_state = parallel.constrain((model, opt_state))
    if guard:
        return model, opt_state, loss, metrics, finite
    return model, opt_state, loss, metrics


@eqx.filter_jit
def _jitted_evaluate(model, x, y, key, *, loss_fn):
    return loss_fn(model, x, y, method=BPTT(), key=key)


def _make_eval_step(loss_fn):
    return functools.partial(_jitted_evaluate, loss_fn=loss_fn)


def evaluate(model, loss_fn: Callable, data, *, batch_size: int = 256, key=None, devices: Sequence | None = None,
             _step=None, _parallel: DataParallel | None = None, _checked: bool = False) -> dict[str, float]:
    """Mean loss and metrics of `model` over a whole data set (no gradients).

    Batches are weighted by their size, so the result is the mean over examples (for losses
    that average over their batch). The model runs with plain BPTT's forward pass.

    Non-finite numbers are refused rather than averaged: a spiking layer turns a NaN input or
    weight into "no spike", which would give a finite, wrong loss. So inputs with NaN or inf,
    and a model with non-finite parameters, raise a `ValueError` naming the examples or the
    parameters; a loss that is itself NaN is reported as NaN.

    **Arguments:**

    - `model`: the network.
    - `loss_fn`: `loss_fn(model, x, y, *, method, key) -> (loss, metrics)`.
    - `data`: `(x, y)` arrays with examples on axis 0.
    - `batch_size`: examples per forward pass.
    - `key`: PRNG key for stochastic encoders (default `jax.random.key(0)`: evaluation is deterministic).
    - `devices`: devices to split each batch over (default: all).

    **Returns:**

    `{"loss": ..., "accuracy": ..., ...}` as Python floats.

    **Example:**

    ```python
    x, y = spikax.datasets.randman(n_classes=2, n_units=20, n_steps=20, samples_per_class=16, seed=0)
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.dense(20, 16, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(16, 2, spikax.neurons.LI(), key=k2)])
    loss_fn = spikax.training.classification_loss("max")
    x_test, y_test = x, y
    metrics = spikax.training.evaluate(net, loss_fn, (x_test, y_test))
    metrics["accuracy"]
    ```
    """
    owner = "spikax.training.evaluate"
    x, y = _check_data(owner, "data", data)
    batch_size = _positive_int(owner, "batch_size", batch_size)
    if not _checked:
        _check_finite_inputs(owner, "data", x)
        _check_finite_model(owner, model)
    parallel = _parallel or DataParallel(devices)
    step = _step or _make_eval_step(loss_fn)
    key = jax.random.key(0) if key is None else key
    model = parallel.replicate(model)
    totals: dict[str, float] = {}
    count = 0
    pending = []
    for i, (xb, yb) in enumerate(datasets.batches(x, y, batch_size=batch_size, to_device=False)):
        n = len(yb)
        if n % parallel.size == 0:
            xb, yb = parallel.shard((xb, yb))
        else:  # a ragged last batch: every device computes it whole
            xb, yb = parallel.replicate((jnp.asarray(xb), jnp.asarray(yb)))
        loss, metrics = step(model, xb, yb, jax.random.fold_in(key, i))
        pending.append((n, loss, metrics))
    for n, loss, metrics in jax.device_get(pending):
        for name, value in {"loss": loss, **metrics}.items():
            totals[name] = totals.get(name, 0.0) + n * float(value)
        count += n
    return {name: total / count for name, total in totals.items()}


def fit(model, loss_fn: Callable, train_data, *, epochs: int = 10, batch_size: int = 64,
        optimizer: optax.GradientTransformation | None = None, learning_rate: float = 1e-3, method="bptt",
        method_options: dict | None = None, val_data=None, val_fraction: float | None = None, test_data=None,
        eval_data=None, eval_batch_size: int | None = None, key=None, patience: int | None = None,
        monitor: str | None = None, min_delta: float = 0.0, restore_best: bool = True,
        on_nonfinite: str = "raise", checkpoint_dir: str | os.PathLike | None = None,
        resume_from: str | os.PathLike | None = None, devices: Sequence | None = None, progress: bool = True,
        callback: Callable | None = None):
    r"""Train a model for several epochs: shuffled mini-batches, a jitted step, validation, early stopping.

    Each epoch visits the training set once in a new random order (NumPy batches on the host,
    prefetched to the devices; the last incomplete batch is dropped), applies one jitted
    [`spikax.training.train_step`][] per batch, and evaluates on the validation data. A tqdm
    progress bar shows the running loss and accuracy.

    **Validation and test data.** Model selection (early stopping, `restore_best`, `monitor`)
    uses the validation data: `val_data`, or a stratified `val_fraction` of `train_data` held out
    with [`spikax.datasets.split`][] (seed 0). `test_data` is never used for selection: it is
    evaluated once, on the model that `fit` returns, into `history.test`. (`eval_data` is the
    older name of `val_data`.)

    **Data parallelism.** The batch is split over `devices` (default: every device JAX sees, on
    every host after [`spikax.training.initialize_distributed`][]) and the model is replicated;
    XLA all-reduces the gradients, so the result equals single-device training up to
    floating-point summation order. `batch_size` is the global batch and must be a multiple of
    the number of devices.

    **Early stopping.** With `patience=N`, training stops when `monitor` (default `"val_loss"`,
    or `"loss"` without validation data) has not improved by more than `min_delta` for N
    epochs, and the model of the best epoch is returned (`restore_best`).

    **Non-finite numbers.** A spiking layer hides a NaN (it just does not spike), so one bad
    batch would silently turn weights into NaN. Training inputs are checked before training,
    and every step checks that its loss and gradients are finite; a step that is not is never
    applied. `on_nonfinite="raise"` (default) then stops with an error naming the epoch, the
    batch and its examples; `"skip"` skips the batch and counts it in `history["skipped"]`.

    **Checkpoints and resuming.** With `checkpoint_dir`, the end of every epoch writes
    `last.eqx` (model, optimiser state, history and the position in training), `best.eqx`
    when the monitored metric improves, and `history.json`; a `KeyboardInterrupt` (Ctrl-C)
    writes `last.eqx` at the batch reached before it propagates. `resume_from=".../last.eqx"`
    continues such a run where it stopped (pass the same data, `key` and options): the result
    equals an uninterrupted run. Load checkpoints with [`spikax.training.load_checkpoint`][].

    **Arguments:**

    - `model`: the network (an equinox module; trainable leaves per [`spikax.trainable`][]).
    - `loss_fn`: `loss_fn(model, x, y, *, method, key) -> (loss, metrics)`, e.g. from
      [`spikax.training.classification_loss`][]; `metrics` is a dict of scalars.
    - `train_data`: `(x, y)` NumPy arrays, examples on axis 0.
    - `epochs`, `batch_size`: passes over the data and examples per step.
    - `optimizer`: an optax optimiser (default `optax.adam(learning_rate)`; `learning_rate` may be
      an optax schedule).
    - `method`: gradient method name or object (see [`spikax.training.methods`][]); `method_options`
      are passed to its factory (e.g. `{"k": 20}` for `"truncated"`).
    - `val_data`: `(x, y)` evaluated after every epoch (metrics prefixed `val_`) and used for
      model selection; or `val_fraction` in (0, 1), the share of `train_data` to hold out for it.
    - `test_data`: `(x, y)` evaluated once on the returned model (`history.test`).
    - `eval_data`: the older name of `val_data`.
    - `eval_batch_size`: batch size for evaluation (default: `max(batch_size, 256)`).
    - `key`: PRNG key for shuffling and the loss (default `jax.random.key(0)`).
    - `patience`, `monitor`, `min_delta`, `restore_best`: early stopping, as above.
    - `on_nonfinite`: `"raise"` or `"skip"`, as above.
    - `checkpoint_dir`: folder for checkpoints (created; default: the folder of `resume_from`).
    - `resume_from`: a `last.eqx` written by an earlier `fit` to continue from.
    - `devices`: devices to train on (default: all).
    - `progress`: show the progress bar.
    - `callback`: `callback(epoch, model, metrics)` after each epoch; return `True` to stop.

    **Returns:**

    `(model, history)`: the trained model (on the devices) and a [`spikax.training.History`][].

    **Example:**

    ```python
    x, y = spikax.datasets.randman(n_classes=2, n_units=20, n_steps=50, samples_per_class=50, seed=0)
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.dense(20, 32, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(32, 2, spikax.neurons.LI(), key=k2)])
    net, history = spikax.training.fit(net, spikax.training.classification_loss("max"), (x, y), epochs=5,
                                       val_fraction=0.2, patience=2)
    history.plot()
    ```
    """
    x, y = _check_data(_OWNER, "train_data", train_data)
    epochs = _positive_int(_OWNER, "epochs", epochs)
    batch_size = _positive_int(_OWNER, "batch_size", batch_size)
    if patience is not None:
        patience = _positive_int(_OWNER, "patience", patience)
    check_choice(_OWNER, "on_nonfinite", on_nonfinite, ("raise", "skip"))
    if eval_data is not None:
        if val_data is not None:
            raise ValueError(f"`{_OWNER}`: got both `val_data` and `eval_data` (its older name); pass only "
                             "`val_data`.")
        val_data = eval_data
    if val_fraction is not None:
        if val_data is not None:
            raise ValueError(f"`{_OWNER}`: got both `val_data` and `val_fraction`; pass one: the validation data, "
                             "or the share of the training data to hold out for it.")
        if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
            raise ValueError(f"`{_OWNER}`: `val_fraction` must be a number in (0, 1), got {val_fraction!r}.")
        (x, y), val_data = datasets.split(x, y, val_fraction, seed=0)
        if len(val_data[1]) == 0 or len(y) == 0:
            raise ValueError(f"`{_OWNER}`: `val_fraction={val_fraction}` of {len(train_data[1])} examples leaves "
                             f"{len(y)} for training and {len(val_data[1])} for validation; both need at least "
                             "one. Use more data or another fraction.")
    if val_data is not None:
        val_data = _check_data(_OWNER, "val_data", val_data)
        _check_finite_inputs(_OWNER, "val_data", val_data[0])
    if test_data is not None:
        test_data = _check_data(_OWNER, "test_data", test_data)
        _check_finite_inputs(_OWNER, "test_data", test_data[0])
    if on_nonfinite == "raise":
        _check_finite_inputs(_OWNER, "train_data", x, fix="or pass `on_nonfinite='skip'` to skip their batches")
    _check_finite_model(_OWNER, model)
    monitor = monitor or ("val_loss" if val_data is not None else "loss")
    if monitor.startswith("val_") and val_data is None:
        raise ValueError(f"`{_OWNER}`: `monitor={monitor!r}` needs validation data; pass `val_data=(x_val, y_val)` "
                         "or `val_fraction=0.1`, or monitor a training metric such as 'loss'.")
    if optimizer is None:
        if not (callable(learning_rate) or isinstance(learning_rate, (int, float)) and learning_rate > 0
                and math.isfinite(learning_rate)):
            raise ValueError(f"`{_OWNER}`: `learning_rate` must be a positive number, got {learning_rate!r}.")
        optimizer = optax.adam(learning_rate)
    key = jax.random.key(0) if key is None else key

    parallel = DataParallel(devices)
    n_local = len(y)
    if jax.process_count() > 1:  # each process trains on its own share of the data
        share = slice(jax.process_index(), None, jax.process_count())
        x, y, n_local = x[share], y[share], len(y[share])
        batch_size_local = batch_size // jax.process_count()
    else:
        batch_size_local = batch_size
    if batch_size_local > n_local:
        batch_size_local = n_local - n_local % parallel.size if n_local >= parallel.size else n_local
        batch_size = batch_size_local * jax.process_count()
    parallel.check_batch_size(_OWNER, batch_size)
    n_batches = n_local // batch_size_local

    step = functools.partial(make_train_step(loss_fn, optimizer, method, parallel=parallel,
                                             **(method_options or {})), guard=True)
    eval_step = _make_eval_step(loss_fn)
    eval_batch_size = eval_batch_size or max(batch_size, 256)
    opt_state = optimizer.init(eqx.filter(model, trainable(model)))
    history = History()
    best_value, best_model, since_best = None, None, 0
    first_epoch, first_step, partial = 0, 0, None
    ckpt = pathlib.Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume_from is not None:
        resume_from = pathlib.Path(resume_from)
        ckpt = ckpt or resume_from.parent
        (model, opt_state), position = _load_position(resume_from, (model, opt_state))
        history = History._from_json(position["history"])
        first_epoch, first_step, partial = position["epoch"] + 1, position["step"], position["partial"]
        best_value, since_best = position["best_value"], position["since_best"]
        if history.best_epoch is not None and patience is not None and restore_best:
            best_model = _load_best(ckpt, model, opt_state)
        if history.stopped_early:
            first_epoch = epochs
    model = parallel.replicate(model)
    opt_state = parallel.replicate(opt_state)
    mode = _mode(monitor)
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)

    from tqdm import tqdm

    for epoch in range(first_epoch, epochs):
        start = time.perf_counter()
        epoch_key = jax.random.fold_in(key, epoch)
        shuffle_key, step_key = jax.random.split(epoch_key)
        shard = None if jax.process_count() > 1 else parallel.batch_sharding
        stream = datasets.batches(x, y, batch_size=batch_size_local, shuffle=True, key=shuffle_key, drop_last=True,
                                  to_device=shard is not None, device=shard)
        skip_to = first_step if epoch == first_epoch else 0
        bar = tqdm(total=n_batches, initial=skip_to, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   leave=True, dynamic_ncols=True)
        sums: dict[str, jax.Array | float] = dict(partial or {}) if skip_to else {}
        counted = sums.pop("_counted", 0)
        done = skip_to
        every = max(1, n_batches // 20)
        waiting = None  # the previous step's finite flag, read one step late so the device never idles
        try:
            for i, (xb, yb) in enumerate(stream):
                if i < skip_to:  # resuming inside an epoch: these batches were trained on before
                    continue
                if shard is None:
                    xb, yb = parallel.shard((xb, yb))
                model, opt_state, loss, metrics, finite = step(model, opt_state, xb, yb,
                                                               jax.random.fold_in(step_key, i))
                for name, value in {"loss": loss, **metrics}.items():
                    sums[name] = sums.get(name, 0.0) + jnp.where(finite, value, 0)
                counted = counted + finite.astype(jnp.int32)
                done = i + 1
                if on_nonfinite == "raise":
                    if waiting is not None and not bool(waiting[1]):
                        _raise_nonfinite(epoch, waiting[0], x, shuffle_key, batch_size_local)
                    waiting = (i, finite)
                bar.update(1)
                if progress and ((i + 1) % every == 0 or i + 1 == n_batches):
                    n_ok = max(int(counted), 1)
                    bar.set_postfix({k: f"{float(v) / n_ok:.4f}" for k, v in sums.items()}, refresh=False)
            if waiting is not None and not bool(waiting[1]):
                _raise_nonfinite(epoch, waiting[0], x, shuffle_key, batch_size_local)
        except KeyboardInterrupt:
            bar.close()
            if ckpt is not None and jax.process_index() == 0:
                partial_sums = {k: float(v) for k, v in sums.items()}
                partial_sums["_counted"] = int(counted)
                _save_position(ckpt, model, opt_state, history, epoch - 1, done, partial_sums,
                               best_value, since_best, interrupted=True)
            raise
        n_ok = int(counted)
        record = {name: float(value) / n_ok if n_ok else math.nan for name, value in sums.items()}
        if not sums:
            record = {"loss": math.nan}
        if on_nonfinite == "skip":
            record["skipped"] = float(n_batches - n_ok)
        record["time"] = time.perf_counter() - start
        if val_data is not None:
            val = evaluate(model, loss_fn, val_data, batch_size=eval_batch_size, key=jax.random.key(0),
                           _step=eval_step, _parallel=parallel, _checked=True)
            record.update({"val_" + name: value for name, value in val.items()})
            if progress:
                bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if "time" not in k}, refresh=True)
            record["val_time"] = time.perf_counter() - start - record["time"]
        bar.close()
        history.append(record)

        if monitor not in record:
            raise ValueError(f"`{_OWNER}`: cannot monitor {monitor!r}: the recorded metrics are "
                             f"{sorted(record)}. Pass one of them as `monitor`.")
        value = record[monitor]
        improved = not math.isnan(value) and (best_value is None or (
            value < best_value - min_delta if mode == "min" else value > best_value + min_delta))
        if improved:
            best_value, best_model, since_best = value, model, 0
            history.best_epoch = epoch
        else:
            since_best += 1
        stop = callback(epoch, model, record) if callback is not None else False
        if patience is not None and since_best >= patience:
            history.stopped_early = True
            stop = True
        if ckpt is not None and jax.process_index() == 0:
            if improved:
                save_checkpoint(ckpt / "best.eqx", (model, opt_state), {"epoch": epoch, "metrics": record})
            _save_position(ckpt, model, opt_state, history, epoch, 0, None, best_value, since_best)
            history.save(ckpt / "history.json")
        if stop:
            break
    history.selected_epoch = len(history) - 1 if len(history) else None
    if patience is not None and restore_best and best_model is not None:
        model = best_model
        history.selected_epoch = history.best_epoch
    if test_data is not None:
        history.test = evaluate(model, loss_fn, test_data, batch_size=eval_batch_size, key=jax.random.key(0),
                                _step=eval_step, _parallel=parallel, _checked=True)
    return model, history


def _save_position(ckpt, model, opt_state, history, epoch, step, partial, best_value, since_best,
                   interrupted=False):
    """`last.eqx`: the model and optimiser state, and where training stands (for `resume_from`)."""
    metrics = {k: v[-1] for k, v in history.as_dict().items()} if len(history) else {}
    meta = {"epoch": epoch, "step": step, "partial": partial, "metrics": metrics, "interrupted": interrupted,
            "best_value": best_value, "since_best": since_best, "history": history._to_json()}
    save_checkpoint(ckpt / "last.eqx", (model, opt_state), meta)
    history.save(ckpt / "history.json")


def _load_position(path, like):
    meta = checkpoint_metadata(path)
    if "history" not in meta or "step" not in meta:
        raise ValueError(f"`{_OWNER}`: {path} holds no training position; `resume_from` takes the `last.eqx` "
                         "that `fit(checkpoint_dir=...)` writes.")
    return load_checkpoint(path, like), meta


def _load_best(ckpt, model, opt_state):
    path = ckpt / "best.eqx"
    if not path.is_file():
        raise FileNotFoundError(f"`{_OWNER}`: resuming with early stopping needs {path}, written next to last.eqx "
                                "by the interrupted run; it is missing. Resume without `patience`, or start again.")
    return load_checkpoint(path, (model, opt_state))[0]


def _raise_nonfinite(epoch, batch, x, shuffle_key, batch_size):
    """Name the batch (and its examples) whose loss or gradients were not finite."""
    order = numpy_rng("spikax.datasets.batches", shuffle_key).permutation(len(x))
    examples = np.sort(order[batch * batch_size:(batch + 1) * batch_size])
    shown = ", ".join(map(str, examples[:8])) + (", ..." if len(examples) > 8 else "")
    raise FloatingPointError(
        f"`{_OWNER}`: the loss or a gradient of batch {batch} of epoch {epoch + 1} is NaN or infinite (examples "
        f"{shown} of the training data, whose inputs are finite), so the training diverged. The model was not "
        "updated with this batch. Lower the learning rate or clip the gradients (e.g. `optax.chain("
        "optax.clip_by_global_norm(1.0), optax.adam(lr))`), or pass `on_nonfinite='skip'` to skip such batches.")


def _check_finite_inputs(owner: str, name: str, x, fix: str = "") -> None:
    """Refuse float inputs holding NaN or inf, naming the first examples that do."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.inexact):
        return
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim > 1 else ~np.isfinite(x)
    if bad.any():
        where = np.flatnonzero(bad)
        shown = ", ".join(map(str, where[:8])) + (", ..." if len(where) > 8 else "")
        raise ValueError(f"`{owner}`: `{name}` holds NaN or infinite inputs in {len(where)} example(s), at "
                         f"indices {shown}. Spiking layers would hide them (a NaN never spikes) and give wrong "
                         f"numbers. Remove or repair those examples (e.g. `np.nan_to_num`){', ' + fix if fix else ''}.")


def _check_finite_model(owner: str, model) -> None:
    """Refuse a model with NaN or infinite parameters, naming them."""
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(model, eqx.is_inexact_array))
    finite = jax.device_get([jnp.all(jnp.isfinite(leaf)) for _, leaf in leaves])
    bad = [jax.tree_util.keystr(path) for (path, _), ok in zip(leaves, finite) if not ok]
    if bad:
        raise ValueError(f"`{owner}`: the model has NaN or infinite parameters in {', '.join(bad[:6])}"
                         f"{', ...' if len(bad) > 6 else ''}. Its spikes would hide them and the metrics would look "
                         "finite. Rebuild the model, or load a checkpoint saved before training diverged.")


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{owner}`: `{name}` must be a positive int, got {value!r}.")
    return int(value)


def _check_data(owner: str, name: str, data):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"`{owner}`: `{name}` must be a pair `(x, y)` of arrays with examples on axis 0, got "
                        f"{type(data).__name__}{' of length ' + str(len(data)) if isinstance(data, (tuple, list)) else ''}.")
    x, y = (d if isinstance(d, np.ndarray) else np.asarray(d) for d in data)
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
        raise ValueError(f"`{owner}`: `{name}` has {x.shape[:1]} inputs and {y.shape[:1]} targets; both need the "
                         "same number of examples on axis 0.")
    if len(y) == 0:
        raise ValueError(f"`{owner}`: `{name}` is empty.")
    return x, y
