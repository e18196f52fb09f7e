"""Named tasks (data + model + loss + defaults) for `spikax train TASK`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import datasets, encoding, layers, neurons
from ..datasets._subsets import _take_indices
from ..datasets._synthetic import _first_spike_trains, _randman_points
from ..network import Chain
from ._loss import classification_loss


@dataclasses.dataclass(frozen=True)
class Task:
    """A named training task: how to load its data, build its model and score it, with defaults.

    **Fields:**

    - `name`, `description`: shown by `spikax train --help`.
    - `load(root, limit) -> ((x_train, y_train), (x_test, y_test))`: NumPy arrays, examples on
      axis 0. `root` is a data folder (None: `$SPIKAX_DATA`, else the download cache); `limit`
      keeps at most `limit` training and `limit` test examples (None: all), always a subset of
      the same data with every class in it: the first examples of each class in turn (see
      [`spikax.datasets.take`][]); MNIST, which is not stored sorted by class, reads its first
      `limit` examples.
    - `model(key) -> network`: a fresh, randomly initialised network.
    - `loss`: `loss_fn(model, x, y, *, method, key) -> (loss, metrics)` for [`spikax.training.fit`][].
    - `epochs`, `batch_size`, `learning_rate`: defaults of `spikax train`.
    - `schedule`: `"constant"` or `"cosine"` (learning rate decayed to 0 over the run).
    - `data_help`: how to get the data, printed when it is missing.

    **Example:**

    ```python
    task = spikax.training.get_task("randman")
    (x, y), test = task.load(None, 200)
    net = task.model(jax.random.key(0))
    loss, metrics = task.loss(net, x[:16], y[:16])  # what `spikax.training.fit(net, task.loss, (x, y))` minimises
    ```
    """

    name: str
    description: str
    load: Callable
    model: Callable
    loss: Callable
    epochs: int
    batch_size: int
    learning_rate: float
    data_help: str = ""
    schedule: str = "constant"


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> None:
    """Add a [`spikax.training.Task`][] so that `spikax train NAME` and `get_task(NAME)` find it.

    **Example:**

    ```python
    import dataclasses
    spikax.training.register_task(dataclasses.replace(spikax.training.get_task("digits"), name="digits-long",
                                                      epochs=100))
    ```
    """
    if not isinstance(task, Task):
        raise TypeError(f"`spikax.training.register_task`: expected a `spikax.training.Task`, got "
                        f"{type(task).__name__}.")
    _TASKS[task.name] = task


def tasks() -> dict[str, str]:
    """The registered tasks, `{name: description}`.

    **Example:**

    ```python
    sorted(spikax.training.tasks())  # ['braille', 'digits', 'mnist-conv', 'mnist-seq', 'randman']
    ```
    """
    return {name: task.description for name, task in _TASKS.items()}


def get_task(name: str) -> Task:
    """The task registered under `name`; a clear error lists the known ones.

    **Example:**

    ```python
    task = spikax.training.get_task("digits")
    ```
    """
    if name not in _TASKS:
        raise ValueError(f"`spikax.training.get_task`: unknown task {name!r}. Known tasks: "
                         f"{', '.join(sorted(_TASKS))}.")
    return _TASKS[name]


# -- building blocks --------------------------------------------------------------------------

def _rng(key) -> np.random.Generator:
    """A NumPy generator from a JAX key: weights are drawn on the host, so building a model compiles nothing."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _gaussian(module, gain: float, key):
    """An `eqx.nn.Linear`/`Conv` with Gaussian weights of std `gain / sqrt(fan_in)` and zero bias.

    Our neurons integrate `(1 - beta) * x`, so a layer needs weights about `1 / (1 - beta)` times
    larger than in an ANN to reach threshold; `gain` carries that factor. `module` is a function
    building the connection from a key; it is only traced for its structure.
    """
    shaped = eqx.filter_eval_shape(module, jax.random.key(0))
    dtype = shaped.weight.dtype
    shape = shaped.weight.shape
    fan_in = int(np.prod(shape[1:]))
    weight = jnp.asarray(_rng(key).normal(0.0, gain / np.sqrt(fan_in), shape), dtype)
    built = eqx.tree_at(lambda m: m.weight, shaped, weight)
    if getattr(shaped, "bias", None) is not None:
        built = eqx.tree_at(lambda m: m.bias, built, jnp.zeros(shaped.bias.shape, dtype))
    return built


