"""Continuous-time dynamics of the neurons EventProp supports, read from spikax neurons.

A spikax neuron is a discrete step with per-step decays; here each supported neuron is mapped
to the continuous-time system its step approximates (forward Euler, the mapping
[`spikax.neurons`][] uses for `tau` and `dt`), with the closed-form flow between events and the
terms the adjoint needs at events. Each class answers the same questions, so the event loop and
the adjoint never ask which neuron they run.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array

from ..neurons import LIF, CubaLIF

# Safeguarded Newton iterations for a threshold crossing on a bracket where the membrane rises:
# Newton converges quadratically, bisection guarantees progress; 40 reach float64 round-off.
NEWTON_STEPS = 40


class CurrentDynamics(eqx.Module):
    r"""Current-based LIF in continuous time (the model of Wunderlich & Pehle 2021).

    $$\tau_m \dot V = -V + I,\qquad \tau_s \dot I = -I,\qquad
      I_n \mathrel{+}= w_{nm}\ \text{at a spike of } m,\qquad V_n \to 0\ \text{when } V_n \text{ reaches } \theta_n.$$

    Between events $V(s) = e^{-s/\tau_m} V_0 + h(s) I_0$, $I(s) = e^{-s/\tau_s} I_0$ with
    $h(s) = \tau_s (e^{-s/\tau_s} - e^{-s/\tau_m})/(\tau_s - \tau_m)$ ($h = (s/\tau_m) e^{-s/\tau}$ when the
    two time constants are equal).
    """

    tau_mem: Array
    tau_syn: Array
    threshold: Array

    def invalid(self):
        """True where a time constant is not finite and positive (a decay of 1, or `dt <= 0`)."""
        return jnp.any(~(jnp.isfinite(self.tau_mem) & jnp.isfinite(self.tau_syn) & (self.tau_mem > 0)
                         & (self.tau_syn > 0)))

    def flow(self, v, i, s):
        em, es = jnp.exp(-s / self.tau_mem), jnp.exp(-s / self.tau_syn)
        return em * v + self._h(s, em, es) * i, es * i

    def _h(self, s, em, es):
        diff = self.tau_syn - self.tau_mem
        equal = jnp.abs(diff) <= 1e-9 * self.tau_mem
        general = self.tau_syn * (es - em) / jnp.where(equal, 1.0, diff)
        return jnp.where(equal, s / self.tau_mem * em, general)

    def crossing(self, v, i, horizon):
        """Time from now until each neuron first reaches its threshold within `horizon` (inf if it does not)."""
        tm, ts, theta = self.tau_mem, self.tau_syn, self.threshold
        rising = i > v  # dV/dt > 0 now; the membrane is a sum of two exponentials with at most one extremum,
        # so a falling membrane below threshold never reaches it, and a rising one peaks once.
        diff = ts - tm
        equal = jnp.abs(diff) <= 1e-9 * tm
        safe = jnp.where(equal, 1.0, diff)
        a = -v + i * ts / safe
        b = i * tm / safe
        ratio = b / jnp.where(a == 0, 1.0, a)
        rate = 1.0 / ts - 1.0 / tm
        peak_general = jnp.log(jnp.where(ratio > 0, ratio, 1.0)) / jnp.where(equal, 1.0, rate)
        peak_general = jnp.where((ratio > 0) & (a != 0) & (peak_general > 0), peak_general, jnp.inf)
        peak_equal = jnp.where(i > 0, tm * (i - v) / jnp.where(i > 0, i, 1.0), jnp.inf)
        peak = jnp.where(equal, peak_equal, peak_general)
        high = jnp.minimum(peak, horizon)
        v_high, _ = self.flow(v, i, jnp.where(jnp.isfinite(high), high, 0.0))
        fires = rising & (v_high >= theta) & jnp.isfinite(high)
        already = rising & (v >= theta)
        high = jnp.where(fires, high, 0.0)

        def newton(_, carry):
            s, lo, hi = carry
            vs, is_ = self.flow(v, i, s)
            f = vs - theta
            lo = jnp.where(f < 0, s, lo)
            hi = jnp.where(f >= 0, s, hi)
            slope = (is_ - vs) / tm
            step = s - f / jnp.where(slope > 0, slope, 1.0)
            ok = (slope > 0) & (step > lo) & (step < hi)
            return jnp.where(ok, step, 0.5 * (lo + hi)), lo, hi

        zero = jnp.zeros_like(v)
        s, _, _ = lax.fori_loop(0, NEWTON_STEPS, newton, (zero, zero, high))
        s = jnp.where(already, 0.0, s)
        return jnp.where(fires | already, s, jnp.inf)

    def receive(self, v, i, w):
        return v, i + w

    def weight_sensitivity(self, lam_v, lam_i):
        """dL/dw for an input of weight w received now: the adjoint of the quantity the input jumps."""
        return lam_i

    def time_sensitivity(self, lam_v, lam_i):
        r"""Per neuron, dL/dt of an input of unit weight received now: $-\lambda\cdot A e$ (A the flow's generator)."""
        return lam_i / self.tau_syn - lam_v / self.tau_mem

    def adjoint_flow(self, lam_v, lam_i, s):
        """The adjoint carried `s` back in time: the transpose of the forward flow."""
        em, es = jnp.exp(-s / self.tau_mem), jnp.exp(-s / self.tau_syn)
        return em * lam_v, self._h(s, em, es) * lam_v + es * lam_i

    def spike_aux(self, v, i, n):
        """What the adjoint needs about a spike of neuron `n`, stored per event: its current."""
        return i[n]

    def own_spike(self, lam_v, n, aux, g):
        r"""The adjoint's jump at a threshold crossing of neuron `n`, and what passes to the event before.

        `g` is dL/dt* from everything but the crossing condition (loss, next layer, recurrent
        inputs). With $\dot V^\pm$ the membrane slopes just before and after the reset,
        $G = g - \lambda_V^+ \dot V^+$ and $\lambda_V^- = -G/\dot V^-$ (implicit function theorem on
        $V(t^*) = \theta$).
        """
        tm, theta = self.tau_mem[n], self.threshold[n]
        slope_after = aux / tm
        slope_before = (aux - theta) / tm
        total = g - lam_v[n] * slope_after
        return lam_v.at[n].set(-total / slope_before), jnp.zeros((), lam_v.dtype)


class DeltaDynamics(eqx.Module):
    r"""LIF with delta synapses in continuous time: an input jumps the membrane, which then decays.

    $$\tau \dot V = -V,\qquad V_n \mathrel{+}= c_n w_{nm}\ \text{at a spike of } m,\qquad
      V_n \to 0\ \text{as soon as } V_n > \theta_n.$$

    The membrane only rises at input events, so a neuron fires at the time of the input that
    lifted it over threshold; $c = 1-\beta$ is what one step of [`spikax.neurons.LIF`][] makes of a
    one-step input.
    """

    tau: Array
    threshold: Array
    scale: Array

    def invalid(self):
        return jnp.any(~(jnp.isfinite(self.tau) & (self.tau > 0)))

    def flow(self, v, i, s):
        return jnp.exp(-s / self.tau) * v, i

    def crossing(self, v, i, horizon):
        del i, horizon
        return jnp.where(v > self.threshold, 0.0, jnp.inf)

    def receive(self, v, i, w):
        return v + self.scale * w, i

    def weight_sensitivity(self, lam_v, lam_i):
        return self.scale * lam_v

    def time_sensitivity(self, lam_v, lam_i):
        return self.scale * lam_v / self.tau

    def adjoint_flow(self, lam_v, lam_i, s):
        return jnp.exp(-s / self.tau) * lam_v, lam_i

    def spike_aux(self, v, i, n):
        return jnp.zeros((), v.dtype)

    def own_spike(self, lam_v, n, aux, g):
        # The spike happens at the time of the event that lifted the membrane: its time sensitivity
        # passes on to that event; the reset makes the membrane before it irrelevant.
        del aux
        return lam_v.at[n].set(0.0), g


def _continuous_lif(neuron: LIF, dt, n, dtype):
    beta = _neuron_param(neuron, "beta", n, dtype)
    return DeltaDynamics(tau=dt / (1 - beta), threshold=_neuron_param(neuron, "threshold", n, dtype),
                         scale=1 - beta)


def _continuous_cuba(neuron: CubaLIF, dt, n, dtype):
    alpha = _neuron_param(neuron, "alpha", n, dtype)
    beta = _neuron_param(neuron, "beta", n, dtype)
    return CurrentDynamics(tau_mem=dt / (1 - beta), tau_syn=dt / (1 - alpha),
                           threshold=_neuron_param(neuron, "threshold", n, dtype))


# The one table from spikax's discrete neurons to their continuous-time systems.
CONTINUOUS = {CubaLIF: _continuous_cuba, LIF: _continuous_lif}


def _neuron_param(neuron, name, n, dtype):
    return jnp.broadcast_to(neuron.param(name, dtype), (n,))


def continuous(owner: str, neuron, *, dt, n, dtype):
    """The continuous-time system of a spikax neuron with `n` units, stepped at `dt`; a clear error if unsupported."""
    build = CONTINUOUS.get(type(neuron))
    if build is None:
        raise TypeError(
            f"`{owner}`: EventProp simulates {', '.join(f'spikax.neurons.{t.__name__}' for t in CONTINUOUS)} "
            f"(reset to zero), got spikax.neurons.{type(neuron).__name__}. Use one of those neurons, or train "
            "this network with `spikax.BPTT()`."
        )
    if neuron.reset == "none":
        raise ValueError(
            f"`{owner}`: EventProp needs a neuron that resets when it fires, got `reset='none'`. Build the neuron "
            "with `reset='zero'` (or 'subtract', identical in continuous time where the membrane meets the "
            "threshold exactly)."
        )
    if neuron.refractory:
        raise ValueError(
            f"`{owner}`: EventProp does not model refractory periods, got `refractory={neuron.refractory}` steps. "
            "Build the neuron without one."
        )
    if neuron.learnable:
        raise ValueError(
            f"`{owner}`: EventProp gives gradients for the weights only, but the neuron's "
            f"{sorted(neuron.learnable)} are learnable. Build the neuron with `learnable=None`, or use `spikax.BPTT()`."
        )
    return build(neuron, jnp.asarray(dt, dtype), n, dtype)


def check_reset_value(owner: str, neuron) -> None:
    """Raise if a neuron resets to a non-zero value (checked where the value is concrete, before tracing)."""
    value = getattr(neuron, "v_reset", None)
    if getattr(neuron, "reset", None) != "zero" or value is None or isinstance(value, jax.core.Tracer):
        return
    if np.any(np.asarray(value) != 0):
        raise ValueError(
            f"`{owner}`: EventProp resets to zero, got a neuron with `v_reset={np.asarray(value)}`. Build it with "
            "`v_reset=0.0`."
        )
