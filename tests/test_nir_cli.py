"""`spikax export RUN_DIR --nir out.nir`: the model of a `spikax train` run, as a NIR file."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spikax
from spikax import cli, training

pytest.importorskip("nir")


def _fake_run(tmp_path, task_name="randman"):
    """A run folder as `spikax train` leaves it: run.json and model.eqx (weights of a seed-1 model)."""
    task = training.get_task(task_name)
    model = task.model(jax.random.key(1))
    training.save_checkpoint(tmp_path / "model.eqx", model)
    (tmp_path / "run.json").write_text(json.dumps({"task": task_name, "seed": 0}))
    return model


def test_export_writes_the_trained_model(tmp_path, capsys):
    model = _fake_run(tmp_path)
    out = tmp_path / "model.nir"
    assert cli.main(["export", str(tmp_path), "--nir", str(out), "--dt", "1e-3"]) == 0
    assert "wrote" in capsys.readouterr().out
    again = spikax.io.load_nir(out)
    assert float(spikax.io._nir._nir().read(out).metadata["dt"]) == 1e-3
    shape = (model.layers[0].connection.weight.shape[1],)
    xs = jnp.asarray(np.random.default_rng(0).random((30,) + shape) < 0.3, jnp.float64)
    want = spikax.run(model, model.init_state(shape), xs)[1]
    got = spikax.run(again, again.init_state(shape), xs)[1]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-9)  # the saved weights, not seed 0's


def test_export_reports_a_missing_run(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "nothing"), "--nir", str(tmp_path / "x.nir")]) == 1
    assert "not a finished `spikax train` run" in capsys.readouterr().err