def _dense(n_in, n_out, neuron, gain, key):
    return layers.Layer(_gaussian(lambda k: eqx.nn.Linear(n_in, n_out, key=k), gain, key), neuron)


def _recurrent(n_in, n_hidden, neuron, gain, recurrent_gain, key):
    k1, k2 = jax.random.split(key)
    return layers.Recurrent(_gaussian(lambda k: eqx.nn.Linear(n_in, n_hidden, key=k), gain, k1),
                            _gaussian(lambda k: eqx.nn.Linear(n_hidden, n_hidden, use_bias=False, key=k),
                                      recurrent_gain, k2),
                            neuron)


def _split(x, y, test_fraction: float, seed: int = 0):
    """A fixed random train/test split (the same for every run)."""
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


def _limit(data, limit):
    """At most `limit` training and `limit` test examples: a fixed, class-balanced subset of each
    (see `spikax.datasets.take`), so a quick run sees every class and the same data as a full one."""
    if limit is None:
        return data
    train, test = data
    return datasets.take(*train, limit), datasets.take(*test, limit)


# -- randman ----------------------------------------------------------------------------------

def _randman_data(root, limit):
    del root  # generated, nothing to read
    # 1000 examples per class, drawn as points (cheap); only the examples kept become spike trains,
    # so a `limit` is a subset of the full data set without building all of it.
    points, labels = _randman_points(np.random.default_rng(0), n_classes=10, n_units=100, samples_per_class=1000,
                                     dim=2, alpha=2.0, n_freq=4, shuffle=True)
    order = np.random.default_rng(0).permutation(len(labels))  # the fixed split of `_split`
    n_test = int(round(0.2 * len(labels)))
    parts = []
    for idx in (order[n_test:], order[:n_test]):
        if limit is not None:
            idx = idx[_take_indices(labels[idx], limit)]
        parts.append((_first_spike_trains(points[idx], 100), labels[idx]))
    return tuple(parts)


def _randman_model(key):
    k1, k2 = jax.random.split(key)
    return Chain([_dense(100, 128, neurons.LIF(beta=0.95), 2.5 / 0.05, k1),
                  _dense(128, 10, neurons.LI(beta=0.95), 0.6 / 0.05, k2)])


register_task(Task(
    name="randman",
    description="random manifolds (Zenke & Vogels 2021): 10 classes, 100 units, 100 steps; 100-128-10 LIF",
    load=_randman_data, model=_randman_model, loss=classification_loss("max"),
    epochs=8, batch_size=64, learning_rate=3e-2))


# -- digits -----------------------------------------------------------------------------------

DIGITS_STEPS = 25


def _digits_data(root, limit):
    x, y = datasets.load_digits(root=root, flatten=True)
    return _limit(_split(x, y, 0.2), limit)


def _rate_encode(n_steps):
    def encode(x, key):  # (B, F) pixels in [0, 1] -> (B, T, F) Bernoulli spikes
        return jnp.swapaxes(encoding.rate(x, n_steps, key=key), 0, 1)

    return encode


def _digits_model(key):
    k1, k2 = jax.random.split(key)
    return Chain([_dense(64, 128, neurons.LIF(beta=0.9), 3.0 / 0.1, k1),
                  _dense(128, 10, neurons.LI(beta=0.9), 1.0 / 0.1, k2)])


register_task(Task(
    name="digits",
    description=f"scikit-learn 8x8 digits, rate-coded over {DIGITS_STEPS} steps; 64-128-10 LIF",
    load=_digits_data, model=_digits_model, loss=classification_loss("max", encode=_rate_encode(DIGITS_STEPS)),
    epochs=30, batch_size=64, learning_rate=1e-2,
    data_help="digits.csv.gz is downloaded automatically when online (scikit-learn's copy); offline, put it "
              "in DIR/digits/ and pass --data DIR (or set SPIKAX_DATA=DIR)."))


# -- MNIST ------------------------------------------------------------------------------------

MNIST_HELP = ("The four MNIST .gz files are downloaded automatically when online; offline, put them in DIR/mnist/ "
              "and pass --data DIR (or set SPIKAX_DATA=DIR).")
CONV_STEPS = 4


def _mnist_data(view):
    def load(root, limit):
        train = datasets.load_mnist("train", view=view, root=root, limit=limit)
        test = datasets.load_mnist("test", view=view, root=root, limit=limit)
        if view == "image":  # add the channel axis expected by eqx.nn.Conv2d
            train, test = (train[0][:, None], train[1]), (test[0][:, None], test[1])
        return train, test

    return load


