"""Checkpoints: a model (and optimiser state) saved with `eqx.tree_serialise_leaves`, plus JSON metadata."""

from __future__ import annotations

import json
import os
import pathlib

import equinox as eqx

_MAGIC = b"spikax-checkpoint-v1\n"


def save_checkpoint(path: str | os.PathLike, tree, metadata: dict | None = None) -> pathlib.Path:
    """Save a pytree of arrays (a model, or `(model, opt_state)`) to one file.

    The file holds a short header, the JSON `metadata` on one line, then the leaves written by
    `eqx.tree_serialise_leaves`. Only array leaves are stored: the structure (layer sizes,
    neuron types, static fields) comes from the `like` tree given to
    [`spikax.training.load_checkpoint`][], so build the same model to load into. The file is
    written to a temporary name and renamed, so a crash never leaves half a checkpoint.

    **Arguments:**

    - `path`: file to write (parent folders are created).
    - `tree`: the pytree to save.
    - `metadata`: JSON-serialisable information (epoch, metrics, task name, ...).

    **Returns:**

    The path written.

    **Example:**

    ```python
    spikax.training.save_checkpoint("run/model.eqx", model, {"epoch": 3})
    model = spikax.training.load_checkpoint("run/model.eqx", like=model)
    ```
    """
    path = pathlib.Path(path)
    try:
        header = json.dumps(metadata or {}).encode()
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
      the same architecture); its array values are replaced by the stored ones.

    **Returns:**

    The loaded pytree. Read the metadata with [`spikax.training.checkpoint_metadata`][].

    **Example:**

    ```python
    model = spikax.training.load_checkpoint("run/model.eqx", like=make_model(key))
    ```
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`spikax.training.load_checkpoint`: no checkpoint at {path}.")
    with open(path, "rb") as f:
        _read_header(f, path)
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
    spikax.training.checkpoint_metadata("run/model.eqx")["epoch"]
    ```
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`spikax.training.checkpoint_metadata`: no checkpoint at {path}.")
    with open(path, "rb") as f:
        return _read_header(f, path)


def _read_header(f, path) -> dict:
    if f.read(len(_MAGIC)) != _MAGIC:
        raise ValueError(f"`spikax.training.load_checkpoint`: {path} is not a spikax checkpoint (wrong header). "
                         "Write checkpoints with `spikax.training.save_checkpoint`.")
    return json.loads(f.readline())
