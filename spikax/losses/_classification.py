"""Cross-entropy losses on spike counts and readout membranes, and accuracy."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def _time_major(owner: str, x, name: str):
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"`{owner}`: `{name}` must have time on axis 0 and classes on the last axis, "
                         f"shape (T, ..., classes); got shape {x.shape}. For a single step add a time axis "
                         f"with `{name}[None]`.")
    return x


def _cross_entropy(owner: str, logits, label):
    """Mean softmax cross-entropy of `logits` (..., C) against integer labels (...) or
    target distributions (..., C)."""
    label = jnp.asarray(label)
    log_p = jax.nn.log_softmax(logits, axis=-1)
    if jnp.issubdtype(label.dtype, jnp.integer):
        if label.shape != logits.shape[:-1]:
            raise ValueError(f"`{owner}`: integer labels have shape {label.shape} but the outputs give logits "
                             f"of shape {logits.shape} (batch shape {logits.shape[:-1]}). Pass one label per "
                             "sample: a scalar for one sample, shape (B,) for time-major outputs (T, B, C).")
        label = _check_label_range(owner, label, logits.shape[-1])
        nll = -jnp.take_along_axis(log_p, label[..., None], axis=-1)[..., 0]
    elif jnp.issubdtype(label.dtype, jnp.floating):
        if label.shape != logits.shape:
            raise ValueError(f"`{owner}`: target probabilities have shape {label.shape}, expected the logits' "
                             f"shape {logits.shape}. Pass integer class labels or one-hot targets.")
        nll = -jnp.sum(label.astype(log_p.dtype) * log_p, axis=-1)
    else:
        raise TypeError(f"`{owner}`: labels must be integers or float probabilities, got dtype {label.dtype}.")
    return jnp.mean(nll)


def _check_label_range(owner: str, label, n_classes: int):
    """Refuse class labels outside `[0, n_classes)`: they would give NaN (too large) or wrap (negative).

    Concrete labels are checked now; traced ones (under `jit`) with `eqx.error_if` when the
    computation runs.
    """
    try:
        values = np.asarray(label)
    except Exception:  # a tracer: check when the computation runs
        values = None
    if values is not None:
        bad = (values < 0) | (values >= n_classes)
        if np.any(bad):
            raise ValueError(f"`{owner}`: labels must be class indices in [0, {n_classes}) for {n_classes} classes, "
                             f"got {sorted(set(values[bad].ravel().tolist()))[:10]} (at positions "
                             f"{np.argwhere(bad)[:5].tolist()}). Map the labels to 0..{n_classes - 1}, or give the "
                             "output layer one unit per class.")
        return label
    return eqx.error_if(label, (label < 0) | (label >= n_classes),
                        f"`{owner}`: a label lies outside [0, {n_classes}) for {n_classes} classes. Map the labels "
                        f"to 0..{n_classes - 1}, or give the output layer one unit per class.")


def spike_count_cross_entropy(spikes, label):
    r"""Softmax cross-entropy on the spike counts of an output layer.

    $$n_c = \sum_t s_{t,c},\qquad \mathcal L = -\log \frac{e^{n_y}}{\sum_c e^{n_c}}$$

    (e.g. Shrestha & Orchard 2018; snnTorch's `ce_count_loss`). Extra axes between time and
    classes are batch axes: the loss is averaged over them.

    **Arguments:**

    - `spikes`: output spikes, shape `(T, C)` or time-major batch `(T, ..., C)`.
    - `label`: integer class, shape `()` or the batch shape `(...)`; or target probabilities `(..., C)`.

    **Returns:**

    Scalar mean cross-entropy. For batch-major data `(B, T, C)` use
    `jax.vmap(spike_count_cross_entropy)(spikes, labels).mean()`.

    **Example:**

    ```python
    spikes = jnp.zeros((20, 3)).at[:5, 1].set(1.0)  # class 1 fired 5 times
    loss = spikax.losses.spike_count_cross_entropy(spikes, 1)
    ```
    """
    owner = "spikax.losses.spike_count_cross_entropy"
    spikes = _time_major(owner, spikes, "spikes")
    return _cross_entropy(owner, jnp.sum(spikes, axis=0), label)


def max_membrane_cross_entropy(v, label):
    r"""Softmax cross-entropy on the maximum over time of a (non-spiking) readout membrane.

    $$z_c = \max_t v_{t,c},\qquad \mathcal L = -\log \operatorname{softmax}(z)_y$$

    (Cramer et al. 2022, the SHD paper's readout). Batch axes between time and classes are averaged.

    **Arguments:**

    - `v`: readout membrane potentials, shape `(T, C)` or `(T, ..., C)`.
    - `label`: integer class per sample, or target probabilities `(..., C)`.

    **Returns:**

    Scalar mean cross-entropy.

    **Example:**

    ```python
    v = jnp.array([[0.0, 0.1], [0.2, 1.5]])
    loss = spikax.losses.max_membrane_cross_entropy(v, 1)
    ```
    """
    owner = "spikax.losses.max_membrane_cross_entropy"
    v = _time_major(owner, v, "v")
    return _cross_entropy(owner, jnp.max(v, axis=0), label)


def mean_membrane_cross_entropy(v, label):
    r"""Softmax cross-entropy on the time average of a readout membrane.

    $$z_c = \frac1T \sum_t v_{t,c},\qquad \mathcal L = -\log \operatorname{softmax}(z)_y$$

    **Arguments:**

    - `v`: readout membrane potentials, shape `(T, C)` or `(T, ..., C)`.
    - `label`: integer class per sample, or target probabilities `(..., C)`.

    **Returns:**

    Scalar mean cross-entropy.

    **Example:**

    ```python
    v = jnp.array([[0.0, 0.1], [0.2, 1.5]])
    loss = spikax.losses.mean_membrane_cross_entropy(v, 1)
    ```
    """
    owner = "spikax.losses.mean_membrane_cross_entropy"
    v = _time_major(owner, v, "v")
    return _cross_entropy(owner, jnp.mean(v, axis=0), label)


def accuracy(logits, labels):
    r"""Fraction of samples whose largest output is the true class.

    $$\mathrm{acc} = \frac1N \sum_i [\arg\max_c z_{i,c} = y_i]$$

    Ties go to the lowest class index (`jnp.argmax`). Works on logits, spike counts or membrane
    maxima; reduce the time axis first (e.g. `spikes.sum(0)`).

    **Arguments:**

    - `logits`: scores of shape `(..., C)`.
    - `labels`: integer classes of shape `(...)`.

    **Returns:**

    Scalar accuracy in $[0, 1]$ (float).

    **Example:**

    ```python
    spikax.losses.accuracy(jnp.array([[3.0, 1.0], [0.0, 2.0]]), jnp.array([0, 0]))  # 0.5
    ```
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    owner = "spikax.losses.accuracy"
    if logits.ndim >= 1 and labels.shape == logits.shape:
        raise ValueError(f"`{owner}`: labels have the same shape as the scores, {logits.shape}: they look like "
                         "one-hot vectors or probabilities, but accuracy needs integer class indices of shape "
                         f"{logits.shape[:-1]}. Pass `labels.argmax(-1)`.")
    if logits.ndim < 1 or labels.shape != logits.shape[:-1]:
        raise ValueError(f"`{owner}`: got labels of shape {labels.shape} for scores of shape {logits.shape}; "
                         f"expected labels of shape {logits.shape[:-1]} (the scores' shape without the class "
                         "axis). If the scores still have a time axis, reduce it first (e.g. `spikes.sum(0)`).")
    if jnp.issubdtype(labels.dtype, jnp.integer):
        labels = _check_label_range(owner, labels, logits.shape[-1])
    dtype = logits.dtype if jnp.issubdtype(logits.dtype, jnp.floating) else jnp.asarray(0.0).dtype
    predicted = jnp.argmax(logits, axis=-1).astype(labels.dtype)  # argmax is int64 under x64
    return jnp.mean((predicted == labels).astype(dtype))
