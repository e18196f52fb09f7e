"""Event-driven simulation of LIF networks with exact spike times, and its EventProp adjoint."""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float, Int

from ._dynamics import check_reset_value, continuous

OWNER = "spikax.eventprop.simulate"

INPUT, SPIKE, OBSERVE = 0, 1, 2  # kinds of event


class Spikes(NamedTuple):
    """A list of spike events of one sample, in time order; unused slots have time `inf`.

    **Example:**

    ```python
    spikes = spikax.eventprop.Spikes(times=jnp.array([1.0, 2.5, jnp.inf]), indices=jnp.array([0, 3, 0]))
    ```
    """

    times: Float[Array, " events"]  # spike times, in the units of `dt`; `inf` marks an unused slot
    indices: Int[Array, " events"]  # which neuron (or input channel) fired


class EventResult(NamedTuple):
    """What [`spikax.eventprop.simulate`][] returns for one sample."""

    spikes: tuple[Spikes, ...]  # each layer's output spikes, in time order
    voltages: Float[Array, "observations neurons"] | None  # last layer's membrane at `observe` times


def simulate(chain, spikes, *, dt, t_end, max_spikes, observe=None) -> EventResult:
    r"""Simulate a chain of LIF layers event by event, with exact spike times and EventProp gradients.

    Each layer of `chain` (a [`spikax.Chain`][] of [`spikax.layers.dense`][] /
    [`spikax.layers.recurrent_dense`][] layers without bias, with [`spikax.neurons.CubaLIF`][]
    or [`spikax.neurons.LIF`][] neurons) runs as the continuous-time system its discrete step
    approximates. With per-step decays $\alpha, \beta$ at step `dt` (forward Euler, as in
    [`spikax.neurons`][]): $\tau_s = \Delta t/(1-\alpha)$, $\tau_m = \Delta t/(1-\beta)$, and

    $$\tau_m \dot V = -V + I,\qquad \tau_s \dot I = -I,\qquad
      I \mathrel{+}= W_{:,m} \text{ at each input spike of } m,\qquad V_n \to 0 \text{ when } V_n = \theta_n$$

    for `CubaLIF` (one input spike adds its weight to the current, as one discrete step does);
    for `LIF`, $\tau\dot V = -V$ and an input spike adds $(1-\beta)W_{:,m}$ to the membrane, so a
    neuron fires at the time of the input that lifts it over threshold. Recurrent weights act
    without delay. Reset by subtraction equals reset to zero here (the membrane meets the threshold
    exactly). Between events the state evolves in closed form; the next threshold crossing is
    found by safeguarded Newton iterations on the rising part of the membrane. The loop runs over
    events (`lax.while_loop`), not time steps.

    Gradients are the EventProp adjoint (Wunderlich & Pehle 2021, *Sci. Rep.* 11:12829): a
    backward pass over the recorded events in which $(\lambda_V, \lambda_I)$ follow the transposed
    flow between events and jump at spikes by the implicit-function theorem on $V(t^*) = \theta$;
    $\partial L/\partial W_{nm} = \sum_{\text{spikes of } m} \lambda_{I,n}$. It is the exact gradient
    of this simulation (wherever the set of spikes does not change), and its memory is the list of
    events: it grows with the number of spikes, not with `t_end`. It is a `jax.custom_vjp`, so it
    serves reverse mode (`jax.grad`) only: **forward mode (`jax.jvp`, `jacfwd`) is not available**,
    because the adjoint is a backward-in-time system with no tangent counterpart here. Only the
    weights get gradients (neuron parameters must not be learnable); input spike times do too.

    **Arguments:**

    - `chain`: a [`spikax.Chain`][] of the layers above (its neurons' `dt` must be `dt`).
    - `spikes`: the input, either a [`spikax.eventprop.Spikes`][] event list or an array of one
      spike time per input channel (`inf` for no spike), e.g. a latency code.
    - `dt`: the time step the chain's neurons were built for (sets the time constants).
    - `t_end`: simulate over $[0, t_{end}]$.
    - `max_spikes`: room for output spikes per layer (an int, or one per layer); more spikes in a
      sample is an error (`eqx.error_if`) naming the layer.
    - `observe`: optional sorted times at which to read the last layer's membrane (for voltage
      losses); their gradients flow through the same adjoint.

    **Returns:**

    An [`spikax.eventprop.EventResult`][]: each layer's output [`spikax.eventprop.Spikes`][] and the
    last layer's voltages at `observe` (None without).

    **Example:**

    ```python
    neuron = spikax.neurons.CubaLIF(tau_syn=5.0, tau_mem=10.0, dt=1.0, reset="zero")
    net = spikax.Chain([spikax.layers.dense(3, 2, neuron, use_bias=False, key=key)])
    net = eqx.tree_at(lambda n: n.layers[0].connection.weight, net, jnp.full((2, 3), 3.0))
    out = spikax.eventprop.simulate(net, jnp.array([1.0, 2.0, 3.0]), dt=1.0, t_end=40.0, max_spikes=16)
    first = spikax.eventprop.first_spike_times(out.spikes[-1], 2, silent=40.0)  # [3.47, 3.47]
    ```

    `jax.grad` of any loss of `out` (e.g. [`spikax.eventprop.first_spike_cross_entropy`][] of
    `first`) with respect to `net` runs the EventProp adjoint.
    """
    for number, layer in enumerate(getattr(chain, "layers", ())):
        check_reset_value(f"{OWNER} (layer {number})", getattr(layer, "neuron", None))
    return _simulate(chain, spikes, dt=dt, t_end=t_end, max_spikes=max_spikes, observe=observe)


