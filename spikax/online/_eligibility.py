r"""The neuron-local eligibility-trace engine: e-prop, OSTL, SnAp-1 (and the machinery of OTTT/OTPE).

Every stateful layer is a synapse followed by an elementwise neuron,

$$I_t = W x_t + b + R z_{t-1},\qquad (s_t, y_t) = f(s_{t-1}, I_t;\ \phi),$$

with $k$ state components per neuron. The engine keeps, for every parameter, only the
neuron's own $k\times k$ Jacobian $A_{j,t} = \partial s_{j,t}/\partial s_{j,t-1}$ (incoming
spikes held fixed). For a weight $W_{ji}$ with presynaptic signal $x_i$:

$$\epsilon_{ji,t} = A_{j,t}\,\epsilon_{ji,t-1} + \frac{\partial s_{j,t}}{\partial I_{j,t}}\,x_{i,t},\qquad
  e_{ji,t} = \frac{\partial y_{j,t}}{\partial s_{j,t-1}}\epsilon_{ji,t-1} + \frac{\partial y_{j,t}}{\partial I_{j,t}}x_{i,t},\qquad
  g_{ji} = \sum_t L_{j,t}\,e_{ji,t}.$$

Both are one `jax.jvp` of the neuron step with tangents $(\epsilon_{:,i},\ x_i\mathbf 1)$, vmapped
over the presynaptic index $i$ (the step is linearised once per time step), so the same code
serves every neuron of the zoo: LIF gives $\epsilon = (1-\beta)\bar x$ and $e = \psi(1-\beta)\bar x$,
ALIF the two-component trace of Bellec et al. (2020). $L_{j,t}$ is the learning signal: the
within-step ("spatial") derivative $\partial\ell_t/\partial y_{j,t}$, or e-prop's broadcast
$B\,\delta_t$ of the readout error.

Memory is $O(kP)$ per example and does not grow with $T$. `run` and `train` advance the learner in
chunks of steps (`EligibilityEngine.chunk_step`; the online-learning guide, *Chunks*, gives the
algebra): per step the work is per neuron, and the per-synapse arrays are updated once per chunk
by matrix products. Only
dense connections (`equinox.nn.Linear`) carry traces, since a per-synapse trace needs
$\partial I_j/\partial W_{ji} = x_i$; other connections must be frozen (no trainable leaves).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._api import AbstractEstimator, _bind, _layers_of


# -- per-neuron trace maths (pure functions) --------------------------------------------------


def detach_reset(neuron):
    """`neuron` with its reset gradient cut (same values); the neuron itself if it has no reset option."""
    return neuron.with_detached_reset()


def linearize_neuron(neuron, state, current, fields: tuple[str, ...] = ()):
    r"""Linearise one neuron step around `(state, current)` and the neuron's array `fields`.

    Returns `(new_state, y, lin)`; `lin(d_state, d_current, d_fields) -> (d_new_state, d_y)` is the
    step's Jacobian-vector product. Each field (e.g. `"raw_beta"`) is first broadcast to the
    current's shape, so its tangent gives every neuron's own sensitivity $\partial s_j/\partial\phi_j$.
    """
    shape = jnp.shape(current)
    values = tuple(jnp.broadcast_to(getattr(neuron, f), shape) for f in fields)

    def step(s, i, vals):
        n = eqx.tree_at(lambda m: [getattr(m, f) for f in fields], neuron, list(vals)) if fields else neuron
        return n(s, i)

    (new_state, y), lin = jax.linearize(step, state, current, values)
    return new_state, y, lin


class DiagonalTrace(NamedTuple):
    """One per-synapse eligibility trace: the tangent of the neuron state and of the previous output."""

    neuron: Any  # tangent of the neuron state, presynaptic axis last for a weight
    output: Any  # tangent of the previous output (SnAp-1's self-recurrence), else None


def trace_step(lin, trace, d_current, d_fields, *, presyn=None, self_weight=None):
    r"""Advance one per-synapse eligibility trace by one step; returns `(new_trace, e)`.

    - `lin`: the linearised neuron step from [`linearize_neuron`][].
    - `trace`: a `DiagonalTrace` (or a dict `{"n": ..., "z": ...}`), with the presynaptic axis last
      for a weight (leaves `[n, m]`) and no extra axis otherwise.
    - `d_current`, `d_fields`: the direct tangents ($\mathbf 1$ for a bias, $\mathbf 0$ plus a one-hot
      field for a neuron parameter). For a weight, `presyn` ($x$, shape `[m]`) multiplies `d_current`
      column by column.
    - `self_weight`: the diagonal of $R$ (SnAp-1): the neuron's own previous output, whose tangent
      is the trace's `output`, feeds back through $R_{jj}$.

    `e` $=\partial y_t/\partial\theta$ is the eligibility; it has the shape of the trace leaves.
    """
    as_dict = isinstance(trace, dict)
    trace = DiagonalTrace(trace["n"], trace["z"]) if as_dict else trace

    def column(tr, dc):
        if self_weight is not None:
            dc = dc + self_weight * tr.output
        d_state, d_y = lin(tr.neuron, dc, d_fields)
        return DiagonalTrace(d_state, d_y if self_weight is not None else None), d_y

    if presyn is None:
        new, e = column(trace, d_current)
    else:
        new, e = jax.vmap(lambda tr, xi: column(tr, xi * d_current), in_axes=(-1, 0), out_axes=-1)(trace, presyn)
    return ({"n": new.neuron, "z": new.output} if as_dict else new), e


def _sum_to_shape(x, shape):
    """Sum a per-neuron array back to a (broadcast) parameter's shape."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    x = jnp.sum(x, axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, (a, b) in enumerate(zip(x.shape, shape)) if b == 1 and a != 1)
    return jnp.sum(x, axis=axes, keepdims=True) if axes else x


def _outer_signal(signal, e):
    """`L_j * e_j...` with the learning signal broadcast over the presynaptic axes."""
    return signal.reshape(signal.shape + (1,) * (e.ndim - signal.ndim)) * e


# -- what the engine learns in each layer (static) -------------------------------------------------


class Slot(NamedTuple):
    """One trainable leaf of a layer with a neuron, and where its eligibility comes from.

    - `path`: attribute path in the layer, e.g. `("connection", "weight")` or `("neuron", "raw_beta")`.
    - `presyn`: the [`spikax.layers.LayerSignals`][] field multiplying a weight (`"input"`,
      `"recurrent_input"`); None for a bias or a neuron parameter.
    - `field`: the neuron field's index (neuron parameters only), else None.
    """

    path: tuple[str, ...]
    presyn: str | None = None
    field: int | None = None

    def leaf(self, layer):
        for name in self.path:
            layer = getattr(layer, name)
        return layer


class LayerPlan(NamedTuple):
    """What the engine does with one layer: nothing (no neuron) or traces for its `slots`.

    `shared_jacobian`: with the reset cut, every neuron of the layer has the same constant state
    Jacobian, so its weight traces factorise (see `DiagonalTraces`): the neuron integrates affinely
    between spikes ([`spikax.neurons.AbstractNeuron.between_spikes`][]) with a subtractive (or no)
    reset, and either is one membrane with a scalar leak
    ([`spikax.neurons.AbstractNeuron.eligibility_leak`][]) or has only scalar parameters (e.g. CubaLIF).
    """

    stateful: bool
    slots: tuple[Slot, ...] = ()
    neuron_fields: tuple[str, ...] = ()
    shared_jacobian: bool = False


def _is_array(x) -> bool:
    return eqx.is_inexact_array(x)


