"""Synaptic and axonal delays: fixed (integer steps) or learnable (interpolated over a delay axis)."""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int

from ..neurons._base import default_dtype
from ._base import AbstractLayer, Scan, plain_signals


class DelayState(NamedTuple):
    """State of the delay layers: a ring buffer of the last `max_delay + 1` inputs."""

    buffer: Float[Array, "slots *features"]  # past inputs; slot `position` is written next
    position: Int[Array, ""]  # index of the slot the current step writes


def delay_kernel(delays, length: int, dtype, *, learnable: bool, sigma=None):
    r"""Weights over a delay axis of `length` slots (axis 0) that read out an input delayed by `delays`.

    Fixed (integer) delays give a one-hot: $h_k = [k = d]$. Learnable (real) delays, clipped to
    $[0, \text{length}-1]$, give a linear interpolation between the two nearest slots,
    $h_k = \max(0, 1 - |k - d|)$, or with `sigma` a normalised Gaussian
    $h_k \propto \exp(-\tfrac12 ((k-d)/\sigma)^2)$ as in DCLS (Hammouamri et al., 2024,
    "Learning delays in spiking neural networks using dilated convolutions with learnable
    spacings"). Both are differentiable in $d$.

    **Example:**

    ```python
    spikax.layers.delay_kernel(jnp.array(2.5), 5, jnp.float32, learnable=True)  # [0, 0, .5, .5, 0]
    ```
    """
    shape = (length,) + (1,) * jnp.ndim(delays)
    k = jnp.arange(length, dtype=jnp.int32).reshape(shape)
    if not learnable:
        return (k == delays.astype(jnp.int32)).astype(dtype)
    d = jnp.clip(delays.astype(dtype), 0, length - 1)
    k = k.astype(dtype)
    if sigma is None:
        return jnp.maximum(0, 1 - jnp.abs(k - d))
    bump = jnp.exp(-0.5 * ((k - d) / jnp.asarray(sigma, dtype)) ** 2)
    return bump / jnp.sum(bump, axis=0, keepdims=True)


def _init_buffer(owner: str, max_delay: int, input_shape, dtype) -> DelayState:
    del owner
    dtype = default_dtype(dtype)
    return DelayState(buffer=jnp.zeros((max_delay + 1,) + tuple(input_shape), dtype),
                      position=jnp.zeros((), jnp.int32))


def _history(state: DelayState):
    """Chronological view after writing: `hist[k]` is the input `k` steps ago."""
    slots = state.buffer.shape[0]
    return state.buffer[(state.position - jnp.arange(slots, dtype=jnp.int32)) % slots]


def _write(state: DelayState, x) -> DelayState:
    return DelayState(buffer=state.buffer.at[state.position].set(x), position=state.position)


def _advance(state: DelayState) -> DelayState:
    return DelayState(buffer=state.buffer, position=(state.position + 1) % state.buffer.shape[0])


def _full_sequence(state: DelayState, xs):
    """The past inputs held in the buffer, oldest first, followed by `xs`: `full[slots - 1 + t] = x_t`."""
    slots = state.buffer.shape[0]
    past = state.buffer[(state.position - (slots - 1) + jnp.arange(slots - 1, dtype=jnp.int32)) % slots]
    return jnp.concatenate([past, xs.astype(state.buffer.dtype)])


def _final_state(state: DelayState, full, steps: int) -> DelayState:
    """The ring buffer after `steps` step-wise writes, built from the full input history."""
    slots = state.buffer.shape[0]
    ages = jnp.arange(slots, dtype=jnp.int32)
    where = (state.position + steps - 1 - ages) % slots
    buffer = jnp.zeros_like(state.buffer).at[where].set(full[slots - 1 + steps - 1 - ages])
    return DelayState(buffer=buffer, position=(state.position + steps) % slots)


