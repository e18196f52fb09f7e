"""Tests of the `spikax` command (run in-process through `spikax.cli.main`)."""

import dataclasses
import json
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import spikax
from spikax import cli, training


def _printed_accuracy(printed: str) -> float:
    return float(re.search(r"test accuracy: ([\d.]+) %", printed).group(1)) / 100


def _saved_model_accuracy(out, limit):
    task = training.get_task("randman")
    model = training.load_checkpoint(out / "model.eqx", like=task.model(jax.random.key(0)))
    _, test = task.load(None, limit)
    return training.evaluate(model, task.loss, test)["accuracy"]


@pytest.mark.standard_promotion  # the command trains with optax's adam
def test_train_randman_small_run_saves_model_history_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    rc = cli.main(["train", "randman", "--limit", "64", "--epochs", "2", "--batch-size", "100", "--seed", "3",
                   "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0
    # 64 training examples, 10 % of each class (rounded) held out for validation; 64 test examples
    assert "54 training / 10 validation / 64 test examples" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["seed"] == 3 and 0 <= summary["test_accuracy"] <= 1
    assert summary["batch_size"] == 54  # clipped to the 54 training examples
    assert f"{100 * summary['test_accuracy']:.2f} %" in printed
    assert (out / "training.png").stat().st_size > 0
    history = training.History.load(out / "history.json")
    assert len(history) == 2 and history.test["accuracy"] == summary["test_accuracy"]
    assert {p.name for p in (out / "checkpoints").iterdir()} == {"last.eqx", "best.eqx", "history.json"}
    # the saved model loads into a freshly built one and reproduces the test accuracy
    assert _saved_model_accuracy(out, 64) == pytest.approx(summary["test_accuracy"])
    assert training.checkpoint_metadata(out / "model.eqx")["task"] == "randman"


@pytest.mark.standard_promotion
@pytest.mark.parametrize("val_fraction", ["0", "0.1"])
def test_early_stopping_prints_stores_and_saves_the_same_model(tmp_path, capsys, val_fraction):
    """With --patience the printed and stored test accuracy were the last epoch's, the saved model the
    best epoch's (8.00 % printed, 14.00 % saved with these flags before the fix; issue 10)."""
    out = tmp_path / "run"
    rc = cli.main(["train", "randman", "--limit", "200", "--epochs", "8", "--batch-size", "50", "--lr", "1",
                   "--patience", "1", "--val-fraction", val_fraction, "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    history = training.History.load(out / "history.json")
    assert _printed_accuracy(printed) == pytest.approx(summary["test_accuracy"], abs=5e-5)
    assert summary["test_accuracy"] == history.test["accuracy"]
    assert _saved_model_accuracy(out, 200) == pytest.approx(summary["test_accuracy"])
    assert summary["selected_epoch"] == history.best_epoch + 1
    assert f"model of epoch {summary['selected_epoch']} of {len(history)}" in printed


def test_an_unwritable_out_folder_fails_before_training(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    out = tmp_path / "file.txt" / "run"
    assert cli.main(["train", "randman", "--limit", "20", "--epochs", "1", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"spikax train: error: cannot write to the output folder --out {out}" in captured.err
    assert "data:" not in captured.out  # nothing was loaded or trained


def _interrupt_after(monkeypatch, n_batches):
    real = spikax.datasets.batches
    count = [0]

    def batches(*arrays, **kwargs):
        for batch in real(*arrays, **kwargs):
            if kwargs.get("shuffle"):
                if count[0] == n_batches:
                    raise KeyboardInterrupt
                count[0] += 1
            yield batch

    monkeypatch.setattr(spikax.datasets, "batches", batches)


@pytest.mark.standard_promotion
def test_ctrl_c_saves_a_checkpoint_and_resume_finishes_the_same_run(tmp_path, capsys, monkeypatch):
    flags = ["--limit", "64", "--epochs", "3", "--batch-size", "16", "--no-progress"]
    assert cli.main(["train", "randman", *flags, "--out", str(tmp_path / "whole")]) == 0
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 4)  # 3 batches an epoch: stop in the second epoch
        assert cli.main(["train", "randman", *flags, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"progress saved in {out / 'checkpoints' / 'last.eqx'}" in err
    assert f"spikax train randman --out {out} --resume" in err
    assert training.checkpoint_metadata(out / "checkpoints" / "last.eqx")["step"] == 1
    assert cli.main(["train", "randman", "--out", str(out), "--resume", "--seed", "5"]) == 1
    assert "seed: given 5, the saved run has 0" in capsys.readouterr().err
    assert cli.main(["train", "randman", "--out", str(out), "--resume", "--no-progress"]) == 0  # its own settings
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["epochs_run"] == 3 and resumed["test_accuracy"] == whole["test_accuracy"]
    assert resumed["test_loss"] == pytest.approx(whole["test_loss"], rel=1e-6)
    assert cli.main(["train", "randman", "--out", str(tmp_path / "new"), "--resume"]) == 1
    assert "nothing to resume" in capsys.readouterr().err


def test_an_error_inside_train_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    def broken_model(key):
        raise RuntimeError("the model cannot be built\nsecond line")

    task = dataclasses.replace(training.get_task("randman"), name="broken", model=broken_model,
                               load=lambda root, limit: ((np.zeros((4, 3, 2)), np.arange(4) % 2),) * 2)
    monkeypatch.setitem(training._tasks._TASKS, "broken", task)
    assert cli.main(["train", "broken", "--val-fraction", "0", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["spikax train: error: RuntimeError: the model cannot be built second line "
                                        "(run again with --debug for the full traceback)"]
    with pytest.raises(RuntimeError, match="the model cannot be built"):
        cli.main(["train", "broken", "--val-fraction", "0", "--out", str(tmp_path), "--debug"])


def test_a_corrupt_braille_file_is_named_in_one_line(tmp_path, capsys):
    (tmp_path / "braille").mkdir()
    (tmp_path / "braille" / "braille_taxel.npz").write_bytes(b"PK\x03\x04 damaged")
    assert cli.main(["train", "braille", "--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spikax train: error: cannot read the data for task 'braille'")
    assert str(tmp_path / "braille" / "braille_taxel.npz") in err[0] and "copy it again" in err[0]


def test_unknown_task_lists_the_known_ones(capsys):
    assert cli.main(["train", "cifar"]) == 1
    err = capsys.readouterr().err
    assert "unknown task 'cifar'" in err and "braille, digits, mnist-conv, mnist-seq, randman" in err


def test_unknown_method_lists_the_known_ones(capsys):
    assert cli.main(["train", "randman", "--method", "magic"]) == 1
    err = capsys.readouterr().err
    assert "unknown method 'magic'" in err and "bptt" in err and "truncated" in err


def test_truncation_needs_the_truncated_method(capsys):
    assert cli.main(["train", "randman", "--truncation", "5"]) == 1
    assert "--truncation only applies to --method truncated" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs: expected a whole number >= 1, got 0"),
    (["--epochs", "ten"], "--epochs: expected a whole number >= 1, got 'ten'"),
    (["--batch-size", "-4"], "--batch-size: expected a whole number >= 1, got -4"),
    (["--lr", "0"], "--lr: expected a positive, finite number, got 0"),
    (["--lr", "nan"], "--lr: expected a positive, finite number, got nan"),
    (["--seed", "-1"], "--seed: expected a whole number >= 0, got -1"),
])
def test_bad_numbers_are_refused(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "randman", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPIKAX_CACHE", str(tmp_path / "cache"))
    assert cli.main(["train", "braille", "--data", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "the data for task 'braille' are missing" in err
    assert str(tmp_path / "nowhere" / "braille" / "braille_taxel.npz") in err  # where it looked
    assert "How to get them:" in err and "--data DIR" in err


def test_console_script_help():
    proc = subprocess.run([sys.executable, "-m", "spikax.cli", "train", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    for name in ("randman", "digits", "mnist-conv", "mnist-seq", "braille", "bptt", "checkpointed", "--epochs",
                 "--val-fraction", "--resume", "--debug"):
        assert name in proc.stdout
    assert "same data with every class" in " ".join(proc.stdout.split())  # what --limit keeps