@eqx.filter_jit  # one compiled program when called outside `jit` (inlined inside one)
def _simulate(chain, spikes, *, dt, t_end, max_spikes, observe) -> EventResult:
    layers = getattr(chain, "layers", None)
    if layers is None:
        raise TypeError(f"`{OWNER}`: expected a `spikax.Chain`, got {type(chain).__name__}. "
                        "Wrap the layers: `spikax.Chain([layer1, layer2])`.")
    budgets = _budgets(max_spikes, len(layers))
    for name, value in (("dt", dt), ("t_end", t_end)):
        if isinstance(value, (int, float)) and not value > 0:
            raise ValueError(f"`{OWNER}`: `{name}` must be positive, got {value!r}. `dt` is the step the neurons were "
                             "built for and `t_end` the end of the simulated interval, e.g. `dt=1.0, t_end=50.0`.")
    current = _as_spikes(spikes)
    dtype = _layer_weights(0, layers[0])[0].dtype
    current = Spikes(current.times.astype(dtype), current.indices)
    t_end = jnp.asarray(t_end, dtype)
    empty = jnp.zeros((0,), dtype)
    outputs, voltages = [], None
    for number, (layer, budget) in enumerate(zip(layers, budgets, strict=True)):
        w, r = _layer_weights(number, layer)
        if number == 0:
            bad = jnp.isfinite(current.times) & ((current.indices < 0) | (current.indices >= w.shape[1]))
            current = Spikes(eqx.error_if(current.times, jnp.any(bad),
                                          f"`{OWNER}`: an input spike names a channel outside 0..{w.shape[1] - 1}; "
                                          f"the first layer has {w.shape[1]} inputs. Give `Spikes.indices` in that "
                                          "range (or leave its time at `inf`)."), current.indices)
        dyn = continuous(f"{OWNER} (layer {number})", layer.neuron, dt=dt, n=w.shape[0], dtype=dtype)
        last = number == len(layers) - 1
        times = empty if (observe is None or not last) else jnp.sort(jnp.asarray(observe, dtype))
        out_times, out_idx, obs_v = _layer(budget, number, dyn, w, r, current.times, current.indices, times, t_end)
        current = Spikes(out_times, out_idx)
        outputs.append(current)
        if last and observe is not None:
            voltages = obs_v
    return EventResult(spikes=tuple(outputs), voltages=voltages)


def first_spike_times(spikes: Spikes, n: int, *, silent) -> Float[Array, " n"]:
    """Each neuron's first spike time; `silent` for a neuron that does not fire (no gradient there).

    **Arguments:**

    - `spikes`: a layer's output, e.g. `simulate(...).spikes[-1]`.
    - `n`: number of neurons in that layer.
    - `silent`: the time reported for a neuron without spikes (e.g. `t_end`).

    **Example:**

    ```python
    s = spikax.eventprop.Spikes(jnp.array([2.0, 3.0, 5.0]), jnp.array([1, 0, 1]))
    spikax.eventprop.first_spike_times(s, 3, silent=10.0)  # [3., 2., 10.]
    ```
    """
    mine = spikes.indices[None, :] == jnp.arange(n, dtype=spikes.indices.dtype)[:, None]
    first = jnp.min(jnp.where(mine, spikes.times[None, :], jnp.inf), axis=1)
    return jnp.where(jnp.isfinite(first), first, jnp.asarray(silent, first.dtype))


