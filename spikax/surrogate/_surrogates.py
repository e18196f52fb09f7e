r"""The named surrogate derivatives. Each is one formula in one `derivative` method.

Every surrogate replaces the Dirac delta $H'(x)$ of the spike step by a pseudo-derivative
$\sigma'(x)$ of the distance to threshold $x = v - \theta$. Hyper-parameters are weakly typed
0-d arrays (a sweep over their values compiles once), checked at construction against the
ranges of `spikax_spec.SURROGATES` (shared with spikax_torch), so `derivative(x)` keeps the
dtype of `x` (float16, bfloat16, float32 or float64) even under strict dtype promotion. Unless
a docstring says otherwise the default hyper-parameters give a peak derivative of 1 at $x = 0$.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import spikax_spec as spec
from jaxtyping import Array

from ._spike import AbstractSurrogate

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _hyper(surrogate: str, name: str):
    """A hyper-parameter field: default and valid range from `spikax_spec.SURROGATES`, stored as a weak 0-d array."""
    default, valid = spec.SURROGATES[surrogate][name]
    return eqx.field(default=default, converter=jnp.asarray, metadata={"valid": valid})


def _normal_pdf(x, mean, std):
    """Density of the normal distribution N(mean, std^2) at `x`; keeps the dtype of `x`."""
    return jnp.exp(-0.5 * ((x - mean) / std) ** 2) / (_SQRT_2PI * std)


class FastSigmoid(AbstractSurrogate):
    r"""Fast sigmoid, the SuperSpike surrogate (Zenke & Ganguli 2018, Neural Comput. 30:1514).

    $$\sigma'(x) = \frac{1}{(k\,|x| + 1)^2}$$

    **Arguments:**

    - `slope`: steepness $k$ (default 25, as in SuperSpike; peak 1 at $x = 0$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.FastSigmoid(slope=10.0))
    ```
    """

    slope: Array = _hyper("FastSigmoid", "slope")

    def derivative(self, x):
        return 1.0 / (self.slope * jnp.abs(x) + 1.0) ** 2


class Sigmoid(AbstractSurrogate):
    r"""Derivative of the logistic sigmoid $\mathrm{sig}(kx) = 1/(1 + e^{-kx})$.

    $$\sigma'(x) = k\,\mathrm{sig}(kx)\,\bigl(1 - \mathrm{sig}(kx)\bigr)$$

    Neftci, Mostafa & Zenke 2019, IEEE Signal Process. Mag. 36:51 (surrogate gradient learning).

    **Arguments:**

    - `slope`: steepness $k$ (default 4, peak $k/4 = 1$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Sigmoid())
    ```
    """

    slope: Array = _hyper("Sigmoid", "slope")

    def derivative(self, x):
        # sig(-z) = 1 - sig(z) without the cancellation that ruins float16 tails.
        z = self.slope * x
        return self.slope * jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)


class ATan(AbstractSurrogate):
    r"""Arctangent surrogate (Fang et al. 2021, ICCV, learnable membrane time constants).

    Derivative of $\tfrac{1}{\pi}\arctan(\tfrac{\pi}{2}\alpha x) + \tfrac12$:

    $$\sigma'(x) = \frac{\alpha/2}{1 + \left(\tfrac{\pi}{2}\alpha x\right)^2}$$

    **Arguments:**

    - `alpha`: steepness $\alpha$ (default 2, peak $\alpha/2 = 1$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.ATan())
    ```
    """

    alpha: Array = _hyper("ATan", "alpha")

    def derivative(self, x):
        return (0.5 * self.alpha) / (1.0 + (0.5 * math.pi * self.alpha * x) ** 2)


class Triangle(AbstractSurrogate):
    r"""Triangle (piecewise linear) surrogate with compact support (Bellec et al. 2018, NeurIPS;
    Esser et al. 2016, PNAS 113:11441).

    $$\sigma'(x) = \gamma \max\!\left(0,\ 1 - \frac{|x|}{w}\right)$$

    Zero outside $|x| < w$, so neurons far from threshold contribute exact zeros to
    eligibility traces.

    **Arguments:**

    - `gamma`: peak height $\gamma$ (default 0.3, as in e-prop).
    - `width`: half-width $w$ of the support (default 1).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Triangle(gamma=1.0))
    ```
    """

    gamma: Array = _hyper("Triangle", "gamma")
    width: Array = _hyper("Triangle", "width")

    def derivative(self, x):
        return self.gamma * jnp.maximum(0.0, 1.0 - jnp.abs(x) / self.width)


class Rectangle(AbstractSurrogate):
    r"""Rectangular (boxcar) surrogate (Wu et al. 2018, Front. Neurosci. 12:331, STBP).

    $$\sigma'(x) = \frac{1}{a}\,\mathbb{1}\!\left[|x| < \tfrac{a}{2}\right]$$

    Unit area; zero outside a window of width $a$ around threshold.

    **Arguments:**

    - `width`: window width $a$ (default 1, height $1/a = 1$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Rectangle(width=0.5))
    ```
    """

    width: Array = _hyper("Rectangle", "width")

    def derivative(self, x):
        return jnp.where(jnp.abs(x) < 0.5 * self.width, 1.0 / self.width, 0.0).astype(x.dtype)


class Gaussian(AbstractSurrogate):
    r"""Gaussian surrogate: the normal density (Wu et al. 2018, Front. Neurosci. 12:331).

    $$\sigma'(x) = \frac{1}{\sqrt{2\pi}\,s}\exp\!\left(-\frac{x^2}{2s^2}\right)$$

    **Arguments:**

    - `sigma`: standard deviation $s$ (default $1/\sqrt{2\pi} \approx 0.399$, so the peak is 1).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Gaussian(sigma=0.5))
    ```
    """

    sigma: Array = _hyper("Gaussian", "sigma")

    def derivative(self, x):
        return _normal_pdf(x, 0.0, self.sigma)


class MultiGaussian(AbstractSurrogate):
    r"""Multi-Gaussian surrogate (Yin, Corradi & Bohté 2021, Nat. Mach. Intell. 3:905).

    A central Gaussian with two wide negative side lobes, which the authors found trains
    adaptive spiking RNNs better than single-bump surrogates:

    $$\sigma'(x) = \gamma\Bigl[(1+h)\,\mathcal N(x;0,s) - h\,\mathcal N(x;s,\,c\,s)
      - h\,\mathcal N(x;-s,\,c\,s)\Bigr]$$

    where $\mathcal N(x;\mu,s)$ is the normal density with mean $\mu$ and standard deviation $s$.

    **Arguments:**

    - `sigma`: width $s$ of the central bump (default 0.5).
    - `height`: weight $h$ of the side lobes (default 0.15).
    - `scale`: width ratio $c$ of side lobes to centre (default 6).
    - `gamma`: overall gain $\gamma$ (default 0.5).

    The defaults are the published ones; the peak is then about 0.44.

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.MultiGaussian())
    ```
    """

    sigma: Array = _hyper("MultiGaussian", "sigma")
    height: Array = _hyper("MultiGaussian", "height")
    scale: Array = _hyper("MultiGaussian", "scale")
    gamma: Array = _hyper("MultiGaussian", "gamma")

    def derivative(self, x):
        wide = self.scale * self.sigma
        centre = (1.0 + self.height) * _normal_pdf(x, 0.0, self.sigma)
        sides = self.height * (_normal_pdf(x, self.sigma, wide) + _normal_pdf(x, -self.sigma, wide))
        return self.gamma * (centre - sides)


class Exponential(AbstractSurrogate):
    r"""Exponential (SLAYER) spike-escape density (Shrestha & Orchard 2018, NeurIPS).

    $$\sigma'(x) = \alpha\, e^{-\beta |x|}$$

    **Arguments:**

    - `alpha`: peak height $\alpha$ (default 1).
    - `beta`: decay rate $\beta$ per unit of $x$ (default 1: decay length of one threshold unit).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Exponential(beta=5.0))
    ```
    """

    alpha: Array = _hyper("Exponential", "alpha")
    beta: Array = _hyper("Exponential", "beta")

    def derivative(self, x):
        return self.alpha * jnp.exp(-self.beta * jnp.abs(x))


class Erfc(AbstractSurrogate):
    r"""Heaviside-erfc surrogate: the step smoothed as $\tfrac12\operatorname{erfc}(-\alpha x)$.

    $$\sigma'(x) = \frac{\alpha}{\sqrt{\pi}}\, e^{-\alpha^2 x^2}$$

    Used by Norse (`heavi_erfc`, Pehle & Pedersen 2021) and SpikingJelly (`Erf`, Fang et al.
    2023, Sci. Adv. 9:eadi1480).

    **Arguments:**

    - `alpha`: steepness $\alpha$ (default 2, SpikingJelly's; peak $2/\sqrt\pi \approx 1.13$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Erfc())
    ```
    """

    alpha: Array = _hyper("Erfc", "alpha")

    def derivative(self, x):
        return (self.alpha / _SQRT_PI) * jnp.exp(-((self.alpha * x) ** 2))


class PiecewiseQuadratic(AbstractSurrogate):
    r"""Piecewise quadratic surrogate (Esser et al. 2016, PNAS 113:11441; SpikingJelly's name).

    The step is smoothed by a piecewise *quadratic* function, so its derivative is a
    triangle of height $\alpha$ and half-width $1/\alpha$ (unit area):

    $$\sigma'(x) = \max\!\left(0,\ \alpha - \alpha^2 |x|\right)$$

    The same shape as [`spikax.surrogate.Triangle`][] with `gamma=alpha, width=1/alpha`,
    parametrised by one number as in SpikingJelly.

    **Arguments:**

    - `alpha`: peak height $\alpha$ (default 1).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.PiecewiseQuadratic())
    ```
    """

    alpha: Array = _hyper("PiecewiseQuadratic", "alpha")

    def derivative(self, x):
        return jnp.maximum(0.0, self.alpha - self.alpha**2 * jnp.abs(x))


class PiecewiseExp(AbstractSurrogate):
    r"""Piecewise exponential surrogate (Neftci, Mostafa & Zenke 2019, IEEE Signal Process. Mag.).

    Derivative of the step smoothed by $\tfrac12 e^{\alpha x}$ ($x<0$) and
    $1 - \tfrac12 e^{-\alpha x}$ ($x \ge 0$); unit area:

    $$\sigma'(x) = \frac{\alpha}{2}\, e^{-\alpha |x|}$$

    **Arguments:**

    - `alpha`: steepness $\alpha$ (default 2, peak $\alpha/2 = 1$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.PiecewiseExp())
    ```
    """

    alpha: Array = _hyper("PiecewiseExp", "alpha")

    def derivative(self, x):
        return (0.5 * self.alpha) * jnp.exp(-self.alpha * jnp.abs(x))


class SoftSign(AbstractSurrogate):
    r"""Soft-sign surrogate: derivative of $\tfrac12\bigl(\tfrac{\alpha x}{1+|\alpha x|} + 1\bigr)$.

    $$\sigma'(x) = \frac{\alpha}{2\,(1 + \alpha|x|)^2}$$

    A unit-area rescaling of the SuperSpike shape (Zenke & Ganguli 2018, Neural Comput.).

    **Arguments:**

    - `alpha`: steepness $\alpha$ (default 2, peak $\alpha/2 = 1$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.SoftSign())
    ```
    """

    alpha: Array = _hyper("SoftSign", "alpha")

    def derivative(self, x):
        return (0.5 * self.alpha) / (1.0 + self.alpha * jnp.abs(x)) ** 2


class Tanh(AbstractSurrogate):
    r"""Hyperbolic-tangent surrogate: derivative of $\tfrac12\bigl(1 + \tanh(kx)\bigr)$.

    $$\sigma'(x) = \frac{k}{2}\bigl(1 - \tanh^2(kx)\bigr)$$

    Used by Norse (`heavi_tanh`, Pehle & Pedersen 2021) and Spyx (Heckel & Nowotny 2024).

    **Arguments:**

    - `slope`: steepness $k$ (default 2, peak $k/2 = 1$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Tanh())
    ```
    """

    slope: Array = _hyper("Tanh", "slope")

    def derivative(self, x):
        # 1 - tanh^2 = 1 / cosh^2, written without the cancellation that ruins low precision.
        return (0.5 * self.slope) / jnp.cosh(self.slope * x) ** 2


class Circ(AbstractSurrogate):
    r"""Circular (algebraic) surrogate: derivative of $\tfrac12 + \tfrac12\,x/\sqrt{x^2+\alpha^2}$.

    $$\sigma'(x) = \frac{\alpha^2}{2\,(x^2 + \alpha^2)^{3/2}}$$

    Used by Norse (`circ`, Pehle & Pedersen 2021). Tails fall off as $|x|^{-3}$.

    **Arguments:**

    - `alpha`: width $\alpha$ (default 0.5, peak $1/(2\alpha) = 1$).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.Circ())
    ```
    """

    alpha: Array = _hyper("Circ", "alpha")

    def derivative(self, x):
        a2 = self.alpha**2
        return (0.5 * a2) / jnp.sqrt(x * x + a2) ** 3


class QPseudo(AbstractSurrogate):
    r"""q-PseudoSpike surrogate with tunable tail fatness (Herranz-Celotti & Rouat 2022,
    "Surrogate gradients design", arXiv:2202.00282, later "Stabilizing spiking neuron training").

    $$\sigma'(x) = \left(1 + \frac{2|x|}{q - 1}\right)^{-q}, \qquad q > 1$$

    Unit area and peak 1; small $q$ gives fat (heavy) tails, $q \to \infty$ tends to
    $e^{-2|x|}$.

    **Arguments:**

    - `q`: tail fatness $q > 1$ (default 2).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.QPseudo(q=4.0))
    ```
    """

    q: Array = _hyper("QPseudo", "q")

    def derivative(self, x):
        return (1.0 + (2.0 / (self.q - 1.0)) * jnp.abs(x)) ** (-self.q)


class LogTailed(AbstractSurrogate):
    r"""Log-tailed ReLU surrogate (Cai, He, Sun & Vasconcelos 2017, CVPR, half-wave Gaussian
    quantization; in SpikingJelly and BrainPy as `LogTailedReLU`).

    Derivative of $\alpha x$ ($x \le 0$), $x$ ($0 < x \le 1$), $\log x + 1$ ($x > 1$):

    $$\sigma'(x) = \begin{cases}\alpha & x \le 0\\ 1 & 0 < x \le 1\\ 1/x & x > 1\end{cases}$$

    One-sided: the gradient flows mostly from neurons above threshold.

    **Arguments:**

    - `alpha`: slope $\alpha$ below threshold (default 0, the published one; peak 1).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.LogTailed(alpha=0.1))
    ```
    """

    alpha: Array = _hyper("LogTailed", "alpha")

    def derivative(self, x):
        # 1 / max(x, 1) is 1 on (0, 1] and 1/x above, with no division by small x.
        return jnp.where(x > 0, 1.0 / jnp.maximum(x, 1.0), self.alpha)


class StraightThrough(AbstractSurrogate):
    r"""Straight-through estimator: the step is treated as the identity (Bengio, Léonard &
    Courville 2013, arXiv:1308.3432).

    $$\sigma'(x) = c$$

    **Arguments:**

    - `scale`: the constant $c$ (default 1).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.StraightThrough())
    ```
    """

    scale: Array = _hyper("StraightThrough", "scale")

    def derivative(self, x):
        return jnp.full_like(x, self.scale)


class SpikeRateEscape(AbstractSurrogate):
    r"""Spike-rate escape surrogate: an escape-noise firing rate (Gerstner, Kistler, Naud &
    Paninski 2014, *Neuronal Dynamics*, ch. 9; snnTorch's `spike_rate_escape`).

    $$\sigma'(x) = k\, e^{-\beta |x|}$$

    **Arguments:**

    - `beta`: decay rate $\beta$ of the escape rate (default 1).
    - `slope`: peak height $k$ (default 25, snnTorch's; so the peak is 25, not 1).

    **Example:**

    ```python
    s = spikax.spike(jnp.array([-0.1, 0.1]), spikax.surrogate.SpikeRateEscape(slope=1.0))
    ```
    """

    beta: Array = _hyper("SpikeRateEscape", "beta")
    slope: Array = _hyper("SpikeRateEscape", "slope")

    def derivative(self, x):
        return self.slope * jnp.exp(-self.beta * jnp.abs(x))
