r"""Separable traces: OTTT (Xiao et al. 2022) and OTPE (Summe, Schaefer & Joshi 2023).

Instead of one trace per synapse, OTTT keeps one *presynaptic* trace per input,

$$\hat a_t = \lambda\,\hat a_{t-1} + x_t,$$

and approximates the eligibility by the outer product with the instantaneous postsynaptic
factor $\partial y_{j,t}/\partial I_{j,t}$ (the earlier state held fixed):

$$g_{ji} = \sum_t L_{j,t}\,\frac{\partial y_{j,t}}{\partial I_{j,t}}\,\hat a_{i,t},\qquad
  L^l_t = \partial\ell_t/\partial y^l_t\ \text{(within-step backprop)}.$$

For a LIF membrane with a detached reset and $\lambda = \beta$ this is the exact per-layer trace
($\epsilon = (1-\beta)\hat a$). Extra memory: $O(n_\text{pre})$ per layer (plus $O(k\,n)$ for
learnable neuron parameters, which use the diagonal trace of [`spikax.online.ostl`][]).
"""

from __future__ import annotations

import jax.numpy as jnp

from ._api import _layers_of
from ._eligibility import EligibilityEngine, NextLayerLeak, SeparableTraces, _stateful, build_engine, membrane_leak


def _check_decay(owner, trace_decay):
    if trace_decay is None:
        return None
    value = float(trace_decay)
    if not 0 <= value <= 1:
        raise ValueError(f"`{owner}`: `trace_decay` is a per-step decay and must lie in [0, 1], got {trace_decay!r}. "
                         "Pass None to use each layer's membrane leak.")
    return value


def _check_leaks(owner, model, need):
    """Raise now (not inside jit) when a layer whose leak is needed has none."""
    blocks = _layers_of(model)[0]
    for index in need:
        membrane_leak(owner, blocks[index].neuron, jnp.float32)


def ottt(model, loss_fn, *, trace_decay=None) -> EligibilityEngine:
    r"""Online training through time (Xiao et al., NeurIPS 2022): presynaptic traces times spatial gradients.

    $$\hat a_t = \lambda\hat a_{t-1} + x_t,\qquad
      g_{ji} = \sum_t \frac{\partial\ell_t}{\partial y_{j,t}}\frac{\partial y_{j,t}}{\partial I_{j,t}}\hat a_{i,t}$$

    Exact for one LIF layer with a detached reset and `trace_decay` equal to its leak (and for
    the last layer of a feed-forward network under the same conditions); otherwise an
    approximation that ignores the reset, adaptation and recurrence in the trace.

    **Arguments:**

    - `model`, `loss_fn`: as in [`spikax.online.eprop`][].
    - `trace_decay`: $\lambda$; None (default) uses each layer's membrane leak (LIF/LI: $\beta$,
      ALIF: $\alpha$, IF: 1). Neurons without a single leak (CubaLIF, Izhikevich, ...) need it given.

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    est = spikax.online.ottt(net, mse)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets)
    ```
    """
    owner = "spikax.online.ottt"
    decay = _check_decay(owner, trace_decay)
    engine = build_engine(owner, model, loss_fn, traces=SeparableTraces(decay))
    if decay is None:
        _check_leaks(owner, model, _stateful(engine.plans))
    return engine


def otpe(model, loss_fn, *, trace_decay=None) -> EligibilityEngine:
    r"""Online training with postsynaptic estimates (Summe, Schaefer & Joshi 2023), in the form used here.

    OTTT's eligibility $e^l_t = \frac{\partial y^l_t}{\partial I^l_t}\otimes\hat a^l_t$ is
    additionally low-pass filtered by the leak $\lambda^{l+1}$ of the *next* stateful layer,

    $$\bar e^l_t = \lambda^{l+1}\bar e^l_{t-1} + e^l_t,\qquad g^l = \sum_t L^l_t\,\bar e^l_t,$$

    a cheap estimate of how an output of layer $l$ keeps acting on the next layer's membrane
    after the step it was emitted (ignoring that layer's reset). The last layer is as in
    [`spikax.online.ottt`][]. Extra memory: one filtered eligibility per weight ($O(P)$).

    **Arguments:** as in [`spikax.online.ottt`][]; every stateful layer after the first needs a
    membrane leak (LIF, LI, ALIF or IF).

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    est = spikax.online.otpe(net, mse)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets)
    ```
    """
    owner = "spikax.online.otpe"
    decay = _check_decay(owner, trace_decay)
    stateful = _stateful(build_engine(owner, model, loss_fn, traces=SeparableTraces(decay)).plans)
    _check_leaks(owner, model, stateful[1:] if decay is not None else stateful)
    filters = tuple(NextLayerLeak() if (i in stateful and i != stateful[-1]) else None
                    for i in range(len(_layers_of(model)[0])))
    return build_engine(owner, model, loss_fn, traces=SeparableTraces(decay), filters=filters)
