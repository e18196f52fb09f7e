"""Which leaves of a model learn: connection weights yes, neuron constants only when chosen."""

from __future__ import annotations

import equinox as eqx
import jax

from .neurons import AbstractNeuron


def trainable(model) -> object:
    """A filter spec (pytree of bools, model-shaped) marking the leaves that learn.

    Floating-point arrays learn, except inside neurons, where only the parameters named in
    the neuron's `learnable` set do. Use it with `eqx.partition` to hand optimisers only what
    should change, so a fixed parameter gets neither a gradient nor an update (not even
    weight decay).

    **Example:**

    ```python
    params, static = eqx.partition(model, spikax.trainable(model))
    grads = jax.grad(lambda p: loss(eqx.combine(p, static)))(params)
    ```
    """

    def spec(node):
        if isinstance(node, AbstractNeuron):
            flags = jax.tree_util.tree_map(lambda _: False, node)
            for name in node.learnable:
                flags = eqx.tree_at(lambda n: getattr(n, "raw_" + name), flags, True)
            return flags
        return eqx.is_inexact_array(node)

    return jax.tree_util.tree_map(spec, model, is_leaf=lambda n: isinstance(n, AbstractNeuron))
