"""Forward + backward time of fully connected LIF networks: spikax vs the peers, a bare `lax.scan` and the machine limit.

Workload (the one of `docs/performance.md`): inputs x ~ N(0, 1) of shape (T, B, n); per layer the
currents I = h @ W for all steps at once (one GEMM), then the LIF dynamics
`v <- 0.95 v + I_t; s = H(v - 1); v <- v - s` (reset by subtraction in the same step),
fast-sigmoid surrogate (slope 25) where the library has it; loss = total spike count of the last
layer; time = loss and gradient with respect to every W, median of `--repeats` calls after one
warm-up call (compile time reported apart), float32. Two models: one LIF layer (n -> n) and a
3-layer network (n -> n -> n -> n).

How the peers' dynamics were matched (each column's spike count is checked against the bare
scan run with the same dynamics; `counts_match` in the JSON):

- `spikax`: `spikax.layers.dense(..., LIF(beta=0.95))` in a `spikax.Chain`, `spikax.run(...,
  batch_axis=1)`. Its LIF integrates (1-β)x, so its weights are W/(1-β).
- `bare lax.scan`: a hand-written scan of exactly the step with its own `custom_jvp` spike (the
  least work possible in JAX).
- `spikax_torch` eager and `compile=True`: the same layers in the PyTorch mirror (weights W/(1-β)).
  `torch.compile` compiles the whole unrolled loop: its compile time is listed apart, and it
  runs only at the configurations named by `--compile` (tens of seconds to minutes each).
- snnTorch `Leaky(beta=0.95, reset_mechanism="subtract")` (its default `reset_delay=True`):
  it subtracts the *previous* step's spike, undecayed (`v <- βv + x - θ s_prev; s = H(v - θ)`);
  its spike count is compared with a bare scan of that step. Fast-sigmoid surrogate, slope 25.
  (`reset_delay=False` did not give the reference's spikes either, so the default is timed.)
- Norse `LIFBoxCell` (dt = 1 ms, `tau_mem_inv` = 50 /s so that 1 - dt/τ = 0.95, `reset_subtract`,
  v_th = 1): it integrates dt/τ·x, so its weights are W/(1-β); SuperSpike surrogate (Norse 1.1's
  backward ignores its `alpha`).
- SpikingJelly `LIFNode(tau=20, decay_input=True, v_reset=None)` (soft reset = subtraction),
  multi-step mode, torch backend: weights W/(1-β); its sigmoid surrogate (α = 4).
- Spyx 1.0 `spyx.nn.LIF(beta=0.95)`: it emits the spike from the *previous* membrane and
  subtracts an undecayed threshold (`V <- βV + x - θ H(V_prev - θ)`), a different model; its
  spike count is compared with a bare scan of *that* step.
- `limit`: the GEMMs of the model (forward, and the weight and input gradients backward) timed
  alone at these shapes, plus the minimum elementwise traffic (read I, write the residual, read
  it back, write dI: 16 bytes per element and layer) at the measured streaming bandwidth.

Also sweeps each of T, B and n around a base configuration (plots `lif_sweep_T.png`, ...).

    python -m benchmarks lif_sweep                  # the three configurations and the sweeps
    python -m benchmarks lif_sweep --quick          # tiny sizes (smoke test)
    python -m benchmarks lif_sweep --configs 16,500,512 --no-sweep --compile 16,500,512
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python -m benchmarks lif_sweep   # malloc on huge pages (see below)

Each row also counts the minor page faults of one spikax call and one bare-scan call: with glibc's
default allocator every call of a compiled step touches its temporaries as fresh 4 KiB pages
(docs/performance.md). A run with the `GLIBC_TUNABLES` above writes `lif_sweep_hugepages.*` instead.

Writes `lif_sweep.json`, `lif_sweep.md` and the sweep plots into `benchmarks/results/`.
"""

from __future__ import annotations

import functools
import os
import pathlib

