"""spikax.plasticity.stdp against Brian2's standard STDP synapse (trace formulation), and triplet STDP
against the same equations written as a Brian2 synapse.

Brian2 runs in a subprocess: it needs an interpreter where `import brian2` works. Brian2 2.9
does not import with NumPy >= 2.4 (it uses the removed `ndarray.ptp`), so this test looks for,
in order: `$SPIKAX_BRIAN2_PYTHON` (e.g. a small virtual environment with
`pip install "numpy<2.4" brian2`), then the interpreter running the tests. Without either it
skips, saying why.
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

spec = json.load(sys.stdin)
b2.prefs.codegen.target = "numpy"
b2.defaultclock.dt = spec["dt"] * b2.ms
n_pre, n_post, steps = spec["n_pre"], spec["n_post"], spec["steps"]
pre = b2.SpikeGeneratorGroup(n_pre, spec["pre_i"], np.asarray(spec["pre_t"]) * spec["dt"] * b2.ms)
post = b2.SpikeGeneratorGroup(n_post, spec["post_i"], np.asarray(spec["post_t"]) * spec["dt"] * b2.ms)
namespace = dict(taupre=spec["tau_plus"] * b2.ms, taupost=spec["tau_minus"] * b2.ms, Apre=spec["a_plus"],
                 Apost=-spec["a_minus"], wmax=spec["w_max"])
jump = "=" if spec["interaction"] == "nearest" else "+="
if spec["model"] == "triplet":  # Pfister & Gerstner (2006), eqs. (3)-(4), with their trace names
    namespace.update(tau_x=spec["tau_x"] * b2.ms, tau_y=spec["tau_y"] * b2.ms, A2p=spec["a2_plus"],
                     A3p=spec["a3_plus"], A2m=spec["a2_minus"], A3m=spec["a3_minus"])
    one = "1" if spec["interaction"] == "nearest" else ""
    syn = b2.Synapses(pre, post, '''w : 1
        dr1/dt = -r1 / taupre : 1 (event-driven)
        dr2/dt = -r2 / tau_x : 1 (event-driven)
        do1/dt = -o1 / taupost : 1 (event-driven)
        do2/dt = -o2 / tau_y : 1 (event-driven)''',
        on_pre=f"w = clip(w - o1 * (A2m + A3m * r2), 0, wmax)\nr1 {jump} 1\nr2 {jump} 1",
        on_post=f"w = clip(w + r1 * (A2p + A3p * o2), 0, wmax)\no1 {jump} 1\no2 {jump} 1", namespace=namespace)
elif spec["bounds"] == "additive":
    on_pre, on_post = "w = clip(w + apost, 0, wmax)", "w = clip(w + apre, 0, wmax)"
else:  # multiplicative (soft) bounds, w_min = 0
    on_pre, on_post = "w = w + apost * w", "w = w + apre * (wmax - w)"
if spec["model"] == "pair":
    syn = b2.Synapses(pre, post, '''w : 1
        dapre/dt = -apre / taupre : 1 (event-driven)
        dapost/dt = -apost / taupost : 1 (event-driven)''',
        on_pre=f"apre {jump} Apre\n{on_pre}", on_post=f"apost {jump} Apost\n{on_post}", namespace=namespace)
syn.connect()
syn.w = np.asarray(spec["w0"])[np.asarray(syn.j), np.asarray(syn.i)]
monitor = b2.StateMonitor(syn, "w", record=True)
b2.run((steps + 1) * b2.defaultclock.dt, namespace=namespace)
json.dump({"i": np.asarray(syn.i).tolist(), "j": np.asarray(syn.j).tolist(), "w": np.asarray(monitor.w).tolist()},
          sys.stdout)
"""


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


def random_trains(rng, steps, n, rate, parity):
    """Spikes on steps of one parity only, so no pre and post spike ever share a step."""
    trains = (rng.random((steps, n)) < rate) & (np.arange(steps)[:, None] % 2 == parity)
    return trains.astype(np.float64)


