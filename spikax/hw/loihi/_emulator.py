"""A bit-accurate emulator of Loihi 2's CUBA LIF neuron fed by a Dense connection (Lava's fixed-point models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

M = 2**23  # u and v live in 24-bit signed registers
DECAY_ONE = 4096  # decays are 12-bit fractions of this
STATE_SHIFT = 6  # inputs and thresholds are shifted left by this many bits


class LoihiLayer(NamedTuple):
    """One Dense connection and the CUBA LIF neurons it feeds, in Loihi's integer units.

    **Arguments (fields):**

    - `weights`: int `[n_out, n_in]`, as given to Lava's `Dense` (before clipping and dropping low bits).
    - `weight_exp`: the weight exponent (`acc << weight_exp`, or an arithmetic right shift if negative).
    - `num_weight_bits`: weight precision, 1..8.
    - `du`, `dv`: 12-bit current and voltage decays (0..4095), scalars or per neuron.
    - `vth`: threshold mantissa (compared with `v` after a left shift by 6).
    - `bias_mant`, `bias_exp`: a bias added to `v` every step, `bias_mant << bias_exp`.
    """

    weights: np.ndarray
    weight_exp: int = 0
    num_weight_bits: int = 8
    du: int | np.ndarray = 0
    dv: int | np.ndarray = 0
    vth: int | np.ndarray = 10
    bias_mant: int | np.ndarray = 0
    bias_exp: int = 0


class LoihiTrace(NamedTuple):
    """What `spikax.hw.loihi.run` records each step, after that step's reset."""

    u: np.ndarray  # int64 [time, n]: synaptic current
    v: np.ndarray  # int64 [time, n]: membrane voltage
    s: np.ndarray  # int8 [time, n]: output spikes


def _shift(x, e):
    """`x << e`, or an arithmetic (floor) right shift by `-e` when `e` is negative."""
    x = np.asarray(x, np.int64)
    e = np.asarray(e, np.int64)
    return np.where(e >= 0, x << np.maximum(e, 0), x >> np.maximum(-e, 0))


def _rtz_decay(x, keep):
    """`x * keep / 4096` rounded toward zero."""
    prod = np.asarray(x, np.int64) * np.asarray(keep, np.int64)
    return np.sign(prod) * (np.abs(prod) >> 12)


def quantize_weights(weights, num_weight_bits: int = 8) -> np.ndarray:
    r"""The weights Lava's bit-accurate `Dense` really uses: clipped, with the low bits dropped.

    The sign mode follows the weights. Mixed signs: clip to [-256, 255] and clear the lowest
    $8 - n + 1$ bits in two's complement (rounding toward $-\infty$). All excitatory: clip to
    [0, 255] and clear the lowest $8 - n$ bits. All inhibitory: clear the lowest $8 - n$ bits of
    the clipped magnitude, then negate.

    **Arguments:**

    - `weights`: integer weights.
    - `num_weight_bits`: precision $n$, 1..8.

    **Returns:** int64 weights.

    **Example:**

    ```python
    spikax.hw.loihi.quantize_weights(np.array([[-1, 3, 300]]), num_weight_bits=5)  # [[-16, 0, 240]]
    ```
    """
    w = np.asarray(weights, np.int64)
    if not 1 <= int(num_weight_bits) <= 8:
        raise ValueError(f"`spikax.hw.loihi.quantize_weights`: `num_weight_bits` must be 1..8, got {num_weight_bits}.")
    drop = 8 - int(num_weight_bits)
    if np.any(w > 0) and np.any(w < 0):
        mask = ~np.int64((1 << (drop + 1)) - 1)
        return np.clip(w, -256, 255) & mask
    mask = ~np.int64((1 << drop) - 1)
    if np.any(w < 0):
        return -(np.clip(-w, 0, 255) & mask)
    return np.clip(w, 0, 255) & mask


