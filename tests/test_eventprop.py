"""EventProp: exact event-driven simulation and its adjoint gradient.

Checks: gradients equal central finite differences of the simulated loss (float64), the event
simulation is the dt -> 0 limit of `spikax.run` on the same neurons, the backward pass's
compiled memory does not grow with the simulated time, and bad input gets clear errors.
"""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import spikax
from spikax import eventprop as ep


def _scale_weights(net, factor):
    return eqx.tree_at(lambda n: [layer.connection.weight for layer in n.layers], net,
                       replace_fn=lambda w: factor * w)


def _cuba(dt=1.0):
    return spikax.neurons.CubaLIF(tau_syn=5.0, tau_mem=10.0, dt=dt, reset="zero")


def _feedforward(key, neuron, sizes=(3, 5, 2), factor=6.0):
    keys = jax.random.split(key, len(sizes) - 1)
    net = spikax.Chain([spikax.layers.dense(a, b, neuron, use_bias=False, key=k)
                        for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True)])
    return _scale_weights(net, factor)


def _weights(net):
    leaves = [layer.connection.weight for layer in net.layers]
    leaves += [layer.recurrent.weight for layer in net.layers if getattr(layer, "recurrent", None) is not None]
    return leaves


def _set_weights(net, leaves):
    where = lambda n: [layer.connection.weight for layer in n.layers] + [  # noqa: E731
        layer.recurrent.weight for layer in n.layers if getattr(layer, "recurrent", None) is not None]
    return eqx.tree_at(where, net, leaves)


def _relative_error(value, flat, eps=1e-6):
    """Max relative error of `jax.grad(value)(flat)` vs central differences; one compilation for both."""
    shifts = eps * jnp.eye(flat.shape[0], dtype=flat.dtype)
    points = jnp.concatenate([flat[None], flat + shifts, flat - shifts])
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(value)))(points)
    n = flat.shape[0]
    fd = np.asarray(values[1:n + 1] - values[n + 1:]) / (2 * eps)
    assert np.max(np.abs(fd)) > 1e-3, "the loss should depend on the parameters"
    return np.max(np.abs(np.asarray(grads[0]) - fd)) / np.max(np.abs(fd))


def _check_against_finite_differences(net, loss, eps=1e-6):
    """Max relative error of the EventProp gradient of `loss(net)` vs central differences in every weight."""
    flat, unravel = jax.flatten_util.ravel_pytree(_weights(net))
    return _relative_error(lambda f: loss(_set_weights(net, unravel(f))), flat, eps)


INPUT = jnp.array([1.0, 2.5, 4.0])


def test_feedforward_cuba_gradient_matches_finite_differences(getkey):
    net = _feedforward(getkey(), _cuba())
    weights, unravel = jax.flatten_util.ravel_pytree(_weights(net))

    def loss(params):
        # weights and input spike times together: one gradient check for both
        out = ep.simulate(_set_weights(net, unravel(params[3:])), params[:3], dt=1.0, t_end=40.0, max_spikes=64)
        first = ep.first_spike_times(out.spikes[-1], 2, silent=40.0)
        hidden = out.spikes[0]
        # also every hidden spike time, so every event's adjoint jump is exercised
        times = jnp.where(jnp.isfinite(hidden.times), hidden.times, 0.0)
        return ep.first_spike_cross_entropy(first, 1, tau0=2.0, tau1=10.0, alpha=0.01) + 0.01 * jnp.sum(times)

    out = ep.simulate(net, INPUT, dt=1.0, t_end=40.0, max_spikes=64)
    assert int(jnp.sum(jnp.isfinite(out.spikes[0].times))) >= 3  # the check is about spike times, so need spikes
    assert int(jnp.sum(jnp.isfinite(out.spikes[1].times))) >= 1
    assert _relative_error(loss, jnp.concatenate([INPUT, weights])) < 1e-5


def test_recurrent_cuba_gradient_matches_finite_differences(getkey):
    k1, k2, k3 = getkey(), getkey(), getkey()
    neuron = spikax.neurons.CubaLIF(tau_syn=4.0, tau_mem=8.0, dt=0.5, reset="zero")
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 4, neuron, use_bias=False, key=k1),
                        spikax.layers.dense(4, 2, neuron, use_bias=False, key=k2)])
    net = _scale_weights(net, 6.0)
    net = eqx.tree_at(lambda n: n.layers[0].recurrent.weight, net,
                      1.5 * jax.random.uniform(k3, (4, 4), jnp.float64, -1.0, 1.0))

    def loss(net):
        out = ep.simulate(net, INPUT, dt=0.5, t_end=30.0, max_spikes=64)
        hidden = out.spikes[0]
        times = jnp.where(jnp.isfinite(hidden.times), hidden.times, 0.0)
        first = ep.first_spike_times(out.spikes[-1], 2, silent=30.0)
        return ep.first_spike_cross_entropy(first, 0, tau0=2.0) + 0.01 * jnp.sum(times)

    assert _check_against_finite_differences(net, loss) < 1e-5


