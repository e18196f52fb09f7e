"""Which leaves of a model learn: connection weights yes, neuron constants only when chosen."""

from __future__ import annotations

import equinox as eqx
import jax

from .neurons import AbstractNeuron


def trainable(model) -> object:
    """A filter spec (pytree of bools, model-shaped) marking the leaves that learn.

    Floating-point arrays learn, except inside neurons, where only the parameters named in
    the neuron's `learnable` set do, and except the fields a module lists in its class
    attribute `frozen_fields` (e.g. the running statistics of [`spikax.layers.BNTT`][]).
    Use it with `eqx.partition` to hand optimisers only what should change, so a fixed
    parameter gets neither a gradient nor an update (not even weight decay).

    **Example:**

    ```python
    model = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(learnable="beta"), key=key)])
    loss = lambda m: jnp.sum(spikax.run(m, m.init_state((3,)), jnp.ones((10, 3)))[1])
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
        if _frozen_fields(node):
            flags = jax.tree_util.tree_map(eqx.is_inexact_array, node)
            for name in _frozen_fields(node):
                flags = eqx.tree_at(lambda n: getattr(n, name), flags, replace_fn=lambda _: False)
            return flags
        return eqx.is_inexact_array(node)

    def special(node):
        return isinstance(node, AbstractNeuron) or bool(_frozen_fields(node))

    return jax.tree_util.tree_map(spec, model, is_leaf=special)


def _frozen_fields(node) -> tuple[str, ...]:
    return tuple(getattr(type(node), "frozen_fields", ())) if isinstance(node, eqx.Module) else ()
