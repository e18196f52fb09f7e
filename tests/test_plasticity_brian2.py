"""spikax.plasticity.stdp against Brian2's standard STDP synapse (trace formulation), and triplet STDP
against the same equations written as a Brian2 synapse.

Brian2 runs in a subprocess: it needs an interpreter where `import brian2` works. Brian2 2.9
does not import with NumPy >= 2.4 (it uses the removed `ndarray.ptp`), so this test looks for,
in order: `$SPIKAX_BRIAN2_PYTHON` (e.g. a small virtual environment with
`pip install "numpy<2.4" brian2`), then the interpreter running the tests. Without either it
skips, saying why. All cases go through one subprocess (Brian2's import is the slow part).
"""

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import spikax

pytestmark = pytest.mark.peers

BRIAN2_SCRIPT = r"""
import json, sys
import numpy as np
import brian2 as b2

PAIR_MODEL = '''w : 1
dapre/dt = -apre / taupre : 1 (event-driven)
dapost/dt = -apost / taupost : 1 (event-driven)'''
TRIPLET_MODEL = '''w : 1
dr1/dt = -r1 / taupre : 1 (event-driven)
dr2/dt = -r2 / tau_x : 1 (event-driven)
do1/dt = -o1 / taupost : 1 (event-driven)
do2/dt = -o2 / tau_y : 1 (event-driven)'''

b2.prefs.codegen.target = "numpy"
results = []
for spec in json.load(sys.stdin):
    b2.start_scope()
    b2.defaultclock.dt = spec["dt"] * b2.ms
    steps = spec["steps"]
    pre = b2.SpikeGeneratorGroup(spec["n_pre"], spec["pre_i"], np.asarray(spec["pre_t"]) * spec["dt"] * b2.ms)
    post = b2.SpikeGeneratorGroup(spec["n_post"], spec["post_i"], np.asarray(spec["post_t"]) * spec["dt"] * b2.ms)
    namespace = dict(taupre=spec["tau_plus"] * b2.ms, taupost=spec["tau_minus"] * b2.ms, wmax=spec["w_max"])
    jump = "=" if spec["interaction"] == "nearest" else "+="
    if spec["model"] == "triplet":  # Pfister & Gerstner (2006), eqs. (3)-(4), with their trace names
        namespace.update(tau_x=spec["tau_x"] * b2.ms, tau_y=spec["tau_y"] * b2.ms, A2p=spec["a2_plus"],
                         A3p=spec["a3_plus"], A2m=spec["a2_minus"], A3m=spec["a3_minus"])
        syn = b2.Synapses(pre, post, TRIPLET_MODEL, namespace=namespace,
                          on_pre=f"w = clip(w - o1 * (A2m + A3m * r2), 0, wmax)\nr1 {jump} 1\nr2 {jump} 1",
                          on_post=f"w = clip(w + r1 * (A2p + A3p * o2), 0, wmax)\no1 {jump} 1\no2 {jump} 1")
    else:  # Brian2's standard STDP synapse
        namespace.update(Apre=spec["a_plus"], Apost=-spec["a_minus"])
        if spec["bounds"] == "additive":
            on_pre, on_post = "w = clip(w + apost, 0, wmax)", "w = clip(w + apre, 0, wmax)"
        else:  # multiplicative (soft) bounds, w_min = 0
            on_pre, on_post = "w = w + apost * w", "w = w + apre * (wmax - w)"
        syn = b2.Synapses(pre, post, PAIR_MODEL, namespace=namespace,
                          on_pre=f"apre {jump} Apre\n{on_pre}", on_post=f"apost {jump} Apost\n{on_post}")
    syn.connect()
    syn.w = np.asarray(spec["w0"])[np.asarray(syn.j), np.asarray(syn.i)]
    monitor = b2.StateMonitor(syn, "w", record=True)
    b2.run((steps + 1) * b2.defaultclock.dt, namespace=namespace)
    results.append({"i": np.asarray(syn.i).tolist(), "j": np.asarray(syn.j).tolist(),
                    "w": np.asarray(monitor.w).tolist()})
json.dump(results, sys.stdout)
"""

STEPS, N_PRE, N_POST, DT, W_MAX = 1500, 4, 3, 0.1, 0.05
PAIR = dict(a_plus=0.01, a_minus=0.0105, tau_plus=2.0, tau_minus=2.5)
TRIPLET = dict(a2_plus=0.004, a3_plus=0.006, a2_minus=0.005, a3_minus=0.002, tau_plus=2.0, tau_minus=3.0, tau_x=8.0,
               tau_y=12.0)
