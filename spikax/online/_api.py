r"""The shared contract of every online learner, and the offline references they are tested against.

**For learner authors.** A learner is an [`AbstractEstimator`][spikax.online.AbstractEstimator]
subclass. Its factory (e.g. `rtrl(model, loss_fn, ...)`) binds

- the model's *static* part: `eqx.partition(model, spikax.trainable(model))[1]`, kept in the
  field `static`, so `self.model(params)` rebuilds the full model from the trainable `params`;
- the per-step loss $\ell_t$ = `loss_fn(y_t, target_t)` (a scalar), kept in `loss_fn`.

The learner implements two pure methods (usable inside `lax.scan`, `jit` and `vmap`):

```
init(params, state0, *, key=None) -> lstate
step(params, lstate, state, x_t, target_t, *, key=None) -> (state, lstate, y_t, loss_t, grad_t)
```

`grad_t` has the structure of `params`; `Σ_t grad_t` is the learner's estimate of
$\nabla_\theta \sum_t \ell_t$. Optionally it advances several steps at once, when a chunk of
steps costs less than the steps one by one (the eligibility-trace learners do; `run` and `train`
then call it with `default_chunk` steps):

```
chunk_init(params, state0, *, key=None) -> lstate          # by default init's
chunk_step(params, lstate, state, xs, targets, *, keys=None) -> (state, lstate, losses, grad)
```

where `grad` is the sum of the steps' `grad_t` (by default `step` in a `lax.scan`). Building
blocks the base class provides:

- `self.model(params)`: the full model; for a `Chain` (or a single layer)
  `self.layers(params)` gives its layers as a tuple (the state is then a tuple with one
  entry per layer, see `self.layer_states`).
- `self.model_step(params, state, x, probes=None) -> (state, y)`: one step of the whole
  network. With `probes` (see [`Probes`][spikax.online.Probes] and `self.make_probes`), zeros are
  added to each layer's output $y^l_t$ (before it feeds the next layer and before a recurrent
  layer stores it) and to each layer's new state, so the loss's vjp with respect to the
  probes gives the within-step ("spatial") learning signals $\partial\ell_t/\partial y^l_t$
  and $\partial\ell_t/\partial s^l_t$. The step is each layer's own
  [`step`][spikax.layers.AbstractLayer.step] (a model that is not a `Chain` is one layer), and a
  probe reaches a stored copy of the output through the layer's `with_output`.
- `self.loss_step(params, state, x, target, probes=None) -> (state, y, loss)`: the model step
  followed by the per-step loss; the function every learner differentiates.
- `self.spatial_signals(params, state, x, target) -> (state, y, loss, signals)`: the same,
  plus `signals`, a [`Probes`][spikax.online.Probes] holding $\partial\ell_t/\partial y^l_t$
  (`signals.outputs[l]`) and $\partial\ell_t/\partial s^l_t$ (`signals.states[l]`).
- What a layer saw in a step (input, recurrent input, neuron current, output) comes from its
  [`spikax.layers.LayerSignals`][]; its neuron is `layer.neuron`, the neuron's state
  `layer.neuron_state(state)`, and what its eligibility needs the neuron says itself
  ([`spikax.neurons.AbstractNeuron.eligibility_leak`][]).

Drivers: [`run`][spikax.online.run] (fixed $\theta$, gradients summed over time),
[`train`][spikax.online.train] (an optax optimiser applied online), and the offline
references [`bptt`][spikax.online.bptt] and [`rtrl_oracle`][spikax.online.rtrl_oracle].
Batches are `jax.vmap` over examples (`batch_axis=`); losses and gradients are averaged over
the batch.
"""

from __future__ import annotations

import abc
import types
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from .._trainable import trainable
from ..network import Chain


class Probes(NamedTuple):
    """Zeros added inside one model step, whose cotangents are the spatial learning signals.

    - `outputs`: a tuple with one array per layer, shaped like that layer's output $y^l_t$.
    - `states`: a pytree shaped like the model's state (a tuple with one entry per layer).
    """

    outputs: tuple
    states: Any


# -- the model adapter --------------------------------------------------------------------------


def _layers_of(model) -> tuple[tuple, bool]:
    """The model's layers and whether its state is a tuple of layer states (a `Chain`); any other model is one layer."""
    if isinstance(model, Chain):
        return tuple(model.layers), True
    return (model,), False