def plan_layer(owner: str, index: int, layer, layer_params) -> LayerPlan:
    """List the trainable leaves of one layer, asking the layer for its synapses (none: a layer without a neuron)."""
    synapses = layer.synapses() if hasattr(layer, "synapses") else ()
    if not synapses:
        return LayerPlan(False)
    slots = []
    for attr, presyn in synapses:
        conn, conn_p = getattr(layer, attr), getattr(layer_params, attr)
        if not [leaf for leaf in jax.tree_util.tree_leaves(conn_p) if _is_array(leaf)]:
            continue
        if not isinstance(conn, eqx.nn.Linear) or conn.in_features == "scalar" or conn.out_features == "scalar":
            raise TypeError(
                f"`{owner}`: layer {index} has a trainable {type(conn).__name__} as its `{attr}`. The diagonal "
                "eligibility engine keeps one trace per synapse x_i -> neuron j, which needs a dense "
                "`equinox.nn.Linear` (dI_j/dW_ji = x_i). Use a Linear connection, freeze this one (leave it out of "
                "the trainable parameters), or use `spikax.online.rtrl` / `spikax.online.bptt`."
            )
        for leaf, pre in (("weight", presyn), ("bias", None)):
            if _is_array(getattr(conn_p, leaf, None)):
                slots.append(Slot((attr, leaf), pre))
    fields = tuple(f.name for f in dataclasses.fields(layer.neuron) if _is_array(getattr(layer_params.neuron, f.name, None)))
    slots += [Slot(("neuron", name), None, k) for k, name in enumerate(fields)]
    return LayerPlan(True, tuple(slots), fields, _has_shared_jacobian(layer))


def _has_shared_jacobian(layer) -> bool:
    """See `LayerPlan.shared_jacobian`."""
    neuron = layer.neuron
    width = getattr(getattr(layer, "connection", None), "out_features", None)
    if (not isinstance(width, int) or neuron.between_spikes() not in ("linear", "linear between spikes")
            or getattr(neuron, "reset", "none") not in ("subtract", "none")):
        return False
    if len(jax.tree_util.tree_leaves(jax.eval_shape(lambda: neuron.init_state((width,))))) == 1:
        leak = neuron.eligibility_leak()
        return leak is not None and jnp.ndim(leak) == 0
    return all(jnp.size(leaf) == 1 for leaf in jax.tree_util.tree_leaves(neuron) if _is_array(leaf))


def _stateful(plans) -> tuple[int, ...]:
    return tuple(i for i, p in enumerate(plans) if p.stateful)


def _recurrent_connection(layer):
    """The connection a layer feeds its own previous output through, or None."""
    for attr, presyn in layer.synapses():
        if presyn == "recurrent_input":
            return getattr(layer, attr)
    return None


def _presyn_shape(layer, slot: Slot) -> tuple[int, ...]:
    if slot.presyn is None:
        return ()
    return (getattr(layer, slot.path[0]).in_features,)


# -- the parts: trace kinds, learning signals, filters ---------------------------------------------


class LayerContext(NamedTuple):
    """What one layer's step gives the trace parts: its linearised neuron and signals."""

    lin: Any  # the neuron step's jvp, from `linearize_neuron`
    nstate: Any  # the neuron state before the step
    current: Any  # I_t
    signals: Any  # the layer's LayerSignals
    self_weight: Any  # diag(R) for SnAp-1, else None


class DiagonalTraces(eqx.Module):
    r"""Per-synapse traces through the neuron's own Jacobian (e-prop, OSTL, SnAp-1).

    **Factorised weight traces.** When the reset is cut from the trace and every neuron of the
    layer has the same constant Jacobian $A$ and input gain $b$ (affine integration between
    spikes, a subtractive or no reset, shared parameters: LIF, LI, IF, CubaLIF without a
    refractory period), the per-synapse trace does not depend on the neuron,
    $\epsilon_{ji,t} = \hat\epsilon_{i,t}$ with $\hat\epsilon_{i,t} = A\hat\epsilon_{i,t-1} + b\,x_{i,t}$ ($k$
    numbers per presynaptic input), and the eligibility is a sum of outer products,
    $e_{ji,t} = C_{j,t}\hat\epsilon_{i,t-1} + h_{j,t}x_{i,t}$ with $C = \partial y_t/\partial s_{t-1}$ and
    $h = \partial y_t/\partial I_t$. A one-membrane neuron ($k = 1$, a shared scalar leak $\lambda$)
    may have its own gain $c_j$: it keeps $\hat x_{i,t} = \lambda\hat x_{i,t-1} + c_{0,t}x_{i,t}$ (the first
    neuron's gain inside the trace, so a gain trained during the sequence stays exact) and
    $e_{ji,t} = C_{j,t}(c_j/c_0)\hat x_{i,t-1} + h_{j,t}x_{i,t}$, exact while every neuron's gain is a fixed
    multiple of the first's. The engine then keeps $O(k\,n_\text{pre})$ per
    weight instead of $O(k\,n_\text{post}n_\text{pre})$; the result is the same (`factorise=False`
    keeps the per-synapse path).

    **Arguments:** `reset_in_trace` (keep the reset's derivative: OSTL, SnAp-1), `self_recurrence`
    (SnAp-1's $R_{jj}$ path), `factorise` (use the factorised form where it is exact; default True).

    **Example:**

    ```python
    import dataclasses
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=key),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=jax.random.key(1))])
    est = spikax.online.eprop(net, lambda y, t: jnp.sum((y - t) ** 2))
    general = dataclasses.replace(est, traces=spikax.online.DiagonalTraces(False, factorise=False))
    ```
    """

    reset_in_trace: bool = eqx.field(static=True)
    self_recurrence: bool = eqx.field(static=True, default=False)
    factorise: bool = eqx.field(static=True, default=True)

    decay = None  # factorised traces decay with the neuron's own Jacobian

    def uses_leak(self, plan: LayerPlan) -> bool:
        """Whether a step needs the neuron's membrane leak (never: the Jacobian is read from the step)."""
        del plan
        return False

    def factorised(self, plan: LayerPlan, slot: Slot) -> bool:
        """Whether this weight's trace is kept in factorised form (see the class docs)."""
        return (self.factorise and not self.reset_in_trace and not self.self_recurrence and plan.shared_jacobian
                and slot.presyn is not None)

    def init(self, layer, slot, nstate, n_shape, dtype, plan=None):
        extra = _presyn_shape(layer, slot)
        if plan is not None and self.factorised(plan, slot):
            # the presynaptic traces: one neuron state's tangent per input (x̂ for a one-membrane neuron)
            return jax.tree_util.tree_map(lambda a: jnp.zeros(extra, a.dtype), nstate)
        selfrec = self.self_recurrence and _recurrent_connection(layer) is not None
        return DiagonalTrace(
            neuron=jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape + extra, a.dtype), nstate),
            output=jnp.zeros(n_shape + extra, dtype) if selfrec else None,
        )

    def neuron(self, neuron):
        return neuron if self.reset_in_trace else detach_reset(neuron)

    def update(self, ctx: LayerContext, plan: LayerPlan, slot: Slot, trace, decay):
        if not self.factorised(plan, slot):
            # A weight's trace from the neuron's k x k Jacobian read once per step: elementwise updates on [post, pre]
            # arrays, not one jvp per presynaptic input (whose vmap over the last axis transposes the traces).
            return _diagonal_update(ctx, plan, slot, trace)
        del decay
        zero_fields = tuple(jnp.zeros_like(ctx.current) for _ in plan.neuron_fields)
        jac = read_jacobian(ctx, zero_fields)
        x = getattr(ctx.signals, slot.presyn).astype(ctx.current.dtype)
        old = jax.tree_util.tree_leaves(trace)
        if len(old) == 1:  # one membrane: x̂ = λ x̂ + c_0 x, with each neuron's gain relative to the first, c_j / c_0
            leak, gain = jac.state[0][0].reshape(-1)[0], jac.current[0]
            first = gain.reshape(-1)[0]  # inside the trace, so a gain trained during the sequence stays exact
            e = (jac.output[0] * gain / first)[:, None] * old[0][None, :] + jac.current_output[:, None] * x[None, :]
            new = [leak * old[0] + first * x]
        else:  # every neuron has the same A and b (`LayerPlan.shared_jacobian`): read them at the first neuron
            e = (sum(jac.output[l][:, None] * old[l][None, :] for l in range(len(old)))
                 + jac.current_output[:, None] * x[None, :])
            new = [sum(jac.state[l][r].reshape(-1)[0] * old[l] for l in range(len(old)))
                   + jac.current[r].reshape(-1)[0] * x for r in range(len(old))]
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(trace), new), e


