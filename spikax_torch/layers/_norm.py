"""Batch normalisation through time (torch twin of `spikax.layers.BNTT`)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..neurons._base import default_dtype
from ._base import AbstractLayer


class BNTTState(NamedTuple):
    """State of [`spikax_torch.layers.BNTT`][]: the step index and the running statistics."""

    step: torch.Tensor  # int32 scalar: index of the current time step
    running_mean: torch.Tensor  # (steps, channels)
    running_var: torch.Tensor  # (steps, channels)


class BNTT(AbstractLayer):
    r"""Batch normalisation through time (Kim & Panda 2021): statistics and scale per time step.

    $$y_t = \gamma_t\,\frac{x_t - \mu_t}{\sqrt{\sigma_t^2 + \epsilon}}$$

    per channel, over the batch and spatial axes, as [`spikax.layers.BNTT`][]. Inputs are
    batched and channels-first, `(batch, channels, *spatial)` (the batch is native in torch, so
    no axis name is needed; `axis_name` is kept for conversion). The running statistics live in
    the state, one copy for the whole batch (a vmapped spikax state holds one per example).

    **Arguments:** `num_steps`, `channels`, `eps` (1e-5), `momentum` (0.1), `axis_name`,
    `inference`, `dtype`.

    **Example:**

    ```python
    net = spikax_torch.Chain([torch.nn.Linear(4, 8), spikax_torch.layers.BNTT(20, 8), spikax_torch.neurons.LIF()])
    state, ys = spikax_torch.run(net, None, torch.ones(20, 16, 4))
    ```
    """

    def __init__(self, num_steps: int, channels: int, *, eps: float = 1e-5, momentum: float = 0.1,
                 axis_name: str = "batch", inference: bool = False, dtype=None):
        super().__init__()
        for name, value in (("num_steps", num_steps), ("channels", channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`spikax_torch.layers.BNTT`: `{name}` must be a whole number >= 1, got {value!r}.")
        dtype = default_dtype(dtype)
        self.weight = torch.nn.Parameter(torch.ones((num_steps, channels), dtype=dtype))
        self.register_buffer("running_mean", torch.zeros((num_steps, channels), dtype=dtype))
        self.register_buffer("running_var", torch.ones((num_steps, channels), dtype=dtype))
        self.eps, self.momentum, self.axis_name, self.inference = eps, momentum, axis_name, inference

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        channels = self.weight.shape[1]
        if len(input_shape) < 2 or input_shape[1] != channels:
            raise ValueError(
                f"`spikax_torch.layers.BNTT`: expects a batch with {channels} channels on axis 1, got input shape "
                f"{tuple(input_shape)}. Inputs are `(batch, channels, *spatial)`."
            )
        dtype = default_dtype(dtype)
        return BNTTState(step=torch.zeros((), dtype=torch.int32), running_mean=self.running_mean.to(dtype).clone(),
                         running_var=self.running_var.to(dtype).clone())

    def output_shape(self, input_shape, dtype=None):
        return tuple(input_shape)

    def with_statistics(self, state: BNTTState) -> BNTT:
        """Store the running statistics of a training `state` in this layer (in place) and return it."""
        with torch.no_grad():
            self.running_mean.copy_(state.running_mean)
            self.running_var.copy_(state.running_var)
        return self

    def forward(self, state, x):
        if state is None:
            state = self.init_state(x.shape, x.dtype)
        if x.ndim < 2 or x.shape[1] != state.running_mean.shape[1]:
            raise ValueError(f"`spikax_torch.layers.BNTT`: input of shape {tuple(x.shape)} does not have "
                             f"{state.running_mean.shape[1]} channels on axis 1.")
        index = torch.clamp(state.step, max=self.weight.shape[0] - 1).to(torch.int64)
        gamma = self.weight[index].to(x.dtype)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.inference:
            mean, var = self.running_mean[index].to(x.dtype), self.running_var[index].to(x.dtype)
            new_state = BNTTState(state.step + 1, state.running_mean, state.running_var)
        else:
            axes = (0,) + tuple(range(2, x.ndim))
            mean = x.mean(axes)
            var = torch.clamp((x * x).mean(axes) - mean * mean, min=0)
            m = self.momentum
            here = (torch.arange(self.weight.shape[0]) == index)[:, None]
            new_mean = torch.where(here, (1 - m) * state.running_mean + m * mean.detach(), state.running_mean)
            new_var = torch.where(here, (1 - m) * state.running_var + m * var.detach(), state.running_var)
            new_state = BNTTState(state.step + 1, new_mean, new_var)
        scale = gamma / torch.sqrt(var + self.eps)
        return new_state, (x - mean.reshape(shape)) * scale.reshape(shape)
