"""The spike function: a Heaviside step whose tangent is a surrogate derivative.

`spike` is a `torch.autograd.Function` with `forward`, `setup_context`, `backward` **and
`jvp`**, plus a generated vmap rule. So reverse mode (`loss.backward()`, `torch.func.grad`,
`jacrev`), forward mode (`torch.func.jvp`, `jacfwd`, `torch.autograd.forward_ad`) and
`torch.func.vmap` all see the same surrogate derivative, as in `spikax.spike` (a
`jax.custom_jvp`). The backward is written in differentiable torch ops, so second derivatives
(`torch.func.hessian`) exist where the surrogate is smooth.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable

import spikax_spec as spec
import torch


class AbstractSurrogate(abc.ABC):
    """A pseudo-derivative $\\sigma'(x)$ that replaces the Dirac delta $H'(x)$ of the step.

    The torch twin of [`spikax.surrogate.AbstractSurrogate`][]: subclasses are frozen dataclasses
    whose fields are (Python float) hyper-parameters and which implement one method,
    `derivative(x)`, in torch ops. `x` is the distance to threshold, `v - theta`. The named
    surrogates check their hyper-parameters at construction against the same ranges as spikax
    (`spikax_spec.SURROGATES`).

    **Example:**

    ```python
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Quadratic(spikax_torch.surrogate.AbstractSurrogate):
        width: float = 1.0
        def derivative(self, x):
            return torch.clamp(1.0 - (x / self.width) ** 2, min=0.0)
    ```
    """

    def __post_init__(self):
        # The same checks as spikax's (a field whose metadata holds its valid range).
        for field in dataclasses.fields(self):
            if "valid" in field.metadata:
                owner = f"spikax_torch.surrogate.{type(self).__name__}"
                spec.check_hyperparameter(owner, field.name, getattr(self, field.name), field.metadata["valid"],
                                          field.default)

    @abc.abstractmethod
    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative at `x`, elementwise, same shape and dtype as `x`."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Shorthand for `spike(x, self)`."""
        return spike(x, self)


@dataclasses.dataclass(frozen=True)
class Custom(AbstractSurrogate):
    """A surrogate made from any derivative function `fn(x) -> tensor` (written in torch ops).

    **Example:**

    ```python
    bump = spikax_torch.surrogate.Custom(lambda x: torch.exp(-x**2))
    s = spikax_torch.spike(torch.tensor([0.5, 1.5]) - 1.0, bump)  # [0., 1.]
    ```
    """

    fn: Callable[[torch.Tensor], torch.Tensor]

    def derivative(self, x):
        return self.fn(x)


def custom(fn: Callable[[torch.Tensor], torch.Tensor]) -> Custom:
    """Build a surrogate from a derivative function; see [`spikax_torch.surrogate.Custom`][]."""
    if not callable(fn):
        raise TypeError(
            f"`spikax_torch.surrogate.custom`: expected a function x -> derivative, got {type(fn).__name__}. "
            "Pass e.g. `lambda x: 1 / (1 + x.abs()) ** 2`."
        )
    return Custom(fn)


class SpikeFunction(torch.autograd.Function):
    """Heaviside forward, surrogate backward *and* forward-mode rule (see [`spike`][])."""

    generate_vmap_rule = True  # elementwise in x: torch.func.vmap batches it by itself

    @staticmethod
    def forward(x, surrogate):
        return (x > 0).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, surrogate = inputs
        ctx.surrogate = surrogate
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * _slope(ctx.surrogate, x), None

    @staticmethod
    def jvp(ctx, x_dot, surrogate_dot):
        del surrogate_dot
        (x,) = ctx.saved_tensors
        return _slope(ctx.surrogate, x) * x_dot


def _slope(surrogate: AbstractSurrogate, x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(surrogate.derivative(x)).to(x.dtype)


def spike(x: torch.Tensor, surrogate: AbstractSurrogate) -> torch.Tensor:
    r"""Heaviside step with a surrogate derivative, in reverse *and* forward mode.

    $$s = H(x) = \begin{cases}1 & x > 0\\ 0 & x \le 0\end{cases},\qquad
      \dot s = \sigma'(x)\,\dot x,\qquad \bar x = \sigma'(x)\,\bar s$$

    The output has the dtype of `x`.

    **Arguments:**

    - `x`: distance to threshold, `v - threshold`, any shape and floating dtype.
    - `surrogate`: a [`spikax_torch.surrogate.AbstractSurrogate`][].

    **Example:**

    ```python
    s = spikax_torch.spike(torch.tensor([-0.5, 0.2]), spikax_torch.surrogate.FastSigmoid())  # [0., 1.]
    ```
    """
    if not isinstance(surrogate, AbstractSurrogate):
        raise TypeError(
            f"`spikax_torch.spike`: `surrogate` must be a spikax_torch surrogate, got {type(surrogate).__name__}. "
            "Pass e.g. `spikax_torch.surrogate.FastSigmoid()`, or wrap a derivative with "
            "`spikax_torch.surrogate.custom(fn)`."
        )
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=torch.get_default_dtype())
    if not x.is_floating_point():
        raise TypeError(
            f"`spikax_torch.spike`: `x` must be floating point, got dtype {x.dtype}. Cast it, e.g. `x.float()`."
        )
    return SpikeFunction.apply(x, surrogate)
