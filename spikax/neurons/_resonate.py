"""Resonate-and-fire neuron: a damped oscillator that fires on resonant input."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

import spikax_spec as spec

from .._errors import check_positive
from ._base import AbstractNeuron, SpikeOptions, default_dtype, fire


class ResonateAndFireState(NamedTuple):
    """State of [`spikax.neurons.ResonateAndFire`][]: the complex potential $z = $ `re` $+ i\\,$`im`."""

    re: Float[Array, "*neurons"]  # real part of z (current-like), in units of the input
    im: Float[Array, "*neurons"]  # imaginary part of z (voltage-like, compared with the threshold)


class ResonateAndFire(AbstractNeuron[ResonateAndFireState]):
    r"""Resonate-and-fire neuron (Izhikevich 2001, Neural Netw. 14:883); one time step per call.

    The potential is complex, $z = \mathrm{re} + i\,\mathrm{im}$, with $\dot z = (b + i\omega)z + I$.
    One step is the exact rotation and damping of that linear system, plus the input on the
    real axis:

    $$z' = r\,e^{i\omega\Delta t}\,z + x,\qquad s = H(\mathrm{Im}\,z' - \theta),\qquad
      z' \leftarrow (1-s)\,z'\ \ (\text{reset="zero"})$$

    In real arithmetic, with $\phi = \omega\Delta t$:
    $\mathrm{re}' = r(\cos\phi\,\mathrm{re} - \sin\phi\,\mathrm{im}) + x$,
    $\mathrm{im}' = r(\sin\phi\,\mathrm{re} + \cos\phi\,\mathrm{im})$.
    From rest, one input pulse $x_0$ gives $z_k = x_0 r^k e^{ik\phi}$ after $k$ further steps: the
    neuron rings at its eigenfrequency, so pulses spaced by its period $2\pi/\omega$ add up and
    make it fire, while the same pulses at other spacings cancel (frequency selectivity).
    The state is two real arrays (not a complex dtype), so gradients and strict dtypes behave as
    for the other neurons.

    **Arguments:**

    - `decay`: damping per step $r = e^{b\Delta t} \in [0, 1]$ (default 0.9), or `tau` with `dt`:
      $r = 1 - \Delta t/\tau$.
    - `omega`: angular eigenfrequency $\omega$ in radians per time unit (default $2\pi/10$, a
      period of 10 steps); a scalar or one value per neuron.
    - `threshold`: threshold $\theta > 0$ on $\mathrm{Im}\,z$ (default 1).
    - `dt`: time step (default 1).
    - `reset`: `"zero"` (default: $z \to 0$ after a spike) or `"none"`.
    - `detach_reset`: cut the gradient through the reset (default False).
    - `surrogate`: pseudo-derivative of the step (default `FastSigmoid()`).
    - `learnable`: any of `("decay", "omega", "threshold")`; default none.
    - `dtype`: dtype of stored parameters (default: JAX's default float).

    **Example:**

    ```python
    neuron = spikax.neurons.ResonateAndFire(omega=2 * jnp.pi / 8)
    state, s = neuron(neuron.init_state((4,)), jnp.ones(4))
    ```
    """

    raw_decay: Array
    raw_omega: Array
    raw_threshold: Array
    dt: float = eqx.field(static=True)
    spiking: SpikeOptions  # reset ("zero" or "none"), detach_reset, surrogate
    constraints = spec.constraints("ResonateAndFire")

    def __init__(self, decay=None, omega=None, threshold=None, *, tau=None, dt=1.0,
                 reset="zero", detach_reset=False, surrogate=None, learnable=None, dtype=None):
        check_positive(self.owner(), "dt", dt, "The time step is a duration; pass e.g. `dt=1.0`.")
        self.init_parameters({"decay": decay, "tau": tau, "omega": omega, "threshold": threshold},
                             learnable=learnable, dt=dt, dtype=dtype)
        self.dt = float(dt)
        self.spiking = SpikeOptions(reset, None, detach_reset, surrogate=surrogate, owner=self.owner(),
                                    modes=("zero", "none"))

    def init_state(self, shape, dtype=None) -> ResonateAndFireState:
        self.check_params(shape)
        zeros = jnp.zeros(shape, default_dtype(dtype))
        return ResonateAndFireState(re=zeros, im=zeros)

    def __call__(self, state: ResonateAndFireState, x):
        self.check_input(state.re, x)
        dtype = state.re.dtype
        r, threshold = self.param("decay", dtype), self.param("threshold", dtype)
        phi = self.param("omega", dtype) * self.dt
        cos, sin = r * jnp.cos(phi), r * jnp.sin(phi)
        re = cos * state.re - sin * state.im + x
        im = sin * state.re + cos * state.im
        s = fire(im, threshold, self.surrogate)
        if self.reset == "zero":
            keep = 1 - self.spiking.reset_signal(s)
            re, im = re * keep, im * keep
        return ResonateAndFireState(re=re, im=im), s
