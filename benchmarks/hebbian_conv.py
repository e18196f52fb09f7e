"""Unsupervised convolutional features from Hebbian learning + winner-take-all, and a reward-modulated STDP bandit.

**Part 1: conv features without labels.** A convolution (F kernels of 5x5) learns from MNIST
images without labels: at every position the channels compete (`spikax.plasticity.kwta`, one
winner), the winner's kernel follows Oja's rule on its patch (`spikax.plasticity.conv` of
`spikax.plasticity.oja`: traces per patch position, the shared kernel's update summed over
positions), and the kernels are renormalised (`spikax.plasticity.normalize_weights`) after
every batch. This is competitive Hebbian learning (each kernel drifts to the centre of the
patches it wins). The kernels are then frozen; the features of an image are the
winner-take-all responses `relu(I) * kwta(I)` sum-pooled over 4x4 blocks, and only a linear
readout (softmax regression, Adam) is trained on them with labels. The same readout on
random kernels of the same shape (Gaussian, same normalisation) is the baseline: the learned
kernels must give the better test accuracy.

**Part 2: reward-modulated STDP, a two-armed bandit.** Two LIF neurons read 20 Poisson inputs
(`spikax.plasticity.step` on a `spikax.layers.dense` layer). In each trial the neuron that
fires more is the chosen arm; arm 0 pays off with probability 0.8, arm 1 with 0.2. The reward
minus a running baseline is the third factor of `spikax.plasticity.reward_modulated(stdp)`,
whose eligibility trace has kept the trial's STDP. Learning curve: how often the better arm
is chosen.

Data: MNIST from `spikax.datasets.load_mnist` (`$SPIKAX_DATA/mnist` or the cache; no download
here). Without it a generated stand-in (10 classes of noisy stroke patterns) is used and a
message says so.

Usage (the README numbers came from the default sizes):

    python benchmarks/hebbian_conv.py                 # moderate size
    python benchmarks/hebbian_conv.py --small         # the notebook's sizes

    python benchmarks/hebbian_conv.py --n-unsup 20000 --n-train 60000   # all labelled MNIST

Writes `benchmarks/results/hebbian_conv_<n_train>.json` (`hebbian_conv_small.json` with `--small`).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

import spikax

P = spikax.plasticity
RESULTS = pathlib.Path(__file__).resolve().parent / "results"


# -- data ----------------------------------------------------------------------------------------


def generated_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in for MNIST: 10 classes, each a fixed set of 3 random strokes, shifted and noisy."""
    rng = np.random.default_rng(1234)  # the class templates are the same for every split
    templates = np.zeros((10, 28, 28), np.float32)
    for c in range(10):
        for _ in range(3):
            (r0, c0), (r1, c1) = rng.integers(5, 23, (2, 2))
            for t in np.linspace(0, 1, 40):
                r, cc = int(round(r0 + t * (r1 - r0))), int(round(c0 + t * (c1 - c0)))
                templates[c, r - 1:r + 1, cc - 1:cc + 1] = 1.0
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    shifts = rng.integers(-4, 5, (n, 2))
    images = np.stack([np.roll(templates[y], tuple(s), axis=(0, 1)) for y, s in zip(labels, shifts)])
    images = images * (rng.random(images.shape) > 0.3)  # erase 30 % of the ink
    images = np.clip(images + rng.random(images.shape, np.float32) * (rng.random(images.shape) < 0.2), 0, 1)
    return images.astype(np.float32), labels


def load(n_train: int, n_test: int):
    """(x_train, y_train, x_test, y_test, source): MNIST if found, else the generated stand-in."""
    try:
        x_tr, y_tr = spikax.datasets.load_mnist("train", limit=n_train, download=False)
        x_te, y_te = spikax.datasets.load_mnist("test", limit=n_test, download=False)
        return x_tr, y_tr, x_te, y_te, "MNIST"
    except FileNotFoundError as error:
        print(f"MNIST not found ({error}); using generated stroke digits instead.")
        x_tr, y_tr = generated_digits(n_train, 0)
        x_te, y_te = generated_digits(n_test, 1)
        return x_tr, y_tr, x_te, y_te, "generated"


def centred(images) -> jnp.ndarray:
    """[N, 1, 28, 28] images minus each image's mean (Hebbian rules need zero-mean inputs)."""
    x = jnp.asarray(images, jnp.float32)[:, None]
    return x - x.mean(axis=(2, 3), keepdims=True)


# -- part 1: Hebbian + WTA features ----------------------------------------------------------------


def conv(kernel, x):
    return lax.conv_general_dilated(x[None], kernel, (1, 1), "VALID")[0]


