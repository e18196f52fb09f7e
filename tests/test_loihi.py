"""The bit-accurate Loihi emulator (`spikax.hw.loihi`) against Lava's golden traces, and the quantiser."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spikax
from spikax.hw import loihi


def _golden(data_path):
    folder = data_path / "loihi"
    if not (folder / "lava_lif_bitacc_golden.npz").exists():
        pytest.skip(f"Loihi golden traces are absent from {folder} (set SPIKAX_DATA to the shared data folder)")
    cases = json.loads((folder / "lava_lif_bitacc_golden.json").read_text())["cases"]
    return np.load(folder / "lava_lif_bitacc_golden.npz"), cases


CASES = ["mixed_basic", "mixed_nodecay", "clip_and_exp3", "exc_6bit_negexp", "inh_7bit", "u_wrap_pos", "u_wrap_neg",
         "a_in_over_16bit"]


@pytest.mark.parametrize("name", CASES)
def test_golden_case_bit_for_bit(data_path, name):
    data, cases = _golden(data_path)
    c = cases[name]
    layer = loihi.LoihiLayer(data[name + "__weights"], c["wexp"], c["nbits"], c["du"], c["dv"], c["vth"], c["bm"],
                             c["be"])
    trace = loihi.run(layer, data[name + "__spikes_in"])
    np.testing.assert_array_equal(trace.u, data[name + "__u"])
    np.testing.assert_array_equal(trace.v, data[name + "__v"])
    np.testing.assert_array_equal(trace.s, data[name + "__s"])


def test_golden_file_has_every_case(data_path):
    data, cases = _golden(data_path)
    assert sorted(cases) == sorted(CASES)
    assert sum(int(data[n + "__s"].sum()) for n in CASES) > 0


def test_weight_truncation_rules():
    # The README's examples: -1 becomes -16 with 5-bit mixed weights; -31 becomes -30 with 7-bit inhibitory ones.
    np.testing.assert_array_equal(loihi.quantize_weights(np.array([-1, 3, 300]), 5), [-16, 0, 240])
    np.testing.assert_array_equal(loihi.quantize_weights(np.array([-31, -2]), 7), [-30, -2])
    np.testing.assert_array_equal(loihi.quantize_weights(np.array([7, 300]), 6), [4, 252])
    with pytest.raises(ValueError, match="num_weight_bits"):
        loihi.quantize_weights(np.array([1]), 9)


def test_closed_form_without_decay():
    """du = 4095 (no current memory), dv = 0 (no leak): v is the running sum of (w << 6) until it passes vth << 6."""
    layer = loihi.LoihiLayer(np.array([[10]]), du=4095, dv=0, vth=35)
    trace = loihi.run(layer, np.ones((8, 1), np.int8))
    # Input arrives one step late; v = 640 k at step k; threshold 35 * 64 = 2240 is passed at k = 4 (2560).
    np.testing.assert_array_equal(trace.s[:, 0], [0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(trace.v[:5, 0], [0, 640, 1280, 1920, 0])


def test_quantize_keeps_a_trained_like_model_close(getkey):
    k1, k2, k3 = getkey(), getkey(), getkey()
    net = spikax.Chain([
        spikax.layers.recurrent_dense(6, 12, spikax.neurons.CubaLIF(0.8, 0.9, reset="zero"), key=k1, use_bias=False),
        spikax.layers.dense(12, 3, spikax.neurons.LIF(0.8, reset="zero"), key=k2)])
    net = jax.tree_util.tree_map(lambda x: x * 6 if np.ndim(x) == 2 else x, net)
    spikes = (jax.random.uniform(k3, (24, 40, 6)) < 0.3).astype(jnp.float64)
    labels = np.arange(24) % 3
    report = loihi.quantize(net, spikes, labels)
    assert report.layers[0].du[0] == round(4096 * 0.2) - 1 and report.layers[0].dv[0] == round(4096 * 0.1)
    assert report.layers[1].du[0] == 4095  # a LIF has no synaptic memory
    assert np.abs(report.layers[0].weights).max() <= 256
    assert 0 <= report.accuracy_loihi <= 1 and 0 <= report.accuracy_float <= 1
    # 8-bit weights move some spikes, but most output spike counts stay exactly the same.
    assert report.spike_agreement > 0.5
    trace = report.run(np.zeros((5, 6), np.int8))
    assert trace.s.shape == (5, 3) and trace.s.sum() == 0


def test_quantize_refuses_what_loihi_cannot_run(getkey):
    with pytest.raises(NotImplementedError, match="ALIF"):
        loihi.quantize(spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.ALIF(), key=getkey())]))
    with pytest.warns(UserWarning, match="subtract"):
        loihi.quantize(spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(), key=getkey())]))
