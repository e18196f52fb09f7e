"""Sequential networks."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import jax
from jax import lax

from ..layers import AbstractLayer
from ..layers._base import Scan
from ..layers._layers import as_layer


class Chain(AbstractLayer):
    """Layers applied one after another; the state is a tuple with one entry per layer.

    Blocks may be spikax layers, neurons (used with the identity connection) or any stateless
    one-sample callable (e.g. `eqx.nn.MaxPool2d`, `spikax.layers.Flatten`). Over a sequence each
    layer runs on the whole sequence before the next (exact for feed-forward chains), so
    stateless parts become one large matmul or convolution over all time steps.

    **Arguments:**

    - `layers`: the blocks, in order.

    **Example:**

    ```python
    k1, k2 = jax.random.split(jax.random.key(0))
    net = spikax.Chain([spikax.layers.dense(10, 32, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(32, 2, spikax.neurons.LI(), key=k2)])
    state = net.init_state((10,))
    state, ys = spikax.run(net, state, jnp.ones((100, 10)))
    ```
    """

    layers: tuple[AbstractLayer, ...]

    def __init__(self, layers: Sequence):
        if isinstance(layers, AbstractLayer) or not isinstance(layers, (list, tuple)):
            raise TypeError(
                f"`spikax.Chain`: expected a list of layers, got {type(layers).__name__}. "
                "Wrap a single layer in a list: `spikax.Chain([layer])`."
            )
        if not layers:
            raise ValueError("`spikax.Chain`: got an empty list of layers, expected at least one. Pass the layers "
                             "in order, e.g. `spikax.Chain([spikax.layers.dense(10, 32, spikax.neurons.LIF(), "
                             "key=key)])`.")
        self.layers = tuple(as_layer(layer) for layer in layers)

    def init_state(self, input_shape, dtype=None, *, key=None):
        """One state per layer, each from its own input shape (inferred from `input_shape`).

        `key` is split among the layers (only layers such as `Dropout` use it).
        """
        keys = [None] * len(self.layers) if key is None else list(jax.random.split(key, len(self.layers)))
        states = []
        shape = tuple(input_shape)
        for index, (layer, layer_key) in enumerate(zip(self.layers, keys, strict=True)):
            with _name_the_layer(self, index, shape):
                state = layer.init_state(shape, dtype, key=layer_key)
                states.append(state)
                shape = layer.output_shape(shape, dtype)
        return tuple(states)

    def output_shape(self, input_shape, dtype=None):
        shape = tuple(input_shape)
        for index, layer in enumerate(self.layers):
            with _name_the_layer(self, index, shape):
                shape = layer.output_shape(shape, dtype)
        return shape

    def _check_state(self, state) -> None:
        if not isinstance(state, tuple) or len(state) != len(self.layers):
            raise ValueError(
                f"`spikax.Chain`: expected a state with one entry per layer ({len(self.layers)}), got "
                f"{type(state).__name__}{' of length ' + str(len(state)) if isinstance(state, tuple) else ''}. "
                "Make it with `net.init_state(input_shape)` from this network."
            )

    def step(self, state, x):
        """One step through every layer: `(new_state, y, signals)`, `signals` a tuple with one
        [`spikax.layers.LayerSignals`][] per layer (see [`spikax.layers.AbstractLayer.step`][])."""
        self._check_state(state)
        new_states, signals = [], []
        for layer, layer_state in zip(self.layers, state, strict=True):
            layer_state, x, layer_signals = layer.step(layer_state, x)
            new_states.append(layer_state)
            signals.append(layer_signals)
        return tuple(new_states), x, tuple(signals)

    def sequence(self, state, xs, *, scan: Scan = lax.scan):
        self._check_state(state)
        new_states = []
        for layer, layer_state in zip(self.layers, state, strict=True):
            layer_state, xs = layer.sequence(layer_state, xs, scan=scan)
            new_states.append(layer_state)
        return tuple(new_states), xs

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]


@contextlib.contextmanager
def _name_the_layer(chain: Chain, index: int, shape):
    """Turn a layer's shape error (past the first layer) into one that names the layer and both sizes."""
    try:
        yield
    except ValueError as error:
        if index == 0:
            raise
        layer = chain.layers[index]
        connection = getattr(layer, "connection", getattr(layer, "fn", None))
        wants = getattr(connection, "in_features", None)
        expected = f" expects inputs of size {wants} but" if isinstance(wants, int) else ""
        raise ValueError(
            f"`spikax.Chain`: layer {index} ({type(layer).__name__}){expected} receives the output of layer "
            f"{index - 1}, of shape {tuple(shape)}. Make the sizes agree (layer {index - 1}'s output size is layer "
            f"{index}'s input size). Details: {error}"
        ) from None
