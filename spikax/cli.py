"""The `spikax` command: `spikax train TASK [--method ...] [--epochs N] ...`."""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

USAGE_EXAMPLE = "example: spikax train randman   (trains a spiking network on random manifolds in about a minute)"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive, finite number, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    from .training import methods, tasks

    parser = argparse.ArgumentParser(prog="spikax", description="spikax: spiking neural networks in JAX.",
                                     epilog=USAGE_EXAMPLE)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    task_list = "\n".join(f"  {name:12s} {text}" for name, text in tasks().items())
    method_list = "\n".join(f"  {name:12s} {text}" for name, text in methods().items())
    train = commands.add_parser(
        "train", help="train a spiking network on a named task",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a spiking network on a named task, print progress and the test accuracy, and save "
                    "the model, its training history and a plot of the training curves.",
        epilog=f"tasks:\n{task_list}\n\nmethods:\n{method_list}\n\n{USAGE_EXAMPLE}")
    train.add_argument("task", metavar="TASK", help="one of: " + ", ".join(tasks()))
    train.add_argument("--method", default="bptt", help="gradient method (default: bptt); see the list below")
    train.add_argument("--epochs", type=_positive_int, help="passes over the training set (default: per task)")
    train.add_argument("--batch-size", type=_positive_int, help="examples per step (default: per task)")
    train.add_argument("--lr", type=_positive_float, help="Adam learning rate (default: per task)")
    train.add_argument("--schedule", choices=("constant", "cosine"), default=None,
                       help="learning-rate schedule: constant, or cosine decay to 0 over the run (default: per task)")
    train.add_argument("--seed", type=_seed, default=0, help="seed for the initial weights and shuffling (default 0)")
    train.add_argument("--out", default=None, help="output folder (default: ./spikax-runs/TASK)")
    train.add_argument("--data", default=None, metavar="DIR",
                       help="folder with the data sets (default: $SPIKAX_DATA, else the download cache)")
    train.add_argument("--limit", type=_positive_int, default=None,
                       help="use only the first N training and N test examples (quick runs)")
    train.add_argument("--truncation", type=_positive_int, default=None, metavar="K",
                       help="truncation length in steps for --method truncated (default 20)")
    train.add_argument("--patience", type=_positive_int, default=None,
                       help="stop when the training loss has not improved for this many epochs")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `spikax` console script; returns the exit status.

    **Example:**

    ```python
    spikax.cli.main(["train", "randman", "--epochs", "1"])
    ```
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "train":
        return _train(parser, args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
    return 2


def _fail(message: str) -> int:
    print(f"spikax train: error: {message}", file=sys.stderr)
    return 1


def _train(parser, args) -> int:
    import equinox as eqx
    import jax

    from . import training
    from ._trainable import trainable

    known = training.tasks()
    if args.task not in known:
        return _fail(f"unknown task {args.task!r}. Known tasks: {', '.join(sorted(known))}. "
                     "Run `spikax train --help` for what each one is.")
    if args.method not in training.methods():
        return _fail(f"unknown method {args.method!r}. Known methods: {', '.join(sorted(training.methods()))}.")
    if args.truncation is not None and args.method != "truncated":
        return _fail("--truncation only applies to --method truncated.")
    task = training.get_task(args.task)
    epochs = args.epochs or task.epochs
    batch_size = args.batch_size or task.batch_size
    lr = args.lr or task.learning_rate
    out = pathlib.Path(args.out or pathlib.Path("spikax-runs") / task.name)
    options = {"k": args.truncation} if args.truncation is not None else {}

    start = time.perf_counter()
    try:
        train_data, test_data = task.load(args.data, args.limit)
    except FileNotFoundError as error:
        return _fail(f"the data for task {task.name!r} are missing.\n{error}\nHow to get them: "
                     f"{task.data_help or 'see the task description.'}")
    except OSError as error:  # e.g. a corrupt file (wrong checksum)
        return _fail(f"cannot read the data for task {task.name!r}: {error}")
    load_time = time.perf_counter() - start
    batch_size = min(batch_size, len(train_data[1]))  # a small data set is one batch
    schedule = args.schedule or task.schedule
    learning_rate = lr
    if schedule == "cosine":
        import optax

        learning_rate = optax.cosine_decay_schedule(lr, epochs * (len(train_data[1]) // batch_size))
    model = task.model(jax.random.key(args.seed))
    n_params = sum(leaf.size for leaf in jax.tree_util.tree_leaves(eqx.filter(model, trainable(model))))
    print(f"spikax train {task.name}: {task.description}")
    print(f"  data: {len(train_data[1])} training / {len(test_data[1])} test examples, input shape "
          f"{tuple(train_data[0].shape[1:])} (loaded in {load_time:.1f} s)")
    print(f"  model: {n_params} trainable parameters; method {args.method}; {epochs} epochs, batch {batch_size}, "
          f"Adam lr {lr:g} ({schedule}), seed {args.seed}; devices: {jax.device_count()} x {jax.devices()[0].platform}")
    try:
        model, history = training.fit(
            model, task.loss, train_data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            method=args.method, method_options=options, eval_data=test_data, key=jax.random.key(args.seed),
            patience=args.patience, monitor="loss", progress=not args.no_progress)
    except ValueError as error:
        if not str(error).startswith("`spikax"):  # not a user error: a bug, show the traceback
            raise
        return _fail(str(error))
    train_time = time.perf_counter() - start - load_time
    test_accuracy = history["val_accuracy"][-1]

    out.mkdir(parents=True, exist_ok=True)
    summary = {"task": task.name, "method": args.method, "epochs": len(history), "batch_size": batch_size,
               "learning_rate": lr, "schedule": schedule, "seed": args.seed, "limit": args.limit, "test_accuracy": test_accuracy,
               "test_loss": history["val_loss"][-1], "train_accuracy": history["accuracy"][-1],
               "train_seconds": train_time, "epoch_train_seconds": history["time"],
               "epoch_eval_seconds": history["val_time"]}
    training.save_checkpoint(out / "model.eqx", model, summary)
    history.save(out / "history.json")
    with open(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    plot = _plot(history, out / "training.png", task.name)
    print(f"test accuracy: {100 * test_accuracy:.2f} % ({task.name}, {len(history)} epochs, "
          f"{train_time:.1f} s training)")
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