def _diagonal_update(ctx, plan, slot, trace, *, explicit: bool = True):
    """Advance one diagonal trace; a weight's from the neuron's read Jacobian (`explicit`, the fast path) or by one
    jvp per presynaptic input (`explicit=False`, the general path the fast one is tested against)."""
    ones = jnp.ones_like(ctx.current)
    zero_fields = tuple(jnp.zeros_like(ctx.current) for _ in plan.neuron_fields)
    if slot.field is None:
        d_current, d_fields = ones, zero_fields
    else:
        d_current = jnp.zeros_like(ctx.current)
        d_fields = tuple(ones if i == slot.field else z for i, z in enumerate(zero_fields))
    presyn = None if slot.presyn is None else getattr(ctx.signals, slot.presyn).astype(ctx.current.dtype)
    if explicit and presyn is not None:
        return _weight_trace_step(ctx, zero_fields, trace, presyn)
    return trace_step(ctx.lin, trace, d_current, d_fields, presyn=presyn, self_weight=ctx.self_weight)


class NeuronJacobian(NamedTuple):
    r"""One neuron step's Jacobian, per neuron: `state[l][r]` $=\partial s'_r/\partial s_l$, `output[l]`
    $=\partial y/\partial s_l$, `current[r]` $=\partial s'_r/\partial I$ and `current_output` $=\partial y/\partial I$
    (each an array with the neurons' shape; state components in `jax.tree_util.tree_leaves` order)."""

    state: list
    output: list
    current: list
    current_output: Any


def read_jacobian(ctx: LayerContext, zero_fields) -> NeuronJacobian:
    """Read the layer's per-neuron Jacobian with k+1 neuron-sized jvps of its linearised step (one vmapped pass)."""
    leaves, treedef = jax.tree_util.tree_flatten(ctx.nstate)
    k = len(leaves)

    def push(unit):  # unit: which of the k state components (or, last, the current) has tangent 1
        d_state = jax.tree_util.tree_unflatten(treedef, [unit[i] * jnp.ones_like(leaf) for i, leaf in enumerate(leaves)])
        return ctx.lin(d_state, unit[k] * jnp.ones_like(ctx.current), zero_fields)

    d_state, d_y = jax.vmap(push)(jnp.eye(k + 1, dtype=ctx.current.dtype))
    d_state = jax.tree_util.tree_leaves(d_state)
    return NeuronJacobian([[d_state[r][l] for r in range(k)] for l in range(k)], [d_y[l] for l in range(k)],
                          [d_state[r][k] for r in range(k)], d_y[k])


def _weight_trace_step(ctx, zero_fields, trace: DiagonalTrace, presyn):
    r"""`trace_step` for a weight, from the neuron's own Jacobian read once per step.

    A neuron is elementwise, so its linearised step is, per neuron $j$, a $k\times k$ matrix
    $A_j$ on its state, a column $b_j$ for its current, and the rows $C_j$, $h_j$ giving $y$. They
    are read with $k+1$ neuron-sized jvps ([`read_jacobian`][]); the per-synapse update is then
    $k(k+1)$ multiply-adds on arrays laid out `[post, pre]`,
    $\epsilon_{ji} \leftarrow A_j\epsilon_{ji} + b_j u_{ji}$, $e_{ji} = C_j\epsilon_{ji,t-1} + h_j u_{ji}$,
    with $u_{ji} = x_i$, plus $R_{jj}\,e_{ji,t-1}$ for SnAp-1's self-recurrence (the trace's `output`).
    The same numbers as one jvp per presynaptic input, without repeating the neuron's work.
    """
    jac = read_jacobian(ctx, zero_fields)
    old = jax.tree_util.tree_leaves(trace.neuron)
    u = presyn[None, :]
    if ctx.self_weight is not None:
        u = u + ctx.self_weight[:, None] * trace.output
    new = [sum(jac.state[l][r][:, None] * old[l] for l in range(len(old))) + jac.current[r][:, None] * u
           for r in range(len(old))]
    e = sum(jac.output[l][:, None] * old[l] for l in range(len(old))) + jac.current_output[:, None] * u
    treedef = jax.tree_util.tree_structure(trace.neuron)
    return DiagonalTrace(jax.tree_util.tree_unflatten(treedef, new), e if ctx.self_weight is not None else None), e


class SeparableTraces(eqx.Module):
    r"""OTTT's traces: a presynaptic trace $\hat a_t = \lambda\hat a_{t-1} + x_t$ times $\partial y_t/\partial I_t$.

    `decay` is $\lambda$; None means the neuron's own membrane leak
    ([`spikax.neurons.AbstractNeuron.eligibility_leak`][]). Neuron parameters keep diagonal traces.

    **Example:**

    ```python
    traces = spikax.online.SeparableTraces(decay=0.9)  # what `spikax.online.ottt(..., trace_decay=0.9)` uses
    ```
    """

    decay: float | None = eqx.field(static=True, default=None)
    reset_in_trace: bool = eqx.field(static=True, default=True)
    self_recurrence: bool = eqx.field(static=True, default=False)

    def init(self, layer, slot, nstate, n_shape, dtype, plan=None):
        del plan
        if slot.field is None:
            return jnp.zeros(_presyn_shape(layer, slot), dtype)
        return DiagonalTraces(True).init(layer, slot, nstate, n_shape, dtype)

    def neuron(self, neuron):
        return neuron

    def uses_leak(self, plan: LayerPlan) -> bool:
        del plan
        return True

    def update(self, ctx: LayerContext, plan: LayerPlan, slot: Slot, trace, decay):
        if slot.field is not None:
            return _diagonal_update(ctx, plan, slot, trace)
        zero_fields = tuple(jnp.zeros_like(ctx.current) for _ in plan.neuron_fields)
        post = ctx.lin(jax.tree_util.tree_map(jnp.zeros_like, ctx.nstate), jnp.ones_like(ctx.current), zero_fields)[1]
        presyn = None if slot.presyn is None else getattr(ctx.signals, slot.presyn).astype(ctx.current.dtype)
        a_hat = decay * trace + (jnp.ones((), ctx.current.dtype) if presyn is None else presyn)
        e = post[:, None] * a_hat if presyn is not None else post * a_hat  # a_hat: [pre], or [post, pre] in chunks
        return a_hat, e


class SpatialSignal(eqx.Module):
    r"""The within-step learning signal $L^l_t = \partial\ell_t/\partial y^l_t$ (symmetric feedback).

    **Example:**

    ```python
    signal = spikax.online.SpatialSignal()  # OSTL, OTTT, OTPE, SnAp-1 and symmetric e-prop use it
    ```
    """

    needs_delta = False

    def __call__(self, index, spatial, delta):
        del delta
        return spatial[index]