def winners(kernel, x):
    """The winner-take-all response map of one image: relu(I) on the winning channel, 0 elsewhere."""
    current = conv(kernel, x)
    return jax.nn.relu(current) * P.kwta(current, 1, axis=0)


def learn_kernels(kernel, images, *, lr: float, batch: int):
    """Competitive Hebbian learning (Oja on the WTA winner) over `images`, one pass in batches."""
    rule = P.conv(P.oja(lr))

    def one(kernel, x):
        current = conv(kernel, x)
        post = current * P.kwta(current, 1, axis=0)  # only the winning channel learns, at every position
        dw, _ = rule.update(x, post, rule.init(kernel, x.shape), kernel)
        return dw

    def body(kernel, xb):
        dw = jax.vmap(one, in_axes=(None, 0))(kernel, xb).mean(0)
        return P.normalize_weights(kernel + dw), None

    n = (len(images) // batch) * batch
    kernel, _ = lax.scan(body, kernel, images[:n].reshape((-1, batch) + images.shape[1:]))
    return kernel


def features(kernel, images, chunk: int = 1000):
    def f(x):
        a = jax.vmap(lambda xx: winners(kernel, xx))(x)
        return lax.reduce_window(a, 0.0, lax.add, (1, 1, 4, 4), (1, 1, 4, 4), "VALID").reshape(len(x), -1)

    f = jax.jit(f)
    return jnp.concatenate([f(images[i:i + chunk]) for i in range(0, len(images), chunk)])


def readout_accuracy(f_train, y_train, f_test, y_test, *, epochs: int, key) -> float:
    """Softmax regression on standardised features (Adam, batch 100); returns the test accuracy."""
    mean, std = f_train.mean(0), f_train.std(0) + 1e-6
    f_train, f_test = (f_train - mean) / std, (f_test - mean) / std
    y_train = jnp.asarray(y_train, jnp.int32)
    params = (jnp.zeros((f_train.shape[1], 10), jnp.float32), jnp.zeros(10, jnp.float32))
    opt = optax.adam(1e-3)
    opt_state = opt.init(params)

    def loss(p, idx):
        logits = f_train[idx] @ p[0] + p[1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y_train[idx]).mean()

    @jax.jit
    def epoch(params, opt_state, order):
        def body(carry, idx):
            params, opt_state = carry
            updates, opt_state = opt.update(jax.grad(loss)(params, idx), opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        return lax.scan(body, (params, opt_state), order.reshape(-1, 100))[0]

    n = (len(y_train) // 100) * 100
    for k in jax.random.split(key, epochs):
        params, opt_state = epoch(params, opt_state, jax.random.permutation(k, len(y_train))[:n])
    predictions = (f_test @ params[0] + params[1]).argmax(1)
    return float((predictions == jnp.asarray(y_test)).mean())


def feature_experiment(*, n_unsup: int, n_train: int, n_test: int, n_kernels: int, lr: float, epochs: int,
                       seed: int = 0) -> dict:
    x_tr, y_tr, x_te, y_te, source = load(max(n_unsup, n_train), n_test)
    x_tr, x_te = centred(x_tr), centred(x_te)
    key_kernel, key_readout = jax.random.split(jax.random.key(seed))
    random_kernel = P.normalize_weights(jax.random.normal(key_kernel, (n_kernels, 1, 5, 5), jnp.float32))
    start = time.perf_counter()
    learned = jax.jit(lambda k, x: learn_kernels(k, x, lr=lr, batch=50))(random_kernel, x_tr[:n_unsup])
    learned.block_until_ready()
    learn_s = time.perf_counter() - start
    accuracies = {}
    for name, kernel in (("learned", learned), ("random", random_kernel)):
        start = time.perf_counter()
        accuracies[name] = readout_accuracy(features(kernel, x_tr[:n_train]), y_tr[:n_train], features(kernel, x_te),
                                            y_te, epochs=epochs, key=key_readout)
        accuracies[f"{name}_readout_s"] = time.perf_counter() - start
    return dict(source=source, n_unsup=n_unsup, n_train=n_train, n_test=len(y_te), n_kernels=n_kernels, lr=lr,
                epochs=epochs, learn_s=learn_s, learned_kernels=np.asarray(learned), **accuracies)


# -- part 2: reward-modulated STDP bandit ---------------------------------------------------------------


def bandit_experiment(*, trials: int, steps: int = 50, n_in: int = 20, p_reward=(0.8, 0.2), a_plus: float = 5e-4,
                      seed: int = 0) -> dict:
    """Two LIF neurons, R-STDP; returns the per-trial choice of the better arm and the rewards."""
    key = jax.random.key(seed)
    k_layer, k_run = jax.random.split(key)
    layer = spikax.layers.dense(n_in, 2, spikax.neurons.LIF(tau=10.0, dtype=jnp.float32), key=k_layer,
                                use_bias=False, dtype=jnp.float32)
    w_start = jax.random.uniform(k_layer, (2, n_in), jnp.float32, 0.2, 0.8)
    layer = P.apply(layer, w_start - layer.connection.weight)
    # potentiation-dominated STDP: the eligibility grows with a neuron's causal activity, so the
    # neuron that won the trial carries most of it when the reward arrives
    rule = P.reward_modulated(P.stdp(a_plus, 0.5 * a_plus, 20.0, 20.0), tau_e=100.0)
    p_reward = jnp.asarray(p_reward, jnp.float32)

    def trial(carry, key):
        layer_w, rule_state, baseline = carry
        net = P.apply(layer, layer_w - layer.connection.weight)
        k_in, k_tie, k_reward = jax.random.split(key, 3)
        xs = (jax.random.uniform(k_in, (steps, n_in)) < 0.1).astype(jnp.float32) * 4.0

        def step(c, x):
            state, rule_state = c
            state, y, rule_state, _ = P.step(net, rule, state, rule_state, x, reward=0.0)
            return (state, rule_state), y

        (_, rule_state), ys = lax.scan(step, (net.init_state((n_in,), jnp.float32), rule_state), xs)
        counts = ys.sum(0) + 1e-3 * jax.random.uniform(k_tie, (2,))  # random tie break
        arm = jnp.argmax(counts)
        reward = (jax.random.uniform(k_reward) < p_reward[arm]).astype(jnp.float32)
        # deliver the reward (minus the running baseline) to the eligibility trace
        dw, rule_state = rule.update(jnp.zeros(n_in, jnp.float32), jnp.zeros(2, jnp.float32), rule_state, layer_w,
                                     reward - baseline)
        baseline = 0.9 * baseline + 0.1 * reward
        return (jnp.clip(layer_w + dw, 0.0, 1.5), rule_state, baseline), (arm == 0, reward)

    w0 = layer.connection.weight
    carry = (w0, rule.init(w0), jnp.asarray(0.5, jnp.float32))
    (w, _, _), (best, rewards) = jax.jit(lambda c, k: lax.scan(trial, c, k))(carry, jax.random.split(k_run, trials))
    return dict(best_arm=np.asarray(best, np.float64), rewards=np.asarray(rewards, np.float64),
                final_weights=np.asarray(w))


# -- main ----------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="the notebook's sizes (seconds)")
    parser.add_argument("--kernels", type=int, default=16)
    parser.add_argument("--n-unsup", type=int, default=6000, help="images seen by the Hebbian phase")
    parser.add_argument("--n-train", type=int, default=12000, help="labelled images for the readout")
    parser.add_argument("--epochs", type=int, default=10, help="readout epochs")
    args = parser.parse_args()
    sizes = dict(n_unsup=1000, n_train=2000, n_test=1000, epochs=5) if args.small else dict(
        n_unsup=args.n_unsup, n_train=args.n_train, n_test=10000, epochs=args.epochs)
    start = time.perf_counter()
    result = feature_experiment(n_kernels=args.kernels, lr=0.05, **sizes)
    features_s = time.perf_counter() - start
    start = time.perf_counter()
    bandit = bandit_experiment(trials=300 if args.small else 600)
    bandit_s = time.perf_counter() - start
    blocks = bandit["best_arm"].reshape(-1, 50).mean(1)
    print(f"data: {result['source']}; {result['n_kernels']} kernels of 5x5 learned from {result['n_unsup']} images "
          f"in {result['learn_s']:.1f} s; readout trained on {result['n_train']}, tested on {result['n_test']}")
    print(f"| features | test accuracy |\n|---|---|\n| Hebbian + WTA (learned) | {result['learned']:.4f} |\n"
          f"| random, same shape | {result['random']:.4f} |")
    print(f"learned wins: {result['learned'] > result['random']}; feature part {features_s:.1f} s wall")
    print(f"bandit: better arm chosen per block of 50 trials: {np.round(blocks, 2).tolist()} ({bandit_s:.1f} s wall)")
    RESULTS.mkdir(exist_ok=True)
    out = {k: v for k, v in result.items() if k != "learned_kernels"}
    out.update(features_wall_s=features_s, bandit_wall_s=bandit_s, bandit_blocks=blocks.tolist(),
               machine=f"{platform.node()} ({platform.processor() or platform.machine()}), {jax.devices()[0].platform}",
               jax=jax.__version__)
    name = "hebbian_conv_small.json" if args.small else f"hebbian_conv_{args.n_train}.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
