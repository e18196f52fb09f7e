"""Spiking neuron models in PyTorch: `forward(state, x) -> (state, spikes)`, elementwise, any batch shape.

The torch twin of [`spikax.neurons`][]: same class names, argument names, defaults, state
NamedTuples and parameter storage. `ALL_NEURONS` holds one default instance of each, in the
same order as `spikax.neurons.ALL_NEURONS`.
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

ALL_NEURONS: tuple[AbstractNeuron, ...] = (
    IF(),
    LIF(),
    CubaLIF(),
    ALIF(),
    LI(),
    Izhikevich(),
    AdEx(),
    ResonateAndFire(),
    SigmaDelta(),
)
