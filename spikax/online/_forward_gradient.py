r"""Forward gradients: unbiased gradient estimates from directional derivatives carried forward in time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._errors import check_choice
from ._api import AbstractEstimator, _bind, check_float_state, flat_step

DISTRIBUTIONS = ("rademacher", "normal")


class ForwardGradientState(NamedTuple):
    """State of [`spikax.online.forward_gradient`][] (one example).

    - `tangents`: the K parameter tangents $v_k$, shape `[K, P]` (order of `ravel_pytree(params)`),
      fixed for the whole sequence.
    - `state_tangents`: $u_{k,t} = \\partial s_t/\\partial\\theta \\cdot v_k$, shape `[K, n_s]`.
    """

    tangents: jax.Array
    state_tangents: jax.Array


class ForwardGradient(AbstractEstimator):
    r"""Forward-gradient estimator; see [`forward_gradient`][spikax.online.forward_gradient]."""

    num_tangents: int = eqx.field(static=True)
    dist: str = eqx.field(static=True)
    direction: Any
    direction_is_fn: bool = eqx.field(static=True)

    def __init__(self, model, loss_fn, *, num_tangents=1, dist="rademacher", direction=None):
        owner = "spikax.online.forward_gradient"
        self.params_treedef, self.static = _bind(owner, model, loss_fn)
        self.loss_fn = loss_fn
        if not isinstance(num_tangents, int) or isinstance(num_tangents, bool) or num_tangents < 1:
            raise ValueError(f"`{owner}`: `num_tangents` must be a whole number >= 1, got {num_tangents!r}.")
        check_choice(owner, "tangent distribution `dist`", dist, DISTRIBUTIONS)
        # A params-shaped pytree may itself be callable (a model is), so look at its structure first.
        is_tree = direction is not None and jax.tree_util.tree_structure(direction) == self.params_treedef
        self.direction_is_fn = direction is not None and not is_tree
        if self.direction_is_fn and not callable(direction):
            raise ValueError(
                    f"`{owner}`: `direction` must have the structure of `params` (the trainable part of the model), "
                    "or be a function `direction(key) -> pytree like params`; got a pytree of another structure."
                )
        self.num_tangents = num_tangents
        self.dist = dist
        self.direction = direction

    def init(self, params, state0, *, key=None):
        owner = "spikax.online.forward_gradient"
        self.check_params(params)
        check_float_state(owner, state0)
        flat_p, _ = ravel_pytree(params)
        flat_s, _ = ravel_pytree(state0)
        if self.direction is not None and not self.direction_is_fn:
            tangents = ravel_pytree(self.direction)[0][None].astype(flat_p.dtype)
        else:
            if key is None:
                raise ValueError(
                    f"`{owner}`: random tangents need a PRNG key: pass `key=` to `spikax.online.run` / "
                    "`spikax.online.train` (or to `init`)."
                )
            if self.direction_is_fn:
                tangents = ravel_pytree(self.direction(key))[0][None].astype(flat_p.dtype)
            elif self.dist == "normal":
                tangents = jax.random.normal(key, (self.num_tangents, flat_p.size), flat_p.dtype)
            else:
                tangents = jax.random.rademacher(key, (self.num_tangents, flat_p.size), flat_p.dtype)
        state_tangents = jnp.zeros((tangents.shape[0], flat_s.size), flat_s.dtype)
        return ForwardGradientState(tangents=tangents, state_tangents=state_tangents)

    def step(self, params, lstate, state, x, target, *, key=None):
        del key
        f, flat_s, flat_p, unravel_s, unravel_p = flat_step(self, params, state, x, target)
        (new_s, loss), linear, y = jax.linearize(f, flat_s, flat_p, has_aux=True)
        # u_t = D_t u_{t-1} + M_t v and (dl_t/dθ)·v, one tangent at a time.
        state_tangents, dloss = jax.vmap(linear)(lstate.state_tangents, lstate.tangents)
        grad = dloss @ lstate.tangents / lstate.tangents.shape[0]
        return unravel_s(new_s), ForwardGradientState(lstate.tangents, state_tangents), y, loss, unravel_p(grad)


def forward_gradient(model, loss_fn, *, num_tangents: int = 1, dist: str = "rademacher",
                     direction: Any | Callable | None = None) -> ForwardGradient:
    r"""Forward gradient: an unbiased gradient estimate from directional derivatives (Baydin et al. 2022).

    For tangents $v_k$ with i.i.d. zero-mean, unit-variance entries, fixed for the sequence,

    $$g = \frac1K\sum_{k=1}^K (\nabla_\theta L\cdot v_k)\,v_k,\qquad \mathbb E[g] = \nabla_\theta L,$$

    and $\nabla_\theta L\cdot v$ is carried online with one tangent of the state per $v$:
    $u_t = D_t u_{t-1} + M_t v$, $\;\nabla\ell_t\cdot v = \partial_s\ell_t\, u_{t-1} + \partial_\theta\ell_t\, v$
    (one `jax.linearize` per step, the linear map vmapped over the K tangents). For one
    tangent, $\mathbb E\lVert g\rVert^2 = (P+2)\lVert\nabla L\rVert^2$ (Gaussian) or
    $P\lVert\nabla L\rVert^2$ (Rademacher), with $P$ parameters. Memory $O(K(n_s+P))$, compute
    $O(KP)$ per step. Works for any spikax model with floating-point state.

    **Arguments:**

    - `model`, `loss_fn`: as in [`rtrl`][spikax.online.rtrl].
    - `num_tangents`: K, the number of random tangents (averaged).
    - `dist`: `"rademacher"` (±1, lower variance) or `"normal"`.
    - `direction`: instead of random tangents, one fixed direction (a pytree shaped like
      `params`, e.g. another estimator's gradient, giving $(\nabla L\cdot d)\,d$), or a function
      `direction(key) -> pytree` drawing one (directional descent).

    **Returns:** an [`AbstractEstimator`][spikax.online.AbstractEstimator]; pass `key=` to
    [`spikax.online.run`][] / [`spikax.online.train`][] for random tangents (drawn at `init`,
    once per sequence and example).

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    est = spikax.online.forward_gradient(net, mse, num_tangents=4)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets, key=jax.random.key(0))
    ```
    """
    return ForwardGradient(model, loss_fn, num_tangents=num_tangents, dist=dist, direction=direction)
