"""Pytree helpers on top of `torch.utils._pytree`.

States are tuples and NamedTuples of tensors, which `torch.utils._pytree` (and so `torch.func`,
`torch.compile` and `torch.utils.checkpoint`) understands. One difference from JAX: an optional
state field that is switched off holds `None` (e.g. `LIFState.refractory` without a refractory
period), and `torch.utils._pytree` treats `None` as a *leaf*, which `torch.func.jvp`/`vmap`/`grad`
reject as a primal. The helpers here treat `None` as an empty subtree, as JAX does; to hand a
state to a `torch.func` transform use [`split_tensors`][spikax_torch._pytree.split_tensors].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils import _pytree as pytree

tree_flatten = pytree.tree_flatten
tree_unflatten = pytree.tree_unflatten
tree_leaves = pytree.tree_leaves
tree_structure = pytree.tree_structure


def tree_map(fn: Callable, tree: Any, *rest: Any) -> Any:
    """Apply `fn` leaf-wise to one or more trees of the same structure (`None` is an empty subtree)."""
    return pytree.tree_map(lambda x, *xs: None if x is None else fn(x, *xs), tree, *rest)


def tensor_leaves(tree: Any) -> list[torch.Tensor]:
    """The tensors of `tree`, in order (`None` entries skipped)."""
    return [leaf for leaf in tree_leaves(tree) if leaf is not None]


def split_tensors(tree: Any) -> tuple[tuple[torch.Tensor, ...], Callable[[Any], Any]]:
    """The tensors of `tree` as a flat tuple, and a function that puts (new) tensors back.

    Use it to pass a state that may hold `None` through `torch.func` transforms:

    ```python
    tensors, rebuild = split_tensors(state)
    out, tangent = torch.func.jvp(lambda *t: step(rebuild(t), x), tensors, tangents)
    ```
    """
    leaves, spec = tree_flatten(tree)
    where = [i for i, leaf in enumerate(leaves) if leaf is not None]

    def rebuild(tensors):
        new = list(leaves)
        for i, t in zip(where, tensors, strict=True):
            new[i] = t
        return tree_unflatten(new, spec)

    return tuple(leaves[i] for i in where), rebuild


def tree_detach(tree: Any) -> Any:
    """Every tensor in `tree` detached from the autograd graph (the torch twin of `lax.stop_gradient`)."""
    return tree_map(lambda x: x.detach() if isinstance(x, torch.Tensor) else x, tree)


def tree_unbind(tree: Any) -> list[Any]:
    """Split a tree of `[T, ...]` tensors into a list of T trees (one per step); uses `unbind(0)`."""
    leaves, spec = tree_flatten(tree)
    if not tensor_leaves(tree):
        raise ValueError("`spikax_torch`: cannot iterate over time: the inputs hold no tensor.")
    steps = tree_length(tree)
    pieces = [[None] * steps if leaf is None else leaf.unbind(0) for leaf in leaves]
    return [tree_unflatten(list(step), spec) for step in zip(*pieces, strict=True)]


def tree_stack(trees: list[Any]) -> Any:
    """Stack a list of trees of the same structure along a new axis 0."""
    flat = [tree_flatten(t) for t in trees]
    spec = flat[0][1]
    columns = zip(*(leaves for leaves, _ in flat), strict=True)
    return tree_unflatten([None if col[0] is None else torch.stack(list(col)) for col in columns], spec)


def tree_concatenate(trees: list[Any]) -> Any:
    """Concatenate a list of trees of `[t_k, ...]` tensors along axis 0."""
    flat = [tree_flatten(t) for t in trees]
    spec = flat[0][1]
    columns = zip(*(leaves for leaves, _ in flat), strict=True)
    return tree_unflatten([None if col[0] is None else torch.cat(list(col)) for col in columns], spec)


def tree_length(tree: Any) -> int:
    """The size of axis 0 of the first tensor in `tree` (the number of time steps)."""
    return tensor_leaves(tree)[0].shape[0]
