"""Networks with arbitrary wiring: skip connections, and feedback that arrives one step later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ..layers import AbstractLayer
from ..layers._base import Scan, state_shapes
from ..layers._layers import as_layer

INPUT = "input"


class GraphState(NamedTuple):
    """State of [`spikax.Graph`][]."""

    nodes: dict[str, Any]  # each node's own state, by name
    feedback: dict[str, Any]  # the previous step's output of every node that feeds back, by name


class Graph(AbstractLayer):
    r"""A network of named layers wired by edges; skip connections and feedback between layers.

    Each node receives the **sum** of the outputs of its sources. The network's input is the
    source `"input"`. Nodes are evaluated in the given order; an edge `(src, dst)` where `src`
    is `dst` itself or comes **after** `dst` in that order is *feedback*: it carries `src`'s
    output of the previous step (zeros at the first step), so

    $$x^{(v)}_t = \sum_{u \to v\ \text{forward}} y^{(u)}_t + \sum_{u \to v\ \text{feedback}} y^{(u)}_{t-1},
      \qquad (\text{state}^{(v)}_t, y^{(v)}_t) = \text{node}_v(\text{state}^{(v)}_{t-1}, x^{(v)}_t).$$

    The state holds every node's state and the last outputs of the nodes that feed back.
    Over a sequence ([`spikax.run`][]), the nodes before and after the feedback loop run node
    by node over the whole sequence (stateless connections become one large matmul or
    convolution); only the nodes from the first feedback destination to the last feedback
    source are scanned step by step. Without feedback nothing is scanned but the neurons.

    **Arguments:**

    - `nodes`: a mapping name -> block (a spikax layer, a neuron or a stateless callable), in
      evaluation order. `"input"` is reserved.
    - `edges`: pairs `(src, dst)`; `src` is `"input"` or a node, `dst` a node.
    - `output`: the node whose output the graph returns (default: the last node).

    **Example:**

    ```python
    k0, k1, k2, k3 = jax.random.split(jax.random.key(0), 4)
    lif = spikax.neurons.LIF()
    net = spikax.Graph(
        nodes={"enc": eqx.nn.Linear(4, 8, key=k0),                  # stateless projection
               "a": spikax.layers.dense(8, 8, lif, key=k1),
               "b": spikax.layers.dense(8, 8, lif, key=k2),
               "out": spikax.layers.dense(8, 2, lif, key=k3)},
        edges=[("input", "enc"), ("enc", "a"), ("a", "b"), ("b", "out"),
               ("a", "out"),   # skip connection
               ("b", "a")],    # feedback: b's spikes reach a one step later
        output="out",
    )
    state, ys = spikax.run(net, net.init_state((4,)), jnp.ones((100, 4)))  # ys: (100, 2)
    ```

    A feedback source must have the shape of its destination's forward input.
    """

    nodes: dict[str, AbstractLayer]
    order: tuple[str, ...] = eqx.field(static=True)
    edges: tuple[tuple[str, str], ...] = eqx.field(static=True)
    output: str = eqx.field(static=True)

    def __init__(self, nodes: Mapping[str, Any], edges: Sequence[tuple[str, str]], output: str | None = None):
        owner = "spikax.Graph"
        if not isinstance(nodes, Mapping) or not nodes:
            raise TypeError(f"`{owner}`: `nodes` must be a non-empty mapping name -> layer, got {type(nodes).__name__}.")
        order = tuple(nodes)
        for name in order:
            if not isinstance(name, str) or name == INPUT:
                raise ValueError(f"`{owner}`: node names must be strings other than {INPUT!r}, got {name!r}.")
        edges = tuple((src, dst) for src, dst in edges)
        for src, dst in edges:
            if src != INPUT and src not in nodes:
                raise ValueError(f"`{owner}`: edge ({src!r}, {dst!r}) starts at an unknown node; nodes are "
                                 f"{list(order)} and the network input is {INPUT!r}.")
            if dst not in nodes:
                raise ValueError(f"`{owner}`: edge ({src!r}, {dst!r}) ends at an unknown node; nodes are {list(order)}.")
        if len(set(edges)) != len(edges):
            raise ValueError(f"`{owner}`: duplicate edges in {list(edges)}; each pair may appear once.")
        output = order[-1] if output is None else output
        if output not in nodes:
            raise ValueError(f"`{owner}`: output {output!r} is not a node; nodes are {list(order)}.")
        self.order, self.edges, self.output = order, edges, output
        self.nodes = {name: as_layer(nodes[name]) for name in order}
        # Every node needs a forward source, so that its input shape is known from the network input.
        for name in order:
            if not self._sources(name, feedback=False):
                raise ValueError(
                    f"`{owner}`: node {name!r} has no forward source (an edge from 'input' or from an earlier "
                    "node), so its input shape cannot be inferred. Add one, or reorder the nodes."
                )

    # -- wiring ---------------------------------------------------------------------------------
    def is_feedback(self, src: str, dst: str) -> bool:
        """Whether the edge `(src, dst)` carries the previous step's output."""
        return src != INPUT and self.order.index(src) >= self.order.index(dst)

    def _sources(self, dst: str, *, feedback: bool) -> list[str]:
        return [src for src, d in self.edges if d == dst and self.is_feedback(src, dst) == feedback]

    @property
    def feedback_sources(self) -> tuple[str, ...]:
        """Nodes whose output is fed back (kept in the state for one step)."""
        return tuple(name for name in self.order if any(self.is_feedback(name, d) for s, d in self.edges if s == name))

    # -- shapes and state -----------------------------------------------------------------------
    def _shapes(self, input_shape, dtype):
        """Input and output shape of every node (checked), by name."""
        outs = {INPUT: tuple(input_shape)}
        ins = {}
        for name in self.order:
            shapes = {src: outs[src] for src in self._sources(name, feedback=False)}
            ins[name] = self._common(name, shapes, "forward sources")
            outs[name] = self.nodes[name].output_shape(ins[name], dtype)
        for name in self.order:
            back = {src: outs[src] for src in self._sources(name, feedback=True)}
            self._common(name, {**back, "its forward input": ins[name]}, "sources (feedback included)")
        return ins, outs

    @staticmethod
    def _common(name, shapes: dict, what: str):
        distinct = set(shapes.values())
        if len(distinct) > 1:
            raise ValueError(
                f"`spikax.Graph`: the {what} of node {name!r} have different shapes {shapes}; a node's input is "
                "the sum of its sources, so they must match. Add a connection (e.g. an `eqx.nn.Linear`) to adapt one."
            )
        return distinct.pop()

    def init_state(self, input_shape, dtype=None, *, key=None):
        ins, outs = self._shapes(input_shape, dtype)
        keys = dict(zip(self.order, jax.random.split(key, len(self.order)))) if key is not None else {}
        states = {name: self.nodes[name].init_state(ins[name], dtype, key=keys.get(name)) for name in self.order}
        feedback = {}
        for name in self.feedback_sources:
            y = jax.eval_shape(lambda s, x, n=name: self.nodes[n](s, x)[1],
                               state_shapes(self.nodes[name], ins[name], dtype),
                               jax.ShapeDtypeStruct(ins[name], _default(dtype)))
            feedback[name] = jnp.zeros(outs[name], y.dtype)
        return GraphState(nodes=states, feedback=feedback)

    def output_shape(self, input_shape, dtype=None):
        return self._shapes(input_shape, dtype)[1][self.output]

    # -- running ---------------------------------------------------------------------------------
    def _gather(self, name, outs, feedback):
        total = None
        for src in self._sources(name, feedback=False):
            total = outs[src] if total is None else total + outs[src]
        for src in self._sources(name, feedback=True):
            total = total + feedback[src].astype(total.dtype)
        return total

    def step(self, state: GraphState, x):
        """One step through every node: `(new_state, y, signals)`, `signals` a dict from node name to its
        [`spikax.layers.LayerSignals`][] (see [`spikax.layers.AbstractLayer.step`][])."""
        outs = {INPUT: x}
        nodes, signals = {}, {}
        for name in self.order:
            nodes[name], outs[name], signals[name] = self.nodes[name].step(
                state.nodes[name], self._gather(name, outs, state.feedback))
        feedback = {name: outs[name] for name in self.feedback_sources}
        return GraphState(nodes=nodes, feedback=feedback), outs[self.output], signals

    def _loop_span(self) -> tuple[int, int] | None:
        """First and last position (in node order) of the part that feedback makes recurrent."""
        feedback = [(src, dst) for src, dst in self.edges if self.is_feedback(src, dst)]
        if not feedback:
            return None
        return (min(self.order.index(dst) for _, dst in feedback), max(self.order.index(src) for src, _ in feedback))

    def sequence(self, state: GraphState, xs, *, scan: Scan = lax.scan):
        """The whole sequence: nodes outside the feedback loop run node by node over all steps at
        once (stateless connections become one large call); only the loop is scanned step by step."""
        span = self._loop_span()
        first, last = (len(self.order), len(self.order) - 1) if span is None else span
        prefix, loop, suffix = self.order[:first], self.order[first:last + 1], self.order[last + 1:]
        outs = {INPUT: xs}
        nodes = {}
        for name in prefix:  # no feedback reaches these nodes, and none leaves them
            nodes[name], outs[name] = self.nodes[name].sequence(state.nodes[name], self._gather(name, outs, {}),
                                                                scan=scan)
        feedback = state.feedback
        if loop:
            needed_in = sorted({src for src, dst in self.edges if dst in loop and (src == INPUT or src in prefix)})
            needed_out = sorted({src for src, dst in self.edges if src in loop and dst in suffix}
                                | ({self.output} & set(loop)))

            def step(carry, inputs):
                loop_states, feedback = carry
                step_outs = dict(inputs)
                new_states = {}
                for name in loop:
                    new_states[name], step_outs[name] = self.nodes[name](
                        loop_states[name], self._gather(name, step_outs, feedback))
                new_feedback = {name: step_outs[name] for name in self.feedback_sources}
                return (new_states, new_feedback), {name: step_outs[name] for name in needed_out}

            carry = ({name: state.nodes[name] for name in loop}, feedback)
            (loop_states, feedback), loop_outs = scan(step, carry, {name: outs[name] for name in needed_in})
            nodes.update(loop_states)
            outs.update(loop_outs)
        for name in suffix:  # after the loop: again whole sequences
            nodes[name], outs[name] = self.nodes[name].sequence(state.nodes[name], self._gather(name, outs, {}),
                                                                scan=scan)
        return GraphState(nodes={name: nodes[name] for name in self.order}, feedback=feedback), outs[self.output]

def _default(dtype):
    return jnp.result_type(float) if dtype is None else dtype
