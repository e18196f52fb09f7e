"""Spiking neuron models: pure, elementwise `(state, x) -> (state, spikes)` steps."""

from ._base import AbstractNeuron as AbstractNeuron
from ._lif import LIF as LIF
from ._lif import LIFState as LIFState
