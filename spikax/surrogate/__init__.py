r"""Surrogate derivatives for the spike function; see [`spikax.surrogate.spike`][].

The forward pass of [`spikax.spike`][] is always the exact Heaviside step; a surrogate only
chooses the pseudo-derivative $\sigma'(x)$ used by `grad`, `jvp`, `jacfwd` and friends.
Every named surrogate below is a small equinox module whose hyper-parameters are weakly typed
0-d arrays, checked at construction (a negative slope or a zero width is an error) against the
ranges spikax_torch checks too. Being arrays, they are traced: sweeping a value under
`eqx.filter_jit` compiles once, and `eqx.filter_vmap` builds an ensemble of surrogates.
[`ALL_SURROGATES`][spikax.surrogate.ALL_SURROGATES] holds one default instance of each.

| class | $\sigma'(x)$ | default peak |
| --- | --- | --- |
| `FastSigmoid` (SuperSpike) | $1/(k\lvert x\rvert+1)^2$ | 1 |
| `Sigmoid` | $k\,\mathrm{sig}(kx)(1-\mathrm{sig}(kx))$ | 1 |
| `ATan` | $(\alpha/2)/(1+(\pi\alpha x/2)^2)$ | 1 |
| `Triangle` | $\gamma\max(0, 1-\lvert x\rvert/w)$ | 0.3 |
| `Rectangle` (boxcar) | $\mathbb 1[\lvert x\rvert<a/2]/a$ | 1 |
| `Gaussian` | normal density, std $s$ | 1 |
| `MultiGaussian` | centre bump minus two wide side lobes | 0.44 |
| `Exponential` (SLAYER) | $\alpha e^{-\beta\lvert x\rvert}$ | 1 |
| `Erfc` | $(\alpha/\sqrt\pi)e^{-\alpha^2x^2}$ | 1.13 |
| `PiecewiseQuadratic` | $\max(0,\alpha-\alpha^2\lvert x\rvert)$ | 1 |
| `PiecewiseExp` | $(\alpha/2)e^{-\alpha\lvert x\rvert}$ | 1 |
| `SoftSign` | $(\alpha/2)/(1+\alpha\lvert x\rvert)^2$ | 1 |
| `Tanh` | $(k/2)(1-\tanh^2 kx)$ | 1 |
| `Circ` | $\alpha^2/(2(x^2+\alpha^2)^{3/2})$ | 1 |
| `QPseudo` | $(1+2\lvert x\rvert/(q-1))^{-q}$ | 1 |
| `LogTailed` | $\alpha$, $1$, $1/x$ on $x\le0$, $(0,1]$, $x>1$ | 1 |
| `StraightThrough` | $c$ | 1 |
| `SpikeRateEscape` | $k e^{-\beta\lvert x\rvert}$ | 25 |

**Adding your own surrogate** takes a few lines. Either subclass
[`spikax.surrogate.AbstractSurrogate`][] and write one `derivative` method (keep
hyper-parameters Python floats, which `eqx.filter_jit` treats as static, or weakly typed
arrays, and use `jnp` functions, so the result keeps the dtype of `x` under any dtype
promotion mode):

```python
import jax.numpy as jnp
import spikax

class Quadratic(spikax.surrogate.AbstractSurrogate):
    width: float = 1.0

    def derivative(self, x):
        return jnp.maximum(0.0, 1.0 - (x / self.width) ** 2)

lif = spikax.neurons.LIF(beta=0.9, surrogate=Quadratic(width=0.5))
```

or wrap a plain function with [`spikax.surrogate.custom`][]:

```python
bump = spikax.surrogate.custom(lambda x: jnp.exp(-x**2))
s = spikax.spike(jnp.array([-0.5, 0.2]), bump)
```

Either way the same derivative serves reverse mode (BPTT) and forward mode (RTRL), because
[`spikax.spike`][] is a `jax.custom_jvp`.
"""

from ._spike import AbstractSurrogate as AbstractSurrogate
from ._spike import Custom as Custom
from ._spike import custom as custom
from ._spike import spike as spike
from ._surrogates import ATan as ATan
from ._surrogates import Circ as Circ
from ._surrogates import Erfc as Erfc
from ._surrogates import Exponential as Exponential
from ._surrogates import FastSigmoid as FastSigmoid
from ._surrogates import Gaussian as Gaussian
from ._surrogates import LogTailed as LogTailed
from ._surrogates import MultiGaussian as MultiGaussian
from ._surrogates import PiecewiseExp as PiecewiseExp
from ._surrogates import PiecewiseQuadratic as PiecewiseQuadratic
from ._surrogates import QPseudo as QPseudo
from ._surrogates import Rectangle as Rectangle
from ._surrogates import Sigmoid as Sigmoid
from ._surrogates import SoftSign as SoftSign
from ._surrogates import SpikeRateEscape as SpikeRateEscape
from ._surrogates import StraightThrough as StraightThrough
from ._surrogates import Tanh as Tanh
from ._surrogates import Triangle as Triangle

ALL_SURROGATES: tuple[AbstractSurrogate, ...]
"""One default instance of every named surrogate, in the order of the table above."""

_ALL_SURROGATES_CLASSES = (FastSigmoid, Sigmoid, ATan, Triangle, Rectangle, Gaussian, MultiGaussian, Exponential, Erfc,
                           PiecewiseQuadratic, PiecewiseExp, SoftSign, Tanh, Circ, QPseudo, LogTailed, StraightThrough,
                           SpikeRateEscape)


def __getattr__(name: str):
    # Built on first use, not at import: creating arrays starts JAX's backend, after which
    # `jax.distributed.initialize` (multi-host training) can no longer be called.
    if name == "ALL_SURROGATES":
        globals()[name] = value = tuple(cls() for cls in _ALL_SURROGATES_CLASSES)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
