"""Spike-aware normalisation: batch normalisation through time (BNTT)."""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float, Int

from ..neurons._base import default_dtype
from ._base import AbstractLayer, Scan, plain_signals


class BNTTState(NamedTuple):
    """State of [`spikax.layers.BNTT`][]."""

    step: Int[Array, ""]  # index of the current time step (selects the statistics and scale)
    running_mean: Float[Array, "steps channels"]  # running batch mean per time step and channel
    running_var: Float[Array, "steps channels"]  # running batch variance per time step and channel


class BNTT(AbstractLayer):
    r"""Batch normalisation through time (BNTT): separate statistics and scale for every time step.

    $$y_{t} = \gamma_t \,\frac{x_t - \mu_t}{\sqrt{\sigma_t^2 + \epsilon}}$$

    per channel, with $\mu_t, \sigma_t^2$ the mean and (biased) variance over the batch and the
    spatial positions at time step $t$, and a learnable $\gamma_t$ per time step and channel (no
    shift, so a silent input stays silent relative to the threshold). Kim & Panda (2021),
    "Revisiting batch normalization for training low-latency deep spiking neural networks from
    scratch". Steps beyond `num_steps` reuse the last step's parameters. Place it between a
    connection and its neuron, e.g. `Chain([Stateless(conv), BNTT(T, C), LIF()])`.

    *Batch statistics* need the batch: run with `spikax.run(..., batch_axis=...)` (whose
    `jax.vmap` binds the axis name `"batch"`) or your own `jax.vmap(..., axis_name="batch")`.
    *Running statistics* per time step are updated in the state during training
    (`m \leftarrow (1-\text{momentum})\, m + \text{momentum}\, \mu_t`); copy them into the layer with
    [`BNTT.with_statistics`][spikax.layers.BNTT.with_statistics] and switch to inference mode (`equinox.nn.inference_mode`), where
    the stored running statistics replace the batch ones and no batch is needed.

    **Arguments:**

    - `num_steps`: number of time steps with their own statistics.
    - `channels`: number of channels (axis 0 of one sample: `(channels, *spatial)` or `(features,)`).
    - `eps`, `momentum`: as in batch normalisation (defaults 1e-5 and 0.1).
    - `axis_name`: the `jax.vmap` axis name of the batch (default `"batch"`).

    **Example:**

    ```python
    net = spikax.Chain([eqx.nn.Linear(4, 8, key=jax.random.key(0)), spikax.layers.BNTT(20, 8), spikax.neurons.LIF()])
    xs = jnp.ones((20, 16, 4))  # [time, batch, features]
    state, ys = spikax.run(net, net.init_state((4,)), xs, batch_axis=1)
    ```
    """

    weight: Float[Array, "steps channels"]
    frozen_fields: ClassVar[tuple[str, ...]] = ("running_mean", "running_var")  # not learnt (spikax.trainable)
    running_mean: Float[Array, "steps channels"]
    running_var: Float[Array, "steps channels"]
    eps: float = eqx.field(static=True)
    momentum: float = eqx.field(static=True)
    axis_name: str = eqx.field(static=True)
    inference: bool

    def __init__(self, num_steps: int, channels: int, *, eps: float = 1e-5, momentum: float = 0.1,
                 axis_name: str = "batch", inference: bool = False, dtype=None):
        for name, value in (("num_steps", num_steps), ("channels", channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`spikax.layers.BNTT`: `{name}` must be a whole number >= 1, got {value!r}.")
        dtype = default_dtype(dtype)
        self.weight = jnp.ones((num_steps, channels), dtype)
        self.running_mean = jnp.zeros((num_steps, channels), dtype)
        self.running_var = jnp.ones((num_steps, channels), dtype)
        self.eps, self.momentum, self.axis_name, self.inference = eps, momentum, axis_name, inference

    def init_state(self, input_shape, dtype=None, *, key=None):
        del key
        channels = self.weight.shape[1]
        if len(input_shape) < 1 or input_shape[0] != channels:
            raise ValueError(
                f"`spikax.layers.BNTT`: expects one sample with {channels} channels on axis 0, got input shape "
                f"{tuple(input_shape)}. Inputs are channels-first `(channels, *spatial)`; use `jax.vmap` (or "
                "`spikax.run(..., batch_axis=...)`) for the batch."
            )
        dtype = default_dtype(dtype)
        return BNTTState(step=jnp.zeros((), jnp.int32), running_mean=self.running_mean.astype(dtype),
                         running_var=self.running_var.astype(dtype))

    def output_shape(self, input_shape, dtype=None):
        return tuple(input_shape)

    def with_statistics(self, state: BNTTState) -> BNTT:
        """This layer with the running statistics of a training `state` (batched or not) stored in it."""
        mean, var = state.running_mean, state.running_var
        if mean.ndim == 3:  # a batched state: every example holds the same (batch-wide) statistics
            mean, var = mean[0], var[0]
        return eqx.tree_at(lambda b: (b.running_mean, b.running_var), self,
                           (mean.astype(self.running_mean.dtype), var.astype(self.running_var.dtype)))

    def _batch_stats(self, x, time_axes: int):
        """Mean and variance per channel over the batch and spatial axes (time axes kept)."""
        spatial = tuple(range(time_axes + 1, x.ndim))
        try:
            mean = lax.pmean(jnp.mean(x, axis=spatial), self.axis_name)
            mean_sq = lax.pmean(jnp.mean(x * x, axis=spatial), self.axis_name)
        except NameError:
            raise ValueError(
                f"`spikax.layers.BNTT`: batch statistics need the batch, but no `jax.vmap` axis named "
                f"{self.axis_name!r} is bound. Run with `spikax.run(net, state, xs, batch_axis=1)` (or "
                f"`jax.vmap(..., axis_name={self.axis_name!r})`), or use inference mode with stored statistics."
            ) from None
        return mean, jnp.maximum(mean_sq - mean * mean, 0)

    def _normalise(self, x, mean, var, gamma, time_axes: int):
        shape = mean.shape + (1,) * (x.ndim - time_axes - 1)
        scale = gamma / jnp.sqrt(var + self.eps)
        return (x - mean.reshape(shape)) * scale.reshape(shape)

    def _update(self, state: BNTTState, index, mean, var) -> BNTTState:
        m = self.momentum
        new_mean = state.running_mean.at[index].set((1 - m) * state.running_mean[index] + m * lax.stop_gradient(mean))
        new_var = state.running_var.at[index].set((1 - m) * state.running_var[index] + m * lax.stop_gradient(var))
        return BNTTState(step=state.step + 1, running_mean=new_mean, running_var=new_var)

    def _check(self, x, state, time_axes: int):
        if jnp.shape(x)[time_axes:time_axes + 1] != state.running_mean.shape[1:]:
            raise ValueError(
                f"`spikax.layers.BNTT`: input of shape {jnp.shape(x)[time_axes:]} does not have "
                f"{state.running_mean.shape[1]} channels on axis 0. Make the state with `init_state(x.shape)`."
            )

    def step(self, state: BNTTState, x):
        new_state, y = self._normalise_step(state, x)
        return new_state, y, plain_signals(x, y)

    def _normalise_step(self, state: BNTTState, x):
        self._check(x, state, 0)
        index = jnp.minimum(state.step, self.weight.shape[0] - 1)
        gamma = self.weight[index].astype(x.dtype)
        if self.inference:
            mean, var = self.running_mean[index].astype(x.dtype), self.running_var[index].astype(x.dtype)
            return BNTTState(state.step + 1, state.running_mean, state.running_var), \
                self._normalise(x, mean, var, gamma, 0)
        mean, var = self._batch_stats(x, 0)
        return self._update(state, index, mean, var), self._normalise(x, mean, var, gamma, 0)

    def sequence(self, state: BNTTState, xs, *, scan: Scan = lax.scan):
        del scan
        self._check(xs, state, 1)
        steps = xs.shape[0]
        index = jnp.minimum(state.step + jnp.arange(steps, dtype=jnp.int32), self.weight.shape[0] - 1)
        gamma = self.weight[index].astype(xs.dtype)
        if self.inference:
            mean, var = self.running_mean[index].astype(xs.dtype), self.running_var[index].astype(xs.dtype)
            done = BNTTState(state.step + steps, state.running_mean, state.running_var)
            return done, self._normalise(xs, mean, var, gamma, 1)
        mean, var = self._batch_stats(xs, 1)
        # The running statistics are updated step by step (cheap: one channel vector per step), so steps
        # past `num_steps` that share the last slot update it exactly as the step-wise loop does.
        state, _ = lax.scan(lambda s, a: (self._update(s, *a), None), state, (index, mean, var))
        return state, self._normalise(xs, mean, var, gamma, 1)
