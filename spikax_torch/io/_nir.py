"""NIR for spikax_torch: one mapping (spikax.io), reached through the exact model copy of `convert`."""

from __future__ import annotations

from ..convert import from_spikax, to_spikax


def _io():
    try:
        import spikax.io
    except ImportError as error:  # pragma: no cover - spikax_torch.convert needs spikax anyway
        raise ImportError("`spikax_torch.io`: NIR export and import need `spikax` (JAX) and `nir` installed.") from error
    return spikax.io


def to_nir(model, *, dt: float, input_shape=None, reset_policy: str = "warn"):
    """Write a spikax_torch model as a NIR graph: `spikax.io.to_nir` on its exact JAX twin.

    `input_shape` is one sample's shape, without a batch axis. Same mapping, metadata, warnings
    and refusals as `spikax.io.to_nir`.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 4, spikax_torch.neurons.LIF(reset="zero"), key=0)])
    graph = spikax_torch.io.to_nir(net, dt=1e-4)
    sorted(graph.nodes)  # ['0.connection', '0.neuron', 'input', 'output']
    ```
    """
    return _io().to_nir(to_spikax(model), dt=dt, input_shape=input_shape, reset_policy=reset_policy)


def save_nir(path, model, *, dt: float, input_shape=None, reset_policy: str = "warn"):
    """Export with [`spikax_torch.io.to_nir`][] and write the NIR file `path`; returns the graph.

    **Example:**

    ```python
    import tempfile, os
    net = spikax_torch.layers.dense(2, 3, spikax_torch.neurons.LIF(reset="zero"), key=0)
    spikax_torch.io.save_nir(os.path.join(tempfile.mkdtemp(), "net.nir"), net, dt=1e-4)
    ```
    """
    return _io().save_nir(path, to_spikax(model), dt=dt, input_shape=input_shape, reset_policy=reset_policy)


def from_nir(graph_or_path, *, dt: float | None = None, dtype=None):
    """Read a NIR graph (or file) into a spikax_torch model: `spikax.io.from_nir`, then the exact torch twin.

    `dtype` is a NumPy/JAX dtype name such as `"float32"` (default: JAX's default float).
    Batch axes are native on the torch side, as everywhere in spikax_torch.

    **Example:**

    ```python
    net = spikax_torch.layers.dense(3, 4, spikax_torch.neurons.LIF(reset="zero"), key=0)
    twin = spikax_torch.io.from_nir(spikax_torch.io.to_nir(net, dt=1e-4))
    state, s = spikax_torch.run(twin, None, torch.ones(10, 2, 3, dtype=next(twin.parameters()).dtype))
    ```
    """
    return from_spikax(_io().from_nir(graph_or_path, dt=dt, dtype=dtype))


def load_nir(path, *, dt: float | None = None, dtype=None):
    """Read a NIR file into a spikax_torch model ([`spikax_torch.io.from_nir`][] on a path).

    **Example:**

    ```python
    import tempfile, os
    path = os.path.join(tempfile.mkdtemp(), "net.nir")
    spikax_torch.io.save_nir(path, spikax_torch.layers.dense(2, 3, spikax_torch.neurons.LIF(reset="zero"), key=0),
                             dt=1e-4)
    model = spikax_torch.io.load_nir(path)
    ```
    """
    return from_spikax(_io().load_nir(path, dt=dt, dtype=dtype))


def normalize_gains(graph, to: str = "one", *, dt: float | None = None):
    """`spikax.io.normalize_gains`: rescale `r` and `v_threshold` together for snnTorch (`"tau/dt"`) or Norse (`"one"`).

    **Example:**

    ```python
    net = spikax_torch.layers.dense(3, 4, spikax_torch.neurons.LIF(reset="zero"), key=0)
    graph = spikax_torch.io.normalize_gains(spikax_torch.io.to_nir(net, dt=1e-4), to="one")
    ```
    """
    return _io().normalize_gains(graph, to, dt=dt)
