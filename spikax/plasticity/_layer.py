"""Rules applied to a layer's own connection through its step, and as an online learner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._trainable import trainable
from ..online import AbstractEstimator
from ._conv import for_connection
from ._rule import PlasticityRule

# which connection of a layer is plastic -> the signal that connection received
_PRE = {"connection": "input", "recurrent": "recurrent_input"}


def _connection(owner: str, layer, which: str):
    if which not in _PRE:
        raise ValueError(f"`{owner}`: unknown `which` {which!r}. Choose 'connection' (feed-forward) or 'recurrent'.")
    connection = getattr(layer, which, None)
    if connection is None or not hasattr(connection, "weight"):
        raise TypeError(
            f"`{owner}`: a {type(layer).__name__} has no `{which}` with a `weight` to make plastic. Use a "
            "`spikax.layers.Layer` (or `Recurrent`, with `which='recurrent'` for its recurrent weights) whose "
            "connection is an `eqx.nn.Linear` or `eqx.nn.Conv`."
        )
    if not hasattr(layer, "step"):
        raise TypeError(f"`{owner}`: a {type(layer).__name__} has no `step(state, x) -> (state, y, signals)`.")
    return connection


def _rule(owner: str, rule) -> PlasticityRule:
    if not isinstance(rule, PlasticityRule):
        raise TypeError(f"`{owner}`: `rule` must be a `spikax.plasticity.PlasticityRule` (e.g. "
                        f"`spikax.plasticity.stdp()`), got {type(rule).__name__}.")
    return rule


def init(layer, rule: PlasticityRule, input_shape, *, which: str = "connection"):
    """The rule's initial state for `layer`'s connection, for one sample of shape `input_shape`.

    `input_shape` is what the plastic connection receives: the layer's input for
    `which="connection"`, its output shape for `which="recurrent"`.

    **Example:**

    ```python
    layer = spikax.layers.dense(3, 2, spikax.neurons.LIF(), key=key)
    rule_state = spikax.plasticity.init(layer, spikax.plasticity.stdp(), (3,))
    ```
    """
    owner = "spikax.plasticity.init"
    connection = _connection(owner, layer, which)
    return for_connection(_rule(owner, rule), connection).init(connection.weight, tuple(input_shape))


def step(layer, rule: PlasticityRule, state, rule_state, x, *, reward=None, which: str = "connection",
         post: Callable | None = None):
    r"""One layer step and the rule's update of that layer's connection weights.

    Calls `layer.step(state, x)` (the layer's one equation) and feeds the rule the signals it
    reports: the presynaptic signal is what the plastic connection received
    (`signals.input`, or `signals.recurrent_input` with `which="recurrent"`), the
    postsynaptic one is `signals.output` (or `post(signals)`). Dense (`eqx.nn.Linear`) and
    convolutional (`eqx.nn.Conv1d/2d/3d`) connections are supported; a convolution's stride,
    padding and dilation are read from it ([`spikax.plasticity.for_connection`][]).

    **Arguments:**

    - `layer`: a [`spikax.layers.Layer`][] or [`spikax.layers.Recurrent`][].
    - `rule`: a dense [`spikax.plasticity.PlasticityRule`][].
    - `state`, `rule_state`: the layer's and the rule's state
      (from [`spikax.plasticity.init`][]); `x`: the input of one sample.
    - `reward`: the third factor, for [`spikax.plasticity.reward_modulated`][] rules.
    - `which`: `"connection"` (feed-forward weights) or `"recurrent"`.
    - `post`: optional `post(signals) -> array` choosing the postsynaptic signal, e.g.
      `lambda s: s.output * spikax.plasticity.kwta(s.current, 1)`.

    **Returns:** `(state, y, rule_state, dw)`, `dw` shaped like the connection's weight (apply
    it with [`spikax.plasticity.apply`][], or through an optimiser with
    [`spikax.plasticity.surrogate_loss`][]).

    **Example:**

    ```python
    layer = spikax.layers.dense(3, 2, spikax.neurons.LIF(), key=key)
    rule = spikax.plasticity.stdp()
    state, rule_state = layer.init_state((3,)), spikax.plasticity.init(layer, rule, (3,))
    state, y, rule_state, dw = spikax.plasticity.step(layer, rule, state, rule_state, jnp.ones(3))
    layer = spikax.plasticity.apply(layer, dw)
    ```
    """
    owner = "spikax.plasticity.step"
    connection = _connection(owner, layer, which)
    rule = for_connection(_rule(owner, rule), connection)
    new_state, y, signals = layer.step(state, x)
    pre = getattr(signals, _PRE[which])
    post_signal = signals.output if post is None else post(signals)
    dw, rule_state = rule.update(pre, post_signal, rule_state, connection.weight, reward)
    return new_state, y, rule_state, dw


def apply(layer, dw, *, which: str = "connection"):
    """`layer` with `dw` added to its connection's weight (a new layer; the old one is unchanged).

    **Example:**

    ```python
    layer = spikax.layers.dense(3, 2, spikax.neurons.LIF(), key=key)
    layer = spikax.plasticity.apply(layer, jnp.full((2, 3), 0.1))
    ```
    """
    connection = _connection("spikax.plasticity.apply", layer, which)
    if jnp.shape(dw) != jnp.shape(connection.weight):
        raise ValueError(f"`spikax.plasticity.apply`: `dw` has shape {jnp.shape(dw)} but the {which} weight has shape "
                         f"{jnp.shape(connection.weight)}.")
    return eqx.tree_at(lambda m: getattr(m, which).weight, layer, connection.weight + dw)


class PlasticityLearner(AbstractEstimator):
    """A plasticity rule as an online learner for [`spikax.online.run`][] / [`spikax.online.train`][];
    built by [`spikax.plasticity.learner`][]."""

    rules: tuple
    input_shape: tuple = eqx.field(static=True)
    reward_fn: Any = None
    alongside: AbstractEstimator | None = None

    def _plastic(self, model):
        layers = tuple(model.layers) if hasattr(model, "layers") else (model,)
        return layers, [(index, rule) for index, rule in enumerate(self.rules) if rule is not None]

    def init(self, params, state0, *, key=None):
        model = self.model(params)
        layers, plastic = self._plastic(model)
        x = jax.ShapeDtypeStruct(self.input_shape, jax.tree_util.tree_leaves(state0)[0].dtype)
        _, _, signals = jax.eval_shape(lambda s, x: model.step(s, x), state0, x)
        signals = signals if hasattr(model, "layers") else (signals,)
        rule_states = tuple(init(layers[i], rule, jnp.shape(signals[i].input)) for i, rule in plastic)
        inner = None if self.alongside is None else self.alongside.init(params, state0, key=key)
        return rule_states, inner

    def step(self, params, lstate, state, x, target, *, key=None):
        model = self.model(params)
        layers, plastic = self._plastic(model)
        rule_states, inner = lstate
        new_state, y, signals = model.step(state, x)
        signals = signals if hasattr(model, "layers") else (signals,)
        reward = None if self.reward_fn is None else self.reward_fn(y, target)
        if self.alongside is None:
            grads, loss = jax.tree_util.tree_map(jnp.zeros_like, params), self.loss(y, target)
        else:  # the gradient learner takes the same step from the same state (pure, so the same result)
            _, inner, _, loss, grads = self.alongside.step(params, inner, state, x, target, key=key)
        new_rule_states = []
        for (index, rule), rule_state in zip(plastic, rule_states, strict=True):
            connection = layers[index].connection
            dw, rule_state = for_connection(rule, connection).update(
                signals[index].input, signals[index].output, rule_state, connection.weight, reward)
            new_rule_states.append(rule_state)
            where = (lambda p, i=index: p.layers[i].connection.weight) if hasattr(model, "layers") else (
                lambda p: p.connection.weight)
            grads = eqx.tree_at(where, grads, where(grads) - dw)
        return new_state, (tuple(new_rule_states), inner), y, loss, grads


def no_loss(y, target):
    """The loss a plasticity learner reports without a `loss_fn`: zero."""
    del target
    return jnp.zeros((), jnp.result_type(y))


def learner(model, rules, input_shape, *, loss_fn: Callable | None = None, reward_fn: Callable | None = None,
            alongside: AbstractEstimator | None = None) -> PlasticityLearner:
    r"""Plasticity as an online learner: use rules instead of a gradient learner in
    [`spikax.online.run`][] and [`spikax.online.train`][].

    Each step runs the model's own step and returns, as `grad_t`, minus the rules' weight
    updates (zero for every other parameter), so `spikax.online.train(..., optax.sgd(1.0))`
    applies the plasticity updates as they come, and any other optax optimiser or schedule
    rescales them (the "surrogate loss" route, see [`spikax.plasticity.surrogate_loss`][]).
    With `alongside=` a gradient learner built on the same model (e.g.
    `spikax.online.eprop(model, loss_fn)`), `grad_t` is that learner's gradient minus the
    plasticity updates: gradient training and plasticity in one optimiser step.

    **Arguments:**

    - `model`: a [`spikax.Chain`][] or a single layer.
    - `rules`: one entry per layer of the chain (a rule, or None for a layer that does not
      learn); a single rule for a single layer.
    - `input_shape`: shape of one input sample.
    - `loss_fn(y_t, target_t)`: optional, reported as the loss (else zero).
    - `reward_fn(y_t, target_t)`: optional scalar reward for reward-modulated rules.
    - `alongside`: optional online gradient learner for the same model; its loss is reported.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(4, 3, spikax.neurons.LIF(), key=key)])
    est = spikax.plasticity.learner(net, (spikax.plasticity.stdp(),), (4,))
    params, _ = eqx.partition(net, spikax.trainable(net))
    xs = (jax.random.uniform(key, (50, 4)) < 0.3).astype(float)
    opt = optax.sgd(1.0)
    params, _, _ = spikax.online.train(est, opt, params, opt.init(params), net.init_state((4,)), xs, None)
    ```
    """
    owner = "spikax.plasticity.learner"
    if not hasattr(model, "step") or not hasattr(model, "init_state"):
        raise TypeError(f"`{owner}`: `model` must be a spikax layer or `spikax.Chain`, got {type(model).__name__}.")
    layers = tuple(model.layers) if hasattr(model, "layers") else (model,)
    rules = (rules,) if isinstance(rules, PlasticityRule) else tuple(rules)
    if len(rules) != len(layers):
        raise ValueError(f"`{owner}`: got {len(rules)} rules for a model with {len(layers)} layers; give one per layer "
                         "(None for a layer that does not learn).")
    for layer, rule in zip(layers, rules, strict=True):
        if rule is not None:
            _rule(owner, rule)
            for_connection(rule, _connection(owner, layer, "connection"))
    params, static = eqx.partition(model, trainable(model))
    treedef = jax.tree_util.tree_structure(params)
    if alongside is not None:
        if not isinstance(alongside, AbstractEstimator) or alongside.params_treedef != treedef:
            raise TypeError(f"`{owner}`: `alongside` must be an online learner built on the same model (e.g. "
                            f"`spikax.online.eprop(model, loss_fn)`), got {type(alongside).__name__}.")
        loss_fn = alongside.loss_fn
    return PlasticityLearner(static=static, loss_fn=no_loss if loss_fn is None else loss_fn, params_treedef=treedef,
                             rules=rules, input_shape=tuple(input_shape), reward_fn=reward_fn, alongside=alongside)
