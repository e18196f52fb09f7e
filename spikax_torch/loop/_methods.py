"""Gradient methods: how `spikax_torch.run` unrolls time (torch twins of spikax's)."""

from __future__ import annotations

import abc
import dataclasses
import math
from functools import partial

from torch.utils.checkpoint import checkpoint

from .._errors import check_steps
from .._pytree import tree_concatenate, tree_detach, tree_length, tree_map
from ..layers._base import python_scan


class AbstractGradientMethod(abc.ABC):
    """How [`spikax_torch.run`][] unrolls a model over time, and so how reverse mode sees it."""

    @abc.abstractmethod
    def run(self, model, state, xs, *, unroll: int = 1):
        """Run `model` over `xs` (time on axis 0) and return `(final_state, ys)`."""


@dataclasses.dataclass(frozen=True)
class BPTT(AbstractGradientMethod):
    """Plain backpropagation through time: one Python loop, all activations kept (memory ~T).

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0)])
    state, xs = net.init_state((3,)), torch.ones(100, 3)
    state, ys = spikax_torch.run(net, state, xs, method=spikax_torch.BPTT())
    ```
    """

    def run(self, model, state, xs, *, unroll: int = 1):
        return sequence(model, state, xs, python_scan)


@dataclasses.dataclass(frozen=True)
class CheckpointedBPTT(AbstractGradientMethod):
    """BPTT that keeps the state only every `every` steps and recomputes the rest (memory ~√T).

    Chunks of `every` steps (default ⌈√T⌉) run under `torch.utils.checkpoint` (non-reentrant),
    so the backward pass recomputes each chunk's activations. Gradients equal
    [`spikax_torch.BPTT`][]'s.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0)])
    state, xs = net.init_state((3,)), torch.ones(100, 3)
    state, ys = spikax_torch.run(net, state, xs, method=spikax_torch.CheckpointedBPTT())
    ```
    """

    every: int | None = None

    def __post_init__(self):
        check_steps("spikax_torch.CheckpointedBPTT", "every", self.every, allow_none=True)

    def run(self, model, state, xs, *, unroll: int = 1):
        every = self.every or max(1, math.ceil(math.sqrt(tree_length(xs))))
        scan = partial(_checkpointed_scan, every=every)
        scan.recomputes = True  # layers then skip their per-sequence parameter cache
        return sequence(model, state, xs, scan)


@dataclasses.dataclass(frozen=True)
class TruncatedBPTT(AbstractGradientMethod):
    """BPTT with gradients cut every `k` steps; the state itself is carried on unchanged.

    The state is detached after steps k, 2k, ... (except after the last step), as in
    [`spikax.TruncatedBPTT`][].

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0)])
    state, xs = net.init_state((3,)), torch.ones(100, 3)
    state, ys = spikax_torch.run(net, state, xs, method=spikax_torch.TruncatedBPTT(k=50))
    ```
    """

    k: int

    def __post_init__(self):
        check_steps("spikax_torch.TruncatedBPTT", "k", self.k)

    def run(self, model, state, xs, *, unroll: int = 1):
        return sequence(model, state, xs, partial(_truncated_scan, k=self.k))


def _truncated_scan(f, carry, xs, *, k):
    steps = tree_length(xs)
    count = 0

    def step(carry, x):
        nonlocal count
        carry, y = f(carry, x)
        count += 1
        if count % k == 0 and count < steps:
            carry = tree_detach(carry)
        return carry, y

    return python_scan(step, carry, xs)


def _checkpointed_scan(f, carry, xs, *, every):
    steps = tree_length(xs)
    pieces = []
    start = 0
    while start < steps:
        chunk = tree_map(lambda x: x[start:start + every], xs)
        if start + every <= steps:
            carry, ys = checkpoint(python_scan, f, carry, chunk, use_reentrant=False)
        else:
            carry, ys = python_scan(f, carry, chunk)
        pieces.append(ys)
        start += every
    return carry, pieces[0] if len(pieces) == 1 else tree_concatenate(pieces)


def sequence(model, state, xs, scan):
    """`model.sequence(state, xs, scan=scan)` when the model has one, else `scan(model, state, xs)`."""
    if hasattr(model, "sequence"):
        return model.sequence(state, xs, scan=scan)
    return scan(model, state, xs)
