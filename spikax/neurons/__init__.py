"""Spiking neuron models: pure, elementwise `(state, x) -> (state, spikes)` steps.

Each neuron integrates its input in its own way; how it then fires, resets and rests is the
part every spiking neuron shares, [`SpikeOptions`][spikax.neurons.SpikeOptions] (its field `spiking`).

`ALL_NEURONS` holds one default instance of every neuron, for generic tests and examples;
each class's `input_scale` is an input amplitude that makes its default instance respond.
"""

from ._adex import AdEx as AdEx
from ._adex import AdExState as AdExState
from ._alif import ALIF as ALIF
from ._alif import ALIFState as ALIFState
from ._base import AbstractNeuron as AbstractNeuron
from ._base import SpikeOptions as SpikeOptions
from ._cuba import CubaLIF as CubaLIF
from ._cuba import CubaLIFState as CubaLIFState
from ._if import IF as IF
from ._if import IFState as IFState
from ._izhikevich import IZHIKEVICH_PRESETS as IZHIKEVICH_PRESETS
from ._izhikevich import Izhikevich as Izhikevich
from ._izhikevich import IzhikevichState as IzhikevichState
from ._li import LI as LI
from ._li import LIState as LIState
from ._lif import LIF as LIF
from ._lif import LIFState as LIFState
from ._resonate import ResonateAndFire as ResonateAndFire
from ._resonate import ResonateAndFireState as ResonateAndFireState
from ._sigma_delta import SigmaDelta as SigmaDelta
from ._sigma_delta import SigmaDeltaState as SigmaDeltaState

ALL_NEURONS: tuple[AbstractNeuron, ...]

_ALL_NEURONS_CLASSES = (IF, LIF, CubaLIF, ALIF, LI, Izhikevich, AdEx, ResonateAndFire, SigmaDelta)


def __getattr__(name: str):
    # Built on first use, not at import: creating arrays starts JAX's backend, after which
    # `jax.distributed.initialize` (multi-host training) can no longer be called.
    if name == "ALL_NEURONS":
        globals()[name] = value = tuple(cls() for cls in _ALL_NEURONS_CLASSES)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
