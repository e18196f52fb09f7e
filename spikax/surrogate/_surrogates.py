"""The named surrogate derivatives. Each is one formula in one `derivative` method.

Hyper-parameters are Python floats so that they take the dtype of `x` (weak typing).
"""

from __future__ import annotations

import jax.numpy as jnp

from ._spike import AbstractSurrogate


class FastSigmoid(AbstractSurrogate):
    r"""Fast sigmoid, the SuperSpike surrogate (Zenke & Ganguli 2018, Neural Comput. 30:1514).

    $$\sigma'(x) = \frac{1}{(k\,|x| + 1)^2}$$

    **Arguments:**

    - `slope`: steepness $k$ (default 25, peak 1 at $x = 0$).
    """

    slope: float = 25.0

    def derivative(self, x):
        return 1.0 / (self.slope * jnp.abs(x) + 1.0) ** 2


class Triangle(AbstractSurrogate):
    r"""Triangle (piecewise linear) surrogate with compact support (Bellec et al. 2018, NeurIPS).

    $$\sigma'(x) = \gamma \max\!\left(0,\ 1 - \frac{|x|}{w}\right)$$

    Zero outside $|x| < w$, so neurons far from threshold contribute exact zeros to
    eligibility traces.

    **Arguments:**

    - `gamma`: peak height $\gamma$ (default 0.3, as in e-prop).
    - `width`: half-width $w$ of the support (default 1).
    """

    gamma: float = 0.3
    width: float = 1.0

    def derivative(self, x):
        return self.gamma * jnp.maximum(0.0, 1.0 - jnp.abs(x) / self.width)
