"""`spikax.run`: a model over time (axis 0), with a chosen gradient method."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..layers._base import state_shapes
from ._methods import BPTT, AbstractGradientMethod

BATCH_AXIS_NAME = "batch"  # the `jax.vmap` axis name `run` binds for the batch (used by batch statistics)


def run(model, state, xs, *, method: AbstractGradientMethod | None = None, unroll: int = 1,
        batch_axis: int | None = None):
    """Run a network over a sequence; returns `(final_state, ys)` with `ys` shaped `[time, ...]`.

    `model` is any spikax layer, `Chain` or `Graph` (or any pure `(state, x) -> (state, y)`
    module). Time is axis 0 of `xs`. Stateless connections of feed-forward parts are applied to
    the whole sequence at once and only stateful dynamics are scanned, which equals the
    step-by-step loop.

    A batched run with [`spikax.BPTT`][] goes through long sequences in chunks of the batch
    (`chunk_bytes`), with the same results. On CPU with glibc, also start Python with
    `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`: a compiled step allocates its temporaries afresh on
    every call, and with the default allocator each call page-faults on every 4 KiB of them
    (see the performance guide).

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
      batched call is then `jax.vmap` of the one-sample run (with axis name `"batch"`, which
      batch statistics such as [`spikax.layers.BNTT`][] use): stateless connections still
      become one matmul over time x batch. Equivalent one-liner without the argument:
      `jax.vmap(lambda x: spikax.run(net, state, x), in_axes=1, out_axes=(0, 1))(xs)`.

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
        _check_state(model, state, xs.shape[1:], xs.dtype, batched=False, full_shape=xs.shape)
        return one(state, xs)
    sample_shape = xs.shape[1:batch_axis] + xs.shape[batch_axis + 1 :]
    batch = xs.shape[batch_axis]
    batched = _check_state(model, state, sample_shape, xs.dtype, batched=True, batch=batch)
    chunk = method.batch_chunk(xs.shape[0], batch * _step_bytes(state, batched, xs, batch_axis))
    if chunk is None:
        vmapped = jax.vmap(one, in_axes=(0 if batched else None, batch_axis), out_axes=(0, batch_axis),
                           axis_name=BATCH_AXIS_NAME)
        return vmapped(state, xs)
    return _in_chunks(one, state if batched else _broadcast(state, batch), xs, chunk, batch_axis)


def _in_chunks(one, state, xs, chunk: int, batch_axis: int):
    """The batched run, chunk by chunk: an outer `lax.scan` over chunks of `chunk` steps, each the batched run.

    Cutting time outside the batch `vmap` keeps every chunk laid out as [time, batch, ...] (cutting it inside
    would move the batch axis first and copy); the chunk-sized temporaries avoid fresh memory on every call.
    """
    vmapped = jax.vmap(one, in_axes=(0, batch_axis), out_axes=(0, batch_axis), axis_name=BATCH_AXIS_NAME)
    n = xs.shape[0] // chunk
    state, ys = jax.lax.scan(vmapped, state, xs.reshape((n, chunk) + xs.shape[1:]))
    return state, jax.tree_util.tree_map(lambda y: y.reshape((n * chunk,) + y.shape[2:]), ys)


def _step_bytes(state, batched: bool, xs, batch_axis: int) -> int:
    """Bytes of one example at one step: its input or its state, whichever is larger."""
    leaves = jax.tree_util.tree_leaves(state)
    state_bytes = sum(int(jnp.size(a)) * jnp.dtype(jnp.result_type(a)).itemsize for a in leaves)
    if batched:
        state_bytes //= max(1, xs.shape[batch_axis])
    return max(state_bytes, (int(xs.size) // max(1, xs.shape[0] * xs.shape[batch_axis])) * xs.dtype.itemsize)


def _broadcast(state, batch: int):
    """One sample's state, repeated for every example of the batch."""
    return jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (batch,) + jnp.shape(a)), state)


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


def _expected_state(model, sample_shape, dtype, *, owner: str, full_shape=None):
    """The model's initial state shapes for one step's input `sample_shape`; a clear error when the time axis is missing."""
    def make(shape):
        try:
            return state_shapes(model, shape, dtype)
        except TypeError:  # an init_state without `key=`
            return jax.eval_shape(lambda: model.init_state(tuple(shape), dtype))

    try:
        return make(sample_shape)
    except ValueError as error:
        if full_shape is not None:
            try:
                make(full_shape)
            except (TypeError, ValueError):
                raise error from None
            raise ValueError(
                f"`{owner}`: the inputs have no time axis: shape {tuple(full_shape)} is what one step of this "
                f"{type(model).__name__} takes. Time is axis 0: give `xs` shaped [time, {', '.join(map(str, full_shape))}] "
                "(e.g. `xs[None]` for one step), or call the model directly for a single step."
            ) from None
        raise


def _check_state(model, state, sample_shape, dtype, *, batched: bool, batch: int | None = None,
                 owner: str = "spikax.run", full_shape=None) -> bool:
    """Compare `state` with the model's own initial state; return whether it carries a batch axis."""
    name = type(model).__name__
    if not hasattr(model, "init_state"):
        return False  # a bare callable without init_state: nothing to compare against
    expected = _expected_state(model, sample_shape, dtype, owner=owner, full_shape=full_shape)
    got_tree, want_tree = jax.tree_util.tree_structure(state), jax.tree_util.tree_structure(expected)
    if got_tree != want_tree:
        raise ValueError(
            f"`{owner}`: the state does not belong to this {name} (its structure differs from "
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
        f"`{owner}`: state shapes {got} do not match this {name} on inputs of shape {tuple(sample_shape)} "
        f"per step (expected {want}{' or with a leading batch axis of ' + str(batch) if batched else ''}). "
        "Make the state with `model.init_state(sample_shape)` for the inputs you pass."
    )


def check_time_axis(xs, targets, *, owner: str = "spikax.loop.check_time_axis") -> None:
    """Raise a clear error unless inputs and per-step targets have the same number of time steps (axis 0).

    Losses and training loops call it before comparing a network's outputs with targets.

    **Arguments:**

    - `xs`: inputs (or outputs), time on axis 0; any pytree whose leaves share axis 0.
    - `targets`: per-step targets, time on axis 0.
    - `owner`: the public name reported in the message.

    **Example:**

    ```python
    spikax.loop.check_time_axis(jnp.zeros((100, 16, 3)), jnp.zeros((100, 16)))  # fine
    ```
    """
    def steps(tree, what):
        leaves = jax.tree_util.tree_leaves(tree)
        if not leaves or any(jnp.ndim(leaf) == 0 for leaf in leaves):
            raise ValueError(f"`{owner}`: {what} need a time axis (axis 0), got {jax.tree_util.tree_map(jnp.shape, tree)}.")
        lengths = {jnp.shape(leaf)[0] for leaf in leaves}
        if len(lengths) != 1:
            raise ValueError(f"`{owner}`: the leaves of {what} disagree on the number of time steps: {sorted(lengths)}.")
        return lengths.pop()

    t_in, t_target = steps(xs, "inputs"), steps(targets, "targets")
    if t_in != t_target:
        raise ValueError(
            f"`{owner}`: inputs have {t_in} time steps (axis 0) but targets have {t_target}. Time is axis 0 "
            "everywhere: put the batch after it (`[time, batch, ...]`, e.g. `jnp.swapaxes(x, 0, 1)` for batch-first "
            "data), or give one target per sequence to a loss that reduces over time."
        )
