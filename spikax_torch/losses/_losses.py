"""Losses, regularisers and metrics (torch twins of `spikax.losses`); time is axis 0 of every input."""

from __future__ import annotations

import math

import torch

from .._errors import check_choice, check_positive


def _time_major(owner: str, x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"`{owner}`: `{name}` must have time on axis 0 and classes on the last axis, "
                         f"shape (T, ..., classes); got shape {tuple(x.shape)}. For a single step add a time axis "
                         f"with `{name}[None]`.")
    return x


def _cross_entropy(owner: str, logits, label):
    label = torch.as_tensor(label)
    log_p = torch.log_softmax(logits, dim=-1)
    if not label.is_floating_point() and not label.is_complex():
        if tuple(label.shape) != tuple(logits.shape[:-1]):
            raise ValueError(f"`{owner}`: integer labels have shape {tuple(label.shape)} but the outputs give logits "
                             f"of shape {tuple(logits.shape)}. Pass one label per sample: a scalar for one sample, "
                             "shape (B,) for time-major outputs (T, B, C).")
        nll = -torch.gather(log_p, -1, label.long()[..., None])[..., 0]
    else:
        if label.shape != logits.shape:
            raise ValueError(f"`{owner}`: target probabilities have shape {tuple(label.shape)}, expected the logits' "
                             f"shape {tuple(logits.shape)}. Pass integer class labels or one-hot targets.")
        nll = -(label.to(log_p.dtype) * log_p).sum(-1)
    return nll.mean()


def spike_count_cross_entropy(spikes, label):
    r"""Cross-entropy of the softmax of spike counts $\sum_t s_t$ (as [`spikax.losses.spike_count_cross_entropy`][]).

    **Example:**

    ```python
    spikax_torch.losses.spike_count_cross_entropy(torch.zeros(20, 3), 1)
    ```
    """
    owner = "spikax_torch.losses.spike_count_cross_entropy"
    return _cross_entropy(owner, _time_major(owner, spikes, "spikes").sum(0), label)


def max_membrane_cross_entropy(v, label):
    r"""Cross-entropy of the softmax of a readout's maximum membrane over time.

    **Example:**

    ```python
    spikax_torch.losses.max_membrane_cross_entropy(torch.tensor([[0.0, 0.1], [0.2, 1.5]]), 1)
    ```
    """
    owner = "spikax_torch.losses.max_membrane_cross_entropy"
    return _cross_entropy(owner, _time_major(owner, v, "v").amax(0), label)


def mean_membrane_cross_entropy(v, label):
    r"""Cross-entropy of the softmax of a readout's mean membrane over time.

    **Example:**

    ```python
    spikax_torch.losses.mean_membrane_cross_entropy(torch.tensor([[0.0, 0.1], [0.2, 1.5]]), 1)
    ```
    """
    owner = "spikax_torch.losses.mean_membrane_cross_entropy"
    return _cross_entropy(owner, _time_major(owner, v, "v").mean(0), label)


def accuracy(logits, labels):
    """Fraction of samples whose largest score is the label (scores without a time axis).

    **Example:**

    ```python
    spikax_torch.losses.accuracy(torch.tensor([[3.0, 1.0], [0.0, 2.0]]), torch.tensor([0, 0]))  # 0.5
    ```
    """
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    if logits.ndim < 1 or tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"`spikax_torch.losses.accuracy`: labels have shape {tuple(labels.shape)} but the scores "
                         f"have shape {tuple(logits.shape)}; expected labels of shape scores.shape[:-1]. If the scores "
                         "still have a time axis, reduce it first (e.g. `spikes.sum(0)`).")
    dtype = logits.dtype if logits.is_floating_point() else torch.get_default_dtype()
    return (logits.argmax(-1) == labels).to(dtype).mean()