def _forward(model, state, x, probes: Probes | None):
    """One step through the layers' own `step`; returns `(new_state, outputs)` with every layer's output."""
    new_state, outputs, _ = layer_steps(model, state, x, probes)
    return new_state, outputs


def layer_steps(model, state, x, probes: Probes | None = None):
    """One model step, layer by layer through each layer's `step`: `(new_state, outputs, signals)`.

    `outputs` and `signals` are tuples with one entry per layer (a model that is not a `Chain` is one
    layer). With `probes`, `probes.outputs[l]` is added to layer l's output before the next layer reads
    it, and `probes.states` to the new state.
    """
    layers, chained = _layers_of(model)
    states = state if chained else (state,)
    new_states, outputs, signals = [], [], []
    for index, (layer, layer_state) in enumerate(zip(layers, states, strict=True)):
        new, x, layer_signals = layer.step(layer_state, x)
        if probes is not None:
            x = x + probes.outputs[index]
            new = layer.with_output(new, x)
        new_states.append(new)
        outputs.append(x)
        signals.append(layer_signals)
    new_state = tuple(new_states) if chained else new_states[0]
    if probes is not None:
        new_state = jax.tree_util.tree_map(jnp.add, new_state, probes.states)
    return new_state, tuple(outputs), tuple(signals)


class _ByIdentity:
    """Hashable by identity (a function's globals: the same module gives the same dictionary)."""

    def __init__(self, value):
        self.value = value

    def __hash__(self):
        return id(self.value)

    def __eq__(self, other):
        return isinstance(other, _ByIdentity) and other.value is self.value


class LossFunction(eqx.Module):
    r"""A per-step loss held by its code and captured values, so equal code compiles once.

    A learner keeps its `loss_fn` in this form: two `lambda`s written at the same place (or the
    same function) share their code object, so `jax.jit` sees the same static part and reuses its
    compilation, while arrays the function captured (its closure and defaults) are ordinary leaves.
    Callables that are not plain Python functions are kept as they are.

    **Example:**

    ```python
    make = lambda scale: spikax.online.LossFunction.of(lambda y, t: scale * jnp.sum((y - t) ** 2))
    a, b = make(1.0), make(2.0)
    a(jnp.ones(2), jnp.zeros(2)), b(jnp.ones(2), jnp.zeros(2))  # 2.0, 4.0
    ```
    """

    code: Any = eqx.field(static=True)
    env: Any = eqx.field(static=True)
    name: str = eqx.field(static=True)
    defaults: Any
    closure: Any

    @staticmethod
    def of(fn):
        """`fn` as a `LossFunction` when it is a plain Python function with hashable captured values, else `fn`."""
        if isinstance(fn, LossFunction) or not isinstance(fn, types.FunctionType) or fn.__kwdefaults__:
            return fn
        closure = tuple(cell.cell_contents for cell in fn.__closure__ or ())
        try:
            hash(tuple(leaf for leaf in jax.tree_util.tree_leaves((closure, fn.__defaults__))
                       if not eqx.is_array(leaf)))
        except (TypeError, ValueError):
            return fn  # something unhashable was captured: keep the function itself
        return LossFunction(code=fn.__code__, env=_ByIdentity(fn.__globals__), name=fn.__name__,
                            defaults=fn.__defaults__, closure=closure)

    def __call__(self, *args):
        cells = tuple(types.CellType(value) for value in self.closure)
        return types.FunctionType(self.code, self.env.value, self.name, self.defaults, cells or None)(*args)


def _bind(owner: str, model, loss_fn):
    """Check the arguments every factory takes and split the model into (params treedef, static)."""
    if not callable(loss_fn):
        raise TypeError(
            f"`{owner}`: `loss_fn` must be a function `loss_fn(y_t, target_t) -> scalar` (the per-step loss), "
            f"got {type(loss_fn).__name__}."
        )
    if not callable(model) or not hasattr(model, "init_state"):
        raise TypeError(
            f"`{owner}`: `model` must be a spikax model with `init_state` and a step `(state, x) -> (state, y)` "
            f"(a layer or a `spikax.Chain`), got {type(model).__name__}."
        )
    params, static = eqx.partition(model, trainable(model))
    return jax.tree_util.tree_structure(params), static


