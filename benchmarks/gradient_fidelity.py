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

    python benchmarks/gradient_fidelity.py            # T in 50 200 1000
    python benchmarks/gradient_fidelity.py --steps 50 --repeats 1   # quick
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

import spikax
from spikax import online

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
N_IN, N_OUT = 20, 2


def mse(y, target):
    return jnp.sum((y - target) ** 2)


def build(key, hidden):
    k1, k2 = jax.random.split(key)
    neuron = spikax.neurons.ALIF(tau_mem=20.0, tau_adapt=200.0, beta_a=0.05, dtype=jnp.float32)
    rec = spikax.layers.recurrent_dense(N_IN, hidden, neuron, key=k1, dtype=jnp.float32)
    rec = eqx.tree_at(lambda r: r.connection.weight, rec, rec.connection.weight * 60.0)
    rec = eqx.tree_at(lambda r: r.recurrent.weight, rec, rec.recurrent.weight * 10.0)
    readout = spikax.layers.dense(hidden, N_OUT, spikax.neurons.LI(tau=20.0, dtype=jnp.float32), key=k2,
                                  dtype=jnp.float32)
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--hidden", type=int, default=24)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", type=str, nargs="*", default=None, help="run only these methods")
    parser.add_argument("--out", type=str, default="gradient_fidelity.json")
    args = parser.parse_args(argv)

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
        "machine": f"{platform.processor() or platform.machine()}, {jax.devices()[0].platform}, jax {jax.__version__}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=1))
    print()
    print(markdown(rows, args.steps))
    return result


if __name__ == "__main__":
    main()
