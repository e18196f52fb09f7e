"""Forward + backward time of one fully connected LIF layer: `spikax.run` vs a bare `lax.scan`.

The workload of `docs/performance.md`: inputs x ~ N(0, 1) of shape (T, B, n); currents I = x @ W for
all steps at once; LIF `v <- 0.95 v + I_t; s = H(v - 1); v <- v - s`; fast-sigmoid surrogate
(slope 25); loss = total spike count; time = loss and gradient with respect to W, jitted,
median of `--repeats` runs after one warm-up call (compile time reported apart). float32.

Columns:

- `bare`: a hand-written `lax.scan` of exactly that step with its own `custom_jvp` spike (the
  least work possible).
- `spikax`: `spikax.layers.dense(n, n, LIF(beta=0.95), use_bias=False)` run by `spikax.run(...,
  batch_axis=1)`. spikax's LIF integrates $(1-\\beta)x$, so its weights are $W/(1-\\beta)$ to give
  the same dynamics; spike counts are compared (float rounding may flip a few spikes).
- `spikax_torch` (if importable): the same layer through `spikax_torch.run` (eager PyTorch,
  batch native), backward by `loss.backward()`.
- snnTorch, Norse and SpikingJelly are not installed here: skipped (say so in the output).

Run: `python benchmarks/lif_sweep.py` (all three sizes) or `--cases 16,500,512` (one).
Writes `benchmarks/results/lif_sweep.json` and prints a markdown table with ratios to `bare`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the repository's packages first

import spikax  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
BETA, THRESHOLD, SLOPE = 0.95, 1.0, 25.0
CASES = ((16, 100, 128), (16, 500, 512), (64, 100, 1024))
PEERS = ("snntorch", "norse", "spikingjelly")


# -- the bare reference ------------------------------------------------------------------------
@jax.custom_jvp
def heaviside(x):
    return (x > 0).astype(x.dtype)


@heaviside.defjvp
def _heaviside_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return heaviside(x), dx / (SLOPE * jnp.abs(x) + 1.0) ** 2


def bare_loss(w, xs):
    currents = xs @ w  # (T, B, n): one matmul for all steps

    def step(v, i):
        v = BETA * v + i
        s = heaviside(v - THRESHOLD)
        return v - THRESHOLD * s, s

    _, spikes = lax.scan(step, jnp.zeros(currents.shape[1:], currents.dtype), currents)
    return jnp.sum(spikes)


# -- spikax ---------------------------------------------------------------------------------------
def spikax_layer(w):
    neuron = spikax.neurons.LIF(beta=BETA, threshold=THRESHOLD, surrogate=spikax.surrogate.FastSigmoid(SLOPE),
                                dtype=jnp.float32)
    layer = spikax.layers.dense(w.shape[0], w.shape[1], neuron, key=jax.random.key(0), use_bias=False,
                                dtype=jnp.float32)
    # eqx.nn.Linear computes weight @ x (weight is (out, in)); LIF integrates (1 - beta) x.
    return eqx.tree_at(lambda l: l.connection.weight, layer, w.T / jnp.float32(1 - BETA))


def spikax_loss(layer, xs):
    state = layer.init_state(xs.shape[2:], jnp.float32)
    _, spikes = spikax.run(layer, state, xs, batch_axis=1)
    return jnp.sum(spikes)


# -- timing -----------------------------------------------------------------------------------------
def timed(fn, repeats):
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return out, first, statistics.median(times), times


def jax_block(f):
    return lambda: jax.block_until_ready(f())


def torch_case(w, xs, repeats):
    import torch

    import spikax_torch

    torch.manual_seed(0)
    neuron = spikax_torch.neurons.LIF(beta=BETA, threshold=THRESHOLD,
                                      surrogate=spikax_torch.surrogate.FastSigmoid(SLOPE))
    layer = spikax_torch.layers.dense(w.shape[0], w.shape[1], neuron, key=0, use_bias=False)
    with torch.no_grad():
        layer.connection.weight.copy_(torch.from_numpy(np.asarray(w.T / np.float32(1 - BETA))))
    x = torch.from_numpy(np.asarray(xs))

    def step():
        layer.zero_grad(set_to_none=True)
        _, spikes = spikax_torch.run(layer, None, x)
        loss = spikes.sum()
        loss.backward()
        return loss.item()

    return timed(step, repeats)


def machine():
    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "jax": jax.__version__, "equinox": eqx.__version__,
                "spikax": spikax.__version__}
    if importlib.util.find_spec("torch"):
        import torch

        versions["torch"] = torch.__version__
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": os.getloadavg(), "versions": versions,
            "jax_backend": jax.default_backend()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="*", default=[",".join(map(str, c)) for c in CASES],
                        help="B,T,n triples (default: the three of docs/performance.md)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (default: by size)")
    parser.add_argument("--no-torch", action="store_true", help="skip spikax_torch")
    parser.add_argument("--out", default=str(RESULTS / "lif_sweep.json"))
    args = parser.parse_args()

    have_torch = not args.no_torch
    if have_torch:
        try:
            importlib.import_module("spikax_torch")
        except Exception as error:  # noqa: BLE001 - report and carry on without the column
            print(f"spikax_torch not importable ({error}); skipping its column")
            have_torch = False
    missing = [p for p in PEERS if importlib.util.find_spec(p) is None]
    info = machine()
    rows = []
    for case in args.cases:
        batch, steps, n = map(int, case.split(","))
        repeats = args.repeats or max(3, min(20, int(2e8 / (batch * steps * n * n / 64))))
        key_w, key_x = jax.random.split(jax.random.key(42))
        w = jax.random.normal(key_w, (n, n), jnp.float32) / np.float32(np.sqrt(n))
        xs = jax.random.normal(key_x, (steps, batch, n), jnp.float32)

        bare = jax.jit(jax.value_and_grad(bare_loss))
        (bare_count, _), bare_first, bare_t, bare_all = timed(jax_block(lambda: bare(w, xs)), repeats)

        layer = spikax_layer(w)
        fast = eqx.filter_jit(eqx.filter_value_and_grad(spikax_loss))
        (spikax_count, _), spikax_first, spikax_t, spikax_all = timed(jax_block(lambda: fast(layer, xs)), repeats)

        row = {"B": batch, "T": steps, "n": n, "repeats": repeats,
               "bare_ms": 1e3 * bare_t, "bare_compile_s": bare_first,
               "spikax_ms": 1e3 * spikax_t, "spikax_compile_s": spikax_first,
               "spikax_over_bare": spikax_t / bare_t,
               # On a shared machine the minimum is the least disturbed run; both are kept.
               "bare_min_ms": 1e3 * min(bare_all), "spikax_min_ms": 1e3 * min(spikax_all),
               "spikax_over_bare_min": min(spikax_all) / min(bare_all),
               "spike_counts": {"bare": float(bare_count), "spikax": float(spikax_count)}}
        if have_torch:
            torch_count, torch_first, torch_t, torch_all = torch_case(w, xs, max(3, repeats // 2))
            row.update({"spikax_torch_ms": 1e3 * torch_t, "spikax_torch_first_s": torch_first,
                        "spikax_torch_over_bare": torch_t / bare_t, "spikax_torch_min_ms": 1e3 * min(torch_all)})
            row["spike_counts"]["spikax_torch"] = torch_count
        rows.append(row)
        print(f"done B={batch} T={steps} n={n}", flush=True)

    result = {"workload": "docs/performance.md fully connected LIF, fwd+bwd w.r.t. W, float32, median after warm-up",
              "machine": info, "rows": rows, "peers_missing": missing,
              "notes": "spikax weights are W/(1-beta) to match v <- beta v + I; spike counts listed per row."}
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(result, indent=2))

    print(f"\nMachine: {info['cpu']}, {info['cores']} cores, load average {info['load_average']}, "
          + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    head = "| B,T,n | bare lax.scan (ms) | spikax.run (ms) | ratio | ratio of minima |"
    sep = "|---|---|---|---|---|"
    if have_torch:
        head += " spikax_torch (ms) | ratio |"
        sep += "---|---|"
    print(head)
    print(sep)
    for r in rows:
        line = (f"| {r['B']},{r['T']},{r['n']} | {r['bare_ms']:.2f} | {r['spikax_ms']:.2f} | "
                f"{r['spikax_over_bare']:.2f} | {r['spikax_over_bare_min']:.2f} |")
        if have_torch:
            line += f" {r['spikax_torch_ms']:.2f} | {r['spikax_torch_over_bare']:.2f} |"
        print(line)
    print("\nSpike counts (should agree closely):", [r["spike_counts"] for r in rows])
    if missing:
        print(f"Not installed, skipped: {', '.join(missing)}.")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
