"""Sigma-delta neuron (torch twin of `spikax.neurons.SigmaDelta`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from .._errors import check_choice
from ..surrogate import FastSigmoid
from ._base import AbstractNeuron, default_dtype, fire

ACTIVATIONS = ("relu", "identity")


class SigmaDeltaState(NamedTuple):
    """State of [`spikax_torch.neurons.SigmaDelta`][]."""

    sigma: torch.Tensor  # accumulated input (the pre-activation)
    ref: torch.Tensor  # the activation as the receivers know it: the sum of all outputs sent so far


class SigmaDelta(AbstractNeuron):
    r"""Sigma-delta neuron, as on Loihi 2 (O'Connor & Welling 2016; Shrestha et al. 2024).

    $$\sigma' = \lambda\sigma + x,\quad a = f(\sigma'),\quad \Delta = a - r,\quad
      y = \Delta\cdot H(|\Delta| - \theta),\quad r' = r + y$$

    Graded output, as [`spikax.neurons.SigmaDelta`][] (same options and defaults).

    **Arguments:** `threshold`, `leak` (or `tau` with `dt`), `activation`, `quantize`, `surrogate`,
    `learnable`, `dtype`.

    **Example:**

    ```python
    neuron = spikax_torch.neurons.SigmaDelta(threshold=0.1)
    state, y = neuron(None, torch.tensor([0.05, 0.5]))  # y == [0, 0.5]
    ```
    """

    constraints = spec.constraints("SigmaDelta")
    static_fields = ("activation", "quantize", "surrogate")

    def __init__(self, threshold=None, *, leak=None, tau=None, dt=1.0, activation="relu", quantize=False,
                 surrogate=None, learnable=None, dtype=None):
        super().__init__(learnable)
        self.init_parameters({"threshold": threshold, "leak": leak, "tau": tau}, dt=dt, dtype=dtype)
        check_choice(self.owner(), "activation", activation, ACTIVATIONS)
        self.activation = activation
        self.quantize = bool(quantize)
        self.surrogate = FastSigmoid() if surrogate is None else surrogate

    def init_state(self, shape, dtype=None, device=None) -> SigmaDeltaState:
        self.check_params(shape)
        zeros = torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device)
        return SigmaDeltaState(sigma=zeros, ref=zeros)

    def update_sigma(self, sigma, x):
        r"""The sigma stage $\lambda\sigma + x$."""
        return self.param("leak", sigma.dtype) * sigma + x

    def forward(self, state: SigmaDeltaState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.sigma, x)
        threshold = self.param("threshold", state.sigma.dtype)
        sigma = self.update_sigma(state.sigma, x)
        # torch.maximum splits the gradient at a tie like jnp.maximum (relu would give 0 there).
        act = torch.maximum(sigma, torch.zeros_like(sigma)) if self.activation == "relu" else sigma
        delta = act - state.ref
        send = fire(delta.abs(), threshold, self.surrogate)
        if self.quantize:  # straight-through: forward rounds, backward is the identity
            delta = delta + (threshold * torch.round(delta / threshold) - delta).detach()
        y = delta * send
        return SigmaDeltaState(sigma=sigma, ref=state.ref + y), y
