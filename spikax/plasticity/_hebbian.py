"""Rate-based rules: Hebbian, Oja, BCM."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._rule import PlasticityRule, check_dense, check_input_shape, decay, no_reward


class EmptyState(NamedTuple):
    """State of a rule that keeps no traces ([`spikax.plasticity.hebbian`][], [`spikax.plasticity.oja`][])."""


def hebbian(lr: float = 0.01) -> PlasticityRule:
    r"""The plain Hebbian rule (Hebb 1949): co-active inputs and outputs strengthen their synapse.

    $$\Delta w_{ij} = \eta\, y_i\, x_j$$

    with $x$ = `pre`, $y$ = `post` (spikes, rates or any activity). Unbounded on its own: pair
    it with [`spikax.plasticity.normalize_weights`][] or competition
    ([`spikax.plasticity.kwta`][]), or use [`spikax.plasticity.oja`][].

    **Arguments:** `lr`: the learning rate $\eta$.

    **Example:**

    ```python
    rule = spikax.plasticity.hebbian(lr=0.1)
    w = jnp.zeros((2, 3))
    dw, _ = rule.update(jnp.ones(3), jnp.array([1.0, 0.0]), rule.init(w), w)  # dw[0] == 0.1
    ```
    """
    owner = "spikax.plasticity.hebbian"

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return EmptyState()

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        return lr * jnp.outer(post, pre), state

    return PlasticityRule(init_fn, update_fn)


def oja(lr: float = 0.01) -> PlasticityRule:
    r"""Oja's rule (Oja 1982, J. Math. Biol. 15:267): Hebbian growth with a normalising decay.

    $$\Delta w_{ij} = \eta\, y_i\,(x_j - y_i w_{ij})$$

    For a linear neuron $y = w^\top x$ on zero-mean inputs, $w$ converges to the unit-norm first
    principal component of the input covariance.

    **Arguments:** `lr`: the learning rate $\eta$.

    **Example:**

    ```python
    rule = spikax.plasticity.oja(lr=0.1)
    w = jnp.array([[0.6, 0.8]])
    x = jnp.array([1.0, 0.0])
    dw, _ = rule.update(x, w @ x, rule.init(w), w)
    ```
    """
    owner = "spikax.plasticity.oja"

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return EmptyState()

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        return lr * (jnp.outer(post, pre) - (post**2)[:, None] * weights), state

    return PlasticityRule(init_fn, update_fn)


class BCMState(NamedTuple):
    """State of [`spikax.plasticity.bcm`][]."""

    theta: jax.Array  # [n_post], the sliding modification threshold, in units of post**2


def bcm(lr: float = 0.01, tau_theta: float = 100.0, dt: float = 1.0, theta0: float = 0.0) -> PlasticityRule:
    r"""The BCM rule with a sliding threshold (Bienenstock, Cooper & Munro 1982; Intrator & Cooper 1992).

    $$\Delta w_{ij} = \eta\, y_i (y_i - \theta_i)\, x_j,\qquad
    \theta_{i,t} = \theta_{i,t-1} + (1 - e^{-dt/\tau_\theta})(y_{i,t}^2 - \theta_{i,t-1})$$

    The threshold is a running average of $y^2$ (updated after the weight change is computed),
    so activity above it potentiates and below it depresses, and a neuron cannot grow forever.

    **Arguments:** `lr` ($\eta$), `tau_theta` (threshold time constant, unit of `dt`), `dt`,
    `theta0` (initial threshold).

    **Example:**

    ```python
    rule = spikax.plasticity.bcm(lr=0.1, tau_theta=10.0, theta0=0.5)
    w = jnp.ones((1, 2))
    dw, state = rule.update(jnp.ones(2), jnp.ones(1), rule.init(w), w)  # 0.1 * 1 * (1 - 0.5)
    ```
    """
    owner = "spikax.plasticity.bcm"
    rate = 1 - decay(owner, tau_theta, dt)

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return BCMState(theta=jnp.full(jnp.shape(weights)[0], theta0, jnp.result_type(weights)))

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        dw = lr * jnp.outer(post * (post - state.theta), pre)
        return dw, BCMState(theta=state.theta + rate * (post**2 - state.theta))

    return PlasticityRule(init_fn, update_fn)