def spike_counts(spikes: Spikes, n: int) -> Int[Array, " n"]:
    """How many times each of `n` neurons fired (integers; no gradient).

    **Example:**

    ```python
    s = spikax.eventprop.Spikes(jnp.array([2.0, 3.0, jnp.inf]), jnp.array([1, 1, 0]))
    spikax.eventprop.spike_counts(s, 2)  # [0, 2]
    ```
    """
    mine = spikes.indices[None, :] == jnp.arange(n, dtype=spikes.indices.dtype)[:, None]
    return jnp.sum(mine & jnp.isfinite(spikes.times)[None, :], axis=1)


# -- inputs and layers -----------------------------------------------------------------------


def _as_spikes(spikes) -> Spikes:
    if isinstance(spikes, Spikes):
        times, indices = jnp.asarray(spikes.times), jnp.asarray(spikes.indices)
        if times.ndim != 1 or times.shape != indices.shape:
            raise ValueError(f"`{OWNER}`: `Spikes` times and indices must be two 1-D arrays of the same length, got "
                             f"shapes {times.shape} and {indices.shape}. Give one sample; use `jax.vmap` for a batch.")
    else:
        times = jnp.asarray(spikes)
        if times.ndim != 1:
            raise ValueError(f"`{OWNER}`: expected one spike time per input channel (a 1-D array) or a "
                             f"`spikax.eventprop.Spikes`, got shape {times.shape}. Give one sample; use `jax.vmap` "
                             "for a batch.")
        indices = jnp.arange(times.shape[0])
    order = jnp.argsort(times)  # events in time order; unused (inf) slots last
    return Spikes(times[order], indices[order].astype(jnp.int32))


def _budgets(max_spikes, n_layers):
    budgets = (max_spikes,) * n_layers if isinstance(max_spikes, int) else tuple(max_spikes)
    if len(budgets) != n_layers or not all(isinstance(b, int) and b > 0 for b in budgets):
        raise ValueError(f"`{OWNER}`: `max_spikes` must be a positive int or one per layer ({n_layers}), got "
                         f"{max_spikes!r}. Pass e.g. `max_spikes=64`.")
    return budgets


def _linear_weight(number, name, connection):
    weight = getattr(connection, "weight", None)
    bias = getattr(connection, "bias", None)
    if weight is None or jnp.ndim(weight) != 2 or bias is not None:
        raise TypeError(
            f"`{OWNER}`: layer {number}'s {name} must be a linear map without bias (`eqx.nn.Linear(..., "
            f"use_bias=False)`), got {type(connection).__name__}{' with a bias' if bias is not None else ''}. "
            "Build the layer with `spikax.layers.dense(..., use_bias=False)` or `recurrent_dense(..., use_bias=False)`."
        )
    return weight


def _layer_weights(number, layer):
    if getattr(layer, "neuron", None) is None or getattr(layer, "connection", None) is None:
        raise TypeError(f"`{OWNER}`: layer {number} is a {type(layer).__name__}; EventProp runs chains of "
                        "`spikax.layers.dense` and `spikax.layers.recurrent_dense` layers only.")
    w = _linear_weight(number, "connection", layer.connection)
    recurrent = getattr(layer, "recurrent", None)
    r = None if recurrent is None else _linear_weight(number, "recurrent connection", recurrent)
    return w, r


# -- one layer: the event loop (forward) and the adjoint (backward) ------------------------------


class _Record(NamedTuple):
    time: Array  # [E] event times
    kind: Array  # [E] INPUT, SPIKE or OBSERVE
    ref: Array  # [E] position in the input list, output list or observation list
    neuron: Array  # [E] the neuron that fired (spikes)
    aux: Array  # [E] what the adjoint needs about a spike (the current, for CubaLIF)


