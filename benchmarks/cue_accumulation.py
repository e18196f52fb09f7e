"""Cue accumulation (Bellec et al. 2020, Nat. Commun. 11:3625, Fig. 3): e-prop vs BPTT, LSNN vs LIF-only.

A recurrent layer of 50 LIF + 50 ALIF neurons (one `ALIF` layer whose first 50 neurons have
no adaptation, `beta_a = 0`, which makes them exactly LIF) reads 40 Poisson channels (left
cues, right cues, recall, noise) and a leaky readout (`LI`) must report, during the recall
window, which side got more of the 7 cues. The loss is the cross-entropy of the readout
during the recall window plus a firing-rate regulariser; training uses Adam.

Differences from the paper, all in units: spikax's membrane integrates `(1 - alpha) * I`, so
input and recurrent weights start 60x and 20x larger than a default `Linear`, Adam's step is
1e-2 (the paper's 5e-3 was for weights of order one), and the adaptation is a threshold rise of
`beta_a = 0.02` thresholds per spike, decaying with tau_a = 2 s (picked by two short BPTT tuning
runs on a shorter delay; 0.05 learned as well). Cues, delay, recall, rates, network sizes,
batch 64 and tau_m = 20 ms, tau_out = 20 ms follow the paper.

- e-prop: `spikax.online.eprop` (symmetric feedback, traces filtered by the readout leak,
  rate regulariser inside the learner), gradients summed over the trial (one Adam step per batch).
- BPTT: `jax.grad` of the same loss.
- LIF-only: the same network with `beta_a = 0` everywhere.

Usage (the numbers in benchmarks/README.md came from the commands printed there):

    python benchmarks/cue_accumulation.py --method eprop --iterations 300
    python benchmarks/cue_accumulation.py --method bptt --iterations 300
    python benchmarks/cue_accumulation.py --method bptt --lif-only --iterations 300
    python benchmarks/cue_accumulation.py --method eprop-online --batch 32 --iterations 500 --lr-decay cosine
    python benchmarks/cue_accumulation.py --method eprop-online --batch 32 --time-against-bptt 5

Writes `benchmarks/results/cue_accumulation_<method>[_online][_lif].json`. With
`--time-against-bptt N` it only times N training steps of the method and of BPTT on the same
batches, taking them in turn (so a busy machine slows both alike), and writes
`cue_accumulation_<method>[_online]_time.json`.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

import spikax
from spikax import online
from spikax.online._eligibility import detach_reset

# The weight scales below were tuned for equinox's Linear init (std 1/sqrt(3 n_in)); the layer factories'
# spiking-aware default (gain 3) is larger, so keep the scale these results were measured with.
EQUINOX_SCALE = {"gain": 3 ** -0.5, "recurrent_gain": 3 ** -0.5}

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def build(key, *, n_in=40, n_lif=50, n_alif=50, lif_only=False, tau_mem=20.0, tau_adapt=2000.0, beta_a=0.05,
          tau_out=20.0, input_scale=60.0, rec_scale=20.0):
    k1, k2 = jax.random.split(key)
    n = n_lif + n_alif
    betas = np.concatenate([np.zeros(n_lif), np.full(n_alif, 0.0 if lif_only else beta_a)])
    neuron = spikax.neurons.ALIF(tau_mem=tau_mem, tau_adapt=tau_adapt, beta_a=betas,
                                 surrogate=spikax.surrogate.Triangle(gamma=0.3), dtype=jnp.float32)
    hidden = spikax.layers.recurrent_dense(n_in, n, neuron, key=k1, use_bias=False, dtype=jnp.float32, **EQUINOX_SCALE)
    # Scale so that the (1 - alpha)-scaled membrane is driven to threshold by a few input spikes.
    hidden = eqx.tree_at(lambda h: h.connection.weight, hidden, hidden.connection.weight * input_scale * tau_mem / 20.0)
    hidden = eqx.tree_at(lambda h: h.recurrent.weight, hidden,
                         hidden.recurrent.weight * rec_scale * tau_mem / 20.0 * (1 - jnp.eye(n, dtype=jnp.float32)))
    readout = spikax.layers.dense(n, 2, spikax.neurons.LI(tau=tau_out, dtype=jnp.float32), key=k2, dtype=jnp.float32,
                                  gain=EQUINOX_SCALE["gain"])
    readout = eqx.tree_at(lambda r: r.connection.weight, readout, readout.connection.weight * tau_out / 2.0)
    return spikax.Chain([hidden, readout])


def make_targets(labels, steps, recall_steps):
    """Per-step targets `[T, B, 3]`: one-hot label and a mask that is 1/recall_steps in the recall window."""
    onehot = jax.nn.one_hot(labels, 2, dtype=jnp.float32)
    mask = (jnp.arange(steps) >= steps - recall_steps).astype(jnp.float32) / recall_steps
    onehot = jnp.broadcast_to(onehot[None], (steps,) + onehot.shape)
    mask = jnp.broadcast_to(mask[:, None, None], (steps, labels.shape[0], 1))
    return jnp.concatenate([onehot, mask], axis=-1)


def loss_fn(y, target):
    return -target[2] * jnp.sum(target[:2] * jax.nn.log_softmax(y))


def bptt_loss(params, static, state0, xs, targets, rate_reg, eprop=False):
    """The same loss as the e-prop learner optimises: recall cross-entropy + rate regulariser.

    With `eprop=True` this is *offline autodiff e-prop*: the previous spikes entering the
    recurrent input and the reset are cut from the graph (the adaptation path is kept), which
    gives exactly `spikax.online.eprop`'s gradient (test E2) at the cost of BPTT.
    """
    hidden, readout = eqx.combine(params, static).layers
    if eprop:  # the same layer step, with the reset's gradient cut
        hidden = eqx.tree_at(lambda h: h.neuron, hidden, detach_reset(hidden.neuron))

    def one(x, t):
        def body(carry, inputs):
            hs, rs = carry
            xt, tt = inputs
            if eprop:  # the previous spikes enter the recurrent input as constants
                hs = hs._replace(spikes=lax.stop_gradient(hs.spikes))
            hs, z = hidden(hs, xt)
            rs, y = readout(rs, z)
            return (hs, rs), (loss_fn(y, tt), z)

        _, (losses, zs) = lax.scan(body, state0, (x, t))
        c, f_target = rate_reg
        return losses.sum() + c * jnp.sum((zs.mean(0) - f_target) ** 2)

    return jnp.mean(jax.vmap(one, in_axes=(1, 1))(xs, targets))


def check_online(net, params, static, state0, steps, args, timing, rate_reg):
    """Gradient of spikax.online.eprop vs offline autodiff e-prop on real data; time of one online batch."""
    xs, labels = spikax.datasets.cue_accumulation(args.batch, seed=int(np.random.default_rng(args.seed).integers(2**31)),
                                                  **timing)
    xs = jnp.asarray(xs).transpose(1, 0, 2)
    targets = make_targets(jnp.asarray(labels), steps, args.recall_steps)
    est = online.eprop(net, loss_fn, readout_kappa=float(net.layers[1].neuron.beta), rate_reg=rate_reg)
    run = jax.jit(lambda p, x, t: online.run(est, p, state0, x, t, batch_axis=1))
    off = jax.jit(lambda p, x, t: jax.value_and_grad(bptt_loss)(p, static, state0, x, t, rate_reg, eprop=True))
    b = args.check_online
    _, g_on = run(params, xs[:, :b], targets[:, :b])
    _, g_off = off(params, xs[:, :b], targets[:, :b])
    flat_on = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(g_on)])
    flat_off = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(g_off)])
    result = {"examples": b,
              "cosine": float(jnp.vdot(flat_on, flat_off) / (jnp.linalg.norm(flat_on) * jnp.linalg.norm(flat_off))),
              "relative_error": float(jnp.linalg.norm(flat_on - flat_off) / jnp.linalg.norm(flat_off))}
    jax.block_until_ready(run(params, xs, targets))  # compile for the full batch
    start = time.perf_counter()
    jax.block_until_ready(run(params, xs, targets))
    result["online_seconds_per_batch"] = time.perf_counter() - start
    jax.block_until_ready(off(params, xs, targets))
    start = time.perf_counter()
    jax.block_until_ready(off(params, xs, targets))
    result["offline_seconds_per_batch"] = time.perf_counter() - start
    return result


def time_against_bptt(args, train_step, opt, params, static, state0, rate_reg, timing, steps):
    """Seconds per training step of the chosen method and of BPTT on the same batches, alternating; medians."""

    @jax.jit
    def bptt_step(p, o, xs, targets):
        loss, grads = jax.value_and_grad(bptt_loss)(p, static, state0, xs, targets, rate_reg)
        updates, o = opt.update(grads, o, p)
        return eqx.apply_updates(p, updates), o, loss

    rng = np.random.default_rng(args.seed)
    steps_fns = {"method": train_step, "bptt": bptt_step}
    times = {name: [] for name in steps_fns}
    for it in range(args.time_against_bptt + 1):  # the first round compiles
        xs, labels = spikax.datasets.cue_accumulation(args.batch, seed=int(rng.integers(2**31)), **timing)
        xs = jnp.asarray(xs).transpose(1, 0, 2)
        targets = make_targets(jnp.asarray(labels), steps, args.recall_steps)
        for name, fn in steps_fns.items():
            o = opt.init(params)
            start = time.perf_counter()
            jax.block_until_ready(fn(params, o, xs, targets))
            if it:
                times[name].append(time.perf_counter() - start)
    method = "eprop-online" if args.method == "eprop" and args.eprop_impl == "online" else args.method
    result = {"benchmark": "cue_accumulation (time per training step)", "method": method, "batch": args.batch, "T": steps,
              "seconds_per_step": float(np.median(times["method"])),
              "bptt_seconds_per_step": float(np.median(times["bptt"])),
              "ratio_to_bptt": float(np.median(times["method"]) / np.median(times["bptt"])),
              "times": times, "config": vars(args),
              "machine": f"{platform.processor() or platform.machine()}, {jax.devices()[0].platform}, jax {jax.__version__}"}
    impl = "_online" if args.method == "eprop" and args.eprop_impl == "online" else ""
    (RESULTS / (args.out or f"cue_accumulation_{args.method}{impl}_time.json")).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("times", "config")}, indent=1))
    return result


def evaluate(net, xs, labels, recall_steps):
    state0 = net.init_state((xs.shape[-1],), jnp.float32)
    _, ys = spikax.run(net, state0, xs, batch_axis=1)
    decision = jnp.argmax(ys[-recall_steps:].mean(0), axis=-1)
    return float(jnp.mean(decision != labels))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", choices=["eprop", "eprop-online", "bptt"], default="eprop",
                        help="eprop-online is `--method eprop --eprop-impl online`")
    parser.add_argument("--eprop-impl", choices=["online", "offline"], default="online",
                        help="online: spikax.online.eprop in one scan; offline: the identical gradient by autodiff "
                             "with stop-gradients (test E2), at the cost of BPTT")
    parser.add_argument("--lif-only", action="store_true")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--lr-decay", choices=["constant", "cosine"], default="constant",
                        help="cosine: Adam's step decays from --lr to --lr * --lr-final over --iterations")
    parser.add_argument("--lr-final", type=float, default=0.05, help="final fraction of --lr with --lr-decay cosine")
    parser.add_argument("--cue-steps", type=int, default=100)
    parser.add_argument("--cue-period", type=int, default=150)
    parser.add_argument("--delay-steps", type=int, default=1050)
    parser.add_argument("--recall-steps", type=int, default=150)
    parser.add_argument("--rate-reg", type=float, nargs=2, default=(1.0, 0.01), metavar=("C", "F_TARGET"))
    parser.add_argument("--beta-a", type=float, default=0.02)
    parser.add_argument("--tau-adapt", type=float, default=2000.0)
    parser.add_argument("--input-scale", type=float, default=60.0)
    parser.add_argument("--rec-scale", type=float, default=20.0)
    parser.add_argument("--test-size", type=int, default=256)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--time-budget", type=float, default=None, help="stop after this many seconds of training")
    parser.add_argument("--check-online", type=int, default=0, metavar="B",
                        help="with --eprop-impl offline: also compute spikax.online.eprop's gradient on the first B "
                             "training examples (compare it with the offline one) and time it on the full batch")
    parser.add_argument("--time-against-bptt", type=int, default=0, metavar="N",
                        help="only time N training steps of --method and of BPTT, alternating (medians)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=str, default=None)
    args = parser.parse_args(argv)
    if args.method == "eprop-online":
        args.method, args.eprop_impl = "eprop", "online"

    timing = dict(n_cues=7, cue_steps=args.cue_steps, cue_period=args.cue_period, delay_steps=args.delay_steps,
                  recall_steps=args.recall_steps)
    net = build(jax.random.key(args.seed), lif_only=args.lif_only, beta_a=args.beta_a, tau_adapt=args.tau_adapt,
                input_scale=args.input_scale, rec_scale=args.rec_scale)
    params, static = eqx.partition(net, spikax.trainable(net))
    state0 = net.init_state((40,), jnp.float32)
    rate_reg = tuple(args.rate_reg)
    if args.lr_decay == "cosine":
        lr = optax.cosine_decay_schedule(args.lr, args.iterations, alpha=args.lr_final)
    else:
        lr = args.lr
    opt = optax.adam(lr)
    opt_state = opt.init(params)
    test_x, test_y = spikax.datasets.cue_accumulation(args.test_size, seed=10_000 + args.seed, **timing)
    test_x = jnp.asarray(test_x).transpose(1, 0, 2)
    steps = test_x.shape[0]

    if args.method == "eprop" and args.eprop_impl == "offline":
        def grads_of(p, xs, targets):
            return jax.value_and_grad(bptt_loss)(p, static, state0, xs, targets, rate_reg, eprop=True)
    elif args.method == "eprop":
        est = online.eprop(net, loss_fn, readout_kappa=float(net.layers[1].neuron.beta), rate_reg=rate_reg)

        def grads_of(p, xs, targets):
            return online.run(est, p, state0, xs, targets, batch_axis=1)
    else:
        def grads_of(p, xs, targets):
            return jax.value_and_grad(bptt_loss)(p, static, state0, xs, targets, rate_reg)

    @jax.jit
    def train_step(p, o, xs, targets):
        loss, grads = grads_of(p, xs, targets)
        updates, o = opt.update(grads, o, p)
        return eqx.apply_updates(p, updates), o, loss

    if args.time_against_bptt:
        return time_against_bptt(args, train_step, opt, params, static, state0, rate_reg, timing, steps)

    check = None
    if args.method == "eprop" and args.eprop_impl == "offline" and args.check_online:
        check = check_online(net, params, static, state0, steps, args, timing, rate_reg)
        print("online vs offline e-prop:", check, flush=True)

    history = []
    rng = np.random.default_rng(args.seed)
    train_time, compile_time = 0.0, None
    for it in range(1, args.iterations + 1):
        xs, labels = spikax.datasets.cue_accumulation(args.batch, seed=int(rng.integers(2**31)), **timing)
        xs = jnp.asarray(xs).transpose(1, 0, 2)
        targets = make_targets(jnp.asarray(labels), steps, args.recall_steps)
        start = time.perf_counter()
        params, opt_state, loss = train_step(params, opt_state, xs, targets)
        loss = float(loss)
        elapsed = time.perf_counter() - start
        if compile_time is None:
            compile_time = elapsed
        else:
            train_time += elapsed
        if it % args.eval_every == 0 or it == args.iterations:
            error = evaluate(eqx.combine(params, static), test_x, jnp.asarray(test_y), args.recall_steps)
            history.append({"iteration": it, "loss": loss, "test_error": error, "train_seconds": train_time})
            print(f"it {it:4d}  loss {loss:.4f}  test error {error:.3f}  ({train_time:.0f} s)", flush=True)
            if args.time_budget is not None and train_time > args.time_budget:
                break

    final = history[-1]
    result = {
        "benchmark": "cue_accumulation",
        "method": "eprop-online" if args.method == "eprop" and args.eprop_impl == "online" else args.method,
        "network": "LIF-only (100 LIF)" if args.lif_only else "LSNN (50 LIF + 50 ALIF)",
        "config": vars(args) | {"T": steps},
        "iterations": final["iteration"],
        "final_test_error": final["test_error"],
        "best_test_error": min(h["test_error"] for h in history),
        "first_iteration_below_7pct": next((h["iteration"] for h in history if h["test_error"] < 0.07), None),
        "train_seconds": final["train_seconds"],
        "seconds_per_iteration": final["train_seconds"] / max(1, final["iteration"] - 1),
        "compile_seconds": compile_time,
        "online_check": check,
        "history": history,
        "machine": f"{platform.processor() or platform.machine()}, {jax.devices()[0].platform}, jax {jax.__version__}",
    }
    RESULTS.mkdir(exist_ok=True)
    impl = "_online" if args.method == "eprop" and args.eprop_impl == "online" else ""
    name = args.out or f"cue_accumulation_{args.method}{impl}{'_lif' if args.lif_only else ''}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))
    return result


if __name__ == "__main__":
    main()
