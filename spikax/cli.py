"""The `spikax` command: `spikax train TASK [--method ...] [--epochs N] ...`.

Each sub-command is registered in `COMMANDS` (see there): a function that adds its parser and
names the function that runs it. Errors inside a command print one `spikax COMMAND: error: ...`
line (the full traceback with `--debug`).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import tempfile
import time

from ._argtypes import number_type
from ._bench_cli import add_bench_parser
from .io._cli import add_export_parser

USAGE_EXAMPLE = "example: spikax train randman   (trains a spiking network on random manifolds in about a minute)"


class CommandError(Exception):
    """An error a command reports as one `spikax COMMAND: error: ...` line (no traceback)."""


_positive_int = number_type(int, lambda v: v >= 1, "a whole number >= 1")
_seed = number_type(int, lambda v: v >= 0, "a whole number >= 0")
_positive_float = number_type(float, lambda v: v > 0 and math.isfinite(v), "a positive, finite number")
_fraction = number_type(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def _common_options() -> argparse.ArgumentParser:
    """Options every command takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return common


# -- spikax train -----------------------------------------------------------------------------

def _add_train(commands, common) -> None:
    from .training import methods, tasks

    task_list = "\n".join(f"  {name:12s} {text}" for name, text in tasks().items())
    method_list = "\n".join(f"  {name:12s} {text}" for name, text in methods().items())
    train = commands.add_parser(
        "train", help="train a spiking network on a named task", parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a spiking network on a named task, print progress and the test accuracy, and save "
                    "the model, its training history and a plot of the training curves. A share of the training "
                    "data (--val-fraction) is held out for validation: it selects the model (with --patience) and "
                    "the test set is scored once, on the model that is saved. A checkpoint is written after every "
                    "epoch and on Ctrl-C; continue an interrupted run with --resume.",
        epilog=f"tasks:\n{task_list}\n\nmethods:\n{method_list}\n\n{USAGE_EXAMPLE}")
    train.add_argument("task", metavar="TASK", help="one of: " + ", ".join(tasks()))
    # Settings default to None so that --resume can tell the flags given from those of the saved run.
    train.add_argument("--method", default=None, help="gradient method (default: bptt); see the list below")
    train.add_argument("--epochs", type=_positive_int, help="passes over the training set (default: per task)")
    train.add_argument("--batch-size", type=_positive_int, help="examples per step (default: per task)")
    train.add_argument("--lr", type=_positive_float, help="Adam learning rate (default: per task)")
    train.add_argument("--schedule", choices=("constant", "cosine"), default=None,
                       help="learning-rate schedule: constant, or cosine decay to 0 over the run (default: per task)")
    train.add_argument("--seed", type=_seed, default=None, help="seed for the initial weights and shuffling (default 0)")
    train.add_argument("--out", default=None, help="output folder (default: ./spikax-runs/TASK)")
    train.add_argument("--data", default=None, metavar="DIR",
                       help="folder with the data sets (default: $SPIKAX_DATA, else the download cache)")
    train.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                       help="use at most N training and N test examples, for quick runs: a fixed subset of the same "
                            "data with every class in it (the first examples of each class in turn; MNIST: its "
                            "first N)")
    train.add_argument("--val-fraction", type=_fraction, default=None, metavar="F",
                       help="share of the training data held out (stratified, fixed) to validate on and select the "
                            "model with; 0: none, --patience then watches the training loss (default 0.1)")
    train.add_argument("--truncation", type=_positive_int, default=None, metavar="K",
                       help="truncation length in steps for --method truncated (default 20)")
    train.add_argument("--patience", type=_positive_int, default=None,
                       help="stop when the validation loss has not improved for this many epochs, and keep the "
                            "model of the best epoch")
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run saved in --out (its settings are reused)")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)


