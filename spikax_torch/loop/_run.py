"""`spikax_torch.run`: a model over time (axis 0), with a chosen gradient method."""

from __future__ import annotations

import torch

from .._pytree import tensor_leaves, tree_map, tree_structure
from ._methods import BPTT, AbstractGradientMethod

_COMPILED: dict = {}


def _run(method, model, state, xs):
    return method.run(model, state, xs)


def run(model, state, xs, *, method: AbstractGradientMethod | None = None, unroll: int = 1,
        batch_axis: int | None = None, compile: bool | dict = False):
    """Run a network over a sequence; returns `(final_state, ys)` with `ys` shaped `[time, ...]`.

    Signature-compatible with [`spikax.run`][]. Time is axis 0 of `xs`; batch axes are native
    (`xs` is `[time, batch, ...]`), so no vmap is needed. Stateless connections of feed-forward
    parts are applied to the whole sequence at once and only the stateful dynamics are looped,
    iterating with `unbind(0)` (indexing a grad-requiring tensor per step makes backward O(T^2)).

    **Arguments:**

    - `model`: a spikax_torch layer or `Chain` (or any `(state, x) -> (state, y)` callable).
    - `state`: from `model.init_state(xs.shape[1:])`, or `None` to make it from the inputs.
    - `xs`: inputs, time on axis 0.
    - `method`: [`spikax_torch.BPTT`][] (default), [`spikax_torch.CheckpointedBPTT`][] or
      [`spikax_torch.TruncatedBPTT`][].
    - `unroll`: accepted for compatibility with `spikax.run`; ignored (a Python loop).
    - `batch_axis`: where `xs` holds the batch, if not right after time. `xs` is moved to
      `[time, batch, ...]`; a one-sample state (from `init_state(sample_shape)`) is expanded to
      the batch; `ys` keeps the batch at `batch_axis`, the final state has it first.
    - `compile`: `True` (or a dict of `torch.compile` options, e.g. `{"mode": "max-autotune"}`)
      runs the whole loop through `torch.compile`. Compiling unrolls the loop and takes long
      (tens of seconds to minutes on CPU); worth it only for long reuse.

    **Returns:** `(final_state, ys)`.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0)])
    xs = torch.ones(100, 16, 3)  # [time, batch, features]
    state, ys = spikax_torch.run(net, None, xs)  # ys: (100, 16, 8)
    ys.sum().backward()
    ```
    """
    method = BPTT() if method is None else method
    if not isinstance(method, AbstractGradientMethod):
        raise TypeError(
            f"`spikax_torch.run`: `method` must be a gradient method, got {type(method).__name__}. "
            "Pass `spikax_torch.BPTT()`, `spikax_torch.CheckpointedBPTT()` or `spikax_torch.TruncatedBPTT(k)`."
        )
    if not isinstance(xs, torch.Tensor):
        raise TypeError(f"`spikax_torch.run`: `xs` must be a torch.Tensor shaped [time, ...], got {type(xs).__name__}.")
    if xs.ndim < (1 if batch_axis is None else 2):
        raise ValueError(
            f"`spikax_torch.run`: inputs need a time axis (axis 0){' and a batch axis' if batch_axis else ''}, got "
            f"shape {tuple(xs.shape)}. Give `xs` shaped [time, ...]; for a single step call the model directly."
        )
    if batch_axis is not None:
        if not 1 <= batch_axis < xs.ndim:
            raise ValueError(
                f"`spikax_torch.run`: `batch_axis` must be between 1 and {xs.ndim - 1} (time is axis 0), got {batch_axis}."
            )
        xs = xs.movedim(batch_axis, 1)
        if state is not None:
            state = _batched_state(model, state, xs)
    elif state is not None:
        _check_state(model, state, xs.shape[1:], xs.dtype)
    runner = _run if not compile else _compiled(compile)
    state, ys = runner(method, model, state, xs)
    if batch_axis is not None:
        ys = tree_map(lambda y: y.movedim(1, batch_axis), ys)
    return state, ys


def _compiled(options):
    options = {} if options is True else dict(options)
    key = tuple(sorted(options.items()))
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(_run, **options)
    return _COMPILED[key]


def _expected(model, step_shape, dtype):
    if not hasattr(model, "init_state"):
        return None
    return model.init_state(tuple(step_shape), dtype)


def _shapes(tree):
    return [tuple(leaf.shape) for leaf in tensor_leaves(tree)]


def _check_state(model, state, step_shape, dtype):
    expected = _expected(model, step_shape, dtype)
    if expected is None:
        return
    name = type(model).__name__
    if tree_structure(state) != tree_structure(expected):
        raise ValueError(
            f"`spikax_torch.run`: the state does not belong to this {name} (its structure differs from "
            f"`model.init_state({tuple(step_shape)})`). Make it from the same model: "
            "`state = model.init_state(xs.shape[1:])`, or pass `state=None`."
        )
    got, want = _shapes(state), _shapes(expected)
    if got != want:
        raise ValueError(
            f"`spikax_torch.run`: state shapes {got} do not match this {name} on inputs of shape "
            f"{tuple(step_shape)} per step (expected {want}). Make the state with `model.init_state(xs.shape[1:])` "
            "(batch axes included), or pass `state=None`."
        )


def _batched_state(model, state, xs):
    """A state for `xs` = [time, batch, ...]: as is if batched, expanded if it is for one sample."""
    batch = xs.shape[1]
    one = _expected(model, xs.shape[2:], xs.dtype)
    if one is not None and tree_structure(state) == tree_structure(one) and _shapes(state) == _shapes(one):
        return tree_map(lambda leaf: leaf.expand(batch, *leaf.shape), state)
    _check_state(model, state, xs.shape[1:], xs.dtype)
    return state


def check_time_axis(xs, targets, *, owner: str = "spikax_torch.loop.check_time_axis") -> None:
    """Raise a clear error unless inputs and per-step targets have the same number of time steps (axis 0).

    **Example:**

    ```python
    spikax_torch.loop.check_time_axis(torch.zeros(100, 16, 3), torch.zeros(100, 16))  # fine
    ```
    """
    def steps(tree, what):
        leaves = tensor_leaves(tree)
        if not leaves or any(leaf.ndim == 0 for leaf in leaves):
            raise ValueError(f"`{owner}`: {what} need a time axis (axis 0).")
        lengths = {leaf.shape[0] for leaf in leaves}
        if len(lengths) != 1:
            raise ValueError(f"`{owner}`: the tensors of {what} disagree on the number of time steps: {sorted(lengths)}.")
        return lengths.pop()

    t_in, t_target = steps(xs, "inputs"), steps(targets, "targets")
    if t_in != t_target:
        raise ValueError(
            f"`{owner}`: inputs have {t_in} time steps (axis 0) but targets have {t_target}. Time is axis 0 "
            "everywhere: put the batch after it (`[time, batch, ...]`, e.g. `x.transpose(0, 1)` for batch-first data)."
        )