class AbstractEstimator(eqx.Module):
    """Base class of online gradient estimators: a pure `(init, step)` pair; see the module docs.

    **Fields:** `static` (the model's non-trainable part), `loss_fn` (the per-step loss
    `loss_fn(y_t, target_t) -> scalar`), `params_treedef` (the structure `params` must have).
    """

    static: Any
    # Not a static field: a new `lambda` per learner would mean a new compilation (see `LossFunction`).
    loss_fn: Callable = eqx.field(converter=LossFunction.of)
    params_treedef: Any = eqx.field(static=True)

    # -- what a learner implements -------------------------------------------------------------
    @abc.abstractmethod
    def init(self, params, state0, *, key=None):
        """The learner's initial state (traces, influence matrices...) for a model in `state0`."""

    @abc.abstractmethod
    def step(self, params, lstate, state, x, target, *, key=None):
        """One time step: returns `(state, lstate, y_t, loss_t, grad_t)`, `grad_t` shaped like `params`."""

    # -- chunks of steps (optional) ------------------------------------------------------------
    #: How many steps `run` and `train` hand to `chunk_step` at once by default (1: step by step).
    default_chunk: ClassVar[int] = 1

    def chunk_init(self, params, state0, *, key=None):
        """The learner's state in the form `chunk_step` carries (by default `init`'s)."""
        return self.init(params, state0, key=key)

    def chunk_step(self, params, lstate, state, xs, targets, *, keys=None):
        """Several steps at once (time on axis 0 of `xs`, `targets` and `keys`): `(state, lstate, losses, grad)`.

        `grad` is the sum of the steps' `grad_t`, `losses` their `loss_t`. By default `step` in a `lax.scan`; a
        learner overrides it when a chunk costs less than its steps one by one (the eligibility-trace learners).
        """
        def body(carry, inputs):
            state, lstate, grads = carry
            x, target, k = inputs
            state, lstate, _, loss, grad = self.step(params, lstate, state, x, target, key=k)
            return (state, lstate, jax.tree_util.tree_map(jnp.add, grads, grad)), loss

        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        (state, lstate, grads), losses = lax.scan(body, (state, lstate, zeros), (xs, targets, keys))
        return state, lstate, losses, grads

    # -- building blocks -----------------------------------------------------------------------
    def model(self, params):
        """The full model: `params` (trainable leaves) combined with the static part."""
        self.check_params(params)
        return eqx.combine(params, self.static)

    def check_params(self, params) -> None:
        """Raise a clear error unless `params` is the trainable part of the bound model."""
        got = jax.tree_util.tree_structure(params)
        if got != self.params_treedef:
            raise ValueError(
                f"`spikax.online.{type(self).__name__}`: `params` does not have the structure of the trainable part "
                "of the model this learner was built with. Pass "
                "`params, _ = eqx.partition(model, spikax.trainable(model))` for the same model "
                "(not the whole model, and not another model)."
            )

    def layers(self, params) -> tuple:
        """The model's layers as a tuple (a model that is not a `spikax.Chain` gives a 1-tuple)."""
        return _layers_of(self.model(params))[0]

    def layer_states(self, params, state) -> tuple:
        """The model state as a tuple with one entry per layer (wraps a single layer's state)."""
        return state if _layers_of(self.model(params))[1] else (state,)

    def model_step(self, params, state, x, probes: Probes | None = None):
        """One model step `(state, y)`, with optional [`Probes`][spikax.online.Probes] added inside."""
        new_state, outputs, _ = layer_steps(self.model(params), state, x, probes)
        return new_state, outputs[-1]

    def layer_outputs(self, params, state, x):
        """One model step returning `(state, outputs)` with every layer's output $y^l_t$ (a tuple)."""
        new_state, outputs, _ = layer_steps(self.model(params), state, x)
        return new_state, outputs

    def make_probes(self, params, state, x) -> Probes:
        """Zero [`Probes`][spikax.online.Probes] for one step of the model from `state` on input `x`."""
        _, outputs = jax.eval_shape(lambda s, x: self.layer_outputs(params, s, x), state, x)
        return Probes(
            outputs=tuple(jnp.zeros(o.shape, o.dtype) for o in outputs),
            states=jax.tree_util.tree_map(jnp.zeros_like, state),
        )

    def loss(self, y, target):
        """The per-step loss $\\ell_t$, checked to be a scalar."""
        value = self.loss_fn(y, target)
        if jnp.ndim(value) != 0:
            raise ValueError(
                f"`spikax.online.{type(self).__name__}`: `loss_fn(y_t, target_t)` must return a scalar (the loss of "
                f"one time step of one example), got shape {jnp.shape(value)}. Reduce it, e.g. with `.sum()`; batches "
                "are handled by `batch_axis=`."
            )
        return value

    def loss_step(self, params, state, x, target, probes: Probes | None = None):
        """One model step and its loss: `(state, y_t, loss_t)`."""
        new_state, y = self.model_step(params, state, x, probes)
        return new_state, y, self.loss(y, target)

    def spatial_signals(self, params, state, x, target):
        r"""One step plus the within-step learning signals: `(state, y_t, loss_t, signals)`.

        `signals` is a [`Probes`][spikax.online.Probes] with $\partial\ell_t/\partial y^l_t$ in
        `signals.outputs[l]` and $\partial\ell_t/\partial s^l_t$ in `signals.states` (both with
        the earlier state held fixed).
        """
        probes = self.make_probes(params, state, x)

        def f(p):
            new_state, y, loss = self.loss_step(params, state, x, target, p)
            return loss, (new_state, y)

        loss, pullback, (new_state, y) = jax.vjp(f, probes, has_aux=True)
        (signals,) = pullback(jnp.ones_like(loss))
        return new_state, y, loss, signals