CASES = [("pair", i, b) for i in ("all_to_all", "nearest") for b in ("additive", "multiplicative")] + [
    ("triplet", i, "additive") for i in ("all_to_all", "nearest")]


def brian2_python() -> str:
    candidates = [os.environ.get("SPIKAX_BRIAN2_PYTHON"), sys.executable]
    for python in candidates:
        if not python:
            continue
        probe = subprocess.run([python, "-c", "import brian2"], capture_output=True, text=True, timeout=120)
        if probe.returncode == 0:
            return python
    pytest.skip("Brian2 is unavailable: no interpreter imports it (set SPIKAX_BRIAN2_PYTHON to a Python with "
                "`pip install 'numpy<2.4' brian2`; Brian2 2.9 fails to import with NumPy >= 2.4)")


def case_inputs(index):
    """Random pre/post trains and initial weights of one case. Pre spikes fall on even steps and
    post spikes on odd ones, so no pre and post spike share a step (where the two simulators
    would clip in a different order)."""
    rng = np.random.default_rng(index)
    odd = np.arange(STEPS)[:, None] % 2
    pre = ((rng.random((STEPS, N_PRE)) < 0.05) & (odd == 0)).astype(np.float64)
    post = ((rng.random((STEPS, N_POST)) < 0.05) & (odd == 1)).astype(np.float64)
    return pre, post, rng.uniform(0.0, W_MAX, (N_POST, N_PRE))


def spec_of(index):
    model, interaction, bounds = CASES[index]
    pre, post, w0 = case_inputs(index)
    (pre_t, pre_i), (post_t, post_i) = np.nonzero(pre), np.nonzero(post)
    params = dict(PAIR, **TRIPLET) if model == "triplet" else PAIR
    return dict(params, model=model, interaction=interaction, bounds=bounds, dt=DT, n_pre=N_PRE, n_post=N_POST,
                steps=STEPS, w_max=W_MAX, pre_i=pre_i.tolist(), pre_t=pre_t.tolist(), post_i=post_i.tolist(),
                post_t=post_t.tolist(), w0=w0.tolist())


@pytest.fixture(scope="module")
def brian2_trajectories():
    """Every case through Brian2 in one subprocess: a list of [steps, n_post, n_pre] weight trajectories."""
    python = brian2_python()
    done = subprocess.run([python, "-c", BRIAN2_SCRIPT], input=json.dumps([spec_of(i) for i in range(len(CASES))]),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    trajectories = []
    for result in json.loads(done.stdout):
        # the monitor records at the start of each step: entry t + 1 is the weight after step t
        brian = np.zeros((STEPS, N_POST, N_PRE))
        brian[:, result["j"], result["i"]] = np.asarray(result["w"]).T[1:STEPS + 1]
        trajectories.append(brian)
    return trajectories


def rule_of(index):
    model, interaction, bounds = CASES[index]
    if model == "triplet":
        return spikax.plasticity.triplet_stdp(**TRIPLET, dt=DT, interaction=interaction, w_min=0.0, w_max=W_MAX)
    return spikax.plasticity.stdp(PAIR["a_plus"], PAIR["a_minus"], PAIR["tau_plus"], PAIR["tau_minus"], DT,
                                  interaction=interaction, bounds=bounds, w_min=0.0, w_max=W_MAX)


@pytest.mark.parametrize("index", range(len(CASES)), ids=["-".join(case) for case in CASES])
def test_weight_trajectory_matches_brian2(index, brian2_trajectories):
    pre, post, w0 = case_inputs(index)
    rule = rule_of(index)

    def body(carry, spikes):
        w, state = carry
        dw, state = rule.update(spikes[0], spikes[1], state, w)
        return (w + dw, state), w + dw

    w0 = jnp.asarray(w0)
    ours = np.asarray(lax.scan(body, (w0, rule.init(w0)), (jnp.asarray(pre), jnp.asarray(post)))[1])
    brian = brian2_trajectories[index]
    assert np.abs(brian[-1] - np.asarray(w0)).max() > 1e-3  # the weights did move
    np.testing.assert_allclose(ours, brian, rtol=0, atol=1e-6)
    print(f"{'-'.join(CASES[index])}: max |spikax - Brian2| = {np.abs(ours - brian).max():.2e}")
