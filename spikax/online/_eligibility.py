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

Memory is $O(kP)$ per example and does not grow with $T$; compute is $O(k^2P)$ per step. Only
dense connections (`equinox.nn.Linear`) carry traces, since a per-synapse trace needs
$\partial I_j/\partial W_{ji} = x_i$; other connections must be frozen (no trainable leaves).
"""

from __future__ import annotations

import copy
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..layers import AbstractStateless, Layer, Recurrent, RecurrentState
from ..network import Chain
from ._api import AbstractEstimator, _bind, _layers_of

# slot name -> (connection attribute, leaf attribute)
_CONNECTION_SLOTS = {"W": ("connection", "weight"), "b": ("connection", "bias"),
                     "R": ("recurrent", "weight"), "bR": ("recurrent", "bias")}


# -- per-neuron trace maths (pure functions) --------------------------------------------------


def detach_reset(neuron):
    """A copy of `neuron` whose reset gradient is cut (same values); the neuron itself if it has no reset option."""
    if not hasattr(neuron, "detach_reset") or neuron.detach_reset:
        return neuron
    new = copy.copy(neuron)
    object.__setattr__(new, "detach_reset", True)
    return new


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


def trace_step(lin, trace, d_current, d_fields, *, presyn=None, self_weight=None):
    r"""Advance one per-synapse eligibility trace by one step; returns `(new_trace, e)`.

    - `lin`: the linearised neuron step from [`linearize_neuron`][].
    - `trace`: `{"n": tangent of the neuron state, "z": tangent of the previous output or None}`,
      with the presynaptic axis last for a weight (leaves `[n, m]`) and no extra axis otherwise.
    - `d_current`, `d_fields`: the direct tangents ($\mathbf 1$ for a bias, $\mathbf 0$ plus a one-hot
      field for a neuron parameter). For a weight, `presyn` ($x$, shape `[m]`) multiplies `d_current`
      column by column.
    - `self_weight`: the diagonal of $R$ (SnAp-1): the neuron's own previous output, whose tangent
      is `trace["z"]`, feeds back through $R_{jj}$.

    `e` $=\partial y_t/\partial\theta$ is the eligibility; it has the shape of the trace leaves.
    """

    def column(tr, dc):
        if self_weight is not None:
            dc = dc + self_weight * tr["z"]
        d_state, d_y = lin(tr["n"], dc, d_fields)
        return {"n": d_state, "z": d_y if self_weight is not None else None}, d_y

    if presyn is None:
        return column(trace, d_current)
    return jax.vmap(lambda tr, xi: column(tr, xi * d_current), in_axes=(-1, 0), out_axes=-1)(trace, presyn)


def _sum_to_shape(x, shape):
    """Sum a per-neuron array back to a (broadcast) parameter's shape."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    x = jnp.sum(x, axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, (a, b) in enumerate(zip(x.shape, shape)) if b == 1 and a != 1)
    return jnp.sum(x, axis=axes, keepdims=True) if axes else x


# -- model analysis ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """What the engine does with one layer (static metadata)."""

    kind: str  # "layer", "recurrent" or "stateless"
    slots: tuple[str, ...]  # trainable connection slots ("W", "b", "R", "bR") then neuron fields ("raw_beta", ...)
    neuron_fields: tuple[str, ...]


def _blocks(tree):
    return tuple(tree.layers) if isinstance(tree, Chain) else (tree,)


def _is_array(x) -> bool:
    return eqx.is_inexact_array(x)


