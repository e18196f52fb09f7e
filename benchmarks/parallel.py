"""`spikax.Parallel` (associative scan; fixed point over the spike train) vs the sequential `lax.scan`, over T.

One layer of n neurons, batch B, input currents given (the connection's matmul is the same for
both methods, so it is left out): `spikax.run(neuron, state, currents, batch_axis=1, method=...)`.
Neurons: LI and reset-free LIF (`between_spikes() == "linear"`: one associative scan) and LIF
with reset by subtraction (`"linear between spikes"`: fixed-point passes until the spike train
settles; the number of passes grows with the spikes per neuron, so it is run at a low firing
rate and up to `--max-t-reset` steps). Times: forward alone and forward + backward (gradient of
the summed output w.r.t. the currents), median after warm-up, float32. Outputs of both methods
are compared (identical spikes; membranes to float rounding).

    python -m benchmarks parallel [--steps 100 300 1000 3000 10000] [--quick]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import _common
import spikax

NEURONS = {
    "LI": lambda: spikax.neurons.LI(beta=0.95, dtype=jnp.float32),
    "LIF reset-free": lambda: spikax.neurons.LIF(beta=0.95, reset="none", dtype=jnp.float32),
    "LIF (reset)": lambda: spikax.neurons.LIF(beta=0.95, dtype=jnp.float32),
}


def measure(name, steps, batch, n, repeats):
    neuron = NEURONS[name]()
    scale = 0.8 if name == "LIF (reset)" else 1.0  # a low firing rate for the fixed point
    currents = scale * jax.random.normal(jax.random.key(0), (steps, batch, n), jnp.float32) + 0.3
    state = neuron.init_state((n,), jnp.float32)
    row = {"neuron": name, "T": steps, "B": batch, "n": n}
    outs = {}
    for label, method in (("sequential", spikax.BPTT()), ("parallel", spikax.Parallel())):
        fwd = jax.jit(lambda c, method=method: spikax.run(neuron, state, c, batch_axis=1, method=method)[1])
        both = jax.jit(jax.value_and_grad(lambda c, method=method: jnp.sum(
            spikax.run(neuron, state, c, batch_axis=1, method=method)[1])))
        out, first, t_fwd, _ = _common.timed(_common.jax_ready(lambda: fwd(currents)), repeats)
        _, first_b, t_both, _ = _common.timed(_common.jax_ready(lambda: both(currents)), repeats)
        outs[label] = out
        row[f"{label}_fwd_ms"], row[f"{label}_fwd_bwd_ms"] = 1e3 * t_fwd, 1e3 * t_both
        row[f"{label}_compile_s"] = first_b - t_both
    row["parallel_over_sequential_fwd"] = row["parallel_fwd_ms"] / row["sequential_fwd_ms"]
    row["parallel_over_sequential_fwd_bwd"] = row["parallel_fwd_bwd_ms"] / row["sequential_fwd_bwd_ms"]
    row["max_abs_difference"] = float(jnp.max(jnp.abs(outs["parallel"] - outs["sequential"])))
    if name != "LI":
        row["identical_spikes"] = bool(jnp.array_equal(outs["parallel"], outs["sequential"]))
        row["spikes_per_neuron_max"] = float(jnp.max(jnp.sum(outs["sequential"], axis=0)))
    print(f"  {name} T={steps}: sequential {row['sequential_fwd_bwd_ms']:.2f} ms, parallel {row['parallel_fwd_bwd_ms']:.2f} ms",
          flush=True)
    return row


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=3)
    p.add_argument("--steps", nargs="*", type=int, default=[100, 300, 1000, 3000, 10000])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--max-t-reset", type=int, default=1000, help="longest T for the LIF with reset")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.batch, args.n, args.repeats, args.max_t_reset = [20, 60], 2, 8, 1, 60
    rows = [measure(name, steps, args.batch, args.n, args.repeats)
            for name in NEURONS for steps in args.steps if name != "LIF (reset)" or steps <= args.max_t_reset]
    md = (f"One layer, B = {args.batch}, n = {args.n}, float32, median ms; ratio < 1: parallel faster.\n\n"
          + _common.table(["neuron", "T", "sequential fwd", "parallel fwd", "ratio", "sequential fwd+bwd",
                           "parallel fwd+bwd", "ratio", "identical spikes", "max |diff|"],
                          [[r["neuron"], r["T"], r["sequential_fwd_ms"], r["parallel_fwd_ms"], r["parallel_over_sequential_fwd"],
                            r["sequential_fwd_bwd_ms"], r["parallel_fwd_bwd_ms"], r["parallel_over_sequential_fwd_bwd"],
                            r.get("identical_spikes", "n/a"), f"{r['max_abs_difference']:.1e}"] for r in rows]))
    series = {}
    for name in NEURONS:
        mine = [r for r in rows if r["neuron"] == name]
        series[f"{name}: sequential"] = ([r["T"] for r in mine], [r["sequential_fwd_bwd_ms"] for r in mine])
        series[f"{name}: parallel"] = ([r["T"] for r in mine], [r["parallel_fwd_bwd_ms"] for r in mine])
    import pathlib

    folder = pathlib.Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    path = _common.plot(folder / "parallel.png", "spikax.Parallel vs sequential scan (fwd+bwd)", "T", series)
    if path:
        md += "\n\n![parallel vs sequential](parallel.png)"
    return _common.write("parallel", args.out, {"rows": rows, "plot": path}, md)


if __name__ == "__main__":
    main()
