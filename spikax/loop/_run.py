"""`spikax.run`: a model over time (axis 0), with a chosen gradient method."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._methods import BPTT, AbstractGradientMethod


def run(model, state, xs, *, method: AbstractGradientMethod | None = None, unroll: int = 1,
        batch_axis: int | None = None):
    """Run a network over a sequence; returns `(final_state, ys)` with `ys` shaped `[time, ...]`.

    `model` is any spikax layer, `Chain` or `Graph` (or any pure `(state, x) -> (state, y)`
    module). Time is axis 0 of `xs`. Stateless connections of feed-forward parts are applied to
    the whole sequence at once and only stateful dynamics are scanned, which equals the
    step-by-step loop.

    **Arguments:**

    - `model`: the network.
    - `state`: its state, from `model.init_state(xs.shape[1:])` (one sample). With
      `batch_axis`, either that one state (shared by every example) or a batched one.
    - `xs`: inputs, time on axis 0.
    - `method`: gradient method, [`spikax.BPTT`][] (default), [`spikax.CheckpointedBPTT`][] or
      [`spikax.TruncatedBPTT`][].
    - `unroll`: `lax.scan`'s unroll factor. More unrolling can help on accelerators but was
      1.3–1.6x *slower* on our 2-core CPUs; measure before raising it.
    - `batch_axis`: the axis of `xs` holding the batch (e.g. 1 for `[time, batch, ...]`). The
      batched call is then `jax.vmap` of the one-sample run: stateless connections still
      become one matmul over time x batch.

    **Returns:** `(final_state, ys)`; with `batch_axis`, the final state has a leading batch
    axis and `ys` keeps the batch at `batch_axis`.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(), key=jax.random.key(0))])
    xs = jnp.ones((100, 16, 3))  # [time, batch, features]
    state, ys = spikax.run(net, net.init_state((3,)), xs, batch_axis=1)  # ys: (100, 16, 8)
    loss = lambda net: spikax.run(net, net.init_state((3,)), xs, batch_axis=1)[1].mean()
    grads = eqx.filter_grad(loss)(net)
    ```
    """
    method = BPTT() if method is None else method
    if not isinstance(method, AbstractGradientMethod):
        raise TypeError(
            f"`spikax.run`: `method` must be a gradient method, got {type(method).__name__}. "
            "Pass `spikax.BPTT()`, `spikax.CheckpointedBPTT()` or `spikax.TruncatedBPTT(k)`; online learners "
            "run through `spikax.online.run`."
        )
    xs = _check_inputs(xs, batch_axis)
    one = lambda s, x: method.run(model, s, x, unroll=unroll)  # noqa: E731
    if batch_axis is None:
        _check_state(model, state, xs.shape[1:], xs.dtype, batched=False)
        return one(state, xs)
    sample_shape = xs.shape[1:batch_axis] + xs.shape[batch_axis + 1 :]
    batched = _check_state(model, state, sample_shape, xs.dtype, batched=True, batch=xs.shape[batch_axis])
    vmapped = jax.vmap(one, in_axes=(0 if batched else None, batch_axis), out_axes=(0, batch_axis))
    return vmapped(state, xs)


def _check_inputs(xs, batch_axis):
    xs = jnp.asarray(xs)
    needed = 1 if batch_axis is None else 2
    if xs.ndim < needed:
        raise ValueError(
            f"`spikax.run`: inputs need a time axis (axis 0){' and a batch axis' if batch_axis else ''}, got "
            f"shape {xs.shape}. Give `xs` shaped [time, ...]; for a single step call the model directly."
        )
    if batch_axis is not None and not (1 <= batch_axis < xs.ndim):
        raise ValueError(
            f"`spikax.run`: `batch_axis` must be between 1 and {xs.ndim - 1} (time is axis 0), got {batch_axis}."
        )
    return xs


def _check_state(model, state, sample_shape, dtype, *, batched: bool, batch: int | None = None) -> bool:
    """Compare `state` with the model's own initial state; return whether it carries a batch axis."""
    name = type(model).__name__
    try:
        expected = jax.eval_shape(lambda: model.init_state(tuple(sample_shape), dtype))
    except AttributeError:
        return False  # a bare callable without init_state: nothing to compare against
    got_tree, want_tree = jax.tree_util.tree_structure(state), jax.tree_util.tree_structure(expected)
    if got_tree != want_tree:
        raise ValueError(
            f"`spikax.run`: the state does not belong to this {name} (its structure differs from "
            f"`model.init_state({tuple(sample_shape)})`). Make the state from the same model: "
            "`state = model.init_state(xs.shape[1:])`."
        )
    got = [jnp.shape(leaf) for leaf in jax.tree_util.tree_leaves(state)]
    want = [leaf.shape for leaf in jax.tree_util.tree_leaves(expected)]
    if got == want:
        return False
    if batched and all(g == (batch,) + w for g, w in zip(got, want)):
        return True
    raise ValueError(
        f"`spikax.run`: state shapes {got} do not match this {name} on inputs of shape {tuple(sample_shape)} "
        f"per step (expected {want}{' or with a leading batch axis of ' + str(batch) if batched else ''}). "
        "Make the state with `model.init_state(sample_shape)` for the inputs you pass."
    )
