"""The "registered state" style: the network's state kept in an `equinox.nn.State`."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax

from ..layers import AbstractLayer
from ..layers._layers import as_layer


class Stateful(eqx.Module):
    """Adapter to the registered-state style: the state lives in an `equinox.nn.State`, shapes inferred.

    The explicit style, `state, y = net(state, x)`, is spikax's primary one. Some prefer the
    style of the research code spikax grew from, where the model registers its variables and
    infers their shapes from the input: this adapter wraps any spikax network so that it follows
    equinox's stateful-layer convention, `y, state = model(x, state)`, with the state made by
    `equinox.nn.make_with_state`. All shapes are inferred from `input_shape` (one sample) at
    construction. Results are identical to the explicit style (same functions underneath).

    **Arguments:**

    - `model`: a spikax layer, `Chain` or `Graph`.
    - `input_shape`: the shape of one input sample (one time step, no batch).
    - `batch_size`: if given, the registered state holds a batch of that size and calls take
      inputs with a leading batch axis (`[batch, ...]` per step, `[time, batch, ...]` for `run`).
    - `dtype`: dtype of the state.
    - `key`: for layers that draw something per sequence ([`spikax.layers.Dropout`][]).

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(), key=jax.random.key(0))])
    model, state = eqx.nn.make_with_state(spikax.network.Stateful)(net, (3,))
    y, state = model(jnp.ones(3), state)               # one step
    ys, state = model.run(jnp.ones((100, 3)), state)   # a sequence, via `spikax.run`
    state = model.reset(state)                         # back to the initial state
    ```
    """

    model: AbstractLayer
    index: eqx.nn.StateIndex
    input_shape: tuple[int, ...] = eqx.field(static=True)
    batch_size: int | None = eqx.field(static=True)
    dtype: Any = eqx.field(static=True)

    def __init__(self, model, input_shape, *, batch_size: int | None = None, dtype=None, key=None):
        self.model = as_layer(model)
        self.input_shape = tuple(input_shape)
        self.batch_size = batch_size
        self.dtype = dtype
        self.index = eqx.nn.StateIndex(self.initial(key=key))

    def initial(self, *, key=None):
        """The model's initial state (batched when `batch_size` is set), as stored in the registry."""
        if self.batch_size is None:
            return self.model.init_state(self.input_shape, self.dtype, key=key)
        if key is None:
            one = self.model.init_state(self.input_shape, self.dtype)
            return jax.tree_util.tree_map(lambda a: jax.numpy.broadcast_to(a, (self.batch_size,) + a.shape), one)
        keys = jax.random.split(key, self.batch_size)
        return jax.vmap(lambda k: self.model.init_state(self.input_shape, self.dtype, key=k))(keys)

    def __call__(self, x, state: eqx.nn.State):
        """One time step: `(y, state)`, equinox's stateful-layer convention."""
        inner = state.get(self.index)
        if self.batch_size is None:
            inner, y = self.model(inner, x)
        else:
            inner, y = jax.vmap(lambda s, x: self.model(s, x), axis_name="batch")(inner, x)
        return y, state.set(self.index, inner)

    def run(self, xs, state: eqx.nn.State, *, method=None, unroll: int = 1):
        """A whole sequence through [`spikax.run`][] (time on axis 0, then the batch if any): `(ys, state)`."""
        from ..loop import run

        inner, ys = run(self.model, state.get(self.index), xs, method=method, unroll=unroll,
                        batch_axis=None if self.batch_size is None else 1)
        return ys, state.set(self.index, inner)

    def reset(self, state: eqx.nn.State, *, key=None) -> eqx.nn.State:
        """`state` with this model's entry set back to its initial value (e.g. between sequences)."""
        return state.set(self.index, self.initial(key=key))
