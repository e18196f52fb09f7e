"""Layers that join any connection (a `torch.nn` module) with any neuron."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from .._pytree import tensor_leaves
from ..neurons import AbstractNeuron
from ._base import AbstractLayer, Scan, _device, apply_connection, apply_over_time, connection_output_shape, python_scan


class Layer(AbstractLayer):
    r"""A feed-forward spiking layer: a stateless connection followed by a neuron.

    $$I_t = f_W(x_t),\qquad (n_t, s_t) = \text{neuron}(n_{t-1}, I_t)$$

    The torch twin of [`spikax.layers.Layer`][]. Over a sequence the connection is applied to all
    time steps at once and only the neuron is looped over.

    **Arguments:**

    - `connection`: a `torch.nn` module (`Linear`, `Conv1d/2d/3d`, a `Sequential`, ...).
    - `neuron`: any [`spikax_torch.neurons.AbstractNeuron`][].

    **Example:**

    ```python
    layer = spikax_torch.layers.Layer(torch.nn.Linear(10, 32), spikax_torch.neurons.LIF())
    state, spikes = layer(None, torch.ones(8, 10))  # batch of 8; state made on first call
    ```
    """

    def __init__(self, connection: Callable, neuron: AbstractNeuron):
        super().__init__()
        _check_neuron("spikax_torch.layers.Layer", neuron)
        self.connection = connection
        self.neuron = neuron

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        shape = connection_output_shape("spikax_torch.layers.Layer", self.connection, input_shape, dtype, _device(self))
        return self.neuron.init_state(shape, dtype, _device(self))

    def forward(self, state, x):
        current = apply_connection("spikax_torch.layers.Layer", self.connection, x)
        return self.neuron(state, current)

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        currents = apply_over_time("spikax_torch.layers.Layer", self.connection, xs)
        if state is None:
            state = self.neuron.init_state(currents.shape[1:], currents.dtype, currents.device)
        with _param_cache(self.neuron, scan):
            return scan(self.neuron, state, currents)


class RecurrentState(NamedTuple):
    """State of [`spikax_torch.layers.Recurrent`][]."""

    neuron: Any  # the neuron's own state
    spikes: torch.Tensor  # the layer's output at the previous step, fed back


class Recurrent(AbstractLayer):
    r"""A recurrent spiking layer: the previous step's spikes return through their own connection.

    $$I_t = f_W(x_t) + g_R(s_{t-1}),\qquad (n_t, s_t) = \text{neuron}(n_{t-1}, I_t)$$

    The torch twin of [`spikax.layers.Recurrent`][]; linear or convolutional, with any neuron.

    **Arguments:** `connection` ($f_W$), `recurrent` ($g_R$, mapping the output back to its own
    shape), `neuron`.

    **Example:**

    ```python
    rnn = spikax_torch.layers.Recurrent(torch.nn.Linear(4, 16), torch.nn.Linear(16, 16, bias=False),
                                        spikax_torch.neurons.LIF())
    state, s = rnn(None, torch.ones(2, 4))
    ```
    """

    def __init__(self, connection: Callable, recurrent: Callable, neuron: AbstractNeuron):
        super().__init__()
        _check_neuron("spikax_torch.layers.Recurrent", neuron)
        self.connection = connection
        self.recurrent = recurrent
        self.neuron = neuron

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        owner = "spikax_torch.layers.Recurrent"
        device = _device(self)
        shape = connection_output_shape(owner, self.connection, input_shape, dtype, device)
        return self._state_for(shape, dtype, device)

    def _state_for(self, shape, dtype, device):
        owner = "spikax_torch.layers.Recurrent"
        back = connection_output_shape(owner + " (recurrent connection)", self.recurrent, shape, dtype, device)
        if back != tuple(shape):
            raise ValueError(
                f"`{owner}`: the recurrent connection maps the layer's output {tuple(shape)} to {back}; it must map "
                f"back to {tuple(shape)}. Give it as many outputs as the feed-forward connection (for convolutions, "
                "'same' padding and stride 1)."
            )
        neuron_state = self.neuron.init_state(shape, dtype, device)
        leaf = tensor_leaves(neuron_state)[0]
        with torch.no_grad():
            out = self.neuron(neuron_state, torch.zeros_like(leaf))[1]
        return RecurrentState(neuron=neuron_state, spikes=torch.zeros_like(out))

    def step(self, state: RecurrentState, feedforward):
        """One step given the feed-forward current $f_W(x_t)$."""
        current = feedforward + apply_connection("spikax_torch.layers.Recurrent", self.recurrent, state.spikes)
        neuron_state, spikes = self.neuron(state.neuron, current)
        return RecurrentState(neuron=neuron_state, spikes=spikes), spikes

    def forward(self, state, x):
        feedforward = apply_connection("spikax_torch.layers.Recurrent", self.connection, x)
        if state is None:
            state = self._state_for(feedforward.shape, feedforward.dtype, feedforward.device)
        return self.step(state, feedforward)

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        currents = apply_over_time("spikax_torch.layers.Recurrent", self.connection, xs)
        if state is None:
            state = self._state_for(currents.shape[1:], currents.dtype, currents.device)
        with _param_cache(self.neuron, scan):
            return scan(self.step, state, currents)


class AbstractStateless(AbstractLayer):
    """A layer without state (`None`): a one-step function `apply`, applied to all time steps at once."""

    @abc.abstractmethod
    def apply(self, x):
        """The one-step function."""

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        connection_output_shape(_owner(self), self.apply, input_shape, dtype, _device(self))  # validates the shape
        return None

    def output_shape(self, input_shape, dtype=None):
        return connection_output_shape(_owner(self), self.apply, input_shape, dtype, _device(self))

    def forward(self, state, x):
        return state, apply_connection(_owner(self), self.apply, x)

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        del scan
        return state, apply_over_time(_owner(self), self.apply, xs)


def _owner(layer) -> str:
    return f"spikax_torch.layers.{type(layer).__name__}"


class Stateless(AbstractStateless):
    """Wrap a stateless function (pooling, flatten, a `torch.nn` module) as a layer; its state is `None`.

    **Example:**

    ```python
    pool = spikax_torch.layers.Stateless(torch.nn.AvgPool2d(2, 2))
    _, y = pool(None, torch.ones(1, 4, 4))  # y.shape == (1, 2, 2)
    ```
    """

    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def apply(self, x):
        return self.fn(x)


def as_layer(block) -> AbstractLayer:
    """A layer as is; a neuron as a layer with the identity connection; any other callable as `Stateless`."""
    if isinstance(block, AbstractLayer):
        return block
    if isinstance(block, AbstractNeuron):
        return Layer(torch.nn.Identity(), block)
    if callable(block):
        return Stateless(block)
    raise TypeError(
        f"`spikax_torch`: cannot use a {type(block).__name__} as a layer. Pass a spikax_torch layer, a neuron, or "
        "a callable such as a `torch.nn` module."
    )


DENSE_GAIN = 3.0
RECURRENT_GAIN = 1.0


def dense(in_features: int, out_features: int, neuron: AbstractNeuron, *, key=None, use_bias: bool = True,
          gain: float = DENSE_GAIN, dtype=None) -> Layer:
    r"""A fully connected feed-forward layer, `Layer(torch.nn.Linear(in, out), neuron)`, initialised to spike.

    The same spiking-aware initialisation as `spikax.layers.dense`: weights
    $W_{ij} \sim \mathcal N(0,\ g^2 / n_\text{in})$ with gain $g$ = `gain` (default 3) and a zero
    bias, so that a fresh LIF layer on unit-scale input fires (torch's default
    $U(\pm 1/\sqrt{n_\text{in}})$ leaves the low-pass filtered membrane far below threshold).
    A layer fed by sparse spikes needs a larger gain (e.g. 10 for spike rates of a few percent).
    `key` may be a `torch.Generator` or an int seed for the weights (default: torch's global RNG).

    **Arguments:**

    - `in_features`, `out_features`: input and output sizes (positive ints).
    - `neuron`: any `spikax_torch.neurons` neuron.
    - `key`: a `torch.Generator`, an int seed, or `None`.
    - `use_bias`: add a bias (initialised to zero).
    - `gain`: $g$ above (positive).
    - `dtype`: the weights' dtype (default: torch's default dtype).

    **Example:**

    ```python
    layer = spikax_torch.layers.dense(784, 128, spikax_torch.neurons.LIF(), key=0)
    ```
    """
    owner = "spikax_torch.layers.dense"
    return Layer(_linear(owner, in_features, out_features, use_bias, gain, dtype, key), neuron)


def recurrent_dense(in_features: int, out_features: int, neuron: AbstractNeuron, *, key=None,
                    use_bias: bool = True, gain: float = DENSE_GAIN, recurrent_gain: float = RECURRENT_GAIN,
                    dtype=None) -> Recurrent:
    r"""A fully connected recurrent layer (bias on the feed-forward path only), initialised to spike.

    As `spikax.layers.recurrent_dense`: feed-forward weights $\mathcal N(0, g^2/n_\text{in})$
    with `gain` $g = 3$, recurrent weights $\mathcal N(0, g_r^2/n_\text{out})$ with
    `recurrent_gain` $g_r = 1$, zero bias.

    **Arguments:**

    - `in_features`, `out_features`: input size and number of neurons (positive ints).
    - `neuron`: any `spikax_torch.neurons` neuron.
    - `key`: a `torch.Generator`, an int seed, or `None`.
    - `use_bias`: add a bias to the feed-forward path (initialised to zero).
    - `gain`, `recurrent_gain`: $g$ and $g_r$ above (positive).
    - `dtype`: the weights' dtype.

    **Example:**

    ```python
    rnn = spikax_torch.layers.recurrent_dense(40, 100, spikax_torch.neurons.ALIF(), key=0)
    ```
    """
    owner = "spikax_torch.layers.recurrent_dense"
    generator = _generator(key)
    return Recurrent(_linear(owner, in_features, out_features, use_bias, gain, dtype, generator),
                     _linear(owner, out_features, out_features, False, recurrent_gain, dtype, generator,
                             name="out_features"), neuron)


def _generator(key):
    if key is None or isinstance(key, torch.Generator):
        return key
    return torch.Generator().manual_seed(int(key))


def _linear(owner, n_in, n_out, use_bias, gain, dtype, key, *, name="in_features"):
    """`torch.nn.Linear(n_in, n_out)` with weights N(0, gain^2 / n_in) and a zero bias (see `dense`)."""
    for arg, value in ((name, n_in), ("out_features", n_out)):
        if isinstance(value, bool) or not hasattr(value, "__index__") or value < 1:
            raise ValueError(f"`{owner}`: `{arg}` must be a positive int, got {value!r}. Pass the layer's size, "
                             f"e.g. `{owner.rsplit('.', 1)[-1]}(784, 128, neuron, key=0)`.")
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not gain > 0:
        raise ValueError(f"`{owner}`: the weight gain must be a positive number, got {gain!r}. "
                         f"The default is {DENSE_GAIN} (recurrent weights: {RECURRENT_GAIN}).")
    linear = torch.nn.Linear(int(n_in), int(n_out), bias=use_bias, dtype=dtype)
    with torch.no_grad():
        linear.weight.normal_(0.0, gain / int(n_in) ** 0.5, generator=_generator(key))
        if linear.bias is not None:
            linear.bias.zero_()
    return linear


def _param_cache(neuron, scan):
    """Compute the neuron's constrained parameters once per sequence, unless the scan recomputes
    its steps later (checkpointing), where the recomputation must repeat the original ops."""
    return contextlib.nullcontext() if getattr(scan, "recomputes", False) else neuron.cached_params()


def _check_neuron(owner: str, neuron) -> None:
    if not isinstance(neuron, AbstractNeuron):
        raise TypeError(
            f"`{owner}`: `neuron` must be a spikax_torch neuron, got {type(neuron).__name__}. "
            "Pass e.g. `spikax_torch.neurons.LIF()`."
        )