def _forward(budget, number, dyn, w, r, in_times, in_idx, obs_times, t_end):
    n, dtype = w.shape[0], w.dtype
    n_in, n_obs = in_times.shape[0], obs_times.shape[0]
    n_events = n_in + n_obs + budget
    inf = jnp.asarray(jnp.inf, dtype)

    def next_time(times, k, count):
        if count == 0:
            return inf
        return jnp.where(k < count, times[jnp.minimum(k, count - 1)], inf)

    def body(carry):
        t, v, i, k, p, n_out, e, outs, outi, rec, obs_v, _, overflow = carry
        t_in, t_obs = next_time(in_times, k, n_in), next_time(obs_times, p, n_obs)
        limit = jnp.minimum(jnp.minimum(t_in, t_obs), t_end)
        s = dyn.crossing(v, i, limit - t)
        fired = jnp.argmin(s).astype(jnp.int32)
        is_spike = jnp.isfinite(s[fired]) & (t + s[fired] <= limit)
        is_in = ~is_spike & (t_in <= t_obs) & (t_in <= t_end)
        is_obs = ~is_spike & ~is_in & (t_obs <= t_end)
        done = ~(is_spike | is_in | is_obs)
        overflow = overflow | (is_spike & (n_out >= budget))
        t_new = jnp.where(is_spike, t + s[fired], jnp.where(is_in, t_in, jnp.where(is_obs, t_obs, t)))
        v, i = dyn.flow(v, i, t_new - t)
        aux = dyn.spike_aux(v, i, fired)
        # A spike: reset, then the recurrent input; an input: its weights; an observation: read V.
        v_spk = v.at[fired].set(0.0)
        i_spk = i
        if r is not None:
            v_spk, i_spk = dyn.receive(v_spk, i_spk, r[:, fired])
        source = in_idx[jnp.minimum(k, n_in - 1)] if n_in else jnp.zeros((), jnp.int32)
        v_in, i_in = dyn.receive(v, i, w[:, source]) if n_in else (v, i)
        v = jnp.where(is_spike, v_spk, jnp.where(is_in, v_in, v))
        i = jnp.where(is_spike, i_spk, jnp.where(is_in, i_in, i))
        slot = jnp.minimum(n_out, budget - 1)
        write = is_spike & ~overflow
        outs = outs.at[slot].set(jnp.where(write, t_new, outs[slot]))
        outi = outi.at[slot].set(jnp.where(write, fired, outi[slot]))
        if n_obs:
            obs_v = obs_v.at[jnp.minimum(p, n_obs - 1)].set(jnp.where(is_obs, v, obs_v[jnp.minimum(p, n_obs - 1)]))
        kind = jnp.where(is_spike, SPIKE, jnp.where(is_in, INPUT, OBSERVE)).astype(jnp.int32)
        ref = jnp.where(is_spike, n_out, jnp.where(is_in, k, p)).astype(jnp.int32)
        slot_e = jnp.minimum(e, n_events - 1)
        rec = _Record(*(field.at[slot_e].set(value) for field, value in
                        zip(rec, (t_new, kind, ref, fired, aux.astype(dtype)), strict=True)))
        k = k + is_in.astype(jnp.int32)
        p = p + is_obs.astype(jnp.int32)
        n_out = n_out + write.astype(jnp.int32)
        e = e + (~done).astype(jnp.int32)
        return t_new, v, i, k, p, n_out, e, outs, outi, rec, obs_v, done, overflow

    def cond(carry):
        e, done, overflow = carry[6], carry[11], carry[12]
        return ~done & ~overflow & (e < n_events)

    zeros = jnp.zeros((n,), dtype)
    izero = jnp.zeros((), jnp.int32)
    rec = _Record(jnp.zeros((n_events,), dtype), jnp.zeros((n_events,), jnp.int32), jnp.zeros((n_events,), jnp.int32),
                  jnp.zeros((n_events,), jnp.int32), jnp.zeros((n_events,), dtype))
    init = (jnp.zeros((), dtype), zeros, zeros, izero, izero, izero, izero, jnp.full((budget,), inf),
            jnp.zeros((budget,), jnp.int32), rec, jnp.zeros((n_obs, n), dtype), jnp.asarray(False),
            jnp.asarray(False))
    out = lax.while_loop(cond, body, init)
    _, _, _, _, _, _, count, outs, outi, rec, obs_v, _, overflow = out
    outs = eqx.error_if(
        outs, overflow,
        f"`{OWNER}`: layer {number} fired more than max_spikes={budget} spikes in one sample, so the event list "
        "is full. Raise `max_spikes` for this layer (an int per layer is allowed), or shorten `t_end`.")
    outs = eqx.error_if(
        outs, dyn.invalid(),
        f"`{OWNER}`: layer {number}'s neurons have a decay of 1 (no leak) or `dt <= 0`, so a time constant "
        "dt/(1 - decay) is not finite and positive. Use decays below 1 and a positive `dt`.")
    return (outs, outi, obs_v), (rec, count)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _layer(budget, number, dyn, w, r, in_times, in_idx, obs_times, t_end):
    return _forward(budget, number, dyn, w, r, in_times, in_idx, obs_times, t_end)[0]


