"""Loihi 2: a bit-accurate emulator of its CUBA LIF neuron with Dense inputs, and a quantiser.

`spikax.hw.loihi.run` reproduces Lava's fixed-point (`PyLifModelBitAcc`) neuron and Dense
bit for bit; `spikax.hw.loihi.quantize` maps a trained float spikax model onto it and
reports the accuracy before and after.
"""

from ._emulator import LoihiLayer as LoihiLayer
from ._emulator import LoihiTrace as LoihiTrace
from ._emulator import quantize_weights as quantize_weights
from ._emulator import run as run
from ._quantize import QuantizeReport as QuantizeReport
from ._quantize import quantize as quantize
