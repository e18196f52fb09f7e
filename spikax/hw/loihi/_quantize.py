"""Turn a trained float spikax model into Loihi integer parameters, and measure what that costs."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ...layers import Layer, Recurrent
from ...network import Chain
from ...neurons import LIF, CubaLIF
from ._emulator import DECAY_ONE, STATE_SHIFT, LoihiLayer, run

OWNER = "spikax.hw.loihi.quantize"


class QuantizeReport(NamedTuple):
    """What `spikax.hw.loihi.quantize` returns."""

    layers: list  # one LoihiLayer per spikax layer
    recurrent: list  # per layer, the recurrent LoihiLayer (weights only) or None
    scales: list  # per layer, Loihi voltage units (before the 6-bit shift) per unit of spikax voltage
    accuracy_float: float | None  # spike-count accuracy of the float model (None without data)
    accuracy_loihi: float | None  # the same, bit-accurate Loihi emulation
    spike_agreement: float | None  # fraction of output spike counts equal in both

    def run(self, spikes_in):
        """Run the integer model (`spikax.hw.loihi.run`) on `[time, (batch,) n_in]` spikes; returns the last layer's trace."""
        return run(self.layers, spikes_in, recurrent=self.recurrent)


def _decay_param(decay):
    return np.asarray(jax.device_get(decay), np.float64)


def _layer_parts(layer, index):
    if not isinstance(layer, (Layer, Recurrent)) or not isinstance(layer.connection, eqx.nn.Linear):
        raise NotImplementedError(
            f"`{OWNER}`: layer {index} is a {type(layer).__name__}; Loihi's Dense + CUBA LIF maps spikax `Layer` and "
            "`Recurrent` layers with an `equinox.nn.Linear` connection and a LIF or CubaLIF neuron.")
    neuron = layer.neuron
    if not isinstance(neuron, (LIF, CubaLIF)):
        raise NotImplementedError(f"`{OWNER}`: layer {index} has a {type(neuron).__name__} neuron; Loihi's CUBA LIF "
                                  "maps LIF and CubaLIF (spiking read-outs only).")
    if neuron.reset != "zero" or np.any(np.asarray(neuron.v_reset) != 0):
        warnings.warn(f"`{OWNER}`: layer {index} resets by {neuron.reset!r}; Loihi resets to zero, so the integer "
                      "model will spike differently. Train with `reset='zero'` for a faithful mapping.", UserWarning,
                      stacklevel=3)
    return layer.connection, getattr(layer, "recurrent", None), neuron


def _fit_bias(value):
    """`value ~ mant << exp` with a 13-bit signed mantissa."""
    value = np.rint(np.asarray(value, np.float64)).astype(np.int64)
    exp = 0
    while np.any(np.abs(value >> exp) > 4095):
        exp += 1
    mant = np.rint(value / 2.0**exp).astype(np.int64)
    return mant, exp


def _weights(scaled, num_weight_bits, mixed):
    """Round weights (in Loihi mantissa units) to the grid Lava keeps, so that its truncation is exact."""
    step = 2 ** (8 - num_weight_bits + (1 if mixed else 0))
    return (np.rint(scaled / step) * step).astype(np.int64)