os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # no compile-worker pool on a few cores

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from . import _common  # noqa: E402
import spikax  # noqa: E402

BETA, THRESHOLD, SLOPE = 0.95, 1.0, 25.0
CONFIGS = ((16, 100, 128), (16, 500, 512), (64, 100, 1024))
SWEEP_BASE = (16, 200, 256)
SWEEPS = {"T": (50, 100, 200, 500, 1000), "B": (4, 16, 64), "n": (128, 256, 512, 1024)}
SWEEP_COLUMNS = ("spikax", "bare lax.scan", "spikax_torch", "snnTorch", "Norse", "SpikingJelly", "Spyx")


# -- JAX: the bare reference (with the variants peers implement) ---------------------------------
@jax.custom_jvp
def heaviside(x):
    return (x > 0).astype(x.dtype)


@heaviside.defjvp
def _heaviside_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return heaviside(x), dx / (SLOPE * jnp.abs(x) + 1.0) ** 2


def bare_layer(currents, *, previous_spike=False, delayed_reset=False):
    """Spikes of the LIF step over currents (T, B, n); `previous_spike`: Spyx's variant; `delayed_reset`: snnTorch's."""

    def step(carry, i):
        if delayed_reset:
            v, s_prev = carry
            v = BETA * v + i - THRESHOLD * s_prev
            s = heaviside(v - THRESHOLD)
            return (v, s), s
        v = carry
        if previous_spike:
            s = heaviside(v - THRESHOLD)
            return BETA * v + i - THRESHOLD * s, s
        v = BETA * v + i
        s = heaviside(v - THRESHOLD)
        return v - THRESHOLD * s, s

    zeros = jnp.zeros(currents.shape[1:], currents.dtype)
    return lax.scan(step, (zeros, zeros) if delayed_reset else zeros, currents)[1]


def jax_loss(layer_fn, ws, xs):
    h = xs
    for w in ws:
        h = layer_fn(h @ w)
    return jnp.sum(h)


def spyx_layer_fn(spyx, n):
    from flax import nnx

    lif = spyx.nn.LIF((n,), beta=BETA, threshold=THRESHOLD, rngs=nnx.Rngs(0))

    def run(currents):
        def step(v, i):
            s, v = lif(i, v)
            return v, s

        return lax.scan(step, jnp.zeros(currents.shape[1:], currents.dtype), currents)[1]

    return run


def spikax_net(ws):
    neuron = spikax.neurons.LIF(beta=BETA, threshold=THRESHOLD, surrogate=spikax.surrogate.FastSigmoid(SLOPE),
                                dtype=jnp.float32)
    layers = []
    for w in ws:
        layer = spikax.layers.dense(w.shape[0], w.shape[1], neuron, key=jax.random.key(0), use_bias=False,
                                    dtype=jnp.float32)
        # eqx.nn.Linear holds (out, in); spikax's LIF integrates (1 - beta) x.
        layers.append(eqx.tree_at(lambda l: l.connection.weight, layer, w.T / jnp.float32(1 - BETA)))
    return spikax.Chain(layers)


def spikax_loss(net, xs):
    _, spikes = spikax.run(net, net.init_state(xs.shape[2:], jnp.float32), xs, batch_axis=1)
    return jnp.sum(spikes)


