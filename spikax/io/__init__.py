"""Interoperability: NIR (Neuromorphic Intermediate Representation) export and import.

[`spikax.io.to_nir`][] writes a trained model as a NIR graph, the exchange format read by
snnTorch, Norse, Lava (Loihi 2), SpiNNaker 2, Xylo, Speck and BrainScaleS-2;
[`spikax.io.from_nir`][] reads one back. Requires the `nir` package.
"""

from ._nir import DEFAULT_DT as DEFAULT_DT
from ._nir import from_nir as from_nir
from ._nir import load_nir as load_nir
from ._nir import normalize_gains as normalize_gains
from ._nir import save_nir as save_nir
from ._nir import to_nir as to_nir