def simulate_brian2(python, spec):
    done = subprocess.run([python, "-c", BRIAN2_SCRIPT], input=json.dumps(spec), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    # the monitor records at the start of each step: entry t + 1 is the weight after step t
    steps, n_post, n_pre = spec["steps"], spec["n_post"], spec["n_pre"]
    brian = np.zeros((steps, n_post, n_pre))
    brian[:, result["j"], result["i"]] = np.asarray(result["w"]).T[1:steps + 1]
    return brian


def spikax_trajectory(rule, w0, pre, post):
    def body(carry, spikes):
        w, state = carry
        dw, state = rule.update(spikes[0], spikes[1], state, w)
        return (w + dw, state), w + dw

    w0 = jnp.asarray(w0)
    return np.asarray(lax.scan(body, (w0, rule.init(w0)), (jnp.asarray(pre), jnp.asarray(post)))[1])


@pytest.mark.parametrize("interaction", ["all_to_all", "nearest"])
def test_triplet_weight_trajectory_matches_brian2(interaction):
    python = brian2_python()
    rng = np.random.default_rng(1)
    steps, n_pre, n_post, dt = 1500, 4, 3, 0.1
    pre, post = random_trains(rng, steps, n_pre, 0.05, 0), random_trains(rng, steps, n_post, 0.05, 1)
    params = dict(a2_plus=0.004, a3_plus=0.006, a2_minus=0.005, a3_minus=0.002, tau_plus=2.0, tau_minus=3.0,
                  tau_x=8.0, tau_y=12.0)
    w_max = 0.05
    w0 = rng.uniform(0.0, w_max, (n_post, n_pre))
    pre_t, pre_i = np.nonzero(pre)
    post_t, post_i = np.nonzero(post)
    spec = dict(params, model="triplet", dt=dt, n_pre=n_pre, n_post=n_post, steps=steps, interaction=interaction,
                bounds="additive", w_max=w_max, a_plus=0.0, a_minus=0.0, pre_i=pre_i.tolist(), pre_t=pre_t.tolist(),
                post_i=post_i.tolist(), post_t=post_t.tolist(), w0=w0.tolist())
    brian = simulate_brian2(python, spec)
    rule = spikax.plasticity.triplet_stdp(**params, dt=dt, interaction=interaction, w_min=0.0, w_max=w_max)
    ours = spikax_trajectory(rule, w0, pre, post)
    assert np.abs(brian[-1] - w0).max() > 1e-3  # the weights did move
    np.testing.assert_allclose(ours, brian, rtol=0, atol=1e-6)
    print(f"triplet {interaction}: max |spikax - Brian2| = {np.abs(ours - brian).max():.2e}")


@pytest.mark.parametrize("interaction", ["all_to_all", "nearest"])
@pytest.mark.parametrize("bounds", ["additive", "multiplicative"])
def test_stdp_weight_trajectory_matches_brian2(interaction, bounds):
    python = brian2_python()
    rng = np.random.default_rng(0)
    steps, n_pre, n_post, dt = 1500, 4, 3, 0.1
    pre, post = random_trains(rng, steps, n_pre, 0.04, 0), random_trains(rng, steps, n_post, 0.04, 1)
    params = dict(a_plus=0.01, a_minus=0.0105, tau_plus=2.0, tau_minus=2.5, w_max=0.05)
    w0 = rng.uniform(0.0, params["w_max"], (n_post, n_pre))
    pre_t, pre_i = np.nonzero(pre)
    post_t, post_i = np.nonzero(post)
    spec = dict(params, model="pair", dt=dt, n_pre=n_pre, n_post=n_post, steps=steps, interaction=interaction, bounds=bounds,
                pre_i=pre_i.tolist(), pre_t=pre_t.tolist(), post_i=post_i.tolist(), post_t=post_t.tolist(),
                w0=w0.tolist())
    brian = simulate_brian2(python, spec)
    rule = spikax.plasticity.stdp(params["a_plus"], params["a_minus"], params["tau_plus"], params["tau_minus"], dt,
                                  interaction=interaction, bounds=bounds, w_min=0.0, w_max=params["w_max"])
    ours = spikax_trajectory(rule, w0, pre, post)
    assert np.abs(brian[-1] - w0).max() > 1e-3  # the weights did move
    np.testing.assert_allclose(ours, brian, rtol=0, atol=1e-6)
    print(f"{interaction}/{bounds}: max |spikax - Brian2| = {np.abs(ours - brian).max():.2e}")
