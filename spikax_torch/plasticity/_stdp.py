"""Pair, triplet and reward-modulated STDP (mirrors `spikax.plasticity`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ._rule import PlasticityRule, check_bounds, check_choice_of, check_dense, check_input_shape, decay, no_reward

INTERACTIONS = ("all_to_all", "nearest")


def _trace(trace, spikes, factor, interaction):
    decayed = factor * trace
    if interaction == "nearest":
        return spikes + (1 - spikes) * decayed
    return decayed + spikes


def _clip(dw, weights, w_min, w_max):
    if w_min is None and w_max is None:
        return dw
    return torch.clamp(weights + dw, w_min, w_max) - weights


class STDPState(NamedTuple):
    """State of `spikax_torch.plasticity.stdp`."""

    pre_trace: torch.Tensor
    post_trace: torch.Tensor


def stdp(a_plus: float = 0.01, a_minus: float = 0.012, tau_plus: float = 20.0, tau_minus: float = 20.0,
         dt: float = 1.0, *, interaction: str = "all_to_all", bounds: str = "additive", w_min=None,
         w_max=None) -> PlasticityRule:
    r"""Pair-based STDP with traces; the equations of `spikax.plasticity.stdp`.

    $$\Delta w_{ij} = A_+ f_+(w_{ij})\, s^{post}_{i,t}\, x_{j,t} - A_- f_-(w_{ij})\, e^{-dt/\tau_-}y_{i,t-1}\, s^{pre}_{j,t}$$

    **Example:**

    ```python
    rule = spikax_torch.plasticity.stdp(bounds="multiplicative", w_max=1.0)
    w = torch.full((1, 1), 0.5, dtype=torch.float64)
    dw, state = rule.update(torch.ones(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64), rule.init(w), w)
    ```
    """
    owner = "spikax_torch.plasticity.stdp"
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
        n_post, n_pre = weights.shape
        return STDPState(weights.new_zeros(n_pre), weights.new_zeros(n_post))

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        pre_trace = _trace(state.pre_trace, pre, d_plus, interaction)
        post_before = d_minus * state.post_trace
        post_trace = _trace(state.post_trace, post, d_minus, interaction)
        ltp = a_plus * torch.outer(post, pre_trace)
        ltd = a_minus * torch.outer(post_before, pre)
        if bounds == "multiplicative":
            return ltp * (w_max - weights) - ltd * (weights - w_min), STDPState(pre_trace, post_trace)
        return _clip(ltp - ltd, weights, w_min, w_max), STDPState(pre_trace, post_trace)

    return PlasticityRule(init_fn, update_fn)


class TripletState(NamedTuple):
    """State of `spikax_torch.plasticity.triplet_stdp`."""

    r1: torch.Tensor
    r2: torch.Tensor
    o1: torch.Tensor
    o2: torch.Tensor


def triplet_stdp(a2_plus: float, a3_plus: float, a2_minus: float, a3_minus: float, tau_plus: float = 16.8,
                 tau_minus: float = 33.7, tau_x: float = 101.0, tau_y: float = 125.0, dt: float = 1.0, *,
                 interaction: str = "all_to_all", w_min=None, w_max=None) -> PlasticityRule:
    r"""Triplet STDP (Pfister & Gerstner 2006); the equations of `spikax.plasticity.triplet_stdp`.

    $$\Delta w^+ = r_1(t)\,[A_2^+ + A_3^+\,o_2(t-\epsilon)],\qquad
    \Delta w^- = -o_1(t-\epsilon)\,[A_2^- + A_3^-\,r_2(t-\epsilon)]$$

    **Example:**

    ```python
    rule = spikax_torch.plasticity.triplet_stdp(5e-10, 6.2e-3, 7e-3, 2.3e-4)
    w = torch.zeros(2, 3)
    dw, state = rule.update(torch.ones(3), torch.ones(2), rule.init(w), w)
    ```
    """
    owner = "spikax_torch.plasticity.triplet_stdp"
    check_choice_of(owner, "interaction", interaction, INTERACTIONS)
    check_bounds(owner, w_min, w_max)
    d_plus, d_minus = decay(owner, tau_plus, dt), decay(owner, tau_minus, dt)
    d_x, d_y = decay(owner, tau_x, dt), decay(owner, tau_y, dt)

    def init_fn(weights, input_shape=None):
        check_input_shape(owner, weights, input_shape)
        n_post, n_pre = weights.shape
        pre, post = weights.new_zeros(n_pre), weights.new_zeros(n_post)
        return TripletState(pre, pre, post, post)

    def update_fn(pre, post, state, weights, reward=None):
        no_reward(owner, reward)
        check_dense(owner, pre, post, weights)
        r1 = _trace(state.r1, pre, d_plus, interaction)
        o1_before, o2_before, r2_before = d_minus * state.o1, d_y * state.o2, d_x * state.r2
        ltp = torch.outer(post * (a2_plus + a3_plus * o2_before), r1)
        ltd = torch.outer(o1_before, pre * (a2_minus + a3_minus * r2_before))
        new = TripletState(r1, _trace(state.r2, pre, d_x, interaction), _trace(state.o1, post, d_minus, interaction),
                           _trace(state.o2, post, d_y, interaction))
        return _clip(ltp - ltd, weights, w_min, w_max), new

    return PlasticityRule(init_fn, update_fn)


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
    """`triplet_stdp` with Pfister & Gerstner's (2006) visual-cortex fits (as `spikax.plasticity.triplet_visual_cortex`).

    **Example:**

    ```python
    rule = spikax_torch.plasticity.triplet_visual_cortex("all_to_all", minimal=True)
    ```
    """
    owner = "spikax_torch.plasticity.triplet_visual_cortex"
    check_choice_of(owner, "interaction", interaction, INTERACTIONS)
    if (interaction, minimal) not in _VISUAL_CORTEX:
        raise ValueError(f"`{owner}`: no published minimal nearest-spike fit is included; use "
                         "`interaction='all_to_all'` with `minimal=True`, or `minimal=False`.")
    return triplet_stdp(**_VISUAL_CORTEX[(interaction, minimal)], tau_plus=16.8, tau_minus=33.7, dt=dt,
                        interaction=interaction, w_min=w_min, w_max=w_max)


class RewardModulatedState(NamedTuple):
    """State of `spikax_torch.plasticity.reward_modulated`."""

    rule: Any
    eligibility: torch.Tensor


def reward_modulated(rule: PlasticityRule, tau_e: float = 1000.0, dt: float = 1.0) -> PlasticityRule:
    r"""Three-factor learning (Izhikevich 2007; Florian 2007): $e_t = e^{-dt/\tau_e}e_{t-1} + \Delta w^{rule}_t$,
    $\Delta w_t = r_t e_t$ (as `spikax.plasticity.reward_modulated`).

    **Example:**

    ```python
    rule = spikax_torch.plasticity.reward_modulated(spikax_torch.plasticity.stdp(), tau_e=200.0)
    w = torch.zeros(2, 3)
    dw, state = rule.update(torch.ones(3), torch.ones(2), rule.init(w), w, reward=1.0)
    ```
    """
    owner = "spikax_torch.plasticity.reward_modulated"
    if not isinstance(rule, PlasticityRule):
        raise TypeError(f"`{owner}`: `rule` must be a `spikax_torch.plasticity.PlasticityRule`, got "
                        f"{type(rule).__name__}.")
    d_e = decay(owner, tau_e, dt)

    def init_fn(weights, input_shape=None):
        return RewardModulatedState(rule.init(weights, input_shape), torch.zeros_like(weights))

    def update_fn(pre, post, state, weights, reward=None):
        if reward is None:
            raise TypeError(f"`{owner}`: `update` needs `reward=` (the third factor, a scalar), got None.")
        dw, inner = rule.update(pre, post, state.rule, weights)
        eligibility = d_e * state.eligibility + dw
        return reward * eligibility, RewardModulatedState(inner, eligibility)

    return PlasticityRule(init_fn, update_fn)
