"""Layers that join any connection (an equinox module) with any neuron."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ..neurons import AbstractNeuron
from ._base import AbstractLayer, LayerSignals, Scan, apply_connection, connection_output_shape, plain_signals


class Layer(AbstractLayer):
    r"""A feed-forward spiking layer: a stateless connection followed by a neuron.

    $$I_t = f_W(x_t),\qquad (n_t, s_t) = \text{neuron}(n_{t-1}, I_t)$$

    The connection is any one-sample callable, typically from `equinox.nn`: `Linear`,
    `Conv1d/2d/3d`, or a `Sequential` of them. Over a sequence the connection is applied to
    all time steps at once (one large matmul or convolution), and only the neuron is scanned.

    **Arguments:**

    - `connection`: one-sample map from input to input current.
    - `neuron`: any [`spikax.neurons.AbstractNeuron`][].

    **Example:**

    ```python
    layer = spikax.layers.Layer(eqx.nn.Linear(10, 32, key=key), spikax.neurons.LIF())
    state = layer.init_state((10,))
    state, spikes = layer(state, jnp.ones(10))
    ```
    """

    connection: Callable
    neuron: AbstractNeuron

    def __check_init__(self):
        _check_neuron("spikax.layers.Layer", self.neuron)

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        shape = connection_output_shape("spikax.layers.Layer", self.connection, input_shape, dtype)
        return self.neuron.init_state(shape, dtype)

    def feedforward(self, x):
        """The stateless part, $f_W(x_t)$ (over a sequence it is applied to all steps at once)."""
        return apply_connection("spikax.layers.Layer", self.connection, x)

    def advance(self, state, feedforward):
        """The stateful part: `(new_state, y, recurrent_input, current)` from $f_W(x_t)$."""
        new_state, y = self.neuron(state, feedforward)
        return new_state, y, None, feedforward

    def neuron_state(self, state):
        """The neuron's own state inside this layer's state (here: the state itself)."""
        return state

    def synapses(self):
        return (("connection", "input"),)

    def step(self, state, x):
        new_state, y, recurrent_input, current = self.advance(state, self.feedforward(x))
        return new_state, y, LayerSignals(x, recurrent_input, current, y)

    def sequence(self, state, xs, *, scan: Scan = lax.scan):
        return _neuron_sequence(self, state, xs, scan)


class RecurrentState(NamedTuple):
    """State of [`spikax.layers.Recurrent`][]."""

    neuron: Any  # the neuron's own state
    spikes: jax.Array  # the layer's output at the previous step, fed back


class Recurrent(AbstractLayer):
    r"""A recurrent spiking layer: the previous step's spikes return through their own connection.

    $$I_t = f_W(x_t) + g_R(s_{t-1}),\qquad (n_t, s_t) = \text{neuron}(n_{t-1}, I_t)$$

    Linear or convolutional, with any neuron: e.g. a recurrent convolutional ALIF layer is
    `Recurrent(eqx.nn.Conv2d(2, 8, 3, padding=1, key=k1), eqx.nn.Conv2d(8, 8, 3, padding=1, key=k2), ALIF())`.
    The feed-forward part $f_W$ is applied to the whole sequence at once; the recurrence is scanned.

    **Arguments:**

    - `connection`: one-sample feed-forward map $f_W$.
    - `recurrent`: one-sample map $g_R$ from the layer's output back to its input current
      (output shape must equal the layer's output shape).
    - `neuron`: any neuron.

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    rnn = spikax.layers.Recurrent(eqx.nn.Linear(4, 16, key=k1), eqx.nn.Linear(16, 16, key=k2),
                                  spikax.neurons.LIF())
    state, s = rnn(rnn.init_state((4,)), jnp.ones(4))
    ```
    """

    connection: Callable
    recurrent: Callable
    neuron: AbstractNeuron

    def __check_init__(self):
        _check_neuron("spikax.layers.Recurrent", self.neuron)

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        owner = "spikax.layers.Recurrent"
        shape = connection_output_shape(owner, self.connection, input_shape, dtype)
        back = connection_output_shape(owner + " (recurrent connection)", self.recurrent, shape, dtype)
        if back != shape:
            raise ValueError(
                f"`{owner}`: the recurrent connection maps the layer's output {shape} to {back}; it must map "
                f"back to {shape}. Give it as many outputs as the feed-forward connection (for convolutions, "
                "'same' padding and stride 1)."
            )
        neuron_state = self.neuron.init_state(shape, dtype)
        out = jax.eval_shape(lambda s, i: self.neuron(s, i)[1], neuron_state, jnp.zeros(shape, _dtype(neuron_state)))
        return RecurrentState(neuron=neuron_state, spikes=jnp.zeros(out.shape, out.dtype))

    def feedforward(self, x):
        """The stateless part, $f_W(x_t)$ (over a sequence it is applied to all steps at once)."""
        return apply_connection("spikax.layers.Recurrent", self.connection, x)

    def advance(self, state: RecurrentState, feedforward):
        """The stateful part: `(new_state, y, recurrent_input, current)` from $f_W(x_t)$."""
        current = feedforward + apply_connection("spikax.layers.Recurrent", self.recurrent, state.spikes)
        neuron_state, spikes = self.neuron(state.neuron, current)
        return RecurrentState(neuron=neuron_state, spikes=spikes), spikes, state.spikes, current

    def neuron_state(self, state: RecurrentState):
        """The neuron's own state inside this layer's state."""
        return state.neuron

    def synapses(self):
        return (("connection", "input"), ("recurrent", "recurrent_input"))

    def with_output(self, state: RecurrentState, y):
        return RecurrentState(neuron=state.neuron, spikes=y)

    def step(self, state: RecurrentState, x):
        new_state, y, recurrent_input, current = self.advance(state, self.feedforward(x))
        return new_state, y, LayerSignals(x, recurrent_input, current, y)

    def sequence(self, state, xs, *, scan: Scan = lax.scan):
        return _neuron_sequence(self, state, xs, scan)


class AbstractStateless(AbstractLayer):
    """A layer without state (`None`): a one-sample function `fn`, applied to all time steps at once."""

    @abc.abstractmethod
    def apply(self, x):
        """The one-sample function."""

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        connection_output_shape(_owner(self), self.apply, input_shape, dtype)  # validates the shape
        return None

    def output_shape(self, input_shape, dtype=None):
        return connection_output_shape(_owner(self), self.apply, input_shape, dtype)

    def step(self, state, x):
        y = apply_connection(_owner(self), self.apply, x)
        return state, y, plain_signals(x, y)

    def sequence(self, state, xs, *, scan: Scan = lax.scan):
        del scan
        return state, jax.vmap(lambda x: apply_connection(_owner(self), self.apply, x))(xs)


def _neuron_sequence(layer, state, xs, scan: Scan):
    """A layer with a neuron over a sequence: the feed-forward part on all steps at once, then its `advance` scanned."""
    feedforward = jax.vmap(layer.feedforward)(xs)
    return scan(lambda s, i: layer.advance(s, i)[:2], state, feedforward)


def _owner(layer) -> str:
    return f"spikax.layers.{type(layer).__name__}"


class Stateless(AbstractStateless):
    """Wrap a stateless one-sample function (pooling, flatten, an `eqx.nn` module) as a layer.

    Its state is `None`; over a sequence it is applied to all time steps at once.

    **Example:**

    ```python
    pool = spikax.layers.Stateless(eqx.nn.AvgPool2d(2, 2))
    _, y = pool(None, jnp.ones((1, 4, 4)))  # y.shape == (1, 2, 2)
    ```
    """

    fn: Callable

    def apply(self, x):
        return self.fn(x)


def as_layer(block) -> AbstractLayer:
    """A layer as is; a neuron as a layer with the identity connection; any other callable as `Stateless`.

    This is how [`spikax.Chain`][] accepts its blocks.

    **Example:**

    ```python
    spikax.layers.as_layer(spikax.neurons.LIF())      # Layer(Identity(), LIF())
    spikax.layers.as_layer(eqx.nn.AvgPool2d(2, 2))    # Stateless(AvgPool2d)
    ```
    """
    if isinstance(block, AbstractLayer):
        return block
    if isinstance(block, AbstractNeuron):
        return Layer(eqx.nn.Identity(), block)
    if callable(block):
        return Stateless(block)
    raise TypeError(
        f"`spikax`: cannot use a {type(block).__name__} as a layer. Pass a spikax layer, a neuron, or a "
        "one-sample callable such as an `equinox.nn` module."
    )


DENSE_GAIN = 3.0
RECURRENT_GAIN = 1.0


def dense(in_features: int, out_features: int, neuron: AbstractNeuron, *, key, use_bias: bool = True,
          gain: float = DENSE_GAIN, dtype=None) -> Layer:
    r"""A fully connected feed-forward layer, `Layer(eqx.nn.Linear(in, out), neuron)`, initialised to spike.

    **Spiking-aware initialisation.** The weights are drawn as
    $W_{ij} \sim \mathcal N(0,\ g^2 / n_\text{in})$ with gain $g$ = `gain` (default 3), and the
    bias is zero. The usual $1/\sqrt{n_\text{in}}$ scale (equinox's default) gives input currents
    of standard deviation about $0.6$ on unit-scale input, and a LIF membrane
    $v_t = \beta v_{t-1} + (1-\beta) I_t$ low-pass filters them: for input that changes every
    step, the membrane's standard deviation is only $\sigma_I\sqrt{(1-\beta)/(1+\beta)}$
    (0.13 for $\beta = 0.9$), far below the threshold 1, so a fresh network is silent and its
    surrogate gradients nearly vanish. With $g = 3$ the membrane fluctuates by about 0.7 of the
    threshold ($\beta = 0.9$), so a fresh layer on unit-scale input (Gaussian, rate-coded in
    $[0, 1]$, or constant) fires: a few percent of the steps, in a quarter to all of its neurons.
    This is the fluctuation-driven view of Rossbroich, Gygax & Zenke (2022, *Neuromorph. Comput.
    Eng.* 2:044016): set the weight scale so the membrane's fluctuations reach the threshold.
    A layer fed by sparse spikes (a deeper layer) sees much smaller inputs than unit scale: give
    it a larger gain (e.g. 10 for input spike rates of a few percent). Pass `gain=1 / 3 ** 0.5`
    for equinox's scale, or build the `Layer` yourself for any other initialisation.

    **Arguments:**

    - `in_features`, `out_features`: input and output sizes (positive ints).
    - `neuron`: any [`spikax.neurons.AbstractNeuron`][].
    - `key`: PRNG key for the weights (keyword-only).
    - `use_bias`: add a bias (initialised to zero).
    - `gain`: $g$ above (positive).
    - `dtype`: the weights' dtype (default: JAX's default float).

    **Returns:**

    A [`spikax.layers.Layer`][].

    **Example:**

    ```python
    layer = spikax.layers.dense(784, 128, spikax.neurons.LIF(), key=jax.random.key(0))
    ```
    """
    owner = "spikax.layers.dense"
    return Layer(_spiking_linear(owner, in_features, out_features, use_bias, gain, dtype, key), neuron)


def recurrent_dense(in_features: int, out_features: int, neuron: AbstractNeuron, *, key, use_bias: bool = True,
                    gain: float = DENSE_GAIN, recurrent_gain: float = RECURRENT_GAIN, dtype=None) -> Recurrent:
    r"""A fully connected recurrent layer (bias on the feed-forward path only), initialised to spike.

    The feed-forward weights follow [`spikax.layers.dense`][]'s spiking-aware initialisation,
    $W \sim \mathcal N(0, g^2/n_\text{in})$ with `gain` $g = 3$; the recurrent weights are
    $V \sim \mathcal N(0, g_r^2/n_\text{out})$ with `recurrent_gain` $g_r = 1$, small enough that
    the recurrent spikes do not take over the input-driven activity at the start of training.

    **Arguments:**

    - `in_features`, `out_features`: input size and number of neurons (positive ints).
    - `neuron`: any [`spikax.neurons.AbstractNeuron`][].
    - `key`: PRNG key for the weights (keyword-only).
    - `use_bias`: add a bias to the feed-forward path (initialised to zero).
    - `gain`, `recurrent_gain`: $g$ and $g_r$ above (positive).
    - `dtype`: the weights' dtype (default: JAX's default float).

    **Returns:**

    A [`spikax.layers.Recurrent`][].

    **Example:**

    ```python
    rnn = spikax.layers.recurrent_dense(40, 100, spikax.neurons.ALIF(), key=jax.random.key(0))
    ```
    """
    owner = "spikax.layers.recurrent_dense"
    k1, k2 = jax.random.split(key)
    return Recurrent(
        _spiking_linear(owner, in_features, out_features, use_bias, gain, dtype, k1),
        _spiking_linear(owner, out_features, out_features, False, recurrent_gain, dtype, k2, name="out_features"),
        neuron,
    )


def _spiking_linear(owner, n_in, n_out, use_bias, gain, dtype, key, *, name="in_features"):
    """`eqx.nn.Linear(n_in, n_out)` with weights N(0, gain^2 / n_in) and a zero bias (see `dense`)."""
    for arg, value in ((name, n_in), ("out_features", n_out)):
        if isinstance(value, bool) or not hasattr(value, "__index__") or value < 1:
            raise ValueError(f"`{owner}`: `{arg}` must be a positive int, got {value!r}. Pass the layer's size, "
                             f"e.g. `{owner.rsplit('.', 1)[-1]}(784, 128, neuron, key=key)`.")
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not gain > 0:
        raise ValueError(f"`{owner}`: the weight gain must be a positive number, got {gain!r}. "
                         f"The default is {DENSE_GAIN} (recurrent weights: {RECURRENT_GAIN}).")
    linear = eqx.nn.Linear(int(n_in), int(n_out), use_bias=use_bias, dtype=dtype, key=key)
    weight = (gain / int(n_in) ** 0.5) * jax.random.normal(key, linear.weight.shape, linear.weight.dtype)
    linear = eqx.tree_at(lambda m: m.weight, linear, weight)
    if use_bias:
        linear = eqx.tree_at(lambda m: m.bias, linear, jnp.zeros_like(linear.bias))
    return linear


def _check_neuron(owner: str, neuron) -> None:
    if not isinstance(neuron, AbstractNeuron):
        raise TypeError(
            f"`{owner}`: `neuron` must be a spikax neuron, got {type(neuron).__name__}. "
            "Pass e.g. `spikax.neurons.LIF()`."
        )


def _dtype(tree):
    return jax.tree_util.tree_leaves(tree)[0].dtype
