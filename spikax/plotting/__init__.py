"""Plots of spikes, membranes and training (needs matplotlib: `pip install "spikax[plot]"`).

matplotlib is imported inside each function, so `import spikax` works without it.
"""

from ._plots import raster as raster
from ._plots import rate_histogram as rate_histogram
from ._plots import traces as traces
from ._plots import training_curves as training_curves