def _repeat(n_steps):
    def encode(x, key):  # direct ("analog") input: the image is the input current at every step
        del key
        return jnp.repeat(x[:, None], n_steps, axis=1)

    return encode


def _conv(c_in, c_out, size, gain, key, stride=1):
    return _gaussian(lambda k: eqx.nn.Conv2d(c_in, c_out, size, stride=stride, padding=size // 2, key=k), gain, key)


def _mnist_conv_model(key):
    k1, k2, k3 = jax.random.split(key, 3)
    beta = 0.5
    return Chain([
        # strided convolutions: 28x28 -> 14x14 -> 7x7, four times cheaper than convolution + pooling
        layers.Layer(_conv(1, 16, 5, 2.0 / (1 - beta), k1, stride=2), neurons.LIF(beta=beta)),
        layers.Layer(_conv(16, 32, 5, 2.0 / (1 - beta), k2, stride=2), neurons.LIF(beta=beta)),
        layers.Flatten(),
        _dense(32 * 7 * 7, 10, neurons.LI(beta=beta), 1.0 / (1 - beta), k3),
    ])


register_task(Task(
    name="mnist-conv",
    description=f"MNIST, convolutional SNN (16c5s2-32c5s2-10), direct input for {CONV_STEPS} steps",
    load=_mnist_data("image"), model=_mnist_conv_model,
    loss=classification_loss("mean", encode=_repeat(CONV_STEPS)),
    epochs=3, batch_size=128, learning_rate=1e-2, schedule="cosine", data_help=MNIST_HELP))


def _mnist_seq_model(key):
    k1, k2 = jax.random.split(key)
    # Adaptive thresholds (LSNN, Bellec et al. 2018) carry memory over the 784 steps better than LIF.
    hidden = neurons.ALIF(alpha=0.95, rho=0.995, beta_a=0.2)
    return Chain([_recurrent(1, 128, hidden, 2.0 / 0.05, 1.0 / 0.05, k1),
                  _dense(128, 10, neurons.LI(beta=0.95), 0.6 / 0.05, k2)])


register_task(Task(
    name="mnist-seq",
    description="sequential MNIST, one pixel per step (784 steps); recurrent 128 ALIF",
    load=_mnist_data("pixel"), model=_mnist_seq_model, loss=classification_loss("max"),
    epochs=1, batch_size=128, learning_rate=5e-3, data_help=MNIST_HELP))


# -- Braille ----------------------------------------------------------------------------------

BRAILLE_THRESHOLD = 0.5


def _braille_data(root, limit):
    data = datasets.load_braille(root=root)
    x = data.x.copy()
    for i, n in enumerate(data.lengths):  # hold the last reading instead of zero padding (no fake OFF spikes)
        x[i, n:] = x[i, n - 1]
    with jax.default_device(jax.devices("cpu")[0]):
        spikes = jax.vmap(lambda trial: encoding.delta(trial, BRAILLE_THRESHOLD))(jnp.asarray(x))
    spikes = np.asarray(spikes).reshape(len(x), x.shape[1], -1)  # (N, T, 2 * 12): ON and OFF per taxel
    # Test on the last 10 of the 50 repetitions of every letter, train on the first 40.
    test = data.repetition >= 40
    train_data, test_data = (spikes[~test], data.labels[~test]), (spikes[test], data.labels[test])
    return _limit((train_data, test_data), limit)


def _braille_model(key):
    k1, k2 = jax.random.split(key)
    return Chain([_recurrent(24, 128, neurons.LIF(beta=0.9), 5.0 / 0.1, 0.2 / 0.1, k1),
                  _dense(128, 27, neurons.LI(beta=0.9), 1.0 / 0.1, k2)])


register_task(Task(
    name="braille",
    description="tactile Braille reading (Mueller-Cleve et al. 2022), 27 letters, delta-coded taxels; recurrent 128 LIF",
    load=_braille_data, model=_braille_model, loss=classification_loss("max"),
    epochs=40, batch_size=32, learning_rate=1e-2,
    data_help="braille_taxel.npz is not downloaded automatically: it is the tactile Braille data set of "
              "Mueller-Cleve et al. 2022 (CC BY 4.0) stored as NumPy arrays (keys taxel_data, offsets, labels, "
              "repetition, letters). Put it in DIR/braille/ and pass --data DIR (or set SPIKAX_DATA=DIR)."))
