"""Data loading feeding a jitted training step: spikax's NumPy batch iterator vs torch DataLoader vs Grain.

The data: MNIST training images (flattened, float32; random pixels of the same shape when the
files are absent). The step: a jitted forward + backward + SGD update of a 784 -> 128 LIF -> 10
LI network over T steps (the image repeated as a constant input current). Every loader feeds
the same step the same batch size; reported: steps per second over one pass and the total
time the loop spent waiting for the next batch (time in `next(...)`), after one warm-up batch.

Loaders: `spikax.datasets.batches` (NumPy indexing on the host, `device_put` prefetched 2 ahead);
`torch.utils.data.DataLoader` over a `TensorDataset` (0 workers; and 2 persistent workers);
Grain `MapDataset.source(...).shuffle(...).batch(...)` (when `grain` is installed).

    python -m benchmarks data_loading [--samples 8192 --batch 128 --steps 20] [--quick]
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


def load(samples):
    root = os.environ.get("SPIKAX_DATA", str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))
    try:
        x, y = spikax.datasets.load_mnist("train", view="flat", root=root, limit=samples, download=False)
        return x.astype(np.float32), y.astype(np.int32), f"MNIST (first {samples} training images)"
    except Exception as error:  # noqa: BLE001 - no data here: random pixels of the same shape
        print(f"MNIST not available ({type(error).__name__}); random pixels of the same shape")
        rng = np.random.default_rng(0)
        return rng.random((samples, 784), np.float32), rng.integers(0, 10, samples).astype(np.int32), "synthetic"


def make_step(steps):
    k1, k2 = jax.random.split(jax.random.key(0))
    net = spikax.Chain([spikax.layers.dense(784, 128, spikax.neurons.LIF(), key=k1, dtype=jnp.float32),
                        spikax.layers.dense(128, 10, spikax.neurons.LI(), key=k2, dtype=jnp.float32)])
    opt = optax.sgd(0.01)

    @eqx.filter_jit
    def step(net, opt_state, x, y):
        def loss(net):
            xs = jnp.broadcast_to(x, (steps,) + x.shape)
            _, out = spikax.run(net, net.init_state((784,), jnp.float32), xs, batch_axis=1)
            return spikax.losses.max_membrane_cross_entropy(out, y)

        value, grads = eqx.filter_value_and_grad(loss)(net)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(net, eqx.is_inexact_array))
        return eqx.apply_updates(net, updates), opt_state, value

    return net, opt.init(eqx.filter(net, eqx.is_inexact_array)), step


def drive(loader, net, opt_state, step):
    """One pass: (steps, seconds, seconds waiting for data); the first batch (compilation) is not counted."""
    it = iter(loader)
    x, y = next(it)
    net, opt_state, loss = step(net, opt_state, jnp.asarray(x), jnp.asarray(y))
    jax.block_until_ready(loss)
    count, wait, start = 0, 0.0, time.perf_counter()
    while True:
        t0 = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:
            break
        wait += time.perf_counter() - t0
        net, opt_state, loss = step(net, opt_state, jnp.asarray(x), jnp.asarray(y))
        count += 1
    jax.block_until_ready(loss)
    return count, time.perf_counter() - start, wait


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=1)
    p.add_argument("--samples", type=int, default=8192)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="time steps of the network")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    if args.quick:
        args.samples, args.batch, args.steps, args.workers = 64, 16, 3, 1
    x, y, source = load(args.samples)
    net, opt_state, step = make_step(args.steps)
    skipped, loaders = [], {}
    loaders["spikax.datasets.batches"] = lambda: spikax.datasets.batches(x, y, batch_size=args.batch, shuffle=True, seed=0,
                                                                         drop_last=True)
    torch = _common.optional("torch", skipped)
    if torch is not None:
        _common.set_torch_threads(torch)
        from torch.utils.data import DataLoader, TensorDataset

        dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        as_numpy = lambda batch: (batch[0].numpy(), batch[1].numpy())  # noqa: E731
        loaders["torch DataLoader (0 workers)"] = lambda: map(as_numpy, DataLoader(dataset, batch_size=args.batch, shuffle=True,
                                                                                   drop_last=True))
        persistent = DataLoader(dataset, batch_size=args.batch, shuffle=True, drop_last=True, num_workers=args.workers,
                                persistent_workers=True)
        loaders[f"torch DataLoader ({args.workers} persistent workers)"] = lambda: map(as_numpy, persistent)
    grain = _common.optional("grain", skipped)
    if grain is not None:
        loaders["Grain MapDataset"] = lambda: iter(grain.MapDataset.source(np.arange(len(x))).shuffle(seed=0)
                                                   .batch(args.batch, drop_remainder=True)
                                                   .map(lambda idx: (x[idx], y[idx])).to_iter_dataset())
    rows = []
    for name, make in loaders.items():
        best = None
        for _ in range(max(1, args.repeats)):
            count, seconds, wait = drive(make(), net, opt_state, step)
            if best is None or seconds < best[1]:
                best = (count, seconds, wait)
        count, seconds, wait = best
        rows.append({"loader": name, "steps": count, "seconds": seconds, "steps_per_s": count / seconds,
                     "wait_s": wait, "wait_fraction": wait / seconds})
        print(f"  {name}: {count / seconds:.1f} steps/s, waited {wait:.3f} s", flush=True)
    base = rows[0]["steps_per_s"]
    for r in rows:
        r["speed_over_spikax"] = r["steps_per_s"] / base
    md = (f"Data: {source}; batch {args.batch}; step: 784 -> 128 LIF -> 10 LI over T = {args.steps}, jitted fwd+bwd+SGD.\n\n"
          + _common.table(["loader", "steps", "steps/s", "relative to spikax", "time waiting for data (s)", "waiting share"],
                          [[r["loader"], r["steps"], r["steps_per_s"], r["speed_over_spikax"], r["wait_s"],
                            f"{100 * r['wait_fraction']:.1f} %"] for r in rows]))
    return _common.write("data_loading", args.out, {"data": source, "rows": rows, "skipped": skipped}, md)


if __name__ == "__main__":
    main()