class FeedbackSignal(eqx.Module):
    r"""e-prop's broadcast learning signal $L^l_t = B_l\,\delta_t$ for hidden layers (the readout keeps its own).

    **Arguments:** `matrices` (one $B_l$ `[n_hidden, n_readout]` per hidden layer with a neuron) and
    `hidden` (the indices of those layers in the model).

    **Example:**

    ```python
    signal = spikax.online.FeedbackSignal((jnp.ones((8, 2)),), hidden=(0,))
    ```
    """

    matrices: tuple
    hidden: tuple[int, ...] = eqx.field(static=True)
    needs_delta = True

    def __call__(self, index, spatial, delta):
        if index in self.hidden:
            return self.matrices[self.hidden.index(index)].astype(delta.dtype) @ delta
        return spatial[index]


class ConstantDecay(NamedTuple):
    r"""An eligibility filter with a fixed decay $\kappa$ (e-prop's `readout_kappa`)."""

    kappa: float

    def decay(self, owner, layers, stateful, index, dtype):
        del owner, layers, stateful, index
        return jnp.asarray(self.kappa, dtype)


class NextLayerLeak(NamedTuple):
    """An eligibility filter whose decay is the membrane leak of the next layer with a neuron (OTPE)."""

    def decay(self, owner, layers, stateful, index, dtype):
        following = [i for i in stateful if i > index][0]
        return jax.lax.stop_gradient(membrane_leak(owner, layers[following].neuron, dtype))


class ReadoutLeak(NamedTuple):
    """An eligibility filter whose decay is the readout neuron's membrane leak (e-prop's default `readout_kappa`)."""

    def decay(self, owner, layers, stateful, index, dtype):
        del index
        return jax.lax.stop_gradient(membrane_leak(owner, layers[stateful[-1]].neuron, dtype))


class RateRegulariser(NamedTuple):
    """e-prop's firing-rate regulariser $c\\sum_j(\\bar f_j - f^*)^2$ (static numbers)."""

    strength: float
    target: float


class RateTrace(NamedTuple):
    """Running means for the rate regulariser: step count, spikes per step, eligibilities (one per slot)."""

    count: Any
    rate: Any
    eligibilities: tuple


class LayerTraces(NamedTuple):
    """The engine's state for one layer with a neuron: one trace per slot, filtered eligibilities, rate means."""

    traces: tuple
    filtered: tuple | None
    rate: RateTrace | None


# -- chunks: a weight's traces advanced many steps at once ---------------------------------------
#
# Everything a weight's per-synapse state z_ji (its trace, filtered eligibility, running mean) does in
# one step is linear in (z_ji, x_i) with coefficients of the postsynaptic neuron j alone:
#     z_t = M_t z_{t-1} + m_t x_t,      g_t = r_t . z_{t-1} + q_t x_t.
# Stepping the layer once on unit columns (z = e_c, x = 0, and z = 0, x = 1) reads M_t, m_t, r_t,
# q_t with the same code as the per-synapse step. Over a chunk of K steps the sums then become
# matrix products: with the adjoint a_{t-1} = r_t + M_t^T a_t (a_K = 0) and P_{t-1} = P_t M_t (P_K = I),
#     sum_t g_t = a_0 . z_in + sum_t (q_t + m_t . a_t) x_t^T,      z_out = P_0 z_in + sum_t (P_t m_t) x_t^T,
# so the per-synapse arrays are touched once per chunk and the rest is a product over the K steps.


def _weight_slots(plan: LayerPlan) -> tuple[int, ...]:
    """The indices of a layer's weight slots (those with a presynaptic signal)."""
    return tuple(k for k, slot in enumerate(plan.slots) if slot.presyn is not None)


def _synapse_state(entry: LayerTraces, k: int):
    """Slot k's per-synapse state: its trace, filtered eligibility and running mean (None where absent)."""
    return (entry.traces[k], None if entry.filtered is None else entry.filtered[k],
            None if entry.rate is None else entry.rate.eligibilities[k])


def _with_synapse_states(entry: LayerTraces, states: dict) -> LayerTraces:
    """`entry` with the per-synapse state of each slot `k` in `states` replaced."""
    def swap(items, position):
        return tuple(states[k][position] if k in states else item for k, item in enumerate(items))

    filtered = None if entry.filtered is None else swap(entry.filtered, 1)
    rate = None if entry.rate is None else entry.rate._replace(eligibilities=swap(entry.rate.eligibilities, 2))
    return LayerTraces(swap(entry.traces, 0), filtered, rate)


def _unit_columns(entry: LayerTraces, signals, plan: LayerPlan, weights):
    """The layer's traces and signals with the first weight's presynaptic axis replaced by m + 1 unit columns.

    Every weight of the layer has the same coefficients, so the others (reading another presynaptic signal) get
    no columns at all: their steps then cost nothing."""
    first = plan.slots[weights[0]].presyn
    states, fields = {}, {}
    for k in weights:
        leaves, treedef = jax.tree_util.tree_flatten(_synapse_state(entry, k))
        width = len(leaves) + 1 if plan.slots[k].presyn == first else 0
        units = jnp.eye(len(leaves) + 1, dtype=leaves[0].dtype)[:, :width]
        states[k] = jax.tree_util.tree_unflatten(treedef, [jnp.broadcast_to(units[c], leaf.shape[:-1] + (width,))
                                                           for c, leaf in enumerate(leaves)])
        fields[plan.slots[k].presyn] = units[-1].astype(signals.current.dtype)
    return _with_synapse_states(entry, states), signals._replace(**fields)


class StepCoefficients(NamedTuple):
    r"""One weight's step on unit columns, per neuron j: `z_t = M z_{t-1} + m x_t`, `g_t = r . z_{t-1} + q x_t`.

    The m x m and m-long coefficients are kept as nested tuples of `[n]` arrays (`M[d][c]` $=\partial z_d/\partial
    z_c$, None where it is zero by construction), so that every operation on them is elementwise. They are the same for
    every weight of a layer; `x` holds the step's presynaptic signal of each weight (`[n_pre]` arrays).
    """

    M: tuple
    m: tuple
    r: tuple
    q: Any
    x: Any


def _read_columns(entry: LayerTraces, g, k: int, x) -> StepCoefficients:
    leaves = jax.tree_util.tree_leaves(_synapse_state(entry, k))
    width, core = len(leaves), len(jax.tree_util.tree_leaves(entry.traces[k]))

    def coupled(d, c):
        """Whether z_d can depend on z_c: the trace's own components (the first `core`) mix, while each filtered
        eligibility or running mean follows only the trace and itself. Other entries are None: known zeros."""
        return c < core or c == d

    return StepCoefficients(tuple(tuple(leaf[..., c] if coupled(d, c) else None for c in range(width))
                                  for d, leaf in enumerate(leaves)),
                            tuple(leaf[..., -1] for leaf in leaves), tuple(g[..., c] for c in range(width)),
                            g[..., -1], tuple(xi.astype(g.dtype) for xi in x))


def _restore_synapses(new: LayerTraces, old: LayerTraces, weights) -> LayerTraces:
    return _with_synapse_states(new, {k: _synapse_state(old, k) for k in weights})


def _sum_of_products(pairs):
    """Σ a b over the pairs, skipping known zeros (None)."""
    return sum(a * b for a, b in pairs if a is not None and b is not None)


class FoldedChunk(NamedTuple):
    """A chunk's coefficients folded backwards (see the *Chunks* notes above), shared by a layer's weights: the
    adjoint `a_0` and propagator `P_0` applied to the state entering the chunk, and per step the coefficients of
    x_t in the gradient (`gain`, `[K, n]`) and in the state leaving the chunk (`spread`, m arrays `[K, n]`)."""

    adjoint: tuple
    prop: tuple
    gain: Any
    spread: tuple


