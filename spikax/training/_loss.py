"""Loss functions in the form `fit` expects: `loss_fn(model, x, y, *, method, key) -> (loss, metrics)`."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .. import losses
from .._errors import check_choice
from ..loop import run

# readout name -> (logits from time-major outputs, cross-entropy on time-major outputs)
_READOUTS = {
    "count": (lambda ys: jnp.sum(ys, axis=0), losses.spike_count_cross_entropy),
    "max": (lambda ys: jnp.max(ys, axis=0), losses.max_membrane_cross_entropy),
    "mean": (lambda ys: jnp.mean(ys, axis=0), losses.mean_membrane_cross_entropy),
    "last": (lambda ys: ys[-1], lambda ys, y: losses.max_membrane_cross_entropy(ys[-1:], y)),
}


def model_dtype(model):
    """The float dtype of a model's first floating-point array (JAX's default float if it has none)."""
    for leaf in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)):
        return leaf.dtype
    return jnp.result_type(float)


def classification_loss(readout: str = "max", *, encode: Callable | None = None, time_major: bool = False,
                        rate_penalty: float = 0.0, target_rate: float = 0.0) -> Callable:
    r"""A classification loss for [`spikax.training.fit`][]: run the network, read out logits, cross-entropy.

    For a batch `x` shaped `(B, T, ...)` (batch-major, as data sets store it), the loss
    1. encodes it with `encode(x, key)` if given (e.g. rate coding a static image),
    2. runs the model over time with [`spikax.run`][] (`batch_axis=1`) and the gradient method
       chosen by `fit`, from the model's initial state,
    3. reduces the outputs over time to logits $z$ (`readout`), and
    4. returns the mean softmax cross-entropy $-\log \mathrm{softmax}(z)_y$ and the accuracy.

    Readouts: `"max"` (maximum membrane of a leaky readout over time; Cramer et al. 2022),
    `"mean"` (time-averaged membrane), `"count"` (spike counts), `"last"` (last step).

    An optional firing-rate regulariser adds $\lambda\,\overline{(r - r^*)^2}$ on the output
    layer's mean rate (`rate_penalty` = $\lambda$, `target_rate` = $r^*$).

    **Arguments:**

    - `readout`: how logits come from the outputs over time.
    - `encode`: `encode(x, key) -> xs`, mapping a batch `(B, ...)` to `(B, T, ...)`; runs inside
      the jitted step, so it can be a JAX encoder such as [`spikax.encoding.rate`][] (vmapped).
    - `time_major`: the data are already `(T, B, ...)`.
    - `rate_penalty`, `target_rate`: the optional rate regulariser.

    **Returns:**

    `loss_fn(model, x, y, *, method=None, key=None) -> (loss, {"accuracy": acc})`. For online
    learners it also carries `loss_fn.per_step(y_t, label)`, the cross-entropy of a single
    step's outputs (their loss is its mean over time, $\frac1T\sum_t \ell_t$), and
    `loss_fn.prepare(model, x, y, key)`, the encoded time-major inputs.

    **Example:**

    ```python
    x, y = spikax.datasets.randman(n_classes=2, n_units=20, n_steps=20, samples_per_class=16, seed=0)
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.dense(20, 16, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(16, 2, spikax.neurons.LI(), key=k2)])
    x_batch, y_batch = x[:8], y[:8]  # (B, T, 20) spikes and int labels
    loss_fn = spikax.training.classification_loss("max")
    (loss, metrics) = loss_fn(net, x_batch, y_batch)
    ```
    """
    check_choice("spikax.training.classification_loss", "readout", readout, tuple(_READOUTS))
    reduce, cross_entropy = _READOUTS[readout]

    def prepare(model, x, y, key=None):
        """Encoded, time-major inputs `[T, B, ...]` in the model's dtype, and labels."""
        if encode is not None:
            x = encode(x, key)
        x = jnp.asarray(x)
        x = x.astype(model_dtype(model)) if jnp.issubdtype(x.dtype, jnp.floating) or x.dtype == bool else x
        y = jnp.asarray(y)
        if jnp.issubdtype(y.dtype, jnp.integer):  # labels of any int type compare with argmax's default int
            y = y.astype(jnp.result_type(int))
        return (x if time_major else jnp.swapaxes(x, 0, 1)), y

    def per_step(y_t, label):
        """Cross-entropy of one step's outputs (one example): the per-step loss online learners use."""
        return losses.max_membrane_cross_entropy(y_t[None], label)

    def loss_fn(model, x, y, *, method=None, key=None):
        xs, y = prepare(model, x, y, key)
        state = model.init_state(xs.shape[2:], xs.dtype)
        _, ys = run(model, state, xs, method=method, batch_axis=1)
        logits = reduce(ys)
        loss = cross_entropy(ys, y)
        if rate_penalty:
            loss = loss + rate_penalty * jnp.mean((jnp.mean(ys, axis=0) - target_rate) ** 2)
        return loss, {"accuracy": losses.accuracy(logits, y)}

    # Used by online learners (`fit(method="eprop")`, ...), which need a loss per time step.
    loss_fn.prepare = prepare
    loss_fn.per_step = per_step
    return loss_fn
