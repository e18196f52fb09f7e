"""The "surrogate loss" route: losses whose gradient is a plasticity update, for optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def surrogate_loss(params, updates):
    r"""A loss whose gradient with respect to `params` is minus `updates`, for any rule.

    $$L(\theta) = -\sum \mathrm{sg}(\Delta\theta)\odot\theta,\qquad \nabla_\theta L = -\Delta\theta$$

    ($\mathrm{sg}$: stop-gradient.) Differentiate it and hand the gradient to any optax
    optimiser: `optax.sgd(1.0)` applies exactly the rule's update, other optimisers and
    schedules rescale it, and the plasticity update can be added to a task loss so that
    gradient training and plasticity share one optimiser step.

    **Arguments:** `params` (a pytree, e.g. a weight), `updates` (the rule's `dw`, same structure).

    **Returns:** a scalar.

    **Example:**

    ```python
    rule = spikax.plasticity.hebbian(lr=0.1)
    w = jnp.zeros((2, 3))
    dw, _ = rule.update(jnp.ones(3), jnp.ones(2), rule.init(w), w)
    grads = jax.grad(spikax.plasticity.surrogate_loss)(w, dw)
    opt = optax.sgd(1.0)
    updates, _ = opt.update(grads, opt.init(w))  # updates == dw
    ```
    """
    terms = jax.tree_util.tree_map(lambda p, u: jnp.sum(lax.stop_gradient(u) * p), params, updates)
    return -sum(jax.tree_util.tree_leaves(terms))


def hebbian_loss(connection, x, post):
    r"""A Hebbian surrogate loss built from the connection's own forward pass (Miconi 2021).

    $$L = -\sum_{i} \mathrm{sg}(y_i)\, f_W(x)_i$$

    Its gradient with respect to the connection's weight is $-\sum_p y_p \otimes x_p$, the
    Hebbian update summed over positions: for an `eqx.nn.Linear` it is $-y x^\top$, for a
    convolution the shared-kernel sum over patches, stride, padding and dilation included, with
    no patches materialised (the convolution's own transpose does it). A bias, if any, receives
    $-\sum_p y_p$. Equal to [`spikax.plasticity.hebbian`][] with `lr=1` (and
    [`spikax.plasticity.conv`][] for kernels), up to the sign.

    **Arguments:** `connection` (a one-sample callable module), `x` (its input), `post` (the
    postsynaptic activity, shaped like `connection(x)`).

    **Example:**

    ```python
    conv2d = eqx.nn.Conv2d(1, 2, 3, key=key)
    x = jnp.ones((1, 5, 5))
    grads = eqx.filter_grad(spikax.plasticity.hebbian_loss)(conv2d, x, jnp.ones((2, 3, 3)))
    # -grads.weight is the Hebbian update of the kernel
    ```
    """
    y = connection(x)
    if jnp.shape(y) != jnp.shape(post):
        raise ValueError(f"`spikax.plasticity.hebbian_loss`: `post` has shape {jnp.shape(post)} but the connection's "
                         f"output has shape {jnp.shape(y)}; pass the activity of the units this connection drives.")
    return -jnp.sum(lax.stop_gradient(post) * y)
