"""Sequential networks (torch twin of `spikax.Chain`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..layers import AbstractLayer
from ..layers._base import Scan, python_scan
from ..layers._layers import as_layer


class Chain(AbstractLayer):
    """Layers applied one after another; the state is a tuple with one entry per layer.

    The torch twin of [`spikax.Chain`][]. Blocks may be layers, neurons (identity connection) or
    stateless callables. Over a sequence each layer runs on the whole sequence before the next
    (exact for feed-forward chains), so stateless parts become one large op over all steps.
    `state=None` makes every layer's state from the input's shape on first call.

    **Arguments:**

    - `layers`: the blocks, in order.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(10, 32, spikax_torch.neurons.LIF()),
                              spikax_torch.layers.dense(32, 2, spikax_torch.neurons.LI())])
    xs = torch.ones(100, 8, 10)  # [time, batch, features]
    state, ys = spikax_torch.run(net, net.init_state(xs.shape[1:]), xs)
    ```
    """

    def __init__(self, layers: Sequence):
        super().__init__()
        if isinstance(layers, torch.nn.Module) or not isinstance(layers, (list, tuple)):
            raise TypeError(
                f"`spikax_torch.Chain`: expected a list of layers, got {type(layers).__name__}. "
                "Wrap a single layer in a list: `spikax_torch.Chain([layer])`."
            )
        if not layers:
            raise ValueError("`spikax_torch.Chain`: got an empty list of layers, expected at least one. Pass the "
                             "layers in order, e.g. `spikax_torch.Chain([spikax_torch.layers.dense(10, 32, "
                             "spikax_torch.neurons.LIF(), key=0)])`.")
        self.layers = torch.nn.ModuleList([as_layer(layer) for layer in layers])

    def init_state(self, input_shape, dtype=None, *, key=None):
        """One state per layer, each from its own input shape (inferred from `input_shape`)."""
        states = []
        shape = tuple(input_shape)
        for layer in self.layers:
            states.append(layer.init_state(shape, dtype, key=key))
            shape = layer.output_shape(shape, dtype)
        return tuple(states)

    def output_shape(self, input_shape, dtype=None):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape, dtype)
        return shape

    def _states(self, state):
        if state is None:
            return (None,) * len(self.layers)
        if not isinstance(state, tuple) or len(state) != len(self.layers):
            raise ValueError(
                f"`spikax_torch.Chain`: expected a state with one entry per layer ({len(self.layers)}), got "
                f"{type(state).__name__}{' of length ' + str(len(state)) if isinstance(state, tuple) else ''}. "
                "Make it with `net.init_state(input_shape)` from this network, or pass None."
            )
        return state

    def forward(self, state, x):
        new_states = []
        for layer, layer_state in zip(self.layers, self._states(state), strict=True):
            layer_state, x = layer(layer_state, x)
            new_states.append(layer_state)
        return tuple(new_states), x

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        new_states = []
        for layer, layer_state in zip(self.layers, self._states(state), strict=True):
            layer_state, xs = layer.sequence(layer_state, xs, scan=scan)
            new_states.append(layer_state)
        return tuple(new_states), xs

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]