# -- flat views used by exact learners ----------------------------------------------------------


def flat_step(est: AbstractEstimator, params, state, x, target):
    """The step as a map of flat vectors, for forward-mode learners.

    Returns `(f, flat_state, flat_params, unravel_state, unravel_params)` where
    `f(flat_state, flat_params) -> ((flat_new_state, loss_t), y_t)` (y_t as auxiliary output).
    """
    flat_p, unravel_p = ravel_pytree(params)
    flat_s, unravel_s = ravel_pytree(state)

    def f(fs, fp):
        new_state, y, loss = est.loss_step(unravel_p(fp), unravel_s(fs), x, target)
        return (ravel_pytree(new_state)[0], loss), y

    return f, flat_s, flat_p, unravel_s, unravel_p


def check_float_state(owner: str, state) -> None:
    """Raise unless every state leaf is a floating-point array (forward mode needs tangents)."""
    for leaf in jax.tree_util.tree_leaves(state):
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact):
            raise TypeError(
                f"`{owner}`: the model state has a leaf of dtype {jnp.asarray(leaf).dtype}; forward-mode learners "
                "carry a tangent for every state entry and need floating-point state. Use float state "
                "(spikax neurons keep even refractory counters as floats)."
            )


# -- drivers ----------------------------------------------------------------------------------


def _check_estimator(owner: str, est) -> None:
    if not isinstance(est, AbstractEstimator):
        raise TypeError(
            f"`{owner}`: expected an online learner such as `spikax.online.rtrl(model, loss_fn)`, got "
            f"{type(est).__name__}. For BPTT use `spikax.online.bptt`."
        )


def _check_sequence(owner: str, xs, targets, batch_axis):
    leaves = jax.tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError(f"`{owner}`: `xs` is empty; give inputs shaped [time, ...].")
    needed = 1 if batch_axis is None else batch_axis + 1
    steps = leaves[0].shape[0] if jnp.ndim(leaves[0]) else None
    for name, tree in (("xs", xs), ("targets", targets)):
        for leaf in jax.tree_util.tree_leaves(tree):
            if jnp.ndim(leaf) < needed or jnp.shape(leaf)[0] != steps:
                extra = f" and a batch axis at {batch_axis}" if batch_axis is not None else ""
                raise ValueError(
                    f"`{owner}`: every leaf of `{name}` needs time on axis 0{extra} (with {steps} steps, like `xs`), "
                    f"got a leaf of shape {jnp.shape(leaf)}. Give `xs` and `targets` shaped [time, ...]."
                )
    if batch_axis is not None:
        sizes = {jnp.shape(leaf)[batch_axis] for leaf in jax.tree_util.tree_leaves((xs, targets))}
        if len(sizes) != 1:
            raise ValueError(f"`{owner}`: `xs` and `targets` disagree on the batch size at axis {batch_axis}: {sizes}.")
        return steps, sizes.pop()
    return steps, None