def plan_model(owner: str, model, params) -> tuple[LayerPlan, ...]:
    """Check that the engine can handle `model` and list the trainable slots of every layer."""
    found = _layers_of(model)
    if found is None:
        bad = sorted({type(b).__name__ for b in _blocks(model) if not isinstance(b, (Layer, Recurrent, AbstractStateless))})
        raise TypeError(
            f"`{owner}`: eligibility traces need to know each layer's synapse and neuron, which spikax knows for "
            f"`spikax.layers.Layer`, `spikax.layers.Recurrent` and stateless blocks (`Stateless`, `Flatten`, `Pool`; alone or in a "
            f"`spikax.Chain`); got {', '.join(bad) or type(model).__name__}. Rebuild the model from those blocks, or "
            "use `spikax.online.rtrl` / `spikax.online.bptt`, which take any model."
        )
    plans = []
    for index, (layer, lp) in enumerate(zip(_blocks(model), _blocks(params), strict=True)):
        if isinstance(layer, AbstractStateless):
            plans.append(LayerPlan("stateless", (), ()))
            continue
        kind = "recurrent" if isinstance(layer, Recurrent) else "layer"
        slots = []
        for attr in ("connection", "recurrent") if kind == "recurrent" else ("connection",):
            conn, conn_p = getattr(layer, attr), getattr(lp, attr)
            leaves = [leaf for leaf in jax.tree_util.tree_leaves(conn_p) if _is_array(leaf)]
            if not leaves:
                continue
            if not isinstance(conn, eqx.nn.Linear) or conn.in_features == "scalar" or conn.out_features == "scalar":
                raise TypeError(
                    f"`{owner}`: layer {index} has a trainable {type(conn).__name__} as its `{attr}`. The diagonal "
                    "eligibility engine keeps one trace per synapse x_i -> neuron j, which needs a dense "
                    "`equinox.nn.Linear` (dI_j/dW_ji = x_i). Use a Linear connection, freeze this one (leave it out of "
                    "the trainable parameters), or use `spikax.online.rtrl` / `spikax.online.bptt`."
                )
            for slot, (a, leaf) in _CONNECTION_SLOTS.items():
                if a == attr and _is_array(getattr(conn_p, leaf, None)):
                    slots.append(slot)
        fields = tuple(f.name for f in dataclasses.fields(layer.neuron)
                       if _is_array(getattr(lp.neuron, f.name, None)))
        plans.append(LayerPlan(kind, tuple(slots) + fields, fields))
    return tuple(plans)


def stateful_indices(plans) -> tuple[int, ...]:
    return tuple(i for i, p in enumerate(plans) if p.kind != "stateless")


def _slot_leaf(layer, slot):
    if slot in _CONNECTION_SLOTS:
        attr, leaf = _CONNECTION_SLOTS[slot]
        return getattr(getattr(layer, attr), leaf)
    return getattr(layer.neuron, slot)


def _with_grads(zero_layer, slots, values):
    """`zero_layer` (a params-shaped layer of zeros) with the gradients of `slots` filled in."""
    if not slots:
        return zero_layer
    return eqx.tree_at(lambda L: [_slot_leaf(L, s) for s in slots], zero_layer, list(values))


def _rebuild(params_like, layers):
    if isinstance(params_like, Chain):
        return eqx.tree_at(lambda c: c.layers, params_like, tuple(layers))
    return layers[0]


# -- the engine ---------------------------------------------------------------------------------


