"""JAX (spikax) vs PyTorch (spikax_torch) on the same models with the same weights.

1. Sequential (pixel-by-pixel) MNIST, BPTT training: time per batch and per epoch of N
   samples, for a recurrent LIF network (1 -> recurrent LIF h -> LI 10, max-membrane
   cross-entropy, SGD). JAX: one jitted train step (`spikax.run` + optax). PyTorch: eager
   `spikax_torch.run` + `torch.optim.SGD` (the loop iterates with `unbind(0)`). The first batch's
   losses of both are printed to check the models are the same. A full 60000-sample epoch is
   extrapolated from the measured batches.
2. Forward mode: one directional derivative (`jax.jvp` vs `torch.func.jvp`) of a whole
   sequence's loss, next to the reverse-mode gradient of the same loss.
3. Online forward-mode learners: exact RTRL and the forward gradient (K tangents) of
   `spikax.online` vs `spikax_torch.online` (`torch.func.jvp` vmapped over the tangents);
   the gradients of both are compared.

Timings: median of `--repeats` calls after one warm-up call (JAX compile time reported apart).

    python benchmarks/torch_vs_jax.py                 # defaults below
    python benchmarks/torch_vs_jax.py --samples 256 --hidden 32 --repeats 2   # quicker

Writes `benchmarks/results/torch_vs_jax.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import spikax
import spikax_torch
from spikax_torch.convert import from_spikax

# The weight scales below were tuned for equinox's Linear init (std 1/sqrt(3 n_in)); the layer factories'
# spiking-aware default (gain 3) is larger, so keep the scale these results were measured with.
EQUINOX_SCALE = {"gain": 3 ** -0.5, "recurrent_gain": 3 ** -0.5}

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def _timed(fn, repeats):
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times)


def _block(tree):
    return jax.tree_util.tree_map(lambda x: x.block_until_ready() if hasattr(x, "block_until_ready") else x, tree)


# -- 1. sequential MNIST -------------------------------------------------------------------------


def _mnist(samples, seed):
    root = pathlib.Path(os.environ.get("SPIKAX_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))
    try:
        x, y = spikax.datasets.load_mnist("train", view="pixel", root=root, limit=samples, download=False)
        return x.astype(np.float32), y, "MNIST (pixel view, first %d training images)" % samples
    except Exception as error:  # no data here: same shapes, random pixels
        rng = np.random.default_rng(seed)
        print(f"MNIST not available ({type(error).__name__}); using random pixels of the same shape")
        return rng.uniform(0, 1, (samples, 784, 1)).astype(np.float32), rng.integers(0, 10, samples), "synthetic"


def smnist(args):
    x, y, source = _mnist(args.samples, 0)
    k1, k2 = jax.random.split(jax.random.key(0))
    net = spikax.Chain([
        spikax.layers.recurrent_dense(1, args.hidden, spikax.neurons.LIF(beta=0.95), key=k1, dtype=jnp.float32,
                                      **EQUINOX_SCALE),
        spikax.layers.dense(args.hidden, 10, spikax.neurons.LI(beta=0.95), key=k2, dtype=jnp.float32,
                            gain=EQUINOX_SCALE["gain"]),
    ])
    # a stronger input so that the recurrent layer spikes from the pixel stream
    net = eqx.tree_at(lambda n: n.layers[0].connection.weight, net, net.layers[0].connection.weight * 20.0)
    twin = from_spikax(net)
    opt = optax.sgd(args.lr)
    batches = [(x[i:i + args.batch].transpose(1, 0, 2), y[i:i + args.batch])
               for i in range(0, len(x) - args.batch + 1, args.batch)]

    @eqx.filter_jit
    def jax_step(net, opt_state, xs, labels):
        def loss_fn(net):
            _, ys = spikax.run(net, net.init_state((1,), jnp.float32), xs, batch_axis=1)
            return spikax.losses.max_membrane_cross_entropy(ys, labels)

        loss, grads = eqx.filter_value_and_grad(loss_fn)(net)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(net, eqx.is_inexact_array))
        return eqx.apply_updates(net, updates), opt_state, loss

    torch_opt = torch.optim.SGD(twin.parameters(), lr=args.lr)

    def torch_step(xs, labels):
        torch_opt.zero_grad()
        _, ys = spikax_torch.run(twin, None, xs)
        loss = spikax_torch.losses.max_membrane_cross_entropy(ys, labels)
        loss.backward()
        torch_opt.step()
        return loss

    # like for like: the first batch's loss and spike count from the same weights
    xs0, y0 = batches[0]
    j_ys = spikax.run(net.layers[0], net.layers[0].init_state((1,), jnp.float32), jnp.asarray(xs0), batch_axis=1)[1]
    t_ys = spikax_torch.run(twin.layers[0], None, torch.tensor(xs0))[1]
    check = {"jax_spikes_first_batch": float(j_ys.sum()), "torch_spikes_first_batch": float(t_ys.detach().sum())}

    opt_state = opt.init(eqx.filter(net, eqx.is_inexact_array))
    t0 = time.perf_counter()
    state = {"net": net, "opt": opt_state}

    def jax_epoch():
        losses = []
        for xs, labels in batches:
            state["net"], state["opt"], loss = jax_step(state["net"], state["opt"], jnp.asarray(xs), jnp.asarray(labels))
            losses.append(loss)
        return _block(losses)

    j_first = jax_step(net, opt_state, jnp.asarray(xs0), jnp.asarray(y0))[2]
    jax_compile = time.perf_counter() - t0
    t_first = torch_step(torch.tensor(xs0), torch.tensor(y0))
    check.update(jax_first_loss=float(j_first), torch_first_loss=float(t_first.detach()))
    twin_reset = from_spikax(net)  # undo the check step's update
    twin.load_state_dict(twin_reset.state_dict())
    torch_opt = torch.optim.SGD(twin.parameters(), lr=args.lr)

    def torch_epoch():
        return [float(torch_step(torch.tensor(xs), torch.tensor(labels)).detach()) for xs, labels in batches]

    _, jax_time = _timed(jax_epoch, args.repeats)
    _, torch_time = _timed(torch_epoch, max(1, args.repeats - 1))
    n = len(batches) * args.batch
    out = {
        "data": source, "T": 784, "batch": args.batch, "hidden": args.hidden, "samples_per_epoch_measured": n,
        "jax_compile_s": jax_compile, "jax_epoch_s": jax_time, "torch_epoch_s": torch_time,
        "jax_ms_per_batch": 1e3 * jax_time / len(batches), "torch_ms_per_batch": 1e3 * torch_time / len(batches),
        "jax_full_epoch_s_extrapolated": jax_time * 60000 / n, "torch_full_epoch_s_extrapolated": torch_time * 60000 / n,
        **check,
    }
    print(f"\n== sequential MNIST, BPTT (T=784, batch {args.batch}, 1 -> recurrent LIF {args.hidden} -> LI 10), "
          f"{source}")
    print(f"first batch: loss JAX {check['jax_first_loss']:.6f} / torch {check['torch_first_loss']:.6f}; "
          f"hidden spikes JAX {check['jax_spikes_first_batch']:.0f} / torch {check['torch_spikes_first_batch']:.0f}")
    print("| | JAX (jit) | PyTorch (eager) | ratio torch/JAX |\n|---|---|---|---|")
    print(f"| ms per batch | {out['jax_ms_per_batch']:.1f} | {out['torch_ms_per_batch']:.1f} | "
          f"{out['torch_ms_per_batch'] / out['jax_ms_per_batch']:.1f} |")
    print(f"| 60000-sample epoch, s (extrapolated) | {out['jax_full_epoch_s_extrapolated']:.0f} | "
          f"{out['torch_full_epoch_s_extrapolated']:.0f} | |")
    print(f"JAX compile (first call): {jax_compile:.1f} s")
    return out


# -- 2. forward mode through a sequence ------------------------------------------------------------


def _net(key, n_in, hidden, n_out, dtype=jnp.float32):
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([
        spikax.layers.recurrent_dense(n_in, hidden, spikax.neurons.LIF(beta=0.9, learnable="beta"), key=k1,
                                      dtype=dtype),
        spikax.layers.dense(hidden, n_out, spikax.neurons.LI(beta=0.9), key=k2, dtype=dtype),
    ])
    return jax.tree_util.tree_map(lambda w: w * 3.0 if eqx.is_inexact_array(w) and w.ndim == 2 else w, net)


def forward_mode(args):
    T, B, n_in, hidden = args.fm_steps, 16, 20, args.fm_hidden
    net = _net(jax.random.key(1), n_in, hidden, 4)
    twin = from_spikax(net)
    rng = np.random.default_rng(1)
    xs = rng.uniform(0, 1.5, (T, B, n_in)).astype(np.float32)
    params, static = eqx.partition(net, spikax.trainable(net))
    direction = jax.tree_util.tree_map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)

    def jax_loss(p):
        model = eqx.combine(p, static)
        _, ys = spikax.run(model, model.init_state((n_in,), jnp.float32), jnp.asarray(xs), batch_axis=1)
        return jnp.sum(ys**2)

    jvp = jax.jit(lambda p, d: jax.jvp(jax_loss, (p,), (d,)))
    grad = jax.jit(jax.grad(jax_loss))
    t_params = {k: v.detach() for k, v in twin.named_parameters()}
    names = list(t_params)

    def get(tree, name):
        for part in name.split("."):
            tree = tree[int(part)] if part.isdigit() else getattr(tree, part)
        return tree

    t_direction = {k: torch.tensor(np.asarray(get(direction, k))) for k in names}
    t_xs = torch.tensor(xs)

    class Runner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = twin

        def forward(self, xs):
            return spikax_torch.run(self.net, None, xs)[1]

    runner = Runner()

    def torch_loss(p):
        ys = torch.func.functional_call(runner, {"net." + k: v for k, v in p.items()}, (t_xs,))
        return (ys**2).sum()

    j_compile_jvp, j_jvp = _timed(lambda: _block(jvp(params, direction)), args.repeats)
    j_compile_grad, j_grad = _timed(lambda: _block(grad(params)), args.repeats)
    _, t_jvp = _timed(lambda: torch.func.jvp(torch_loss, (t_params,), (t_direction,)), args.repeats)
    _, t_grad = _timed(lambda: torch.func.grad(torch_loss)(t_params), args.repeats)
    j_val = float(jvp(params, direction)[1])
    t_val = float(torch.func.jvp(torch_loss, (t_params,), (t_direction,))[1])
    out = {"T": T, "batch": B, "n_in": n_in, "hidden": hidden, "jax_jvp_ms": 1e3 * j_jvp, "jax_grad_ms": 1e3 * j_grad,
           "torch_jvp_ms": 1e3 * t_jvp, "torch_grad_ms": 1e3 * t_grad, "jax_compile_jvp_s": j_compile_jvp,
           "jax_compile_grad_s": j_compile_grad, "jax_directional": j_val, "torch_directional": t_val}
    print(f"\n== forward mode: one directional derivative of a whole sequence (T={T}, batch {B}, "
          f"{n_in} -> recurrent LIF {hidden} -> LI 4), float32")
    print(f"directional derivative JAX {j_val:.6g} / torch {t_val:.6g}")
    print("| | JAX (jit) ms | PyTorch (eager) ms | ratio torch/JAX |\n|---|---|---|---|")
    print(f"| jvp (forward mode) | {1e3 * j_jvp:.1f} | {1e3 * t_jvp:.1f} | {t_jvp / j_jvp:.1f} |")
    print(f"| grad (reverse mode) | {1e3 * j_grad:.1f} | {1e3 * t_grad:.1f} | {t_grad / j_grad:.1f} |")
    return out


# -- 3. online forward-mode learners -----------------------------------------------------------------


def online(args):
    T, n_in, hidden = args.rtrl_steps, 4, args.rtrl_hidden
    net = _net(jax.random.key(2), n_in, hidden, 2)
    twin = from_spikax(net)
    rng = np.random.default_rng(2)
    xs, targets = rng.uniform(0, 1.5, (T, n_in)).astype(np.float32), rng.normal(size=(T, 2)).astype(np.float32)
    params, _ = eqx.partition(net, spikax.trainable(net))
    t_params = dict(twin.named_parameters())
    n_params = sum(p.numel() for p in t_params.values())

    def mse(y, target):
        return ((y - target) ** 2).sum()

    results = {"T": T, "n_in": n_in, "hidden": hidden, "params": n_params}
    state0 = net.init_state((n_in,), jnp.float32)
    t_state0 = twin.init_state((n_in,), torch.float32)
    learners = {
        "rtrl": (spikax.online.rtrl(net, mse), spikax_torch.online.rtrl(twin, mse), {}),
        f"forward_gradient_K{args.tangents}": (
            spikax.online.forward_gradient(net, mse, num_tangents=args.tangents),
            spikax_torch.online.forward_gradient(twin, mse, num_tangents=args.tangents),
            {"key": True}),
    }
    print(f"\n== online forward-mode learners (T={T}, {n_in} -> recurrent LIF {hidden} -> LI 2, "
          f"{n_params} parameters, one sequence), float32")
    print("| learner | JAX (jit) ms/step | PyTorch (torch.func) ms/step | ratio torch/JAX | max rel. grad diff |")
    print("|---|---|---|---|---|")
    for name, (j_est, t_est, opts) in learners.items():
        jkw = {"key": jax.random.key(0)} if opts.get("key") else {}
        tkw = {"key": 0} if opts.get("key") else {}
        j_compile, j_time = _timed(lambda: _block(spikax.online.run(j_est, params, state0, jnp.asarray(xs),
                                                                      jnp.asarray(targets), **jkw)), args.repeats)
        _, t_time = _timed(lambda: spikax_torch.online.run(t_est, t_params, t_state0, torch.tensor(xs),
                                                           torch.tensor(targets), **tkw), max(1, args.repeats - 1))
        if name == "rtrl":  # exact in both: compare the gradients
            _, jg = spikax.online.run(j_est, params, state0, jnp.asarray(xs), jnp.asarray(targets))
            _, tg = spikax_torch.online.run(t_est, t_params, t_state0, torch.tensor(xs), torch.tensor(targets))
            diffs = []
            for k, v in tg.items():
                ref = np.asarray(_get(jg, k))
                diffs.append(float(np.max(np.abs(v.numpy() - ref)) / (np.max(np.abs(ref)) + 1e-30)))
            diff = max(diffs)
        else:  # random tangents differ between the packages: nothing to compare
            diff = None
        results[name] = {"jax_ms_per_step": 1e3 * j_time / T, "torch_ms_per_step": 1e3 * t_time / T,
                         "jax_compile_s": j_compile, "max_relative_grad_difference": diff}
        shown = "n/a (random tangents)" if diff is None else f"{diff:.1e}"
        print(f"| {name} | {1e3 * j_time / T:.3f} | {1e3 * t_time / T:.2f} | {t_time / j_time:.1f} | {shown} |")
    return results


def _get(tree, name):
    for part in name.split("."):
        tree = tree[int(part)] if part.isdigit() else getattr(tree, part)
    return tree


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=512, help="sequential-MNIST samples per measured epoch")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--fm-steps", type=int, default=200)
    parser.add_argument("--fm-hidden", type=int, default=128)
    parser.add_argument("--rtrl-steps", type=int, default=50)
    parser.add_argument("--rtrl-hidden", type=int, default=16)
    parser.add_argument("--tangents", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["smnist", "forward", "online"])
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on a shared, busy 2-core machine torch's 2 OpenMP "
                             "threads ran the sMNIST step 10-35x slower than 1 thread)")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    machine = {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
               "torch_threads": torch.get_num_threads(), "jax": jax.__version__, "torch": torch.__version__,
               "load_average": os.getloadavg()}
    print("machine:", machine)
    report = {"machine": machine, "args": vars(args)}
    if "smnist" not in args.skip:
        report["sequential_mnist_bptt"] = smnist(args)
    if "forward" not in args.skip:
        report["forward_mode_sequence"] = forward_mode(args)
    if "online" not in args.skip:
        report["online_forward_mode"] = online(args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "torch_vs_jax.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'torch_vs_jax.json'}")


if __name__ == "__main__":
    main()