def _per_unit_causal_conv(full, kernel, steps: int):
    """`ys[t] = sum_k kernel[k] * full[slots - 1 + t - k]`, one kernel per unit: a depthwise convolution over time.

    `full` is `(slots - 1 + steps, *units)` and `kernel` `(slots, *units)`; one XLA convolution, no loop over slots.
    """
    slots, units = kernel.shape[0], kernel.shape[1:]
    channels = math.prod(units)
    lhs = full.reshape(full.shape[0], channels).T[None]  # (1, channels, time)
    rhs = jnp.flip(kernel.reshape(slots, channels), axis=0).T[:, None, :]  # (channels, 1, slots)
    out = lax.conv_general_dilated(lhs, rhs.astype(lhs.dtype), window_strides=(1,), padding="VALID",
                                   feature_group_count=channels)
    return out[0].T.reshape((steps,) + units)


def _check_shape(owner: str, x, want) -> None:
    if tuple(jnp.shape(x)) != tuple(want):
        raise ValueError(
            f"`{owner}`: input has shape {tuple(jnp.shape(x))} but the delay buffer holds inputs of shape "
            f"{tuple(want)}. Make the state from one sample's input shape: `init_state(x.shape)`."
        )


def _check_max_delay(owner: str, max_delay) -> int:
    if not isinstance(max_delay, (int, np.integer)) or isinstance(max_delay, bool) or max_delay < 0:
        raise ValueError(f"`{owner}`: `max_delay` must be a whole number of steps >= 0, got {max_delay!r}.")
    return int(max_delay)


def _make_delays(owner: str, delays, max_delay: int, learnable: bool, shape, key):
    if delays is None:
        if key is None:
            raise ValueError(f"`{owner}`: give `delays`, or a `key` to draw them uniformly in [0, max_delay].")
        if learnable:
            return jax.random.uniform(key, shape, minval=0.0, maxval=float(max_delay))
        return jax.random.randint(key, shape, 0, max_delay + 1)
    if isinstance(delays, jax.core.Tracer):  # traced (e.g. differentiating with respect to the delays)
        return jnp.asarray(delays) if learnable else jnp.asarray(delays, jnp.int32)
    arr = np.asarray(delays)
    if np.any(arr < 0) or np.any(arr > max_delay):
        raise ValueError(
            f"`{owner}`: delays must lie in [0, max_delay={max_delay}], got values from {arr.min()} to {arr.max()}. "
            "Raise `max_delay` or clip the delays."
        )
    if learnable:
        return jnp.asarray(arr, dtype=jnp.result_type(float))
    if not np.all(arr == np.round(arr)):
        raise ValueError(
            f"`{owner}`: fixed delays are whole numbers of steps, got {delays!r}. Round them, or pass "
            "`learnable=True` for real-valued (interpolated) delays."
        )
    return jnp.asarray(arr.astype(np.int32))