# -- registry ---------------------------------------------------------------------------------
# The sub-commands of `spikax`. Each entry is `add(commands, common)`: it adds its parser with
# `commands.add_parser(NAME, parents=[common], ...)` and sets `run=function(args) -> exit status`
# with `set_defaults`. A command reports a user error by raising `CommandError(message)`. To add
# a command (e.g. `spikax export RUN_DIR --nir out.nir`), write such a function and list it here.
COMMANDS = [_add_train, add_export_parser, add_bench_parser]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikax", description="spikax: spiking neural networks in JAX.",
                                     epilog=USAGE_EXAMPLE)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    for add in COMMANDS:
        add(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `spikax` console script; returns the exit status.

    **Example:**

    ```python
    spikax.cli.main(["train", "randman", "--epochs", "1", "--limit", "200", "--out", "run"])  # 0: success
    ```
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except CommandError as error:
        return _fail(args.command, str(error))
    except Exception as error:
        if args.debug:
            raise
        text = " ".join(str(error).split()) or "(no message)"
        return _fail(args.command, f"{type(error).__name__}: {text} (run again with --debug for the full traceback)")


def _fail(command: str, message: str) -> int:
    print(f"spikax {command}: error: {' '.join(message.split())}", file=sys.stderr)  # one line
    return 1


SETTINGS = ("task", "method", "epochs", "batch_size", "learning_rate", "schedule", "seed", "limit", "val_fraction",
            "truncation", "patience")


def _settings(args, task, out: pathlib.Path) -> dict:
    """The run's settings: flags given, else (with --resume) the saved run's, else the defaults."""
    given = {"task": task.name, "method": args.method, "epochs": args.epochs, "batch_size": args.batch_size,
             "learning_rate": args.lr, "schedule": args.schedule, "seed": args.seed, "limit": args.limit,
             "val_fraction": args.val_fraction, "truncation": args.truncation, "patience": args.patience}
    given = {k: v for k, v in given.items() if v is not None}
    defaults = {"method": "bptt", "epochs": task.epochs, "batch_size": task.batch_size,
                "learning_rate": task.learning_rate, "schedule": task.schedule, "seed": 0, "limit": None,
                "val_fraction": 0.1, "truncation": None, "patience": None}
    saved = {}
    if args.resume:
        if not (out / "checkpoints" / "last.eqx").is_file() or not (out / "run.json").is_file():
            raise CommandError(f"--resume: nothing to resume in {out} (no checkpoints/last.eqx and run.json). Pass "
                               "the --out folder of the interrupted run, or start without --resume.")
        saved = json.loads((out / "run.json").read_text())
        clash = [f"{k}: given {given[k]!r}, the saved run has {saved.get(k)!r}" for k in given
                 if k in SETTINGS and given[k] != saved.get(k)]
        if clash:
            raise CommandError("--resume continues the saved run with its own settings, but these differ: "
                               + "; ".join(clash) + ". Drop those flags, or start a new run in another --out folder.")
    return {**defaults, **{k: saved[k] for k in SETTINGS if k in saved}, **given}


def _check_out(out: pathlib.Path) -> None:
    """Fail now, not after training, if the output folder cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise CommandError(f"cannot write to the output folder --out {out}: {error.strerror or error}. Pass --out "
                           "with a folder you can write to.") from error


def _train(args) -> int:
    import equinox as eqx
    import jax

    from . import training
    from ._trainable import trainable

    known = training.tasks()
    if args.task not in known:
        raise CommandError(f"unknown task {args.task!r}. Known tasks: {', '.join(sorted(known))}. "
                           "Run `spikax train --help` for what each one is.")
    if args.method is not None and args.method not in training.methods():
        raise CommandError(f"unknown method {args.method!r}. Known methods: "
                           f"{', '.join(sorted(training.methods()))}.")
    task = training.get_task(args.task)
    out = pathlib.Path(args.out or pathlib.Path("spikax-runs") / task.name)
    run = _settings(args, task, out)
    if run["truncation"] is not None and run["method"] != "truncated":
        raise CommandError("--truncation only applies to --method truncated.")
    _check_out(out)
    options = {"k": run["truncation"]} if run["truncation"] is not None else {}

    start = time.perf_counter()
    try:
        train_data, test_data = task.load(args.data, run["limit"])
    except FileNotFoundError as error:
        raise CommandError(f"the data for task {task.name!r} are missing.\n{error}\nHow to get them: "
                           f"{task.data_help or 'see the task description.'}") from error
    except OSError as error:  # e.g. a corrupt file (wrong checksum, damaged archive)
        raise CommandError(f"cannot read the data for task {task.name!r}: {error}") from error
    load_time = time.perf_counter() - start
    val_data = None
    if run["val_fraction"]:  # a fixed, stratified share of the training data (the same on --resume)
        from .datasets import split

        train_data, val_data = split(*train_data, run["val_fraction"], seed=0)
        if len(val_data[1]) == 0 or len(train_data[1]) == 0:
            raise CommandError(f"--val-fraction {run['val_fraction']} leaves {len(train_data[1])} training and "
                               f"{len(val_data[1])} validation examples; both need some. Use a larger --limit or "
                               "another --val-fraction (0 for none).")
    n_train, n_val = len(train_data[1]), 0 if val_data is None else len(val_data[1])
    batch_size = min(run["batch_size"], n_train)  # a small data set is one batch
    epochs, lr, schedule = run["epochs"], run["learning_rate"], run["schedule"]
    learning_rate = lr
    if schedule == "cosine":
        import optax

        learning_rate = optax.cosine_decay_schedule(lr, epochs * (n_train // batch_size))
    model = task.model(jax.random.key(run["seed"]))
    n_params = sum(leaf.size for leaf in jax.tree_util.tree_leaves(eqx.filter(model, trainable(model))))
    checkpoints = out / "checkpoints"
    print(f"spikax train {task.name}: {task.description}")
    print(f"  data: {n_train} training / {n_val} validation / {len(test_data[1])} test examples, input "
          f"shape {tuple(train_data[0].shape[1:])} (loaded in {load_time:.1f} s)")
    print(f"  model: {n_params} trainable parameters; method {run['method']}; {epochs} epochs, batch {batch_size}, "
          f"Adam lr {lr:g} ({schedule}), seed {run['seed']}; devices: {jax.device_count()} x "
          f"{jax.devices()[0].platform}")
    print(f"  checkpoints: {checkpoints / 'last.eqx'} after every epoch and on Ctrl-C"
          + (" (resuming from it)" if args.resume else ""))
    (out / "run.json").write_text(json.dumps({k: run[k] for k in SETTINGS}, indent=1))
    try:
        model, history = training.fit(
            model, task.loss, train_data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            method=run["method"], method_options=options, val_data=val_data, test_data=test_data, key=jax.random.key(run["seed"]), patience=run["patience"],
            checkpoint_dir=checkpoints, resume_from=checkpoints / "last.eqx" if args.resume else None,
            progress=not args.no_progress)
    except KeyboardInterrupt:
        where = checkpoints / "last.eqx"
        saved = f"progress saved in {where}" if where.is_file() else "nothing saved yet (interrupted in the first epoch)"
        print(f"\nspikax train: interrupted; {saved}. Continue with: spikax train {task.name} --out {out} --resume",
              file=sys.stderr)
        return 130
    train_time = time.perf_counter() - start - load_time
    selected = history.selected_epoch
    test_accuracy = history.test["accuracy"]

    summary = {**{k: run[k] for k in SETTINGS}, "epochs_run": len(history), "batch_size": batch_size,
               "selected_epoch": selected + 1, "stopped_early": history.stopped_early,
               "test_accuracy": test_accuracy, "test_loss": history.test["loss"],
               "train_accuracy": history["accuracy"][selected], "train_seconds": train_time,
               "epoch_train_seconds": history["time"]}
    if "val_accuracy" in history:
        summary["val_accuracy"] = history["val_accuracy"][selected]
        summary["epoch_eval_seconds"] = history["val_time"]
    training.save_checkpoint(out / "model.eqx", model, summary)
    history.save(out / "history.json")
    with open(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    plot = _plot(history, out / "training.png", task.name)
    print(f"test accuracy: {100 * test_accuracy:.2f} % ({task.name}, model of epoch {selected + 1} of "
          f"{len(history)}, {train_time:.1f} s training)")
    print(f"saved: {out / 'model.eqx'}, {out / 'history.json'}" + (f", {plot}" if plot else " (no plot: matplotlib "
                                                                                        "is not installed)"))
    return 0


def _plot(history, path, title):
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = history.plot()
    axes[0].figure.suptitle(f"spikax train {title}")
    axes[0].figure.tight_layout()
    axes[0].figure.savefig(path, dpi=100)
    plt.close(axes[0].figure)
    return path


if __name__ == "__main__":
    sys.exit(main())
