"""The "registered state" style (torch twin of `spikax.network.Stateful`)."""

from __future__ import annotations

import torch

from ..layers._layers import as_layer


class Stateful(torch.nn.Module):
    """Adapter to the registered-state style: the module keeps its own state, made from the first input.

    The explicit style, `state, y = net(state, x)`, is the primary one. This wrapper follows
    the ancestor's PyTorch convention instead: `y = model(x)` updates a state held in the module,
    created from the input's shape (and dtype) on the first call; `reset()` forgets it. spikax's
    `Stateful` keeps the state in an `equinox.nn.State` (`y, state = model(x, state)`); torch
    modules may hold mutable state, so here it is an attribute. Results are identical to the
    explicit style (the same functions underneath).

    **Arguments:**

    - `model`: a spikax_torch layer, `Chain` or `Graph`.
    - `input_shape`, `dtype`, `key`: optional; make the state now (`input_shape` includes batch
      axes) instead of on the first call.

    **Example:**

    ```python
    model = spikax_torch.network.Stateful(spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF())]))
    y = model(torch.ones(16, 3))          # one step; the state is made from this input
    ys = model.run(torch.ones(100, 16, 3))  # a sequence, continuing from the current state
    model.reset()
    ```
    """

    def __init__(self, model, input_shape=None, *, dtype=None, key=None):
        super().__init__()
        self.model = as_layer(model)
        self.state = None if input_shape is None else self.model.init_state(tuple(input_shape), dtype, key=key)

    def forward(self, x):
        """One time step: the output; the new state is kept."""
        self.state, y = self.model(self.state, x)
        return y

    def run(self, xs, *, method=None):
        """A whole sequence through [`spikax_torch.run`][] (time on axis 0): the outputs; the final state is kept."""
        from ..loop import run

        self.state, ys = run(self.model, self.state, xs, method=method)
        return ys

    def reset(self):
        """Forget the state (the next call makes a fresh one from its input)."""
        self.state = None