def _layer_fwd(budget, number, dyn, w, r, in_times, in_idx, obs_times, t_end):
    out, (rec, count) = _forward(budget, number, dyn, w, r, in_times, in_idx, obs_times, t_end)
    # Residuals: the event list (O(events)), the weights, and nothing per time step.
    return out, (dyn, w, r, in_times, in_idx, obs_times, t_end, rec, count)


def _layer_bwd(budget, number, res, cotangents):
    del budget, number
    dyn, w, r, in_times, in_idx, obs_times, t_end, rec, count = res
    g_out, _, g_obs = cotangents
    dtype = w.dtype
    n = w.shape[0]

    def body(step, carry):
        lam_v, lam_i, t_later, passed, g_w, g_r, g_in = carry
        e = count - 1 - step
        valid = e >= 0
        time, kind, ref, fired, aux = (field[e] for field in rec)
        # Between events the adjoint follows the transposed flow back to this event.
        lv, li = dyn.adjoint_flow(lam_v, lam_i, jnp.where(valid, t_later - time, 0.0))
        sens_w = dyn.weight_sensitivity(lv, li)
        sens_t = dyn.time_sensitivity(lv, li)
        is_in, is_spike, is_obs = valid & (kind == INPUT), valid & (kind == SPIKE), valid & (kind == OBSERVE)
        # An input of weights w[:, m]: dL/dw and dL/dt of that input spike.
        source = in_idx[jnp.minimum(ref, in_idx.shape[0] - 1)] if in_idx.shape[0] else jnp.zeros((), jnp.int32)
        g_w = g_w.at[:, source].add(jnp.where(is_in, sens_w, 0.0))
        g_input = jnp.sum(w[:, source] * sens_t) + passed
        if g_in.shape[0]:
            g_in = g_in.at[jnp.minimum(ref, g_in.shape[0] - 1)].add(jnp.where(is_in, g_input, 0.0))
        # A spike: its time matters to the loss, to later layers and (recurrent) to this layer.
        g_spike = g_out[jnp.minimum(ref, g_out.shape[0] - 1)] + passed
        if r is not None:
            g_r = g_r.at[:, fired].add(jnp.where(is_spike, sens_w, 0.0))
            g_spike = g_spike + jnp.sum(r[:, fired] * sens_t)
        lv_spike, passed_spike = dyn.own_spike(lv, fired, aux, g_spike)
        # An observation of V at this time: the loss's dL/dV enters the adjoint.
        lv_obs = lv + g_obs[jnp.minimum(ref, g_obs.shape[0] - 1)] if g_obs.shape[0] else lv
        lam_v = jnp.where(is_spike, lv_spike, jnp.where(is_obs, lv_obs, lv))
        lam_i = li
        passed = jnp.where(is_spike, passed_spike, jnp.where(is_in, 0.0, passed))
        t_later = jnp.where(valid, time, t_later)
        return lam_v, lam_i, t_later, passed, g_w, g_r, g_in

    zeros = jnp.zeros((n,), dtype)
    init = (zeros, zeros, t_end, jnp.zeros((), dtype), jnp.zeros_like(w), None if r is None else jnp.zeros_like(r),
            jnp.zeros_like(in_times))
    # Only the recorded events, latest first (a while loop: its length is the number of events).
    _, _, _, _, g_w, g_r, g_in = lax.fori_loop(0, count, body, init)
    g_dyn = jax.tree.map(jnp.zeros_like, dyn)
    return g_dyn, g_w, g_r, g_in, None, jnp.zeros_like(obs_times), jnp.zeros_like(t_end)


_layer.defvjp(_layer_fwd, _layer_bwd)
