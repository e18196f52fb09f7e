"""Networks with arbitrary wiring: skip connections and feedback (torch twin of `spikax.Graph`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch

from ..layers import AbstractLayer
from ..layers._base import Scan, python_scan
from ..layers._layers import as_layer

INPUT = "input"


class GraphState(NamedTuple):
    """State of [`spikax_torch.Graph`][]."""

    nodes: dict[str, Any]  # each node's own state, by name
    feedback: dict[str, Any]  # the previous step's output of every node that feeds back, by name


class Graph(AbstractLayer):
    r"""A network of named layers wired by edges; skip connections and feedback between layers.

    As [`spikax.Graph`][]: each node receives the sum of its sources' outputs; an edge from a node
    to itself or to an earlier node is feedback and carries the previous step's output:
    $x^{(v)}_t = \sum_{u\to v\ \text{fwd}} y^{(u)}_t + \sum_{u\to v\ \text{fb}} y^{(u)}_{t-1}$.
    Over a sequence, the nodes before and after the feedback loop run over the whole sequence
    at once; only the loop is stepped.

    **Arguments:** `nodes` (name -> block, in evaluation order), `edges` (pairs `(src, dst)`, with
    `"input"` the network input), `output` (default: the last node).

    **Example:**

    ```python
    net = spikax_torch.Graph(
        nodes={"enc": torch.nn.Linear(4, 8),
               "a": spikax_torch.layers.dense(8, 8, spikax_torch.neurons.LIF(), key=0),
               "b": spikax_torch.layers.dense(8, 8, spikax_torch.neurons.LIF(), key=1)},
        edges=[("input", "enc"), ("enc", "a"), ("a", "b"), ("b", "a")])  # b's spikes reach a one step later
    state, ys = spikax_torch.run(net, None, torch.ones(100, 16, 4))  # ys: (100, 16, 8)
    ```
    """

    def __init__(self, nodes: Mapping[str, Any], edges: Sequence[tuple[str, str]], output: str | None = None):
        super().__init__()
        owner = "spikax_torch.Graph"
        if not isinstance(nodes, Mapping) or not nodes:
            raise TypeError(f"`{owner}`: `nodes` must be a non-empty mapping name -> layer, got {type(nodes).__name__}.")
        order = tuple(nodes)
        for name in order:
            if not isinstance(name, str) or name == INPUT:
                raise ValueError(f"`{owner}`: node names must be strings other than {INPUT!r}, got {name!r}.")
        edges = tuple((src, dst) for src, dst in edges)
        for src, dst in edges:
            if (src != INPUT and src not in nodes) or dst not in nodes:
                raise ValueError(f"`{owner}`: edge ({src!r}, {dst!r}) names an unknown node; nodes are {list(order)} "
                                 f"and the network input is {INPUT!r}.")
        if len(set(edges)) != len(edges):
            raise ValueError(f"`{owner}`: duplicate edges in {list(edges)}; each pair may appear once.")
        output = order[-1] if output is None else output
        if output not in nodes:
            raise ValueError(f"`{owner}`: output {output!r} is not a node; nodes are {list(order)}.")
        self.order, self.edges, self.output = order, edges, output
        self.nodes = torch.nn.ModuleDict({name: as_layer(nodes[name]) for name in order})
        for name in order:
            if not self._sources(name, feedback=False):
                raise ValueError(f"`{owner}`: node {name!r} has no forward source (an edge from 'input' or from an "
                                 "earlier node), so its input shape cannot be inferred.")

    def is_feedback(self, src: str, dst: str) -> bool:
        """Whether the edge `(src, dst)` carries the previous step's output."""
        return src != INPUT and self.order.index(src) >= self.order.index(dst)

    def _sources(self, dst, *, feedback):
        return [src for src, d in self.edges if d == dst and self.is_feedback(src, dst) == feedback]

    @property
    def feedback_sources(self) -> tuple[str, ...]:
        """Nodes whose output is fed back (kept in the state for one step)."""
        return tuple(name for name in self.order if any(self.is_feedback(name, d) for s, d in self.edges if s == name))

    def _shapes(self, input_shape, dtype):
        outs, ins = {INPUT: tuple(input_shape)}, {}
        for name in self.order:
            shapes = {tuple(outs[src]) for src in self._sources(name, feedback=False)}
            if len(shapes) > 1:
                raise ValueError(f"`spikax_torch.Graph`: the forward sources of node {name!r} have different shapes "
                                 f"{sorted(shapes)}; a node's input is the sum of its sources.")
            ins[name] = shapes.pop()
            outs[name] = tuple(self.nodes[name].output_shape(ins[name], dtype))
        for name in self.order:
            for src in self._sources(name, feedback=True):
                if outs[src] != ins[name]:
                    raise ValueError(f"`spikax_torch.Graph`: feedback from {src!r} has shape {outs[src]}, but node "
                                     f"{name!r} takes {ins[name]}.")
        return ins, outs

    def init_state(self, input_shape, dtype=None, *, key=None):
        ins, outs = self._shapes(input_shape, dtype)
        states = {name: self.nodes[name].init_state(ins[name], dtype, key=key) for name in self.order}
        feedback = {}
        for name in self.feedback_sources:
            with torch.no_grad():
                y = self.nodes[name](self.nodes[name].init_state(ins[name], dtype),
                                     torch.zeros(ins[name], dtype=dtype or torch.get_default_dtype()))[1]
            feedback[name] = torch.zeros(outs[name], dtype=y.dtype)
        return GraphState(nodes=states, feedback=feedback)

    def output_shape(self, input_shape, dtype=None):
        return self._shapes(input_shape, dtype)[1][self.output]

    def _gather(self, name, outs, feedback):
        total = None
        for src in self._sources(name, feedback=False):
            total = outs[src] if total is None else total + outs[src]
        for src in self._sources(name, feedback=True):
            total = total + feedback[src].to(total.dtype)
        return total

    def forward(self, state, x):
        if state is None:
            state = self.init_state(x.shape, x.dtype)
        outs, nodes = {INPUT: x}, {}
        for name in self.order:
            nodes[name], outs[name] = self.nodes[name](state.nodes[name], self._gather(name, outs, state.feedback))
        return GraphState(nodes=nodes, feedback={n: outs[n] for n in self.feedback_sources}), outs[self.output]

    def _loop_span(self):
        feedback = [(src, dst) for src, dst in self.edges if self.is_feedback(src, dst)]
        if not feedback:
            return None
        return (min(self.order.index(dst) for _, dst in feedback), max(self.order.index(src) for src, _ in feedback))

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        if state is None:
            state = self.init_state(xs.shape[1:], xs.dtype)
        span = self._loop_span()
        first, last = (len(self.order), len(self.order) - 1) if span is None else span
        prefix, loop, suffix = self.order[:first], self.order[first:last + 1], self.order[last + 1:]
        outs, nodes = {INPUT: xs}, {}
        for name in prefix:
            nodes[name], outs[name] = self.nodes[name].sequence(state.nodes[name], self._gather(name, outs, {}),
                                                                scan=scan)
        feedback = state.feedback
        if loop:
            needed_in = sorted({src for src, dst in self.edges if dst in loop and (src == INPUT or src in prefix)})
            needed_out = sorted({src for src, dst in self.edges if src in loop and dst in suffix}
                                | ({self.output} & set(loop)))

            def step(carry, inputs):
                loop_states, feedback = carry
                step_outs, new_states = dict(inputs), {}
                for name in loop:
                    new_states[name], step_outs[name] = self.nodes[name](
                        loop_states[name], self._gather(name, step_outs, feedback))
                new_feedback = {name: step_outs[name] for name in self.feedback_sources}
                return (new_states, new_feedback), {name: step_outs[name] for name in needed_out}

            carry = ({name: state.nodes[name] for name in loop}, feedback)
            (loop_states, feedback), loop_outs = scan(step, carry, {name: outs[name] for name in needed_in})
            nodes.update(loop_states)
            outs.update(loop_outs)
        for name in suffix:
            nodes[name], outs[name] = self.nodes[name].sequence(state.nodes[name], self._gather(name, outs, {}),
                                                                scan=scan)
        return GraphState(nodes={name: nodes[name] for name in self.order}, feedback=feedback), outs[self.output]
