"""Data parallelism: sharded and single-device training agree (4 CPU devices, in a subprocess)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import equinox as eqx, jax, jax.numpy as jnp, numpy as np, optax
    import spikax
    from spikax import training

    devices = jax.devices()
    rng = np.random.default_rng(0)
    n, steps, n_in = 64, 12, 6
    y = rng.integers(0, 2, n)
    x = (rng.random((n, steps, n_in)) < 0.1).astype(np.float32)
    for i in range(n):
        x[i, :, slice(3, 6) if y[i] else slice(0, 3)] = rng.random((steps, 3)) < 0.5

    k1, k2, k3, k4 = jax.random.split(jax.random.key(0), 4)
    net = spikax.Chain([spikax.layers.dense(n_in, 16, spikax.neurons.LIF(beta=0.8), key=k1),
                        spikax.layers.dense(16, 2, spikax.neurons.LI(beta=0.8), key=k2)])
    net = eqx.tree_at(lambda m: m.layers[0].connection.weight, net, 3.0 * jax.random.normal(k3, (16, n_in)))
    net = eqx.tree_at(lambda m: m.layers[1].connection.weight, net, jax.random.normal(k4, (2, 16)))
    loss_fn = training.classification_loss("max")
    params, static = eqx.partition(net, spikax.trainable(net))
    key = jax.random.key(5)
    out = {"n_devices": len(devices)}

    # 1. one gradient, batch split over 4 devices vs on one device
    grad_fn = eqx.filter_jit(training.get_method("bptt"))
    dp = training.DataParallel()
    xb, yb = dp.shard((x, y))
    out["shard_shapes"] = sorted({s.data.shape for s in xb.addressable_shards})
    out["n_shards"] = len(xb.addressable_shards)
    (loss4, _), g4 = grad_fn(loss_fn, dp.replicate(params), static, xb, yb, key)
    one = devices[0]
    (loss1, _), g1 = grad_fn(loss_fn, jax.device_put(params, one), static, jax.device_put(x, one),
                             jax.device_put(y, one), key)
    flat4 = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(g4)])
    flat1 = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(g1)])
    out["grad_rel_err"] = float(np.max(np.abs(flat4 - flat1)) / np.max(np.abs(flat1)))
    out["loss_diff"] = abs(float(loss4) - float(loss1))

    # 2. the same fit call on 4 devices and on 1
    kwargs = dict(epochs=3, batch_size=16, optimizer=optax.sgd(0.5), eval_data=(x[:20], y[:20]),
                  key=jax.random.key(1), progress=False)
    model4, h4 = training.fit(net, loss_fn, (x, y), **kwargs)
    model1, h1 = training.fit(net, loss_fn, (x, y), devices=devices[:1], **kwargs)
    out["loss4"], out["loss1"] = h4["loss"], h1["loss"]
    out["val4"], out["val1"] = h4["val_loss"], h1["val_loss"]
    w4 = model4.layers[0].connection.weight
    out["replicated"] = bool(w4.sharding.is_fully_replicated) and len(w4.sharding.device_set) == 4
    out["weight_err"] = float(np.max(np.abs(np.asarray(w4) - np.asarray(model1.layers[0].connection.weight))))

    # 3. a batch that does not split over the devices
    try:
        training.fit(net, loss_fn, (x, y), epochs=1, batch_size=6, progress=False)
        out["error"] = None
    except ValueError as e:
        out["error"] = str(e)
    print("RESULT" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def result():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_the_batch_is_split_over_four_devices(result):
    assert result["n_devices"] == 4
    assert result["n_shards"] == 4 and result["shard_shapes"] == [[16, 12, 6]]


def test_sharded_and_single_device_gradients_agree(result):
    assert result["grad_rel_err"] < 1e-5
    assert result["loss_diff"] < 1e-5


def test_sharded_fit_follows_the_single_device_loss_curve(result):
    assert result["replicated"]  # the updated model stays replicated on all devices
    assert len(result["loss4"]) == 3
    for a, b in zip(result["loss4"] + result["val4"], result["loss1"] + result["val1"]):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6)
    assert result["weight_err"] < 1e-4
    assert result["loss4"][-1] < result["loss4"][0]  # and it did train


def test_a_batch_that_does_not_split_is_refused(result):
    assert "batch size 6 does not split evenly over 4 devices" in result["error"]
    assert "multiple of 4" in result["error"]
