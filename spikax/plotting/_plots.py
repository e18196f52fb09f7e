"""Raster plots, membrane traces, rate histograms and training curves."""

from __future__ import annotations

import numpy as np


def _pyplot(owner: str):
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(f'`{owner}` needs matplotlib, which is optional: pip install "spikax[plot]"') from e
    return plt


def _axes(owner: str, ax):
    if ax is None:
        _, ax = _pyplot(owner).subplots()
    else:
        _pyplot(owner)
    return ax


def _time_major(owner: str, name: str, x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"`{owner}`: `{name}` must have time on axis 0, got a scalar.")
    return x.reshape(x.shape[0], -1)  # every axis after time is a neuron axis


def raster(spikes, ax=None, *, dt: float = 1.0, marker: str = "|", **scatter_kwargs):
    r"""Spike raster: a mark at (time, neuron) for every spike.

    **Arguments:**

    - `spikes`: shape `(T, ...)`, time on axis 0; the other axes are flattened into neurons.
    - `ax`: matplotlib axes to draw on (default: a new figure).
    - `dt`: time step, for the time axis in physical units.
    - `marker`, `**scatter_kwargs`: passed to `ax.scatter`.

    **Returns:**

    The axes. The spikes are its first collection: `ax.collections[0].get_offsets()` holds
    the `(t * dt, neuron)` pairs.

    **Example:**

    ```python
    spikes = jax.random.bernoulli(jax.random.key(0), 0.1, (100, 20))
    ax = spikax.plotting.raster(spikes)
    ```
    """
    owner = "spikax.plotting.raster"
    s = _time_major(owner, "spikes", spikes)
    ax = _axes(owner, ax)
    t, n = np.nonzero(s)
    scatter_kwargs.setdefault("color", "k")
    scatter_kwargs.setdefault("s", 10)
    ax.scatter(t * dt, n, marker=marker, **scatter_kwargs)
    ax.set_xlim(-0.5 * dt, (s.shape[0] - 0.5) * dt)
    ax.set_ylim(-0.5, s.shape[1] - 0.5)
    ax.set_xlabel("time")
    ax.set_ylabel("neuron")
    return ax


def traces(v, ax=None, *, threshold: float | None = None, dt: float = 1.0, neurons=None, **plot_kwargs):
    r"""Membrane potential traces, one line per neuron, with an optional threshold line.

    **Arguments:**

    - `v`: membrane potentials, shape `(T, ...)`; the other axes are flattened into neurons.
    - `ax`: matplotlib axes (default: a new figure).
    - `threshold`: draw a dashed horizontal line at this value.
    - `dt`: time step.
    - `neurons`: indices of the (flattened) neurons to show (default: all).
    - `**plot_kwargs`: passed to `ax.plot`.

    **Returns:**

    The axes; `ax.lines` holds one line per neuron, then the threshold line.

    **Example:**

    ```python
    v = jnp.cumsum(jnp.full((50, 3), 0.05), axis=0)
    ax = spikax.plotting.traces(v, threshold=1.0)
    ```
    """
    owner = "spikax.plotting.traces"
    v = _time_major(owner, "v", v)
    if neurons is not None:
        v = v[:, np.asarray(neurons)]
    ax = _axes(owner, ax)
    t = np.arange(v.shape[0]) * dt
    for i in range(v.shape[1]):
        ax.plot(t, v[:, i], **plot_kwargs)
    if threshold is not None:
        ax.axhline(threshold, color="k", linestyle="--", linewidth=1, label="threshold")
    ax.set_xlabel("time")
    ax.set_ylabel("membrane potential")
    return ax


def rate_histogram(spikes, ax=None, *, dt: float = 1.0, bins=20, **hist_kwargs):
    r"""Histogram of per-neuron firing rates $r_i = \frac{1}{T\,\Delta t}\sum_t s_{t,i}$.

    **Arguments:**

    - `spikes`: shape `(T, ...)`; the other axes are flattened into neurons.
    - `ax`: matplotlib axes (default: a new figure).
    - `dt`: time step; rates are spikes per step with `dt=1`, or Hz with `dt` in seconds.
    - `bins`, `**hist_kwargs`: passed to `ax.hist`.

    **Returns:**

    The axes.

    **Example:**

    ```python
    spikes = jax.random.bernoulli(jax.random.key(0), 0.1, (100, 200))
    ax = spikax.plotting.rate_histogram(spikes, dt=1e-3)  # rates around 100 Hz
    ```
    """
    owner = "spikax.plotting.rate_histogram"
    s = _time_major(owner, "spikes", spikes)
    ax = _axes(owner, ax)
    rates = s.sum(axis=0) / (s.shape[0] * dt)
    ax.hist(rates, bins=bins, **hist_kwargs)
    ax.set_xlabel("firing rate (Hz)" if dt != 1.0 else "firing rate (spikes per step)")
    ax.set_ylabel("neurons")
    return ax


def training_curves(history: dict, ax=None):
    r"""Training curves from a history of metrics, one line per metric.

    Metrics whose name contains `"acc"` are drawn on a second panel (or, with `ax` given, all
    metrics share it).

    **Arguments:**

    - `history`: dict of lists, one value per epoch (or step), e.g.
      `{"loss": [...], "accuracy": [...], "val_accuracy": [...]}`.
    - `ax`: matplotlib axes to draw everything on (default: a new figure with one or two panels).

    **Returns:**

    A list of the axes used.

    **Example:**

    ```python
    axes = spikax.plotting.training_curves({"loss": [1.0, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8]})
    ```
    """
    owner = "spikax.plotting.training_curves"
    if not isinstance(history, dict) or not history:
        raise TypeError(f"`{owner}`: expected a non-empty dict of lists such as {{'loss': [...]}}, got "
                        f"{type(history).__name__}.")
    series = {name: np.asarray(values, dtype=float) for name, values in history.items()}
    for name, values in series.items():
        if values.ndim != 1:
            raise ValueError(f"`{owner}`: history[{name!r}] must be a flat list of numbers, got shape "
                             f"{values.shape}.")
    accuracy = [k for k in series if "acc" in k.lower()]
    other = [k for k in series if k not in accuracy]
    if ax is not None:
        _pyplot(owner)
        groups = [(ax, list(series))]
    else:
        plt = _pyplot(owner)
        panels = [g for g in (other, accuracy) if g]
        _, axs = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
        groups = list(zip(axs[0], panels))
    for a, names in groups:
        for name in names:
            a.plot(np.arange(1, len(series[name]) + 1), series[name], label=name)
        a.set_xlabel("epoch")
        a.legend()
    return [a for a, _ in groups]
