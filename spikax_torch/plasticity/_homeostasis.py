"""k-WTA, lateral inhibition, adaptive thresholds, weight normalisation, synaptic scaling (mirrors spikax)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from .._errors import check_positive
from ._rule import PlasticityRule, check_dense, check_input_shape, decay, no_reward


def _check_axis(owner, x, axis):
    if not -x.dim() <= axis < x.dim():
        raise ValueError(f"`{owner}`: `axis={axis}` is out of range for an input of shape {tuple(x.shape)}.")
    return axis % x.dim()


def kwta(x, k: int = 1, axis: int = 0):
    """1 for the `k` largest entries along `axis` (ties to the lower index), as `spikax.plasticity.kwta`.

    **Example:**

    ```python
    spikax_torch.plasticity.kwta(torch.tensor([0.1, 0.9, 0.5]), k=2)  # [0, 1, 1]
    ```
    """
    owner = "spikax_torch.plasticity.kwta"
    axis = _check_axis(owner, x, axis)
    size = x.shape[axis]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= size:
        raise ValueError(f"`{owner}`: `k` must be an int in [1, {size}] (the size of axis {axis}), got {k!r}.")
    order = torch.argsort(-x, dim=axis, stable=True)
    ranks = torch.argsort(order, dim=axis, stable=True)
    return (ranks < k).to(x.dtype)


def lateral_inhibition(x, strength: float = 1.0, axis: int = 0):
    r"""$\tilde x_i = x_i - \beta\sum_{j\ne i}x_j$ along `axis`, as `spikax.plasticity.lateral_inhibition`.

    **Example:**

    ```python
    spikax_torch.plasticity.lateral_inhibition(torch.tensor([1.0, 2.0]), strength=0.5)
    ```
    """
    axis = _check_axis("spikax_torch.plasticity.lateral_inhibition", x, axis)
    return x - strength * (x.sum(dim=axis, keepdim=True) - x)


class Homeostasis(NamedTuple):
    """`init(shape, dtype) -> state`, `update(post, state) -> (value, state)`."""

    init: Callable
    update: Callable


class AdaptiveThresholdState(NamedTuple):
    """State of `spikax_torch.plasticity.adaptive_threshold`."""

    theta: torch.Tensor


def adaptive_threshold(increment: float = 0.05, tau: float = 1000.0, dt: float = 1.0) -> Homeostasis:
    r"""$\theta_t = e^{-dt/\tau}\theta_{t-1} + \alpha s_t$ (Diehl & Cook 2015), as `spikax.plasticity.adaptive_threshold`.

    **Example:**

    ```python
    thr = spikax_torch.plasticity.adaptive_threshold(increment=0.1, tau=100.0)
    theta, state = thr.update(torch.tensor([1.0, 0.0]), thr.init((2,)))
    ```
    """
    owner = "spikax_torch.plasticity.adaptive_threshold"
    d = decay(owner, tau, dt)

    def init_fn(shape, dtype=None):
        return AdaptiveThresholdState(torch.zeros(shape, dtype=dtype))

    def update_fn(post, state):
        if tuple(post.shape) != tuple(state.theta.shape):
            raise ValueError(f"`{owner}`: `post` has shape {tuple(post.shape)} but the state has shape "
                             f"{tuple(state.theta.shape)}; build it with `init(post.shape)`.")
        theta = d * state.theta + increment * post
        return theta, AdaptiveThresholdState(theta)

    return Homeostasis(init_fn, update_fn)


def normalize_weights(weights, norm: float = 1.0, *, ord: int = 2, eps: float = 1e-12):
    """Each unit's (first axis) incoming weights rescaled to norm `norm`, as `spikax.plasticity.normalize_weights`.

    **Example:**

    ```python
    spikax_torch.plasticity.normalize_weights(torch.tensor([[3.0, 4.0]]))  # [[0.6, 0.8]]
    ```
    """
    owner = "spikax_torch.plasticity.normalize_weights"
    if ord not in (1, 2):
        raise ValueError(f"`{owner}`: `ord` must be 1 or 2, got {ord!r}.")
    if weights.dim() < 2:
        raise ValueError(f"`{owner}`: expected weights with a leading postsynaptic axis, [n_post, ...], got shape "
                         f"{tuple(weights.shape)}.")
    check_positive(owner, "norm", norm)
    dims = tuple(range(1, weights.dim()))
    size = weights.abs().sum(dim=dims, keepdim=True) if ord == 1 else (weights**2).sum(dim=dims, keepdim=True).sqrt()
    return norm * weights / (size + eps)


class SynapticScalingState(NamedTuple):
    """State of `spikax_torch.plasticity.synaptic_scaling`."""

    rate: torch.Tensor


def synaptic_scaling(target: float, lr: float = 0.01, tau: float = 1000.0, dt: float = 1.0) -> PlasticityRule:
    r"""$\Delta w_{ij} = \eta (y^* - \bar y_i) w_{ij}$ with a running rate $\bar y$, as
    `spikax.plasticity.synaptic_scaling`.

    **Example:**

    ```python
    rule = spikax_torch.plasticity.synaptic_scaling(target=0.1, lr=0.5, tau=10.0)
    w = torch.ones(2, 3)
    dw, state = rule.update(torch.zeros(3), torch.tensor([1.0, 0.0]), rule.init(w), w)
    ```
    """
    owner = "spikax_torch.plasticity.synaptic_scaling"
    rate = 1 - decay(owner, tau, dt)

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return SynapticScalingState(weights.new_zeros(weights.shape[0]))

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        average = state.rate + rate * (post - state.rate)
        return lr * (target - average)[:, None] * weights, SynapticScalingState(average)

    return PlasticityRule(init_fn, update_fn)
