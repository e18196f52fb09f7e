r"""Surrogate derivatives for the spike function; the torch twin of [`spikax.surrogate`][].

The forward pass of [`spikax_torch.spike`][] is always the exact Heaviside step; a surrogate
only chooses the pseudo-derivative used by `backward`, `torch.func.grad`, `torch.func.jvp`,
`jacfwd` and `torch.autograd.forward_ad`. Same classes, hyper-parameter names and defaults as
spikax; [`ALL_SURROGATES`][spikax_torch.surrogate.ALL_SURROGATES] holds one default instance
of each, in the same order.

**Example:**

```python
import torch, spikax_torch
s = spikax_torch.spike(torch.tensor([-0.5, 0.2]), spikax_torch.surrogate.Triangle())
```
"""

from ._spike import AbstractSurrogate as AbstractSurrogate
from ._spike import Custom as Custom
from ._spike import SpikeFunction as SpikeFunction
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

ALL_SURROGATES: tuple[AbstractSurrogate, ...] = (
    FastSigmoid(),
    Sigmoid(),
    ATan(),
    Triangle(),
    Rectangle(),
    Gaussian(),
    MultiGaussian(),
    Exponential(),
    Erfc(),
    PiecewiseQuadratic(),
    PiecewiseExp(),
    SoftSign(),
    Tanh(),
    Circ(),
    QPseudo(),
    LogTailed(),
    StraightThrough(),
    SpikeRateEscape(),
)
"""One default instance of every named surrogate, in the same order as `spikax.surrogate.ALL_SURROGATES`."""