def _check_model_io(owner: str, est, params, state0, xs, targets, batch_axis) -> None:
    """The state belongs to the model, the inputs have a time axis, and the loss takes the model's output and a target."""
    from ..loop._run import _check_state

    model = est.model(params)
    leaf = jax.tree_util.tree_leaves(xs)[0]
    drop = lambda shape: shape if batch_axis is None else shape[:batch_axis - 1] + shape[batch_axis:]  # noqa: E731
    sample = drop(tuple(jnp.shape(leaf)[1:]))
    _check_state(model, state0, sample, jnp.result_type(leaf), batched=False, owner=owner,
                 full_shape=drop(tuple(jnp.shape(leaf))) if batch_axis is None else None)
    step_x = jax.ShapeDtypeStruct(sample, jnp.result_type(leaf))
    y = jax.eval_shape(lambda s, x: model(s, x)[1], state0, step_x)
    per_step = jax.tree_util.tree_map(lambda t: jax.ShapeDtypeStruct(drop(tuple(jnp.shape(t)[1:])), jnp.result_type(t)),
                                      targets)
    try:
        jax.eval_shape(est.loss_fn, y, per_step)
    except (TypeError, ValueError) as error:
        got = jax.tree_util.tree_map(lambda t: t.shape, per_step)
        raise ValueError(
            f"`{owner}`: `loss_fn(y_t, target_t)` cannot take this model's output and the targets: the output of one "
            f"step has shape {y.shape} but a target of one step has shape {got} ({error}). Give targets shaped "
            f"[time, {', '.join(map(str, y.shape))}]{' with the batch at `batch_axis`' if batch_axis is not None else ''}"
            ", or a loss that maps this output and target to a scalar."
        ) from None


def _sequence_keys(key, steps):
    return None if key is None else jax.random.split(key, steps)


def _chunk_of(tree, start, size):
    """Steps `start .. start + size` of every leaf (time on axis 0), sliced in place."""
    return jax.tree_util.tree_map(lambda a: lax.dynamic_slice_in_dim(a, start, size), tree)


def _advance(est, chunk):
    """`(params, lstate, state, xs, targets, keys) -> (state, lstate, losses, summed grad)` for one example over the
    steps on axis 0: the learner's `chunk_step`, or its `step` for chunks of one step (with `init`'s state)."""
    if chunk > 1:
        return lambda params, lstate, state, x, target, keys: est.chunk_step(params, lstate, state, x, target,
                                                                             keys=keys)

    def one_step(params, lstate, state, x, target, keys):
        first = lambda tree: jax.tree_util.tree_map(lambda a: a[0], tree)  # noqa: E731
        state, lstate, _, loss, grad = est.step(params, lstate, state, first(x), first(target), key=first(keys))
        return state, lstate, loss[None], grad

    return one_step


