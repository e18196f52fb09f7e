"""Surrogates: spikax and spikax_torch give the same step, the same derivative in reverse and
forward mode, and the torch autograd.Function works under every torch transform."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from spikax_torch.convert import from_spikax, to_spikax  # noqa: E402
from torch_helpers import JAX_DTYPE, TOL, TORCH_DTYPE  # noqa: E402

NAMES = [type(s).__name__ for s in spikax.surrogate.ALL_SURROGATES]


def _grid(dtype):
    x = np.concatenate([np.linspace(-3, 3, 601), [0.0, 1e-7, -1e-7, 1.0, 1.5, -0.25]])
    return x.astype(dtype)


def test_same_list_in_the_same_order():
    assert NAMES == [type(s).__name__ for s in spikax_torch.surrogate.ALL_SURROGATES]
    for j, t in zip(spikax.surrogate.ALL_SURROGATES, spikax_torch.surrogate.ALL_SURROGATES):
        assert from_spikax(j) == t  # same hyper-parameter names and defaults
        assert to_spikax(t) == j


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_step_and_derivative_match_in_both_modes(index, dtype):
    jax_sur = spikax.surrogate.ALL_SURROGATES[index]
    torch_sur = from_spikax(jax_sur)
    x = _grid(dtype)
    c = np.random.default_rng(index).normal(size=x.shape).astype(dtype)
    rtol, atol = TOL[dtype]["grad"]

    @jax.jit
    def jax_side(x, c):
        out, tan = jax.jvp(lambda x: spikax.spike(x, jax_sur), (x,), (c,))
        return out, jax.grad(lambda x: jnp.sum(spikax.spike(x, jax_sur) * c))(x), tan

    j_out, j_grad, j_tan = jax_side(jnp.asarray(x, JAX_DTYPE[dtype]), jnp.asarray(c))

    tx, tc = torch.tensor(x), torch.tensor(c)
    assert tx.dtype == TORCH_DTYPE[dtype]
    t_out = spikax_torch.spike(tx, torch_sur)
    t_grad = torch.func.grad(lambda x: (spikax_torch.spike(x, torch_sur) * tc).sum())(tx)
    _, t_tan = torch.func.jvp(lambda x: spikax_torch.spike(x, torch_sur), (tx,), (tc,))

    assert t_out.dtype == TORCH_DTYPE[dtype] and np.array_equal(np.asarray(j_out), t_out.numpy())
    np.testing.assert_allclose(t_grad.numpy(), np.asarray(j_grad), rtol=rtol, atol=atol)
    np.testing.assert_allclose(t_tan.numpy(), np.asarray(j_tan), rtol=rtol, atol=atol)
    # and the torch surrogate's own derivative is what both modes use
    np.testing.assert_allclose(t_grad.numpy(), (torch_sur.derivative(tx) * tc).numpy(), rtol=0, atol=0)


@pytest.mark.parametrize("surrogate", spikax_torch.surrogate.ALL_SURROGATES, ids=NAMES)
def test_every_torch_transform_sees_the_surrogate(surrogate):
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    expected = surrogate.derivative(x)
    f = lambda x: spikax_torch.spike(x, surrogate)  # noqa: E731
    assert torch.equal(f(x), (x > 0).double())
    np.testing.assert_allclose(torch.func.jacfwd(f)(x).diagonal(), expected, rtol=1e-14)
    np.testing.assert_allclose(torch.func.jacrev(f)(x).diagonal(), expected, rtol=1e-14)
    np.testing.assert_allclose(torch.func.vmap(torch.func.grad(f))(x), expected, rtol=1e-14)
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        out = fwAD.make_dual(x, torch.ones_like(x))
        tangent = fwAD.unpack_dual(f(out)).tangent
    np.testing.assert_allclose(tangent, expected, rtol=1e-14)
    leaf = x.clone().requires_grad_()
    f(leaf).sum().backward()
    np.testing.assert_allclose(leaf.grad, expected, rtol=1e-14)


def test_second_derivative_is_the_surrogate_slope():
    # the backward is differentiable torch code: d/dx of sigma'(x) for the fast sigmoid
    sur = spikax_torch.surrogate.FastSigmoid(slope=5.0)
    x = torch.tensor([-0.3, 0.2, 0.7], dtype=torch.float64)
    hess = torch.func.hessian(lambda x: spikax_torch.spike(x, sur).sum())(x).diagonal()
    expected = -2 * 5.0 * torch.sign(x) / (5.0 * x.abs() + 1) ** 3
    np.testing.assert_allclose(hess, expected, rtol=1e-12)
    j = jax.hessian(lambda x: spikax.spike(x, spikax.surrogate.FastSigmoid(slope=5.0)).sum())(jnp.asarray(x.numpy()))
    np.testing.assert_allclose(hess, np.diagonal(np.asarray(j)), rtol=1e-12)


def test_custom_surrogate_and_errors():
    bump = spikax_torch.surrogate.custom(lambda x: torch.exp(-x * x))
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    spikax_torch.spike(x, bump).sum().backward()
    np.testing.assert_allclose(x.grad, np.exp(-0.25))
    with pytest.raises(TypeError, match="spikax_torch.surrogate.custom"):
        spikax_torch.surrogate.custom(3.0)
    with pytest.raises(TypeError, match="`surrogate` must be a spikax_torch surrogate"):
        spikax_torch.spike(x, spikax.surrogate.FastSigmoid())
    with pytest.raises(TypeError, match="must be floating point"):
        spikax_torch.spike(torch.tensor([1, 2]), bump)
    with pytest.raises(TypeError, match="holds a JAX function"):
        from_spikax(spikax.surrogate.custom(lambda x: x))
