"""The `(init, update)` contract of spikax_torch plasticity rules (mirrors `spikax.plasticity`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import torch

from .._errors import check_positive


_PACKAGE = "spikax_torch"


class PlasticityRule(NamedTuple):
    """A plasticity rule: `init(weights, input_shape=None) -> state` and
    `update(pre, post, state, weights, reward=None) -> (dw, state)`; see `spikax.plasticity.PlasticityRule`.

    Dense rules take `weights` `[n_post, n_pre]` (the `torch.nn.Linear` layout), `pre` `[n_pre]`,
    `post` `[n_post]` for one sample; `torch.func.vmap` adds a batch.

    **Example:**

    ```python
    rule = spikax_torch.plasticity.stdp()
    w = torch.zeros(2, 3, dtype=torch.float64)
    dw, state = rule.update(torch.ones(3, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), rule.init(w), w)
    ```
    """

    init: Callable
    update: Callable


def decay(owner: str, tau, dt) -> float:
    check_positive(owner, "tau", tau, "Time constants are in the same unit as `dt` and must be positive.")
    check_positive(owner, "dt", dt)
    if isinstance(tau, numbers.Real) and isinstance(dt, numbers.Real):
        return math.exp(-dt / tau)
    return torch.exp(-torch.as_tensor(dt) / torch.as_tensor(tau))


def check_dense(owner: str, pre, post, weights) -> None:
    w_shape = tuple(weights.shape)
    if len(w_shape) != 2:
        raise ValueError(
            f"`{owner}`: dense rules take `weights` shaped [n_post, n_pre] (a `torch.nn.Linear` weight), got shape "
            f"{w_shape}. For a convolution's kernel wrap the rule: `spikax_torch.plasticity.conv(rule, stride=..., "
            "padding=..., dilation=...)`."
        )
    if tuple(pre.shape) != (w_shape[1],) or tuple(post.shape) != (w_shape[0],):
        raise ValueError(
            f"`{owner}`: got `pre` of shape {tuple(pre.shape)} and `post` of shape {tuple(post.shape)} for weights of "
            f"shape {w_shape}; expected pre ({w_shape[1]},) and post ({w_shape[0]},). Rules take one sample per "
            "step: use `torch.func.vmap` for a batch."
        )


def check_input_shape(owner: str, weights, input_shape) -> None:
    if input_shape is not None and tuple(input_shape) != (weights.shape[1],):
        raise ValueError(
            f"`{owner}`: `input_shape` {tuple(input_shape)} does not match weights of shape {tuple(weights.shape)}; a "
            f"dense rule expects ({weights.shape[1]},). For a convolution wrap the rule with "
            "`spikax_torch.plasticity.conv`."
        )


def no_reward(owner: str, reward) -> None:
    if reward is not None:
        raise TypeError(f"`{owner}`: this rule is not reward-modulated but got `reward`. Wrap it: "
                        "`spikax_torch.plasticity.reward_modulated(rule, tau_e=...)`.")


def check_choice_of(owner: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"`{owner}`: unknown {name} {value!r}. Choose one of {', '.join(map(repr, choices))}.")


def check_bounds(owner: str, w_min, w_max) -> None:
    if w_min is not None and w_max is not None and not bool(torch.all(torch.as_tensor(w_min) < torch.as_tensor(w_max))):
        raise ValueError(f"`{owner}`: `w_min` ({w_min}) must be below `w_max` ({w_max}). Swap them.")


def chain(*rules: PlasticityRule) -> PlasticityRule:
    r"""Several rules on one connection, their updates summed: $\Delta w = \sum_r \Delta w^{(r)}$.

    Each rule keeps its own state and sees the same `pre`, `post` and `weights` (e.g. STDP plus
    synaptic scaling). `reward` goes to every rule, so chain either only reward-modulated
    rules or none.

    **Arguments:** the rules. **Returns:** a rule whose state is the tuple of their states.

    **Example:**

    ```python
    rule = spikax_torch.plasticity.chain(spikax_torch.plasticity.stdp(), spikax_torch.plasticity.hebbian())
    w = torch.full((2, 3), 0.5)
    dw, state = rule.update(torch.ones(3), torch.ones(2), rule.init(w), w)
    ```
    """
    if not rules or not all(isinstance(rule, PlasticityRule) for rule in rules):
        raise TypeError(f"`{_PACKAGE}.plasticity.chain`: pass one or more plasticity rules, got "
                        f"{[type(rule).__name__ for rule in rules]}.")

    def init_fn(weights, input_shape=None):
        return tuple(rule.init(weights, input_shape) for rule in rules)

    def update_fn(pre, post, state, weights, reward=None):
        total, new = None, []
        for rule, rule_state in zip(rules, state, strict=True):
            dw, rule_state = rule.update(pre, post, rule_state, weights, reward)
            total = dw if total is None else total + dw
            new.append(rule_state)
        return total, tuple(new)

    return PlasticityRule(init_fn, update_fn)
