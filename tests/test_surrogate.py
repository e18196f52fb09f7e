"""Surrogate derivatives: exact step forward, closed-form JVPs, forward vs reverse mode.

The expected derivatives are written again here in NumPy (float64), independently of the
`derivative` methods, so a wrong formula in the library cannot agree with itself.
"""

import dataclasses
import math
import re
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import ERROR_CASES, ERROR_IDS, build
from helpers import type_name
from jax import lax

import spikax
from spikax.neurons import LIF
from spikax.surrogate import (
    ALL_SURROGATES,
    AbstractSurrogate,
    ATan,
    Circ,
    Erfc,
    Exponential,
    FastSigmoid,
    Gaussian,
    LogTailed,
    MultiGaussian,
    PiecewiseExp,
    PiecewiseQuadratic,
    QPseudo,
    Rectangle,
    Sigmoid,
    SoftSign,
    SpikeRateEscape,
    StraightThrough,
    Tanh,
    Triangle,
    custom,
    spike,
)

DTYPES = [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]


# ---------------------------------------------------------------------------------------------
# Closed forms in NumPy: (first derivative, second derivative), both of (surrogate, x).


def _npdf(x, mean, std):
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (math.sqrt(2 * math.pi) * std)


def _npdf_prime(x, mean, std):
    return -(x - mean) / std**2 * _npdf(x, mean, std)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _multi_gaussian(s, x, pdf):
    c = s.scale * s.sigma
    return s.gamma * ((1 + s.height) * pdf(x, 0, s.sigma) - s.height * (pdf(x, s.sigma, c) + pdf(x, -s.sigma, c)))


REFERENCE = {
    FastSigmoid: (
        lambda s, x: 1 / (1 + s.slope * np.abs(x)) ** 2,
        lambda s, x: -2 * s.slope * np.sign(x) / (1 + s.slope * np.abs(x)) ** 3,
    ),
    Sigmoid: (
        lambda s, x: s.slope * _sig(s.slope * x) * _sig(-s.slope * x),
        lambda s, x: s.slope**2 * _sig(s.slope * x) * _sig(-s.slope * x) * (1 - 2 * _sig(s.slope * x)),
    ),
    ATan: (
        lambda s, x: (s.alpha / 2) / (1 + (np.pi * s.alpha * x / 2) ** 2),
        lambda s, x: -(s.alpha / 2) * 2 * (np.pi * s.alpha / 2) ** 2 * x / (1 + (np.pi * s.alpha * x / 2) ** 2) ** 2,
    ),
    Triangle: (
        lambda s, x: np.where(np.abs(x) < s.width, s.gamma * (1 - np.abs(x) / s.width), 0.0),
        lambda s, x: np.where(np.abs(x) < s.width, -s.gamma * np.sign(x) / s.width, 0.0),
    ),
    Rectangle: (
        lambda s, x: np.where(np.abs(x) < s.width / 2, 1 / s.width, 0.0),
        lambda s, x: np.zeros_like(x),
    ),
    Gaussian: (
        lambda s, x: _npdf(x, 0, s.sigma),
        lambda s, x: _npdf_prime(x, 0, s.sigma),
    ),
    MultiGaussian: (
        lambda s, x: _multi_gaussian(s, x, _npdf),
        lambda s, x: _multi_gaussian(s, x, _npdf_prime),
    ),
    Exponential: (
        lambda s, x: s.alpha * np.exp(-s.beta * np.abs(x)),
        lambda s, x: -s.beta * np.sign(x) * s.alpha * np.exp(-s.beta * np.abs(x)),
    ),
    Erfc: (  # d/dx of erfc(-a x) / 2
        lambda s, x: s.alpha / np.sqrt(np.pi) * np.exp(-(s.alpha**2) * x**2),
        lambda s, x: -2 * s.alpha**3 * x / np.sqrt(np.pi) * np.exp(-(s.alpha**2) * x**2),
    ),
    PiecewiseQuadratic: (
        lambda s, x: np.where(np.abs(x) <= 1 / s.alpha, s.alpha - s.alpha**2 * np.abs(x), 0.0),
        lambda s, x: np.where(np.abs(x) <= 1 / s.alpha, -(s.alpha**2) * np.sign(x), 0.0),
    ),
    PiecewiseExp: (
        lambda s, x: s.alpha / 2 * np.exp(-s.alpha * np.abs(x)),
        lambda s, x: -(s.alpha**2) / 2 * np.sign(x) * np.exp(-s.alpha * np.abs(x)),
    ),
    SoftSign: (
        lambda s, x: s.alpha / (2 * (1 + s.alpha * np.abs(x)) ** 2),
        lambda s, x: -(s.alpha**2) * np.sign(x) / (1 + s.alpha * np.abs(x)) ** 3,
    ),
    Tanh: (
        lambda s, x: s.slope / 2 / np.cosh(s.slope * x) ** 2,
        lambda s, x: -(s.slope**2) * np.tanh(s.slope * x) / np.cosh(s.slope * x) ** 2,
    ),
    Circ: (
        lambda s, x: s.alpha**2 / (2 * (x**2 + s.alpha**2) ** 1.5),
        lambda s, x: -1.5 * s.alpha**2 * x / (x**2 + s.alpha**2) ** 2.5,
    ),
    QPseudo: (
        lambda s, x: (1 + 2 * np.abs(x) / (s.q - 1)) ** -s.q,
        lambda s, x: -2 * s.q / (s.q - 1) * np.sign(x) * (1 + 2 * np.abs(x) / (s.q - 1)) ** (-s.q - 1),
    ),
    LogTailed: (
        lambda s, x: np.piecewise(x, [x <= 0, (x > 0) & (x <= 1), x > 1], [s.alpha, 1.0, lambda t: 1 / t]),
        lambda s, x: np.piecewise(x, [x <= 0, (x > 0) & (x <= 1), x > 1], [0.0, 0.0, lambda t: -1 / t**2]),
    ),
    StraightThrough: (
        lambda s, x: np.full_like(x, s.scale),
        lambda s, x: np.zeros_like(x),
    ),
    SpikeRateEscape: (
        lambda s, x: s.slope * np.exp(-s.beta * np.abs(x)),
        lambda s, x: -s.beta * s.slope * np.sign(x) * np.exp(-s.beta * np.abs(x)),
    ),
}


