"""Hebbian, Oja and BCM rules (mirrors `spikax.plasticity`)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._rule import PlasticityRule, check_dense, check_input_shape, decay, no_reward


class EmptyState(NamedTuple):
    """State of a rule without traces."""


def hebbian(lr: float = 0.01) -> PlasticityRule:
    r"""$\Delta w_{ij} = \eta\, y_i x_j$ (Hebb 1949), as `spikax.plasticity.hebbian`.

    **Example:**

    ```python
    rule = spikax_torch.plasticity.hebbian(lr=0.1)
    w = torch.zeros(2, 3)
    dw, _ = rule.update(torch.ones(3), torch.tensor([1.0, 0.0]), rule.init(w), w)
    ```
    """
    owner = "spikax_torch.plasticity.hebbian"

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return EmptyState()

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        return lr * torch.outer(post, pre), state

    return PlasticityRule(init_fn, update_fn)


def oja(lr: float = 0.01) -> PlasticityRule:
    r"""Oja's rule $\Delta w_{ij} = \eta\, y_i (x_j - y_i w_{ij})$ (Oja 1982), as `spikax.plasticity.oja`.

    **Example:**

    ```python
    rule = spikax_torch.plasticity.oja(lr=0.1)
    w = torch.tensor([[0.6, 0.8]])
    x = torch.tensor([1.0, 0.0])
    dw, _ = rule.update(x, w @ x, rule.init(w), w)
    ```
    """
    owner = "spikax_torch.plasticity.oja"

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return EmptyState()

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        return lr * (torch.outer(post, pre) - (post**2)[:, None] * weights), state

    return PlasticityRule(init_fn, update_fn)


class BCMState(NamedTuple):
    """State of `spikax_torch.plasticity.bcm`."""

    theta: torch.Tensor


def bcm(lr: float = 0.01, tau_theta: float = 100.0, dt: float = 1.0, theta0: float = 0.0) -> PlasticityRule:
    r"""BCM with a sliding threshold, as `spikax.plasticity.bcm`:
    $\Delta w_{ij} = \eta\, y_i (y_i - \theta_i) x_j$, $\theta \leftarrow \theta + (1-e^{-dt/\tau_\theta})(y^2-\theta)$.

    **Example:**

    ```python
    rule = spikax_torch.plasticity.bcm(lr=0.1, tau_theta=10.0, theta0=0.5)
    w = torch.ones(1, 2)
    dw, state = rule.update(torch.ones(2), torch.ones(1), rule.init(w), w)
    ```
    """
    owner = "spikax_torch.plasticity.bcm"
    rate = 1 - decay(owner, tau_theta, dt)

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return BCMState(torch.full((weights.shape[0],), theta0, dtype=weights.dtype))

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        dw = lr * torch.outer(post * (post - state.theta), pre)
        return dw, BCMState(state.theta + rate * (post**2 - state.theta))

    return PlasticityRule(init_fn, update_fn)