class EligibilityEngine(AbstractEstimator):
    r"""The diagonal (and separable) eligibility-trace engine behind e-prop, OSTL, SnAp-1, OTTT and OTPE.

    Build it with one of the factories ([`eprop`][spikax.online.eprop], [`ostl`][spikax.online.ostl],
    [`snap1`][spikax.online.snap1], [`ottt`][spikax.online.ottt], [`otpe`][spikax.online.otpe]);
    the fields are configuration only and both methods are pure.

    - `trace`: `"diagonal"` (per-synapse traces through the neuron's own Jacobian) or
      `"separable"` (OTTT: a presynaptic trace $\hat a_t = \lambda\hat a_{t-1} + x_t$ times the
      instantaneous postsynaptic factor $\partial y_t/\partial I_t$).
    - `reset_in_trace`: keep the reset's derivative inside the trace (OSTL, SnAp-1) or cut it (e-prop).
    - `self_recurrence`: SnAp-1's diagonal term $R_{jj}$ from a neuron's own previous spike.
    - `feedback`: None (spatial learning signals, i.e. symmetric feedback) or one matrix per
      hidden stateful layer, $L^l_t = B_l\,\delta_t$ with $\delta_t$ the loss's derivative at the
      readout's input current.
    - `filters`: per layer, None, the decay $\kappa$ of a low-pass filter on the eligibility,
      $\bar e_t = \kappa\bar e_{t-1} + e_t$ (e-prop's leaky readout), or `"next"`: the membrane
      leak of the next stateful layer (OTPE's postsynaptic estimate).
    - `decays`: per layer, the presynaptic trace decay $\lambda$ (separable traces only; None
      means the neuron's membrane leak).
    - `rate_reg`: None or `(c, f_target)`, e-prop's firing-rate regulariser.
    """

    name: str = eqx.field(static=True)
    plans: tuple = eqx.field(static=True)
    trace: str = eqx.field(static=True)
    reset_in_trace: bool = eqx.field(static=True)
    self_recurrence: bool = eqx.field(static=True)
    filters: tuple = eqx.field(static=True)
    decays: tuple = eqx.field(static=True)
    rate_reg: tuple | None = eqx.field(static=True)
    feedback: tuple | None

    # -- init ------------------------------------------------------------------------------
    def init(self, params, state0, *, key=None):
        """Zero traces for one example whose model starts in `state0`."""
        del key
        layers = self.layers(params)
        states = self.layer_states(params, state0)
        last = stateful_indices(self.plans)[-1] if stateful_indices(self.plans) else None
        out = []
        for index, (layer, plan, st) in enumerate(zip(layers, self.plans, states, strict=True)):
            if plan.kind == "stateless":
                out.append(None)
                continue
            nstate = st.neuron if plan.kind == "recurrent" else st
            n = jnp.shape(jax.tree_util.tree_leaves(nstate)[0])
            dtype = jax.tree_util.tree_leaves(nstate)[0].dtype
            entry = {"traces": {}, "filtered": {}, "rate": None}
            for slot in plan.slots:
                extra = self._presyn_shape(layer, slot)
                if self.trace == "separable" and slot in _CONNECTION_SLOTS:
                    entry["traces"][slot] = jnp.zeros(extra, dtype)  # presynaptic trace only
                else:
                    selfrec = self.self_recurrence and plan.kind == "recurrent"
                    entry["traces"][slot] = {
                        "n": jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape + extra, a.dtype), nstate),
                        "z": jnp.zeros(n + extra, dtype) if selfrec else None,
                    }
                if self.filters[index] is not None:
                    entry["filtered"][slot] = jnp.zeros(n + extra, dtype)
            if self.rate_reg is not None and index != last:
                entry["rate"] = {"count": jnp.zeros((), dtype), "rate": jnp.zeros(n, dtype),
                                 "e": {slot: jnp.zeros(n + self._presyn_shape(layer, slot), dtype)
                                       for slot in plan.slots}}
            out.append(entry)
        return tuple(out)

    @staticmethod
    def _presyn_shape(layer, slot) -> tuple[int, ...]:
        if slot == "W":
            return (layer.connection.in_features,)
        if slot == "R":
            return (layer.recurrent.in_features,)
        return ()

    # -- one step ----------------------------------------------------------------------------
    def _forward(self, layers, states, x, target, out_probes, current_probe, free):
        """One model step with probes on every output and on the readout's current; returns the loss."""
        new_states, records = [], []
        last = len(layers) - 1
        for index, (layer, plan, st) in enumerate(zip(layers, self.plans, states, strict=True)):
            if plan.kind == "stateless":
                y = (layer if free[index] is None else eqx.combine(free[index], layer)).apply(x)
                if index == last and current_probe is not None:
                    y = y + current_probe
                new, record = st, None
            else:
                current = layer.connection(x)
                z_prev = st.spikes if plan.kind == "recurrent" else None
                if z_prev is not None:
                    current = current + layer.recurrent(z_prev)
                if index == last and current_probe is not None:
                    current = current + current_probe
                nstate = st.neuron if plan.kind == "recurrent" else st
                new_n, y = layer.neuron(nstate, current)
                record = (x, z_prev, nstate, current)
            y = y + out_probes[index]
            if plan.kind == "recurrent":
                new = RecurrentState(neuron=new_n, spikes=y)
            elif plan.kind == "layer":
                new = new_n
            new_states.append(new)
            records.append(record)
            x = y
        return self.loss(x, target), (tuple(new_states), x, tuple(records))

    def step(self, params, lstate, state, x, target, *, key=None):
        """One time step: `(state, lstate, y_t, loss_t, grad_t)` with `grad_t` shaped like `params`."""
        del key
        layers = self.layers(params)
        states = self.layer_states(params, state)
        p_layers = _blocks(params)
        # Trainable stateless layers get their (exact, memoryless) gradient from the same vjp.
        free = tuple(pl if plan.kind == "stateless" and jax.tree_util.tree_leaves(pl) else None
                     for pl, plan in zip(p_layers, self.plans, strict=True))
        _, outputs = jax.eval_shape(lambda: self.layer_outputs(params, state, x))
        out_probes = tuple(jnp.zeros(o.shape, o.dtype) for o in outputs)
        current_probe = None
        if self.feedback is not None:
            # neurons are elementwise, so the readout's current has the shape of its output
            current_probe = jnp.zeros(outputs[-1].shape, outputs[-1].dtype)

        def f(probes, cprobe, free_params):
            return self._forward(layers, states, x, target, probes, cprobe, free_params)

        loss, pullback, (new_states, y, records) = jax.vjp(f, out_probes, current_probe, free, has_aux=True)
        signals, delta, free_grads = pullback(jnp.ones_like(loss))

        stateful = stateful_indices(self.plans)
        hidden = stateful[:-1]
        new_lstate, grad_layers = [], []
        zero_layers = _blocks(jax.tree_util.tree_map(jnp.zeros_like, params))
        for index, (layer, plan, entry) in enumerate(zip(layers, self.plans, lstate, strict=True)):
            if plan.kind == "stateless":
                new_lstate.append(None)
                grad_layers.append(zero_layers[index] if free_grads[index] is None else free_grads[index])
                continue
            signal = signals[index]
            if self.feedback is not None and index in hidden:
                signal = self.feedback[hidden.index(index)].astype(delta.dtype) @ delta
            kappa = self._filter(index, layers, records[index][3].dtype)
            entry, grads = self._layer_step(index, layer, plan, entry, records[index], signal, kappa)
            new_lstate.append(entry)
            grad_layers.append(_with_grads(zero_layers[index], plan.slots, grads))
        grad = _rebuild(jax.tree_util.tree_map(jnp.zeros_like, params), grad_layers)
        new_state = new_states if isinstance(self.model(params), Chain) else new_states[0]
        return new_state, tuple(new_lstate), y, loss, grad

    def _layer_step(self, index, layer, plan, entry, record, signal, kappa):
        x, z_prev, nstate, current = record
        neuron = layer.neuron if self.reset_in_trace else detach_reset(layer.neuron)
        _, y, lin = linearize_neuron(neuron, nstate, current, plan.neuron_fields)
        zero_current = jnp.zeros_like(current)
        zero_fields = tuple(jnp.zeros_like(current) for _ in plan.neuron_fields)
        ones = jnp.ones_like(current)
        self_weight = None
        if self.self_recurrence and plan.kind == "recurrent":
            self_weight = jnp.diagonal(layer.recurrent.weight).astype(current.dtype)
        post = None
        if self.trace == "separable":
            # instantaneous postsynaptic factor dy_t/dI_t (earlier state held fixed)
            post = lin(jax.tree_util.tree_map(jnp.zeros_like, nstate), ones, zero_fields)[1]
            decay = self._decay(index, layer, current.dtype)
        traces, filtered, eligibilities = {}, {}, {}
        for slot in plan.slots:
            presyn = {"W": x, "R": z_prev}.get(slot)
            if self.trace == "separable" and slot in _CONNECTION_SLOTS:
                signal_in = jnp.ones((), current.dtype) if presyn is None else presyn.astype(current.dtype)
                a_hat = decay * entry["traces"][slot] + signal_in
                traces[slot] = a_hat
                e = post[:, None] * a_hat[None, :] if presyn is not None else post * a_hat
            else:
                if slot in _CONNECTION_SLOTS:
                    d_current, d_fields = ones, zero_fields
                else:
                    k = plan.neuron_fields.index(slot)
                    d_current = zero_current
                    d_fields = tuple(ones if i == k else z for i, z in enumerate(zero_fields))
                traces[slot], e = trace_step(lin, entry["traces"][slot], d_current, d_fields,
                                             presyn=None if presyn is None else presyn.astype(current.dtype),
                                             self_weight=self_weight)
            eligibilities[slot] = e
            if kappa is not None:
                filtered[slot] = kappa * entry["filtered"][slot] + e
        grads = []
        rate = entry["rate"]
        if rate is not None:
            # The regulariser's e-prop gradient is G_t = 2c (f̄_t - f*) Ē_t with running means f̄, Ē of the
            # spikes and eligibilities; emitting its increments G_t - G_{t-1} makes them sum to G_T. With
            # d = f̄_t - f̄_{t-1}: G_t - G_{t-1} = 2c [(d - (f̄_t - f*)/t) Ē_{t-1} + (f̄_t - f*)/t e_t].
            c, f_target = self.rate_reg
            count = rate["count"] + 1
            new_rate = rate["rate"] + (y - rate["rate"]) / count
            w = 2 * c * (new_rate - f_target) / count
            u = 2 * c * (new_rate - rate["rate"]) - w
            new_e = {s: rate["e"][s] + (eligibilities[s] - rate["e"][s]) / count for s in plan.slots}
        for slot in plan.slots:
            e = filtered[slot] if kappa is not None else eligibilities[slot]
            if rate is None:
                g = _outer_signal(signal, e)
            elif kappa is None:
                g = _outer_signal(signal + w, e) + _outer_signal(u, rate["e"][slot])
            else:
                g = _outer_signal(signal, e) + _outer_signal(w, eligibilities[slot]) + _outer_signal(u, rate["e"][slot])
            target_shape = jnp.shape(_slot_leaf(layer, slot))
            grads.append(_sum_to_shape(g, target_shape).astype(_slot_leaf(layer, slot).dtype))
        new_entry = {"traces": traces, "filtered": filtered,
                     "rate": None if rate is None else {"count": count, "rate": new_rate, "e": new_e}}
        return new_entry, grads

    def _filter(self, index, layers, dtype):
        """The eligibility filter's decay for layer `index`: a number, the next stateful layer's leak, or None."""
        kappa = self.filters[index]
        if kappa is None:
            return None
        if kappa == "next":
            following = [i for i in stateful_indices(self.plans) if i > index][0]
            return jax.lax.stop_gradient(membrane_leak(f"spikax.online.{self.name}", layers[following].neuron, dtype))
        return jnp.asarray(kappa, dtype)

    def _decay(self, index, layer, dtype):
        decay = self.decays[index]
        if decay is None:
            return jax.lax.stop_gradient(membrane_leak(f"spikax.online.{self.name}", layer.neuron, dtype))
        return jnp.asarray(decay, dtype)


