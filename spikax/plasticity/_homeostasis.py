"""Competition and homeostasis: k-WTA, lateral inhibition, adaptive thresholds, weight
normalisation, synaptic scaling."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._errors import check_positive
from ._rule import PlasticityRule, check_dense, check_input_shape, decay, no_reward


def _check_axis(owner: str, x, axis: int) -> int:
    if not -jnp.ndim(x) <= axis < jnp.ndim(x):
        raise ValueError(f"`{owner}`: `axis={axis}` is out of range for an input of shape {jnp.shape(x)}.")
    return axis % jnp.ndim(x)


def kwta(x, k: int = 1, axis: int = 0):
    r"""k-winners-take-all: 1 for the `k` largest entries along `axis`, 0 elsewhere.

    $$m_i = [\,\mathrm{rank}(x_i) < k\,]$$

    Ties go to the lower index, so exactly `k` winners are chosen. Use it to gate the
    postsynaptic activity a rule sees (`post * kwta(current, k)`); along the channel axis
    (`axis=0`) of a convolution's output it makes the channels compete at every position.

    **Arguments:** `x` (activities or currents), `k` (number of winners, 1 <= k <= size of
    the axis), `axis`.

    **Returns:** a mask with the shape and dtype of `x`.

    **Example:**

    ```python
    spikax.plasticity.kwta(jnp.array([0.1, 0.9, 0.5]), k=2)  # [0, 1, 1]
    ```
    """
    owner = "spikax.plasticity.kwta"
    axis = _check_axis(owner, x, axis)
    size = jnp.shape(x)[axis]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= size:
        raise ValueError(f"`{owner}`: `k` must be an int in [1, {size}] (the size of axis {axis}), got {k!r}.")
    if k == 1:  # one winner: argmax (first maximum), cheaper than a sort
        winner = jnp.argmax(x, axis=axis, keepdims=True)
        return (lax.broadcasted_iota(winner.dtype, jnp.shape(x), axis) == winner).astype(jnp.result_type(x))
    order = jnp.argsort(-x, axis=axis, stable=True)
    ranks = jnp.argsort(order, axis=axis, stable=True)
    return (ranks < k).astype(jnp.result_type(x))


def lateral_inhibition(x, strength: float = 1.0, axis: int = 0):
    r"""Subtractive lateral inhibition: every unit is inhibited by the sum of the others.

    $$\tilde x_i = x_i - \beta \sum_{j\ne i} x_j$$

    along `axis` (the channels of a convolution's output with `axis=0`). Apply it to a layer's
    input current (e.g. inside a connection) or to the activity a rule sees.

    **Arguments:** `x`, `strength` ($\beta \ge 0$), `axis`.

    **Example:**

    ```python
    spikax.plasticity.lateral_inhibition(jnp.array([1.0, 2.0]), strength=0.5)  # [0.0, 1.5]
    ```
    """
    axis = _check_axis("spikax.plasticity.lateral_inhibition", x, axis)
    return x - strength * (jnp.sum(x, axis=axis, keepdims=True) - x)


class Homeostasis(NamedTuple):
    """A homeostatic state on the postsynaptic side: `init(shape, dtype) -> state`,
    `update(post, state) -> (value, state)`; see [`spikax.plasticity.adaptive_threshold`][]."""

    init: Callable
    update: Callable


class AdaptiveThresholdState(NamedTuple):
    """State of [`spikax.plasticity.adaptive_threshold`][]."""

    theta: jax.Array  # threshold offset per postsynaptic unit, in units of the input current


def adaptive_threshold(increment: float = 0.05, tau: float = 1000.0, dt: float = 1.0) -> Homeostasis:
    r"""An adaptive threshold offset that grows with each spike and decays back (Diehl & Cook 2015).

    $$\theta_t = e^{-dt/\tau}\,\theta_{t-1} + \alpha\, s_t$$

    Subtract $\theta$ from the unit's input current (or add it to its threshold) so frequent
    winners become harder to excite and every unit gets to learn.

    **Arguments:** `increment` ($\alpha$), `tau`, `dt`.

    **Returns:** a [`spikax.plasticity.Homeostasis`][]; `update(post, state)` returns the new
    $\theta$ and state.

    **Example:**

    ```python
    thr = spikax.plasticity.adaptive_threshold(increment=0.1, tau=100.0)
    theta, state = thr.update(jnp.array([1.0, 0.0]), thr.init((2,)))  # [0.1, 0.0]
    ```
    """
    owner = "spikax.plasticity.adaptive_threshold"
    d = decay(owner, tau, dt)

    def init_fn(shape, dtype=None):
        dtype = jnp.result_type(float) if dtype is None else dtype
        return AdaptiveThresholdState(theta=jnp.zeros(shape, dtype))

    def update_fn(post, state):
        if jnp.shape(post) != jnp.shape(state.theta):
            raise ValueError(f"`{owner}`: `post` has shape {jnp.shape(post)} but the state has shape "
                             f"{jnp.shape(state.theta)}; build it with `init(post.shape)`.")
        theta = d * state.theta + increment * post
        return theta, AdaptiveThresholdState(theta)

    return Homeostasis(init_fn, update_fn)


def normalize_weights(weights, norm: float = 1.0, *, ord: int = 2, eps: float = 1e-12):
    r"""Rescale each postsynaptic unit's incoming weights to a fixed norm.

    $$w_{i\cdot} \leftarrow c\, \frac{w_{i\cdot}}{\lVert w_{i\cdot}\rVert_p + \epsilon}$$

    Unit $i$ is the first axis: a row of a dense `[n_post, n_pre]` weight, or one output
    channel's kernel `[C_in, *k]` of a convolution. With `ord=1` it keeps the summed absolute
    weight (Diehl & Cook 2015), with `ord=2` the Euclidean norm.

    **Arguments:** `weights`, `norm` ($c$), `ord` (1 or 2), `eps`.

    **Example:**

    ```python
    w = spikax.plasticity.normalize_weights(jnp.array([[3.0, 4.0]]))  # [[0.6, 0.8]]
    ```
    """
    owner = "spikax.plasticity.normalize_weights"
    if ord not in (1, 2):
        raise ValueError(f"`{owner}`: `ord` must be 1 or 2, got {ord!r}.")
    if jnp.ndim(weights) < 2:
        raise ValueError(f"`{owner}`: expected weights with a leading postsynaptic axis, [n_post, ...], got shape "
                         f"{jnp.shape(weights)}.")
    check_positive(owner, "norm", norm)
    axes = tuple(range(1, jnp.ndim(weights)))
    size = jnp.sum(jnp.abs(weights), axis=axes, keepdims=True) if ord == 1 else jnp.sqrt(
        jnp.sum(weights**2, axis=axes, keepdims=True))
    return norm * weights / (size + eps)


class SynapticScalingState(NamedTuple):
    """State of [`spikax.plasticity.synaptic_scaling`][]."""

    rate: jax.Array  # [n_post], running average of the postsynaptic activity per step


def synaptic_scaling(target: float, lr: float = 0.01, tau: float = 1000.0, dt: float = 1.0) -> PlasticityRule:
    r"""Multiplicative synaptic scaling toward a target activity (Turrigiano et al. 1998; van Rossum,
    Bi & Turrigiano 2000).

    $$\bar y_t = e^{-dt/\tau}\bar y_{t-1} + (1-e^{-dt/\tau})\,y_t,\qquad
    \Delta w_{ij} = \eta\,(y^* - \bar y_{i,t})\, w_{ij}$$

    All of a unit's incoming weights scale together, up when it is less active than the target
    $y^*$ (per step, e.g. spikes per step) and down when more. A dense
    [`spikax.plasticity.PlasticityRule`][]; wrap it with [`spikax.plasticity.conv`][] for kernels.

    **Arguments:** `target` ($y^*$), `lr` ($\eta$), `tau` (averaging time constant), `dt`.

    **Example:**

    ```python
    rule = spikax.plasticity.synaptic_scaling(target=0.1, lr=0.5, tau=10.0)
    w = jnp.ones((2, 3))
    dw, state = rule.update(jnp.zeros(3), jnp.array([1.0, 0.0]), rule.init(w), w)
    ```
    """
    owner = "spikax.plasticity.synaptic_scaling"
    rate = 1 - decay(owner, tau, dt)

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        return SynapticScalingState(rate=jnp.zeros(jnp.shape(weights)[0], jnp.result_type(weights)))

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        average = state.rate + rate * (post - state.rate)
        return lr * (target - average)[:, None] * weights, SynapticScalingState(average)

    return PlasticityRule(init_fn, update_fn)