class Delay(AbstractLayer):
    r"""Axonal delay per channel: each input unit reaches the next layer `d` steps later.

    $$y_{t,i} = x_{t-d_i,\,i}\quad(\text{inputs before } t=0 \text{ are } 0)$$

    The state is a ring buffer of the last `max_delay + 1` inputs. Fixed delays are integer
    steps; learnable delays are real, $y_{t,i} = \sum_k h_k(d_i)\, x_{t-k,i}$ with the
    interpolation kernel of [`spikax.layers.delay_kernel`][] (linear, or Gaussian with
    `sigma`, DCLS-style), so the delays receive gradients. Over a sequence the whole output
    is read from the input history at once (no scan).

    **Arguments:**

    - `max_delay`: the longest delay, in steps (sets the buffer length).
    - `delays`: a scalar or one delay per unit (broadcast to one sample's shape), in steps.
    - `learnable`: real-valued delays that learn (default False: fixed integers, not trained).
    - `sigma`: width of a Gaussian interpolation kernel for learnable delays (default: linear).

    **Example:**

    ```python
    delay = spikax.layers.Delay(3, delays=jnp.array([0, 1, 3]))
    state = delay.init_state((3,))
    pulse = jnp.zeros((5, 3)).at[0].set(1.0)       # every unit fires at t = 0
    state, ys = spikax.run(delay, state, pulse)     # unit i's pulse arrives at t = delays[i]
    ```
    """

    delays: Array
    max_delay: int = eqx.field(static=True)
    learnable: bool = eqx.field(static=True)
    sigma: float | None

    def __init__(self, max_delay: int, *, delays, learnable: bool = False, sigma: float | None = None):
        owner = "spikax.layers.Delay"
        self.max_delay = _check_max_delay(owner, max_delay)
        self.learnable = bool(learnable)
        self.sigma = sigma
        self.delays = _make_delays(owner, delays, self.max_delay, self.learnable, np.shape(delays), None)

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        try:
            np.broadcast_shapes(self.delays.shape, tuple(input_shape))
        except ValueError:
            raise ValueError(
                f"`spikax.layers.Delay`: delays of shape {self.delays.shape} do not broadcast to the input shape "
                f"{tuple(input_shape)}. Give a scalar or one delay per input unit."
            ) from None
        return _init_buffer("spikax.layers.Delay", self.max_delay, input_shape, dtype)

    def output_shape(self, input_shape, dtype=None):
        return tuple(input_shape)

    def _delays(self):
        return self.delays if self.learnable else lax.stop_gradient(self.delays)

    def step(self, state: DelayState, x):
        _check_shape("spikax.layers.Delay", x, state.buffer.shape[1:])
        new = _write(state, x)
        if self.learnable:
            kernel = delay_kernel(self._delays(), self.max_delay + 1, x.dtype, learnable=True, sigma=self.sigma)
            y = jnp.sum(kernel * _history(new), axis=0)
        else:
            slots = self.max_delay + 1
            where = jnp.broadcast_to((new.position - self.delays) % slots, x.shape)
            y = jnp.take_along_axis(new.buffer, where[None], axis=0)[0]
        return _advance(new), y, plain_signals(x, y)

    def sequence(self, state: DelayState, xs, *, scan: Scan = lax.scan):
        del scan
        _check_shape("spikax.layers.Delay", xs[0], state.buffer.shape[1:])
        steps, slots = xs.shape[0], self.max_delay + 1
        full = _full_sequence(state, xs)
        if self.learnable:
            kernel = delay_kernel(self._delays(), slots, xs.dtype, learnable=True, sigma=self.sigma)
            ys = _per_unit_causal_conv(full, jnp.broadcast_to(kernel, (slots,) + xs.shape[1:]), steps)
        else:
            t = jnp.arange(steps, dtype=jnp.int32).reshape((steps,) + (1,) * (xs.ndim - 1))
            where = jnp.broadcast_to(slots - 1 + t - self.delays, xs.shape)
            ys = jnp.take_along_axis(full, where, axis=0)
        return _final_state(state, full, steps), ys