# -- PyTorch columns -----------------------------------------------------------------------------
def torch_runner(name, torch, module):
    """`(make(n) -> fn(currents (T,B,n)) -> spikes, gain)`: a peer's LIF over a sequence, and its weight gain."""
    if name == "snnTorch":
        grad = module.surrogate.fast_sigmoid(slope=SLOPE)

        def make(n):
            cell = module.Leaky(beta=BETA, threshold=THRESHOLD, spike_grad=grad, reset_mechanism="subtract")

            def run(currents):
                mem = torch.zeros_like(currents[0])
                out = []
                for i in currents.unbind(0):
                    s, mem = cell(i, mem)
                    out.append(s)
                return torch.stack(out)

            return run

        return make, 1.0
    if name == "Norse":
        from norse.torch.functional.reset import reset_subtract

        def make(n):
            p = module.LIFBoxParameters(tau_mem_inv=torch.tensor(50.0), v_th=torch.tensor(THRESHOLD),
                                        v_reset=torch.tensor(0.0), reset_method=reset_subtract,
                                        alpha=torch.tensor(SLOPE))
            cell = module.LIFBoxCell(p, dt=0.001)

            def run(currents):
                state, out = None, []
                for i in currents.unbind(0):
                    s, state = cell(i, state)
                    out.append(s)
                return torch.stack(out)

            return run

        return make, 1 / (1 - BETA)
    if name == "SpikingJelly":
        from spikingjelly.activation_based import functional

        def make(n):
            node = module.LIFNode(tau=1 / (1 - BETA), decay_input=True, v_threshold=THRESHOLD, v_reset=None,
                                  step_mode="m")

            def run(currents):
                functional.reset_net(node)
                return node(currents)

            return run

        return make, 1 / (1 - BETA)
    raise ValueError(name)


def torch_case(torch, ws_np, xs_np, run_layer, gain, repeats):
    ws = [torch.from_numpy(np.asarray(w) * np.float32(gain)).requires_grad_(True) for w in ws_np]
    x = torch.from_numpy(np.asarray(xs_np))

    def step():
        for w in ws:
            w.grad = None
        h = x
        for w in ws:
            h = run_layer(h @ w)
        loss = h.sum()
        loss.backward()
        return float(loss.detach())

    return _common.timed(step, repeats)


def spikax_torch_case(torch, spikax_torch, ws_np, xs_np, repeats, compile_):
    neuron = spikax_torch.neurons.LIF(beta=BETA, threshold=THRESHOLD, surrogate=spikax_torch.surrogate.FastSigmoid(SLOPE))
    layers = []
    for w in ws_np:
        layer = spikax_torch.layers.dense(w.shape[0], w.shape[1], neuron, key=0, use_bias=False)
        with torch.no_grad():
            layer.connection.weight.copy_(torch.from_numpy(np.asarray(w).T / np.float32(1 - BETA)))
        layers.append(layer)
    net = spikax_torch.Chain(layers)
    x = torch.from_numpy(np.asarray(xs_np))

    def step():
        net.zero_grad(set_to_none=True)
        _, spikes = spikax_torch.run(net, None, x, compile=compile_)
        loss = spikes.sum()
        loss.backward()
        return float(loss.detach())

    return _common.timed(step, repeats)


# -- the machine limit ---------------------------------------------------------------------------
BANDWIDTH_MIB = [64]  # --quick measures over 4 MiB


@functools.cache
def bandwidth_gbs() -> float:
    """Streaming bandwidth (read + write) of an elementwise pass over 64 MiB, GB/s."""
    a = jnp.ones((BANDWIDTH_MIB[0] * 2**18,), jnp.float32)
    f = jax.jit(lambda a: a * 1.5)
    _, _, t, _ = _common.timed(_common.jax_ready(lambda: f(a)), 5)
    return 2 * a.nbytes / t / 1e9


def limit_ms(batch, steps, n, layers, repeats) -> tuple[float, float]:
    """The model's GEMMs timed alone plus the minimum elementwise traffic; also the GEMM rate (GFLOP/s)."""
    key = jax.random.key(1)
    a = jax.random.normal(key, (steps * batch, n), jnp.float32)
    w = jax.random.normal(key, (n, n), jnp.float32)
    fwd = jax.jit(lambda a, w: a @ w)
    wgrad = jax.jit(lambda a, g: a.T @ g)
    xgrad = jax.jit(lambda g, w: g @ w.T)
    t_f = _common.timed(_common.jax_ready(lambda: fwd(a, w)), repeats)[2]
    t_w = _common.timed(_common.jax_ready(lambda: wgrad(a, a)), repeats)[2]
    t_x = _common.timed(_common.jax_ready(lambda: xgrad(a, w)), repeats)[2] if layers > 1 else 0.0
    gemm = layers * (t_f + t_w) + (layers - 1) * t_x
    traffic = layers * 16 * steps * batch * n / (bandwidth_gbs() * 1e9)
    flops = 2 * steps * batch * n * n * (2 * layers + (layers - 1))
    return 1e3 * (gemm + traffic), flops / gemm / 1e9


