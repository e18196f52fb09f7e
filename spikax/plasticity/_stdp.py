"""Spike-timing-dependent plasticity: pair, triplet and reward-modulated (three-factor) rules."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ._rule import PlasticityRule, check_bounds, check_choice_of, check_dense, check_input_shape, decay, no_reward

INTERACTIONS = ("all_to_all", "nearest")


def _trace(trace, spikes, factor, interaction):
    """Decay a trace by one step, then register this step's spikes (add 1, or reset to 1)."""
    decayed = factor * trace
    if interaction == "nearest":
        return spikes + (1 - spikes) * decayed
    return decayed + spikes


def _clip(dw, weights, w_min, w_max):
    """The change that keeps `weights + dw` inside [w_min, w_max] (hard bounds)."""
    if w_min is None and w_max is None:
        return dw
    return jnp.clip(weights + dw, w_min, w_max) - weights


class STDPState(NamedTuple):
    """State of [`spikax.plasticity.stdp`][] for one sample."""

    pre_trace: jax.Array  # [n_pre], x: one per presynaptic neuron, dimensionless
    post_trace: jax.Array  # [n_post], y: one per postsynaptic neuron, dimensionless


def stdp(a_plus: float = 0.01, a_minus: float = 0.012, tau_plus: float = 20.0, tau_minus: float = 20.0,
         dt: float = 1.0, *, interaction: str = "all_to_all", bounds: str = "additive", w_min=None,
         w_max=None) -> PlasticityRule:
    r"""Pair-based STDP with traces (Song, Miller & Abbott 2000; Morrison, Diesmann & Gerstner 2008).

    A presynaptic trace $x$ and a postsynaptic trace $y$ decay with $\tau_+$ and $\tau_-$ and
    jump at each spike (`interaction="all_to_all"`: $x \mathrel{+}= 1$, every pair interacts;
    `"nearest"`: $x \leftarrow 1$, only nearest neighbours). Per step of length `dt`:

    $$x_t = e^{-dt/\tau_+}x_{t-1} + s^{pre}_t,\qquad
    \Delta w_{ij} = A_+ f_+(w_{ij})\, s^{post}_{i,t}\, x_{j,t} - A_- f_-(w_{ij})\, e^{-dt/\tau_-}y_{i,t-1}\, s^{pre}_{j,t}$$

    so one pair at $\Delta t = t_{post}-t_{pre}$ gives the textbook window
    $A_+ f_+ e^{-\Delta t/\tau_+}$ for $\Delta t \ge 0$ and $-A_- f_- e^{\Delta t/\tau_-}$ for
    $\Delta t < 0$. Presynaptic events of a step are processed before postsynaptic ones (as in
    Brian2), so a simultaneous pair potentiates by $A_+$.

    Bounds (`bounds=`): `"additive"` has $f_\pm = 1$, and with `w_min`/`w_max` the weight is
    clipped to $[w_{min}, w_{max}]$ (hard bounds); `"multiplicative"` (weight-dependent, soft
    bounds; van Rossum, Bi & Turrigiano 2000) has $f_+ = w_{max}-w$, $f_- = w - w_{min}$ and
    needs `w_max` (`w_min` defaults to 0).

    **Arguments:**

    - `a_plus`, `a_minus`: potentiation and depression amplitudes ($A_+, A_- \ge 0$).
    - `tau_plus`, `tau_minus`: trace time constants, in the unit of `dt`.
    - `dt`: the time step.
    - `interaction`: `"all_to_all"` or `"nearest"`.
    - `bounds`: `"additive"` or `"multiplicative"`; `w_min`, `w_max`: the bounds.

    **Returns:** a [`spikax.plasticity.PlasticityRule`][] with state [`spikax.plasticity.STDPState`][].

    **Example:**

    ```python
    rule = spikax.plasticity.stdp(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=20.0)
    w = jnp.full((1, 1), 0.5)
    state = rule.init(w)
    _, state = rule.update(jnp.ones(1), jnp.zeros(1), state, w)   # pre spike at t = 0
    dw, state = rule.update(jnp.zeros(1), jnp.ones(1), state, w)  # post spike at t = 1
    # dw == 0.01 * exp(-1 / 20)
    ```
    """
    owner = "spikax.plasticity.stdp"
    check_choice_of(owner, "interaction", interaction, INTERACTIONS)
    check_choice_of(owner, "bounds", bounds, ("additive", "multiplicative"))
    check_bounds(owner, w_min, w_max)
    if bounds == "multiplicative":
        if w_max is None:
            raise ValueError(f"`{owner}`: multiplicative (soft) bounds need `w_max`; pass e.g. `w_max=1.0`.")
        w_min = 0.0 if w_min is None else w_min
    d_plus, d_minus = decay(owner, tau_plus, dt), decay(owner, tau_minus, dt)

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        n_post, n_pre = jnp.shape(weights)
        dtype = jnp.result_type(weights)
        return STDPState(pre_trace=jnp.zeros(n_pre, dtype), post_trace=jnp.zeros(n_post, dtype))

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        pre_trace = _trace(state.pre_trace, pre, d_plus, interaction)
        post_before = d_minus * state.post_trace  # depression sees only earlier post spikes
        post_trace = _trace(state.post_trace, post, d_minus, interaction)
        ltp = a_plus * jnp.outer(post, pre_trace)
        ltd = a_minus * jnp.outer(post_before, pre)
        if bounds == "multiplicative":
            return ltp * (w_max - weights) - ltd * (weights - w_min), STDPState(pre_trace, post_trace)
        return _clip(ltp - ltd, weights, w_min, w_max), STDPState(pre_trace, post_trace)

    return PlasticityRule(init_fn, update_fn)


