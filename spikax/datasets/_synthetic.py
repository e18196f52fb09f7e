"""Synthetic spiking tasks: randman, delayed XOR, evidence (cue) accumulation, store-recall."""

from __future__ import annotations

import numpy as np

from ._random import numpy_rng


def _positive_int(owner: str, name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{owner}`: `{name}` must be an int >= {minimum}, got {value!r}.")
    return int(value)


def randman(n_classes: int = 10, n_units: int = 100, n_steps: int = 100, *, samples_per_class: int = 100,
            dim_manifold: int = 2, alpha: float = 2.0, n_frequencies: int = 4, spiking: bool = True,
            shuffle: bool = True, key=None, seed=None):
    r"""Random manifold classification data (Zenke & Vogels 2021, *Neural Comput.* 33:899).

    Each class is a smooth random $D$-dimensional manifold embedded in $[0, 1]^{U}$. Unit $i$ of
    class $c$ reads the intrinsic coordinates $u \in [0, 1]^D$ through a sum of random sinusoids
    whose amplitudes fall off with frequency as $k^{-\alpha}$ (larger $\alpha$: smoother):

    $$y_i(u) = \sum_{d=1}^{D}\sum_{k=1}^{K} a_{idk}\,k^{-\alpha}\sin(2\pi k u_d + \varphi_{idk}),
      \qquad a \sim U(0,1),\ \varphi \sim U(0, 2\pi),$$

    then each unit is rescaled to $[0, 1]$ by its range over 1000 reference points of the class
    (points beyond it are clipped). Samples draw $u \sim U(0,1)^D$. In the spiking version each
    unit fires exactly once, at step $\lfloor y_i T \rfloor$ (clipped to $T-1$), so the class
    is carried only by spike timing. (Written from the paper's description.)

    **Arguments:**

    - `n_classes`, `n_units`, `n_steps`: classes, input units $U$, time steps $T$.
    - `samples_per_class`: examples drawn from each manifold.
    - `dim_manifold`: intrinsic dimension $D$; `alpha`: smoothness $\alpha$;
      `n_frequencies`: number of sinusoids $K$ per dimension.
    - `spiking`: return spike trains (default) or the points $y \in [0,1]^U$.
    - `shuffle`: mix the classes (else sorted by class).
    - `key` or `seed`: a JAX PRNG key or an int (exactly one); the same one gives the same data.

    **Returns:**

    `(x, labels)`: `x` float32 spikes `(N, n_steps, n_units)` with one spike per unit, or points
    `(N, n_units)` with `spiking=False`; int64 `labels` `(N,)`; $N$ = `n_classes * samples_per_class`.

    **Example:**

    ```python
    spikes, labels = spikax.datasets.randman(n_classes=2, n_units=20, samples_per_class=50, seed=0)
    spikes.shape  # (100, 100, 20); spikes.sum(1) is all ones
    ```
    """
    owner = "spikax.datasets.randman"
    n_classes = _positive_int(owner, "n_classes", n_classes)
    n_units = _positive_int(owner, "n_units", n_units)
    n_steps = _positive_int(owner, "n_steps", n_steps)
    samples_per_class = _positive_int(owner, "samples_per_class", samples_per_class)
    dim = _positive_int(owner, "dim_manifold", dim_manifold)
    n_freq = _positive_int(owner, "n_frequencies", n_frequencies)
    rng = numpy_rng(owner, key, seed)
    points, labels = _randman_points(rng, n_classes, n_units, samples_per_class, dim, float(alpha), n_freq, shuffle)
    if not spiking:
        return points.astype(np.float32), labels
    return _first_spike_trains(points, n_steps), labels


def _randman_points(rng, n_classes, n_units, samples_per_class, dim, alpha, n_freq, shuffle):
    """The points $y \\in [0, 1]^U$ of `randman` (float64) and their labels, drawn from `rng`."""
    k = np.arange(1, n_freq + 1)
    spectrum = k ** (-alpha)

    def embed(u, amp, phase):  # u: (n, D) -> (n, U)
        waves = np.sin(2 * np.pi * k * u[:, None, :, None] + phase)  # (n, U, D, K)
        return np.sum(amp * spectrum * waves, axis=(2, 3))

    points, labels = [], []
    for c in range(n_classes):
        amp = rng.uniform(0, 1, (n_units, dim, n_freq))
        phase = rng.uniform(0, 2 * np.pi, (n_units, dim, n_freq))
        ref = embed(rng.uniform(0, 1, (1000, dim)), amp, phase)
        lo, hi = ref.min(0), ref.max(0)
        y = (embed(rng.uniform(0, 1, (samples_per_class, dim)), amp, phase) - lo) / (hi - lo)
        points.append(np.clip(y, 0, 1))
        labels.append(np.full(samples_per_class, c, np.int64))
    points, labels = np.concatenate(points), np.concatenate(labels)
    if shuffle:
        order = rng.permutation(len(labels))
        points, labels = points[order], labels[order]
    return points, labels


def _first_spike_trains(points, n_steps):
    """One spike per unit at step floor(y T) (clipped to T - 1): `(N, U)` points -> `(N, T, U)` float32 spikes."""
    times = np.minimum(np.floor(points * n_steps).astype(np.int64), n_steps - 1)
    spikes = np.zeros((len(points), n_steps, points.shape[1]), np.float32)
    np.put_along_axis(spikes, times[:, None, :], 1.0, axis=1)
    return spikes


def _poisson(rng, rates_hz, dt):
    """Bernoulli spikes with probability rate * dt per step (rates shaped (T, C))."""
    return (rng.random(rates_hz.shape, dtype=np.float32) < rates_hz * dt).astype(np.float32)


def _check_rates(owner, dt, *rates):
    if not dt > 0:
        raise ValueError(f"`{owner}`: `dt` must be positive (seconds per step), got {dt!r}.")
    for r in rates:
        if not 0 <= r * dt <= 1:
            raise ValueError(f"`{owner}`: a rate of {r} Hz with dt={dt} s gives a spike probability {r * dt} per "
                             "step, outside [0, 1]. Lower the rate or the step size.")


def cue_accumulation(n_samples: int, *, n_cues: int = 7, cue_steps: int = 100, cue_period: int = 150,
                     delay_steps: int = 1050, recall_steps: int = 150, channels_per_group: int = 10,
                     rate: float = 40.0, noise_rate: float = 10.0, dt: float = 1e-3, key=None, seed=None):
    r"""Evidence accumulation ("cue accumulation") task of Bellec et al. 2020 (*Nat. Commun.* 11:3625, Fig. 3).

    Four groups of input channels: left cue, right cue, recall, and background noise. The
    $n$ cues (default 7) each last `cue_steps` and start every `cue_period` steps; each is
    randomly on the left or the right, and its group fires at `rate` while it lasts. After a
    delay, the recall group fires for the last `recall_steps`; the noise group fires at
    `noise_rate` throughout. The label is the side that got more cues (0 = left, 1 = right).
    The defaults give $T = 7\cdot150 + 1050 + 150 = 2250$ steps of 1 ms and 40 channels.

    **Arguments:**

    - `n_samples`: number of trials.
    - `n_cues`: cues per trial (odd, so there is no tie).
    - `cue_steps`, `cue_period`, `delay_steps`, `recall_steps`: timing in steps (shorten them for
      quick experiments).
    - `channels_per_group`: channels in each of the 4 groups.
    - `rate`, `noise_rate`: firing rates in Hz; `dt`: step in seconds.
    - `key` or `seed`: a JAX PRNG key or an int (exactly one).

    **Returns:**

    `(spikes, labels)`: float32 `(N, T, 4 * channels_per_group)` (groups in the order left, right,
    recall, noise) and int64 `(N,)`; the decision is read during the last `recall_steps` steps.

    **Example:**

    ```python
    spikes, labels = spikax.datasets.cue_accumulation(8, seed=0)  # (8, 2250, 40), (8,)
    ```
    """
    owner = "spikax.datasets.cue_accumulation"
    n_samples = _positive_int(owner, "n_samples", n_samples)
    n_cues = _positive_int(owner, "n_cues", n_cues)
    if n_cues % 2 == 0:
        raise ValueError(f"`{owner}`: `n_cues` must be odd so one side always wins, got {n_cues}.")
    cue_steps = _positive_int(owner, "cue_steps", cue_steps)
    cue_period = _positive_int(owner, "cue_period", cue_period)
    if cue_period < cue_steps:
        raise ValueError(f"`{owner}`: `cue_period` ({cue_period}) must be at least `cue_steps` ({cue_steps}).")
    delay_steps = _positive_int(owner, "delay_steps", delay_steps, 0)
    recall_steps = _positive_int(owner, "recall_steps", recall_steps)
    cpg = _positive_int(owner, "channels_per_group", channels_per_group)
    _check_rates(owner, dt, rate, noise_rate)
    rng = numpy_rng(owner, key, seed)
    n_steps = n_cues * cue_period + delay_steps + recall_steps
    spikes = np.empty((n_samples, n_steps, 4 * cpg), np.float32)
    labels = np.empty(n_samples, np.int64)
    for i in range(n_samples):
        sides = rng.integers(0, 2, n_cues)
        rates = np.zeros((n_steps, 4 * cpg), np.float32)
        for j, side in enumerate(sides):
            start = j * cue_period
            rates[start:start + cue_steps, side * cpg:(side + 1) * cpg] = rate
        rates[n_steps - recall_steps:, 2 * cpg:3 * cpg] = rate
        rates[:, 3 * cpg:] = noise_rate
        spikes[i] = _poisson(rng, rates, dt)
        labels[i] = int(sides.sum() * 2 > n_cues)
    return spikes, labels


def delayed_xor(n_samples: int, *, cue_steps: int = 50, gap_steps: int = 50, delay_steps: int = 100,
                recall_steps: int = 50, channels_per_group: int = 10, rate: float = 100.0,
                noise_rate: float = 0.0, dt: float = 1e-3, key=None, seed=None):
    r"""Delayed XOR: two bits shown one after the other; after a delay, answer their XOR.

    Three groups of input channels: value "0", value "1" and recall. Bit $a$ is shown for
    `cue_steps` by the group of its value firing at `rate`; after `gap_steps`, bit $b$ likewise;
    after `delay_steps` the recall group fires for the last `recall_steps`. The label is
    $a \oplus b$, so the network must hold both bits in memory (a classic test of memory in
    recurrent SNNs, e.g. Bellec et al. 2018; Zenke & Ganguli 2018).
    $T = 2\,\text{cue} + \text{gap} + \text{delay} + \text{recall}$ (default 300).

    **Arguments:**

    - `n_samples`: number of trials.
    - `cue_steps`, `gap_steps`, `delay_steps`, `recall_steps`: timing in steps.
    - `channels_per_group`: channels per group (3 groups).
    - `rate`, `noise_rate`: active and background rates in Hz; `dt`: step in seconds.
    - `key` or `seed`: a JAX PRNG key or an int (exactly one).

    **Returns:**

    `(spikes, labels)`: float32 `(N, T, 3 * channels_per_group)` and int64 `(N,)` in {0, 1}.

    **Example:**

    ```python
    spikes, labels = spikax.datasets.delayed_xor(16, seed=0)  # (16, 300, 30), (16,)
    ```
    """
    owner = "spikax.datasets.delayed_xor"
    n_samples = _positive_int(owner, "n_samples", n_samples)
    cue_steps = _positive_int(owner, "cue_steps", cue_steps)
    gap_steps = _positive_int(owner, "gap_steps", gap_steps, 0)
    delay_steps = _positive_int(owner, "delay_steps", delay_steps, 0)
    recall_steps = _positive_int(owner, "recall_steps", recall_steps)
    cpg = _positive_int(owner, "channels_per_group", channels_per_group)
    _check_rates(owner, dt, rate, noise_rate)
    rng = numpy_rng(owner, key, seed)
    n_steps = 2 * cue_steps + gap_steps + delay_steps + recall_steps
    bits = rng.integers(0, 2, (n_samples, 2))
    spikes = np.empty((n_samples, n_steps, 3 * cpg), np.float32)
    for i, (a, b) in enumerate(bits):
        rates = np.full((n_steps, 3 * cpg), noise_rate, np.float32)
        rates[:cue_steps, a * cpg:(a + 1) * cpg] = rate
        start = cue_steps + gap_steps
        rates[start:start + cue_steps, b * cpg:(b + 1) * cpg] = rate
        rates[n_steps - recall_steps:, 2 * cpg:] = rate
        spikes[i] = _poisson(rng, rates, dt)
    return spikes, (bits[:, 0] ^ bits[:, 1]).astype(np.int64)


def store_recall(n_samples: int, *, n_windows: int = 10, window_steps: int = 50, channels_per_group: int = 10,
                 rate: float = 100.0, noise_rate: float = 0.0, dt: float = 1e-3, key=None, seed=None):
    r"""Store-recall: remember the bit shown when the store cue fired; report it at the recall cue.

    After the 1-bit store-recall task of Bellec et al. 2018 (*NeurIPS*, LSNN). Four groups of
    channels: value "0", value "1", store and recall. The trial is `n_windows` windows of
    `window_steps`; in each window but the last a random bit is shown by its value group firing
    at `rate`. The store group fires in one random window $s$ (not the last), and the recall
    group in the last window, where no value is shown. The label is the bit of window $s$;
    later bits are distractors.

    **Arguments:**

    - `n_samples`: number of trials.
    - `n_windows` (at least 2), `window_steps`: timing; $T$ = `n_windows * window_steps`.
    - `channels_per_group`: channels per group (4 groups).
    - `rate`, `noise_rate`: rates in Hz; `dt`: step in seconds.
    - `key` or `seed`: a JAX PRNG key or an int (exactly one).

    **Returns:**

    `(spikes, labels)`: float32 `(N, T, 4 * channels_per_group)` and int64 `(N,)` in {0, 1}; the
    answer is due during the last window.

    **Example:**

    ```python
    spikes, labels = spikax.datasets.store_recall(16, seed=0)  # (16, 500, 40), (16,)
    ```
    """
    owner = "spikax.datasets.store_recall"
    n_samples = _positive_int(owner, "n_samples", n_samples)
    n_windows = _positive_int(owner, "n_windows", n_windows, 2)
    window_steps = _positive_int(owner, "window_steps", window_steps)
    cpg = _positive_int(owner, "channels_per_group", channels_per_group)
    _check_rates(owner, dt, rate, noise_rate)
    rng = numpy_rng(owner, key, seed)
    n_steps = n_windows * window_steps
    spikes = np.empty((n_samples, n_steps, 4 * cpg), np.float32)
    labels = np.empty(n_samples, np.int64)
    for i in range(n_samples):
        bits = rng.integers(0, 2, n_windows - 1)
        store = rng.integers(0, n_windows - 1)
        rates = np.full((n_steps, 4 * cpg), noise_rate, np.float32)
        for w, bit in enumerate(bits):
            rates[w * window_steps:(w + 1) * window_steps, bit * cpg:(bit + 1) * cpg] = rate
        rates[store * window_steps:(store + 1) * window_steps, 2 * cpg:3 * cpg] = rate
        rates[n_steps - window_steps:, 3 * cpg:] = rate
        spikes[i] = _poisson(rng, rates, dt)
        labels[i] = bits[store]
    return spikes, labels
