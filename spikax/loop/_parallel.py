"""Parallel-in-time execution: neurons that are linear between spikes, run with `lax.associative_scan`."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ..surrogate import AbstractSurrogate
from ._methods import AbstractGradientMethod, _check_steps, _chunked, _sequence


class Parallel(AbstractGradientMethod):
    r"""Run neurons that are linear between spikes in parallel over time (`lax.associative_scan`).

    A neuron whose [`between_spikes`][spikax.neurons.AbstractNeuron.between_spikes] is
    `"linear"` (LI; LIF and CubaLIF with `reset="none"`) has a state that is an affine function of
    the previous state and the input, $S_t = J_t S_{t-1} + c_t$, so the whole trajectory is one
    associative scan of the affine maps $(J_t, c_t)$ in $O(\log T)$ depth (Blelloch 1990; Martin &
    Cundy 2018). One with `"linear between spikes"` (LIF, CubaLIF, IF with a reset) is affine once
    its spike train is known; the spike train is then found by a fixed-point iteration
    (Newton's method on the piecewise-affine recurrence, as in DEER, Lim et al. 2024): from a guess
    of the trajectory, take the spikes it implies, solve the affine recurrence with those spikes
    by one associative scan, and repeat until the spike train no longer changes. Each pass makes
    at least one more step exact, so it ends within `T` passes; after `max_iter` passes the rest is
    done by the sequential scan (the fallback). The fixed point is the sequential scan's
    trajectory, so the spikes are the same.

    Gradients: the final pass re-linearises the neuron around the found trajectory (with the
    surrogate derivative, exactly as the sequential scan's tangent), so forward mode (`jvp`,
    `jacfwd`) and reverse mode (`grad`) give the sequential scan's derivatives; the search itself
    carries no gradient.

    What runs in parallel: a neuron given as the model, and the neuron of every feed-forward layer
    (connection + neuron) of a [`spikax.Chain`][] (the connection is applied to the whole
    sequence at once, as always). Other layers (recurrent, graphs with feedback) and neurons whose
    `between_spikes()` is None (refractory periods, Izhikevich, AdEx, ...) run with the sequential
    `lax.scan`, as under [`spikax.BPTT`][].

    Where it pays off: the associative scan does $O(T)$ more arithmetic than the sequential scan
    in $O(\log T)$ depth, and every fixed-point pass repeats it, so it wins where a sequential step
    is expensive in latency (accelerators, very long sequences, few spikes per neuron), not on a
    few CPU cores (see the benchmark `python -m benchmarks parallel`).

    **Arguments:**

    - `max_iter`: bound on fixed-point passes for neurons that spike and reset (default: `T`,
      which always suffices in exact arithmetic).
    - `every`: with a chunk length, time is cut into chunks of `every` steps that run one after
      the other, each in parallel and rematerialised in the backward pass (`jax.checkpoint`), as
      in [`spikax.CheckpointedBPTT`][]; None (default) runs the whole sequence at once.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(), key=key)])
    state, xs = net.init_state((3,)), jnp.ones((100, 3))
    _, ys = spikax.run(net, state, xs, method=spikax.Parallel())
    _, expected = spikax.run(net, state, xs)  # the sequential scan: the same spikes
    ```
    """

    max_iter: int | None = eqx.field(static=True, default=None)
    every: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        _check_steps("spikax.Parallel", "max_iter", self.max_iter, allow_none=True)
        _check_steps("spikax.Parallel", "every", self.every, allow_none=True)

    def run(self, model, state, xs, *, unroll: int = 1):
        whole = lambda carry, chunk_xs: _run_model(model, carry, chunk_xs, self.max_iter, unroll)  # noqa: E731
        if self.every is None:
            return whole(state, xs)
        return _chunked(jax.checkpoint(whole), whole, state, xs, self.every)


# -- which parts run in parallel ---------------------------------------------------------------
def _run_model(model, state, xs, max_iter, unroll):
    """Parallel where the model's parts allow it, else the sequential scan (as BPTT)."""
    if _linearity(model) is not None:  # a neuron, run directly on input currents
        return parallel_neuron(model, state, xs, max_iter=max_iter)
    layers = getattr(model, "layers", None)
    if layers is not None and hasattr(model, "sequence"):  # a chain: layer after layer over the whole sequence
        new_states = []
        for layer, layer_state in zip(layers, state, strict=True):
            layer_state, xs = _run_model(layer, layer_state, xs, max_iter, unroll)
            new_states.append(layer_state)
        return tuple(new_states), xs
    neuron = getattr(model, "neuron", None)
    if (_linearity(neuron) is not None and hasattr(model, "feedforward") and hasattr(model, "neuron_state")
            and model.neuron_state(state) is state):  # connection + neuron, the layer's state is the neuron's
        return parallel_neuron(neuron, state, jax.vmap(model.feedforward)(xs), max_iter=max_iter)
    return _sequence(model, state, xs, lambda f, carry, seq: lax.scan(f, carry, seq, unroll=unroll))


def _linearity(obj):
    between = getattr(obj, "between_spikes", None)
    return None if between is None else between()


# -- one neuron over time ----------------------------------------------------------------------
class _NoDerivative(AbstractSurrogate):
    """A surrogate of zero slope: the neuron's Jacobian *between* spikes (spikes held fixed)."""

    def derivative(self, x):
        return jnp.zeros_like(x)


def _between_spikes_version(neuron):
    is_surrogate = lambda x: isinstance(x, AbstractSurrogate)  # noqa: E731
    return jax.tree_util.tree_map(lambda x: _NoDerivative() if is_surrogate(x) else x, neuron, is_leaf=is_surrogate)


def _stop(tree):
    return jax.tree_util.tree_map(lambda x: lax.stop_gradient(x) if eqx.is_array(x) else x, tree)


def parallel_neuron(neuron, state, xs, *, max_iter: int | None = None):
    """Run one elementwise neuron over `xs` (time on axis 0) in parallel; returns `(final_state, ys)`.

    The neuron's `between_spikes()` must be `"linear"` or `"linear between spikes"` (see
    [`spikax.Parallel`][]); the result equals `lax.scan(neuron, state, xs)`.
    """
    kind = _linearity(neuron)
    if kind not in ("linear", "linear between spikes"):
        raise ValueError(
            f"`spikax.Parallel`: {type(neuron).__name__}.between_spikes() is {kind!r}; parallel-in-time execution "
            "needs a neuron that is linear between spikes. Use `spikax.BPTT()` for this neuron."
        )
    leaves, treedef = jax.tree_util.tree_flatten(state)
    steps = xs.shape[0]
    if steps == 0:
        return state, jnp.zeros_like(xs)
    if not all(jnp.issubdtype(leaf.dtype, jnp.floating) for leaf in leaves):
        raise ValueError(f"`spikax.Parallel`: {type(neuron).__name__}'s state has non-float parts; use `spikax.BPTT()`.")

    def step(prev_leaves, x, cell):  # the neuron's own step on flat state leaves
        new, y = cell(jax.tree_util.tree_unflatten(treedef, list(prev_leaves)), x)
        return tuple(jax.tree_util.tree_leaves(new)), y

    init = tuple(leaves)
    if kind == "linear":
        # Affine whatever the spikes: one pass linearised around any states is exact, derivatives included.
        states, _ = _affine_pass(lambda p, x: step(p, x, neuron), init, _repeat(lax.stop_gradient(init), steps), xs)
        prev = _shift(init, states)
    else:
        # 1. Search (no gradient): the trajectory, by fixed-point passes of the between-spikes dynamics.
        frozen = _between_spikes_version(_stop(neuron))
        xs_sg, init_sg = lax.stop_gradient(xs), lax.stop_gradient(init)
        trajectory = _fixed_point(lambda p, x: step(p, x, frozen), lambda p, x: step(p, x, neuron), init_sg, xs_sg,
                                  steps if max_iter is None else max_iter)
        previous = lax.stop_gradient(_shift(init_sg, trajectory))  # the state before each step
        # 2. The result: the neuron's own step at the found states (so the same spikes); tangents flow through the
        # linear recurrence of its Jacobian (with the surrogate), i.e. exactly the sequential scan's tangents.
        linear, _ = _affine_pass(lambda p, x: step(p, x, neuron), init, previous, xs, stop_jacobian=True)
        tangent_path = _shift(init, linear)
        prev = tuple(p + (t - lax.stop_gradient(t)) for p, t in zip(previous, tangent_path))
    new, ys = jax.vmap(lambda p, x: step(p, x, neuron))(prev, xs)
    return jax.tree_util.tree_unflatten(treedef, [leaf[-1] for leaf in new]), ys


def _repeat(leaves, steps):
    return tuple(jnp.broadcast_to(leaf, (steps,) + leaf.shape) for leaf in leaves)


def _shift(init, trajectory):
    """The state before each step: `init`, then the trajectory without its last state."""
    return tuple(jnp.concatenate([i[None], s[:-1]]) for i, s in zip(init, trajectory))


def _affine_pass(step, init, previous, xs, *, stop_jacobian: bool = False):
    """Linearise `step` around the states `previous` (one per step) and solve the recurrence from `init`.

    $S_t = F_t + J_t (S_{t-1} - P_t)$ with $F_t$ = step($P_t$, $x_t$) and $J_t$ its (elementwise,
    per-neuron k x k) Jacobian in the state. Returns the states $S_t$ and the outputs at $P_t$.
    """
    k = len(init)

    def columns(p, x):  # F, the outputs, and the Jacobian's columns: one jvp per state part
        out = []
        for j in range(k):
            tangent = tuple(jnp.ones_like(leaf) if i == j else jnp.zeros_like(leaf) for i, leaf in enumerate(p))
            (f, y), (df, _) = jax.jvp(step, (p, x), (tangent, jnp.zeros_like(x)))
            out.append(df)
        return f, y, out

    values, ys, cols = jax.vmap(columns)(previous, xs)
    jac = tuple(tuple(cols[j][i] for j in range(k)) for i in range(k))  # jac[i][j] = d S_i / d P_j
    if stop_jacobian:
        jac = lax.stop_gradient(jac)
    # c_t = F_t - J_t P_t, and the first step starts from `init` rather than P_0.
    offset = tuple(values[i] - sum(jac[i][j] * previous[j] for j in range(k)) for i in range(k))
    first = tuple(sum(jac[i][j][0] * init[j] for j in range(k)) for i in range(k))
    offset = tuple(o.at[0].add(f) for o, f in zip(offset, first))

    def combine(early, late):  # (J, c) of "late after early"
        (ja, ca), (jb, cb) = early, late
        jac_ = tuple(tuple(sum(jb[i][m] * ja[m][j] for m in range(k)) for j in range(k)) for i in range(k))
        off = tuple(sum(jb[i][m] * ca[m] for m in range(k)) + cb[i] for i in range(k))
        return jac_, off

    _, states = lax.associative_scan(combine, (jac, offset))
    return states, ys


def _fixed_point(between, exact, init, xs, max_iter):
    """The trajectory of a neuron that is affine given its spikes: passes until the spikes stop changing.

    Falls back to the sequential scan (of the exact step) when `max_iter` passes did not settle.
    """
    steps = xs.shape[0]

    def one_pass(trajectory):
        return _affine_pass(between, init, _shift(init, trajectory), xs)

    def not_done(carry):
        _, _, settled, count = carry
        return jnp.logical_and(jnp.logical_not(settled), count < max_iter)

    def body(carry):
        trajectory, spikes, _, count = carry
        new, new_spikes = one_pass(trajectory)
        return new, new_spikes, jnp.array_equal(new_spikes, spikes), count + 1

    trajectory, spikes = one_pass(_repeat(init, steps))
    trajectory, _, settled, _ = lax.while_loop(not_done, body, (trajectory, spikes, jnp.array(False), 1))

    def sequential_step(carry):  # the fallback: runs no step when the passes settled
        t, trajectory = carry
        prev = tuple(jnp.where(t == 0, i, s[jnp.maximum(t - 1, 0)]) for i, s in zip(init, trajectory))
        new, _ = exact(prev, xs[t])
        return t + 1, tuple(s.at[t].set(n) for s, n in zip(trajectory, new))

    start = jnp.where(settled, steps, 0)
    _, trajectory = lax.while_loop(lambda c: c[0] < steps, sequential_step, (start, trajectory))
    return trajectory