def _changed(surrogate):
    """The same surrogate with every hyper-parameter moved off its default (1.37 v + 0.1)."""
    values = {f.name: 1.37 * getattr(surrogate, f.name) + 0.1 for f in dataclasses.fields(surrogate)}
    return dataclasses.replace(surrogate, **values)


VARIANTS = [*ALL_SURROGATES, *map(_changed, ALL_SURROGATES)]
VARIANT_IDS = [f"{type_name(s)}-{'default' if i < len(ALL_SURROGATES) else 'changed'}" for i, s in enumerate(VARIANTS)]

# A grid that avoids every kink exactly (irrational offset), plus x = 0 itself.
GRID = np.concatenate([np.linspace(-3.0, 3.0, 121) + 1 / (7 * np.pi), [0.0]])
SMOOTH_GRID = GRID[:-1]  # no x = 0: |x| is not differentiable there


def _jvp(surrogate, x, t):
    return jax.jvp(lambda y: spike(y, surrogate), (x,), (t,))


# ---------------------------------------------------------------------------------------------
# The zoo itself.


def test_zoo_is_complete_and_uses_weakly_typed_scalar_fields():
    """Hyper-parameters are weakly typed 0-d arrays: traced (no recompile per value) yet dtype-neutral."""
    classes = [type(s) for s in ALL_SURROGATES]
    assert len(classes) == len(set(classes)) >= 18
    assert set(classes) == set(REFERENCE), "every surrogate needs an independent closed form here"
    for surrogate in ALL_SURROGATES:
        for field in dataclasses.fields(surrogate):
            value = getattr(surrogate, field.name)
            assert isinstance(value, jax.Array) and value.shape == () and value.weak_type, (type_name(surrogate),
                                                                                             field.name)
        assert getattr(spikax.surrogate, type_name(surrogate)) is type(surrogate)


@pytest.mark.parametrize("surrogate", ALL_SURROGATES, ids=type_name)
def test_docstring_has_formula_citation_and_example(surrogate):
    doc = type(surrogate).__doc__
    assert "$$" in doc and "**Arguments:**" in doc and "**Example:**" in doc
    assert re.search(r"\b(19|20)\d\d\b", doc), "cite the source (author and year)"
    _run_examples(doc)


def _run_examples(doc):
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert blocks
    for block in blocks:
        exec(textwrap.dedent(block), {"jnp": jnp, "jax": jax, "spikax": spikax})


def test_module_docstring_recipes_run():
    _run_examples(spikax.surrogate.__doc__)


