r"""The named surrogate derivatives, the torch twins of `spikax.surrogate`'s.

Same class names, hyper-parameter names, defaults, valid ranges (all from `spikax_spec.SURROGATES`)
and formulas; see the JAX docstrings for the citations. Hyper-parameters are Python floats, so
`derivative(x)` keeps the dtype of `x`.
"""

from __future__ import annotations

import dataclasses
import math

import spikax_spec as spec
import torch

from ._spike import AbstractSurrogate

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_frozen = dataclasses.dataclass(frozen=True)


def _hyper(surrogate: str, name: str):
    """A hyper-parameter field: default and valid range from `spikax_spec.SURROGATES`."""
    default, valid = spec.SURROGATES[surrogate][name]
    return dataclasses.field(default=default, metadata={"valid": valid})


def _normal_pdf(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (_SQRT_2PI * std)


@_frozen
class FastSigmoid(AbstractSurrogate):
    r"""Fast sigmoid / SuperSpike (Zenke & Ganguli 2018): $\sigma'(x) = 1/(k|x|+1)^2$.

    **Arguments:** `slope` $k$ (default 25).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.FastSigmoid(slope=10.0))
    ```
    """

    slope: float = _hyper("FastSigmoid", "slope")

    def derivative(self, x):
        return 1.0 / (self.slope * x.abs() + 1.0) ** 2


@_frozen
class Sigmoid(AbstractSurrogate):
    r"""Logistic sigmoid derivative (Neftci, Mostafa & Zenke 2019): $k\,\mathrm{sig}(kx)(1-\mathrm{sig}(kx))$.

    **Arguments:** `slope` $k$ (default 4).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Sigmoid())
    ```
    """

    slope: float = _hyper("Sigmoid", "slope")

    def derivative(self, x):
        z = self.slope * x
        return self.slope * torch.sigmoid(z) * torch.sigmoid(-z)


@_frozen
class ATan(AbstractSurrogate):
    r"""Arctangent (Fang et al. 2021): $(\alpha/2)/(1+(\pi\alpha x/2)^2)$.

    **Arguments:** `alpha` (default 2).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.ATan())
    ```
    """

    alpha: float = _hyper("ATan", "alpha")

    def derivative(self, x):
        return (0.5 * self.alpha) / (1.0 + (0.5 * math.pi * self.alpha * x) ** 2)


@_frozen
class Triangle(AbstractSurrogate):
    r"""Triangle (Bellec et al. 2018; Esser et al. 2016): $\gamma\max(0, 1-|x|/w)$.

    **Arguments:** `gamma` (default 0.3), `width` $w$ (default 1).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Triangle(gamma=1.0))
    ```
    """

    gamma: float = _hyper("Triangle", "gamma")
    width: float = _hyper("Triangle", "width")

    def derivative(self, x):
        return self.gamma * torch.clamp(1.0 - x.abs() / self.width, min=0.0)


@_frozen
class Rectangle(AbstractSurrogate):
    r"""Boxcar (Wu et al. 2018): $\mathbb 1[|x| < a/2]/a$.

    **Arguments:** `width` $a$ (default 1).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Rectangle(width=0.5))
    ```
    """

    width: float = _hyper("Rectangle", "width")

    def derivative(self, x):
        return (x.abs() < 0.5 * self.width).to(x.dtype) * (1.0 / self.width)


@_frozen
class Gaussian(AbstractSurrogate):
    r"""Normal density (Wu et al. 2018), standard deviation $s$.

    **Arguments:** `sigma` $s$ (default $1/\sqrt{2\pi}$, peak 1).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Gaussian(sigma=0.5))
    ```
    """

    sigma: float = _hyper("Gaussian", "sigma")

    def derivative(self, x):
        return _normal_pdf(x, 0.0, self.sigma)


@_frozen
class MultiGaussian(AbstractSurrogate):
    r"""Multi-Gaussian (Yin, Corradi & Bohté 2021):
    $\gamma[(1+h)\mathcal N(x;0,s) - h\mathcal N(x;s,cs) - h\mathcal N(x;-s,cs)]$.

    **Arguments:** `sigma` (0.5), `height` (0.15), `scale` (6), `gamma` (0.5).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.MultiGaussian())
    ```
    """

    sigma: float = _hyper("MultiGaussian", "sigma")
    height: float = _hyper("MultiGaussian", "height")
    scale: float = _hyper("MultiGaussian", "scale")
    gamma: float = _hyper("MultiGaussian", "gamma")

    def derivative(self, x):
        wide = self.scale * self.sigma
        centre = (1.0 + self.height) * _normal_pdf(x, 0.0, self.sigma)
        sides = self.height * (_normal_pdf(x, self.sigma, wide) + _normal_pdf(x, -self.sigma, wide))
        return self.gamma * (centre - sides)


@_frozen
class Exponential(AbstractSurrogate):
    r"""SLAYER exponential (Shrestha & Orchard 2018): $\alpha e^{-\beta|x|}$.

    **Arguments:** `alpha` (1), `beta` (1).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Exponential(beta=5.0))
    ```
    """

    alpha: float = _hyper("Exponential", "alpha")
    beta: float = _hyper("Exponential", "beta")

    def derivative(self, x):
        return self.alpha * torch.exp(-self.beta * x.abs())


@_frozen
class Erfc(AbstractSurrogate):
    r"""Heaviside-erfc (Norse, SpikingJelly): $(\alpha/\sqrt\pi)e^{-\alpha^2x^2}$.

    **Arguments:** `alpha` (2).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Erfc())
    ```
    """

    alpha: float = _hyper("Erfc", "alpha")

    def derivative(self, x):
        return (self.alpha / _SQRT_PI) * torch.exp(-((self.alpha * x) ** 2))


@_frozen
class PiecewiseQuadratic(AbstractSurrogate):
    r"""Piecewise quadratic (Esser et al. 2016): $\max(0, \alpha - \alpha^2|x|)$.

    **Arguments:** `alpha` (1).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.PiecewiseQuadratic())
    ```
    """

    alpha: float = _hyper("PiecewiseQuadratic", "alpha")

    def derivative(self, x):
        return torch.clamp(self.alpha - self.alpha**2 * x.abs(), min=0.0)


@_frozen
class PiecewiseExp(AbstractSurrogate):
    r"""Piecewise exponential (Neftci et al. 2019): $(\alpha/2)e^{-\alpha|x|}$.

    **Arguments:** `alpha` (2).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.PiecewiseExp())
    ```
    """

    alpha: float = _hyper("PiecewiseExp", "alpha")

    def derivative(self, x):
        return (0.5 * self.alpha) * torch.exp(-self.alpha * x.abs())


@_frozen
class SoftSign(AbstractSurrogate):
    r"""Soft-sign: $(\alpha/2)/(1+\alpha|x|)^2$.

    **Arguments:** `alpha` (2).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.SoftSign())
    ```
    """

    alpha: float = _hyper("SoftSign", "alpha")

    def derivative(self, x):
        return (0.5 * self.alpha) / (1.0 + self.alpha * x.abs()) ** 2


@_frozen
class Tanh(AbstractSurrogate):
    r"""Hyperbolic tangent (Norse, Spyx): $(k/2)(1-\tanh^2 kx)$.

    **Arguments:** `slope` $k$ (2).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Tanh())
    ```
    """

    slope: float = _hyper("Tanh", "slope")

    def derivative(self, x):
        return (0.5 * self.slope) * (1.0 - torch.tanh(self.slope * x) ** 2)


@_frozen
class Circ(AbstractSurrogate):
    r"""Circular (Norse): $\alpha^2/(2(x^2+\alpha^2)^{3/2})$.

    **Arguments:** `alpha` (0.5).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.Circ())
    ```
    """

    alpha: float = _hyper("Circ", "alpha")

    def derivative(self, x):
        a2 = self.alpha**2
        return (0.5 * a2) / torch.sqrt(x * x + a2) ** 3


@_frozen
class QPseudo(AbstractSurrogate):
    r"""q-PseudoSpike (Herranz-Celotti & Rouat 2022): $(1 + 2|x|/(q-1))^{-q}$.

    **Arguments:** `q` > 1 (2).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.QPseudo(q=4.0))
    ```
    """

    q: float = _hyper("QPseudo", "q")

    def derivative(self, x):
        return (1.0 + (2.0 / (self.q - 1.0)) * x.abs()) ** (-self.q)


@_frozen
class LogTailed(AbstractSurrogate):
    r"""Log-tailed ReLU (Cai et al. 2017): $\alpha$, $1$, $1/x$ on $x\le0$, $(0,1]$, $x>1$.

    **Arguments:** `alpha` (0).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.LogTailed(alpha=0.1))
    ```
    """

    alpha: float = _hyper("LogTailed", "alpha")

    def derivative(self, x):
        return torch.where(x > 0, 1.0 / torch.clamp(x, min=1.0), torch.full_like(x, self.alpha))


@_frozen
class StraightThrough(AbstractSurrogate):
    r"""Straight-through estimator (Bengio et al. 2013): $\sigma'(x) = c$.

    **Arguments:** `scale` $c$ (1).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.StraightThrough())
    ```
    """

    scale: float = _hyper("StraightThrough", "scale")

    def derivative(self, x):
        return torch.full_like(x, self.scale)


@_frozen
class SpikeRateEscape(AbstractSurrogate):
    r"""Spike-rate escape (Gerstner et al. 2014; snnTorch): $k e^{-\beta|x|}$.

    **Arguments:** `beta` (1), `slope` $k$ (25).

    **Example:**

    ```python
    spikax_torch.spike(torch.tensor([-0.1, 0.1]), spikax_torch.surrogate.SpikeRateEscape(slope=1.0))
    ```
    """

    beta: float = _hyper("SpikeRateEscape", "beta")
    slope: float = _hyper("SpikeRateEscape", "slope")

    def derivative(self, x):
        return self.slope * torch.exp(-self.beta * x.abs())
