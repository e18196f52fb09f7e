"""The README's examples run as written, their networks spike, and what they print is true.

Each ```python block of README.md is executed in a fresh namespace (the training example with
smaller sizes), then checked: non-zero activity, gradients that are not zero, and the claims
printed in comments, recomputed independently.
"""

import contextlib
import io
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO

README = (REPO / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def example(marker: str) -> str:
    """The one README example containing `marker`."""
    found = [code for code in EXAMPLES if marker in code]
    assert len(found) == 1, f"expected one README example containing {marker!r}, found {len(found)}"
    return found[0]


def run(code: str, name: str):
    out = io.StringIO()
    namespace = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README {name}", "exec"), namespace)
    return namespace, out.getvalue()


def test_every_example_is_checked():
    markers = ["def spike_count", "spikax.online.eprop", 'training.get_task("randman")']
    assert len(EXAMPLES) == len(markers), "a new README example needs a check in tests/test_readme.py"
    for marker in markers:
        example(marker)


@pytest.mark.standard_promotion  # user code runs with JAX's default promotion
def test_five_line_example_spikes_and_modes_agree():
    ns, printed = run(example("def spike_count"), "five-line example")
    count, agree = printed.split()[:2]
    # the LIF equation of the comment, stepped by hand: v <- 0.9 v + 0.1 x; spike and subtract 1 when v > 1
    v, spikes = np.zeros(3), 0
    for x in np.asarray(ns["xs"]):
        v = 0.9 * v + 0.1 * x
        spikes += int((v > 1).sum())
        v = np.where(v > 1, v - 1, v)
    assert spikes > 0
    assert float(count) == spikes == 6  # "6.0": 2 spikes per neuron, as the comment says
    np.testing.assert_allclose(ns["reverse"], ns["forward"], rtol=1e-6)  # "reverse and forward mode agree"
    assert agree == "True"
    assert float(jnp.abs(ns["reverse"]).sum()) > 0  # the surrogate gradient is not zero


@pytest.mark.standard_promotion
def test_network_example_spikes_and_learns_both_ways():
    ns, _ = run(example("spikax.online.eprop"), "network example")
    spikax, net, xs = ns["spikax"], ns["net"], ns["xs"]
    hidden = net.layers[0]
    _, spikes = spikax.run(hidden, hidden.init_state((40,)), xs, batch_axis=1)
    rate = float(spikes.mean())
    assert 0.005 < rate < 0.5, f"hidden firing rate {rate}"
    bptt = ns["grads"].layers[1].connection.weight
    online = ns["online_grads"].layers[1].connection.weight
    assert jax.tree_util.tree_structure(ns["online_grads"]) == jax.tree_util.tree_structure(ns["params"])
    assert float(jnp.linalg.norm(bptt)) > 0 and float(jnp.linalg.norm(ns["grads"].layers[0].connection.weight)) > 0
    # the readout's gradient: e-prop's (sum over the batch) points where BPTT's (mean) does
    cosine = jnp.vdot(bptt, online) / (jnp.linalg.norm(bptt) * jnp.linalg.norm(online))
    assert float(cosine) > 0.9, float(cosine)


@pytest.mark.standard_promotion
def test_training_example_runs_small(tmp_path, monkeypatch):
    """The training example with 200 examples and one epoch (the README's sizes train for a minute)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    code = example('training.get_task("randman")')
    small = code.replace("task.load(None, 2000)", "task.load(None, 200)").replace("epochs=8", "epochs=1")
    assert small.count("200)") >= 1 and "epochs=1" in small, "the example's sizes changed: update this test"
    ns, _ = run(small, "training example")
    y, (x_test, y_test) = ns["y"], ns["test"]
    assert len(y) <= 200 and len(y_test) <= 200  # "(root, limit): ... examples at most"
    assert len(ns["history"]["loss"]) == 1 and np.isfinite(ns["history"]["loss"][0])
    assert 0 <= ns["history"].test["accuracy"] <= 1  # "test metrics of the returned model, measured once"
    assert (tmp_path / "run").is_dir()  # checkpoints were written
    import matplotlib.pyplot as plt

    plt.close("all")