@pytest.mark.parametrize("surrogate", ALL_SURROGATES, ids=type_name)
def test_forward_is_exact_heaviside_in_every_dtype(surrogate):
    inputs = {}
    for dtype in DTYPES:
        tiny = float(jnp.finfo(dtype).tiny)
        values = [-np.inf, -3.0, -tiny, -0.0, 0.0, tiny, 1e-3, 2.0, np.inf]
        inputs[jnp.dtype(dtype).name] = (jnp.array(values, dtype), jnp.array([-1.5, -0.2, 0.0, 0.3, 1.2], dtype))

    @jax.jit  # all four dtypes in one compilation keeps this test fast
    def run(inputs):
        def one(x, finite):
            grad = jax.grad(lambda y: spike(y, surrogate).sum())(finite)
            return spike(x, surrogate), surrogate.derivative(finite), grad

        return {name: one(*args) for name, args in inputs.items()}

    for name, (s, derivative, grad) in run(inputs).items():
        x, finite = inputs[name]
        assert s.dtype == derivative.dtype == grad.dtype == x.dtype, name
        x64 = np.asarray(x, np.float64)
        np.testing.assert_array_equal(np.asarray(s, np.float64), x64 > 0, err_msg=name)
        # A few rounding errors of the dtype, no more: catches formulas that cancel in low precision.
        expected = REFERENCE[type(surrogate)][0](surrogate, np.asarray(finite, np.float64))
        eps = float(jnp.finfo(x.dtype).eps)
        np.testing.assert_allclose(np.asarray(grad, np.float64), expected, rtol=16 * eps,
                                   atol=16 * eps * np.max(expected), err_msg=name)