class TripletState(NamedTuple):
    """State of [`spikax.plasticity.triplet_stdp`][] for one sample (all dimensionless)."""

    r1: jax.Array  # [n_pre], fast presynaptic trace (tau_plus)
    r2: jax.Array  # [n_pre], slow presynaptic trace (tau_x)
    o1: jax.Array  # [n_post], fast postsynaptic trace (tau_minus)
    o2: jax.Array  # [n_post], slow postsynaptic trace (tau_y)


def triplet_stdp(a2_plus: float, a3_plus: float, a2_minus: float, a3_minus: float, tau_plus: float = 16.8,
                 tau_minus: float = 33.7, tau_x: float = 101.0, tau_y: float = 125.0, dt: float = 1.0, *,
                 interaction: str = "all_to_all", w_min=None, w_max=None) -> PlasticityRule:
    r"""Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673), eqs. (3)-(4).

    Two presynaptic traces $r_1, r_2$ ($\tau_+, \tau_x$) and two postsynaptic traces $o_1, o_2$
    ($\tau_-, \tau_y$) decay exponentially and jump at each spike (`"all_to_all"`: by 1;
    `"nearest"`: to 1). At a postsynaptic spike the weight grows, at a presynaptic one it shrinks:

    $$\Delta w^+ = r_1(t)\,[A_2^+ + A_3^+\,o_2(t-\epsilon)],\qquad
    \Delta w^- = -o_1(t-\epsilon)\,[A_2^- + A_3^-\,r_2(t-\epsilon)]$$

    ($t-\epsilon$: before this step's own spike is added; presynaptic events of a step come
    first, as in [`spikax.plasticity.stdp`][]). With `w_min`/`w_max` the weight is clipped.
    The published visual-cortex fits are in [`spikax.plasticity.triplet_visual_cortex`][].

    **Arguments:**

    - `a2_plus`, `a3_plus`, `a2_minus`, `a3_minus`: pair and triplet amplitudes.
    - `tau_plus`, `tau_minus`, `tau_x`, `tau_y`: trace time constants (ms in the paper), unit of `dt`.
    - `dt`: the time step; `interaction`: `"all_to_all"` or `"nearest"`; `w_min`, `w_max`: hard bounds.

    **Returns:** a [`spikax.plasticity.PlasticityRule`][] with state [`spikax.plasticity.TripletState`][].

    **Example:**

    ```python
    rule = spikax.plasticity.triplet_stdp(5e-10, 6.2e-3, 7e-3, 2.3e-4)
    w = jnp.zeros((2, 3))
    dw, state = rule.update(jnp.ones(3), jnp.ones(2), rule.init(w), w)
    ```
    """
    owner = "spikax.plasticity.triplet_stdp"
    check_choice_of(owner, "interaction", interaction, INTERACTIONS)
    check_bounds(owner, w_min, w_max)
    d_plus, d_minus = decay(owner, tau_plus, dt), decay(owner, tau_minus, dt)
    d_x, d_y = decay(owner, tau_x, dt), decay(owner, tau_y, dt)

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        n_post, n_pre = jnp.shape(weights)
        dtype = jnp.result_type(weights)
        pre, post = jnp.zeros(n_pre, dtype), jnp.zeros(n_post, dtype)
        return TripletState(r1=pre, r2=pre, o1=post, o2=post)

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        r1 = _trace(state.r1, pre, d_plus, interaction)
        o1_before, o2_before, r2_before = d_minus * state.o1, d_y * state.o2, d_x * state.r2
        ltp = jnp.outer(post * (a2_plus + a3_plus * o2_before), r1)
        ltd = jnp.outer(o1_before, pre * (a2_minus + a3_minus * r2_before))
        new = TripletState(r1=r1, r2=_trace(state.r2, pre, d_x, interaction),
                           o1=_trace(state.o1, post, d_minus, interaction),
                           o2=_trace(state.o2, post, d_y, interaction))
        return _clip(ltp - ltd, weights, w_min, w_max), new

    return PlasticityRule(init_fn, update_fn)


# Pfister & Gerstner (2006), Table 3 (visual cortex, Sjöström et al. 2001 data); times in ms.
_VISUAL_CORTEX = {
    ("all_to_all", False): dict(a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4, tau_x=101.0,
                                tau_y=125.0),
    ("all_to_all", True): dict(a2_plus=0.0, a3_plus=6.5e-3, a2_minus=7.1e-3, a3_minus=0.0, tau_x=101.0,
                               tau_y=114.0),
    ("nearest", False): dict(a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3, a3_minus=3.1e-3, tau_x=714.0,
                             tau_y=40.0),
}


