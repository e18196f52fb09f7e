"""Resonate-and-fire neuron (torch twin of `spikax.neurons.ResonateAndFire`)."""

from __future__ import annotations

from typing import NamedTuple

import spikax_spec as spec
import torch

from .._errors import check_positive
from ._base import AbstractNeuron, SpikeOptions, default_dtype, fire


class ResonateAndFireState(NamedTuple):
    """State of [`spikax_torch.neurons.ResonateAndFire`][]: the complex potential `re + i im`."""

    re: torch.Tensor  # real part (current-like)
    im: torch.Tensor  # imaginary part (voltage-like, compared with the threshold)


class ResonateAndFire(AbstractNeuron):
    r"""Resonate-and-fire neuron (Izhikevich 2001, Neural Netw. 14:883).

    $$z' = r e^{i\omega\Delta t} z + x,\qquad s = H(\mathrm{Im}\,z' - \theta),\qquad z' \leftarrow (1-s)z'$$

    in real arithmetic, as [`spikax.neurons.ResonateAndFire`][]. The rotation is the method
    [`rotate`][spikax_torch.neurons.ResonateAndFire.rotate], which a subclass may replace.

    **Arguments:** `decay` (or `tau` with `dt`), `omega`, `threshold`, `dt`, `reset` (`"zero"` or
    `"none"`), `detach_reset`, `surrogate`, `learnable`, `dtype`.

    **Example:**

    ```python
    neuron = spikax_torch.neurons.ResonateAndFire(omega=2 * math.pi / 8)
    state, s = neuron(None, torch.ones(4))
    ```
    """

    constraints = spec.constraints("ResonateAndFire")
    static_fields = ("dt", "spiking")

    def __init__(self, decay=None, omega=None, threshold=None, *, tau=None, dt=1.0, reset="zero",
                 detach_reset=False, surrogate=None, learnable=None, dtype=None):
        super().__init__(learnable)
        check_positive(self.owner(), "dt", dt, "The time step is a duration; pass e.g. `dt=1.0`.")
        self.init_parameters({"decay": decay, "tau": tau, "omega": omega, "threshold": threshold}, dt=dt,
                             dtype=dtype)
        self.dt = float(dt)
        self.spiking = SpikeOptions(reset, None, detach_reset, surrogate=surrogate, owner=self.owner(),
                                    modes=("zero", "none"))

    def init_state(self, shape, dtype=None, device=None) -> ResonateAndFireState:
        self.check_params(shape)
        zeros = torch.zeros(tuple(shape), dtype=default_dtype(dtype), device=device)
        return ResonateAndFireState(re=zeros, im=zeros)

    def rotate(self, re, im, x):
        """Damped rotation by $\\omega\\Delta t$ plus the input on the real axis."""
        r = self.param("decay", re.dtype)
        phi = self.param("omega", re.dtype) * self.dt
        cos, sin = r * torch.cos(phi), r * torch.sin(phi)
        return cos * re - sin * im + x, sin * re + cos * im

    def forward(self, state: ResonateAndFireState | None, x):
        state = self.resolve_state(state, x)
        self.check_input(state.re, x)
        re, im = self.rotate(state.re, state.im, x)
        s = fire(im, self.param("threshold", re.dtype), self.surrogate)
        if self.reset == "zero":
            keep = 1 - self.spiking.reset_signal(s)
            re, im = re * keep, im * keep
        return ResonateAndFireState(re=re, im=im), s
