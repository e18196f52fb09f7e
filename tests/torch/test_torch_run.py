"""spikax_torch.run: state from the input, batch axis, gradient methods (with JAX parity), the
torch.compile path, and error messages."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from spikax_torch.convert import from_spikax  # noqa: E402

T, B = 20, 3


def _pair():
    k1, k2 = jax.random.split(jax.random.key(0))
    net = spikax.Chain([
        spikax.layers.dense(3, 6, spikax.neurons.LIF(learnable="beta"), key=k1),
        spikax.layers.recurrent_dense(6, 4, spikax.neurons.ALIF(), key=k2),
    ])
    net = jax.tree_util.tree_map(lambda w: w * 5 if eqx.is_inexact_array(w) and w.ndim == 2 else w, net)
    xs = np.random.default_rng(0).uniform(0, 2, size=(T, B, 3))
    return net, from_spikax(net), xs


def _torch_grads(model, xs, method):
    model.zero_grad()
    _, ys = spikax_torch.run(model, None, torch.tensor(xs), method=method)
    (ys * torch.arange(ys.shape[-1], dtype=ys.dtype)).sum().backward()
    return {k: p.grad.clone() for k, p in model.named_parameters()}


@pytest.mark.parametrize("method", [spikax_torch.CheckpointedBPTT(), spikax_torch.CheckpointedBPTT(every=7),
                                    spikax_torch.TruncatedBPTT(k=T)], ids=str)
def test_methods_that_equal_bptt(method):
    _, model, xs = _pair()
    expected = _torch_grads(model, xs, spikax_torch.BPTT())
    got = _torch_grads(model, xs, method)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-12, atol=1e-14)


def test_truncated_bptt_matches_spikax():
    net, model, xs = _pair()
    got = _torch_grads(model, xs, spikax_torch.TruncatedBPTT(k=6))
    bptt = _torch_grads(model, xs, spikax_torch.BPTT())
    assert not torch.allclose(got["layers.0.connection.weight"], bptt["layers.0.connection.weight"])

    @eqx.filter_jit
    @eqx.filter_grad
    def jax_grads(net):
        _, ys = spikax.run(net, net.init_state((3,)), jnp.asarray(xs), batch_axis=1,
                           method=spikax.TruncatedBPTT(k=6))
        return jnp.sum(ys * jnp.arange(ys.shape[-1], dtype=ys.dtype))

    g = jax_grads(net)
    np.testing.assert_allclose(got["layers.0.connection.weight"], g.layers[0].connection.weight, rtol=1e-10)
    np.testing.assert_allclose(got["layers.1.recurrent.weight"], g.layers[1].recurrent.weight, rtol=1e-10,
                               atol=1e-14)


def test_state_from_input_and_batch_axis():
    _, model, xs = _pair()
    xs = torch.tensor(xs)
    s0, y0 = spikax_torch.run(model, None, xs)
    s1, y1 = spikax_torch.run(model, model.init_state(xs.shape[1:], xs.dtype), xs)
    s2, y2 = spikax_torch.run(model, model.init_state((3,), xs.dtype), xs.transpose(1, 2), batch_axis=2)
    assert torch.equal(y0, y1) and torch.equal(y0, y2.transpose(1, 2))
    assert y0.any()
    for a, b in zip(torch.utils._pytree.tree_leaves(s0), torch.utils._pytree.tree_leaves(s2)):
        assert (a is None and b is None) or torch.equal(a, b)


# dynamo's tracer trips torch's own warnings (`.grad` of non-leaf tensors, autograd.Function instances)
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_compile_path_equals_eager():
    _, model, xs = _pair()
    xs = torch.tensor(xs[:5])
    _, eager = spikax_torch.run(model, None, xs)
    _, compiled = spikax_torch.run(model, None, xs, compile={"backend": "eager"})
    assert torch.equal(eager, compiled)


def test_errors():
    _, model, xs = _pair()
    xs = torch.tensor(xs)
    with pytest.raises(TypeError, match="must be a gradient method"):
        spikax_torch.run(model, None, xs, method=spikax.BPTT())
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        spikax_torch.run(model, None, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="`batch_axis` must be between 1 and"):
        spikax_torch.run(model, None, xs, batch_axis=0)
    with pytest.raises(ValueError, match="state shapes"):
        spikax_torch.run(model, model.init_state((5, 3), xs.dtype), xs)
    with pytest.raises(ValueError, match="does not belong to this Chain"):
        spikax_torch.run(model, (None,), xs)
    with pytest.raises(ValueError, match="whole number of steps"):
        spikax_torch.TruncatedBPTT(k=0)
    with pytest.raises(ValueError, match="no time steps"):
        spikax_torch.run(model, None, xs[:0])
    with pytest.raises(ValueError, match="cannot take an input of shape"):
        spikax_torch.run(model, None, torch.zeros(4, 2, 5, dtype=torch.float64))


def test_stateful_adapter_equals_explicit_style():
    _, model, xs = _pair()
    xs = torch.tensor(xs)
    wrapped = spikax_torch.network.Stateful(model)
    first = torch.stack([wrapped(x) for x in xs[:7].unbind(0)])
    rest = wrapped.run(xs[7:])
    _, expected = spikax_torch.run(model, None, xs)
    assert torch.equal(torch.cat([first, rest]), expected)
    wrapped.reset()
    assert wrapped.state is None


def test_loop_iterates_with_unbind_not_per_step_indexing():
    """docs/performance.md: indexing a grad-requiring tensor per step (`xs[t]`) makes backward O(T^2);
    the loop must split the sequence once with `unbind`. Inspect the autograd graph."""
    layer = spikax_torch.layers.dense(3, 4, spikax_torch.neurons.LIF(), key=0)
    xs = torch.rand(30, 2, 3, requires_grad=True)
    _, ys = spikax_torch.run(layer, None, xs)
    kinds, stack, seen = [], [ys.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        kinds.append(type(fn).__name__)
        stack.extend(f for f, _ in fn.next_functions)
    assert sum("Unbind" in k for k in kinds) == 1
    assert not any("Select" in k for k in kinds)