class DelayedLinear(AbstractLayer):
    r"""A fully connected connection with a delay on every synapse (or every input channel).

    $$I_{t,o} = b_o + \sum_i W_{oi}\, x_{t-d_{oi},\,i}
      \;\;\text{(fixed)},\qquad I_{t,o} = b_o + \sum_i\sum_k W_{oi}\, h_k(d_{oi})\, x_{t-k,i}
      \;\;\text{(learnable)}$$

    with the interpolation kernel $h$ of [`spikax.layers.delay_kernel`][]: the DCLS idea
    (Hammouamri et al., 2024) of a temporal convolution whose taps sit at learnable positions.
    Delays of shape `(out, in)` are per synapse; shape `(in,)` per input channel. The output is
    an input current: follow it with a neuron, e.g.
    `spikax.Chain([DelayedLinear(10, 32, 5, key=k), spikax.neurons.LIF()])`. The state is a
    ring buffer of the last `max_delay + 1` inputs; over a sequence the whole output is one
    causal convolution over time (no scan).

    **Arguments:**

    - `in_features`, `out_features`: sizes.
    - `max_delay`: the longest delay in steps.
    - `delays`: shape `(out, in)`, `(in,)` or scalar; default: drawn uniformly in [0, max_delay]
      per synapse.
    - `learnable`: real-valued delays that learn (default False: fixed integers).
    - `sigma`: Gaussian kernel width for learnable delays (default: linear interpolation).
    - `use_bias`: add a bias (default True).
    - `key`: PRNG key for the weights (and delays).

    **Example:**

    ```python
    syn = spikax.layers.DelayedLinear(4, 8, max_delay=10, learnable=True, key=jax.random.key(0))
    net = spikax.Chain([syn, spikax.neurons.LIF()])
    state, spikes = spikax.run(net, net.init_state((4,)), jnp.ones((50, 4)))
    ```
    """

    weight: Array
    bias: Array | None
    delays: Array
    max_delay: int = eqx.field(static=True)
    learnable: bool = eqx.field(static=True)
    sigma: float | None

    def __init__(self, in_features: int, out_features: int, max_delay: int, *, delays=None, learnable: bool = False,
                 sigma: float | None = None, use_bias: bool = True, key, dtype=None):
        owner = "spikax.layers.DelayedLinear"
        wkey, dkey = jax.random.split(key)
        linear = eqx.nn.Linear(in_features, out_features, use_bias=use_bias, dtype=dtype, key=wkey)
        self.weight, self.bias = linear.weight, linear.bias
        self.max_delay = _check_max_delay(owner, max_delay)
        self.learnable = bool(learnable)
        self.sigma = sigma
        self.delays = _make_delays(owner, delays, self.max_delay, self.learnable, (out_features, in_features), dkey)
        try:
            np.broadcast_shapes(self.delays.shape, self.weight.shape)
        except ValueError:
            raise ValueError(
                f"`{owner}`: delays of shape {self.delays.shape} do not fit {out_features} x {in_features} synapses. "
                f"Give shape ({out_features}, {in_features}) (per synapse), ({in_features},) (per input) or a scalar."
            ) from None

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        if tuple(input_shape) != (self.weight.shape[1],):
            raise ValueError(
                f"`spikax.layers.DelayedLinear`: expects one sample of shape ({self.weight.shape[1]},), got input shape "
                f"{tuple(input_shape)}. Use `jax.vmap` for a batch, `spikax.run` for time, and `Flatten` before it "
                "for images."
            )
        return _init_buffer("spikax.layers.DelayedLinear", self.max_delay, input_shape, dtype)

    def output_shape(self, input_shape, dtype=None):
        return (self.weight.shape[0],)

    def taps(self, dtype=None) -> Float[Array, "slots out in"]:
        """The effective weight of each delay slot, $W_{oi} h_k(d_{oi})$, shape `(max_delay + 1, out, in)`."""
        dtype = self.weight.dtype if dtype is None else dtype
        delays = self.delays if self.learnable else lax.stop_gradient(self.delays)
        kernel = delay_kernel(jnp.broadcast_to(delays, self.weight.shape), self.max_delay + 1, dtype,
                              learnable=self.learnable, sigma=self.sigma)
        return kernel * self.weight.astype(dtype)

    def _bias(self, dtype):
        return 0 if self.bias is None else self.bias.astype(dtype)

    def step(self, state: DelayState, x):
        new, current = self._current(state, x)
        return new, current, plain_signals(x, current)

    def _current(self, state: DelayState, x):
        _check_shape("spikax.layers.DelayedLinear", x, state.buffer.shape[1:])
        state = _write(state, x)
        hist = _history(state)  # (slots, in): hist[k] = x_{t-k}
        if self.learnable:
            current = jnp.einsum("koi,ki->o", self.taps(x.dtype), hist)
        else:
            cols = jnp.arange(self.weight.shape[1], dtype=jnp.int32)
            picked = hist[jnp.broadcast_to(self.delays, self.weight.shape), cols]  # picked[o, i] = x_{t-d_oi, i}
            current = jnp.sum(self.weight.astype(x.dtype) * picked, axis=1)
        return _advance(state), current + self._bias(x.dtype)

    def sequence(self, state: DelayState, xs, *, scan: Scan = lax.scan):
        del scan
        _check_shape("spikax.layers.DelayedLinear", xs[0], state.buffer.shape[1:])
        full = _full_sequence(state, xs)  # (slots - 1 + T, in)
        # One causal convolution over time: out[t] = sum_k taps[k] @ full[slots - 1 + t - k].
        kernel = jnp.flip(self.taps(xs.dtype), axis=0).transpose(1, 2, 0)  # (out, in, slots)
        out = lax.conv_general_dilated(full.T[None], kernel, window_strides=(1,), padding="VALID")
        return _final_state(state, full, xs.shape[0]), out[0].T + self._bias(xs.dtype)
