"""Data-parallel `spikax.training.fit` in one or several processes (the worker of tests/test_distributed.py).

Every process runs this same script; each feeds its share of every batch. On one machine:

    python tests/distributed_fit.py --processes 2 --process-id 0 --coordinator localhost:12355 --out p0.json &
    python tests/distributed_fit.py --processes 2 --process-id 1 --coordinator localhost:12355 --out p1.json

On several hosts, the same command on each host, with the address of process 0's host. With
`--processes 1` (the default) it is the single-process reference run. The result (losses per
epoch and the final parameters) goes to `--out` as JSON.
"""

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # this repository's packages


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--coordinator", default="localhost:12355")
    parser.add_argument("--local-devices", type=int, default=1, help="CPU devices forced in this process")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.local_devices}"

    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    if args.processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives between processes
    import equinox as eqx
    import numpy as np

    import spikax
    from spikax import training

    if args.processes > 1:  # importing spikax starts no backend, so joining after the import works
        training.initialize_distributed(args.coordinator, num_processes=args.processes, process_id=args.process_id)

    x, y = spikax.datasets.randman(n_classes=2, n_units=12, n_steps=20, samples_per_class=16, seed=0)
    k1, k2 = jax.random.split(jax.random.key(0))
    net = spikax.Chain([spikax.layers.dense(12, 16, spikax.neurons.LIF(), key=k1, gain=10.0),  # sparse spikes in
                        spikax.layers.dense(16, 2, spikax.neurons.LI(), key=k2)])
    # One global batch of all 32 examples per epoch: the mean loss does not depend on the order in
    # which examples were shuffled, so every process count sees the same steps.
    net, history = training.fit(net, training.classification_loss("max"), (x, y), epochs=args.epochs,
                                batch_size=len(y), learning_rate=1e-2, progress=False)
    params = eqx.filter(net, spikax.trainable(net))
    leaves = [np.asarray(jax.device_get(leaf)).tolist() for leaf in jax.tree_util.tree_leaves(params)]
    result = {"processes": jax.process_count(), "devices": jax.device_count(),
              "loss": history["loss"], "params": leaves}
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
