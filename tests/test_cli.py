"""Tests of the `spikax` command (run in-process through `spikax.cli.main`)."""

import json
import subprocess
import sys

import jax
import pytest

from spikax import cli, training


@pytest.mark.standard_promotion  # the command trains with optax's adam
def test_train_randman_small_run_saves_model_history_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    rc = cli.main(["train", "randman", "--limit", "64", "--epochs", "2", "--batch-size", "100", "--seed", "3",
                   "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "test accuracy:" in printed and "64 training / 64 test examples" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["seed"] == 3 and 0 <= summary["test_accuracy"] <= 1
    assert summary["batch_size"] == 64  # clipped to the 64 training examples
    assert f"{100 * summary['test_accuracy']:.2f} %" in printed
    assert (out / "training.png").stat().st_size > 0
    history = training.History.load(out / "history.json")
    assert len(history) == 2 and history["val_accuracy"][-1] == summary["test_accuracy"]
    # the saved model loads into a freshly built one and reproduces the test accuracy
    task = training.get_task("randman")
    model = training.load_checkpoint(out / "model.eqx", like=task.model(jax.random.key(0)))
    _, test = task.load(None, 64)
    assert training.evaluate(model, task.loss, test)["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert training.checkpoint_metadata(out / "model.eqx")["task"] == "randman"


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
    for name in ("randman", "digits", "mnist-conv", "mnist-seq", "braille", "bptt", "checkpointed", "--epochs"):
        assert name in proc.stdout
