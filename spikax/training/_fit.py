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
from .._trainable import trainable
from ..loop import BPTT
from ._checkpoint import save_checkpoint
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
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(net, spikax.trainable(net)))
    net, opt_state, loss, metrics = spikax.training.train_step(
        net, opt_state, xb, yb, jax.random.key(0), loss_fn=loss_fn, optimizer=opt)
    ```
    """
    grad_fn = get_method("bptt") if grad_fn is None else grad_fn
    params, static = eqx.partition(model, trainable(model))
    (loss, metrics), grads = grad_fn(loss_fn, params, static, x, y, key)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = eqx.apply_updates(params, updates)
    return eqx.combine(params, static), opt_state, loss, metrics


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
    step = spikax.training.make_train_step(loss_fn, optax.adam(1e-3), "bptt")
    net, opt_state, loss, metrics = step(net, opt_state, xb, yb, jax.random.key(0))
    ```
    """
    grad_fn = get_method(method, **method_options)
    return functools.partial(_jitted_train_step, loss_fn=loss_fn, optimizer=optimizer, grad_fn=grad_fn,
                             parallel=parallel)


@eqx.filter_jit
def _jitted_train_step(model, opt_state, x, y, key, *, loss_fn, optimizer, grad_fn, parallel):
    model, opt_state, loss, metrics = train_step(model, opt_state, x, y, key, loss_fn=loss_fn, optimizer=optimizer,
                                                 grad_fn=grad_fn)
    if parallel is not None:
        model, opt_state = parallel.constrain((model, opt_state))
    return model, opt_state, loss, metrics


@eqx.filter_jit
def _jitted_evaluate(model, x, y, key, *, loss_fn):
    return loss_fn(model, x, y, method=BPTT(), key=key)


def _make_eval_step(loss_fn):
    return functools.partial(_jitted_evaluate, loss_fn=loss_fn)


def evaluate(model, loss_fn: Callable, data, *, batch_size: int = 256, key=None, devices: Sequence | None = None,
             _step=None, _parallel: DataParallel | None = None) -> dict[str, float]:
    """Mean loss and metrics of `model` over a whole data set (no gradients).

    Batches are weighted by their size, so the result is the mean over examples (for losses
    that average over their batch). The model runs with plain BPTT's forward pass.

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
    metrics = spikax.training.evaluate(net, loss_fn, (x_test, y_test))
    metrics["accuracy"]
    ```
    """
    x, y = _check_data("spikax.training.evaluate", "data", data)
    batch_size = _positive_int("spikax.training.evaluate", "batch_size", batch_size)
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
        method_options: dict | None = None, eval_data=None, eval_batch_size: int | None = None, key=None,
        patience: int | None = None, monitor: str | None = None, min_delta: float = 0.0,
        restore_best: bool = True, checkpoint_dir: str | os.PathLike | None = None,
        devices: Sequence | None = None, progress: bool = True, callback: Callable | None = None):
    r"""Train a model for several epochs: shuffled mini-batches, a jitted step, evaluation, early stopping.

    Each epoch visits the training set once in a new random order (NumPy batches on the host,
    prefetched to the devices; the last incomplete batch is dropped), applies one jitted
    [`spikax.training.train_step`][] per batch, and evaluates on `eval_data`. A tqdm progress bar
    shows the running loss and accuracy.

    **Data parallelism.** The batch is split over `devices` (default: every device JAX sees, on
    every host after [`spikax.training.initialize_distributed`][]) and the model is replicated;
    XLA all-reduces the gradients, so the result equals single-device training up to
    floating-point summation order. `batch_size` is the global batch and must be a multiple of
    the number of devices.

    **Early stopping.** With `patience=N`, training stops when `monitor` (default `"val_loss"`,
    or `"loss"` without `eval_data`) has not improved by more than `min_delta` for N epochs,
    and the best model is returned (`restore_best`).

    **Checkpoints.** With `checkpoint_dir`, each epoch writes `last.eqx` (model and optimiser
    state), `best.eqx` when the monitored metric improves, and `history.json`; load them with
    [`spikax.training.load_checkpoint`][].

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
    - `eval_data`: `(x, y)` evaluated after every epoch (metrics prefixed `val_`).
    - `eval_batch_size`: batch size for evaluation (default: `max(batch_size, 256)`).
    - `key`: PRNG key for shuffling and the loss (default `jax.random.key(0)`).
    - `patience`, `monitor`, `min_delta`, `restore_best`: early stopping, as above.
    - `checkpoint_dir`: folder for checkpoints (created).
    - `devices`: devices to train on (default: all).
    - `progress`: show the progress bar.
    - `callback`: `callback(epoch, model, metrics)` after each epoch; return `True` to stop.

    **Returns:**

    `(model, history)`: the trained model (on the devices) and a [`spikax.training.History`][].

    **Example:**

    ```python
    x, y = spikax.datasets.randman(n_classes=2, n_units=20, samples_per_class=50, seed=0)
    net = spikax.Chain([spikax.layers.dense(20, 32, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(32, 2, spikax.neurons.LI(), key=k2)])
    net, history = spikax.training.fit(net, spikax.training.classification_loss("max"), (x, y), epochs=5)
    history.plot()
    ```
    """
    x, y = _check_data(_OWNER, "train_data", train_data)
    epochs = _positive_int(_OWNER, "epochs", epochs)
    batch_size = _positive_int(_OWNER, "batch_size", batch_size)
    if patience is not None:
        patience = _positive_int(_OWNER, "patience", patience)
    if eval_data is not None:
        eval_data = _check_data(_OWNER, "eval_data", eval_data)
    monitor = monitor or ("val_loss" if eval_data is not None else "loss")
    if monitor.startswith("val_") and eval_data is None:
        raise ValueError(f"`{_OWNER}`: `monitor={monitor!r}` needs `eval_data`; pass `eval_data=(x_val, y_val)` "
                         "or monitor a training metric such as 'loss'.")
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

    step = make_train_step(loss_fn, optimizer, method, parallel=parallel, **(method_options or {}))
    eval_step = _make_eval_step(loss_fn)
    model = parallel.replicate(model)
    opt_state = parallel.replicate(optimizer.init(eqx.filter(model, trainable(model))))
    history = History()
    best_value, best_model, since_best = None, None, 0
    mode = _mode(monitor)
    ckpt = pathlib.Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)

    from tqdm import tqdm

    for epoch in range(epochs):
        start = time.perf_counter()
        epoch_key = jax.random.fold_in(key, epoch)
        shuffle_key, step_key = jax.random.split(epoch_key)
        shard = None if jax.process_count() > 1 else parallel.batch_sharding
        stream = datasets.batches(x, y, batch_size=batch_size_local, shuffle=True, key=shuffle_key, drop_last=True,
                                  to_device=shard is not None, device=shard)
        bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=True,
                   dynamic_ncols=True)
        sums: dict[str, jax.Array] = {}
        every = max(1, n_batches // 20)
        for i, (xb, yb) in enumerate(stream):
            if shard is None:
                xb, yb = parallel.shard((xb, yb))
            model, opt_state, loss, metrics = step(model, opt_state, xb, yb, jax.random.fold_in(step_key, i))
            for name, value in {"loss": loss, **metrics}.items():
                sums[name] = sums.get(name, 0.0) + value
            bar.update(1)
            if progress and ((i + 1) % every == 0 or i + 1 == n_batches):
                bar.set_postfix({k: f"{float(v) / (i + 1):.4f}" for k, v in sums.items()}, refresh=False)
        record = {name: float(value) / n_batches for name, value in sums.items()}
        record["time"] = time.perf_counter() - start
        if eval_data is not None:
            val = evaluate(model, loss_fn, eval_data, batch_size=eval_batch_size or max(batch_size, 256),
                           key=jax.random.key(0), _step=eval_step, _parallel=parallel)
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
        improved = best_value is None or (value < best_value - min_delta if mode == "min"
                                          else value > best_value + min_delta)
        if improved:
            best_value, best_model, since_best = value, model, 0
            history.best_epoch = epoch
        else:
            since_best += 1
        if ckpt is not None and jax.process_index() == 0:
            meta = {"epoch": epoch, "metrics": record}
            save_checkpoint(ckpt / "last.eqx", (model, opt_state), meta)
            if improved:
                save_checkpoint(ckpt / "best.eqx", (model, opt_state), meta)
            history.save(ckpt / "history.json")
        stop = callback(epoch, model, record) if callback is not None else False
        if patience is not None and since_best >= patience:
            history.stopped_early = True
            stop = True
        if stop:
            break
    if patience is not None and restore_best and best_model is not None:
        model = best_model
    return model, history


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
