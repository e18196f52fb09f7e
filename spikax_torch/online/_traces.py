r"""Eligibility-trace learners in PyTorch: e-prop, OSTL, SnAp-1, OTTT and OTPE (twins of [`spikax.online`][]).

Every layer with a neuron is a synapse followed by an elementwise neuron,

$$I_t = W x_t + b + R z_{t-1},\qquad (s_t, y_t) = f(s_{t-1}, I_t;\ \phi).$$

*Diagonal traces* (e-prop, OSTL, SnAp-1) keep, per synapse $x_i\to j$, the tangent of neuron
$j$'s own state with incoming spikes held fixed:

$$\epsilon_{ji,t} = \frac{\partial s_{j,t}}{\partial s_{j,t-1}}\epsilon_{ji,t-1}
  + \frac{\partial s_{j,t}}{\partial I_{j,t}}x_{i,t},\qquad
  e_{ji,t} = \frac{\partial y_{j,t}}{\partial s_{j,t-1}}\epsilon_{ji,t-1} + \frac{\partial y_{j,t}}{\partial I_{j,t}}x_{i,t},$$

one `torch.func.jvp` of the neuron step with tangents $(\epsilon_{:,i},\ x_i\mathbf 1)$, vmapped
over the presynaptic index $i$. *Separable traces* (OTTT, OTPE) keep a presynaptic trace
$\hat a_t = \lambda\hat a_{t-1} + x_t$ and use $e_{ji,t} = \frac{\partial y_{j,t}}{\partial I_{j,t}}\hat a_{i,t}$.
The gradient is $g_{ji} = \sum_t L_{j,t}\bar e_{ji,t}$ with the learning signal $L^l_t$ either the
within-step derivative $\partial\ell_t/\partial y^l_t$ or e-prop's $B_l\,\delta_t$, and $\bar e$ the
eligibility, optionally low-pass filtered ($\bar e_t = \kappa\bar e_{t-1} + e_t$).

Batch axes are native (as everywhere in spikax_torch): traces carry the batch, the per-step loss
is the batch mean, so gradients are batch means as in spikax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from .._pytree import split_tensors
from ..layers import AbstractStateless, Layer, Recurrent, RecurrentState
from ..network import Chain
from ._online import AbstractEstimator

# (connection attribute, leaf, presynaptic signal) for every synapse a layer may have
_SYNAPSES = {"connection": "input", "recurrent": "recurrent_input"}
# a neuron's membrane leak, for neurons without an `eligibility_leak` method: class name -> parameter
_LEAK_PARAMS = {"LIF": "beta", "LI": "beta", "ALIF": "alpha"}


class Slot(NamedTuple):
    """One trainable tensor of a layer with a neuron: its name in `params`, and where its eligibility comes from."""

    name: str  # the key in `params`, e.g. "layers.0.connection.weight"
    presyn: str | None  # "input" / "recurrent_input" for a weight, None for a bias or a neuron parameter
    field: str | None  # the neuron parameter ("raw_beta"...), else None


class LayerPlan(NamedTuple):
    """What the engine does with one layer: nothing (no neuron) or traces for its `slots`.

    `leaky_integrator`: the neuron is one membrane with one shared leak and a subtractive (or no)
    reset, so with the reset cut from the trace its weight traces factorise (see `eprop`).
    """

    stateful: bool
    prefix: str
    slots: tuple[Slot, ...] = ()
    fields: tuple[str, ...] = ()
    leaky_integrator: bool = False


class LayerTraces(NamedTuple):
    """The engine's state for one layer with a neuron (one entry per slot; None where unused)."""

    traces: tuple
    filtered: tuple | None
    rate: tuple | None  # (count, mean rate, mean eligibilities) for the rate regulariser


def _blocks(model) -> tuple:
    return tuple(model.layers) if isinstance(model, Chain) else (model,)


