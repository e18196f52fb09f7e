"""The `spikax export RUN_DIR --nir out.nir` command: a trained run's model as a NIR file."""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import warnings

from .._argtypes import number_type


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise argparse.ArgumentTypeError(f"expected a shape such as 2,34,34, got {text!r}")
    return shape


_dt = number_type(float, lambda v: v > 0 and math.isfinite(v), "a positive time step in seconds")


def add_export_parser(commands, common) -> None:
    """Add `spikax export` to the `spikax` command's sub-parsers (the registry entry of `spikax.cli`)."""
    export = commands.add_parser(
        "export", help="write the model of a `spikax train` run as a NIR file", parents=[common],
        description="Write the model saved by `spikax train` in RUN_DIR (model.eqx and run.json) as a NIR graph, "
                    "the exchange format of snnTorch, Norse, Lava/Loihi 2, SpiNNaker 2, Xylo and Speck. Neurons "
                    "that reset by subtraction are written with v_reset = 0 (NIR has no subtract reset) and a "
                    "warning; pass --reset-policy error to refuse them.",
        epilog="example: spikax export spikax-runs/braille --nir braille.nir")
    export.add_argument("run_dir", metavar="RUN_DIR", help="output folder of `spikax train` (holds model.eqx)")
    export.add_argument("--nir", required=True, metavar="FILE", help="the NIR file to write")
    export.add_argument("--dt", type=_dt, default=None,
                        help="time step in seconds written into the graph (default 1e-4, NIR's common value)")
    export.add_argument("--input-shape", type=_shape, default=None, metavar="SHAPE",
                        help="one sample's input shape, e.g. 2,34,34 (default: from the first dense layer)")
    export.add_argument("--reset-policy", choices=("warn", "error", "ignore"), default="warn",
                        help="what to do with neurons that reset by subtraction (default: warn)")
    export.set_defaults(run=export_command)


def export_command(args) -> int:
    """Handler of `spikax export`: rebuild the run's model, load its weights and write the NIR file."""
    import jax

    from ..cli import CommandError
    from ..training import get_task, load_checkpoint, tasks
    from ._nir import DEFAULT_DT, save_nir

    run_dir = pathlib.Path(args.run_dir)
    settings, weights = run_dir / "run.json", run_dir / "model.eqx"
    if not settings.is_file() or not weights.is_file():
        raise CommandError(f"{run_dir} is not a finished `spikax train` run (it needs run.json and model.eqx). Pass "
                           "the --out folder of a completed `spikax train TASK` run.")
    run = json.loads(settings.read_text())
    if run.get("task") not in tasks():
        raise CommandError(f"{settings} names the task {run.get('task')!r}, which this spikax does not know.")
    task = get_task(run["task"])
    model = load_checkpoint(weights, like=task.model(jax.random.key(int(run.get("seed", 0)))))
    dt = DEFAULT_DT if args.dt is None else args.dt
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            graph = save_nir(args.nir, model, dt=dt, input_shape=args.input_shape, reset_policy=args.reset_policy)
        except ValueError as error:
            raise CommandError(str(error)) from error
    for warning in caught:
        print(f"spikax export: warning: {' '.join(str(warning.message).split())}")
    print(f"wrote {args.nir}: {len(graph.nodes)} NIR nodes, dt = {dt:g} s (task {task.name}, from {weights})")
    return 0