def test_voltage_loss_gradient_matches_finite_differences(getkey):
    net = _feedforward(getkey(), _cuba())
    observe = jnp.linspace(0.5, 30.0, 12)

    def loss(net):
        out = ep.simulate(net, INPUT, dt=1.0, t_end=30.0, max_spikes=64, observe=observe)
        return ep.max_voltage_cross_entropy(out.voltages, 0) + jnp.sum(out.voltages ** 2) * 0.01

    assert _check_against_finite_differences(net, loss) < 1e-5


def test_lif_gradient_matches_finite_differences(getkey):
    # Delta-synapse LIF: spikes happen at the input that lifts the membrane over threshold.
    neuron = spikax.neurons.LIF(tau=10.0, dt=1.0, reset="zero")
    net = _feedforward(getkey(), neuron, factor=25.0)
    observe = jnp.linspace(1.0, 20.0, 9)
    inputs = ep.Spikes(jnp.array([1.0, 2.0, 3.5, 5.0, 7.0]), jnp.array([0, 1, 2, 0, 1]))

    def loss(net):
        out = ep.simulate(net, inputs, dt=1.0, t_end=20.0, max_spikes=32, observe=observe)
        return jnp.sum(jnp.sin(out.voltages))

    out = ep.simulate(net, inputs, dt=1.0, t_end=20.0, max_spikes=32)
    assert int(jnp.sum(jnp.isfinite(out.spikes[0].times))) >= 2
    assert _check_against_finite_differences(net, loss) < 1e-5


def _grid_spikes(net, times, dt, t_end):
    """Spike times of each layer of `net` run by `spikax.run` on a grid of step `dt` (a spike at step n is at n*dt)."""
    steps = int(round(t_end / dt))
    xs = np.zeros((steps, len(times)))
    for channel, t in enumerate(times):
        xs[int(round(t / dt)) - 1, channel] = 1.0
    out, x = [], jnp.asarray(xs)
    for layer in net.layers:
        single = spikax.Chain([layer])
        _, x = spikax.run(single, single.init_state(x.shape[1:]), x)
        step, neuron = np.nonzero(np.asarray(x))
        out.append(sorted(zip(neuron.tolist(), ((step + 1) * dt).tolist(), strict=True)))
    return out


def _event_spikes(result):
    return [sorted((int(n), float(t)) for n, t in zip(s.indices, s.times, strict=True) if np.isfinite(t))
            for s in result.spikes]


W_HIDDEN = jnp.array([[3.0, 2.0, 0.5], [0.5, 3.0, 2.5], [2.0, 2.0, 2.0], [4.0, -1.0, 1.0]])  # a few spikes each
W_OUT = jnp.array([[2.0, 1.0, 1.5, 0.5], [0.5, 2.5, 0.5, 2.0]])


def _fixed_net(neuron, scale):
    net = _feedforward(jax.random.key(0), neuron, sizes=(3, 4, 2))
    return _set_weights(net, [scale * W_HIDDEN, scale * W_OUT])


@pytest.mark.parametrize("kind", ["cuba", "lif"])
def test_fine_grid_run_converges_to_event_simulation(kind):
    times = [1.0, 2.0, 3.0]
    simulate = jax.jit(lambda net, dt: ep.simulate(net, jnp.asarray(times), dt=dt, t_end=20.0, max_spikes=64))
    errors = []
    for dt in (0.01, 0.001):
        if kind == "cuba":
            net = _fixed_net(_cuba(dt), 1.4)
        else:  # the jump (1 - beta) * w of one input spike stays fixed as dt shrinks
            neuron = spikax.neurons.LIF(tau=10.0, dt=dt, reset="zero")
            net = _fixed_net(neuron, 0.4 / (1 - float(neuron.beta)))
        exact = _event_spikes(simulate(net, dt))
        grid = _grid_spikes(net, times, dt, 20.0)
        # the same neurons fire the same number of times in every layer ...
        assert [[n for n, _ in layer] for layer in exact] == [[n for n, _ in layer] for layer in grid], dt
        assert len(exact[0]) >= 4 and len(exact[-1]) >= 2
        # ... at times that differ by O(dt)
        errors.append(max(abs(a[1] - b[1]) for e, g in zip(exact, grid, strict=True)
                          for a, b in zip(e, g, strict=True)))
    if kind == "lif":  # spikes happen at input times, on the grid: exact up to round-off
        assert max(errors) < 1e-9
    else:
        assert errors[1] < errors[0] / 3  # first-order convergence as dt -> 0
        assert errors[1] <= 5 * 0.001


def _memory(loss, *args):
    compiled = jax.jit(jax.grad(loss)).lower(*args).compile()
    stats = compiled.memory_analysis()
    if stats is None:
        pytest.skip("this backend gives no compiled memory analysis")
    return stats.temp_size_in_bytes + stats.output_size_in_bytes