def fold_coefficients(c: StepCoefficients) -> FoldedChunk:
    """One reverse pass over a chunk's `StepCoefficients` (leading axis: the K steps), elementwise per neuron."""
    span = range(len(c.m))

    def back(carry, step):
        adjoint, prop = carry
        gain = step.q + _sum_of_products(zip(step.m, adjoint))
        spread = tuple(_sum_of_products(zip(prop[d], step.m)) for d in span)
        adjoint = tuple(step.r[a] + _sum_of_products((step.M[d][a], adjoint[d]) for d in span) for a in span)
        # P M keeps M's pattern of zeros (a trace's filters never feed back into it)
        prop = tuple(tuple(None if step.M[d][a] is None else _sum_of_products((prop[d][e], step.M[e][a]) for e in span)
                           for a in span) for d in span)
        return (adjoint, prop), (gain, spread)

    zero, one = jnp.zeros_like(c.q[0]), jnp.ones_like(c.q[0])
    identity = tuple(tuple(None if c.M[d][a] is None else (one if a == d else zero) for a in span) for d in span)
    (adjoint, prop), (gain, spread) = lax.scan(back, (tuple(zero for _ in span), identity), c._replace(x=None),
                                               reverse=True)
    return FoldedChunk(adjoint, prop, gain, spread)


def fold_weight(z, folded: FoldedChunk, x):
    """One weight's summed gradient over the chunk and its per-synapse state after it: elementwise terms for the
    state entering the chunk (`z`, `[n, m, n_pre]`: the m components of a neuron's synapses side by side, so one
    pass reads them together) and matrix products over the K steps of `x` (`[K, n_pre]`)."""
    span = range(z.shape[-2])
    grad = (_sum_of_products((folded.adjoint[a][:, None], z[:, a]) for a in span)
            + jnp.einsum("tj,ti->ji", folded.gain, x))
    carried = jnp.stack([_sum_of_products((None if p is None else p[:, None], z[:, a]) for a, p in enumerate(row))
                         for row in folded.prop], axis=1)
    return grad, carried + jnp.einsum("tjd,ti->jdi", jnp.stack(folded.spread, axis=-1), x)


class ChunkTraces(NamedTuple):
    """The state `chunk_step` carries: the per-layer `LayerTraces` with each weight's per-synapse state replaced by
    a `[n, 1]` stand-in (the steps only need its shape), and that state itself, one `[n, m, n_pre]` array per
    weight (`synapses[l][w]` for the w-th weight of layer l)."""

    layers: tuple
    synapses: tuple


# -- the engine ---------------------------------------------------------------------------------


