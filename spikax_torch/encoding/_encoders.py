"""Spike encodings (torch twins of `spikax.encoding`); time is axis 0 of every output.

`latency`, `delta` and population rates are deterministic and equal spikax's exactly. `rate`
and population spikes are random: `key` is a `torch.Generator` or an int seed (torch and JAX
random streams differ, so the spikes match spikax's in distribution, not draw for draw).
"""

from __future__ import annotations



import torch

from .._errors import as_numpy, check_choice, check_in_range, check_positive


def _float_input(owner: str, x, dtype=None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if dtype is not None:
        return x.to(dtype)
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def _steps(owner: str, n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"`{owner}`: `n_steps` must be a positive int, got {n_steps!r}.")
    return n_steps


def _unit_interval(owner: str, x: torch.Tensor) -> None:
    if x.numel() and (bool((x < 0).any()) or bool((x > 1).any())):
        raise ValueError(f"`{owner}`: inputs must lie in [0, 1], got values in [{float(x.min())}, {float(x.max())}]. "
                         "Scale them first, e.g. `x / 255`.")


def _generator(owner: str, key) -> torch.Generator:
    if isinstance(key, torch.Generator):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return torch.Generator().manual_seed(key)
    raise TypeError(f"`{owner}`: `key` must be a torch.Generator or an int seed, got {type(key).__name__}.")


def rate(x, n_steps: int, *, key, max_prob: float = 1.0, dtype=None):
    r"""Rate coding: independent Bernoulli spike trains, $s_t \sim \mathrm{Bernoulli}(x\,p_{\max})$.

    As [`spikax.encoding.rate`][]; `key` is a `torch.Generator` or an int seed.

    **Returns:** spikes of shape `(n_steps, *x.shape)`.

    **Example:**

    ```python
    spikes = spikax_torch.encoding.rate(torch.tensor([0.0, 0.5, 1.0]), 100, key=0)
    ```
    """
    owner = "spikax_torch.encoding.rate"
    n_steps = _steps(owner, n_steps)
    generator = _generator(owner, key)
    check_in_range(owner, "max_prob", max_prob, 0.0, 1.0)
    x = _float_input(owner, x, dtype)
    _unit_interval(owner, x)
    u = torch.rand((n_steps, *x.shape), generator=generator, dtype=x.dtype)
    return (u < x * max_prob).to(x.dtype)


def latency(x, n_steps: int, *, kind: str = "linear", threshold: float = 0.01, tau: float | None = None,
            dtype=None):
    r"""Latency coding: one spike per input, brighter inputs earlier (as [`spikax.encoding.latency`][]).

    `kind="linear"`: $t = \operatorname{round}((1-x)(T-1))$; `kind="log"`:
    $t = \operatorname{round}(\tau\ln\frac{x}{x-\vartheta})$ clipped to $T-1$. Inputs $x \le \vartheta$ never spike.

    **Example:**

    ```python
    spikes = spikax_torch.encoding.latency(torch.tensor([1.0, 0.5, 0.0]), 11)
    ```
    """
    owner = "spikax_torch.encoding.latency"
    n_steps = _steps(owner, n_steps)
    check_choice(owner, "kind", kind, ("linear", "log"))
    check_in_range(owner, "threshold", threshold, 0.0, 1.0, include_low=True, fix="Pass a threshold in [0, 1).")
    x = _float_input(owner, x, dtype)
    _unit_interval(owner, x)
    fires = x > threshold
    if kind == "linear":
        times = torch.round((1 - x) * (n_steps - 1))
    else:
        tau = n_steps / 5 if tau is None else tau
        check_positive(owner, "tau", tau)
        safe_x = torch.where(fires, x, torch.ones_like(x))
        times = torch.round(tau * torch.log(safe_x / (safe_x - threshold)))
    times = torch.clamp(times, 0, n_steps - 1)
    steps = torch.arange(n_steps, dtype=x.dtype).reshape((n_steps,) + (1,) * x.ndim)
    return ((steps == times) & fires).to(x.dtype)


def delta(x, threshold: float = 0.1, *, off_spikes: bool = True):
    r"""Delta (send-on-delta) coding of a signal with time on axis 0 (as [`spikax.encoding.delta`][]).

    ON spike when $x_t - r_{t-1} > \vartheta$, OFF spike when $r_{t-1} - x_t > \vartheta$; the
    reference $r$ jumps to $x_t$ when a spike is sent. No spike at $t = 0$.

    **Returns:** `(T, 2, ...)` (ON, OFF) or `(T, ...)` with `off_spikes=False`.

    **Example:**

    ```python
    spikes = spikax_torch.encoding.delta(0.03 * torch.arange(10.0), threshold=0.1)
    ```
    """
    owner = "spikax_torch.encoding.delta"
    check_positive(owner, "threshold", threshold)
    x = _float_input(owner, x)
    if x.ndim < 1:
        raise ValueError(f"`{owner}`: expected a signal with time on axis 0, got a scalar. Pass shape (T, ...).")
    ref = x[0]
    out = [torch.zeros((2, *x.shape[1:]), dtype=x.dtype)]
    for xt in x[1:].unbind(0):
        on, off = xt - ref > threshold, ref - xt > threshold
        ref = torch.where(on | off, xt, ref)
        out.append(torch.stack([on, off]).to(x.dtype))
    spikes = torch.stack(out)
    return spikes if off_spikes else spikes[:, 0]


def population(x, n_neurons: int, *, low: float = 0.0, high: float = 1.0, sigma: float | None = None,
               n_steps: int | None = None, key=None, max_prob: float = 1.0, dtype=None):
    r"""Population coding with Gaussian tuning curves (as [`spikax.encoding.population`][]).

    $r_j(x) = \exp(-(x-\mu_j)^2/2\sigma^2)$, $\mu_j$ evenly spaced on [low, high]; with `n_steps`
    (and a `key`) Bernoulli spikes with probability $r_j p_{\max}$ per step.

    **Example:**

    ```python
    rates = spikax_torch.encoding.population(torch.tensor([0.0, 1.0]), 5)  # (2, 5)
    ```
    """
    owner = "spikax_torch.encoding.population"
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, int) or n_neurons < 1:
        raise ValueError(f"`{owner}`: `n_neurons` must be a positive int, got {n_neurons!r}.")
    if not high > low:
        raise ValueError(f"`{owner}`: need `low < high`, got low={low!r}, high={high!r}. Swap or widen the range.")
    x = _float_input(owner, x, dtype)
    if sigma is None:
        sigma = (high - low) / max(n_neurons - 1, 1)
    check_positive(owner, "sigma", sigma)
    centres = torch.linspace(low, high, n_neurons, dtype=x.dtype)
    sigma = float(as_numpy(sigma)) if as_numpy(sigma).size == 1 else torch.as_tensor(sigma, dtype=x.dtype)
    rates = torch.exp(-((x[..., None] - centres) ** 2) / (2 * sigma**2))
    if n_steps is None:
        return rates
    n_steps = _steps(owner, n_steps)
    generator = _generator(owner, key)
    check_in_range(owner, "max_prob", max_prob, 0.0, 1.0)
    u = torch.rand((n_steps, *rates.shape), generator=generator, dtype=x.dtype)
    return (u < rates * max_prob).to(x.dtype)