def test_backward_memory_grows_with_spikes_not_time(getkey):
    net = _feedforward(getkey(), _cuba(), factor=8.0)

    def eventprop_loss(net, t_end, max_spikes):
        out = ep.simulate(net, INPUT, dt=1.0, t_end=t_end, max_spikes=max_spikes)
        return jnp.sum(ep.first_spike_times(out.spikes[-1], 2, silent=t_end))

    short = _memory(lambda n: eventprop_loss(n, 50.0, 64), net)
    long = _memory(lambda n: eventprop_loss(n, 5000.0, 64), net)
    more_spikes = _memory(lambda n: eventprop_loss(n, 50.0, 1024), net)
    assert long == short  # 100x the simulated time, the same events: the same memory
    assert more_spikes > 4 * short  # 16x the room for spikes: more memory

    # The same network by BPTT on a grid: memory grows with the number of steps (the check can fail).
    def bptt_loss(net, steps):
        xs = jnp.zeros((steps, 3)).at[0].set(1.0)
        _, ys = spikax.run(net, net.init_state((3,)), xs)
        return jnp.sum(ys)

    assert _memory(lambda n: bptt_loss(n, 5000), net) > 10 * _memory(lambda n: bptt_loss(n, 50), net)


def test_batched_and_jitted(getkey):
    net = _feedforward(getkey(), _cuba())
    batch = jnp.stack([INPUT, INPUT + 1.0, INPUT[::-1]])

    def run(times):
        return ep.simulate(net, times, dt=1.0, t_end=40.0, max_spikes=64).spikes[-1].times

    batched = jax.jit(jax.vmap(run))(batch)
    single = jax.jit(run)
    for j in range(3):
        np.testing.assert_allclose(batched[j], single(batch[j]))


def test_forward_mode_is_not_available(getkey):
    net = _feedforward(getkey(), _cuba())
    f = lambda times: ep.simulate(net, times, dt=1.0, t_end=40.0, max_spikes=64).spikes[-1].times  # noqa: E731
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(f, (INPUT,), (jnp.ones(3),))


def test_errors(getkey):
    k = getkey()
    net = _feedforward(k, _cuba(), factor=20.0)
    with pytest.raises(Exception, match="max_spikes"):
        ep.simulate(net, INPUT, dt=1.0, t_end=40.0, max_spikes=2)
    alif = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.ALIF(), use_bias=False, key=k)])
    with pytest.raises(TypeError, match="CubaLIF"):
        ep.simulate(alif, INPUT, dt=1.0, t_end=10.0, max_spikes=4)
    biased = spikax.Chain([spikax.layers.dense(3, 2, _cuba(), key=k)])
    with pytest.raises(TypeError, match="use_bias=False"):
        ep.simulate(biased, INPUT, dt=1.0, t_end=10.0, max_spikes=4)
    no_reset = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(reset="none"), use_bias=False, key=k)])
    with pytest.raises(ValueError, match="reset"):
        ep.simulate(no_reset, INPUT, dt=1.0, t_end=10.0, max_spikes=4)
    with pytest.raises(ValueError, match="max_spikes"):
        ep.simulate(net, INPUT, dt=1.0, t_end=10.0, max_spikes=(4,))
    offset = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(reset="zero", v_reset=0.2), use_bias=False,
                                               key=k)])
    with pytest.raises(ValueError, match="v_reset"):
        ep.simulate(offset, INPUT, dt=1.0, t_end=10.0, max_spikes=4)
    learnable = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(beta=0.9, learnable=("beta",)),
                                                  use_bias=False, key=k)])
    with pytest.raises(ValueError, match="learnable"):
        ep.simulate(learnable, INPUT, dt=1.0, t_end=10.0, max_spikes=4)
    no_leak = spikax.Chain([spikax.layers.dense(3, 2, spikax.neurons.LIF(beta=1.0), use_bias=False, key=k)])
    with pytest.raises(Exception, match="no leak"):
        ep.simulate(no_leak, INPUT, dt=1.0, t_end=10.0, max_spikes=4)
    with pytest.raises(Exception, match="outside 0..2"):
        ep.simulate(net, ep.Spikes(jnp.array([1.0, 2.0]), jnp.array([0, 3])), dt=1.0, t_end=10.0, max_spikes=64)
    with pytest.raises(ValueError, match="dt"):
        ep.simulate(net, INPUT, dt=0.0, t_end=10.0, max_spikes=4)
    with pytest.raises(ValueError, match="1-D"):
        ep.simulate(net, jnp.ones((2, 3)), dt=1.0, t_end=10.0, max_spikes=4)


def test_first_spike_helpers():
    s = ep.Spikes(jnp.array([2.0, 3.0, 5.0, jnp.inf]), jnp.array([1, 0, 1, 0]))
    np.testing.assert_array_equal(ep.first_spike_times(s, 3, silent=10.0), [3.0, 2.0, 10.0])
    np.testing.assert_array_equal(ep.spike_counts(s, 3), [1, 2, 0])
    t = jnp.array([3.0, 5.0])
    expected = np.log1p(np.exp(-2.0)) + 0.1 * np.expm1(3.0 / 4.0)  # -log softmax(-t)[0] + reg
    np.testing.assert_allclose(ep.first_spike_cross_entropy(t, 0, tau0=1.0, tau1=4.0, alpha=0.1), expected)
    assert int(ep.first_spike_predict(t)) == 0
