"""`History`: the per-epoch record of a training run."""

from __future__ import annotations

import json
import math
import os


class History:
    """Metrics of a training run, one value per epoch, as returned by [`spikax.training.fit`][].

    Names are the training metrics (`"loss"`, `"accuracy"`, ...), the evaluation metrics with a
    `val_` prefix, `"time"` (seconds of training in the epoch, compilation included) and
    `"val_time"` (seconds of evaluation).

    **Example:**

    ```python
    model, history = spikax.training.fit(model, loss_fn, (x, y), epochs=3)
    history["loss"]          # [0.9, 0.5, 0.3]
    history.best("val_accuracy")  # (epoch index, value)
    history.plot()           # training curves (needs matplotlib)
    ```
    """

    def __init__(self, records: dict[str, list[float]] | None = None):
        self._records: dict[str, list[float]] = {k: [float(v) for v in vs] for k, vs in (records or {}).items()}
        self.stopped_early: bool = False
        self.best_epoch: int | None = None

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

        records = {k: v for k, v in self._records.items() if include_time or not k.endswith("time")}
        if not records:
            raise ValueError("`spikax.training.History.plot`: the history is empty; train for at least one epoch.")
        axes = plotting.training_curves(records, ax=ax)
        for a in axes:
            a.set_xlabel("epoch")
        return axes

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (NaN written as null)."""
        data = {"records": {k: [None if math.isnan(v) else v for v in vs] for k, vs in self._records.items()},
                "stopped_early": self.stopped_early, "best_epoch": self.best_epoch}
        with open(path, "w") as f:
            json.dump(data, f, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by [`spikax.training.History.save`][]."""
        with open(path) as f:
            data = json.load(f)
        history = cls({k: [math.nan if v is None else v for v in vs] for k, vs in data["records"].items()})
        history.stopped_early = bool(data.get("stopped_early", False))
        history.best_epoch = data.get("best_epoch")
        return history

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self._records.items() if v)
        return f"History({len(self)} epochs{': ' + last if last else ''})"


def _mode(name: str) -> str:
    return "max" if "acc" in name.lower() else "min"