def _sub(params: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def _call(module, params: dict, *args):
    return torch.func.functional_call(module, params, args) if params else module(*args)


def _plan(owner: str, model, names) -> tuple[LayerPlan, ...]:
    blocks = _blocks(model)
    chained = isinstance(model, Chain)
    plans = []
    for index, layer in enumerate(blocks):
        prefix = f"layers.{index}." if chained else ""
        if isinstance(layer, AbstractStateless):
            plans.append(LayerPlan(False, prefix))
            continue
        if not isinstance(layer, (Layer, Recurrent)):
            raise TypeError(
                f"`{owner}`: eligibility traces need to know each layer's synapse and neuron, which spikax_torch knows "
                "for `spikax_torch.layers.Layer`, `spikax_torch.layers.Recurrent` and stateless blocks (alone or in a "
                f"`spikax_torch.Chain`); got a {type(layer).__name__}. Rebuild the model from those blocks, or use "
                "`spikax_torch.online.rtrl` / `spikax_torch.online.bptt`, which take any model.")
        slots = []
        for attr, presyn in _SYNAPSES.items():
            conn = getattr(layer, attr, None)
            if conn is None:
                continue
            trainable = [n for n in names if n.startswith(f"{prefix}{attr}.")]
            if not trainable:
                continue
            if not isinstance(conn, torch.nn.Linear):
                raise TypeError(
                    f"`{owner}`: layer {index} has a trainable {type(conn).__name__} as its `{attr}`. The eligibility "
                    "engine keeps one trace per synapse x_i -> neuron j, which needs a dense `torch.nn.Linear` "
                    "(dI_j/dW_ji = x_i). Use a Linear connection, freeze this one (`requires_grad_(False)` is not "
                    "enough: make its tensors buffers), or use `spikax_torch.online.rtrl` / `bptt`.")
            for leaf, pre in (("weight", presyn), ("bias", None)):
                if f"{prefix}{attr}.{leaf}" in names:
                    slots.append(Slot(f"{prefix}{attr}.{leaf}", pre, None))
        fields = tuple(n[len(prefix) + len("neuron."):] for n in names if n.startswith(f"{prefix}neuron."))
        slots += [Slot(f"{prefix}neuron.{f}", None, f) for f in fields]
        plans.append(LayerPlan(True, prefix, tuple(slots), fields, _is_leaky_integrator(layer.neuron)))
    if not any(p.stateful for p in plans):
        raise ValueError(f"`{owner}`: the model has no stateful layer (a layer with a neuron) to keep traces for.")
    return tuple(plans)


def _is_leaky_integrator(neuron) -> bool:
    try:
        leak = membrane_leak("", neuron, {}, torch.float64)
    except ValueError:
        return False
    if leak.ndim != 0 or getattr(neuron, "reset", "none") not in ("subtract", "none"):
        return False
    return len(split_tensors(neuron.init_state((1,)))[0]) == 1


def _stateful(plans) -> tuple[int, ...]:
    return tuple(i for i, p in enumerate(plans) if p.stateful)


def detach_reset(neuron):
    """`neuron` with its reset gradient cut (a shallow copy sharing its parameters); the neuron if it has no reset."""
    return neuron.with_detached_reset()


def membrane_leak(owner: str, neuron, neuron_params: dict, dtype):
    r"""The per-step membrane decay $\lambda$ of a neuron that is one leaky integrator (LIF/LI: $\beta$, ALIF: $\alpha$, IF: 1).

    Read from `neuron_params` (the neuron's entries of `params`) where the parameter is
    trainable, detached (it is a constant of the trace, as `lax.stop_gradient` in spikax).
    """
    if hasattr(neuron, "eligibility_leak"):
        method, args = "eligibility_leak", (dtype,)
    elif type(neuron).__name__ in _LEAK_PARAMS:
        method, args = "param", (_LEAK_PARAMS[type(neuron).__name__], dtype)
    else:
        method = None
    if method is not None:
        swapped = {"neuron." + k: v for k, v in neuron_params.items()}
        leak = torch.func.functional_call(_Reader(neuron, method), swapped, args)
    else:
        leak = torch.ones((), dtype=dtype) if type(neuron).__name__ == "IF" else None
    if leak is None:
        raise ValueError(
            f"`{owner}`: a {type(neuron).__name__} neuron has no single membrane leak to use as the trace decay or "
            "filter (LIF, LI, ALIF and IF have one). Pass `trace_decay=` / `readout_kappa=` explicitly, or use "
            "`spikax_torch.online.ostl`, whose diagonal traces follow any neuron.")
    return leak.detach()


class _Reader(torch.nn.Module):
    """Calls one method of a neuron, so that `torch.func.functional_call` can swap in the given parameters."""

    def __init__(self, neuron, method: str):
        super().__init__()
        self.neuron = neuron
        self.method = method

    def forward(self, *args):
        return getattr(self.neuron, self.method)(*args)


def _sum_to_shape(x, shape):
    """Sum a per-neuron (and per-example) tensor back to a (broadcast) parameter's shape."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = x.ndim - len(shape)
    if lead:
        x = x.sum(dim=tuple(range(lead)))
    axes = tuple(i for i, (a, b) in enumerate(zip(x.shape, shape)) if b == 1 and a != 1)
    return x.sum(dim=axes, keepdim=True) if axes else x


def _outer(signal, e):
    """`L_j * e_j...`: the learning signal broadcast over the presynaptic axis."""
    return signal.reshape(tuple(signal.shape) + (1,) * (e.ndim - signal.ndim)) * e


class EligibilityEngine(AbstractEstimator):
    r"""The eligibility-trace engine behind [`eprop`][spikax_torch.online.eprop], [`ostl`][spikax_torch.online.ostl],
    [`snap1`][spikax_torch.online.snap1], [`ottt`][spikax_torch.online.ottt] and [`otpe`][spikax_torch.online.otpe].

    Build it with those factories. Configuration: `separable` (OTTT's presynaptic traces, else
    per-synapse diagonal traces), `reset_in_trace`, `self_recurrence` (SnAp-1), `decay` (the
    separable trace's $\lambda$; None: the neuron's membrane leak), `feedback` (None: spatial
    signals; else one `[n_hidden, n_readout]` matrix per hidden layer), `filters` (per layer:
    None, a decay $\kappa$, `"next"` (OTPE) or `"readout"` (the readout's leak)), `rate_reg`.
    """

    def __init__(self, owner, model, loss_fn, *, separable=False, reset_in_trace=True, self_recurrence=False,
                 decay=None, feedback=None, filters=None, rate_reg=None):
        super().__init__(model, loss_fn)
        if not callable(loss_fn):
            raise TypeError(f"`{owner}`: `loss_fn` must be a function `loss_fn(y_t, target_t) -> scalar`, got "
                            f"{type(loss_fn).__name__}.")
        self.owner = owner
        self.plans = _plan(owner, model, [n for n, _ in model.named_parameters()])
        self.separable = separable
        self.reset_in_trace = reset_in_trace
        self.self_recurrence = self_recurrence
        self.decay = decay
        self.feedback = feedback
        self.filters = (None,) * len(self.plans) if filters is None else tuple(filters)
        self.rate_reg = rate_reg

    # -- init ------------------------------------------------------------------------------
    def _states(self, state):
        return state if isinstance(self.model_, Chain) else (state,)

    def init(self, params, state0, *, key=None):
        """Zero traces for a model that starts in `state0` (with its batch axes, if any)."""
        del key
        blocks = _blocks(self.model_)
        last = _stateful(self.plans)[-1]
        out = []
        for index, (layer, plan, st) in enumerate(zip(blocks, self.plans, self._states(state0), strict=True)):
            if not plan.stateful:
                out.append(None)
                continue
            nstate = st.neuron if isinstance(layer, Recurrent) else st
            tensors, _ = split_tensors(nstate)
            n, dtype = tuple(tensors[0].shape), tensors[0].dtype

            def zeros(extra=(), shape=n):
                return torch.zeros(shape + extra, dtype=dtype, device=tensors[0].device)

            traces = []
            for slot in plan.slots:
                extra = self._presyn_shape(layer, slot)
                if self.separable and slot.field is None:
                    traces.append(zeros((), extra))
                elif self._factorised(plan, slot):
                    traces.append(zeros((), n[:-1] + extra))  # the presynaptic trace x̂ (per example)
                else:
                    selfrec = self.self_recurrence and isinstance(layer, Recurrent)
                    traces.append((tuple(torch.zeros(tuple(t.shape) + extra, dtype=t.dtype, device=t.device)
                                         for t in tensors), zeros(extra) if selfrec else None))
            filtered = None if self.filters[index] is None else tuple(zeros(self._presyn_shape(layer, s))
                                                                       for s in plan.slots)
            rate = None
            if self.rate_reg is not None and index != last:
                rate = (zeros((), ()), zeros(), tuple(zeros(self._presyn_shape(layer, s)) for s in plan.slots))
            out.append(LayerTraces(tuple(traces), filtered, rate))
        return tuple(out)

    def _factorised(self, plan, slot) -> bool:
        """Whether a weight's diagonal trace is kept as a presynaptic trace (exact for a leaky integrator)."""
        return (not self.separable and not self.reset_in_trace and not self.self_recurrence and plan.leaky_integrator
                and slot.presyn is not None)

    @staticmethod
    def _presyn_shape(layer, slot) -> tuple[int, ...]:
        if slot.presyn is None:
            return ()
        attr = "connection" if slot.presyn == "input" else "recurrent"
        return (getattr(layer, attr).in_features,)

    # -- one step ----------------------------------------------------------------------------
    def _forward(self, params, states, x, target, free):
        """One model step with zero probes added to every layer's output (and to the readout's current
        for e-prop's feedback); returns `(loss, new_states, y, records, probes, current_probe)`."""
        blocks = _blocks(self.model_)
        last = len(blocks) - 1
        new_states, records, probes, current_probe = [], [], [], None

        def probe(value):
            return torch.zeros_like(value).requires_grad_()

        for index, (layer, plan, st) in enumerate(zip(blocks, self.plans, states, strict=True)):
            sub = _sub(params, plan.prefix)
            if not plan.stateful:
                new, y = _call(layer, free[index] if free[index] is not None else sub, st, x)
                if index == last and self.feedback is not None:
                    current_probe = probe(y)
                    y = y + current_probe
                record = None
            else:
                current = _call(layer.connection, _sub(sub, "connection."), x)
                z_prev = st.spikes if isinstance(layer, Recurrent) else None
                if z_prev is not None:
                    current = current + _call(layer.recurrent, _sub(sub, "recurrent."), z_prev)
                if index == last and self.feedback is not None:
                    current_probe = probe(current)
                    current = current + current_probe
                nstate = st.neuron if isinstance(layer, Recurrent) else st
                new, y = _call(layer.neuron, _sub(sub, "neuron."), nstate, current)
                record = (x, z_prev, nstate, current)
            probes.append(probe(y))
            y = y + probes[-1]
            if isinstance(layer, Recurrent):
                new = RecurrentState(neuron=new, spikes=y)
            new_states.append(new)
            records.append(record)
            x = y
        return self.loss(x, target), tuple(new_states), x, tuple(records), probes, current_probe

    def step(self, params, lstate, state, x, target, *, key=None):
        """One time step: `(state, lstate, y_t, loss_t, grad_t)`, `grad_t` a dict like `params`."""
        del key
        free = tuple(None if plan.stateful or not _sub(params, plan.prefix) else
                     {k: v.detach().clone().requires_grad_() for k, v in _sub(params, plan.prefix).items()}
                     for plan in self.plans)
        with torch.enable_grad():
            loss, new_states, y, records, probes, current_probe = self._forward(params, self._states(state), x,
                                                                                target, free)
            inputs = probes + ([current_probe] if current_probe is not None else [])
            inputs += [t for f in free if f is not None for t in f.values()]
            grads = torch.autograd.grad(loss, inputs, allow_unused=True)
        grads = [torch.zeros_like(i) if g is None else g for i, g in zip(inputs, grads, strict=True)]
        spatial = grads[:len(probes)]
        delta = grads[len(probes)] if current_probe is not None else None
        free_grads = iter(grads[len(probes) + (current_probe is not None):])

        blocks = _blocks(self.model_)
        hidden = _stateful(self.plans)[:-1]
        out = {name: torch.zeros_like(value) for name, value in params.items()}
        new_lstate = []
        for index, (layer, plan, entry) in enumerate(zip(blocks, self.plans, lstate, strict=True)):
            if not plan.stateful:
                if free[index] is not None:
                    for name in free[index]:
                        out[plan.prefix + name] = next(free_grads)
                new_lstate.append(None)
                continue
            signal = spatial[index]
            if self.feedback is not None and index in hidden:
                signal = delta @ self.feedback[hidden.index(index)].to(delta.dtype).T
            record = tuple(None if r is None else _detach(r) for r in records[index])
            entry, layer_grads = self._layer_step(index, blocks, params, plan, entry, record, signal.detach())
            out.update(layer_grads)
            new_lstate.append(entry)
        new_state = tuple(_detach(s) for s in new_states)
        new_state = new_state if isinstance(self.model_, Chain) else new_state[0]
        return new_state, tuple(new_lstate), y.detach(), loss.detach(), out

    def _layer_step(self, index, blocks, params, plan, entry, record, signal):
        layer = blocks[index]
        x, z_prev, nstate, current = record
        neuron = layer.neuron if self.reset_in_trace else detach_reset(layer.neuron)
        neuron_params = _sub(params, plan.prefix + "neuron.")
        # each neuron parameter broadcast to the current's shape: its tangent is every neuron's own ds_j/dφ_j
        fields = tuple(torch.broadcast_to(neuron_params[f].detach(), current.shape).clone() for f in plan.fields)
        state_tensors, rebuild = split_tensors(nstate)
        # a state expanded to the batch shares memory across examples; forward mode needs its own copy
        state_tensors, current = tuple(t.contiguous() for t in state_tensors), current.contiguous()

        def neuron_step(s, i, vals):
            new, y = torch.func.functional_call(neuron, dict(zip(plan.fields, vals)), (rebuild(s), i))
            return split_tensors(new)[0], y

        def lin(d_state, d_current, d_fields):
            return torch.func.jvp(neuron_step, (state_tensors, current, fields), (d_state, d_current, d_fields))[1]

        ones, zeros = torch.ones_like(current), torch.zeros_like(current)
        zero_fields = tuple(zeros for _ in plan.fields)
        self_weight = None
        if self.self_recurrence and isinstance(layer, Recurrent):
            self_weight = torch.diagonal(params.get(plan.prefix + "recurrent.weight", layer.recurrent.weight)).detach()
        post = None
        if self.separable:
            post = lin(tuple(torch.zeros_like(t) for t in state_tensors), ones, zero_fields)[1]
            decay = (membrane_leak(self.owner, layer.neuron, neuron_params, current.dtype) if self.decay is None
                     else torch.as_tensor(self.decay, dtype=current.dtype))
        presyns = {"input": x, "recurrent_input": z_prev}
        traces, eligibilities = [], []
        for slot, trace in zip(plan.slots, entry.traces, strict=True):
            presyn = None if slot.presyn is None else presyns[slot.presyn].to(current.dtype)
            if self.separable and slot.field is None:
                a_hat = decay * trace + (torch.ones((), dtype=current.dtype) if presyn is None else presyn)
                e = post.unsqueeze(-1) * a_hat.unsqueeze(-2) if presyn is not None else post * a_hat
                traces.append(a_hat)
            elif self._factorised(plan, slot):
                # epsilon_ji = (c_j / c_0) x̂_i with x̂_t = λ x̂_{t-1} + c_0 x_t (the first neuron's gain inside the
                # trace, so a gain trained during the sequence stays exact); e = g x̂_{t-1} + h x_t, g = dy/ds_prev·c/c_0
                zero_state = tuple(torch.zeros_like(t) for t in state_tensors)
                gain, h = lin(zero_state, ones, zero_fields)
                first = gain[0][..., :1]  # per example: [batch, 1], or [1]
                g = lin(gain, zeros, zero_fields)[1] / first
                e = g.unsqueeze(-1) * trace.unsqueeze(-2) + h.unsqueeze(-1) * presyn.unsqueeze(-2)
                leak = membrane_leak(self.owner, layer.neuron, neuron_params, current.dtype)
                traces.append(leak * trace + first * presyn)
            else:
                if slot.field is None:
                    d_current, d_fields = ones, zero_fields
                else:
                    d_current = zeros
                    d_fields = tuple(ones if f == slot.field else zeros for f in plan.fields)
                new_trace, e = _trace_step(lin, trace, d_current, d_fields, presyn, self_weight)
                traces.append(new_trace)
            eligibilities.append(e)
        kappa = self._filter(index, blocks, params, current.dtype)
        filtered = None if kappa is None else tuple(kappa * f + e for f, e in zip(entry.filtered, eligibilities))
        rate, new_rate = entry.rate, None
        if rate is not None:
            # increments of G_t = 2c (f̄_t - f*) Ē_t, with running means f̄ of the spikes and Ē of the
            # eligibilities, as in spikax; divided by the number of examples (gradients are batch means)
            c, f_target = self.rate_reg
            examples = current.numel() // current.shape[-1]
            count = rate[0] + 1
            y = neuron_step(state_tensors, current, fields)[1]
            mean_rate = rate[1] + (y - rate[1]) / count
            w = 2 * c * (mean_rate - f_target) / count / examples
            u = 2 * c * (mean_rate - rate[1]) / examples - w
            new_rate = (count, mean_rate, tuple(m + (e - m) / count for m, e in zip(rate[2], eligibilities)))
        grads = {}
        for k, slot in enumerate(plan.slots):
            e = eligibilities[k] if filtered is None else filtered[k]
            if rate is None:
                g = _outer(signal, e)
            elif filtered is None:
                g = _outer(signal + w, e) + _outer(u, rate[2][k])
            else:
                g = _outer(signal, e) + _outer(w, eligibilities[k]) + _outer(u, rate[2][k])
            grads[slot.name] = _sum_to_shape(g, params[slot.name].shape).to(params[slot.name].dtype)
        return LayerTraces(tuple(traces), filtered, new_rate), grads

    def _filter(self, index, blocks, params, dtype):
        kappa = self.filters[index]
        if kappa is None:
            return None
        if kappa in ("next", "readout"):
            later = [i for i in _stateful(self.plans) if i > index]
            following = later[0] if kappa == "next" else later[-1]
            prefix = self.plans[following].prefix + "neuron."
            return membrane_leak(self.owner, blocks[following].neuron, _sub(params, prefix), dtype)
        return torch.as_tensor(kappa, dtype=dtype)


def _detach(tree):
    tensors, rebuild = split_tensors(tree)
    return rebuild(tuple(t.detach() for t in tensors))


def _trace_step(lin, trace, d_current, d_fields, presyn, self_weight):
    """Advance one diagonal trace `(state tangents, output tangent or None)`; returns `(new_trace, e)`."""
    tr_state, tr_out = trace

    def column(tr_s, tr_o, dc):
        if self_weight is not None:
            dc = dc + self_weight * tr_o
        d_state, d_y = lin(tr_s, dc, d_fields)
        return d_state, d_y

    if presyn is None:
        d_state, d_y = column(tr_state, tr_out, d_current)
    elif self_weight is None:
        d_state, d_y = torch.func.vmap(lambda s, xi: column(s, None, xi.unsqueeze(-1) * d_current),
                                       in_dims=(-1, -1), out_dims=-1)(tr_state, presyn)
    else:
        d_state, d_y = torch.func.vmap(lambda s, o, xi: column(s, o, xi.unsqueeze(-1) * d_current),
                                       in_dims=(-1, -1, -1), out_dims=-1)(tr_state, tr_out, presyn)
    return (d_state, d_y if self_weight is not None else None), d_y


# -- factories ------------------------------------------------------------------------------------


def _check_flag(owner, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{owner}`: `{name}` must be True or False, got {value!r}.")


def _width(owner, layer) -> int:
    fn = getattr(layer, "connection", getattr(layer, "fn", None))
    if not isinstance(fn, torch.nn.Linear):
        raise TypeError(f"`{owner}`: feedback matrices need dense (`torch.nn.Linear`) layers to size them; got a "
                        f"{type(fn).__name__}. Use feedback='symmetric'.")
    return fn.out_features


def _feedback_matrices(owner, model, plans, feedback, key):
    """None for symmetric feedback, else one `[n_hidden_l, n_readout]` tensor per hidden stateful layer."""
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
    blocks = _blocks(model)
    shapes = [(_width(owner, blocks[i]), _width(owner, blocks[-1])) for i in hidden]
    if isinstance(feedback, str):  # random
        if key is None:
            raise ValueError(f"`{owner}`: feedback='random' draws fixed random matrices and needs `key=` (a "
                             "torch.Generator or an int seed).")
        gen = key if isinstance(key, torch.Generator) else torch.Generator().manual_seed(int(key))
        dtype = blocks[hidden[0]].connection.weight.dtype
        return tuple(torch.randn(s, generator=gen, dtype=dtype) / s[1] ** 0.5 for s in shapes)
    matrices = (feedback,) if not isinstance(feedback, (tuple, list)) else tuple(feedback)
    if len(matrices) != len(hidden):
        raise ValueError(f"`{owner}`: got {len(matrices)} feedback matrices for {len(hidden)} hidden stateful layers; "
                         "pass one matrix per hidden layer (a single tensor when there is one).")
    out = []
    for m, s in zip(matrices, shapes, strict=True):
        m = torch.as_tensor(m)
        if tuple(m.shape) != s:
            raise ValueError(f"`{owner}`: a feedback matrix has shape {tuple(m.shape)}, expected {s} "
                             "([hidden neurons, readout neurons]); symmetric feedback would be W_out.T.")
        out.append(m)
    return tuple(out)


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


def _has_leak(neuron) -> bool:
    if hasattr(neuron, "eligibility_leak"):
        return neuron.eligibility_leak() is not None
    return type(neuron).__name__ in _LEAK_PARAMS or type(neuron).__name__ == "IF"


def eprop(model, loss_fn: Callable, *, feedback: Any = "symmetric", readout_kappa=None, reset_in_trace: bool = False,
          rate_reg=None, key=None) -> EligibilityEngine:
    r"""e-prop (Bellec et al. 2020, Nat. Commun. 11:3625): eligibility traces times a broadcast learning signal.

    $$g_{ji} = \sum_t L_{j,t}\,\bar e_{ji,t},\qquad L_t = B\,\delta_t,\qquad \bar e_t = \kappa\bar e_{t-1} + e_t$$

    The torch twin of [`spikax.online.eprop`][], same arguments and gradients: $e$ is the
    neuron-local eligibility (the previous spikes entering the recurrent input held fixed, and
    by default the reset too), $\delta_t = \partial\ell_t/\partial I^{out}_t$ the loss's derivative
    at the readout's input current; the readout learns from its own exact signal. As in spikax,
    a weight into a leaky integrator (LIF, LI, IF: one membrane, one shared leak $\lambda$,
    subtractive or no reset) keeps only a presynaptic trace $\hat x_t = \lambda\hat x_{t-1} + x_t$
    when the reset is cut from the trace: $e_{ji,t} = g_{j,t}\hat x_{i,t-1} + h_{j,t}x_{i,t}$ with
    $h = \partial y_t/\partial I_t$ and $g = \partial y_t/\partial s_{t-1}\cdot\partial s_t/\partial I_t$
    (the same gradient as the per-synapse trace while the parameters are fixed).

    **Arguments:**

    - `model`: a `spikax_torch.Chain` (or one layer) of `Layer`/`Recurrent`/stateless blocks with
      `torch.nn.Linear` connections.
    - `loss_fn`: the per-step loss `loss_fn(y_t, target_t) -> scalar` (one example).
    - `feedback`: `"symmetric"` ($B = W_{out}^\top$), `"random"` (fixed $\mathcal N(0, 1/n_{out})$
      matrices drawn from `key`), or the matrix $B$ `[n_hidden, n_out]` (a tuple for several layers).
    - `readout_kappa`: the decay $\kappa$ filtering hidden layers' eligibilities; None (default):
      the readout neuron's membrane leak when it has one (e.g. $\beta$ of an `LI`), else no filter;
      0 switches the filter off.
    - `reset_in_trace`: keep the reset's derivative in the traces (default False).
    - `rate_reg`: `(c, f_target)`, the firing-rate regulariser $c\sum_j(\bar f_j - f^*)^2$.
    - `key`: a `torch.Generator` or int seed for `feedback="random"`.

    **Returns:** a learner for [`spikax_torch.online.run`][] / [`spikax_torch.online.train`][].

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.ALIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(beta=0.9), key=1)])
    mse = lambda y, t: ((y - t) ** 2).sum()
    est = spikax_torch.online.eprop(net, mse)
    loss, grads = spikax_torch.online.run(est, dict(net.named_parameters()), net.init_state((3,)),
                                          torch.ones(20, 3), torch.zeros(20, 2))
    ```
    """
    owner = "spikax_torch.online.eprop"
    _check_flag(owner, "reset_in_trace", reset_in_trace)
    engine = EligibilityEngine(owner, model, loss_fn, reset_in_trace=reset_in_trace,
                               rate_reg=_check_rate_reg(owner, rate_reg))
    engine.feedback = _feedback_matrices(owner, model, engine.plans, feedback, key)
    if readout_kappa is None:
        readout = _blocks(model)[-1]
        kappa = "readout" if engine.plans[-1].stateful and _has_leak(readout.neuron) else None
    else:
        kappa = float(readout_kappa)
        if not 0 <= kappa <= 1:
            raise ValueError(f"`{owner}`: `readout_kappa` is the readout's per-step leak and must lie in [0, 1], "
                             f"got {readout_kappa!r}.")
    last = len(engine.plans) - 1
    engine.filters = tuple(kappa if (p.stateful and i != last) else None for i, p in enumerate(engine.plans))
    return engine


def ostl(model, loss_fn: Callable) -> EligibilityEngine:
    r"""Online spatio-temporal learning (Bohnstingl et al. 2022): diagonal traces, reset included, times spatial signals.

    $$g^l = \sum_t \frac{\partial\ell_t}{\partial y^l_t}\, e^l_t$$

    The torch twin of [`spikax.online.ostl`][].

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, t: ((y - t) ** 2).sum()
    loss, grads = spikax_torch.online.run(spikax_torch.online.ostl(net, mse), dict(net.named_parameters()),
                                          net.init_state((3,)), torch.ones(20, 3), torch.zeros(20, 2))
    ```
    """
    return EligibilityEngine("spikax_torch.online.ostl", model, loss_fn, reset_in_trace=True)


def snap1(model, loss_fn: Callable) -> EligibilityEngine:
    r"""SnAp-1 (Menick et al., ICLR 2021): OSTL's traces plus a neuron's own spike returning through $R_{jj}$.

    $$\epsilon_{ji,t} = A_{j,t}\epsilon_{ji,t-1} + \frac{\partial s_{j,t}}{\partial I_{j,t}}\big(x_{i,t} + R_{jj}\,e_{ji,t-1}\big)$$

    The torch twin of [`spikax.online.snap1`][].

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, t: ((y - t) ** 2).sum()
    loss, grads = spikax_torch.online.run(spikax_torch.online.snap1(net, mse), dict(net.named_parameters()),
                                          net.init_state((3,)), torch.ones(20, 3), torch.zeros(20, 2))
    ```
    """
    return EligibilityEngine("spikax_torch.online.snap1", model, loss_fn, reset_in_trace=True, self_recurrence=True)


def _check_decay(owner, trace_decay):
    if trace_decay is None:
        return None
    value = float(trace_decay)
    if not 0 <= value <= 1:
        raise ValueError(f"`{owner}`: `trace_decay` is a per-step decay and must lie in [0, 1], got {trace_decay!r}. "
                         "Pass None to use each layer's membrane leak.")
    return value


def _check_leaks(owner, model, indices):
    blocks = _blocks(model)
    for index in indices:
        membrane_leak(owner, blocks[index].neuron, {}, torch.float64)


def ottt(model, loss_fn: Callable, *, trace_decay=None) -> EligibilityEngine:
    r"""Online training through time (Xiao et al., NeurIPS 2022): presynaptic traces times spatial gradients.

    $$\hat a_t = \lambda\hat a_{t-1} + x_t,\qquad
      g_{ji} = \sum_t \frac{\partial\ell_t}{\partial y_{j,t}}\frac{\partial y_{j,t}}{\partial I_{j,t}}\hat a_{i,t}$$

    The torch twin of [`spikax.online.ottt`][]; `trace_decay` $\lambda$ defaults to each layer's
    membrane leak (LIF/LI: $\beta$, ALIF: $\alpha$, IF: 1).

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, t: ((y - t) ** 2).sum()
    loss, grads = spikax_torch.online.run(spikax_torch.online.ottt(net, mse), dict(net.named_parameters()),
                                          net.init_state((3,)), torch.ones(20, 3), torch.zeros(20, 2))
    ```
    """
    owner = "spikax_torch.online.ottt"
    decay = _check_decay(owner, trace_decay)
    engine = EligibilityEngine(owner, model, loss_fn, separable=True, decay=decay)
    if decay is None:
        _check_leaks(owner, model, _stateful(engine.plans))
    return engine


def otpe(model, loss_fn: Callable, *, trace_decay=None) -> EligibilityEngine:
    r"""Online training with postsynaptic estimates (Summe, Schaefer & Joshi 2023), in the form of spikax.

    OTTT's eligibility, low-pass filtered by the leak $\lambda^{l+1}$ of the next stateful layer:
    $\bar e^l_t = \lambda^{l+1}\bar e^l_{t-1} + e^l_t$, $g^l = \sum_t L^l_t\bar e^l_t$. The torch twin of
    [`spikax.online.otpe`][].

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, t: ((y - t) ** 2).sum()
    loss, grads = spikax_torch.online.run(spikax_torch.online.otpe(net, mse), dict(net.named_parameters()),
                                          net.init_state((3,)), torch.ones(20, 3), torch.zeros(20, 2))
    ```
    """
    owner = "spikax_torch.online.otpe"
    decay = _check_decay(owner, trace_decay)
    engine = EligibilityEngine(owner, model, loss_fn, separable=True, decay=decay)
    stateful = _stateful(engine.plans)
    _check_leaks(owner, model, stateful[1:] if decay is not None else stateful)
    engine.filters = tuple("next" if (i in stateful and i != stateful[-1]) else None for i in range(len(engine.plans)))
    return engine
