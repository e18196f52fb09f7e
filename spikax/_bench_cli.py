"""`spikax bench NAME [options]`: run a benchmark of the suite in the repository's `benchmarks/` folder."""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys


def add_bench_parser(commands, common) -> None:
    """Register `spikax bench` (see `spikax.cli.COMMANDS`)."""
    bench = commands.add_parser(
        "bench", help="run a benchmark of the suite (from a checkout of the repository)", parents=[common],
        description="Run one benchmark of spikax's suite (or `all`), as `python -m benchmarks NAME` does; it writes "
                    "JSON, a markdown table and plots to benchmarks/results/. The suite lives in the repository's "
                    "benchmarks/ folder, so this works from a checkout. Options after NAME go to the benchmark "
                    "(e.g. --quick).",
        epilog="example: spikax bench lif_sweep --quick")
    bench.add_argument("name", metavar="NAME", help="a benchmark name, `all`, or `list`")
    bench.add_argument("options", nargs=argparse.REMAINDER, help="options of the benchmark (e.g. --quick)")
    bench.set_defaults(run=_bench)


def _suite():
    """The `benchmarks` package of the checkout spikax was imported from, or None."""
    root = pathlib.Path(__file__).resolve().parents[1]
    if (root / "benchmarks" / "__main__.py").is_file() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module("benchmarks.__main__")
    except ImportError:
        return None


def _bench(args) -> int:
    from .cli import CommandError

    suite = _suite()
    if suite is None:
        raise CommandError(
            "the benchmark suite (the repository's benchmarks/ folder) is not importable here: spikax was installed "
            "without it. Run `spikax bench` from a checkout of the spikax repository (or `python -m benchmarks NAME` "
            "in its root)."
        )
    if args.name == "list":
        print(suite.usage())
        return 0
    if args.name != "all" and args.name not in suite.SUITE:
        raise CommandError(f"unknown benchmark {args.name!r}; choose one of {', '.join(suite.SUITE)}, or all.")
    return suite.main([args.name, *args.options])