# -- one configuration ---------------------------------------------------------------------------
def measure(batch, steps, n, layers, repeats, peers, *, columns, compile_torch):
    key_w, key_x = jax.random.split(jax.random.key(42))
    ws = [jax.random.normal(k, (n, n), jnp.float32) * np.float32(1.5 / np.sqrt(n))
          for k in jax.random.split(key_w, layers)]
    xs = jax.random.normal(key_x, (steps, batch, n), jnp.float32)
    times, compile_s, counts, reference = {}, {}, {}, {}

    def record(name, result, ref):
        value, first, median, _ = result
        count = float(value[0] if isinstance(value, tuple) else value)
        times[name], compile_s[name], counts[name], reference[name] = 1e3 * median, first - median, count, ref

    grad_ws = jax.jit(jax.value_and_grad(functools.partial(jax_loss, bare_layer)))
    bare = _common.timed(_common.jax_ready(lambda: grad_ws(ws, xs)), repeats)
    record("bare lax.scan", bare, "subtract")
    faults = {"bare lax.scan": _common.page_faults(_common.jax_ready(lambda: grad_ws(ws, xs)))}
    ref_counts = {"subtract": counts["bare lax.scan"]}
    if "spikax" in columns:
        net = spikax_net(ws)
        fast = eqx.filter_jit(eqx.filter_value_and_grad(spikax_loss))
        record("spikax", _common.timed(_common.jax_ready(lambda: fast(net, xs)), repeats), "subtract")
        faults["spikax"] = _common.page_faults(_common.jax_ready(lambda: fast(net, xs)))
    if "Spyx" in columns and peers.get("spyx") is not None:
        ref = jax.jit(functools.partial(jax_loss, functools.partial(bare_layer, previous_spike=True)))
        ref_counts["previous spike"] = float(ref(ws, xs))
        spyx_grad = jax.jit(jax.value_and_grad(functools.partial(jax_loss, spyx_layer_fn(peers["spyx"], n))))
        record("Spyx", _common.timed(_common.jax_ready(lambda: spyx_grad(ws, xs)), repeats), "previous spike")
    torch = peers.get("torch")
    ws_np, xs_np = [np.asarray(w) for w in ws], np.asarray(xs)
    if torch is not None and peers.get("spikax_torch") is not None:
        if "spikax_torch" in columns:
            record("spikax_torch", spikax_torch_case(torch, peers["spikax_torch"], ws_np, xs_np, repeats, False),
                   "subtract")
        if compile_torch:
            record("spikax_torch compile", spikax_torch_case(torch, peers["spikax_torch"], ws_np, xs_np, repeats, True),
                   "subtract")
    for name, module_name in (("snnTorch", "snntorch"), ("Norse", "norse"), ("SpikingJelly", "spikingjelly")):
        if name in columns and torch is not None and peers.get(module_name) is not None:
            make, gain = torch_runner(name, torch, peers[module_name])
            run_layer = make(n)
            variant = "delayed reset" if name == "snnTorch" else "subtract"
            if variant not in ref_counts:
                ref = jax.jit(functools.partial(jax_loss, functools.partial(bare_layer, delayed_reset=True)))
                ref_counts[variant] = float(ref(ws, xs))
            record(name, torch_case(torch, ws_np, xs_np, run_layer, gain, max(1, repeats)), variant)
    limit, gflops = limit_ms(batch, steps, n, layers, repeats)
    match = {name: abs(counts[name] - ref_counts[reference[name]]) <= 1e-3 * max(1.0, ref_counts[reference[name]])
             for name in counts}
    best_other = min((t for k, t in times.items() if k != "spikax"), default=None)
    row = {"B": batch, "T": steps, "n": n, "layers": layers, "ms": times, "compile_s": compile_s,
           "spike_counts": counts, "reference_counts": ref_counts, "counts_match": match,
           "limit_ms": limit, "gemm_gflops": gflops, "bandwidth_gbs": bandwidth_gbs(),
           "page_faults_per_call": faults}
    if "spikax" in times:
        row["spikax_over"] = {k: times["spikax"] / t for k, t in times.items() if k != "spikax"}
        row["spikax_over"]["limit"] = times["spikax"] / limit
        row["spikax_over_best_other"] = times["spikax"] / best_other if best_other else None
    mismatched = [k for k, ok in match.items() if not ok]
    if mismatched:
        print(f"  spike counts differ from the matched reference for {mismatched}: {counts} vs {ref_counts}")
    print(f"  done B={batch} T={steps} n={n} layers={layers}: "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in times.items()) + f", limit {limit:.2f} ms", flush=True)
    return row