def triplet_visual_cortex(interaction: str = "all_to_all", *, minimal: bool = False, dt: float = 1.0, w_min=None,
                          w_max=None) -> PlasticityRule:
    r"""[`spikax.plasticity.triplet_stdp`][] with Pfister & Gerstner's (2006) visual-cortex fits.

    Table 3 of the paper, fitted to Sjöström et al.'s (2001) pairing data; $\tau_+ = 16.8$ ms,
    $\tau_- = 33.7$ ms and `dt` in ms. Available: all-to-all full ($A_2^+ = 5\cdot10^{-10}$,
    $A_3^+ = 6.2\cdot10^{-3}$, $A_2^- = 7\cdot10^{-3}$, $A_3^- = 2.3\cdot10^{-4}$, $\tau_x = 101$,
    $\tau_y = 125$), all-to-all minimal ($A_2^+ = A_3^- = 0$, $A_3^+ = 6.5\cdot10^{-3}$,
    $A_2^- = 7.1\cdot10^{-3}$, $\tau_y = 114$) and nearest-spike full ($A_2^+ = 8.8\cdot10^{-11}$,
    $A_3^+ = 5.3\cdot10^{-2}$, $A_2^- = 6.6\cdot10^{-3}$, $A_3^- = 3.1\cdot10^{-3}$,
    $\tau_x = 714$, $\tau_y = 40$).

    **Arguments:** `interaction` (`"all_to_all"` or `"nearest"`), `minimal` (the minimal model,
    all-to-all only), `dt` (ms), `w_min`/`w_max` (hard bounds).

    **Example:**

    ```python
    rule = spikax.plasticity.triplet_visual_cortex("all_to_all", minimal=True, dt=1.0)
    ```
    """
    owner = "spikax.plasticity.triplet_visual_cortex"
    check_choice_of(owner, "interaction", interaction, INTERACTIONS)
    if (interaction, minimal) not in _VISUAL_CORTEX:
        raise ValueError(f"`{owner}`: no published minimal nearest-spike fit is included; use "
                         "`interaction='all_to_all'` with `minimal=True`, or `minimal=False`.")
    return triplet_stdp(**_VISUAL_CORTEX[(interaction, minimal)], tau_plus=16.8, tau_minus=33.7, dt=dt,
                        interaction=interaction, w_min=w_min, w_max=w_max)


class RewardModulatedState(NamedTuple):
    """State of [`spikax.plasticity.reward_modulated`][]."""

    rule: Any  # the inner rule's state (its traces)
    eligibility: jax.Array  # e, shaped like the weights


def reward_modulated(rule: PlasticityRule, tau_e: float = 1000.0, dt: float = 1.0) -> PlasticityRule:
    r"""Three-factor learning: an eligibility trace of `rule`'s updates, gated by a reward.

    Reward-modulated STDP (Izhikevich 2007, Cereb. Cortex 17:2443; Florian 2007, Neural Comput.
    19:1468): the inner rule's update $\Delta w^{rule}_t$ is not applied but accumulated in a
    synaptic eligibility trace $e$, and a global reward (or dopamine) signal $r_t$ turns it into
    a weight change:

    $$e_t = e^{-dt/\tau_e} e_{t-1} + \Delta w^{rule}_t,\qquad \Delta w_t = r_t\, e_t$$

    The eligibility trace has the shape of the weights, so the wrapper works on dense rules and
    on convolutional ones ([`spikax.plasticity.conv`][]; the shared-kernel sum is linear).
    `update(pre, post, state, weights, reward)` needs `reward`, a scalar (or broadcastable).

    **Arguments:** `rule` (e.g. [`spikax.plasticity.stdp`][]), `tau_e` (eligibility time
    constant, unit of `dt`), `dt`.

    **Example:**

    ```python
    rule = spikax.plasticity.reward_modulated(spikax.plasticity.stdp(), tau_e=200.0)
    w = jnp.zeros((2, 3))
    dw, state = rule.update(jnp.ones(3), jnp.ones(2), rule.init(w), w, reward=1.0)
    ```
    """
    owner = "spikax.plasticity.reward_modulated"
    if not isinstance(rule, PlasticityRule):
        raise TypeError(f"`{owner}`: `rule` must be a `spikax.plasticity.PlasticityRule` (e.g. "
                        f"`spikax.plasticity.stdp()`), got {type(rule).__name__}.")
    d_e = decay(owner, tau_e, dt)

    def init_fn(weights, input_shape=None):
        return RewardModulatedState(rule=rule.init(weights, input_shape), eligibility=jnp.zeros_like(weights))

    def update_fn(pre, post, state, weights, reward=None):
        if reward is None:
            raise TypeError(f"`{owner}`: `update` needs `reward=` (the third factor, a scalar), got None.")
        dw, inner = rule.update(pre, post, state.rule, weights)
        eligibility = d_e * state.eligibility + dw
        return jnp.asarray(reward, eligibility.dtype) * eligibility, RewardModulatedState(inner, eligibility)

    return PlasticityRule(init_fn, update_fn)
