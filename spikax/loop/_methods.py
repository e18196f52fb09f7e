"""Gradient methods: how `spikax.run` unrolls time, chosen separately from the model."""

from __future__ import annotations

import abc
import math
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax


class AbstractGradientMethod(eqx.Module):
    """How [`spikax.run`][] unrolls a model over time, and so how reverse mode sees it."""

    @abc.abstractmethod
    def run(self, model, state, xs, *, unroll: int = 1):
        """Run `model` over `xs` (time on axis 0, one sample) and return `(final_state, ys)`."""

    def batch_chunk(self, steps: int, step_bytes: int) -> int | None:
        """Steps per chunk when [`spikax.run`][] runs a batch chunk by chunk, or None (the default): all at once.

        `step_bytes` is the size of one step of the batch (its input or its state, whichever is
        larger). A method that returns a chunk length (a divisor of `steps`) lets `run` scan the
        chunks, running the method on each for the whole batch; the state carries over, so the
        results are the same.
        """
        del steps, step_bytes
        return None


class BPTT(AbstractGradientMethod):
    """Plain backpropagation through time: one `lax.scan`, all activations kept (memory ~T).

    Feed-forward chains run layer by layer, so every stateless connection is applied to the
    whole sequence in one call and only the neuron dynamics are scanned. A batched run
    (`spikax.run(..., batch_axis=...)`) goes through time in chunks of about `chunk_bytes`:
    each chunk applies the stateless connections to all its steps and the whole batch at once,
    and the state carries over from chunk to chunk. The outputs are the same (gradients up to
    float rounding), and the large temporaries (connection outputs and their gradients) shrink
    from the whole sequence to one chunk, which a CPU serves from memory it already holds
    instead of fresh pages: 15-25 % less CPU time for a LIF layer at (T, B, n) = (500, 16, 512)
    and (100, 64, 1024) (see the performance guide).

    **Arguments:**

    - `chunk_bytes`: target size of one chunk of the batch (its inputs or states, whichever is
      larger), default 2 MiB. Sequences up to twice that size run whole; otherwise the chunk
      length is the largest divisor of the number of steps between half the target and the
      target (none: the whole sequence). None: always the whole sequence at once.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(), key=key)])
    state, xs = net.init_state((3,)), jnp.ones((100, 3))
    state, ys = spikax.run(net, state, xs, method=spikax.BPTT())
    ```
    """

    chunk_bytes: int | None = eqx.field(static=True, default=2**21)

    def __check_init__(self):
        _check_steps("spikax.BPTT", "chunk_bytes", self.chunk_bytes, allow_none=True)

    def run(self, model, state, xs, *, unroll: int = 1):
        return _sequence(model, state, xs, partial(lax.scan, unroll=unroll))

    def batch_chunk(self, steps: int, step_bytes: int) -> int | None:
        if self.chunk_bytes is None or steps * step_bytes <= 2 * self.chunk_bytes:
            return None
        target = max(1, self.chunk_bytes // max(1, step_bytes))
        return next((k for k in range(min(target, steps - 1), (target + 1) // 2 - 1, -1) if k >= 1 and steps % k == 0),
                    None)


class CheckpointedBPTT(AbstractGradientMethod):
    """BPTT that stores the state only every `every` steps and recomputes the rest (memory ~√T).

    Time is cut into chunks of `every` steps (default: ⌈√T⌉); the outer scan keeps one state per
    chunk, and each chunk runs the model's `sequence` (stateless parts on the whole chunk at
    once, as in [`spikax.BPTT`][]), rematerialised (`jax.checkpoint`) in the backward pass.
    Gradients equal [`spikax.BPTT`][]'s exactly; the cost is one extra forward pass.

    **Arguments:**

    - `every`: chunk length in steps, or None for ⌈√T⌉.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(), key=key)])
    state, xs = net.init_state((3,)), jnp.ones((100, 3))
    state, ys = spikax.run(net, state, xs, method=spikax.CheckpointedBPTT())
    ```
    """

    every: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        _check_steps("spikax.CheckpointedBPTT", "every", self.every, allow_none=True)

    def run(self, model, state, xs, *, unroll: int = 1):
        # Each chunk runs the model's own `sequence` (stateless parts on the whole chunk at once), rematerialised
        # in the backward pass; only the state between chunks is stored.
        every = self.every or max(1, math.ceil(math.sqrt(_length(xs))))
        chunk = lambda carry, chunk_xs: _sequence(model, carry, chunk_xs, partial(lax.scan, unroll=unroll))  # noqa: E731
        return _chunked(jax.checkpoint(chunk), chunk, state, xs, every)


class TruncatedBPTT(AbstractGradientMethod):
    """BPTT with gradients cut every `k` steps; the state itself is carried on unchanged.

    Within a chunk of `k` steps gradients flow through time as in BPTT; across a chunk
    boundary the state is `lax.stop_gradient`-ed. With `k >= T` it equals [`spikax.BPTT`][].

    **Arguments:**

    - `k`: truncation length in steps.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(), key=key)])
    state, xs = net.init_state((3,)), jnp.ones((100, 3))
    state, ys = spikax.run(net, state, xs, method=spikax.TruncatedBPTT(k=50))
    ```
    """

    k: int = eqx.field(static=True)

    def __check_init__(self):
        _check_steps("spikax.TruncatedBPTT", "k", self.k)

    def run(self, model, state, xs, *, unroll: int = 1):
        return _sequence(model, state, xs, partial(_truncated_scan, k=self.k, unroll=unroll))


def _truncated_scan(f, carry, xs, *, k, unroll):
    """`lax.scan` with `stop_gradient` on the carry at every k-step boundary."""

    def chunk(carry, chunk_xs):
        carry, ys = lax.scan(f, carry, chunk_xs, unroll=unroll)
        return lax.stop_gradient(carry), ys

    steps = _length(xs)
    if steps <= k:
        return lax.scan(f, carry, xs, unroll=unroll)
    # Whole chunks end with a cut; the last piece (full or partial) keeps its gradient.
    n_cut = (steps - 1) // k
    head = jax.tree_util.tree_map(lambda x: x[: n_cut * k].reshape((n_cut, k) + x.shape[1:]), xs)
    tail = jax.tree_util.tree_map(lambda x: x[n_cut * k :], xs)
    carry, head_ys = lax.scan(chunk, carry, head)
    carry, tail_ys = lax.scan(f, carry, tail, unroll=unroll)
    head_ys = jax.tree_util.tree_map(lambda y: y.reshape((n_cut * k,) + y.shape[2:]), head_ys)
    return carry, jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), head_ys, tail_ys)


def _chunked(chunk_fn, rest_fn, carry, xs, every):
    """Apply `chunk_fn` over whole chunks of `every` steps with an outer scan, then `rest_fn`."""
    steps = _length(xs)
    n = steps // every
    if n == 0:
        return rest_fn(carry, xs)
    head = jax.tree_util.tree_map(lambda x: x[: n * every].reshape((n, every) + x.shape[1:]), xs)
    carry, ys = lax.scan(chunk_fn, carry, head)
    ys = jax.tree_util.tree_map(lambda y: y.reshape((n * every,) + y.shape[2:]), ys)
    if n * every == steps:
        return carry, ys
    tail = jax.tree_util.tree_map(lambda x: x[n * every :], xs)
    carry, tail_ys = rest_fn(carry, tail)
    return carry, jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, tail_ys)


def _sequence(model, state, xs, scan):
    if hasattr(model, "sequence"):
        return model.sequence(state, xs, scan=scan)
    return scan(_step(model), state, xs)


def _step(model):
    return lambda state, x: model(state, x)


def _length(xs) -> int:
    return jax.tree_util.tree_leaves(xs)[0].shape[0]


def _check_steps(owner: str, name: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{owner}`: `{name}` must be a whole number of steps >= 1, got {value!r}.")
