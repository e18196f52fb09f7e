"""Gradient fidelity and cost as the sequence grows: every gradient method of spikax on one small network.

For T in {50, 200, 1000}, on a recurrent ALIF layer with a leaky readout (20 Poisson inputs,
`--hidden` neurons, 2 outputs, per-step MSE to two sine targets, batch `--batch`), it measures
for BPTT, checkpointed BPTT, truncated BPTT, RTRL, e-prop, OSTL, SnAp-1, OTTT, OTPE and the
forward gradient:

- the cosine of each layer's gradient to the BPTT gradient (layer 0: input, recurrent and
  bias weights of the hidden layer; layer 1: the readout);
- the compiled temporary memory (`memory_analysis().temp_size_in_bytes` of the jitted
  gradient function: what the method needs beyond its inputs and outputs);
- the wall time per time step (best of `--repeats` runs of the jitted function, whole batch).

Writes `benchmarks/results/gradient_fidelity.json` and prints a markdown table.

RTRL's memory and time per step as the network grows (`--rtrl-sizes`, default 16 32 64 hidden):
on a recurrent LIF layer (8 inputs) with an LI readout (2 outputs), batch 1, float32, it
compares `spikax.online.rtrl` (reverse mode over the n_s state rows: O(n_s·P) memory) with the
previous implementation kept here as a reference, which pushed a [P, P] identity basis through
the linearised step (O(P²) memory), and prints the size of the influence matrix n_s·P·4 bytes
next to them. Writes `benchmarks/results/gradient_fidelity_rtrl.json`.

    python benchmarks/gradient_fidelity.py            # T in 50 200 1000, then RTRL sizes
    python benchmarks/gradient_fidelity.py --steps 50 --repeats 1   # quick
    python benchmarks/gradient_fidelity.py --rtrl-only              # only the RTRL memory table
    python benchmarks/gradient_fidelity.py --step-times             # only the trace learners' time per step

Trace learners' time per step relative to BPTT (`--step-times`): a recurrent layer of
`--st-hidden` (100) LIF, ALIF or CubaLIF neurons (20 Poisson inputs) with an `LI(beta=0.9)`
readout, batch 32, T = 250, float32. For each neuron it times the jitted batch gradient of
BPTT (`jax.grad` of the scanned loss), e-prop, OSTL, SnAp-1, OTTT and OTPE, taking the methods
in turn within each repeat (so that a busy machine slows them alike), and reports each
learner's median time over BPTT's, plus the compiled temporary memory at T and 4T (flat for
the online learners). Writes `benchmarks/results/gradient_fidelity_step_times.json`.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import spikax
from spikax import online

# The weight scales below were tuned for equinox's Linear init (std 1/sqrt(3 n_in)); the layer factories'
# spiking-aware default (gain 3) is larger, so keep the scale these results were measured with.
EQUINOX_SCALE = {"gain": 3 ** -0.5, "recurrent_gain": 3 ** -0.5}

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
N_IN, N_OUT = 20, 2


def mse(y, target):
    return jnp.sum((y - target) ** 2)


def build(key, hidden):
    k1, k2 = jax.random.split(key)
    neuron = spikax.neurons.ALIF(tau_mem=20.0, tau_adapt=200.0, beta_a=0.05, dtype=jnp.float32)
    rec = spikax.layers.recurrent_dense(N_IN, hidden, neuron, key=k1, dtype=jnp.float32, **EQUINOX_SCALE)
    rec = eqx.tree_at(lambda r: r.connection.weight, rec, rec.connection.weight * 60.0)
    rec = eqx.tree_at(lambda r: r.recurrent.weight, rec, rec.recurrent.weight * 10.0)
    readout = spikax.layers.dense(hidden, N_OUT, spikax.neurons.LI(tau=20.0, dtype=jnp.float32), key=k2,
                                  dtype=jnp.float32, gain=EQUINOX_SCALE["gain"])
    return spikax.Chain([rec, eqx.tree_at(lambda r: r.connection.weight, readout, readout.connection.weight * 10.0)])


def data(key, steps, batch):
    xs = (jax.random.uniform(key, (steps, batch, N_IN)) < 0.03).astype(jnp.float32)
    t = jnp.arange(steps, dtype=jnp.float32)[:, None, None]
    targets = jnp.concatenate([jnp.sin(2 * jnp.pi * t / 50.0), jnp.cos(2 * jnp.pi * t / 80.0)], axis=-1)
    return xs, jnp.broadcast_to(0.5 * targets, (steps, batch, N_OUT))


def methods(net, steps):
    """name -> function(params) -> grads (the whole batch, mean over examples)."""
    params, static = eqx.partition(net, spikax.trainable(net))
    state0 = net.init_state((N_IN,), jnp.float32)
    kappa = float(net.layers[1].neuron.beta)

    def via_run(method):
        def loss(p, xs, targets):
            model = eqx.combine(p, static)
            _, ys = spikax.run(model, state0, xs, method=method, batch_axis=1)
            return jnp.mean(jnp.sum(jax.vmap(jax.vmap(mse))(ys, targets), axis=0))

        return lambda p, xs, targets: jax.grad(loss)(p, xs, targets)

    def learner(est, key=None):
        return lambda p, xs, targets: online.run(est, p, state0, xs, targets, batch_axis=1, key=key)[1]

    table = {
        "BPTT": via_run(spikax.BPTT()),
        "checkpointed BPTT": via_run(spikax.CheckpointedBPTT()),
        "truncated BPTT (k=20)": via_run(spikax.TruncatedBPTT(k=20)),
        "RTRL": learner(online.rtrl(net, mse)),
        "e-prop": learner(online.eprop(net, mse, readout_kappa=kappa)),
        "OSTL": learner(online.ostl(net, mse)),
        "SnAp-1": learner(online.snap1(net, mse)),
        "OTTT": learner(online.ottt(net, mse)),
        "OTPE": learner(online.otpe(net, mse)),
        "forward gradient (K=1)": learner(online.forward_gradient(net, mse), key=jax.random.key(7)),
    }
    return params, table


def layer_cosines(grads, ref):
    out = []
    for g, r in zip(grads.layers, ref.layers, strict=True):
        fg = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(g)])
        fr = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(r)])
        out.append(float(jnp.vdot(fg, fr) / (jnp.linalg.norm(fg) * jnp.linalg.norm(fr) + 1e-30)))
    return out


def measure(fn, params, xs, targets, repeats):
    compiled = jax.jit(fn).lower(params, xs, targets).compile()
    memory = compiled.memory_analysis()
    grads = jax.block_until_ready(compiled(params, xs, targets))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(params, xs, targets))
        best = min(best, time.perf_counter() - start)
    return grads, int(memory.temp_size_in_bytes), best


def markdown(rows, steps_list):
    head = "| method | " + " | ".join(f"cos L0 / L1 (T={t})" for t in steps_list) + " | " + " | ".join(
        f"temp MiB (T={t})" for t in steps_list) + " | " + " | ".join(f"µs/step (T={t})" for t in steps_list) + " |"
    lines = [head, "|" + "---|" * (1 + 3 * len(steps_list))]
    names = list(dict.fromkeys(r["method"] for r in rows))
    for name in names:
        by_t = {r["T"]: r for r in rows if r["method"] == name}
        cos = [f"{by_t[t]['cosine'][0]:.3f} / {by_t[t]['cosine'][1]:.3f}" if t in by_t else "–" for t in steps_list]
        mem = [f"{by_t[t]['temp_bytes'] / 2**20:.2f}" if t in by_t else "–" for t in steps_list]
        tim = [f"{by_t[t]['seconds_per_step'] * 1e6:.0f}" if t in by_t else "–" for t in steps_list]
        lines.append(f"| {name} | " + " | ".join(cos + mem + tim) + " |")
    return "\n".join(lines)


# -- RTRL memory and time as the network grows ------------------------------------------------------


class DenseBasisRTRL(online.AbstractEstimator):
    """The RTRL step before issue 12, for comparison: `jax.linearize`, then the linear map vmapped over a [P, P] basis."""

    def init(self, params, state0, *, key=None):
        del key
        return jnp.zeros((ravel_pytree(state0)[0].size, ravel_pytree(params)[0].size), ravel_pytree(state0)[0].dtype)

    def step(self, params, lstate, state, x, target, *, key=None):
        del key
        flat_p, unravel_p = ravel_pytree(params)
        flat_s, unravel_s = ravel_pytree(state)

        def f(fs, fp):
            new_state, y, loss = self.loss_step(unravel_p(fp), unravel_s(fs), x, target)
            return (ravel_pytree(new_state)[0], loss), y

        (new_s, loss), linear, y = jax.linearize(f, flat_s, flat_p, has_aux=True)
        basis = jnp.eye(flat_p.size, dtype=flat_p.dtype)
        influence, dloss = jax.vmap(linear, in_axes=(1, 0), out_axes=(1, 0))(lstate, basis)
        return unravel_s(new_s), influence, y, loss, unravel_p(dloss)


def rtrl_sizes(sizes, steps, repeats):
    """Compiled temporary memory and time per step of RTRL, now and before, on recurrent LIF -> LI nets."""
    rows = []
    for hidden in sizes:
        k1, k2, k3 = jax.random.split(jax.random.key(hidden), 3)
        net = spikax.Chain([
            spikax.layers.recurrent_dense(8, hidden, spikax.neurons.LIF(dtype=jnp.float32), key=k1, dtype=jnp.float32),
            spikax.layers.dense(hidden, 2, spikax.neurons.LI(dtype=jnp.float32), key=k2, dtype=jnp.float32)])
        params, static = eqx.partition(net, spikax.trainable(net))
        state0 = net.init_state((8,), jnp.float32)
        xs = (jax.random.uniform(k3, (steps, 8)) < 0.3).astype(jnp.float32)
        targets = jnp.zeros((steps, 2), jnp.float32)
        n_s, n_p = ravel_pytree(state0)[0].size, ravel_pytree(params)[0].size
        before = DenseBasisRTRL(static=static, loss_fn=mse, params_treedef=jax.tree_util.tree_structure(params))
        grads = {}
        for name, est in (("rtrl (now)", online.rtrl(net, mse)), ("dense-basis RTRL (before)", before)):
            fn = lambda p, x, t, est=est: online.run(est, p, state0, x, t)[1]  # noqa: E731
            grads[name], temp, seconds = measure(fn, params, xs, targets, repeats)
            row = {"method": name, "hidden": hidden, "n_state": n_s, "n_params": n_p, "T": steps,
                   "influence_bytes": n_s * n_p * 4, "temp_bytes": temp, "seconds_per_step": seconds / steps}
            rows.append(row)
            print(f"hidden {hidden:3d} (P={n_p}, n_s={n_s})  {name:26s} temp {temp / 1e6:9.3f} MB  "
                  f"(n_s·P·4 = {n_s * n_p * 4 / 1e6:.3f} MB)  {row['seconds_per_step'] * 1e6:9.1f} µs/step", flush=True)
        now, old = (ravel_pytree(g)[0] for g in grads.values())
        print(f"    max relative difference now vs before: {float(jnp.max(jnp.abs(now - old)) / jnp.max(jnp.abs(old))):.1e}")
    return rows


def rtrl_markdown(rows):
    lines = ["| hidden | P | n_s·P·4 (MB) | temp before (MB) | temp now (MB) | µs/step before | µs/step now |",
             "|---|---|---|---|---|---|---|"]
    for hidden in dict.fromkeys(r["hidden"] for r in rows):
        by = {r["method"]: r for r in rows if r["hidden"] == hidden}
        old, now = by["dense-basis RTRL (before)"], by["rtrl (now)"]
        lines.append(f"| {hidden} | {now['n_params']} | {now['influence_bytes'] / 1e6:.2f} | {old['temp_bytes'] / 1e6:.2f} "
                     f"| {now['temp_bytes'] / 1e6:.2f} | {old['seconds_per_step'] * 1e6:.0f} "
                     f"| {now['seconds_per_step'] * 1e6:.0f} |")
    return "\n".join(lines)


# -- trace learners' time per step relative to BPTT ----------------------------------------------------


def step_time_neurons():
    """The hidden neurons of the step-time table (float32; CubaLIF's leak for OTTT/OTPE is its membrane's)."""
    return {
        "LIF": spikax.neurons.LIF(tau=20.0, dtype=jnp.float32),
        "ALIF": spikax.neurons.ALIF(tau_mem=20.0, tau_adapt=200.0, beta_a=0.05, dtype=jnp.float32),
        "CubaLIF": spikax.neurons.CubaLIF(tau_syn=5.0, tau_mem=20.0, dtype=jnp.float32),
    }


def step_time_methods(net, state0, static):
    """name -> (jitted) function(params, xs, targets) -> grads, for BPTT and the trace learners."""
    leak = net.layers[0].neuron.eligibility_leak()
    decay = None if leak is not None else float(net.layers[0].neuron.beta)  # CubaLIF: no single leak

    def bptt(p, xs, targets):
        def loss(p):
            _, ys = spikax.run(eqx.combine(p, static), state0, xs, batch_axis=1)
            return jnp.mean(jnp.sum(jax.vmap(jax.vmap(mse))(ys, targets), axis=0))

        return jax.grad(loss)(p)

    def learner(est):
        return lambda p, xs, targets: online.run(est, p, state0, xs, targets, batch_axis=1)[1]

    return {
        "BPTT": bptt,
        "e-prop": learner(online.eprop(net, mse)),
        "OSTL": learner(online.ostl(net, mse)),
        "SnAp-1": learner(online.snap1(net, mse)),
        "OTTT": learner(online.ottt(net, mse, trace_decay=decay)),
        "OTPE": learner(online.otpe(net, mse, trace_decay=decay)),
    }


def step_times(hidden, batch, steps, repeats, neurons=None, memory=True):
    """Median time per step of each trace learner and of BPTT, methods interleaved within each repeat."""
    rows = []
    for name, neuron in step_time_neurons().items():
        if neurons and name not in neurons:
            continue
        k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
        rec = spikax.layers.recurrent_dense(N_IN, hidden, neuron, key=k1, dtype=jnp.float32, **EQUINOX_SCALE)
        rec = eqx.tree_at(lambda r: r.connection.weight, rec, rec.connection.weight * 60.0)
        rec = eqx.tree_at(lambda r: r.recurrent.weight, rec, rec.recurrent.weight * 10.0)
        readout = spikax.layers.dense(hidden, N_OUT, spikax.neurons.LI(beta=0.9, dtype=jnp.float32), key=k2,
                                      dtype=jnp.float32, gain=EQUINOX_SCALE["gain"])
        net = spikax.Chain([rec, readout])
        params, static = eqx.partition(net, spikax.trainable(net))
        state0 = net.init_state((N_IN,), jnp.float32)
        xs, targets = data(k3, steps, batch)
        compiled, temps = {}, {}
        for method, fn in step_time_methods(net, state0, static).items():
            compiled[method] = jax.jit(fn).lower(params, xs, targets).compile()
            jax.block_until_ready(compiled[method](params, xs, targets))
            if memory:
                long_xs, long_targets = data(k3, 4 * steps, batch)
                temps[method] = [int(compiled[method].memory_analysis().temp_size_in_bytes),
                                 int(jax.jit(fn).lower(params, long_xs, long_targets).compile()
                                     .memory_analysis().temp_size_in_bytes)]
        times = {method: [] for method in compiled}
        for _ in range(repeats):
            for method, fn in compiled.items():
                start = time.perf_counter()
                jax.block_until_ready(fn(params, xs, targets))
                times[method].append(time.perf_counter() - start)
        base = float(np.median(times["BPTT"]))
        for method, ts in times.items():
            row = {"neuron": name, "method": method, "hidden": hidden, "batch": batch, "T": steps,
                   "seconds_per_step": float(np.median(ts)) / steps, "relative_to_bptt": float(np.median(ts)) / base,
                   "times": ts, "temp_bytes_T_4T": temps.get(method)}
            rows.append(row)
            mem = (f"  temp {temps[method][0] / 2**20:7.2f} / {temps[method][1] / 2**20:7.2f} MiB (T / 4T)"
                   if method in temps else "")
            print(f"{name:8s} {method:8s} {row['seconds_per_step'] * 1e6:8.0f} µs/step  "
                  f"{row['relative_to_bptt']:5.2f}x BPTT{mem}", flush=True)
    return rows


def step_times_markdown(rows):
    neurons = list(dict.fromkeys(r["neuron"] for r in rows))
    methods = [m for m in dict.fromkeys(r["method"] for r in rows) if m != "BPTT"]
    lines = ["| learner | " + " | ".join(f"{n} (x BPTT)" for n in neurons) + " |", "|" + "---|" * (1 + len(neurons))]
    by = {(r["neuron"], r["method"]): r for r in rows}
    lines.append("| BPTT (µs/step) | " + " | ".join(f"{by[(n, 'BPTT')]['seconds_per_step'] * 1e6:.0f}"
                                                 for n in neurons) + " |")
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{by[(n, m)]['relative_to_bptt']:.2f}" if (n, m) in by else "–"
                                              for n in neurons) + " |")
    return "\n".join(lines)


def machine():
    return f"{platform.processor() or platform.machine()}, {jax.devices()[0].platform}, jax {jax.__version__}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--hidden", type=int, default=24)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", type=str, nargs="*", default=None, help="run only these methods")
    parser.add_argument("--out", type=str, default="gradient_fidelity.json")
    parser.add_argument("--rtrl-sizes", type=int, nargs="*", default=[16, 32, 64],
                        help="hidden sizes of the RTRL memory table (none: skip it)")
    parser.add_argument("--rtrl-steps", type=int, default=50)
    parser.add_argument("--rtrl-only", action="store_true", help="only the RTRL memory table")
    parser.add_argument("--step-times", action="store_true",
                        help="only the trace learners' time per step relative to BPTT (LIF, ALIF, CubaLIF)")
    parser.add_argument("--st-hidden", type=int, default=100)
    parser.add_argument("--st-batch", type=int, default=32)
    parser.add_argument("--st-steps", type=int, default=250)
    parser.add_argument("--st-repeats", type=int, default=5)
    parser.add_argument("--st-neurons", type=str, nargs="*", default=None, help="LIF ALIF CubaLIF (default all)")
    parser.add_argument("--st-no-memory", action="store_true", help="skip the compiled-memory columns")
    parser.add_argument("--st-out", type=str, default="gradient_fidelity_step_times.json")
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    if args.step_times:
        rows = step_times(args.st_hidden, args.st_batch, args.st_steps, args.st_repeats, args.st_neurons,
                          memory=not args.st_no_memory)
        result = {"benchmark": "gradient_fidelity (trace learners' time per step)",
                  "network": f"{N_IN} Poisson inputs -> recurrent (LIF | ALIF | CubaLIF) {args.st_hidden} -> "
                             f"LI(beta=0.9) {N_OUT}; batch {args.st_batch}; T={args.st_steps}; float32; median of "
                             f"{args.st_repeats} interleaved repeats; temp memory at T and 4T",
                  "rows": rows, "machine": machine()}
        (RESULTS / args.st_out).write_text(json.dumps(result, indent=1))
        print()
        print(step_times_markdown(rows))
        return result
    if args.rtrl_sizes:
        rtrl_rows = rtrl_sizes(args.rtrl_sizes, args.rtrl_steps, args.repeats)
        (RESULTS / "gradient_fidelity_rtrl.json").write_text(json.dumps({
            "benchmark": "gradient_fidelity (RTRL memory)",
            "network": "8 inputs -> recurrent LIF (hidden) -> LI 2; batch 1; float32; compiled temp memory of "
                       "online.run(rtrl) and time per step (best of --repeats)",
            "rows": rtrl_rows, "machine": machine()}, indent=1))
        print()
        print(rtrl_markdown(rtrl_rows))
        print()
    if args.rtrl_only:
        return None

    net = build(jax.random.key(0), args.hidden)
    rows = []
    for steps in args.steps:
        xs, targets = data(jax.random.key(steps), steps, args.batch)
        params, table = methods(net, steps)
        ref = None
        for name, fn in table.items():
            if args.only and name not in args.only and name != "BPTT":
                continue
            grads, temp, seconds = measure(fn, params, xs, targets, args.repeats)
            if name == "BPTT":
                ref = grads
            row = {"method": name, "T": steps, "cosine": layer_cosines(grads, ref), "temp_bytes": temp,
                   "seconds_per_step": seconds / steps}
            rows.append(row)
            print(f"T={steps:5d}  {name:24s} cos {row['cosine'][0]:.4f} / {row['cosine'][1]:.4f}  "
                  f"temp {temp / 2**20:8.2f} MiB  {row['seconds_per_step'] * 1e6:8.0f} µs/step", flush=True)
    n_params = sum(leaf.size for leaf in jax.tree_util.tree_leaves(eqx.partition(net, spikax.trainable(net))[0]))
    result = {
        "benchmark": "gradient_fidelity",
        "network": f"{N_IN} Poisson inputs -> recurrent ALIF {args.hidden} -> LI {N_OUT}; {n_params} parameters; "
                   f"batch {args.batch}; float32",
        "rows": rows,
        "machine": machine(),
    }
    (RESULTS / args.out).write_text(json.dumps(result, indent=1))
    print()
    print(markdown(rows, args.steps))
    return result


if __name__ == "__main__":
    main()
