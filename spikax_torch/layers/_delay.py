"""Synaptic and axonal delays (torch twins of `spikax.layers.Delay` / `DelayedLinear`).

Same equations and options. The state is a ring buffer of the last `max_delay + 1` inputs,
`DelayState(buffer=[slots, *input_shape], position)`; in torch `input_shape` includes the
batch axes (native batch), so a batched torch buffer is `[slots, batch, ...]` where a vmapped
spikax one is `[batch, slots, ...]` (and `position` is one scalar, not one per example).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ..neurons._base import default_dtype
from ._base import AbstractLayer, Scan, python_scan


class DelayState(NamedTuple):
    """State of the torch delay layers: a ring buffer of past inputs and the slot written next."""

    buffer: torch.Tensor  # [slots, *input_shape]
    position: torch.Tensor  # int32 scalar


def delay_kernel(delays, length: int, dtype, *, learnable: bool, sigma=None):
    r"""Weights over a delay axis of `length` slots (axis 0) that read out an input delayed by `delays`.

    One-hot $h_k = [k = d]$ for fixed delays; for learnable ones linear interpolation
    $h_k = \max(0, 1-|k-d|)$ (with $d$ clipped to $[0, \text{length}-1]$) or a normalised
    Gaussian of width `sigma` (DCLS, Hammouamri et al. 2024), as [`spikax.layers.delay_kernel`][].

    **Example:**

    ```python
    spikax_torch.layers.delay_kernel(torch.tensor([1.5]), 4, torch.float32, learnable=True)[:, 0]  # [0, .5, .5, 0]
    ```
    """
    shape = (length,) + (1,) * delays.ndim
    k = torch.arange(length, dtype=torch.int32).reshape(shape)
    if not learnable:
        return (k == delays.to(torch.int32)).to(dtype)
    d = torch.clamp(delays.to(dtype), 0, length - 1)
    k = k.to(dtype)
    if sigma is None:
        return torch.clamp(1 - (k - d).abs(), min=0)
    bump = torch.exp(-0.5 * ((k - d) / sigma) ** 2)
    return bump / bump.sum(0, keepdim=True)


def _check_max_delay(owner: str, max_delay) -> int:
    if not isinstance(max_delay, (int, np.integer)) or isinstance(max_delay, bool) or max_delay < 0:
        raise ValueError(f"`{owner}`: `max_delay` must be a whole number of steps >= 0, got {max_delay!r}.")
    return int(max_delay)


def _make_delays(owner: str, delays, max_delay: int, learnable: bool, shape, generator):
    if delays is None:
        if learnable:
            return torch.rand(shape, generator=generator, dtype=torch.get_default_dtype()) * max_delay
        return torch.randint(0, max_delay + 1, shape, generator=generator, dtype=torch.int32)
    arr = np.array(delays.detach().cpu().numpy() if isinstance(delays, torch.Tensor) else delays)
    if np.any(arr < 0) or np.any(arr > max_delay):
        raise ValueError(
            f"`{owner}`: delays must lie in [0, max_delay={max_delay}], got values from {arr.min()} to {arr.max()}. "
            "Raise `max_delay` or clip the delays."
        )
    if learnable:
        return torch.as_tensor(arr, dtype=torch.get_default_dtype() if arr.dtype.kind != "f" else None)
    if not np.all(arr == np.round(arr)):
        raise ValueError(f"`{owner}`: fixed delays are whole numbers of steps, got {delays!r}. Round them, or pass "
                         "`learnable=True` for real-valued (interpolated) delays.")
    return torch.as_tensor(arr.astype(np.int32))


def _store_delays(module, delays, learnable):
    if learnable:
        module.delays = torch.nn.Parameter(delays)
    else:
        module.register_buffer("delays", delays)


def _init_buffer(max_delay, input_shape, dtype, device=None) -> DelayState:
    return DelayState(buffer=torch.zeros((max_delay + 1,) + tuple(input_shape), dtype=default_dtype(dtype),
                                         device=device),
                      position=torch.zeros((), dtype=torch.int32, device=device))


def _slots_like(buffer, index):
    """`buffer[index]` for a 1-d tensor of slot indices (differentiable in `buffer`)."""
    return buffer.index_select(0, index.to(torch.int64))


def _write(state: DelayState, x) -> DelayState:
    slots = state.buffer.shape[0]
    here = (torch.arange(slots, device=x.device) == state.position).reshape((slots,) + (1,) * x.ndim)
    return DelayState(torch.where(here, x.unsqueeze(0).to(state.buffer.dtype), state.buffer), state.position)


def _history(state: DelayState):
    slots = state.buffer.shape[0]
    return _slots_like(state.buffer, (state.position - torch.arange(slots)) % slots)


def _advance(state: DelayState) -> DelayState:
    return DelayState(state.buffer, (state.position + 1) % state.buffer.shape[0])


def _full_sequence(state: DelayState, xs):
    slots = state.buffer.shape[0]
    past = _slots_like(state.buffer, (state.position - (slots - 1) + torch.arange(slots - 1)) % slots)
    return torch.cat([past, xs.to(state.buffer.dtype)])


def _final_state(state: DelayState, full, steps: int) -> DelayState:
    slots = state.buffer.shape[0]
    ages = torch.arange(slots)
    where = ((state.position + steps - 1 - ages) % slots).to(torch.int64)
    values = _slots_like(full, slots - 1 + steps - 1 - ages)
    order = torch.argsort(where)
    return DelayState(values.index_select(0, order), (state.position + steps) % slots)


def _check_shape(owner, x, want):
    if tuple(x.shape) != tuple(want):
        raise ValueError(f"`{owner}`: input has shape {tuple(x.shape)} but the delay buffer holds inputs of shape "
                         f"{tuple(want)}. Make the state from the input shape: `init_state(x.shape)`.")


class Delay(AbstractLayer):
    r"""Axonal delay per channel, $y_{t,i} = x_{t-d_i,i}$; learnable delays interpolate (as [`spikax.layers.Delay`][]).

    **Arguments:** `max_delay`, `delays` (a scalar or one per unit, broadcast against the trailing
    axes of the input), `learnable`, `sigma`.

    **Example:**

    ```python
    delay = spikax_torch.layers.Delay(3, delays=torch.tensor([0, 1, 3]))
    state, ys = spikax_torch.run(delay, None, torch.eye(3)[[0, 0, 0, 0, 0]])
    ```
    """

    def __init__(self, max_delay: int, *, delays, learnable: bool = False, sigma: float | None = None):
        super().__init__()
        owner = "spikax_torch.layers.Delay"
        self.max_delay = _check_max_delay(owner, max_delay)
        self.learnable = bool(learnable)
        self.sigma = sigma
        _store_delays(self, _make_delays(owner, delays, self.max_delay, self.learnable, None, None), self.learnable)

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        try:
            torch.broadcast_shapes(self.delays.shape, tuple(input_shape))
        except RuntimeError:
            raise ValueError(f"`spikax_torch.layers.Delay`: delays of shape {tuple(self.delays.shape)} do not "
                             f"broadcast to the input shape {tuple(input_shape)}.") from None
        return _init_buffer(self.max_delay, input_shape, dtype, self.delays.device)

    def output_shape(self, input_shape, dtype=None):
        return tuple(input_shape)

    def forward(self, state, x):
        state = self.init_state(x.shape, x.dtype) if state is None else state
        _check_shape("spikax_torch.layers.Delay", x, state.buffer.shape[1:])
        state = _write(state, x)
        slots = self.max_delay + 1
        if self.learnable:
            kernel = delay_kernel(self.delays, slots, x.dtype, learnable=True, sigma=self.sigma)
            kernel = kernel.reshape((slots,) + (1,) * (x.ndim - self.delays.ndim) + tuple(self.delays.shape))
            y = (kernel * _history(state)).sum(0)
        else:
            where = ((state.position - self.delays) % slots).to(torch.int64).expand(x.shape)
            y = torch.gather(state.buffer, 0, where.unsqueeze(0))[0]
        return _advance(state), y

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        del scan
        state = self.init_state(xs.shape[1:], xs.dtype) if state is None else state
        _check_shape("spikax_torch.layers.Delay", xs[0], state.buffer.shape[1:])
        steps, slots = xs.shape[0], self.max_delay + 1
        full = _full_sequence(state, xs)
        if self.learnable:
            kernel = delay_kernel(self.delays, slots, xs.dtype, learnable=True, sigma=self.sigma)
            ys = sum(kernel[k] * full[slots - 1 - k: slots - 1 - k + steps] for k in range(slots))
        else:
            t = torch.arange(steps).reshape((steps,) + (1,) * (xs.ndim - 1))
            where = (slots - 1 + t - self.delays.to(torch.int64)).expand(xs.shape)
            ys = torch.gather(full, 0, where)
        return _final_state(state, full, steps), ys


class DelayedLinear(AbstractLayer):
    r"""A fully connected connection with a delay on every synapse (or input channel), as [`spikax.layers.DelayedLinear`][].

    $$I_{t,o} = b_o + \sum_i\sum_k W_{oi}\,h_k(d_{oi})\,x_{t-k,i}$$

    Over a sequence the output is one causal `conv1d` over time.

    **Arguments:** `in_features`, `out_features`, `max_delay`, `delays` (`(out, in)`, `(in,)` or a
    scalar; default drawn uniformly), `learnable`, `sigma`, `use_bias`, `key` (a
    `torch.Generator` or int seed), `dtype`.

    **Example:**

    ```python
    syn = spikax_torch.layers.DelayedLinear(4, 8, max_delay=10, learnable=True, key=0)
    net = spikax_torch.Chain([syn, spikax_torch.neurons.LIF()])
    state, spikes = spikax_torch.run(net, None, torch.ones(50, 2, 4))
    ```
    """

    def __init__(self, in_features: int, out_features: int, max_delay: int, *, delays=None, learnable: bool = False,
                 sigma: float | None = None, use_bias: bool = True, key=None, dtype=None):
        super().__init__()
        owner = "spikax_torch.layers.DelayedLinear"
        generator = key if key is None or isinstance(key, torch.Generator) else torch.Generator().manual_seed(key)
        bound = 1.0 / math.sqrt(in_features)
        w = (torch.rand((out_features, in_features), generator=generator, dtype=default_dtype(dtype)) * 2 - 1) * bound
        self.weight = torch.nn.Parameter(w)
        if use_bias:
            b = (torch.rand((out_features,), generator=generator, dtype=default_dtype(dtype)) * 2 - 1) * bound
            self.bias = torch.nn.Parameter(b)
        else:
            self.bias = None
        self.max_delay = _check_max_delay(owner, max_delay)
        self.learnable = bool(learnable)
        self.sigma = sigma
        delays = _make_delays(owner, delays, self.max_delay, self.learnable, (out_features, in_features), generator)
        try:
            torch.broadcast_shapes(delays.shape, self.weight.shape)
        except RuntimeError:
            raise ValueError(f"`{owner}`: delays of shape {tuple(delays.shape)} do not fit {out_features} x "
                             f"{in_features} synapses.") from None
        _store_delays(self, delays, self.learnable)

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        if tuple(input_shape)[-1:] != (self.weight.shape[1],):
            raise ValueError(f"`spikax_torch.layers.DelayedLinear`: expects inputs with {self.weight.shape[1]} features "
                             f"on the last axis, got input shape {tuple(input_shape)}.")
        return _init_buffer(self.max_delay, input_shape, dtype, self.weight.device)

    def output_shape(self, input_shape, dtype=None):
        return tuple(input_shape)[:-1] + (self.weight.shape[0],)

    def taps(self, dtype=None):
        """The effective weight of each delay slot, $W_{oi} h_k(d_{oi})$, shape `(max_delay + 1, out, in)`."""
        dtype = self.weight.dtype if dtype is None else dtype
        kernel = delay_kernel(self.delays.expand(self.weight.shape), self.max_delay + 1, dtype,
                              learnable=self.learnable, sigma=self.sigma)
        return kernel * self.weight.to(dtype)

    def _bias(self, dtype):
        return 0 if self.bias is None else self.bias.to(dtype)

    def forward(self, state, x):
        state = self.init_state(x.shape, x.dtype) if state is None else state
        _check_shape("spikax_torch.layers.DelayedLinear", x, state.buffer.shape[1:])
        state = _write(state, x)
        current = torch.einsum("koi,k...i->...o", self.taps(x.dtype), _history(state))
        return _advance(state), current + self._bias(x.dtype)

    def sequence(self, state, xs, *, scan: Scan = python_scan):
        del scan
        state = self.init_state(xs.shape[1:], xs.dtype) if state is None else state
        _check_shape("spikax_torch.layers.DelayedLinear", xs[0], state.buffer.shape[1:])
        full = _full_sequence(state, xs)  # (slots - 1 + T, *batch, in)
        batch = full.shape[1:-1]
        signal = full.reshape(full.shape[0], -1, full.shape[-1]).permute(1, 2, 0)  # (N, in, L)
        kernel = torch.flip(self.taps(xs.dtype), dims=(0,)).permute(1, 2, 0)  # (out, in, slots)
        out = torch.nn.functional.conv1d(signal, kernel)  # (N, out, T)
        ys = out.permute(2, 0, 1).reshape((xs.shape[0],) + tuple(batch) + (self.weight.shape[0],))
        return _final_state(state, full, xs.shape[0]), ys + self._bias(xs.dtype)
