"""Rate targets and activity regularisers."""

from __future__ import annotations

import jax.numpy as jnp

from .._errors import check_choice


def _spikes(owner: str, spikes):
    spikes = jnp.asarray(spikes)
    if spikes.ndim < 1:
        raise ValueError(f"`{owner}`: `spikes` must have time on axis 0, got a scalar. Pass shape (T, ...).")
    if not jnp.issubdtype(spikes.dtype, jnp.floating):
        spikes = spikes.astype(jnp.asarray(0.0).dtype)
    return spikes


def rate_mse(spikes, target_rate):
    r"""Mean squared error between firing rates (spikes per step) and target rates.

    $$r_i = \frac1T \sum_t s_{t,i},\qquad \mathcal L = \frac1N\sum_i (r_i - \hat r_i)^2$$

    A common use is a rate target per class, e.g. 0.8 for the true class and 0.1 for the others
    (snnTorch's `mse_count_loss`): `target_rate = jnp.where(jax.nn.one_hot(y, C) > 0, 0.8, 0.1)`.

    **Arguments:**

    - `spikes`: shape `(T, ...)`.
    - `target_rate`: target spikes per step, broadcastable to `spikes.shape[1:]`.

    **Returns:**

    Scalar mean squared error.

    **Example:**

    ```python
    spikes = jnp.zeros((10, 2)).at[::2, 0].set(1.0)  # rates [0.5, 0.0]
    spikax.losses.rate_mse(spikes, jnp.array([0.5, 0.5]))  # 0.125
    ```
    """
    spikes = _spikes("spikax.losses.rate_mse", spikes)
    rates = jnp.mean(spikes, axis=0)
    target = jnp.asarray(target_rate)
    if not isinstance(target_rate, (int, float)):  # keep Python numbers weakly typed
        target = target.astype(rates.dtype)
    try:
        jnp.broadcast_shapes(rates.shape, target.shape)
    except ValueError:
        raise ValueError(f"`spikax.losses.rate_mse`: `target_rate` has shape {target.shape}, which does not "
                         f"broadcast to the rates' shape {rates.shape} (spikes.shape[1:]).") from None
    return jnp.mean((rates - target) ** 2)


def firing_rate_penalty(spikes, target: float, *, per_neuron: bool = True, tolerance: float = 0.0):
    r"""Homeostatic regulariser pulling firing rates towards a target.

    $$r_i = \frac1T\sum_t s_{t,i},\qquad
      \mathcal R = \frac1N \sum_i \max\big(|r_i - r^\ast| - \epsilon,\,0\big)^2$$

    with `per_neuron=False` the population average rate $\bar r$ is used instead of each $r_i$
    (Zenke & Vogels 2021 use per-neuron lower and population upper bounds; combine two calls
    with a tolerance to get that shape).

    **Arguments:**

    - `spikes`: shape `(T, ...)`; every axis after time counts as neurons (or batch).
    - `target`: target rate $r^\ast$ in spikes per step.
    - `per_neuron`: penalise each neuron's rate (default) or the mean rate.
    - `tolerance`: deviations up to $\epsilon$ are free.

    **Returns:**

    Scalar penalty.

    **Example:**

    ```python
    spikes = jnp.zeros((100, 4)).at[::4].set(1.0)  # every neuron fires at 0.25
    spikax.losses.firing_rate_penalty(spikes, 0.25)  # 0.0
    ```
    """
    spikes = _spikes("spikax.losses.firing_rate_penalty", spikes)
    rates = jnp.mean(spikes, axis=0)
    if not per_neuron:
        rates = jnp.mean(rates)
    excess = jnp.maximum(jnp.abs(rates - target) - tolerance, 0.0)
    return jnp.mean(excess**2)


def sparsity_penalty(spikes, *, reduce: str = "mean"):
    r"""L1 activity regulariser: the total (or mean) number of spikes.

    $$\mathcal R = \sum_{t,i} |s_{t,i}| \quad\text{(`reduce="sum"`)}\qquad\text{or}\qquad
      \frac{1}{TN}\sum_{t,i} |s_{t,i}| \quad\text{(`reduce="mean"`)}$$

    Its surrogate gradient pushes membranes below threshold, which lowers energy on hardware.

    **Arguments:**

    - `spikes`: any shape.
    - `reduce`: `"mean"` (default) or `"sum"`.

    **Returns:**

    Scalar penalty.

    **Example:**

    ```python
    spikax.losses.sparsity_penalty(jnp.array([[1.0, 0.0], [1.0, 1.0]]), reduce="sum")  # 3.0
    ```
    """
    check_choice("spikax.losses.sparsity_penalty", "reduce", reduce, ("mean", "sum"))
    spikes = _spikes("spikax.losses.sparsity_penalty", spikes)
    l1 = jnp.abs(spikes)
    return jnp.mean(l1) if reduce == "mean" else jnp.sum(l1)
