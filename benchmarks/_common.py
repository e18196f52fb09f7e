"""What every benchmark of the suite shares: the machine, timing, optional peers, and the result files.

Each benchmark module has `main(argv) -> dict` taking at least `--quick` (tiny sizes, for the
smoke test), `--repeats` and `--out` (a folder; default `benchmarks/results/`). It writes
`NAME.json` (every number, the machine, notes) and `NAME.md` (the table(s)), and a plot
`NAME*.png` where it has one.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import platform
import resource
import statistics
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the repository's packages first

RESULTS = REPO / "benchmarks" / "results"
# glibc's allocator returns large blocks to the kernel and gets fresh (zeroed, 4 KiB) pages for them on the next
# call; a compiled JAX step allocates its temporaries anew per call, so every call pays a page fault per 4 KiB of
# them. With this tunable (glibc >= 2.35, set before Python starts) malloc asks for transparent huge pages instead.
# See docs/performance.md ("Memory: page faults per call"). Results of runs with it get the suffix `_hugepages`.
HUGEPAGES_TUNABLE = "glibc.malloc.hugetlb=1"
SHARED_NOTE = ("Measured on a shared machine (other jobs running, load average above the core count): absolute "
               "times are unreliable; ratios from the same run are the numbers to read.")


def parser(description: str, *, repeats: int = 5) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test of the benchmark")
    p.add_argument("--repeats", type=int, default=repeats, help="timed calls after the warm-up (median reported)")
    p.add_argument("--out", default=str(RESULTS), help="folder for the JSON, markdown and plots")
    return p


def machine() -> dict:
    """The CPU model, cores, load and library versions."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "equinox", "spikax", "torch", "norse", "snntorch", "spikingjelly", "spyx", "grain",
                 "numpy"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    load = os.getloadavg()
    cores = os.cpu_count()
    return {"cpu": cpu, "cores": cores, "load_average": [round(x, 2) for x in load], "versions": versions,
            "platform": platform.platform(), "shared": load[0] > 0.5 * (cores or 1),
            "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", "")}


def huge_pages() -> bool:
    """Whether this process runs with glibc's malloc on transparent huge pages (`GLIBC_TUNABLES`)."""
    return HUGEPAGES_TUNABLE in os.environ.get("GLIBC_TUNABLES", "")


def page_faults(fn) -> int:
    """Minor page faults (fresh memory pages touched) during one call of `fn`."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def describe(info: dict) -> str:
    v = ", ".join(f"{k} {x}" for k, x in info["versions"].items())
    tunables = info.get("GLIBC_TUNABLES")
    return (f"{info['cpu']}, {info['cores']} cores, load average {info['load_average']} "
            f"({'shared' if info['shared'] else 'idle'}); {v}; "
            + (f"GLIBC_TUNABLES={tunables}" if tunables else "default glibc malloc (no GLIBC_TUNABLES)"))


def timed(fn, repeats: int):
    """`(first_output, first_call_s, median_s, all_s)`: one warm-up call (compilation), then `repeats` timed calls."""
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return out, first, statistics.median(times), times


def jax_ready(fn):
    import jax

    return lambda: jax.block_until_ready(fn())


def optional(name: str, skipped: list):
    """Import an optional peer, or record why it is skipped (and print it)."""
    try:
        return importlib.import_module(name)
    except Exception as error:  # noqa: BLE001 - any failure to import skips the peer
        message = f"{name}: skipped ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
        print(message, flush=True)
        skipped.append(message)
        return None


def set_torch_threads(torch, requested: int | None = None) -> int:
    """torch intra-op threads: `requested`, else the cores, or 1 on a busy machine (where torch's OpenMP threads
    spinning against other jobs made steps 10-35x slower). JAX keeps its own thread pool."""
    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    torch.set_num_threads(requested or (1 if busy else max(1, os.cpu_count() or 1)))
    return torch.get_num_threads()


def table(header: list[str], rows: list[list]) -> str:
    def cell(x):
        if isinstance(x, float):
            return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"
        return "—" if x is None else str(x)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def write(name: str, out: str, result: dict, markdown: str) -> dict:
    """Write `NAME.json` and `NAME.md` (the markdown headed by the machine), print the markdown."""
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if huge_pages():
        name += "_hugepages"  # kept apart from the default-allocator results
    info = result.setdefault("machine", machine())
    if info["shared"]:
        result.setdefault("notes", []).append(SHARED_NOTE)
    head = f"# {name}\n\nMachine: {describe(info)}.\n"
    if info["shared"]:
        head += f"\n{SHARED_NOTE}\n"
    text = head + "\n" + markdown.strip() + "\n"
    for note in result.get("notes", []):
        if note != SHARED_NOTE:
            text += f"\n- {note}"
    if result.get("skipped"):
        text += "\n\nSkipped: " + "; ".join(result["skipped"]) + "\n"
    (folder / f"{name}.json").write_text(json.dumps(result, indent=2, default=float))
    (folder / f"{name}.md").write_text(text + "\n")
    print(text, flush=True)
    print(f"wrote {folder / (name + '.json')} and {name}.md", flush=True)
    return result


def plot(path: pathlib.Path, title: str, xlabel: str, series: dict, *, logx=True, logy=True, ylabel="ms") -> str | None:
    """A line plot of `{label: (xs, ys)}`; None (and nothing written) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, (xs, ys) in series.items():
        points = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if points:
            ax.plot(*zip(*points), marker="o", label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