class EligibilityEngine(AbstractEstimator):
    r"""Eligibility-trace learners (e-prop, OSTL, SnAp-1, OTTT, OTPE), composed of small parts.

    Build it with one of the factories ([`eprop`][spikax.online.eprop], [`ostl`][spikax.online.ostl],
    [`snap1`][spikax.online.snap1], [`ottt`][spikax.online.ottt], [`otpe`][spikax.online.otpe]).
    Every step runs the model through each layer's own `step` (reading its
    [`spikax.layers.LayerSignals`][]), then advances one trace per trainable leaf:

    - `traces`: the trace kind, [`DiagonalTraces`][spikax.online.DiagonalTraces] (per-synapse
      traces through the neuron's own Jacobian; `reset_in_trace`, SnAp-1's `self_recurrence`) or
      [`SeparableTraces`][spikax.online.SeparableTraces] (OTTT: presynaptic trace times the
      instantaneous postsynaptic factor).
    - `signal`: the learning signal, [`SpatialSignal`][spikax.online.SpatialSignal]
      ($\partial\ell_t/\partial y^l_t$) or [`FeedbackSignal`][spikax.online.FeedbackSignal]
      ($B_l\delta_t$, with $\delta_t$ the loss's derivative at the readout's input current).
    - `filters`: per layer, None, the decay $\kappa$ of a low-pass filter on the eligibility,
      $\bar e_t = \kappa\bar e_{t-1} + e_t$: `ConstantDecay(κ)` or `ReadoutLeak()` (e-prop's leaky
      readout), or `NextLayerLeak()` (OTPE).
    - `rate_reg`: None or a `RateRegulariser` (e-prop's firing-rate regulariser).

    All states are NamedTuples ([`LayerTraces`][spikax.online.LayerTraces], one per layer).
    """

    owner: str = eqx.field(static=True)
    plans: tuple = eqx.field(static=True)
    traces: Any
    signal: Any
    filters: tuple = eqx.field(static=True)
    rate_reg: RateRegulariser | None = eqx.field(static=True)

    default_chunk: ClassVar[int] = 32

    # -- chunks of steps -----------------------------------------------------------------------
    def _per_synapse(self):
        """This engine with every weight trace kept per synapse (the form `chunk_step` carries between chunks)."""
        if isinstance(self.traces, DiagonalTraces) and self.traces.factorise:
            return dataclasses.replace(self, traces=dataclasses.replace(self.traces, factorise=False))
        return self

    def chunk_init(self, params, state0, *, key=None) -> ChunkTraces:
        """`init` in the form `chunk_step` carries: every weight's per-synapse state as one `[n, m, n_pre]` array."""
        lstate = self._per_synapse().init(params, state0, key=key)
        layers, synapses = [], []
        for layer, plan, entry, st in zip(self.layers(params), self.plans, lstate, self.layer_states(params, state0),
                                          strict=True):
            weights = _weight_slots(plan) if entry is not None else ()
            if not weights:
                layers.append(entry)
                synapses.append(())
                continue
            n = jnp.shape(jax.tree_util.tree_leaves(layer.neuron_state(st))[0])
            stand_ins, arrays = {}, []
            for k in weights:
                state = _synapse_state(entry, k)
                leaves = jax.tree_util.tree_leaves(state)
                n_pre = leaves[0].shape[-1]
                arrays.append(jnp.zeros(n + (len(leaves), n_pre), leaves[0].dtype))
                stand_ins[k] = jax.tree_util.tree_map(lambda a: jnp.zeros(n + (1,), a.dtype), state)
            layers.append(_with_synapse_states(entry, stand_ins))
            synapses.append(tuple(arrays))
        return ChunkTraces(tuple(layers), tuple(synapses))

    def chunk_step(self, params, lstate: ChunkTraces, state, xs, targets, *, keys=None):
        """Several steps at once, the same sums as `step` one by one (the online-learning guide, *Chunks*).

        The steps run on unit columns, which gives each layer's per-step coefficients; the weights' gradients
        and per-synapse states then come from one reverse pass over the chunk (`fold_coefficients`) and a few
        matrix products (`fold_weight`).
        """
        del keys
        engine = self._per_synapse()

        def body(carry, inputs):
            state, layers, grads = carry
            x, target = inputs
            state, layers, _, loss, grad, coefficients = engine._step(params, layers, state, x, target, columns=True)
            return (state, layers, jax.tree_util.tree_map(jnp.add, grads, grad)), (loss, coefficients)

        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        (state, layers, grads), (losses, coefficients) = lax.scan(body, (state, lstate.layers, zeros), (xs, targets))
        synapses = []
        for index, (plan, arrays, coeffs) in enumerate(zip(self.plans, lstate.synapses, coefficients, strict=True)):
            weights, new = (_weight_slots(plan) if arrays else ()), []
            folded = fold_coefficients(coeffs) if weights else None
            for k, x, z in zip(weights, coeffs.x if weights else (), arrays, strict=True):
                g, z = fold_weight(z, folded, x)
                new.append(z)
                where = lambda p, index=index, k=k: plan.slots[k].leaf(_layers_of(p)[0][index])  # noqa: E731
                grads = eqx.tree_at(where, grads, replace_fn=lambda old, g=g: old + g.astype(old.dtype))
            synapses.append(tuple(new))
        return state, ChunkTraces(layers, tuple(synapses)), losses, grads

    # -- init ------------------------------------------------------------------------------
    def init(self, params, state0, *, key=None):
        """Zero traces for one example whose model starts in `state0`."""
        del key
        layers = self.layers(params)
        states = self.layer_states(params, state0)
        stateful = _stateful(self.plans)
        out = []
        for index, (layer, plan, st) in enumerate(zip(layers, self.plans, states, strict=True)):
            if not plan.stateful:
                if jax.tree_util.tree_leaves(st):
                    raise TypeError(
                        f"`{self.owner}`: layer {index} ({type(layer).__name__}) has a state but no neuron; eligibility "
                        "traces follow each layer's neuron, which spikax knows for `spikax.layers.Layer` and "
                        "`spikax.layers.Recurrent`, with stateless blocks (`Stateless`, `Flatten`, `Pool`) between them. "
                        "Rebuild the model from those blocks, or use `spikax.online.rtrl` / `spikax.online.bptt`, "
                        "which take any model.")
                out.append(None)
                continue
            nstate = layer.neuron_state(st)
            leaf = jax.tree_util.tree_leaves(nstate)[0]
            n, dtype = jnp.shape(leaf), leaf.dtype
            traces = tuple(self.traces.init(layer, slot, nstate, n, dtype, plan) for slot in plan.slots)
            filtered = None
            if self.filters[index] is not None:
                filtered = tuple(jnp.zeros(n + _presyn_shape(layer, slot), dtype) for slot in plan.slots)
            rate = None
            if self.rate_reg is not None and index != stateful[-1]:
                rate = RateTrace(jnp.zeros((), dtype), jnp.zeros(n, dtype),
                                 tuple(jnp.zeros(n + _presyn_shape(layer, slot), dtype) for slot in plan.slots))
            out.append(LayerTraces(traces, filtered, rate))
        return tuple(out)

    # -- one step ----------------------------------------------------------------------------
    def step(self, params, lstate, state, x, target, *, key=None):
        """One time step: `(state, lstate, y_t, loss_t, grad_t)` with `grad_t` shaped like `params`."""
        del key
        state, lstate, y, loss, grad, _ = self._step(params, lstate, state, x, target, columns=False)
        return state, lstate, y, loss, grad

    def _step(self, params, lstate, state, x, target, columns: bool):
        """`step`; with `columns`, every weight is stepped on unit columns instead of its traces (see `chunk_step`):
        its traces come back unchanged, its gradient as zeros, and `coefficients[l]` holds, per weight of layer l,
        the step's `StepCoefficients`."""
        model = self.model(params)
        layers, chained = _layers_of(model)
        states = state if chained else (state,)
        p_layers = _layers_of(params)[0]
        # Trainable layers without a neuron get their (exact, memoryless) gradient from the same vjp.
        free = tuple(pl if not plan.stateful and jax.tree_util.tree_leaves(pl) else None
                     for pl, plan in zip(p_layers, self.plans, strict=True))

        def f(probes, free_params):
            x_l, new_states, signals = x, [], []
            for layer, st, probe, fp in zip(layers, states, probes, free_params, strict=True):
                layer = layer if fp is None else eqx.combine(fp, layer)
                st, x_l, sig = layer.step(st, x_l)
                x_l = x_l if probe is None else x_l + probe
                new_states.append(st)
                signals.append(sig)
            return self.loss(x_l, target), (tuple(new_states), x_l, tuple(signals))

        out_shapes = jax.eval_shape(lambda: f((None,) * len(layers), free)[1][2])
        probes = tuple(jnp.zeros(s.output.shape, s.output.dtype) for s in out_shapes)
        loss, pullback, (new_states, y, signals) = jax.vjp(f, probes, free, has_aux=True)
        spatial, free_grads = pullback(jnp.ones_like(loss))
        delta = self._readout_delta(layers[-1], self.plans[-1], states[-1], signals[-1], target, spatial[-1]) \
            if self.signal.needs_delta else None

        new_lstate, grad_layers, coefficients = [], [], []
        zero_layers = _layers_of(jax.tree_util.tree_map(jnp.zeros_like, params))[0]
        for index, (layer, plan, entry) in enumerate(zip(layers, self.plans, lstate, strict=True)):
            weights = _weight_slots(plan) if columns else ()
            coefficients.append(())
            if not plan.stateful:
                new_lstate.append(None)
                grad_layers.append(zero_layers[index] if free_grads[index] is None else free_grads[index])
                continue
            learning_signal = self.signal(index, spatial, delta)
            run_entry, run_signals = (entry, signals[index]) if not weights else _unit_columns(entry, signals[index],
                                                                                              plan, weights)
            new_entry, grads = self._layer_step(index, layers, plan, run_entry, states[index], run_signals,
                                                learning_signal)
            if weights:
                # every weight of the layer has the same per-neuron coefficients (only its presynaptic signal differs)
                coefficients[-1] = _read_columns(new_entry, grads[weights[0]], weights[0],
                                                 tuple(getattr(signals[index], plan.slots[k].presyn) for k in weights))
                new_entry = _restore_synapses(new_entry, entry, weights)
                grads = [jnp.zeros_like(plan.slots[k].leaf(layer)) if k in weights else g for k, g in enumerate(grads)]
            grads = [_sum_to_shape(g, jnp.shape(s.leaf(layer))).astype(s.leaf(layer).dtype)
                     for s, g in zip(plan.slots, grads, strict=True)]
            new_lstate.append(new_entry)
            grad_layers.append(eqx.tree_at(lambda L: [s.leaf(L) for s in plan.slots], zero_layers[index], list(grads))
                               if plan.slots else zero_layers[index])
        grad = eqx.tree_at(lambda c: c.layers, params, tuple(grad_layers)) if chained else grad_layers[0]
        return (new_states if chained else new_states[0]), tuple(new_lstate), y, loss, grad, tuple(coefficients)

    def _readout_delta(self, readout, plan, st, signals, target, spatial_out):
        r"""$\delta_t = \partial\ell_t/\partial I^{out}_t$ through the readout's neuron (its output for a readout without one)."""
        if not plan.stateful:
            return spatial_out
        nstate = readout.neuron_state(st)
        return jax.grad(lambda i: self.loss(readout.neuron(nstate, i)[1], target))(signals.current)

    def _layer_step(self, index, layers, plan, entry, st, signals, learning_signal):
        layer = layers[index]
        nstate = layer.neuron_state(st)
        current = signals.current
        _, y, lin = linearize_neuron(self.traces.neuron(layer.neuron), nstate, current, plan.neuron_fields)
        self_weight = None
        if self.traces.self_recurrence and _recurrent_connection(layer) is not None:
            self_weight = jnp.diagonal(_recurrent_connection(layer).weight).astype(current.dtype)
        ctx = LayerContext(lin, nstate, current, signals, self_weight)
        decay = self._decay(layer, current.dtype) if self.traces.uses_leak(plan) else None
        updates = [self.traces.update(ctx, plan, slot, trace, decay) for slot, trace in zip(plan.slots, entry.traces)]
        traces = tuple(u[0] for u in updates)
        eligibilities = tuple(u[1] for u in updates)
        kappa = self._filter(index, layers, current.dtype)
        filtered = None if kappa is None else tuple(kappa * f + e for f, e in zip(entry.filtered, eligibilities))
        rate, new_rate = entry.rate, None
        if rate is not None:
            # The regulariser's e-prop gradient is G_t = 2c (f̄_t - f*) Ē_t with running means f̄, Ē of the
            # spikes and eligibilities; emitting its increments G_t - G_{t-1} makes them sum to G_T. With
            # d = f̄_t - f̄_{t-1}: G_t - G_{t-1} = 2c [(d - (f̄_t - f*)/t) Ē_{t-1} + (f̄_t - f*)/t e_t].
            c, f_target = self.rate_reg
            count = rate.count + 1
            mean_rate = rate.rate + (y - rate.rate) / count
            w = 2 * c * (mean_rate - f_target) / count
            u = 2 * c * (mean_rate - rate.rate) - w
            new_rate = RateTrace(count, mean_rate, tuple(m + (e - m) / count
                                                         for m, e in zip(rate.eligibilities, eligibilities)))
        grads = []
        for k, slot in enumerate(plan.slots):
            e = eligibilities[k] if filtered is None else filtered[k]
            if rate is None:
                g = _outer_signal(learning_signal, e)
            elif filtered is None:
                g = _outer_signal(learning_signal + w, e) + _outer_signal(u, rate.eligibilities[k])
            else:
                g = (_outer_signal(learning_signal, e) + _outer_signal(w, eligibilities[k])
                     + _outer_signal(u, rate.eligibilities[k]))
            grads.append(g)
        return LayerTraces(traces, filtered, new_rate), grads

    def _filter(self, index, layers, dtype):
        """The eligibility filter's decay for layer `index`, or None without a filter."""
        kappa = self.filters[index]
        return None if kappa is None else kappa.decay(self.owner, layers, _stateful(self.plans), index, dtype)

    def _decay(self, layer, dtype):
        if self.traces.decay is None:
            return jax.lax.stop_gradient(membrane_leak(self.owner, layer.neuron, dtype))
        return jnp.asarray(self.traces.decay, dtype)


