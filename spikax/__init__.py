"""spikax: pure, fast spiking neural networks in JAX."""

from . import datasets as datasets
from . import encoding as encoding
from . import hw as hw
from . import io as io  # NIR export and import; the `nir` package is imported only when used
from . import eventprop as eventprop
from . import layers as layers
from . import loop as loop
from . import losses as losses
from . import network as network
from . import online as online
from . import plasticity as plasticity
from . import neurons as neurons
from . import plotting as plotting  # matplotlib itself is imported only inside the plot functions
from . import surrogate as surrogate
from . import training as training
from ._trainable import trainable as trainable
from .loop import BPTT as BPTT
from .loop import CheckpointedBPTT as CheckpointedBPTT
from .loop import Parallel as Parallel
from .loop import TruncatedBPTT as TruncatedBPTT
from .loop import run as run
from .network import Chain as Chain
from .network import Graph as Graph
from .surrogate import spike as spike

__version__ = "0.1.0"