def _outer_signal(signal, e):
    """`L_j * e_j...` with the learning signal broadcast over the presynaptic axes."""
    return signal.reshape(signal.shape + (1,) * (e.ndim - signal.ndim)) * e


# -- leaks (for separable traces and filters) ---------------------------------------------------


def membrane_leak(owner: str, neuron, dtype):
    r"""The per-step membrane decay $\lambda$ of a neuron whose membrane is a single leaky integrator.

    LIF and LI: $\beta$; ALIF: $\alpha$; IF: 1. Other neurons have no single membrane leak
    (CubaLIF filters twice, Izhikevich/AdEx are non-linear), so a learner that needs one asks
    for it explicitly.
    """
    from ..neurons import ALIF, IF, LI, LIF

    if isinstance(neuron, (LIF, LI)):
        return neuron.param("beta", dtype)
    if isinstance(neuron, ALIF):
        return neuron.param("alpha", dtype)
    if isinstance(neuron, IF):
        return jnp.ones((), dtype)
    raise ValueError(
        f"`{owner}`: a {type(neuron).__name__} neuron has no single membrane leak to use as the trace decay "
        "(only LIF, LI, ALIF and IF do: the separable trace assumes a membrane that integrates its input with one "
        "leak). Pass `trace_decay=` explicitly, or use `spikax.online.ostl`, whose diagonal traces follow any neuron."
    )