def quantize(model, spikes=None, labels=None, *, num_weight_bits: int = 8) -> QuantizeReport:
    r"""Map a trained float spikax model onto Loihi 2's integer CUBA LIF neurons, and report the accuracy cost.

    Each layer (a `Layer` or `Recurrent` with an `equinox.nn.Linear` connection and a `LIF` or
    `CubaLIF` neuron with `reset="zero"`) becomes a Dense + CUBA LIF with
    $d_u = 4096(1-\alpha) - 1$ (a `LIF` has no synaptic state: $d_u = 4095$),
    $d_v = 4096(1-\beta)$, and its voltage rescaled by a factor $S$ chosen so that the largest
    weight $S(1-\beta)|W|/64$ fills the weight mantissa; the threshold becomes $S\theta/64$.
    Weights are rounded to the grid Lava keeps. A bias, which Loihi adds to the voltage, is
    mapped to its steady-state value $S(1-\beta)b/(1-\alpha)$ (exact for a `LIF`). Each Dense adds
    one step of latency, so the integer model's spikes come later; accuracy is measured on spike
    counts over the sequence padded by one step per layer. Lava's integer model:
    `lava.proc.lif.models.PyLifModelBitAcc` (Intel, lava-nc 0.10).

    **Arguments:**

    - `model`: a trained spikax `Chain` of such layers (or one layer).
    - `spikes`: optional `[batch, time, n_in]` binary input spikes to measure accuracy on.
    - `labels`: `[batch]` class indices (the output neuron with the most spikes wins).
    - `num_weight_bits`: weight precision, 1..8 (default 8).

    **Returns:** a `spikax.hw.loihi.QuantizeReport` with the integer layers and the
    accuracy of the float model and of the bit-accurate emulation.

    **Example:**

    ```python
    net = spikax.Chain([spikax.layers.dense(4, 3, spikax.neurons.CubaLIF(reset="zero"), key=key, use_bias=False)])
    spikes = (jax.random.uniform(key, (8, 30, 4)) < 0.3).astype(jnp.float64)
    report = spikax.hw.loihi.quantize(net, spikes, np.arange(8) % 3)
    report.layers[0].du, report.accuracy_float, report.accuracy_loihi
    ```
    """
    layers = list(model.layers) if isinstance(model, Chain) else [model]
    loihi, rec_layers, scales = [], [], []
    for index, layer in enumerate(layers):
        conn, rec, neuron = _layer_parts(layer, index)
        beta = _decay_param(neuron.beta)
        alpha = _decay_param(neuron.alpha) if isinstance(neuron, CubaLIF) else np.zeros_like(beta)
        n_out = conn.weight.shape[0]
        gain = np.broadcast_to(1.0 - beta, (n_out,))[:, None]
        w = np.asarray(conn.weight, np.float64) * gain
        r = None if rec is None else np.asarray(rec.weight, np.float64) * gain
        biggest = max(np.abs(w).max(), 0.0 if r is None else np.abs(r).max())
        mixed = np.any(w > 0) and np.any(w < 0)
        scale = 255.0 * 2**STATE_SHIFT / biggest if biggest > 0 else 1.0
        to_mant = scale / 2**STATE_SHIFT
        du = np.broadcast_to(np.clip(np.rint(DECAY_ONE * (1.0 - alpha)) - 1, 0, 4095), (n_out,)).astype(np.int64)
        dv = np.broadcast_to(np.clip(np.rint(DECAY_ONE * (1.0 - beta)), 0, 4095), (n_out,)).astype(np.int64)
        threshold = np.broadcast_to(np.asarray(neuron.threshold, np.float64), (n_out,))
        vth = np.rint(threshold * to_mant).astype(np.int64)
        bias = np.zeros(n_out) if conn.bias is None else np.asarray(conn.bias, np.float64)
        bias_mant, bias_exp = _fit_bias(scale * gain[:, 0] * bias / np.maximum(1.0 - alpha, 1e-12))
        loihi.append(LoihiLayer(_weights(w * to_mant, num_weight_bits, mixed), 0, num_weight_bits, du, dv, vth,
                                bias_mant, int(bias_exp)))
        rec_layers.append(None if r is None else
                          LoihiLayer(_weights(r * to_mant, num_weight_bits, bool(np.any(r > 0) and np.any(r < 0))), 0,
                                     num_weight_bits))
        scales.append(float(scale))
    report = QuantizeReport(loihi, rec_layers, scales, None, None, None)
    if spikes is None:
        return report
    spikes = np.asarray(spikes, np.float64)
    labels = np.asarray(labels)
    model_layers = Chain(layers)
    xs = jnp.asarray(spikes.transpose(1, 0, 2))
    from ...loop import run as spikax_run

    _, ys = spikax_run(model_layers, model_layers.init_state(xs.shape[2:], xs.dtype), xs, batch_axis=1)
    counts_float = np.asarray(ys).sum(axis=0)
    padded = np.concatenate([spikes.transpose(1, 0, 2), np.zeros((len(layers),) + spikes.shape[0:1] + spikes.shape[2:])])
    counts_loihi = report.run(padded.astype(np.int8)).s.astype(np.int64).sum(axis=0)
    return report._replace(accuracy_float=float(np.mean(counts_float.argmax(-1) == labels)),
                           accuracy_loihi=float(np.mean(counts_loihi.argmax(-1) == labels)),
                           spike_agreement=float(np.mean(counts_float == counts_loihi)))
