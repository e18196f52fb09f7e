"""`python -m benchmarks NAME [options]`: run one benchmark of the suite, or `all` of them.

Each writes `NAME.json` and `NAME.md` (and plots) into `benchmarks/results/` (or `--out`).
`python -m benchmarks all --quick` runs every one at tiny sizes (a smoke test).
"""

from __future__ import annotations

import importlib
import sys
import time

# name -> (module, one-line description)
SUITE = {
    "lif_sweep": ("lif_sweep", "LIF layer and 3-layer network fwd+bwd: spikax vs peers, bare scan, machine limit"),
    "smnist": ("smnist", "sequential MNIST BPTT epoch: spikax vs spikax_torch"),
    "conv_mnist": ("conv_mnist", "convolutional SNN on MNIST: time per epoch and accuracy, spikax vs spikax_torch"),
    "threshold": ("threshold", "threshold implementations: custom_jvp, custom_vjp, stop_gradient, jax.nn"),
    "sparse": ("sparse", "sparse vs dense spike propagation at 50-99.9 % sparsity"),
    "data_loading": ("data_loading", "NumPy batch iterator vs torch DataLoader vs Grain feeding a jitted step"),
    "state_style": ("state_style", "state fed in vs spikax.network.Stateful; scan per layer vs whole network"),
    "parallel": ("parallel", "spikax.Parallel (associative scan, fixed point) vs the sequential scan over T"),
}


def usage() -> str:
    lines = ["usage: python -m benchmarks NAME [--quick] [--repeats N] [--out DIR] [options of NAME]", "", "NAME:"]
    lines += [f"  {name:13s} {text}" for name, (_, text) in SUITE.items()]
    lines += ["  all           every one of them, one after the other (options go to each)"]
    return "\n".join(lines)


def run(name: str, argv: list[str]) -> dict:
    module = importlib.import_module(f"benchmarks.{SUITE[name][0]}")
    return module.main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name != "all" and name not in SUITE:
        print(f"python -m benchmarks: unknown benchmark {name!r}; choose one of {', '.join(SUITE)} or all.",
              file=sys.stderr)
        return 2
    names = list(SUITE) if name == "all" else [name]
    failed = []
    for one in names:
        start = time.perf_counter()
        print(f"\n=== {one} ===", flush=True)
        try:
            run(one, rest)
        except Exception as error:  # noqa: BLE001 - `all` reports a failing benchmark and carries on
            if name != "all":
                raise
            failed.append(one)
            print(f"{one} failed: {type(error).__name__}: {error}", file=sys.stderr)
        print(f"=== {one}: {time.perf_counter() - start:.0f} s ===", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
