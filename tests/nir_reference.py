"""A small NumPy forward-Euler interpreter of NIR graphs: the reference the NIR tests compare against.

Written from the NIR node equations (Pedersen et al. 2024, Nat. Commun. 15:8122), independently of
`spikax.io`: one step integrates, spikes if `v > threshold` (strict) and resets to `v_reset` in
the same step; a CubaLIF updates its current first and the membrane uses the new current; `IF`
and `I` read `r` as a per-step gain. A node sums the edges that enter it; an edge that closes a
cycle (found by a depth-first walk from the input) carries the previous step's output. A
`Delay` of d seconds shifts by round(d / dt) steps.
"""

from __future__ import annotations

import numpy as np


def _flatten(graph, prefix=""):
    """Nodes and edges with nested graphs spliced in (their Input/Output nodes pass values through);
    returns (nodes, edges, input names, output names)."""
    nodes, edges, ins, outs = {}, [], {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if type(node).__name__ == "NIRGraph":
            n, e, i, o = _flatten(node, full + ".")
            nodes.update(n)
            edges += e
            ins[full], outs[full] = i, o
        else:
            nodes[full] = node
    for a, b in graph.edges:
        for src in outs.get(prefix + a, [prefix + a]):
            for dst in ins.get(prefix + b, [prefix + b]):
                edges.append((src, dst))
    inputs = [n for n, v in nodes.items() if type(v).__name__ == "Input"]
    outputs = [n for n, v in nodes.items() if type(v).__name__ == "Output"]
    return nodes, edges, inputs, outputs


def _conv(x, w, b, stride, padding, dilation, groups):
    """Cross-correlation of one channels-first sample `x` with OI(spatial) weights `w` (1-d or 2-d)."""
    dims = w.ndim - 2
    stride, padding, dilation = (np.broadcast_to(np.atleast_1d(v), (dims,)).astype(int) for v in
                                 (stride, padding, dilation))
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding])
    out_ch, in_per_group = w.shape[:2]
    k = w.shape[2:]
    out_sp = [(x.shape[1 + d] - dilation[d] * (k[d] - 1) - 1) // stride[d] + 1 for d in range(dims)]
    y = np.zeros([out_ch] + out_sp)
    per_group_out = out_ch // groups
    for o in range(out_ch):
        g = o // per_group_out
        xs = x[g * in_per_group:(g + 1) * in_per_group]
        for idx in np.ndindex(*out_sp):
            window = xs[(slice(None),) + tuple(
                slice(idx[d] * stride[d], idx[d] * stride[d] + dilation[d] * (k[d] - 1) + 1, dilation[d])
                for d in range(dims))]
            y[(o,) + idx] = np.sum(window * w[o])
    return y + np.reshape(b, (-1,) + (1,) * dims)


def _pool(x, kernel, stride, padding, average):
    kernel, stride, padding = (np.broadcast_to(np.atleast_1d(v), (2,)).astype(int) for v in (kernel, stride, padding))
    x = np.pad(x, [(0, 0)] + [(p, p) for p in padding])
    oh = (x.shape[1] - kernel[0]) // stride[0] + 1
    ow = (x.shape[2] - kernel[1]) // stride[1] + 1
    y = np.zeros((x.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, i, j] = x[:, i * stride[0]:i * stride[0] + kernel[0], j * stride[1]:j * stride[1] + kernel[1]].sum((1, 2))
    return y / (kernel[0] * kernel[1]) if average else y


class _NodeSim:
    """State and one step of one node."""

    def __init__(self, node, dt):
        self.node, self.dt, self.kind = node, dt, type(node).__name__
        self.v = self.i = None
        self.history = []

    def step(self, x):
        n, dt, kind = self.node, self.dt, self.kind
        if kind in ("Input", "Output"):
            return x
        if kind == "Affine":
            return np.asarray(n.weight) @ x + np.asarray(n.bias)
        if kind == "Linear":
            return np.asarray(n.weight) @ x
        if kind == "Scale":
            return np.asarray(n.scale) * x
        if kind == "Flatten":
            return np.reshape(x, -1)
        if kind in ("Conv1d", "Conv2d"):
            bias = np.zeros(n.weight.shape[0]) if n.bias is None else np.asarray(n.bias)
            return _conv(x, np.asarray(n.weight), bias, n.stride, n.padding, n.dilation, int(n.groups))
        if kind in ("SumPool2d", "AvgPool2d"):
            return _pool(x, n.kernel_size, n.stride, n.padding, kind == "AvgPool2d")
        if kind == "Threshold":
            return (x > np.asarray(n.threshold)).astype(float)
        if kind == "Delay":
            steps = np.broadcast_to(np.rint(np.asarray(n.delay) / dt).astype(int), np.shape(x))
            self.history.append(np.asarray(x, float))
            out = np.zeros(np.shape(x))
            for idx in np.ndindex(*np.shape(x)):
                back = len(self.history) - 1 - steps[idx]
                out[idx] = self.history[back][idx] if back >= 0 else 0.0
            return out
        if self.v is None:
            self.v = np.zeros(np.shape(x))
            self.i = np.zeros(np.shape(x))
        if kind in ("LIF", "LI"):
            self.v = self.v + dt / np.asarray(n.tau) * (np.asarray(n.v_leak) - self.v + np.asarray(n.r) * x)
        elif kind in ("CubaLIF", "CubaLI"):
            self.i = self.i + dt / np.asarray(n.tau_syn) * (-self.i + np.asarray(n.w_in) * x)
            self.v = self.v + dt / np.asarray(n.tau_mem) * (np.asarray(n.v_leak) - self.v + np.asarray(n.r) * self.i)
        elif kind in ("IF", "I"):
            self.v = self.v + np.asarray(n.r) * x
        else:
            raise NotImplementedError(f"reference interpreter: no rule for NIR node {kind}")
        if kind in ("LI", "CubaLI", "I"):
            return self.v.copy()
        s = (self.v > np.asarray(n.v_threshold)).astype(float)
        self.v = np.where(s > 0, np.asarray(n.v_reset), self.v)
        return s


def simulate(graph, xs, dt, *, record=None):
    """Run `graph` on inputs `xs` (time on axis 0, one sample); returns the Output node's values `[time, ...]`.

    With `record` (a node name), also returns that node's membrane over time.
    """
    nodes, edges, inputs, outputs = _flatten(graph)
    (start,), (end,) = [n for n in inputs if n in graph.nodes], [n for n in outputs if n in graph.nodes]
    # Depth-first walk: reverse post-order; an edge to a node still on the stack closes a cycle.
    order, seen, on_stack, back = [], set(), set(), set()

    def visit(n):
        seen.add(n)
        on_stack.add(n)
        for t in sorted({b for a, b in edges if a == n}):
            if t in on_stack:
                back.add((n, t))
            elif t not in seen:
                visit(t)
        on_stack.discard(n)
        order.append(n)

    visit(start)
    order.reverse()
    sims = {n: _NodeSim(nodes[n], dt) for n in order}
    last = {}
    ys, trace = [], []
    for x in np.asarray(xs, float):
        out = {}
        for n in order:
            if n == start:
                total = x
            else:
                total = None
                for a, b in edges:
                    if b != n:
                        continue
                    value = last.get(a) if (a, n) in back else out[a]
                    if value is None:
                        continue
                    total = value if total is None else total + value
            out[n] = sims[n].step(total)
        last = out
        ys.append(out[end])
        if record is not None:
            trace.append(sims[record].v.copy())
    ys = np.stack(ys)
    return (ys, np.stack(trace)) if record is not None else ys
