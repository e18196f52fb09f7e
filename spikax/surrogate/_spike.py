"""The spike function: a Heaviside step whose tangent is a surrogate derivative.

This is the library's only custom derivative. It is a `jax.custom_jvp`, never a
`custom_vjp`: JAX transposes the (linear) tangent rule to get reverse mode, so one
definition serves BPTT (`grad`), RTRL and forward gradients (`jvp`, `jacfwd`,
`linearize`) and `vmap` alike.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import spikax_spec as spec
from jaxtyping import Array, Float

from .._errors import guard


class AbstractSurrogate(eqx.Module):
    """A pseudo-derivative $\\sigma'(x)$ that replaces the Dirac delta $H'(x)$ of the step.

    Subclasses are small equinox modules whose fields are hyper-parameters and which
    implement one method, `derivative(x)`. `x` is the distance to threshold, `v - theta`.
    The named surrogates store their hyper-parameters as (weakly typed) 0-d arrays, checked
    against their valid range at construction (with `eqx.error_if` when traced): sweeping a
    value under `eqx.filter_jit` or `eqx.filter_vmap` then compiles once, and `spike` casts them
    to the dtype of `x`. A field whose metadata holds `"valid"` (a `spikax_spec.Interval`) is
    checked the same way.

    **Example:**

    ```python
    class Quadratic(spikax.surrogate.AbstractSurrogate):
        width: float = 1.0
        def derivative(self, x):
            return jnp.maximum(0.0, 1.0 - (x / self.width) ** 2)

    s = spikax.spike(jnp.array([-0.5, 0.5]), Quadratic())  # [0., 1.]
    ```
    """

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if "valid" in field.metadata:
                owner = f"spikax.surrogate.{type(self).__name__}"
                value = spec.check_hyperparameter(owner, field.name, getattr(self, field.name),
                                                  field.metadata["valid"], field.default, guard)
                setattr(self, field.name, value)

    @abc.abstractmethod
    def derivative(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """The surrogate derivative at `x`, elementwise, same shape as `x`."""

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """Shorthand for `spike(x, self)`."""
        return spike(x, self)


class Custom(AbstractSurrogate):
    """A surrogate made from any derivative function `fn(x) -> array`.

    **Example:**

    ```python
    bump = spikax.surrogate.Custom(lambda x: jnp.exp(-x**2))
    v = jnp.array([0.5, 1.5])
    s = spikax.spike(v - 1.0, bump)  # [0., 1.]
    ```
    """

    fn: Callable[[Array], Array] = eqx.field(static=True)

    def derivative(self, x):
        return self.fn(x)


def custom(fn: Callable[[Array], Array]) -> Custom:
    """Build a surrogate from a derivative function; see [`spikax.surrogate.Custom`][].

    **Example:**

    ```python
    bump = spikax.surrogate.custom(lambda x: 1.0 / (1.0 + jnp.abs(x)) ** 2)
    lif = spikax.neurons.LIF(surrogate=bump)
    ```
    """
    if not callable(fn):
        raise TypeError(
            f"`spikax.surrogate.custom`: expected a function x -> derivative, got {type(fn).__name__}. "
            "Pass e.g. `lambda x: 1 / (1 + abs(x)) ** 2`."
        )
    return Custom(fn)


def spike(x: Float[Array, "*shape"], surrogate: AbstractSurrogate) -> Float[Array, "*shape"]:
    r"""Heaviside step with a surrogate tangent.

    $$s = H(x) = \begin{cases}1 & x > 0\\ 0 & x \le 0\end{cases},\qquad
      \dot s = \sigma'(x)\,\dot x$$

    The output has the dtype of `x`. The tangent rule is linear in $\dot x$, so JAX derives
    reverse mode from it; second derivatives exist where $\sigma'$ is smooth.

    **Arguments:**

    - `x`: distance to threshold, `v - threshold`, any shape and floating dtype.
    - `surrogate`: an [`spikax.surrogate.AbstractSurrogate`][].

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.5, 0.2]), spikax.surrogate.FastSigmoid())  # [0., 1.]
    ```
    """
    if not isinstance(surrogate, AbstractSurrogate):
        raise TypeError(
            f"`spikax.spike`: `surrogate` must be a spikax surrogate, got {type(surrogate).__name__}. "
            "Pass e.g. `spikax.surrogate.FastSigmoid()`, or wrap a derivative with `spikax.surrogate.custom(fn)`."
        )
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"`spikax.spike`: `x` must be floating point, got dtype {x.dtype}. Cast it, e.g. `x.astype(jnp.float32)`."
        )
    dynamic, static = eqx.partition(surrogate, eqx.is_array)
    # Array hyper-parameters take the dtype of `x`, so the derivative keeps it under strict promotion.
    dynamic = jax.tree_util.tree_map(lambda p: p.astype(x.dtype) if jnp.issubdtype(p.dtype, jnp.floating) else p,
                                     dynamic)
    return _spike(x, dynamic, static)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def _spike(x, dynamic, static):
    del dynamic, static
    return (x > 0).astype(x.dtype)


@_spike.defjvp
def _spike_jvp(static, primals, tangents):
    x, dynamic = primals
    x_dot, _ = tangents  # hyper-parameters of the surrogate get no gradient
    surrogate = eqx.combine(dynamic, static)
    slope = jnp.asarray(surrogate.derivative(x)).astype(x.dtype)
    return _spike(x, dynamic, static), slope * x_dot