# -- leaks (for separable traces and filters) ---------------------------------------------------


def membrane_leak(owner: str, neuron, dtype):
    r"""The per-step membrane decay $\lambda$ the neuron reports ([`spikax.neurons.AbstractNeuron.eligibility_leak`][]).

    LIF and LI: $\beta$; ALIF: $\alpha$; IF: 1. Other neurons have no single membrane leak
    (CubaLIF filters twice, Izhikevich/AdEx are non-linear), so a learner that needs one asks
    for it explicitly.
    """
    leak = neuron.eligibility_leak(dtype)
    if leak is None:
        raise ValueError(
            f"`{owner}`: a {type(neuron).__name__} neuron has no single membrane leak to use as the trace decay "
            "(its `eligibility_leak()` is None; LIF, LI, ALIF and IF have one: the separable trace assumes a membrane "
            "that integrates its input with one leak). Pass `trace_decay=` explicitly, or use `spikax.online.ostl`, "
            "whose diagonal traces follow any neuron."
        )
    return leak


# -- factories ------------------------------------------------------------------------------------


def build_engine(owner: str, model, loss_fn, *, traces, signal=None, filters=None, rate_reg=None):
    """Check the model, plan every layer and assemble an [`EligibilityEngine`][spikax.online.EligibilityEngine]."""
    treedef, static = _bind(owner, model, loss_fn)
    from .._trainable import trainable

    params, _ = eqx.partition(model, trainable(model))
    plans = tuple(plan_layer(owner, i, layer, lp)
                  for i, (layer, lp) in enumerate(zip(_layers_of(model)[0], _layers_of(params)[0], strict=True)))
    if not _stateful(plans):
        raise ValueError(f"`{owner}`: the model has no stateful layer (a layer with a neuron) to keep traces for.")
    filters = (None,) * len(plans) if filters is None else tuple(filters)
    return EligibilityEngine(static=static, loss_fn=loss_fn, params_treedef=treedef, owner=owner, plans=plans,
                             traces=traces, signal=SpatialSignal() if signal is None else signal, filters=filters,
                             rate_reg=rate_reg)


