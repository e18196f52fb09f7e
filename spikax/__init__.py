"""spikax: pure, fast spiking neural networks in JAX."""

from . import neurons as neurons
from . import surrogate as surrogate
from ._trainable import trainable as trainable
from .surrogate import spike as spike

__version__ = "0.1.0"
