"""`History`: the per-epoch record of a training run."""

from __future__ import annotations

import json
import math
import os


class History:
    """Metrics of a training run, one value per epoch, as returned by [`spikax.training.fit`][].

    Names are the training metrics (`"loss"`, `"accuracy"`, ...), the validation metrics with a
    `val_` prefix, `"time"` (seconds of training in the epoch, compilation included),
    `"val_time"` (seconds of evaluation) and, with `on_nonfinite="skip"`, `"skipped"` (batches
    skipped for a non-finite loss or gradient). `best_epoch` is the epoch with the best monitored
    value, `selected_epoch` the epoch whose model `fit` returned, and `test` the metrics of that
    model on `fit`'s `test_data` (a dict, or None).

    **Example:**

    ```python
    history = spikax.training.History()   # `fit` returns one; here filled by hand
    for loss, accuracy in [(0.9, 0.6), (0.5, 0.8), (0.6, 0.75)]:
        history.append({"loss": loss, "val_accuracy": accuracy})
    history["loss"]          # [0.9, 0.5, 0.6]
    history.best("val_accuracy")  # (1, 0.8): epoch index and value
    history.plot()           # training curves (needs matplotlib)
    ```
    """

    def __init__(self, records: dict[str, list[float]] | None = None):
        self._records: dict[str, list[float]] = {k: [float(v) for v in vs] for k, vs in (records or {}).items()}
        self.stopped_early: bool = False
        self.best_epoch: int | None = None
        # The epoch whose model `fit` returned (the best one when it was restored), and that model's
        # metrics on `fit`'s `test_data` (None without test data).
        self.selected_epoch: int | None = None
        self.test: dict[str, float] | None = None

    def append(self, metrics: dict[str, float]) -> None:
        """Add one epoch's metrics (names missing in earlier epochs are padded with NaN)."""
        n = len(self)
        for name, value in metrics.items():
            self._records.setdefault(name, [math.nan] * n).append(float(value))
        for name, values in self._records.items():
            if len(values) < n + 1:
                values.append(math.nan)

    def __len__(self) -> int:
        return max((len(v) for v in self._records.values()), default=0)

    def __getitem__(self, name: str) -> list[float]:
        if name not in self._records:
            raise KeyError(f"`spikax.training.History`: no metric {name!r}; recorded: {sorted(self._records)}.")
        return list(self._records[name])

    def __contains__(self, name: str) -> bool:
        return name in self._records

    def keys(self):
        """The recorded metric names."""
        return self._records.keys()

    def as_dict(self) -> dict[str, list[float]]:
        """A copy of the records, `{name: [value per epoch]}`."""
        return {k: list(v) for k, v in self._records.items()}

    def best(self, name: str, mode: str | None = None) -> tuple[int, float]:
        """`(epoch, value)` of the best value of `name`: the largest for accuracies, else the smallest.

        **Arguments:**

        - `name`: a recorded metric.
        - `mode`: `"max"` or `"min"`; default from the name (`"max"` if it contains "acc").
        """
        values = self[name]
        mode = mode or _mode(name)
        finite = [(i, v) for i, v in enumerate(values) if not math.isnan(v)]
        if not finite:
            raise ValueError(f"`spikax.training.History.best`: metric {name!r} has no finite values.")
        pick = max if mode == "max" else min
        return pick(finite, key=lambda iv: iv[1])

    def plot(self, ax=None, *, include_time: bool = False):
        """Training curves: losses on one panel, accuracies on another.

        Uses [`spikax.plotting.training_curves`][] (needs matplotlib).

        **Arguments:**

        - `ax`: matplotlib axes to draw on (default: a new figure).
        - `include_time`: also draw the epoch times.

        **Returns:**

        The list of axes used.
        """
        from .. import plotting

        records = {k: v for k, v in self._records.items()
                   if k != "skipped" and (include_time or not k.endswith("time"))}  # counts are not curves
        if not records:
            raise ValueError("`spikax.training.History.plot`: the history is empty; train for at least one epoch.")
        axes = plotting.training_curves(records, ax=ax)
        for a in axes:
            a.set_xlabel("epoch")
        return axes

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (NaN written as null)."""
        with open(path, "w") as f:
            json.dump(self._to_json(), f, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by [`spikax.training.History.save`][]."""
        with open(path) as f:
            return cls._from_json(json.load(f))

    def _to_json(self) -> dict:
        return {"records": {k: [None if math.isnan(v) else v for v in vs] for k, vs in self._records.items()},
                "stopped_early": self.stopped_early, "best_epoch": self.best_epoch,
                "selected_epoch": self.selected_epoch, "test": self.test}

    @classmethod
    def _from_json(cls, data: dict) -> History:
        history = cls({k: [math.nan if v is None else v for v in vs] for k, vs in data["records"].items()})
        history.stopped_early = bool(data.get("stopped_early", False))
        history.best_epoch = data.get("best_epoch")
        history.selected_epoch = data.get("selected_epoch")
        history.test = data.get("test")
        return history

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self._records.items() if v)
        return f"History({len(self)} epochs{': ' + last if last else ''})"


def _mode(name: str) -> str:
    return "max" if "acc" in name.lower() else "min"
