"""`spikax_torch.io`: the torch twin of every exported graph gives spikax's spikes (NIR test 7)."""

import sys
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import spikax
import spikax_torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import test_nir  # noqa: E402  (the models of the spikax NIR tests)

pytest.importorskip("nir")
DT = 1e-4


def _torch_run(model, xs):
    state, ys = spikax_torch.run(model, None, torch.from_numpy(np.asarray(xs, np.float64))[:, None])
    return ys[:, 0].detach().numpy()


def _jax_run(model, xs):
    return np.asarray(spikax.run(model, model.init_state(xs.shape[1:]), jnp.asarray(xs))[1])


@pytest.mark.parametrize("case", ["dense_lif_li", "cuba_if_linear", "reset_free", "recurrent", "conv", "delays",
                                  "graph_skip_feedback"])
def test_torch_twin_of_exported_graph_gives_the_same_spikes(case, getkey):
    model, shape = test_nir.built_models()[case]
    graph = spikax.io.to_nir(model, dt=DT, input_shape=shape)
    xs = test_nir._inputs(getkey(), shape)
    twin = spikax_torch.io.from_nir(graph, dtype="float64")
    np.testing.assert_allclose(_torch_run(twin, xs), _jax_run(spikax.io.from_nir(graph), xs), atol=1e-9)  # LI: voltages


def test_torch_export_matches_spikax_export(getkey):
    model, _ = test_nir.built_models()["recurrent"]
    twin = spikax_torch.convert.from_spikax(model)
    a, b = spikax.io.to_nir(model, dt=DT), spikax_torch.io.to_nir(twin, dt=DT)
    assert sorted(a.nodes) == sorted(b.nodes) and sorted(a.edges) == sorted(b.edges)
    np.testing.assert_array_equal(a.nodes["0"].nodes["lif"].tau_syn, b.nodes["0"].nodes["lif"].tau_syn)


@pytest.mark.parametrize("name", ["lif_norse.nir", "braille_noDelay_bias_zero.nir", "cnn_sinabs.nir"])
def test_torch_twin_of_fixture_graphs(data_path, name):
    path = data_path / "nir" / name
    if not path.exists():
        pytest.skip(f"NIR fixture {path} is absent (set SPIKAX_DATA to the shared data folder)")
    rng = np.random.default_rng(0)
    shape = {"lif_norse.nir": (1,), "braille_noDelay_bias_zero.nir": (12,), "cnn_sinabs.nir": (2, 34, 34)}[name]
    xs = (rng.random((30,) + shape) < 0.2).astype(float) * (0.5 if name == "lif_norse.nir" else 1.0)
    twin = spikax_torch.io.load_nir(path, dt=DT, dtype="float64")
    np.testing.assert_array_equal(_torch_run(twin, xs), _jax_run(spikax.io.load_nir(path, dt=DT), xs))
