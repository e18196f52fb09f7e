r"""Forward propagation through time (FPTT): an optimiser wrapper with a dynamic regulariser."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .._errors import check_positive


class FPTTState(NamedTuple):
    """State of [`spikax.online.fptt`][]: the inner optimiser's state, the running average $\\bar W$ and $\\lambda$."""

    inner: Any
    average: Any
    lam: Any


def fptt(inner: optax.GradientTransformation, alpha: float) -> optax.GradientTransformation:
    r"""Forward propagation through time (Kag & Saligrama, ICML 2021, Alg. 1), as an optax wrapper.

    Each update takes the per-step gradient $\nabla\ell_t$ of any online learner (or of BPTT
    on a chunk) and steps on the regularised loss

    $$\ell_t(W) + \frac{\alpha}{2}\Big\lVert W - \bar W - \frac{\lambda}{2\alpha}\Big\rVert^2
      \quad\Rightarrow\quad g = \nabla\ell_t + \alpha(W - \bar W) - \tfrac12\lambda,$$

    then, with the new weights $W'$,

    $$\lambda \leftarrow \lambda - \alpha(W' - \bar W),\qquad
      \bar W \leftarrow \tfrac12(\bar W + W') - \frac{\lambda}{2\alpha}.$$

    ($\lambda$ first, and $\bar W$ with the new $\lambda$, as in the authors' code, where
    $\lambda$ starts at 0 and $\bar W$ at the initial weights.) The regulariser keeps the
    weights near a running average, which lets per-step updates optimise the whole
    sequence's loss; the objective differs from BPTT's, so FPTT is not compared to BPTT.
    Yin, Corradi & Bohté (Nat. Mach. Intell. 2023) train SNNs with it.

    **Arguments:**

    - `inner`: the optimiser applied to the regularised gradient, e.g. `optax.adam(1e-3)`.
    - `alpha`: the regulariser's strength $\alpha > 0$.

    **Returns:** an `optax.GradientTransformation`; its `update` needs `params`.

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    est, state0 = spikax.online.eprop(net, mse), net.init_state((3,))
    opt = spikax.online.fptt(optax.adam(1e-3), alpha=0.5)
    params, opt_state, losses = spikax.online.train(est, opt, params, opt.init(params), state0, xs, targets)
    ```
    """
    owner = "spikax.online.fptt"
    if not isinstance(inner, optax.GradientTransformation):
        raise TypeError(f"`{owner}`: `inner` must be an optax optimiser (e.g. `optax.adam(1e-3)`), got "
                        f"{type(inner).__name__}.")
    check_positive(owner, "alpha", alpha, "Pass the regulariser's strength, e.g. `alpha=0.5`.")

    def init_fn(params):
        return FPTTState(inner=inner.init(params), average=params,
                         lam=jax.tree_util.tree_map(jnp.zeros_like, params))

    def update_fn(grads, state, params=None):
        if params is None:
            raise ValueError(f"`{owner}`: the update needs the current parameters: call `opt.update(grads, state, "
                             "params)` (as `spikax.online.train` does).")
        regularised = jax.tree_util.tree_map(lambda g, w, avg, lam: g + alpha * (w - avg) - 0.5 * lam,
                                             grads, params, state.average, state.lam)
        updates, inner_state = inner.update(regularised, state.inner, params)
        new = optax.apply_updates(params, updates)
        lam = jax.tree_util.tree_map(lambda lam, w, avg: lam - alpha * (w - avg), state.lam, new, state.average)
        average = jax.tree_util.tree_map(lambda avg, w, lam: 0.5 * (avg + w) - lam / (2 * alpha),
                                         state.average, new, lam)
        return updates, FPTTState(inner=inner_state, average=average, lam=lam)

    return optax.GradientTransformation(init_fn, update_fn)
