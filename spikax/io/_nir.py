"""NIR (Neuromorphic Intermediate Representation) export and import.

One spikax step of the form $v' = \\beta v + g x$ is NIR's forward-Euler reading of a
continuous-time node: $\\tau = \\Delta t/(1-\\beta)$, $r = g/(1-\\beta)$, $v_{leak} = 0$; importing
inverts it, $\\beta = 1 - \\Delta t/\\tau$, $g = r\\,\\Delta t/\\tau$ (the reading of snnTorch,
Norse, Spyx and Lava). Pedersen et al. (2024), "Neuromorphic intermediate representation: a
unified instruction set for interoperable brain-inspired computing", *Nat. Commun.* 15:8122.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass, field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import check_choice
from ..layers import Delay, DelayedLinear, Flatten, Layer, Pool, Recurrent, Stateless
from ..layers._base import connection_output_shape
from ..network import Chain, Graph
from ..neurons import IF, LI, LIF, AbstractNeuron, CubaLIF
from ..neurons._base import default_dtype

DEFAULT_DT = 1e-4
RESET_POLICIES = ("warn", "error", "ignore")
INPUT, OUTPUT = "input", "output"


def _nir():
    try:
        import nir
    except ImportError as error:  # pragma: no cover - nir is a declared dependency of spikax.io
        raise ImportError("`spikax.io`: NIR export and import need the `nir` package: `pip install 'nir>=1.0.7,<1.1'`."
                          ) from error
    return nir


# ============================================================================================
# Export
# ============================================================================================


@dataclass
class _Fragment:
    """Part of a NIR graph: its nodes and inner edges, the nodes that receive its input, and those that give its output."""

    nodes: dict
    edges: list
    entries: list
    exits: list
    shape: tuple  # the output shape


@dataclass
class _Export:
    dt: float
    subtract: list = field(default_factory=list)  # names of neurons that reset by subtraction
    rounded: list = field(default_factory=list)  # names of learnable delays rounded to whole steps


def _array(value, shape=None) -> np.ndarray:
    """A float NumPy array (per-neuron when `shape` is given: never a 0-d scalar)."""
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if shape is not None:
        arr = np.broadcast_to(arr, tuple(shape))
    return np.array(arr, copy=True)


def _link(first: _Fragment | None, second: _Fragment | None) -> _Fragment | None:
    if first is None:
        return second
    if second is None:
        return first
    edges = first.edges + second.edges + [(a, b) for a in first.exits for b in second.entries]
    return _Fragment({**first.nodes, **second.nodes}, edges, first.entries, second.exits, second.shape)


def _single(name: str, node, shape) -> _Fragment:
    return _Fragment({name: node}, [], [name], [name], tuple(shape))


def _cannot(name: str, what: str, why: str = "") -> NotImplementedError:
    return NotImplementedError(
        f"`spikax.io.to_nir`: {name!r} is {what}, which NIR cannot hold{': ' + why if why else ''}. NIR has nodes for "
        "LIF, CubaLIF, LI and IF neurons (reset to a value, or reset-free as LI/CubaLI/I + Threshold), Linear/Affine, "
        "Conv1d/Conv2d, sum/average pooling, Flatten and Delay; replace this part or leave it out of the export."
    )


@functools.singledispatch
def _export(obj, name: str, shape: tuple, ctx: _Export) -> _Fragment | None:
    if isinstance(obj, AbstractNeuron):
        raise _cannot(name, f"a `spikax.neurons.{type(obj).__name__}` neuron",
                      "its dynamics (e.g. an adaptive threshold or a quadratic membrane) have no NIR node")
    raise _cannot(name, f"a {type(obj).__module__}.{type(obj).__name__}")


def _neuron_common(neuron, name: str, ctx: _Export):
    if neuron.refractory > 0:
        raise _cannot(name, f"a `spikax.neurons.{type(neuron).__name__}` with a refractory period",
                      "NIR neurons have no refractory period")
    if neuron.reset == "subtract":
        ctx.subtract.append(name)
    return {"reset": neuron.reset}


def _v_reset(neuron, shape):
    # NIR can only reset to a value: a subtract reset is written as v_reset = 0 (and said so in the metadata).
    return _array(neuron.v_reset if neuron.reset == "zero" else 0.0, shape)


def _spiking(name, shape, ctx, free_node, threshold, metadata, spiking_node):
    """The NIR node of a spiking neuron, or its reset-free node followed by a `Threshold`."""
    nir = _nir()
    if metadata["reset"] == "none":
        thr = nir.Threshold(threshold=_array(threshold, shape), metadata={"reset": "none"})
        return _Fragment({name: free_node, name + ".threshold": thr}, [(name, name + ".threshold")], [name],
                         [name + ".threshold"], tuple(shape))
    return _single(name, spiking_node, shape)


def _tau(decay, dt, shape):
    with np.errstate(divide="ignore"):
        return _array(dt / (1.0 - _array(decay, shape)))


@_export.register
def _(neuron: LIF, name, shape, ctx):
    nir = _nir()
    meta = _neuron_common(neuron, name, ctx)
    tau, ones, zeros = _tau(neuron.beta, ctx.dt, shape), _array(1.0, shape), _array(0.0, shape)
    return _spiking(name, shape, ctx, nir.LI(tau=tau, r=ones, v_leak=zeros, metadata=meta), neuron.threshold, meta,
                    None if meta["reset"] == "none" else
                    nir.LIF(tau=tau, r=ones, v_leak=zeros, v_threshold=_array(neuron.threshold, shape),
                            v_reset=_v_reset(neuron, shape), metadata=meta))


@_export.register
def _(neuron: CubaLIF, name, shape, ctx):
    nir = _nir()
    meta = _neuron_common(neuron, name, ctx)
    alpha = _array(neuron.alpha, shape)
    with np.errstate(divide="ignore"):
        w_in = 1.0 / (1.0 - alpha)
    params = dict(tau_syn=_tau(alpha, ctx.dt, shape), tau_mem=_tau(neuron.beta, ctx.dt, shape), r=_array(1.0, shape),
                  v_leak=_array(0.0, shape), w_in=w_in, metadata=meta)
    return _spiking(name, shape, ctx, nir.CubaLI(**params), neuron.threshold, meta,
                    None if meta["reset"] == "none" else
                    nir.CubaLIF(**params, v_threshold=_array(neuron.threshold, shape), v_reset=_v_reset(neuron, shape)))


@_export.register
def _(neuron: IF, name, shape, ctx):
    nir = _nir()
    meta = _neuron_common(neuron, name, ctx)
    ones = _array(1.0, shape)  # every peer reads IF's (and I's) r as a per-step gain, without dt
    return _spiking(name, shape, ctx, nir.I(r=ones, metadata=meta), neuron.threshold, meta,
                    None if meta["reset"] == "none" else
                    nir.IF(r=ones, v_threshold=_array(neuron.threshold, shape), v_reset=_v_reset(neuron, shape),
                           metadata=meta))


@_export.register
def _(neuron: LI, name, shape, ctx):
    nir = _nir()
    node = nir.LI(tau=_tau(neuron.beta, ctx.dt, shape), r=_array(1.0, shape), v_leak=_array(0.0, shape))
    return _single(name, node, shape)


@_export.register
def _(linear: eqx.nn.Linear, name, shape, ctx):
    nir = _nir()
    if linear.weight.ndim != 2:
        raise _cannot(name, "an `equinox.nn.Linear` with scalar ('scalar') features")
    weight = _array(linear.weight)
    node = nir.Linear(weight=weight) if linear.bias is None else nir.Affine(weight=weight, bias=_array(linear.bias))
    return _single(name, node, (weight.shape[0],))


def _symmetric(name, what, pairs):
    if any(lo != hi for lo, hi in pairs):
        raise _cannot(name, f"a {what} with asymmetric padding {pairs}", "NIR pads both sides alike")
    return tuple(int(lo) for lo, _ in pairs)


@_export.register
def _(conv: eqx.nn.Conv, name, shape, ctx):
    nir = _nir()
    dims = conv.num_spatial_dims
    if dims not in (1, 2) or type(conv) not in (eqx.nn.Conv1d, eqx.nn.Conv2d) or conv.padding_mode != "ZEROS":
        raise _cannot(name, f"a {type(conv).__name__} ({dims}-d, padding mode {conv.padding_mode})",
                      "NIR has zero-padded Conv1d and Conv2d")
    out_shape = connection_output_shape("spikax.io.to_nir", conv, shape, None)
    weight = _array(conv.weight)
    bias = _array(0.0, (weight.shape[0],)) if conv.bias is None else _array(conv.bias).reshape(-1)
    padding = _symmetric(name, type(conv).__name__, conv.padding)
    cls = nir.Conv1d if dims == 1 else nir.Conv2d
    first = (lambda v: v[0]) if dims == 1 else tuple
    node = cls(input_shape=first(tuple(int(s) for s in shape[1:])), weight=weight, stride=first(conv.stride),
               padding=first(padding), dilation=first(conv.dilation), groups=int(conv.groups), bias=bias)
    return _single(name, node, out_shape)


@_export.register
def _(identity: eqx.nn.Identity, name, shape, ctx):
    return None


@_export.register
def _(seq: eqx.nn.Sequential, name, shape, ctx):
    out = None
    for i, part in enumerate(seq.layers):
        frag = _export(part, f"{name}.{i}", shape if out is None else out.shape, ctx)
        out = _link(out, frag)
    return out


@_export.register
def _(stateless: Stateless, name, shape, ctx):
    return _export(stateless.fn, name, shape, ctx)


@_export.register
def _(flatten: Flatten, name, shape, ctx):
    nir = _nir()
    node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
    return _single(name, node, (int(np.prod(shape)),))


@_export.register
def _(pool: Pool, name, shape, ctx):
    nir = _nir()
    if pool.kind == "max" or pool.pool.num_spatial_dims != 2:
        raise _cannot(name, f"a {pool.kind} `spikax.layers.Pool` over {pool.pool.num_spatial_dims} dimension(s)",
                      "NIR pools by sum or average over 2 dimensions")
    cls = nir.SumPool2d if pool.kind == "sum" else nir.AvgPool2d
    node = cls(kernel_size=np.array(pool.pool.kernel_size), stride=np.array(pool.pool.stride),
               padding=np.array(_symmetric(name, "Pool", pool.pool.padding)))
    return _single(name, node, pool.output_shape(shape))


def _steps(owner, name, delays, learnable, ctx) -> np.ndarray:
    delays = np.asarray(delays)
    if learnable:
        ctx.rounded.append(name)
        return np.rint(delays).astype(np.int64)
    return delays.astype(np.int64)


@_export.register
def _(delay: Delay, name, shape, ctx):
    nir = _nir()
    steps = np.broadcast_to(_steps("Delay", name, delay.delays, delay.learnable, ctx), shape)
    return _single(name, nir.Delay(delay=_array(steps * ctx.dt)), shape)


@_export.register
def _(layer: DelayedLinear, name, shape, ctx):
    # A delay per synapse is a sum of branches, one per distinct delay k: Delay(k) then the weights with that delay.
    nir = _nir()
    weight = _array(layer.weight)
    steps = np.broadcast_to(_steps("DelayedLinear", name, layer.delays, layer.learnable, ctx), weight.shape)
    nodes, edges, entries, exits = {}, [], [], []
    for i, k in enumerate(np.unique(steps)):
        w = np.where(steps == k, weight, 0.0)
        branch = f"{name}.d{k}"
        node = (nir.Affine(weight=w, bias=_array(layer.bias)) if i == 0 and layer.bias is not None
                else nir.Linear(weight=w))
        nodes[branch] = node
        exits.append(branch)
        if k == 0:
            entries.append(branch)
        else:
            nodes[branch + ".delay"] = nir.Delay(delay=_array(np.full(shape, k * ctx.dt)))
            edges.append((branch + ".delay", branch))
            entries.append(branch + ".delay")
    return _Fragment(nodes, edges, entries, exits, (weight.shape[0],))


@_export.register
def _(layer: Layer, name, shape, ctx):
    conn = _export(layer.connection, name + ".connection", shape, ctx)
    neuron = _export(layer.neuron, name + ".neuron", shape if conn is None else conn.shape, ctx)
    return _link(conn, neuron)


@_export.register
def _(layer: Recurrent, name, shape, ctx):
    nir = _nir()
    conn = _export(layer.connection, name + ".connection", shape, ctx)
    inner_shape = shape if conn is None else conn.shape
    neuron = _export(layer.neuron, "lif", inner_shape, ctx)
    rec = _export(layer.recurrent, "w_rec", neuron.shape, ctx)
    ctx.subtract[:] = [f"{name}.{n}" if n in neuron.nodes else n for n in ctx.subtract]
    nodes = {"input": nir.Input(input_type={"input": np.array(inner_shape)}), **neuron.nodes, **rec.nodes,
             "output": nir.Output(output_type={"output": np.array(neuron.shape)})}
    edges = (neuron.edges + rec.edges + [("input", e) for e in neuron.entries]
             + [(a, b) for a in neuron.exits for b in rec.entries] + [(a, b) for a in rec.exits for b in neuron.entries]
             + [(a, "output") for a in neuron.exits])
    sub = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"kind": "spikax.layers.Recurrent"})
    return _link(conn, _single(name, sub, neuron.shape))


def _child(name: str, part) -> str:
    return f"{name}.{part}" if name else str(part)


@_export.register
def _(chain: Chain, name, shape, ctx):
    out = None
    for i, layer in enumerate(chain.layers):
        frag = _export(layer, _child(name, i), shape if out is None else out.shape, ctx)
        out = _link(out, frag)
    return out


@_export.register
def _(graph: Graph, name, shape, ctx):
    ins, outs = graph._shapes(shape, None)
    frags = {n: _export(graph.nodes[n], _child(name, n), ins[n], ctx) for n in graph.order}
    if any(f is None for f in frags.values()):
        raise _cannot(name, "a `spikax.Graph` with an identity node", "give every node a connection or a neuron")
    nodes, edges = {}, []
    for frag in frags.values():
        nodes.update(frag.nodes)
        edges += frag.edges
    for src, dst in graph.edges:
        exits = [INPUT + "@"] if src == "input" else frags[src].exits
        edges += [(a, b) for a in exits for b in frags[dst].entries]
    entries = sorted({b for a, b in edges if a == INPUT + "@"})
    edges = [e for e in edges if e[0] != INPUT + "@"]
    return _Fragment(nodes, edges, entries, frags[graph.output].exits, outs[graph.output])


def _infer_input_shape(model) -> tuple:
    first = model
    while True:
        if isinstance(first, Chain):
            first = first.layers[0]
        elif isinstance(first, (Layer, Recurrent)):
            first = first.connection
        elif isinstance(first, eqx.nn.Sequential):
            first = first.layers[0]
        else:
            break
    if isinstance(first, (eqx.nn.Linear, DelayedLinear)) and first.weight.ndim == 2:
        return (int(first.weight.shape[1]),)
    raise ValueError(
        "`spikax.io.to_nir`: cannot infer the input shape of this model (its first block is "
        f"{type(first).__name__}). Pass `input_shape=` (one sample, channels first), e.g. `input_shape=(2, 34, 34)`."
    )


def to_nir(model, *, dt: float, input_shape=None, reset_policy: str = "warn"):
    r"""Write a spikax model as a NIR graph (`nir.NIRGraph`).

    Each neuron becomes its continuous-time NIR node by the forward-Euler reading
    $\tau = \Delta t/(1-\beta)$, $r = g/(1-\beta)$ (Pedersen et al. 2024, *Nat. Commun.* 15:8122):

    | spikax | NIR |
    | --- | --- |
    | `LIF` ($\tilde v = \beta v + (1-\beta)x$) | `LIF`: $\tau = \Delta t/(1-\beta)$, $r = 1$, $v_{th} = \theta$ |
    | `CubaLIF` ($i' = \alpha i + x$) | `CubaLIF`: $\tau_{syn} = \Delta t/(1-\alpha)$, $w_{in} = 1/(1-\alpha)$, $r = 1$ |
    | `LI` | `LI` |
    | `IF` ($\tilde v = v + x$) | `IF` with $r = 1$, read by every peer as a per-step gain (no $\Delta t$) |
    | a neuron with `reset="none"` | `LI` / `CubaLI` / `I`, then `Threshold` |
    | `eqx.nn.Linear` | `Affine` (with bias) or `Linear` |
    | `eqx.nn.Conv1d/2d` | `Conv1d/2d` (weights OIHW, channels first, `input_shape` written) |
    | `Pool("sum"/"avg")` | `SumPool2d` / `AvgPool2d` |
    | `Flatten` | `Flatten` (start_dim 0, end_dim -1) |
    | `Delay` ($k$ steps) | `Delay` with delay $k\Delta t$ (seconds) |
    | `DelayedLinear` | one `Delay` + `Linear` branch per distinct delay, summed |
    | `Layer` / `Recurrent` | connection then neuron / a subgraph `input, lif, w_rec, output` |
    | `Chain` / `Graph` | the graph, with `input` and `output` nodes |

    Parameters are per-neuron arrays (never 0-d) and `v_reset` is always written. The graph
    metadata holds `dt`, `"discretization": "forward_euler"`, `"reset"` (`"zero"`, or
    `"subtract"` if any neuron resets by subtraction), `"spike": "box"` and the producer; each
    neuron node's metadata holds its own reset mode. NIR can only reset to a value, so a
    subtract reset is written as `v_reset = 0`: other readers will run it as a reset to zero.
    Learnable delays are rounded to whole steps (with a warning). A `Graph`'s feedback edges are
    written as plain edges: NIR says only that an edge closing a cycle carries the previous
    step's output, so [`spikax.io.from_nir`][] (like most readers) breaks each cycle where a
    depth-first walk from the input meets it again, which is where spikax's `Graph` order puts
    the feedback when every feedback edge closes a cycle.

    **Arguments:**

    - `model`: a spikax layer, neuron, `Chain` or `Graph`.
    - `dt`: the time step in seconds (NIR's time unit), e.g. `1e-4`.
    - `input_shape`: one sample's input shape (channels first); inferred from a first dense layer.
    - `reset_policy`: what to do with a subtract reset: `"warn"` (default), `"error"` or `"ignore"`.

    **Returns:** a `nir.NIRGraph`.

    **Raises:** `NotImplementedError` for parts NIR cannot hold (ALIF, Izhikevich, AdEx, max
    pooling, refractory periods, ...), naming the part.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(3, 4, spikax.neurons.LIF(0.9, reset="zero"), key=key)])
    graph = spikax.io.to_nir(net, dt=1e-4)
    sorted(graph.nodes)  # ['0.connection', '0.neuron', 'input', 'output']
    ```
    """
    nir = _nir()
    check_choice("spikax.io.to_nir", "reset_policy", reset_policy, RESET_POLICIES)
    if not (np.isscalar(dt) and float(dt) > 0 and np.isfinite(dt)):
        raise ValueError(f"`spikax.io.to_nir`: `dt` must be a positive number of seconds, got {dt!r}. "
                         "Pass the time step the model was trained with, e.g. `dt=1e-4`.")
    dt = float(dt)
    shape = _infer_input_shape(model) if input_shape is None else tuple(int(s) for s in input_shape)
    ctx = _Export(dt=dt)
    frag = _export(model if isinstance(model, (Chain, Graph)) else Chain([model]), "", shape, ctx)
    if frag is None:
        raise _cannot("model", "an identity", "there is nothing to export")
    nodes = {INPUT: nir.Input(input_type={"input": np.array(shape)}), **frag.nodes,
             OUTPUT: nir.Output(output_type={"output": np.array(frag.shape)})}
    edges = frag.edges + [(INPUT, e) for e in frag.entries] + [(e, OUTPUT) for e in frag.exits]
    from .. import __version__

    metadata = {"dt": dt, "discretization": "forward_euler", "reset": "subtract" if ctx.subtract else "zero",
                "spike": "box", "producer": f"spikax {__version__}"}
    if ctx.subtract and reset_policy != "ignore":
        message = (f"`spikax.io.to_nir`: neurons {ctx.subtract} reset by subtraction, which NIR cannot express: they "
                   "are written with v_reset = 0 and metadata 'reset': 'subtract', and other NIR readers will run them "
                   "as a reset to zero (different spikes). Train with `reset='zero'` for an exact export, or pass "
                   "`reset_policy='ignore'` to silence this.")
        if reset_policy == "error":
            raise ValueError(message)
        warnings.warn(message, UserWarning, stacklevel=2)
    if ctx.rounded:
        warnings.warn(f"`spikax.io.to_nir`: the learnable delays of {ctx.rounded} were rounded to whole steps; NIR "
                      "`Delay` nodes hold one delay per channel, and the interpolated (fractional) read-out is lost.",
                      UserWarning, stacklevel=2)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def save_nir(path, model, *, dt: float, input_shape=None, reset_policy: str = "warn"):
    """Export `model` with [`spikax.io.to_nir`][] and write it to the NIR (HDF5) file `path`.

    **Arguments:** `path`, then as for [`spikax.io.to_nir`][].

    **Returns:** the `nir.NIRGraph` written.

    **Example:**

    ```python
    import tempfile, os
    net = spikax.layers.dense(2, 3, spikax.neurons.LIF(reset="zero"), key=key)
    path = os.path.join(tempfile.mkdtemp(), "net.nir")
    spikax.io.save_nir(path, net, dt=1e-4)
    ```
    """
    graph = to_nir(model, dt=dt, input_shape=input_shape, reset_policy=reset_policy)
    _nir().write(os.fspath(path), graph)
    return graph


def normalize_gains(graph, to: str = "one", *, dt: float | None = None):
    r"""A copy of `graph` whose spiking nodes have their input gain `r` rescaled, for peers that expect one.

    Multiplying a neuron's `r` and `v_threshold` by the same factor $c$ scales its membrane by
    $c$ and leaves its spikes unchanged whenever `v_leak = v_reset = 0` (up to float rounding).

    - `to="tau/dt"`: $r = 	au_{mem}/\Delta t$ (LIF: $	au/\Delta t$), what snnTorch 1.0's
      `CubaLIF` importer asserts.
    - `to="one"`: $r = 1$, what Norse's LIF importer assumes (it ignores `r`).

    **Arguments:**

    - `graph`: a `nir.NIRGraph` (subgraphs included).
    - `to`: `"one"` or `"tau/dt"`.
    - `dt`: the time step for `"tau/dt"`; default: the graph's metadata.

    **Returns:** a new `nir.NIRGraph`.

    **Raises:** `ValueError` for a node with non-zero `v_leak` or `v_reset` (the spikes would change).

    **Example:**

    ```python
    net = spikax.layers.dense(3, 4, spikax.neurons.CubaLIF(reset="zero"), key=key)
    graph = spikax.io.normalize_gains(spikax.io.to_nir(net, dt=1e-4), to="tau/dt")
    graph.nodes["0.neuron"].r  # tau_mem / dt for every neuron
    ```
    """
    import copy

    check_choice("spikax.io.normalize_gains", "target", to, ("one", "tau/dt"))
    if to == "tau/dt":
        dt = (getattr(graph, "metadata", None) or {}).get("dt") if dt is None else dt
        if dt is None:
            raise ValueError("`spikax.io.normalize_gains`: `to='tau/dt'` needs the time step; the graph has no 'dt' in "
                             "its metadata, so pass `dt=`.")
    graph = copy.deepcopy(graph)

    def visit(g):
        for name, node in g.nodes.items():
            kind = type(node).__name__
            if kind == "NIRGraph":
                visit(node)
                continue
            if kind not in ("LIF", "CubaLIF", "IF"):
                continue
            if np.any(np.asarray(getattr(node, "v_leak", 0.0)) != 0) or np.any(np.asarray(node.v_reset) != 0):
                raise ValueError(f"`spikax.io.normalize_gains`: node {name!r} has a non-zero v_leak or v_reset, so "
                                 "rescaling its gain would change its spikes. Leave this graph as it is.")
            r = np.asarray(node.r, np.float64)
            if to == "one":
                target = np.ones_like(r)
            elif kind == "IF":
                continue  # IF has no time constant: its r is a per-step gain
            else:
                target = np.asarray(node.tau_mem if kind == "CubaLIF" else node.tau, np.float64) / float(dt)
            factor = target / r
            node.r = _array(target)
            node.v_threshold = _array(np.asarray(node.v_threshold, np.float64) * factor)

    visit(graph)
    return graph


# ============================================================================================
# Import
# ============================================================================================


class _Flat:
    """A NIR graph with nested subgraphs spliced in (names `outer.inner`) and their Input/Output nodes removed."""

    def __init__(self, graph, prefix: str = "", reset: str = "zero"):
        self.nodes, self.edges, self.reset = {}, [], {}
        inputs, outputs = {}, {}
        for name, node in graph.nodes.items():
            full = prefix + name
            kind = type(node).__name__
            if kind == "NIRGraph":
                sub = _Flat(node, full + ".", reset)
                self.nodes.update(sub.nodes)
                self.edges += sub.edges
                self.reset.update(sub.reset)
                inputs[full] = sub.entries
                outputs[full] = sub.exits
            else:
                self.nodes[full] = node
                self.reset[full] = (getattr(node, "metadata", None) or {}).get("reset", reset)
        for src, dst in graph.edges:
            for a in outputs.get(prefix + src, [prefix + src]):
                for b in inputs.get(prefix + dst, [prefix + dst]):
                    self.edges.append((a, b))
        # Splice out Input/Output nodes of subgraphs (and keep the top-level ones, named without prefix).
        self.entries = [n for n, node in self.nodes.items() if type(node).__name__ == "Input"]
        self.exits = [n for n, node in self.nodes.items() if type(node).__name__ == "Output"]
        if prefix:
            inner = set(self.entries) | set(self.exits)
            after = {n: [b for a, b in self.edges if a == n] for n in self.entries}
            before = {n: [a for a, b in self.edges if b == n] for n in self.exits}
            self.entries = [b for n in self.entries for b in after[n]]
            self.exits = [a for n in self.exits for a in before[n]]
            self.edges = [(a, b) for a, b in self.edges if a not in inner and b not in inner]
            for n in inner:
                del self.nodes[n]

    def sources(self, name):
        return [a for a, b in self.edges if b == name]

    def targets(self, name):
        return [b for a, b in self.edges if a == name]


def _order(flat: _Flat, start: str) -> list[str]:
    """Nodes in reverse post-order of a depth-first walk from the input: every edge goes forward except
    the edges that close a cycle, which go backward and carry the previous step's output."""
    seen, post = set(), []

    def visit(n):
        seen.add(n)
        for t in sorted(set(flat.targets(n))):
            if t not in seen:
                visit(t)
        post.append(n)

    visit(start)
    missing = sorted(set(flat.nodes) - seen)
    if missing:
        raise ValueError(f"`spikax.io.from_nir`: nodes {missing} cannot be reached from the input node; a spikax "
                         "network computes every node from the input. Remove them from the graph.")
    return post[::-1]


def _f(value, dtype):
    return jnp.asarray(np.asarray(value, np.float64), dtype=dtype)


def _check_zero(name, what, value):
    if np.any(np.asarray(value) != 0):
        raise NotImplementedError(f"`spikax.io.from_nir`: node {name!r} has a non-zero {what}, which spikax cannot run "
                                  "exactly for this neuron type. Fold it into the inputs before exporting.")


def _neuron_from(name, node, dt, reset, dtype, threshold=None):
    """A spikax neuron for a NIR neuron node, and the gain and offset its input needs: `x_spikax = gain * x + shift`."""
    kind = type(node).__name__
    free = threshold is not None  # a reset-free node followed by a Threshold
    if kind == "LI" and not free:
        return LI(beta=1.0 - dt / np.asarray(node.tau, np.float64), dtype=dtype), node.r, node.v_leak
    opts = dict(reset="none") if free else dict(reset=reset, v_reset=np.asarray(node.v_reset, np.float64))
    vth = threshold if free else node.v_threshold
    if kind in ("LIF", "LI"):
        beta = 1.0 - dt / np.asarray(node.tau, np.float64)
        return LIF(beta=beta, threshold=np.asarray(vth, np.float64), dtype=dtype, **opts), node.r, node.v_leak
    if kind in ("CubaLIF", "CubaLI"):
        if kind == "CubaLI" and not free:
            raise NotImplementedError(f"`spikax.io.from_nir`: node {name!r} is a CubaLI without a Threshold after it; "
                                      "spikax's CubaLIF outputs spikes only. Follow it with a Threshold, or use LI.")
        _check_zero(name, "v_leak", node.v_leak)  # i is rescaled by r; a leak would need a non-zero initial current
        alpha = 1.0 - dt / np.asarray(node.tau_syn, np.float64)
        beta = 1.0 - dt / np.asarray(node.tau_mem, np.float64)
        neuron = CubaLIF(alpha=alpha, beta=beta, threshold=np.asarray(vth, np.float64), dtype=dtype, **opts)
        return neuron, np.asarray(node.r) * (1.0 - alpha) * np.asarray(node.w_in), 0.0
    if kind in ("IF", "I"):
        if kind == "I" and not free:
            raise NotImplementedError(f"`spikax.io.from_nir`: node {name!r} is an integrator (I) without a Threshold "
                                      "after it, whose output is its unbounded membrane; spikax has no such neuron.")
        return IF(threshold=np.asarray(vth, np.float64), dtype=dtype, **opts), node.r, 0.0
    return None


NEURON_KINDS = ("LIF", "LI", "CubaLIF", "CubaLI", "IF", "I")


def _shell(cls, *args, **kwargs):
    """An equinox module of `cls` with placeholder arrays (no random draw, hence no compilation) to fill in."""
    return eqx.filter_eval_shape(cls, *args, key=jax.random.key(0), **kwargs)


def _tuple(value, n):
    arr = np.atleast_1d(np.asarray(value)).astype(int)
    return tuple(int(v) for v in np.broadcast_to(arr, (n,)))


def _connection_from(name, node, dtype):
    """An equinox module for a NIR connection node, or None when the node is not one."""
    kind = type(node).__name__
    if kind in ("Affine", "Linear"):
        w = np.asarray(node.weight)
        lin = _shell(eqx.nn.Linear, w.shape[1], w.shape[0], use_bias=kind == "Affine", dtype=dtype)
        if kind == "Linear":
            return eqx.tree_at(lambda m: m.weight, lin, _f(w, dtype))
        return eqx.tree_at(lambda m: (m.weight, m.bias), lin, (_f(w, dtype), _f(node.bias, dtype)))
    if kind in ("Conv1d", "Conv2d"):
        w = np.asarray(node.weight)
        dims = w.ndim - 2
        padding = node.padding
        if isinstance(padding, str):
            raise NotImplementedError(f"`spikax.io.from_nir`: node {name!r} has padding {padding!r}; give it in "
                                      "numbers of pixels.")
        conv = eqx.nn.Conv1d if dims == 1 else eqx.nn.Conv2d
        conv = _shell(conv, w.shape[1] * int(node.groups), w.shape[0], w.shape[2:], stride=_tuple(node.stride, dims),
                      padding=_tuple(padding, dims), dilation=_tuple(node.dilation, dims), groups=int(node.groups),
                      use_bias=True, dtype=dtype)
        bias = np.zeros(w.shape[0]) if node.bias is None else np.broadcast_to(np.asarray(node.bias), (w.shape[0],))
        return eqx.tree_at(lambda m: (m.weight, m.bias), conv,
                           (_f(w, dtype), _f(bias.reshape((-1,) + (1,) * dims), dtype)))
    return None


def _other_from(name, node, dt, dtype):
    """A spikax layer for a NIR node that is neither a neuron nor a weighted connection."""
    kind = type(node).__name__
    if kind == "Flatten":
        ndim = len(np.asarray(node.input_type["input"]).reshape(-1)) if node.input_type else None
        start, end = int(node.start_dim), int(node.end_dim)
        if start == 0 and (end == -1 or (ndim is not None and end == ndim - 1)):
            return Flatten()
        raise NotImplementedError(f"`spikax.io.from_nir`: node {name!r} flattens dimensions {start}..{end}; spikax "
                                  "reads NIR shapes without a batch axis and flattens whole samples (0..-1).")
    if kind in ("SumPool2d", "AvgPool2d"):
        return Pool("sum" if kind == "SumPool2d" else "avg", _tuple(node.kernel_size, 2), _tuple(node.stride, 2),
                    padding=_tuple(node.padding, 2))
    if kind == "Delay":
        steps = np.asarray(node.delay, np.float64) / dt
        whole = np.rint(steps)
        if np.any(np.abs(steps - whole) > 1e-6 * np.maximum(1.0, whole)) or np.any(whole < 0):
            raise ValueError(f"`spikax.io.from_nir`: node {name!r} delays by {np.asarray(node.delay)} s, not whole "
                             f"steps of dt = {dt} s. Import with the dt the graph was made for.")
        whole = whole.astype(np.int32)
        return Delay(int(whole.max(initial=0)), delays=whole)
    if kind == "Threshold":  # a bare threshold: a memoryless LIF (beta = 0) without reset
        return LIF(beta=0.0, threshold=np.asarray(node.threshold, np.float64), reset="none", dtype=dtype)
    if kind == "Scale":
        scale = np.asarray(node.scale, np.float64)
        if scale.ndim != 1:
            raise NotImplementedError(f"`spikax.io.from_nir`: node {name!r} scales a {scale.ndim}-d input; only "
                                      "vectors are supported.")
        lin = _shell(eqx.nn.Linear, scale.size, scale.size, use_bias=False, dtype=dtype)
        return eqx.tree_at(lambda m: m.weight, lin, _f(np.diag(scale), dtype))
    raise NotImplementedError(f"`spikax.io.from_nir`: node {name!r} is a NIR {kind}, which spikax does not import. "
                              f"Supported: {', '.join(NEURON_KINDS)}, Threshold, Affine, Linear, Scale, Conv1d, Conv2d, "
                              "SumPool2d, AvgPool2d, Flatten, Delay and subgraphs.")


def _fold_gain(name, gain, shift, blocks, flat, dtype):
    """Scale (and offset) the input of neuron `name` by folding into the connections that feed only it.

    Returns the name of a new diagonal connection to insert in front when folding is impossible.
    """
    gain, shift = np.asarray(gain, np.float64), np.asarray(shift, np.float64)
    if np.all(gain == 1) and np.all(shift == 0):
        return None
    sources = flat.sources(name)
    foldable = all(isinstance(blocks.get(s), (eqx.nn.Linear, eqx.nn.Conv)) and flat.targets(s) == [name]
                   for s in sources)
    if foldable and sources:
        for i, s in enumerate(sources):
            conn = blocks[s]
            out = conn.weight.shape[0]
            if isinstance(conn, eqx.nn.Linear):
                g = np.broadcast_to(gain, (out,))
                b = np.broadcast_to(shift, (out,))
                extra = ()
            else:
                g, b = _per_channel(name, gain, out), _per_channel(name, shift, out)
                extra = (1,) * conn.num_spatial_dims
            w = np.asarray(conn.weight, np.float64) * g.reshape((-1,) + (1,) * (conn.weight.ndim - 1))
            bias = np.zeros(out) if conn.bias is None else np.asarray(conn.bias, np.float64).reshape(-1)
            bias = bias * g + (b if i == 0 else 0.0)
            conn = eqx.tree_at(lambda m: m.weight, conn, _f(w, dtype))
            if conn.bias is None and np.any(bias != 0):
                conn = _with_bias(conn, dtype)
            if conn.bias is not None:
                conn = eqx.tree_at(lambda m: m.bias, conn, _f(bias.reshape((-1,) + extra), dtype))
            blocks[s] = conn
        return None
    if gain.ndim > 1 or shift.ndim > 1:
        raise NotImplementedError(f"`spikax.io.from_nir`: neuron node {name!r} scales its input (r, w_in or v_leak) "
                                  "but is not fed by weights alone, and its input is not a vector.")
    size = max(gain.size, shift.size)
    lin = _shell(eqx.nn.Linear, size, size, use_bias=True, dtype=dtype)
    blocks[name + ".gain"] = eqx.tree_at(lambda m: (m.weight, m.bias), lin,
                                         (_f(np.diag(np.broadcast_to(gain, (size,))), dtype),
                                          _f(np.broadcast_to(shift, (size,)), dtype)))
    return name + ".gain"


def _per_channel(name, value, channels):
    value = np.asarray(value, np.float64)
    if value.ndim == 0:
        return np.full(channels, float(value))
    flat = value.reshape(channels, -1)
    if np.any(flat != flat[:, :1]):
        raise NotImplementedError(f"`spikax.io.from_nir`: neuron node {name!r} after a convolution has an input gain "
                                  "that varies within a channel; spikax folds it into the convolution per channel.")
    return flat[:, 0]


def _with_bias(conn, dtype):
    if isinstance(conn, eqx.nn.Linear):
        new = _shell(eqx.nn.Linear, conn.in_features, conn.out_features, use_bias=True, dtype=dtype)
        return eqx.tree_at(lambda m: (m.weight, m.bias), new, (conn.weight, jnp.zeros(conn.out_features, dtype)))
    return eqx.tree_at(lambda m: m.bias, conn, jnp.zeros((conn.out_channels,) + (1,) * conn.num_spatial_dims, dtype),
                       is_leaf=lambda x: x is None)


def from_nir(graph_or_path, *, dt: float | None = None, dtype=None):
    r"""Read a NIR graph (or file) into a spikax model.

    Inverts the forward-Euler mapping of [`spikax.io.to_nir`][]: $\beta = 1 - \Delta t/\tau$ and
    an input gain $g = r\,\Delta t/\tau$ (for `CubaLIF`, $r\,(1-\alpha)\,w_{in}$ on the current,
    so the membrane keeps NIR's units). Gains and `v_leak` are folded into the weights that feed
    the neuron (or a diagonal `Linear` in front of it), `v_reset` is kept, so nothing is dropped.
    `LI`/`CubaLI`/`I` followed by `Threshold` becomes a reset-free `LIF`/`CubaLIF`/`IF`. Nodes
    that receive several edges sum them; an edge that closes a cycle carries the previous
    step's output. Neurons reset to `v_reset` unless the node's (or graph's) metadata says
    `"reset": "subtract"` (as spikax writes it).

    The result is a [`spikax.Chain`][] of `Layer`/`Recurrent` layers when the graph is a line
    (the common case), else a [`spikax.Graph`][].

    **Arguments:**

    - `graph_or_path`: a `nir.NIRGraph` or the path of a `.nir` file.
    - `dt`: the time step in seconds; default: the graph's metadata `dt`. Required when the
      graph has none (files written by other libraries), since NIR nodes are continuous-time.
    - `dtype`: parameter dtype (default: JAX's default float).

    **Returns:** the spikax model. Its input shape is the graph's input type.

    **Example:**

    ```python
    net = spikax.layers.dense(3, 4, spikax.neurons.LIF(0.9, reset="zero"), key=key)
    again = spikax.io.from_nir(spikax.io.to_nir(net, dt=1e-4))
    state, s = spikax.run(again, again.init_state((3,)), jnp.ones((10, 3)))
    ```
    """
    nir = _nir()
    graph = nir.read(os.fspath(graph_or_path)) if isinstance(graph_or_path, (str, os.PathLike)) else graph_or_path
    meta = dict(getattr(graph, "metadata", None) or {})
    if dt is None:
        dt = meta.get("dt")
        if dt is None:
            raise ValueError(
                "`spikax.io.from_nir`: the graph does not say its time step (no 'dt' in its metadata; only files "
                "written by spikax carry it). NIR nodes are continuous-time, so pass the step it was made for, e.g. "
                "`from_nir(graph, dt=1e-4)` (snnTorch files assume 1e-4, Norse's default is 1e-3).")
    dt = float(np.asarray(dt))
    if not dt > 0:
        raise ValueError(f"`spikax.io.from_nir`: `dt` must be positive, got {dt}.")
    dtype = default_dtype(dtype)
    reset = meta.get("reset", "zero")
    reset = "zero" if reset not in ("zero", "subtract") else reset
    flat = _Flat(graph, reset=reset)
    if len(flat.entries) != 1 or len(flat.exits) != 1:
        raise ValueError(f"`spikax.io.from_nir`: expected one Input and one Output node, got inputs {flat.entries} and "
                         f"outputs {flat.exits}. spikax networks have one input and one output.")
    start, end = flat.entries[0], flat.exits[0]
    # A reset-free node followed by a Threshold (its only consumer) is one reset-free spiking neuron.
    merged = {}
    for name, node in list(flat.nodes.items()):
        if type(node).__name__ == "Threshold":
            srcs = flat.sources(name)
            if (len(srcs) == 1 and type(flat.nodes[srcs[0]]).__name__ in ("LI", "CubaLI", "I")
                    and flat.targets(srcs[0]) == [name]):
                merged[srcs[0]] = node.threshold
                flat.edges = [(srcs[0] if a == name else a, b) for a, b in flat.edges if b != name]
                del flat.nodes[name]
    order = [n for n in _order(flat, start) if n not in (start, end)]
    blocks, neurons, gains = {}, {}, {}
    for name in order:
        node = flat.nodes[name]
        if type(node).__name__ in NEURON_KINDS:
            neurons[name], gain, shift = _neuron_from(name, node, dt, flat.reset[name], dtype, merged.get(name))
            gains[name] = (gain, shift)
        else:
            conn = _connection_from(name, node, dtype)
            blocks[name] = conn if conn is not None else _other_from(name, node, dt, dtype)
    inserted = {}
    for name, (gain, shift) in gains.items():
        extra = _fold_gain(name, gain, shift, blocks, flat, dtype)
        if extra is not None:
            inserted[name] = extra
    # Rewire inserted gain connections: every edge into the neuron now enters its gain node.
    for name, extra in inserted.items():
        flat.edges = [(a, extra if b == name else b) for a, b in flat.edges] + [(extra, name)]
        order.insert(order.index(name), extra)
    blocks.update(neurons)
    return _simplify(blocks, order, flat, start, end)


def _simplify(blocks, order, flat, start, end):
    """A `Chain` of layers when the graph is a line (with recurrent loops inside layers), else a `Graph`."""
    pos = {n: i for i, n in enumerate(order)}
    edges = [(INPUT if a == start else a, b) for a, b in flat.edges if b != end]
    outs = [a for a, b in flat.edges if b == end]
    is_conn = lambda n: isinstance(blocks.get(n), (eqx.nn.Linear, eqx.nn.Conv))  # noqa: E731
    fwd = lambda n: [a for a, b in edges if b == n and (a == INPUT or pos[a] < pos[n])]  # noqa: E731
    back = lambda n: [a for a, b in edges if b == n and a != INPUT and pos[a] >= pos[n]]  # noqa: E731
    tgt = lambda n: [b for a, b in edges if a == n]  # noqa: E731
    for name in list(order):
        neuron = blocks.get(name)
        if not isinstance(neuron, AbstractNeuron):
            continue
        f, r = fwd(name), back(name)
        conn = eqx.nn.Identity()
        if len(f) == 1 and f[0] != INPUT and is_conn(f[0]) and tgt(f[0]) == [name]:
            conn = blocks.pop(f[0])
            src = [a for a, b in edges if b == f[0]]  # forward and feedback sources of the connection
            edges = [(a, name) for a in src] + [(a, b) for a, b in edges if f[0] not in (a, b)]
            order.remove(f[0])
        if (len(r) == 1 and r[0] != name and is_conn(r[0]) and tgt(r[0]) == [name] and fwd(r[0]) == [name]
                and not back(r[0])):
            rec = blocks.pop(r[0])
            edges = [(a, b) for a, b in edges if r[0] not in (a, b)]
            order.remove(r[0])
            blocks[name] = Recurrent(conn, rec, neuron)
        else:
            blocks[name] = Layer(conn, neuron)
        pos = {n: i for i, n in enumerate(order)}
    if len(outs) != 1:
        blocks[OUTPUT] = eqx.nn.Identity()  # a sum of the outputs
        edges += [(a, OUTPUT) for a in outs]
        order.append(OUTPUT)
        outs = [OUTPUT]
    line = [(INPUT, order[0])] + list(zip(order[:-1], order[1:]))
    if sorted(edges) == sorted(line) and outs == [order[-1]]:
        return Chain([blocks[n] for n in order])
    # Node names without dots (NIR subgraph paths), which torch module names cannot hold.
    names = {n: n.replace(".", "_") for n in order}
    if len(set(names.values())) != len(names):
        names = {n: f"n{i}_{n.replace('.', '_')}" for i, n in enumerate(order)}
    names[INPUT] = INPUT
    return Graph({names[n]: blocks[n] for n in order}, [(names[a], names[b]) for a, b in edges],
                 output=names[outs[0]])


def load_nir(path, *, dt: float | None = None, dtype=None):
    """Read a NIR file into a spikax model: [`spikax.io.from_nir`][] on a path.

    **Example:**

    ```python
    import tempfile, os
    path = os.path.join(tempfile.mkdtemp(), "net.nir")
    spikax.io.save_nir(path, spikax.layers.dense(2, 3, spikax.neurons.LIF(reset="zero"), key=key), dt=1e-4)
    model = spikax.io.load_nir(path)
    ```
    """
    return from_nir(os.fspath(path), dt=dt, dtype=dtype)
