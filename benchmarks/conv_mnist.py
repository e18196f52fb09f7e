"""Convolutional SNN on MNIST: time per training epoch and test accuracy, spikax (jit) vs spikax_torch (eager).

Model (the same initial weights in both, via `spikax_torch.convert.from_spikax`): the image as a
constant input current for T steps -> Conv2d(1, 8, 5, stride 2) + LIF -> Conv2d(8, 16, 3, stride 2)
+ LIF -> Flatten -> Linear(400, 10) + LI; loss: cross-entropy of the readout's maximum membrane
(`max_membrane_cross_entropy`); SGD with momentum 0.9, lr 0.05; batch 64. One epoch over
`--train` images, then accuracy on `--test` held-out images (one epoch is short: the accuracy is a
check that both learn alike, not a state of the art). Epoch time excludes JAX's first-batch compile
(reported apart). The first batch's loss of both is compared before training.

    python -m benchmarks conv_mnist [--train 2048 --test 1024 --steps 10] [--quick]
"""

from __future__ import annotations

import os
import pathlib
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _common
import spikax


def load(split, limit):
    root = os.environ.get("SPIKAX_DATA", str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))
    try:
        x, y = spikax.datasets.load_mnist(split, view="image", root=root, limit=limit, download=False)
        return x.astype(np.float32).reshape(-1, 1, 28, 28), y.astype(np.int64), "MNIST"
    except Exception as error:  # noqa: BLE001 - no data here: random pixels (accuracy then means nothing)
        print(f"MNIST not available ({type(error).__name__}); random pixels of the same shape")
        rng = np.random.default_rng(0 if split == "train" else 1)
        return rng.random((limit, 1, 28, 28), np.float32), rng.integers(0, 10, limit), "synthetic"