def _over_chunks(body, carry, sequence, steps, chunk):
    """`body(carry, chunk_inputs, size) -> (carry, out)` over the sequence in chunks, then a shorter last chunk.

    The chunk's start is carried rather than scanned over, so nothing the size of the sequence is built.
    Returns the carry and the outputs (stacked per full chunk, and the last chunk's, or None)."""
    def next_chunk(carry, _):
        carry, start = carry
        carry, out = body(carry, _chunk_of(sequence, start, chunk), chunk)
        return (carry, start + chunk), out

    full = steps - steps % chunk
    (carry, _), outs = lax.scan(next_chunk, (carry, jnp.zeros((), jnp.int32)), None, length=full // chunk)
    last = None
    if full < steps:
        carry, last = body(carry, _chunk_of(sequence, full, steps - full), steps - full)
    return carry, outs, last


def _run_one(est, params, state0, xs, targets, key, chunk=1):
    init_key, step_key = (None, None) if key is None else jax.random.split(key)
    steps = jax.tree_util.tree_leaves(xs)[0].shape[0]
    chunk = min(chunk, steps)
    advance = _advance(est, chunk)

    def body(carry, inputs, size):
        del size
        state, lstate, loss, grads = carry
        state, lstate, losses, grad = advance(params, lstate, state, *inputs)
        return (state, lstate, loss + jnp.sum(losses).astype(loss.dtype), jax.tree_util.tree_map(jnp.add, grads, grad)), None

    lstate = (est.init if chunk == 1 else est.chunk_init)(params, state0, key=init_key)
    carry = (state0, lstate, jnp.zeros((), _dtype_of(params, state0)), jax.tree_util.tree_map(jnp.zeros_like, params))
    (_, _, loss, grads), _, _ = _over_chunks(body, carry, (xs, targets, _sequence_keys(step_key, steps)), steps, chunk)
    return loss, grads


def _check_chunk(owner, chunk, est):
    if chunk is None:
        return est.default_chunk
    if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
        raise ValueError(f"`{owner}`: `chunk` must be a whole number of steps >= 1 (or None for the learner's "
                         f"default), got {chunk!r}.")
    return int(chunk)


def _dtype_of(params, state):
    for tree in (state, params):
        leaves = [leaf for leaf in jax.tree_util.tree_leaves(tree) if eqx.is_inexact_array(leaf)]
        if leaves:
            return leaves[0].dtype
    return jnp.result_type(float)


def _mean0(tree):
    return jax.tree_util.tree_map(lambda a: jnp.mean(a, axis=0), tree)


def run(est: AbstractEstimator, params, state0, xs, targets, *, key=None, batch_axis: int | None = None,
        chunk: int | None = None):
    r"""Run an online learner over a sequence with fixed parameters; sum its per-step gradients.

    $$L = \sum_t \ell_t,\qquad g = \sum_t g_t$$

    where $g_t$ is the learner's `grad_t`. For an exact learner ([`rtrl`][spikax.online.rtrl]),
    $g = \nabla_\theta L$, the BPTT gradient. Everything runs in one `lax.scan`: memory does not
    grow with the sequence length.

    **Arguments:**

    - `est`: the learner, e.g. `spikax.online.rtrl(model, loss_fn)`.
    - `params`: the trainable part of the model, `eqx.partition(model, spikax.trainable(model))[0]`.
    - `state0`: the model's initial state for one example, `model.init_state(x_shape)`.
    - `xs`, `targets`: inputs and targets with time on axis 0 (`targets` may be any pytree, or None).
    - `key`: a PRNG key, for learners that draw random numbers (e.g. forward gradients).
    - `batch_axis`: the axis of `xs`/`targets` holding a batch; losses and gradients are then
      averaged over the batch (each example has its own traces).
    - `chunk`: how many steps the learner advances at once (None: its `default_chunk`, 32 for the
      eligibility-trace learners, 1 for the others). The sum is the same as step by step (to
      rounding); a chunk lets e-prop, OSTL, SnAp-1, OTTT and OTPE update their per-synapse traces
      once per chunk with matrix products instead of at every step. Memory grows with the
      chunk, not with the sequence.

    **Returns:** `(loss, grads)`: the summed loss and gradient (batch means with `batch_axis`);
    `grads` has the structure of `params`.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=jax.random.key(0)),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=jax.random.key(1))])
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    params, _ = eqx.partition(net, spikax.trainable(net))
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    loss, grads = spikax.online.run(spikax.online.rtrl(net, mse), params, net.init_state((3,)), xs, targets)
    ```
    """
    owner = "spikax.online.run"
    _check_estimator(owner, est)
    est.check_params(params)
    _, batch = _check_sequence(owner, xs, targets, batch_axis)
    return _run_jit(est, params, state0, xs, targets, key, batch_axis, batch, _check_chunk(owner, chunk, est))


@eqx.filter_jit
def _run_jit(est, params, state0, xs, targets, key, batch_axis, batch, chunk):
    # Shape checks run while tracing: once per compilation, not on every call.
    _check_model_io("spikax.online.run", est, params, state0, xs, targets, batch_axis)
    if batch_axis is None:
        return _run_one(est, params, state0, xs, targets, key, chunk)
    keys = None if key is None else jax.random.split(key, batch)
    per_example = jax.vmap(lambda x, t, k: _run_one(est, params, state0, x, t, k, chunk),
                           in_axes=(batch_axis, batch_axis, 0 if keys is not None else None))
    return _mean0(per_example(xs, targets, keys))


def train(est: AbstractEstimator, opt, params, opt_state, state0, xs, targets, *, update_every: int = 1, key=None,
          batch_axis: int | None = None, chunk: int | None = None):
    r"""Train online over one sequence: apply an optax optimiser every `update_every` steps.

    The learner's per-step gradients are summed; every `update_every` steps (and once more at
    the end for a remainder) the sum goes through `opt` and the parameters change *during* the
    sequence, while the model state and the learner's traces carry on. With
    `update_every >= T` this is exactly one optimiser step on [`run`][spikax.online.run]'s
    gradient.

    **Arguments:**

    - `est`: the learner; `opt`: an `optax.GradientTransformation`; `opt_state`: `opt.init(params)`.
    - `params`, `state0`, `xs`, `targets`, `key`, `batch_axis`: as in [`run`][spikax.online.run];
      with a batch, each step's gradient is averaged over the batch before it is summed.
    - `update_every`: steps between updates (>= 1).
    - `chunk`: steps the learner advances at once, as in [`run`][spikax.online.run]; it must divide
      `update_every`, since parameters change only between chunks. None: the largest divisor of
      `update_every` up to the learner's `default_chunk` (e.g. 25 for `update_every=250`).

    **Returns:** `(params, opt_state, losses)` with `losses` the per-step loss, shape `[T]`
    (batch means).

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    opt = optax.adam(1e-2)
    params, opt_state, losses = spikax.online.train(spikax.online.rtrl(net, mse), opt, params, opt.init(params),
                                                    net.init_state((3,)), xs, targets, update_every=5)
    ```
    """
    owner = "spikax.online.train"
    _check_estimator(owner, est)
    est.check_params(params)
    if not isinstance(update_every, (int, np.integer)) or isinstance(update_every, bool) or update_every < 1:
        raise ValueError(f"`{owner}`: `update_every` must be a whole number of steps >= 1, got {update_every!r}.")
    steps, batch = _check_sequence(owner, xs, targets, batch_axis)
    if chunk is None:
        chunk = max(c for c in range(1, min(est.default_chunk, update_every) + 1) if update_every % c == 0)
    chunk = _check_chunk(owner, chunk, est)
    if update_every % chunk:
        raise ValueError(f"`{owner}`: `chunk={chunk}` does not divide `update_every={update_every}`; parameters change "
                         "only between chunks. Pick a divisor of `update_every`, or leave `chunk=None`.")
    return _train_jit(est, opt, params, opt_state, state0, xs, targets, update_every, key, batch_axis, steps, batch,
                      min(chunk, steps))


@eqx.filter_jit
def _train_jit(est, opt, params, opt_state, state0, xs, targets, update_every, key, batch_axis, steps, batch, chunk):
    _check_model_io("spikax.online.train", est, params, state0, xs, targets, batch_axis)
    init_key, step_key = (None, None) if key is None else jax.random.split(key)
    init = est.init if chunk == 1 else est.chunk_init
    advance = _advance(est, chunk)

    if batch_axis is None:
        lstate, state = init(params, state0, key=init_key), state0
    else:
        init_keys = None if init_key is None else jax.random.split(init_key, batch)
        lstate = jax.vmap(lambda k: init(params, state0, key=k), axis_size=batch)(init_keys)
        state = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (batch,) + jnp.shape(a)), state0)
        one_example = advance

        def advance(params, lstate, state, x, target, keys):
            keys = None if keys is None else jax.vmap(lambda k: jax.random.split(k, batch))(keys)  # [steps, batch]
            state, lstate, losses, grad = jax.vmap(
                lambda ls, s, x, t, kk: one_example(params, ls, s, x, t, kk),
                in_axes=(0, 0, batch_axis, batch_axis, 1 if keys is not None else None))(lstate, state, x, target, keys)
            return state, lstate, jnp.mean(losses, axis=0), _mean0(grad)

    def apply(params, opt_state, acc):
        updates, opt_state = opt.update(acc, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, jax.tree_util.tree_map(jnp.zeros_like, acc)

    def body(carry, inputs, size):
        params, opt_state, lstate, state, acc, count = carry
        state, lstate, losses, grad = advance(params, lstate, state, *inputs)
        acc = jax.tree_util.tree_map(jnp.add, acc, grad)
        count = count + size
        params, opt_state, acc = lax.cond(count % update_every == 0, apply, lambda p, o, a: (p, o, a),
                                          params, opt_state, acc)
        return (params, opt_state, lstate, state, acc, count), losses

    carry = (params, opt_state, lstate, state, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.zeros((), jnp.int32))
    carry, losses, last = _over_chunks(body, carry, (xs, targets, _sequence_keys(step_key, steps)), steps, chunk)
    losses = losses.reshape((-1,))
    if last is not None:
        losses = jnp.concatenate([losses, last])
    params, opt_state, _, _, acc, _ = carry
    if steps % update_every:
        params, opt_state, _ = apply(params, opt_state, acc)
    return params, opt_state, losses


# -- offline references ---------------------------------------------------------------------------


def _scanned_loss(model, loss_fn, state0, xs, targets):
    def step(carry, inputs):
        state, total = carry
        x, target = inputs
        state, outputs = _forward(model, state, x, None)
        value = loss_fn(outputs[-1], target)
        return (state, total + value.astype(total.dtype)), None

    total0 = jnp.zeros((), _dtype_of(model, state0))
    (_, total), _ = lax.scan(step, (state0, total0), (xs, targets))
    return total


def _offline(owner: str, model, loss_fn, state0, xs, targets, batch_axis, grad_fn):
    _bind(owner, model, loss_fn)
    _check_sequence(owner, xs, targets, batch_axis)
    return _offline_jit(model, LossFunction.of(loss_fn), state0, xs, targets, batch_axis, grad_fn)


@eqx.filter_jit
def _offline_jit(model, loss_fn, state0, xs, targets, batch_axis, grad_fn):
    params, static = eqx.partition(model, trainable(model))

    def one(x, t):
        return grad_fn(lambda p: _scanned_loss(eqx.combine(p, static), loss_fn, state0, x, t))(params)

    if batch_axis is None:
        return one(xs, targets)
    return _mean0(jax.vmap(one, in_axes=(batch_axis, batch_axis))(xs, targets))


def bptt(model, loss_fn, state0, xs, targets, *, batch_axis: int | None = None):
    r"""Reference gradient by backpropagation through time: `jax.value_and_grad` of the scanned loss.

    $$L(\theta) = \sum_{t} \ell(y_t, y^*_t),\qquad g = \nabla_\theta L$$

    Memory grows linearly with the sequence length (the scan stores every step).

    **Arguments:** `model` (the whole model), `loss_fn(y_t, target_t) -> scalar`, `state0`,
    `xs`, `targets`, `batch_axis`: as in [`run`][spikax.online.run].

    **Returns:** `(loss, grads)` with `grads` shaped like the trainable part of `model`
    (`eqx.partition(model, spikax.trainable(model))[0]`).

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    loss, grads = spikax.online.bptt(net, mse, net.init_state((3,)), xs, targets)
    ```
    """
    return _offline("spikax.online.bptt", model, loss_fn, state0, xs, targets, batch_axis, jax.value_and_grad)


def _value_and_jacfwd(f):
    def fn(params):
        flat, unravel = ravel_pytree(params)
        grad, loss = jax.jacfwd(lambda fp: (f(unravel(fp)),) * 2, has_aux=True)(flat)
        return loss, unravel(grad)

    return fn


def rtrl_oracle(model, loss_fn, state0, xs, targets, *, batch_axis: int | None = None):
    r"""Reference gradient by forward mode: `jax.jacfwd` of the scanned loss over the flat parameters.

    Exact (equal to [`bptt`][spikax.online.bptt] up to rounding) with memory independent of
    the sequence length, at the price of one tangent per parameter: use it on tiny models.

    **Returns:** `(loss, grads)` as in [`bptt`][spikax.online.bptt].

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    loss, grads = spikax.online.rtrl_oracle(net, mse, net.init_state((3,)), xs, targets)
    ```
    """
    return _offline("spikax.online.rtrl_oracle", model, loss_fn, state0, xs, targets, batch_axis, _value_and_jacfwd)