def van_rossum_distance(s1, s2, tau: float, *, dt: float = 1.0, squared: bool = False):
    r"""Van Rossum distance between spike trains (time on axis 0), as [`spikax.losses.van_rossum_distance`][].

    Trains are filtered with $f_t = a f_{t-1} + s_t$, $a = e^{-\Delta t/\tau}$, and
    $D^2 = \frac{1-a^2}{2}\sum_t\sum_i (f^1_{t,i} - f^2_{t,i})^2$.

    **Example:**

    ```python
    a, b = torch.zeros(50, 3), torch.zeros(50, 3)
    a[10, 0], b[12, 0] = 1.0, 1.0  # one spike each, 2 steps apart
    spikax_torch.losses.van_rossum_distance(a, b, tau=10.0)
    ```
    """
    owner = "spikax_torch.losses.van_rossum_distance"
    check_positive(owner, "tau", tau)
    check_positive(owner, "dt", dt)
    s1, s2 = torch.as_tensor(s1), torch.as_tensor(s2)
    if s1.shape != s2.shape or s1.ndim < 1:
        raise ValueError(f"`{owner}`: the spike trains have shapes {tuple(s1.shape)} and {tuple(s2.shape)}; expected "
                         "two tensors of the same shape with time on axis 0.")
    diff = s1 - s2
    if not diff.is_floating_point():
        diff = diff.to(torch.get_default_dtype())
    a = math.exp(-dt / tau)
    f = torch.zeros_like(diff[0])
    total = torch.zeros((), dtype=diff.dtype)
    for x in diff.unbind(0):
        f = a * f + x
        total = total + (f * f).sum()
    # a tensor factor, not a Python float: torch.func.jvp promotes the tangent of
    # `0-dim float32 tensor * python float` to float64
    d2 = total * torch.tensor((1 - a**2) / 2, dtype=diff.dtype)
    if squared:
        return d2
    positive = d2 > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, d2, torch.ones_like(d2))), torch.zeros_like(d2))


def _spikes(owner: str, spikes) -> torch.Tensor:
    spikes = torch.as_tensor(spikes)
    if spikes.ndim < 1:
        raise ValueError(f"`{owner}`: `spikes` must have time on axis 0, got a scalar. Pass shape (T, ...).")
    return spikes if spikes.is_floating_point() else spikes.to(torch.get_default_dtype())


def rate_mse(spikes, target_rate):
    r"""Mean squared error between firing rates $\frac1T\sum_t s_t$ and target rates.

    **Example:**

    ```python
    spikes = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # rates 0.75, 0.25
    spikax_torch.losses.rate_mse(spikes, torch.tensor([0.5, 0.5]))  # 0.0625
    ```
    """
    rates = _spikes("spikax_torch.losses.rate_mse", spikes).mean(0)
    target = target_rate if isinstance(target_rate, (int, float)) else torch.as_tensor(target_rate, dtype=rates.dtype)
    try:
        torch.broadcast_shapes(rates.shape, torch.as_tensor(target).shape)
    except RuntimeError:
        raise ValueError(f"`spikax_torch.losses.rate_mse`: `target_rate` has shape "
                         f"{tuple(torch.as_tensor(target).shape)}, which does not broadcast to the rates' shape "
                         f"{tuple(rates.shape)} (spikes.shape[1:]).") from None
    return ((rates - target) ** 2).mean()


def firing_rate_penalty(spikes, target: float, *, per_neuron: bool = True, tolerance: float = 0.0):
    r"""Homeostatic penalty $\frac1N\sum_i\max(|r_i - r^\ast| - \epsilon, 0)^2$ on firing rates.

    **Example:**

    ```python
    spikes = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # rates 0.75, 0.25
    spikax_torch.losses.firing_rate_penalty(spikes, 0.25)  # 0.125
    ```
    """
    rates = _spikes("spikax_torch.losses.firing_rate_penalty", spikes).mean(0)
    if not per_neuron:
        rates = rates.mean().reshape(1)  # not 0-dim: see the note in `van_rossum_distance`
    excess = torch.clamp((rates - target).abs() - tolerance, min=0.0)
    return (excess**2).mean()


def sparsity_penalty(spikes, *, reduce: str = "mean"):
    r"""L1 activity penalty $\frac{1}{TN}\sum_{t,i}|s_{t,i}|$ (or the sum).

    **Example:**

    ```python
    spikax_torch.losses.sparsity_penalty(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), reduce="sum")  # 3.0
    ```
    """
    check_choice("spikax_torch.losses.sparsity_penalty", "reduce", reduce, ("mean", "sum"))
    l1 = _spikes("spikax_torch.losses.sparsity_penalty", spikes).abs()
    return l1.mean() if reduce == "mean" else l1.sum()