def build(key):
    k1, k2, k3 = jax.random.split(key, 3)
    lif = spikax.neurons.LIF(beta=0.9, dtype=jnp.float32)
    net = spikax.Chain([
        spikax.layers.Layer(eqx.nn.Conv2d(1, 8, 5, stride=2, key=k1), lif),
        spikax.layers.Layer(eqx.nn.Conv2d(8, 16, 3, stride=2, key=k2), lif),
        spikax.layers.Flatten(),
        spikax.layers.Layer(eqx.nn.Linear(400, 10, key=k3), spikax.neurons.LI(beta=0.9, dtype=jnp.float32)),
    ])
    # larger gains so that both conv layers spike within a few steps (the LIF integrates (1 - beta) x)
    for i, gain in ((0, 10.0), (1, 15.0), (3, 5.0)):
        net = eqx.tree_at(lambda n: n.layers[i].connection.weight, net, net.layers[i].connection.weight * gain)
    return net


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=1)
    p.add_argument("--train", type=int, default=2048)
    p.add_argument("--test", type=int, default=1024)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--torch-threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.train, args.test, args.batch, args.steps = 16, 16, 8, 3
    skipped = []
    torch = _common.optional("torch", skipped)
    spikax_torch = _common.optional("spikax_torch", skipped) if torch is not None else None
    x, y, source = load("train", args.train)
    xt, yt, _ = load("test", args.test)
    net = build(jax.random.key(0))
    opt = optax.sgd(0.05, momentum=0.9)
    steps = args.steps

    def loss_fn(net, x, y):
        xs = jnp.broadcast_to(x, (steps,) + x.shape)
        _, out = spikax.run(net, net.init_state((1, 28, 28), jnp.float32), xs, batch_axis=1)
        return spikax.losses.max_membrane_cross_entropy(out, y)

    @eqx.filter_jit
    def train_step(net, opt_state, x, y):
        value, grads = eqx.filter_value_and_grad(loss_fn)(net, x, y)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(net, eqx.is_inexact_array))
        return eqx.apply_updates(net, updates), opt_state, value

    @eqx.filter_jit
    def predict(net, x):
        xs = jnp.broadcast_to(x, (steps,) + x.shape)
        _, out = spikax.run(net, net.init_state((1, 28, 28), jnp.float32), xs, batch_axis=1)
        return jnp.argmax(jnp.max(out, axis=0), axis=-1)

    batches = [(x[i:i + args.batch], y[i:i + args.batch]) for i in range(0, len(x) - args.batch + 1, args.batch)]
    twin = spikax_torch.convert.from_spikax(net) if spikax_torch is not None else None
    first_losses = {"jax": float(loss_fn(net, jnp.asarray(batches[0][0]), jnp.asarray(batches[0][1])))}

    opt_state = opt.init(eqx.filter(net, eqx.is_inexact_array))
    start = time.perf_counter()
    jnet, jopt, loss = train_step(net, opt_state, jnp.asarray(batches[0][0]), jnp.asarray(batches[0][1]))
    jax.block_until_ready(loss)
    compile_s = time.perf_counter() - start
    jnet, jopt = net, opt_state  # the timed epoch starts from the initial weights again
    start = time.perf_counter()
    for xb, yb in batches:
        jnet, jopt, loss = train_step(jnet, jopt, jnp.asarray(xb), jnp.asarray(yb))
    jax.block_until_ready(loss)
    jax_epoch = time.perf_counter() - start
    jax_acc = float(np.mean(np.concatenate([np.asarray(predict(jnet, jnp.asarray(xt[i:i + 256])))
                                            for i in range(0, len(xt), 256)]) == yt))
    rows = [["spikax (jit)", jax_epoch, 1e3 * jax_epoch / len(batches), jax_acc, 1.0]]
    result = {"data": source, "train": len(batches) * args.batch, "test": len(xt), "T": steps, "batch": args.batch,
              "jax_compile_s": compile_s, "jax_epoch_s": jax_epoch, "jax_test_accuracy": jax_acc}
    if twin is not None:
        result["torch_threads"] = _common.set_torch_threads(torch, args.torch_threads)
        topt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)

        def torch_loss(xb, yb):
            xs = torch.from_numpy(xb).expand(steps, *xb.shape)
            _, out = spikax_torch.run(twin, None, xs)
            return spikax_torch.losses.max_membrane_cross_entropy(out, torch.from_numpy(yb))

        first_losses["torch"] = float(torch_loss(*batches[0]).detach())
        start = time.perf_counter()
        for xb, yb in batches:
            topt.zero_grad()
            loss = torch_loss(xb, yb)
            loss.backward()
            topt.step()
        torch_epoch = time.perf_counter() - start
        with torch.no_grad():
            preds = []
            for i in range(0, len(xt), 256):
                xs = torch.from_numpy(xt[i:i + 256]).expand(steps, *xt[i:i + 256].shape)
                preds.append(spikax_torch.run(twin, None, xs)[1].amax(0).argmax(-1).numpy())
        torch_acc = float(np.mean(np.concatenate(preds) == yt))
        result.update(torch_epoch_s=torch_epoch, torch_test_accuracy=torch_acc, speedup_jax_over_torch=torch_epoch / jax_epoch)
        rows.append(["spikax_torch (eager)", torch_epoch, 1e3 * torch_epoch / len(batches), torch_acc, torch_epoch / jax_epoch])
    result["first_batch_loss"] = first_losses
    result["same_model_checked"] = (len(first_losses) < 2 or abs(first_losses["jax"] - first_losses["torch"])
                                    <= 1e-4 * max(1.0, abs(first_losses["jax"])))
    result["skipped"] = skipped
    md = (f"Data: {source}, {result['train']} training images (one epoch), {len(xt)} test images; T = {steps}, batch "
          f"{args.batch}; conv 8@5x5/2 LIF -> conv 16@3x3/2 LIF -> 10 LI.\n\n"
          + _common.table(["", "epoch s", "ms per batch", "test accuracy", "epoch time / spikax's"], rows)
          + f"\n\nJAX compile: {compile_s:.1f} s. First-batch loss: "
          + ", ".join(f"{k} {v:.6f}" for k, v in first_losses.items())
          + (" (same model)." if result["same_model_checked"] else " (MISMATCH)."))
    return _common.write("conv_mnist", args.out, result, md)


if __name__ == "__main__":
    main()