# -- factories ------------------------------------------------------------------------------------


def build_engine(owner: str, name: str, model, loss_fn, *, trace="diagonal", reset_in_trace=True,
                 self_recurrence=False, feedback=None, filters=None, decays=None, rate_reg=None):
    treedef, static = _bind(owner, model, loss_fn)
    from .._trainable import trainable

    params, _ = eqx.partition(model, trainable(model))
    plans = plan_model(owner, model, params)
    stateful = stateful_indices(plans)
    if not stateful:
        raise ValueError(f"`{owner}`: the model has no stateful layer (a layer with a neuron) to keep traces for.")
    n = len(plans)
    filters = (None,) * n if filters is None else tuple(filters)
    decays = (None,) * n if decays is None else tuple(decays)
    return EligibilityEngine(static=static, loss_fn=loss_fn, params_treedef=treedef, name=name, plans=plans,
                             trace=trace, reset_in_trace=reset_in_trace, self_recurrence=self_recurrence,
                             filters=filters, decays=decays, rate_reg=rate_reg, feedback=feedback)


def _check_flag(owner, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{owner}`: `{name}` must be True or False, got {value!r}.")


def _feedback_matrices(owner, model, plans, feedback, key):
    """None for symmetric feedback, else one `[n_hidden_l, n_readout]` matrix per hidden stateful layer."""
    stateful = stateful_indices(plans)
    hidden = stateful[:-1]
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
    blocks = _blocks(model)
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
    fn = getattr(layer, "fn", None) if isinstance(layer, AbstractStateless) else layer.connection
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
    engine = build_engine(owner, "eprop", model, loss_fn, reset_in_trace=reset_in_trace,
                          rate_reg=_check_rate_reg(owner, rate_reg))
    matrices = _feedback_matrices(owner, model, engine.plans, feedback, key)
    filters = (None,) * len(engine.plans)
    if readout_kappa is not None:
        kappa = float(readout_kappa)
        if not 0 <= kappa <= 1:
            raise ValueError(f"`{owner}`: `readout_kappa` is the readout's per-step leak and must lie in [0, 1], "
                             f"got {readout_kappa!r}.")
        last = len(engine.plans) - 1
        filters = tuple(kappa if (p.kind != "stateless" and i != last) else None
                        for i, p in enumerate(engine.plans))
    return dataclasses.replace(engine, feedback=matrices, filters=filters)


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
    est = spikax.online.ostl(net, mse)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets)
    ```
    """
    return build_engine("spikax.online.ostl", "ostl", model, loss_fn, reset_in_trace=True)


def snap1(model, loss_fn) -> EligibilityEngine:
    r"""SnAp-1 (Menick et al., ICLR 2021) on each layer: the influence entries a parameter reaches in one step.

    Like [`spikax.online.ostl`][], plus the one recurrent path that stays inside a neuron: its
    own previous spike returning through $R_{jj}$, so the trace also follows $\partial z_{j,t}/\partial\theta$:

    $$\epsilon_{ji,t} = A_{j,t}\epsilon_{ji,t-1} + \frac{\partial s_{j,t}}{\partial I_{j,t}}\big(x_{i,t} + R_{jj}\,e_{ji,t-1}\big).$$

    Across layers the within-step learning signal carries the effect on the layers above.

    **Arguments:** `model`, `loss_fn` as in [`spikax.online.eprop`][].

    **Example:**

    ```python
    est = spikax.online.snap1(net, mse)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets)
    ```
    """
    return build_engine("spikax.online.snap1", "snap1", model, loss_fn, reset_in_trace=True, self_recurrence=True)