def _triple(text):
    return tuple(int(v) for v in text.split(","))


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=5)
    p.add_argument("--configs", nargs="*", type=_triple, default=None, help="B,T,n triples")
    p.add_argument("--layers", nargs="*", type=int, default=[1, 3], help="network depths (1 and 3)")
    p.add_argument("--compile", nargs="*", type=_triple, default=None,
                   help="configurations (B,T,n) with the spikax_torch compile=True column (default: the smallest)")
    p.add_argument("--no-sweep", action="store_true", help="skip the T, B and n sweeps")
    p.add_argument("--no-peers", action="store_true", help="only spikax, the bare scan and the limit")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch intra-op threads (default: the cores, or 1 when the machine is busy)")
    args = p.parse_args(argv)
    configs = args.configs or ([(2, 20, 16)] if args.quick else list(CONFIGS))
    BANDWIDTH_MIB[0] = 4 if args.quick else 64
    compile_at = set(args.compile if args.compile is not None else ([] if args.quick else [min(CONFIGS)]))
    skipped, peers = [], {}
    if not args.no_peers:
        for module in ("torch", "spikax_torch", "snntorch", "spikingjelly", "spyx"):
            peers[module] = _common.optional(module, skipped)
        peers["norse"] = _common.optional("norse.torch", skipped)
        if peers.get("spikingjelly") is not None:
            peers["spikingjelly"] = _common.optional("spikingjelly.activation_based.neuron", skipped)
        if peers.get("torch") is not None:
            _common.set_torch_threads(peers["torch"], args.torch_threads)
    all_columns = ("spikax", "spikax_torch", "snnTorch", "Norse", "SpikingJelly", "Spyx")
    rows = []
    for layers in args.layers:
        for batch, steps, n in configs:
            repeats = 1 if args.quick else max(2, min(args.repeats, int(4e9 / (layers * batch * steps * n * n)) + 2))
            rows.append(measure(batch, steps, n, layers, repeats, peers, columns=all_columns,
                                compile_torch=(batch, steps, n) in compile_at))
    sweeps = {}
    if not args.no_sweep:
        base = (2, 10, 8) if args.quick else SWEEP_BASE
        values = {"T": (10, 20), "B": (2, 4), "n": (8, 16)} if args.quick else SWEEPS
        for axis, points in values.items():
            sweeps[axis] = []
            for v in points:
                batch, steps, n = (v if axis == "B" else base[0], v if axis == "T" else base[1], v if axis == "n" else base[2])
                sweeps[axis].append(measure(batch, steps, n, 1, 1 if args.quick else 3, peers, columns=SWEEP_COLUMNS,
                                            compile_torch=False))
    result = {"workload": __doc__.split("\n\n")[1], "rows": rows, "sweeps": sweeps, "skipped": skipped,
              "torch_threads": peers["torch"].get_num_threads() if peers.get("torch") is not None else None}
    return report(result, args.out)