@pytest.mark.parametrize("surrogate", VARIANTS, ids=VARIANT_IDS)
def test_jvp_equals_closed_form(surrogate):
    x = jnp.asarray(GRID)
    t = jnp.asarray(np.random.default_rng(0).normal(size=GRID.shape))
    s, s_dot = _jvp(surrogate, x, t)
    np.testing.assert_array_equal(s, GRID > 0)
    expected = REFERENCE[type(surrogate)][0](surrogate, GRID) * np.asarray(t)
    np.testing.assert_allclose(s_dot, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("surrogate", ALL_SURROGATES, ids=type_name)
def test_reverse_equals_forward_mode_through_lif(surrogate):
    rng = np.random.default_rng(1)
    steps, n = 5, 4
    xs = jnp.asarray(1.0 + 0.5 * rng.normal(size=(steps, n)))
    weights = jnp.asarray(rng.normal(size=(steps, n)))
    lif = LIF(beta=0.6, surrogate=surrogate, dtype=jnp.float64)

    def loss(xs):
        _, spikes = lax.scan(lambda state, x: lif(state, x), lif.init_state((n,), jnp.float64), xs)
        return jnp.sum(weights * spikes)

    reverse, forward = jax.jit(lambda xs: (jax.grad(loss)(xs), jax.jacfwd(loss)(xs)))(xs)
    assert np.any(np.asarray(reverse) != 0), "the surrogate path must carry some gradient"
    scale = float(np.max(np.abs(reverse)))
    np.testing.assert_allclose(reverse, forward, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("surrogate", ALL_SURROGATES, ids=type_name)
def test_jit_and_vmap_match_eager(surrogate):
    x = jnp.asarray(GRID[:120].reshape(4, 30))

    def value_and_slope(y):
        return spike(y, surrogate), jax.grad(lambda z: spike(z, surrogate).sum())(y)

    eager = value_and_slope(x)  # elementwise, so the whole batch at once is the eager reference
    for fn in (jax.jit(value_and_slope), jax.vmap(value_and_slope)):
        got = fn(x)
        np.testing.assert_array_equal(got[0], eager[0])
        np.testing.assert_allclose(got[1], eager[1], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("surrogate", VARIANTS, ids=VARIANT_IDS)
def test_second_derivative_equals_closed_form(surrogate):
    # Away from kinks (x = 0 for |x|, the edges of compact supports) every surrogate is smooth.
    second = jax.jit(jax.vmap(jax.grad(jax.grad(lambda y: spike(y, surrogate)))))(jnp.asarray(SMOOTH_GRID))
    expected = REFERENCE[type(surrogate)][1](surrogate, SMOOTH_GRID)
    np.testing.assert_allclose(second, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("surrogate", [Sigmoid(), Gaussian(), Erfc(), Circ()], ids=type_name)
def test_hessian_is_diagonal_with_closed_form(surrogate):
    x = np.array([-0.7, -0.1, 0.25, 1.3])
    hessian = jax.jit(jax.hessian(lambda y: spike(y, surrogate).sum()))(jnp.asarray(x))
    np.testing.assert_allclose(hessian, np.diag(REFERENCE[type(surrogate)][1](surrogate, x)), rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# User-defined surrogates and bad input.


def test_custom_function_is_the_derivative():
    bump = custom(lambda x: jnp.exp(-(x**2)))
    x = jnp.asarray(GRID)
    s, s_dot = _jvp(bump, x, jnp.ones_like(x))
    np.testing.assert_array_equal(s, GRID > 0)
    np.testing.assert_allclose(s_dot, np.exp(-(GRID**2)), rtol=1e-13)
    reverse = jax.grad(lambda y: spike(y, bump).sum())(x)
    np.testing.assert_allclose(reverse, np.exp(-(GRID**2)), rtol=1e-13)


def test_subclass_recipe_from_module_docstring():
    class Quadratic(AbstractSurrogate):
        width: float = 1.0

        def derivative(self, x):
            return jnp.maximum(0.0, 1.0 - (x / self.width) ** 2)

    surrogate = Quadratic(width=0.5)
    x = jnp.asarray(GRID)
    np.testing.assert_array_equal(surrogate(x), GRID > 0)
    grad = jax.grad(lambda y: spike(y, surrogate).sum())(x)
    np.testing.assert_allclose(grad, np.maximum(0, 1 - (GRID / 0.5) ** 2), rtol=1e-13, atol=1e-15)


def test_custom_rejects_a_non_callable():
    with pytest.raises(TypeError, match=r"`spikax.surrogate.custom`: expected a function.*got int"):
        custom(3)


def test_spike_rejects_a_non_surrogate():
    with pytest.raises(TypeError, match=r"`spikax.spike`: `surrogate` must be a spikax surrogate, got str"):
        spike(jnp.zeros(3), "not a surrogate")


@pytest.mark.parametrize("x", [jnp.arange(3), np.array([1, 0], np.int8), 3], ids=["int", "int8", "python-int"])
def test_spike_rejects_integer_input(x):
    with pytest.raises(TypeError, match=r"`spikax.spike`: `x` must be floating point, got dtype int"):
        spike(x, FastSigmoid())


SURROGATE_ERROR_CASES = [(c, i) for c, i in zip(ERROR_CASES, ERROR_IDS) if c[0].startswith("surrogate.")]


@pytest.mark.parametrize("target, kwargs, error, pattern", [c for c, _ in SURROGATE_ERROR_CASES],
                         ids=[i for _, i in SURROGATE_ERROR_CASES])
def test_bad_hyperparameters_are_rejected_at_construction(target, kwargs, error, pattern):
    """Issue 10: `FastSigmoid(slope=-1)` gave infinite gradients, `Gaussian(sigma=0)` NaN, ... now a clear error."""
    with pytest.raises(error) as info:
        build(spikax, target, kwargs)
    assert str(info.value).startswith(f"`spikax.{target}`: ") and re.search(pattern, str(info.value)), info.value


def test_bad_hyperparameter_traced_under_jit_raises_when_run():
    make = jax.jit(lambda width: spike(jnp.array([0.1]), Rectangle(width=width)))
    np.testing.assert_array_equal(make(0.5), [1.0])
    with pytest.raises(Exception, match=r"spikax.surrogate.Rectangle`: `width` must be positive"):
        jax.block_until_ready(jax.jit(lambda w: jax.grad(lambda x: spike(x, Rectangle(width=w)).sum())(
            jnp.array([0.1])))(0.0))


def test_sweeping_a_hyperparameter_compiles_once():
    """Issue 9: a surrogate hyper-parameter is traced, not static, so a sweep does not recompile per value."""
    traces = 0

    @eqx.filter_jit
    def slope_at(neuron, x):
        nonlocal traces
        traces += 1
        return jax.grad(lambda x: neuron(neuron.init_state(x.shape), x)[1].sum())(x)

    x = jnp.array([1.5, 0.8])
    for k in (1.0, 5.0, 25.0):
        lif = LIF(beta=0.5, surrogate=FastSigmoid(slope=k))
        v = 0.5 * np.asarray(x) - 1.0  # distance to threshold after one step from rest
        np.testing.assert_allclose(slope_at(lif, x), 0.5 / (k * np.abs(v) + 1) ** 2, rtol=1e-12)
    assert traces == 1


def test_vmapped_ensemble_of_surrogates_equals_each_one():
    slopes = jnp.array([1.0, 5.0, 25.0])
    ensemble = eqx.filter_vmap(lambda k: Sigmoid(slope=k))(slopes)
    x = jnp.asarray(GRID)
    grads = eqx.filter_vmap(lambda s: jax.grad(lambda y: spike(y, s).sum())(x))(ensemble)
    for k, g in zip(slopes, grads):
        np.testing.assert_allclose(g, REFERENCE[Sigmoid][0](Sigmoid(slope=float(k)), GRID), rtol=1e-12)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.float32])
def test_strongly_typed_hyperparameter_keeps_the_dtype_of_x(dtype):
    surrogate = FastSigmoid(slope=jnp.asarray(10.0, jnp.float64))
    x = jnp.array([-0.2, 0.3], dtype)
    grad = jax.grad(lambda y: spike(y, surrogate).sum())(x)
    assert grad.dtype == dtype
    np.testing.assert_allclose(np.asarray(grad, np.float64), 1 / (10 * np.abs([-0.2, 0.3]) + 1) ** 2, rtol=1e-2)
