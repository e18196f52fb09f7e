"""Checkpoints: a model (and optimiser state) saved with `eqx.tree_serialise_leaves`, plus JSON metadata."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re

import equinox as eqx

_MAGIC = b"spikax-checkpoint-v3\n"
# v2: the neurons' firing options were their own fields, not a `spiking` part (same leaves, in the
# same order, so the arrays load as they are); v1: metadata only, no structure. Both still readable.
_MAGIC_V2 = b"spikax-checkpoint-v2\n"
_MAGIC_V1 = b"spikax-checkpoint-v1\n"


def save_checkpoint(path: str | os.PathLike, tree, metadata: dict | None = None) -> pathlib.Path:
    """Save a pytree of arrays (a model, or `(model, opt_state)`) to one file.

    The file holds a short header, one JSON line with the `metadata` and a description of the
    tree's structure, then the leaves written by `eqx.tree_serialise_leaves`. The description
    lists every module's class, every static option (reset mode, refractory period, learnable
    set, ...), the surrogate and its settings, and every array's shape and dtype, so that
    [`spikax.training.load_checkpoint`][] can refuse a `like` model built with other options
    instead of silently running the saved weights with them. The file is written to a
    temporary name and renamed, so a crash never leaves half a checkpoint.

    **Arguments:**

    - `path`: file to write (parent folders are created).
    - `tree`: the pytree to save.
    - `metadata`: JSON-serialisable information (epoch, metrics, task name, ...).

    **Returns:**

    The path written.

    **Example:**

    ```python
    model = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(), key=key)])
    spikax.training.save_checkpoint("run/model.eqx", model, {"epoch": 3})
    model = spikax.training.load_checkpoint("run/model.eqx", like=model)
    ```
    """
    path = pathlib.Path(path)
    try:
        header = json.dumps({"metadata": metadata or {}, "structure": describe(tree)}).encode()
    except TypeError as error:
        raise TypeError(f"`spikax.training.save_checkpoint`: `metadata` must be JSON-serialisable (numbers, "
                        f"strings, lists, dicts): {error}. Convert arrays with `float(...)` or `.tolist()`.") from error
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(_MAGIC)
        f.write(header + b"\n")
        eqx.tree_serialise_leaves(f, tree)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, like):
    """Load a pytree saved by [`spikax.training.save_checkpoint`][] into the structure of `like`.

    **Arguments:**

    - `path`: the checkpoint file.
    - `like`: a pytree of the same structure, shapes and dtypes (e.g. a freshly built model of
      the same architecture, with the same options); its array values are replaced by the
      stored ones. A `like` that differs from the saved tree in a class, a static option
      (e.g. `reset`, `refractory`, the surrogate) or an array's shape or dtype is refused with
      a `ValueError` listing each difference.

    **Returns:**

    The loaded pytree. Read the metadata with [`spikax.training.checkpoint_metadata`][].

    **Example:**

    ```python
    make_model = lambda key: spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(), key=key)])
    spikax.training.save_checkpoint("run/model.eqx", make_model(jax.random.key(1)))
    model = spikax.training.load_checkpoint("run/model.eqx", like=make_model(key))
    ```
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`spikax.training.load_checkpoint`: no checkpoint at {path}.")
    with open(path, "rb") as f:
        header = _read_header(f, path)
        saved = header.get("structure")
        if saved is not None:
            here = describe(like)
            differences = _differences(saved, _in_version_2_layout(here, saved) if header["version"] == 2 else here)
            if differences:
                shown = "\n".join(f"  {line}" for line in differences[:20])
                more = f"\n  ... and {len(differences) - 20} more" if len(differences) > 20 else ""
                raise ValueError(f"`spikax.training.load_checkpoint`: {path} does not fit the structure of `like`, "
                                 f"which was built with other options:\n{shown}{more}\nBuild `like` exactly as the "
                                 "saved model was built (same layers, sizes, options and dtype).")
        try:
            return eqx.tree_deserialise_leaves(f, like)
        except Exception as error:  # equinox raises several types for a mismatching structure
            raise ValueError(f"`spikax.training.load_checkpoint`: {path} does not fit the structure of `like` "
                             f"({error}). Build `like` exactly as the saved model was built (same sizes, layers "
                             "and dtype).") from error