def _check_flag(owner, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{owner}`: `{name}` must be True or False, got {value!r}.")


def _feedback_matrices(owner, model, plans, feedback, key):
    """None for symmetric feedback, else one `[n_hidden_l, n_readout]` matrix per hidden stateful layer."""
    hidden = _stateful(plans)[:-1]
    if isinstance(feedback, str):
        if feedback == "symmetric":
            return None
        if feedback != "random":
            raise ValueError(f"`{owner}`: unknown feedback {feedback!r}. Choose 'symmetric', 'random', or pass the "
                             "feedback matrix B (shape [n_hidden, n_readout]) or a tuple of them, one per hidden layer.")
    if not hidden:
        raise ValueError(f"`{owner}`: feedback={feedback!r} needs at least one hidden stateful layer below the readout; "
                         "the model has a single stateful layer, whose learning signal is exact. Use "
                         "feedback='symmetric'.")
    blocks = _layers_of(model)[0]
    shapes = [(_width(owner, blocks[i]), _width(owner, blocks[-1])) for i in hidden]
    if isinstance(feedback, str):  # random
        if key is None:
            raise ValueError(f"`{owner}`: feedback='random' draws fixed random matrices and needs a PRNG key: pass "
                             "`key=jax.random.key(0)`.")
        keys = jax.random.split(key, len(hidden))
        dtype = blocks[hidden[0]].connection.weight.dtype
        return tuple(jax.random.normal(k, s, dtype) / np.sqrt(s[1]) for k, s in zip(keys, shapes, strict=True))
    matrices = (feedback,) if not isinstance(feedback, (tuple, list)) else tuple(feedback)
    if len(matrices) != len(hidden):
        raise ValueError(f"`{owner}`: got {len(matrices)} feedback matrices for {len(hidden)} hidden stateful layers; "
                         "pass one matrix per hidden layer (a single array when there is one).")
    out = []
    for m, s in zip(matrices, shapes, strict=True):
        m = jnp.asarray(m)
        if m.shape != s:
            raise ValueError(f"`{owner}`: a feedback matrix has shape {m.shape}, expected {s} "
                             "([hidden neurons, readout neurons]); symmetric feedback would be W_out.T.")
        out.append(m)
    return tuple(out)


def _width(owner, layer) -> int:
    """The number of outputs of a layer with a dense connection."""
    fn = getattr(layer, "connection", getattr(layer, "fn", None))
    if not isinstance(fn, eqx.nn.Linear) or fn.out_features == "scalar":
        raise TypeError(f"`{owner}`: feedback matrices need dense (`equinox.nn.Linear`) layers to size them; got a "
                        f"{type(fn).__name__}. Use feedback='symmetric'.")
    return fn.out_features


def _check_rate_reg(owner, rate_reg):
    if rate_reg is None:
        return None
    if not isinstance(rate_reg, (tuple, list)) or len(rate_reg) != 2:
        raise ValueError(f"`{owner}`: `rate_reg` must be a pair (c, f_target): the strength c >= 0 and the target "
                         f"rate in spikes per step; got {rate_reg!r}. E.g. `rate_reg=(0.1, 0.01)`.")
    c, f = (float(v) for v in rate_reg)
    if c < 0 or not 0 <= f <= 1:
        raise ValueError(f"`{owner}`: `rate_reg=(c, f_target)` needs c >= 0 and 0 <= f_target <= 1 (spikes per step), "
                         f"got {rate_reg!r}.")
    return (c, f)


def eprop(model, loss_fn, *, feedback="symmetric", readout_kappa=None, reset_in_trace: bool = False,
          rate_reg=None, key=None) -> EligibilityEngine:
    r"""e-prop (Bellec et al. 2020, Nat. Commun. 11:3625): eligibility traces times a broadcast learning signal.

    $$g_{ji} = \sum_t L_{j,t}\,\bar e_{ji,t},\qquad L_t = B\,\delta_t,\qquad \bar e_t = \kappa\bar e_{t-1} + e_t$$

    $e_{ji,t}$ is the neuron-local eligibility trace (see the module docs: one `jvp` of the neuron
    step; for LIF $e = \psi\,(1-\beta)\bar x$, for ALIF
    $\epsilon^v_t = \alpha\epsilon^v_{t-1} + (1-\alpha)x_t$,
    $e_t = \psi_t(\epsilon^v_t - \beta_a\epsilon^a_{t-1})$,
    $\epsilon^a_t = \psi_t\epsilon^v_t + (\rho - \beta_a\psi_t)\epsilon^a_{t-1}$). The previous spikes
    entering the recurrent input are held fixed, and by default so is the reset.
    $\delta_t = \partial\ell_t/\partial I^{\text{out}}_t$ is the loss's derivative at the readout's
    input current (at its output for a `Stateless` readout). The readout itself (the last
    layer) learns from its own exact signal.

    **Arguments:**

    - `model`: a `spikax.Chain` (or one layer) of `Layer`/`Recurrent`/`Stateless` blocks with
      dense connections; typically a recurrent hidden layer and a leaky readout (`LI`).
    - `loss_fn`: the per-step loss `loss_fn(y_t, target_t) -> scalar`.
    - `feedback`: `"symmetric"` ($B = W_{out}^\top$: the within-step gradient), `"random"`
      (fixed $B_l \sim \mathcal N(0, 1/n_{out})$ per hidden layer, drawn once from `key`), or the
      matrix $B$ `[n_hidden, n_out]` itself (a tuple of them for several hidden layers).
    - `readout_kappa`: the leak $\kappa$ of a leaky readout; hidden layers' eligibilities are then
      filtered by it, which accounts for the readout's memory. For `LI(beta=κ)` this is exact.
      Default (None): the readout neuron's own leak
      ([`spikax.neurons.AbstractNeuron.eligibility_leak`][], e.g. $\beta$ of an `LI` readout), read at
      every step; no filter under a memoryless (`Stateless`) readout. A readout this default cannot
      follow (a spiking neuron, or one without a single scalar leak, such as `CubaLIF`) raises a
      `ValueError`: give `readout_kappa` then. `readout_kappa=0` switches the filter off.
    - `reset_in_trace`: keep the reset's derivative in the traces (default False, as in e-prop).
    - `rate_reg`: `(c, f_target)` adds $c\sum_j(\bar f_j - f^*)^2$ per hidden neuron, $\bar f_j$ its
      mean spikes per step over the sequence; the online gradient is emitted as increments of
      $2c(\bar f_{j,t}-f^*)\,\bar E_{ji,t}$ (running means), which sum to its exact e-prop gradient.
    - `key`: PRNG key for `feedback="random"` (used once, at construction).

    **Returns:** an online learner for [`spikax.online.run`][] and [`spikax.online.train`][].

    **Example:**

    ```python
    k1, k2 = jax.random.split(jax.random.key(0))
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 16, spikax.neurons.ALIF(), key=k1),
                        spikax.layers.dense(16, 2, spikax.neurons.LI(beta=0.9), key=k2)])
    mse = lambda y, t: jnp.sum((y - t) ** 2)
    est = spikax.online.eprop(net, mse, readout_kappa=0.9)
    params, _ = eqx.partition(net, spikax.trainable(net))
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), jnp.ones((20, 3)), jnp.zeros((20, 2)))
    ```
    """
    owner = "spikax.online.eprop"
    _check_flag(owner, "reset_in_trace", reset_in_trace)
    engine = build_engine(owner, model, loss_fn, traces=DiagonalTraces(reset_in_trace),
                          rate_reg=_check_rate_reg(owner, rate_reg))
    matrices = _feedback_matrices(owner, model, engine.plans, feedback, key)
    signal = SpatialSignal() if matrices is None else FeedbackSignal(matrices, _stateful(engine.plans)[:-1])
    if readout_kappa is None:
        readout = _layers_of(model)[0][-1]
        kappa = ReadoutLeak() if engine.plans[-1].stateful else None
        if kappa is not None and len(_stateful(engine.plans)) > 1:
            _check_leaky_readout(owner, readout.neuron)
    else:
        kappa = ConstantDecay(float(readout_kappa))
        if not 0 <= kappa.kappa <= 1:
            raise ValueError(f"`{owner}`: `readout_kappa` is the readout's per-step leak and must lie in [0, 1], "
                             f"got {readout_kappa!r}.")
    last = len(engine.plans) - 1
    filters = tuple(kappa if (p.stateful and i != last) else None for i, p in enumerate(engine.plans))
    return dataclasses.replace(engine, signal=signal, filters=filters)


def _check_leaky_readout(owner, neuron):
    """e-prop's default readout filter assumes a leaky integrator readout whose output is its membrane."""
    name = type(neuron).__name__
    fix = ("Use a leaky readout (e.g. `spikax.layers.dense(n, n_out, spikax.neurons.LI(beta=0.9), key=key)`), or pass "
           "`readout_kappa=` yourself: the per-step decay of the hidden layers' eligibility filter (0 for none).")
    if getattr(neuron, "surrogate", None) is not None:
        raise ValueError(f"`{owner}`: the readout is a spiking {name} neuron, but e-prop's default readout filter "
                         "(readout_kappa=None) needs a leaky, non-spiking readout whose output is its membrane, so that "
                         "the filter with its leak follows the readout's memory of the hidden spikes. " + fix)
    leak = neuron.eligibility_leak()
    if leak is None or jnp.ndim(leak) != 0:
        got = "has no single membrane leak" if leak is None else f"has one leak per neuron (shape {jnp.shape(leak)})"
        raise ValueError(f"`{owner}`: the readout {name} neuron {got}, but e-prop's default readout filter "
                         "(readout_kappa=None) filters the hidden layers' eligibilities with the readout's one "
                         "per-step leak. " + fix)


def ostl(model, loss_fn) -> EligibilityEngine:
    r"""Online spatio-temporal learning (Bohnstingl et al. 2022, IEEE TNNLS).

    Per-layer diagonal traces that keep the neuron's full own Jacobian (reset included), times
    the within-step learning signal $L^l_t = \partial\ell_t/\partial y^l_t$ (spatial backprop
    through the layers above at the same step):

    $$g^l = \sum_t L^l_t\, e^l_t.$$

    Exact for one stateful feed-forward layer under a memoryless readout; deeper layers miss
    the temporal paths through the layers above, and recurrent weights miss the recurrence.

    **Arguments:** `model`, `loss_fn` as in [`spikax.online.eprop`][].

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    est = spikax.online.ostl(net, mse)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets)
    ```
    """
    return build_engine("spikax.online.ostl", model, loss_fn, traces=DiagonalTraces(True))


def snap1(model, loss_fn) -> EligibilityEngine:
    r"""SnAp-1 (Menick et al., ICLR 2021) on each layer: the influence entries a parameter reaches in one step.

    Like [`spikax.online.ostl`][], plus the one recurrent path that stays inside a neuron: its
    own previous spike returning through $R_{jj}$, so the trace also follows $\partial z_{j,t}/\partial\theta$:

    $$\epsilon_{ji,t} = A_{j,t}\epsilon_{ji,t-1} + \frac{\partial s_{j,t}}{\partial I_{j,t}}\big(x_{i,t} + R_{jj}\,e_{ji,t-1}\big).$$

    Across layers the within-step learning signal carries the effect on the layers above.

    **Arguments:** `model`, `loss_fn` as in [`spikax.online.eprop`][].

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    est = spikax.online.snap1(net, mse)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets)
    ```
    """
    return build_engine("spikax.online.snap1", model, loss_fn, traces=DiagonalTraces(True, self_recurrence=True))
