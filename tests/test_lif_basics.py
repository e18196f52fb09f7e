"""First checks of the core contract on LIF (the full neuron suite is in test_neurons.py)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import spikax
from spikax.neurons import LIF


def test_reset_free_lif_is_a_geometric_sum():
    beta, x, steps = 0.8, 0.3, 12
    lif = LIF(beta=beta, reset="none", threshold=1e6)
    state = lif.init_state((1,))
    for _ in range(steps):
        state, _ = lif(state, jnp.array([x]))
    expected = (1 - beta) * x * (1 - beta**steps) / (1 - beta)
    np.testing.assert_allclose(state.v, expected, rtol=1e-12)


def test_fixed_parameter_gets_no_update_with_optax():
    lif = LIF(beta=0.9, learnable=["threshold"])

    def loss(model):
        state = model.init_state((4,))
        _, spikes = jax.lax.scan(lambda s, x: model(s, x), state, jnp.full((20, 4), 3.0))
        return spikes.sum()

    grads = eqx.filter_grad(loss)(lif)
    assert grads.raw_beta == 0.0
    assert grads.raw_threshold != 0.0
    opt = optax.sgd(0.1)
    updates, _ = opt.update(grads, opt.init(eqx.filter(lif, eqx.is_array)))
    new = eqx.apply_updates(lif, updates)
    assert new.raw_beta == lif.raw_beta
    assert new.raw_threshold != lif.raw_threshold


def test_bad_input_messages_name_the_object_and_fix():
    with pytest.raises(ValueError, match=r"spikax.neurons.LIF.*beta.*\[0, 1\]"):
        LIF(beta=1.5)
    with pytest.raises(ValueError, match=r"LIF.*tau.*positive"):
        LIF(tau=-1.0)
    with pytest.raises(ValueError, match=r"LIF.*unknown reset mode 'soft'.*subtract"):
        LIF(reset="soft")
    lif = LIF()
    with pytest.raises(ValueError, match=r"LIF.*input has shape \(3,\).*state has shape \(2,\).*jax.vmap"):
        lif(lif.init_state((2,)), jnp.ones(3))


@pytest.mark.standard_promotion  # optax's adamw is not strict-promotion clean
def test_trainable_filter_excludes_fixed_parameters_from_adamw():
    lif = LIF(beta=0.9, learnable=["threshold"])
    params, static = eqx.partition(lif, spikax.trainable(lif))
    assert params.raw_beta is None and params.raw_threshold is not None
    opt = optax.adamw(0.1, weight_decay=0.5)
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    updates, _ = opt.update(grads, opt.init(params), params)
    new = eqx.combine(eqx.apply_updates(params, updates), static)
    assert new.raw_beta == lif.raw_beta and new.raw_threshold != lif.raw_threshold


def test_trainable_filter_leaves_out_bntt_running_statistics():
    norm = spikax.layers.BNTT(num_steps=3, channels=4)
    flags = spikax.trainable(norm)
    assert flags.weight is True
    assert flags.running_mean is False and flags.running_var is False


def test_a_neuron_is_a_scan_body_even_under_grad():
    lif = LIF(beta=0.9, learnable=["beta"])
    xs = jnp.full((10, 3), 3.0)

    def loss(model):
        return jax.lax.scan(model, model.init_state((3,)), xs)[1].sum()

    expected = eqx.filter_grad(lambda m: jax.lax.scan(lambda s, x: m(s, x), m.init_state((3,)), xs)[1].sum())(lif)
    assert eqx.filter_grad(loss)(lif).raw_beta == expected.raw_beta != 0.0