def checkpoint_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata stored in a checkpoint file (without loading the arrays).

    **Example:**

    ```python
    model = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(), key=key)])
    spikax.training.save_checkpoint("run/model.eqx", model, {"epoch": 3})
    spikax.training.checkpoint_metadata("run/model.eqx")["epoch"]  # 3
    ```
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`spikax.training.checkpoint_metadata`: no checkpoint at {path}.")
    with open(path, "rb") as f:
        return _read_header(f, path)["metadata"]


def _read_header(f, path) -> dict:
    """`{"metadata": ..., "structure": ... or None}` from the file's header."""
    magic = f.read(len(_MAGIC))
    if magic not in (_MAGIC, _MAGIC_V2, _MAGIC_V1):
        raise ValueError(f"`spikax.training.load_checkpoint`: {path} is not a spikax checkpoint (wrong header). "
                         "Write checkpoints with `spikax.training.save_checkpoint`.")
    try:
        header = json.loads(f.readline())
    except ValueError as error:
        raise ValueError(f"`spikax.training.load_checkpoint`: the header of {path} is damaged ({error}). The file "
                         "is corrupt; use another checkpoint.") from error
    if magic == _MAGIC_V1:
        return {"metadata": header, "structure": None, "version": 1}
    return {**header, "version": 2 if magic == _MAGIC_V2 else 3}


def _in_version_2_layout(here: dict, saved: dict) -> dict:
    """`describe(like)` as version 2 wrote it: a neuron's `spiking` part flattened into the neuron.

    Version 2 checkpoints were written when `reset`, `v_reset`, `detach_reset`, `refractory` and
    `surrogate` were fields of each neuron, declared last as the part is now, so the leaves are the
    same in the same order. Options the part adds that version 2 could not record (e.g. AdEx's
    `reset`, always "zero") are compared only where the checkpoint has them.
    """
    parts = [key for key, value in here.items() if value == "SpikeOptions" and key.endswith(".spiking")]

    def part_of(key):
        return next((p for p in parts if key == p or key.startswith(p + ".")), None)

    out = {key: value for key, value in here.items() if part_of(key) is None}
    for key, value in here.items():
        part = part_of(key)
        if part is None or key == part:
            continue
        old = part.removesuffix(".spiking") + key[len(part):]
        is_array = isinstance(value, str) and value.endswith("]")
        if old not in out and (is_array or old in saved):
            out[old] = value
    return out


def describe(tree) -> dict[str, object]:
    """`{path: description}` of everything in `tree` that `eqx.tree_serialise_leaves` does not store:
    module classes, static fields and other non-array leaves (as JSON values), and array shapes/dtypes."""
    out: dict[str, object] = {}
    _describe(tree, "", out)
    return out


def _describe(node, path: str, out: dict) -> None:
    if isinstance(node, eqx.Module):
        out[path or "<root>"] = type(node).__qualname__  # not the module: moving a class keeps checkpoints valid
        for field in dataclasses.fields(node):
            value = getattr(node, field.name, None)
            if field.metadata.get("static", False):
                out[f"{path}.{field.name}"] = _json_value(value)
            else:
                _describe(value, f"{path}.{field.name}", out)
    elif eqx.is_array(node):
        out[path] = f"{node.dtype}{list(node.shape)}"
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _describe(item, f"{path}[{i}]", out)
    elif isinstance(node, dict):
        for k in sorted(node, key=str):
            _describe(node[k], f"{path}[{k!r}]", out)
    else:
        out[path] = _json_value(node)


def _json_value(value):
    """A JSON-friendly, address-free description of a static value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (frozenset, set)):
        return sorted(_json_value(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _differences(saved: dict, here: dict) -> list[str]:
    lines = []
    for key in list(saved) + [k for k in here if k not in saved]:
        if key not in here:
            lines.append(f"{key}: saved {saved[key]!r}, absent in `like`")
        elif key not in saved:
            lines.append(f"{key}: {here[key]!r} in `like`, absent in the checkpoint")
        elif saved[key] != here[key]:
            lines.append(f"{key}: saved {saved[key]!r}, `like` has {here[key]!r}")
    return lines
