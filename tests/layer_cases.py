"""Tiny networks of every layer kind, shared by the layer, network and run tests (float64)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import spikax
from spikax import layers as L

LIF = spikax.neurons.LIF(beta=0.5)


def _keys(key, n=6):
    return list(jax.random.split(key, n))


def excitatory(connection):
    """Positive weights only, so that a layer driven by sparse spikes still fires."""
    return eqx.tree_at(lambda c: c.weight, connection, jnp.abs(connection.weight))


def dense(key):
    return L.dense(3, 4, LIF, key=key), (3,)


def conv(key):
    return L.Layer(eqx.nn.Conv2d(2, 3, 3, padding=1, key=key), LIF), (2, 4, 4)


def recurrent_dense(key):
    return L.recurrent_dense(3, 4, spikax.neurons.ALIF(), key=key), (3,)


def recurrent_conv(key):
    k1, k2 = jax.random.split(key)
    conv_in = eqx.nn.Conv1d(2, 3, 3, padding=1, key=k1)
    conv_back = eqx.nn.Conv1d(3, 3, 3, padding=1, key=k2)
    return L.Recurrent(conv_in, conv_back, LIF), (2, 5)


def delay_fixed(key):
    return spikax.Chain([L.Delay(2, delays=jnp.array([0, 1, 2])), L.dense(3, 4, LIF, key=key)]), (3,)


def delay_learnable(key):
    delay = L.Delay(2, delays=jnp.array([0.3, 1.5, 2.0]), learnable=True)
    return spikax.Chain([delay, L.dense(3, 4, LIF, key=key)]), (3,)


def delayed_linear_fixed(key):
    return spikax.Chain([L.DelayedLinear(3, 4, 3, key=key), LIF]), (3,)


def delayed_linear_learnable(key):
    return spikax.Chain([L.DelayedLinear(3, 4, 3, learnable=True, key=key), LIF]), (3,)


def delayed_linear_per_channel(key):
    syn = L.DelayedLinear(3, 4, 3, delays=jnp.array([0.5, 2.25, 1.0]), learnable=True, sigma=0.7, key=key)
    return spikax.Chain([syn, LIF]), (3,)


def dropout(key):
    k1, k2 = jax.random.split(key)
    return spikax.Chain([L.dense(3, 5, LIF, key=k1), L.Dropout(0.4), L.recurrent_dense(5, 4, LIF, key=k2)]), (3,)


def conv_pool(key):
    k1, k2 = jax.random.split(key)
    blocks = [L.Layer(eqx.nn.Conv2d(1, 2, 3, padding=1, key=k1), LIF), L.Pool("sum", 2), L.Flatten(),
              L.Layer(excitatory(eqx.nn.Linear(8, 3, key=k2)), LIF)]
    return spikax.Chain(blocks), (1, 4, 4)


def graph_skip(key):
    k = _keys(key)
    nodes = {"enc": eqx.nn.Linear(3, 4, key=k[0]), "a": L.dense(4, 4, LIF, key=k[1]),
             "b": L.recurrent_dense(4, 4, LIF, key=k[2]), "out": L.dense(4, 2, LIF, key=k[3])}
    edges = [("input", "enc"), ("enc", "a"), ("a", "b"), ("b", "out"), ("enc", "out")]
    return spikax.Graph(nodes, edges), (3,)


def graph_feedback(key):
    k = _keys(key)
    nodes = {"enc": eqx.nn.Linear(3, 4, key=k[0]), "a": L.dense(4, 4, LIF, key=k[1]),
             "b": L.dense(4, 4, LIF, key=k[2]), "out": L.Layer(excitatory(eqx.nn.Linear(4, 2, key=k[3])), LIF)}
    edges = [("input", "enc"), ("enc", "a"), ("a", "b"), ("b", "out"), ("a", "out"), ("b", "a"), ("b", "b")]
    return spikax.Graph(nodes, edges), (3,)


def graph_conv_feedback(key):
    k = _keys(key)
    nodes = {"c1": L.Layer(eqx.nn.Conv1d(2, 3, 3, padding=1, key=k[0]), LIF),
             "c2": L.Layer(excitatory(eqx.nn.Conv1d(3, 2, 3, padding=1, key=k[1])), LIF)}
    return spikax.Graph(nodes, [("input", "c1"), ("c1", "c2"), ("c2", "c1")]), (2, 5)


CASES = {f.__name__: f for f in (dense, conv, recurrent_dense, recurrent_conv, delay_fixed, delay_learnable,
                                  delayed_linear_fixed, delayed_linear_learnable, delayed_linear_per_channel,
                                  dropout, conv_pool, graph_skip, graph_feedback, graph_conv_feedback)}


def cheap_key(seed):
    """A PRNG key whose eager use compiles fast (tests build many small models eagerly)."""
    return jax.random.key(seed, impl="unsafe_rbg")


def cheap_keys():
    """A function returning new cheap keys on every call (a stand-in for the `getkey` fixture)."""
    count = iter(range(1, 10**6))
    return lambda: cheap_key(next(count))


def mixed_dense(key):
    """Every one-dimensional layer kind in one chain: delays, feed-forward, dropout, recurrent, synaptic delays."""
    k = _keys(key)
    return spikax.Chain([
        L.Delay(2, delays=jnp.array([0.3, 1.5, 2.0]), learnable=True),
        L.dense(3, 5, LIF, key=k[0]),
        L.Dropout(0.3),
        eqx.tree_at(lambda r: r.connection, L.recurrent_dense(5, 4, LIF, key=k[1]),
                    excitatory(eqx.nn.Linear(5, 4, key=k[4]))),
        excitatory(L.DelayedLinear(4, 3, 2, learnable=True, key=k[2])),
        LIF,
        excitatory(L.DelayedLinear(3, 2, 2, key=k[3])),
        LIF,
    ]), (3,)


def mixed_conv(key):
    """Every convolutional layer kind in one chain: feed-forward, recurrent, pooling, flatten."""
    k = _keys(key)
    return spikax.Chain([
        L.Layer(eqx.nn.Conv2d(1, 2, 3, padding=1, key=k[0]), LIF),
        L.Recurrent(eqx.nn.Conv2d(2, 2, 3, padding=1, key=k[1]), eqx.nn.Conv2d(2, 2, 3, padding=1, key=k[2]), LIF),
        L.Pool("max", 2),
        L.Flatten(),
        L.Layer(excitatory(eqx.nn.Linear(8, 3, key=k[3])), LIF),
    ]), (1, 4, 4)


GRAD_CASES = {"mixed_dense": mixed_dense, "mixed_conv": mixed_conv, "graph_feedback": graph_feedback,
              "graph_conv_feedback": graph_conv_feedback}
ALL_CASES = {**CASES, **GRAD_CASES}


def make(name, seed=0, steps=8):
    """`(model, state, xs)` for a case: inputs strong enough that neurons fire."""
    k1, k3 = jax.random.split(cheap_key(seed))
    model, shape = ALL_CASES[name](k1)
    model = boost(model)
    xs = jnp.asarray(1.0 + 4.0 * np.random.default_rng(seed).standard_normal((steps,) + shape))
    state = model.init_state(shape, key=k3)
    return model, state, xs


def boost(model, gain=6.0):
    """Scale every connection weight, so that deeper layers receive enough current to fire."""
    def scale(path, leaf):
        return leaf * gain if jax.tree_util.keystr(path).endswith(".weight") else leaf
    return jax.tree_util.tree_map_with_path(scale, model)


@eqx.filter_jit
def step_loop(model, state, xs):
    """The reference: the single step scanned over time."""
    return lax.scan(lambda s, x: model(s, x), state, xs)


@eqx.filter_jit
def sequence(model, state, xs):
    """The layer-by-layer fast path, compiled."""
    return model.sequence(state, xs)
