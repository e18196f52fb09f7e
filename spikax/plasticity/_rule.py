"""The `(init, update)` contract every plasticity rule follows, and the checks they share."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import check_positive


_PACKAGE = "spikax"


class PlasticityRule(NamedTuple):
    r"""A plasticity rule: a pair of pure functions, like an optax `GradientTransformation`.

    - `init(weights, input_shape=None) -> rule_state`: the rule's traces for a connection with
      these weights; `input_shape` is the shape of one input sample (needed by convolutional
      rules, which keep their traces per patch position; dense rules infer it from `weights`).
    - `update(pre, post, rule_state, weights, reward=None) -> (dw, rule_state)`: one time step.
      `pre` is what the connection received this step, `post` what the layer emitted, `dw` has
      the shape of `weights` and is the change to *add* (learning rate included). `reward` is the
      third factor of reward-modulated rules ([`spikax.plasticity.reward_modulated`][]); other
      rules raise if one is given.

    Dense rules take `weights` shaped `[n_post, n_pre]` (the `equinox.nn.Linear` layout), `pre`
    shaped `[n_pre]` and `post` shaped `[n_post]`; [`spikax.plasticity.conv`][] turns any of
    them into a rule for a convolution's kernel. Both functions run under `jit`, `vmap`
    and inside `lax.scan`.

    **Example:**

    ```python
    rule = spikax.plasticity.stdp()
    w = jnp.zeros((2, 3))
    state = rule.init(w)
    dw, state = rule.update(jnp.array([1.0, 0.0, 0.0]), jnp.zeros(2), state, w)
    ```
    """

    init: Callable
    update: Callable


def decay(owner: str, tau, dt):
    """exp(-dt / tau), after checking both are positive (a Python float for Python numbers, so it
    keeps the dtype of the traces it multiplies)."""
    check_positive(owner, "tau", tau, "Time constants are in the same unit as `dt` and must be positive.")
    check_positive(owner, "dt", dt)
    if isinstance(tau, numbers.Real) and isinstance(dt, numbers.Real):
        return math.exp(-dt / tau)
    return jnp.exp(-dt / tau)


def check_dense(owner: str, pre, post, weights) -> None:
    """Shapes of one dense step: pre [n_pre], post [n_post], weights [n_post, n_pre]."""
    w_shape = jnp.shape(weights)
    if len(w_shape) != 2:
        raise ValueError(
            f"`{owner}`: dense rules take `weights` shaped [n_post, n_pre] (an `eqx.nn.Linear` weight), got shape "
            f"{w_shape}. For a convolution's kernel wrap the rule: `spikax.plasticity.conv(rule, stride=..., "
            "padding=..., dilation=...)`, or use `spikax.plasticity.step` on the layer."
        )
    if jnp.shape(pre) != (w_shape[1],) or jnp.shape(post) != (w_shape[0],):
        raise ValueError(
            f"`{owner}`: got `pre` of shape {jnp.shape(pre)} and `post` of shape {jnp.shape(post)} for weights of shape "
            f"{w_shape}; expected pre ({w_shape[1]},) and post ({w_shape[0]},). Rules take one sample per step: "
            "use `jax.vmap` for a batch (and sum or average the returned `dw`)."
        )


def check_input_shape(owner: str, weights, input_shape) -> None:
    if input_shape is not None and tuple(input_shape) != (jnp.shape(weights)[1],):
        raise ValueError(
            f"`{owner}`: `input_shape` {tuple(input_shape)} does not match weights of shape {jnp.shape(weights)}; a "
            f"dense rule expects ({jnp.shape(weights)[1]},). For a convolution wrap the rule with "
            "`spikax.plasticity.conv`."
        )


def no_reward(owner: str, reward) -> None:
    if reward is not None:
        raise TypeError(
            f"`{owner}`: this rule is not reward-modulated but got `reward`. Wrap it: "
            "`spikax.plasticity.reward_modulated(rule, tau_e=...)`."
        )


def check_choice_of(owner: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"`{owner}`: unknown {name} {value!r}. Choose one of {', '.join(map(repr, choices))}.")


def check_bounds(owner: str, w_min, w_max) -> None:
    if w_min is None or w_max is None:
        return
    try:
        ordered = bool(np.all(np.asarray(w_min) < np.asarray(w_max)))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):  # traced bounds: not checkable
        return
    if not ordered:
        raise ValueError(f"`{owner}`: `w_min` ({w_min}) must be below `w_max` ({w_max}). Swap them.")


def chain(*rules: PlasticityRule) -> PlasticityRule:
    r"""Several rules on one connection, their updates summed: $\Delta w = \sum_r \Delta w^{(r)}$.

    Each rule keeps its own state and sees the same `pre`, `post` and `weights` (e.g. STDP plus
    synaptic scaling). `reward` goes to every rule, so chain either only reward-modulated
    rules or none.

    **Arguments:** the rules. **Returns:** a rule whose state is the tuple of their states.

    **Example:**

    ```python
    rule = spikax.plasticity.chain(spikax.plasticity.stdp(), spikax.plasticity.synaptic_scaling(target=0.05))
    w = jnp.full((2, 3), 0.5)
    dw, state = rule.update(jnp.ones(3), jnp.ones(2), rule.init(w), w)
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
