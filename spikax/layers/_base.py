"""The layer interface shared by every building block of a network."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ..neurons._base import default_dtype

Scan = Callable[..., Any]  # same signature as `jax.lax.scan(f, carry, xs)`


class LayerSignals(NamedTuple):
    r"""What one layer step saw and produced, for learning rules: the layer's side of [`spikax.layers.AbstractLayer.step`][].

    Online learners and plasticity rules read these instead of re-deriving the layer's equation
    $I_t = f_W(x_t) + g_R(s_{t-1})$, $(n_t, y_t) = \text{neuron}(n_{t-1}, I_t)$.

    - `input`: $x_t$, what the layer's feed-forward connection received.
    - `recurrent_input`: $s_{t-1}$, the previous output fed to the recurrent connection
      ([`spikax.layers.Recurrent`][]), else None.
    - `current`: $I_t$, the neuron's pre-activation (its input current); None for layers
      without a neuron.
    - `output`: $y_t$, the layer's output (spikes for spiking layers).

    **Example:**

    ```python
    rnn = spikax.layers.recurrent_dense(3, 4, spikax.neurons.LIF(), key=key)
    state, y, signals = rnn.step(rnn.init_state((3,)), jnp.ones(3))
    signals.recurrent_input  # the previous spikes, fed back through `rnn.recurrent`
    ```
    """

    input: Any
    recurrent_input: Any
    current: Any
    output: Any


def plain_signals(x, y) -> LayerSignals:
    """The signals of a layer without a neuron or recurrence: only its input and output."""
    return LayerSignals(input=x, recurrent_input=None, current=None, output=y)


class AbstractLayer(eqx.Module):
    """A building block of a network: a pure step `(state, x) -> (state, y)` on one sample.

    Subclasses implement `init_state` and `step(state, x) -> (state, y, signals)`, the one
    place their equation lives; `signals` is a [`spikax.layers.LayerSignals`][] (a tuple or
    dict of them for networks). `layer(state, x)` is the same step without the signals.
    `sequence` runs a whole sequence (time on axis 0); the default scans the step, and layers
    override it to apply their stateless parts to all time steps at once, which must give the
    same result.

    `init_state(input_shape, dtype=None, *, key=None)` infers every internal shape from the
    input shape of one sample. `key` is only needed by layers that draw something once per
    sequence (e.g. [`spikax.layers.Dropout`][]'s mask); others ignore it.
    """

    # `lax.scan(neuron, state, xs)` hashes its body; equinox's field-wise hash fails on arrays
    # (and on tracers under `grad`), so hash by identity: equal copies only miss a cache.
    def __hash__(self):
        return id(self)

    @abc.abstractmethod
    def init_state(self, input_shape: tuple[int, ...], dtype=None, *, key=None) -> Any:
        """The initial state for one sample whose input has shape `input_shape`."""

    @abc.abstractmethod
    def step(self, state, x):
        """One time step on one sample: `(new_state, y, signals)`.

        **Example:**

        ```python
        layer = spikax.layers.dense(3, 4, spikax.neurons.LIF(), key=key)
        state, y, signals = layer.step(layer.init_state((3,)), jnp.ones(3))
        # signals.input is the input, signals.current the neuron's input current, signals.output == y
        ```
        """

    def synapses(self) -> tuple[tuple[str, str], ...]:
        """The connections feeding this layer's neuron: `(field name, LayerSignals field of their input)` pairs.

        Learning rules read it to find each weight's presynaptic signal, e.g. `(("connection", "input"),)`
        for [`spikax.layers.Layer`][]; empty (the default) for a layer without a neuron.
        """
        return ()

    def with_output(self, state, y):
        """The new state of this layer had its step output `y`: a layer that keeps its output for the next step
        (e.g. [`spikax.layers.Recurrent`][]) stores `y` there; others return `state` unchanged.

        Learners use it to perturb a layer's output everywhere it is used (probes for spatial learning signals).
        """
        del y
        return state

    def __call__(self, state, x):
        """One time step on one sample: `(new_state, y)` (the step without its signals)."""
        state, y, _ = self.step(state, x)
        return state, y

    def output_shape(self, input_shape: tuple[int, ...], dtype=None) -> tuple[int, ...]:
        """The shape of `y` for an input of shape `input_shape` (computed without FLOPs)."""
        dtype = default_dtype(dtype)
        x = jax.ShapeDtypeStruct(tuple(input_shape), dtype)
        return tuple(jax.eval_shape(lambda x: self(state_shapes(self, input_shape, dtype, concrete=True), x)[1], x).shape)

    def sequence(self, state, xs, *, scan: Scan = lax.scan):
        """Run over `xs` (time on axis 0); returns `(final_state, ys)`."""
        return scan(lambda s, x: self(s, x), state, xs)


def apply_connection(owner: str, connection: Callable, x):
    """Call `connection(x)`, turning an obscure shape failure into an actionable error."""
    try:
        if _is_matrix_linear(connection, x):
            # `x @ W.T` rather than equinox's `W @ x`: the same numbers, but under `vmap` (time, batch) the
            # product comes out (..., out) directly instead of (out, ...) followed by a transpose of the
            # whole sequence (a 1.2-1.4x slowdown of a LIF layer's forward+backward on CPU).
            y = x @ connection.weight.T
            return y if connection.bias is None else y + connection.bias
        return connection(x)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{owner}`: its connection {type(connection).__name__} cannot take an input of shape "
            f"{getattr(x, 'shape', None)}: {error}. Layers take one sample (no batch or time axis); "
            "check the input size of the first connection, use `jax.vmap` for a batch and `spikax.run` for time."
        ) from error


def _is_matrix_linear(connection, x) -> bool:
    return (type(connection) is eqx.nn.Linear and jnp.ndim(connection.weight) == 2 and jnp.ndim(x) == 1
            and jnp.shape(x)[0] == connection.weight.shape[1])


def connection_output_shape(owner: str, connection: Callable, input_shape, dtype) -> tuple[int, ...]:
    """The output shape of a stateless connection, with a clear error for a bad input shape."""
    x = jax.ShapeDtypeStruct(tuple(input_shape), default_dtype(dtype))
    return tuple(jax.eval_shape(lambda x: apply_connection(owner, connection, x), x).shape)


def state_shapes(model, input_shape, dtype=None, *, concrete: bool = False):
    """`model.init_state(input_shape, dtype)` with a dummy key (for layers that need one).

    With `concrete=False` only shapes are computed (`jax.eval_shape`), without FLOPs.
    """
    make = lambda: model.init_state(tuple(input_shape), dtype, key=jax.random.key(0))  # noqa: E731
    return make() if concrete else jax.eval_shape(make)
