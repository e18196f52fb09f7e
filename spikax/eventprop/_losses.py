"""Losses on spike times and on membrane voltages of an event-driven simulation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def first_spike_cross_entropy(first_times: Float[Array, " classes"], label: Int[Array, ""], *, tau0=0.5, tau1=6.4,
                              alpha=3e-3) -> Float[Array, ""]:
    r"""Cross-entropy on first-spike times, with the early-spike regulariser of Wunderlich & Pehle (2021).

    The earliest output neuron wins: class scores are $-t_k/\tau_0$, and the label's neuron is
    pushed to fire early by $\alpha\,(e^{t_{label}/\tau_1} - 1)$:

    $$L = -\log \frac{e^{-t_{label}/\tau_0}}{\sum_k e^{-t_k/\tau_0}} + \alpha\left(e^{t_{label}/\tau_1} - 1\right)$$

    (Wunderlich & Pehle 2021, *Sci. Rep.* 11:12829, eq. for the Yin-Yang and MNIST tasks.)

    **Arguments:**

    - `first_times`: each output neuron's first spike time, e.g. from
      [`spikax.eventprop.first_spike_times`][] (a silent neuron gets a late constant time).
    - `label`: the class index.
    - `tau0`: temperature of the soft-max over times (time units of the simulation).
    - `tau1`: time scale of the regulariser.
    - `alpha`: weight of the regulariser (0 to switch it off).

    **Returns:**

    The loss, a scalar.

    **Example:**

    ```python
    spikax.eventprop.first_spike_cross_entropy(jnp.array([3.0, 5.0, 9.0]), 0, tau0=1.0)
    ```
    """
    scores = jax.nn.log_softmax(-first_times / tau0)
    t_label = first_times[label]
    return -scores[label] + alpha * jnp.expm1(t_label / tau1)


def max_voltage_cross_entropy(voltages: Float[Array, "observations classes"],
                              label: Int[Array, ""]) -> Float[Array, ""]:
    r"""Cross-entropy on each output neuron's largest observed membrane voltage.

    $$L = -\log \operatorname{softmax}_k\big(\max_p V_k(t_p)\big)_{label}$$

    For a readout whose voltages were observed at times $t_p$ (the `observe` argument of
    [`spikax.eventprop.simulate`][]); the gradient enters the adjoint at the time of each maximum.

    **Arguments:**

    - `voltages`: `[observations, classes]` membrane voltages.
    - `label`: the class index.

    **Returns:**

    The loss, a scalar.

    **Example:**

    ```python
    spikax.eventprop.max_voltage_cross_entropy(jnp.array([[0.1, 0.2], [0.5, 0.3]]), 1)
    ```
    """
    return -jax.nn.log_softmax(jnp.max(voltages, axis=0))[label]


def first_spike_predict(first_times: Float[Array, "*batch classes"]) -> Int[Array, "*batch"]:
    """The predicted class: the output neuron that fires first.

    **Example:**

    ```python
    spikax.eventprop.first_spike_predict(jnp.array([3.0, 1.0, 9.0]))  # 1
    ```
    """
    return jnp.argmin(first_times, axis=-1)