def report(result, out):
    columns = ["spikax", "bare lax.scan", "spikax_torch", "spikax_torch compile", "snnTorch", "Norse", "SpikingJelly", "Spyx"]
    header = ["layers", "B,T,n"] + columns + ["limit", "spikax / best other", "spikax / limit", "counts match"]
    lines = []
    for r in result["rows"]:
        cells = [f"{r['ms'][c]:.2f}" if c in r["ms"] else "—" for c in columns]
        lines.append([r["layers"], f"{r['B']},{r['T']},{r['n']}"] + cells
                     + [f"{r['limit_ms']:.2f}", r.get("spikax_over_best_other"), r.get("spikax_over", {}).get("limit"),
                        "yes" if all(r["counts_match"].values()) else "NO: " + ", ".join(k for k, v in r["counts_match"].items() if not v)])
    md = "Median ms per forward + backward (gradient w.r.t. every W), float32; compile times apart.\n\n"
    md += _common.table(header, lines)
    compiled = [r for r in result["rows"] if "spikax_torch compile" in r["compile_s"]]
    if compiled:
        md += "\n\n`torch.compile` first-call (compile) time: " + ", ".join(
            f"{r['B']},{r['T']},{r['n']} ({r['layers']} layer(s)): {r['compile_s']['spikax_torch compile']:.0f} s" for r in compiled)
    jit = [r for r in result["rows"] if "spikax" in r["compile_s"]]
    if jit:
        md += "\n\nJAX compile (first call minus a timed call): " + ", ".join(
            f"{r['B']},{r['T']},{r['n']}x{r['layers']}: spikax {r['compile_s']['spikax']:.2f} s / bare {r['compile_s']['bare lax.scan']:.2f} s" for r in jit)
    if result["rows"]:
        r0 = result["rows"][0]
        md += f"\n\nMachine limit inputs: GEMM rate {r0['gemm_gflops']:.0f} GFLOP/s at the first configuration, streaming bandwidth {r0['bandwidth_gbs']:.1f} GB/s."
    faulted = [r for r in result["rows"] if r.get("page_faults_per_call")]
    if faulted:
        md += "\n\nMinor page faults per call (fresh 4 KiB pages the compiled step touched): " + ", ".join(
            f"{r['B']},{r['T']},{r['n']}x{r['layers']}: " + " / ".join(f"{k} {v}" for k, v in r["page_faults_per_call"].items())
            for r in faulted) + "."
    md += f"\n\nPyTorch intra-op threads: {result.get('torch_threads')}."
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    stem = "lif_sweep_hugepages" if _common.huge_pages() else "lif_sweep"  # the name `_common.write` gives the run
    plots = []
    for axis, rows in result["sweeps"].items():
        md += f"\n\n### Sweep over {axis} (one layer; others at {SWEEP_BASE})\n\n"
        names = [c for c in SWEEP_COLUMNS if any(c in r["ms"] for r in rows)] + ["limit"]
        md += _common.table([axis] + names, [[r[axis]] + [r["ms"].get(c) if c != "limit" else r["limit_ms"] for c in names]
                                             for r in rows])
        series = {c: ([r[axis] for r in rows], [r["ms"].get(c) if c != "limit" else r["limit_ms"] for r in rows])
                  for c in names}
        path = _common.plot(folder / f"{stem}_{axis}.png", f"LIF layer fwd+bwd vs {axis}", axis, series)
        if path:
            plots.append(path)
            md += f"\n\n![sweep over {axis}]({stem}_{axis}.png)"
    result["plots"] = plots
    return _common.write("lif_sweep", out, result, md)


if __name__ == "__main__":
    main()