def _lif_step(u, v, a_in, layer: LoihiLayer):
    u_new = _rtz_decay(u, DECAY_ONE - (np.asarray(layer.du, np.int64) + 1)) + (a_in << STATE_SHIFT)
    wrapped = np.where(u_new > M, u_new - 2 * M, u_new)  # Lava's order: wrap down, then (from the unwrapped u) up
    u_new = np.where(wrapped <= -M, u_new + 2 * M, wrapped)
    bias = _shift(layer.bias_mant, layer.bias_exp)
    v_new = np.clip(_rtz_decay(v, DECAY_ONE - np.asarray(layer.dv, np.int64)) + u_new + bias, -(M - 1), M - 1)
    s = v_new > (np.asarray(layer.vth, np.int64) << STATE_SHIFT)
    return u_new, np.where(s, 0, v_new), s


def run(layers: LoihiLayer | Sequence[LoihiLayer], spikes_in, *, recurrent: Sequence[LoihiLayer | None] | None = None,
        record: int = -1) -> LoihiTrace:
    r"""Run binary input spikes through Dense + CUBA LIF layers, bit for bit as Lava's fixed-point models do.

    Per step $t$ and layer, with integers only and $M = 2^{23}$ (Lava 0.10, `PyLifModelBitAcc`,
    `PyDenseModelBitAcc`):

    $$a_t = (W\,s^{in}_{t-1}) \ll e_w,\quad u_t = \mathrm{rtz}\!\left(u_{t-1}\tfrac{4096-(d_u+1)}{4096}\right) + (a_t \ll 6)$$

    then $u$ wraps once into 24 bits, $v_t = \mathrm{clip}(\mathrm{rtz}(v_{t-1}\tfrac{4096-d_v}{4096}) + u_t + (b_m \ll b_e), \pm(M-1))$,
    $s_t = v_t > (\theta \ll 6)$ and $v_t = 0$ where $s_t$. A Dense delivers at the next step,
    so each layer adds one step of latency.

    **Arguments:**

    - `layers`: one `spikax.hw.loihi.LoihiLayer` or a list (each feeds the next).
    - `spikes_in`: `[time, n_in]` binary input spikes (or `[time, batch, n_in]`).
    - `recurrent`: optionally, per layer, a layer whose `weights` (`[n, n]`), `weight_exp` and
      `num_weight_bits` form a recurrent Dense from the layer's spikes back to itself (or None).
    - `record`: which layer's trace to return (default: the last).

    **Returns:** a `spikax.hw.loihi.LoihiTrace` `(u, v, s)`, each `[time, n]`.

    **Example:**

    ```python
    layer = spikax.hw.loihi.LoihiLayer(np.array([[100, -50]]), du=1024, dv=256, vth=100)
    trace = spikax.hw.loihi.run(layer, np.ones((20, 2), np.int8))
    trace.s.sum()  # spikes of the one neuron over 20 steps
    ```
    """
    layers = [layers] if isinstance(layers, LoihiLayer) else list(layers)
    recurrent = [None] * len(layers) if recurrent is None else list(recurrent)
    spikes_in = np.asarray(spikes_in)
    weights = [quantize_weights(l.weights, l.num_weight_bits) for l in layers]
    rec_w = [None if r is None else quantize_weights(r.weights, r.num_weight_bits) for r in recurrent]
    n = [spikes_in.shape[1:-1] + (w.shape[0],) for w in weights]
    u = [np.zeros(k, np.int64) for k in n]
    v = [np.zeros(k, np.int64) for k in n]
    pending = [np.zeros(k, np.int64) for k in n]  # what each Dense delivers next step
    pending_rec = [np.zeros(k, np.int64) for k in n]
    record = record % len(layers)
    us, vs, ss = [], [], []
    for x in spikes_in:
        src = (np.asarray(x) != 0).astype(np.int64)
        for i, layer in enumerate(layers):
            a_in = pending[i] + pending_rec[i]
            pending[i] = _shift(src @ weights[i].T, layer.weight_exp)
            u[i], v[i], s = _lif_step(u[i], v[i], a_in, layer)
            if rec_w[i] is not None:
                pending_rec[i] = _shift(s.astype(np.int64) @ rec_w[i].T, recurrent[i].weight_exp)
            if i == record:
                us.append(u[i].copy())
                vs.append(v[i].copy())
                ss.append(s.astype(np.int8))
            src = s.astype(np.int64)
    return LoihiTrace(np.stack(us), np.stack(vs), np.stack(ss))
