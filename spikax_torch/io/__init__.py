"""NIR export and import for spikax_torch models (the twin of `spikax.io`).

The NIR mapping lives once, in `spikax.io`; these functions copy the model across with
[`spikax_torch.convert`][] (exact: same parameters and options) and call it. They need JAX
and spikax installed, and the `nir` package.
"""

from ._nir import from_nir as from_nir
from ._nir import load_nir as load_nir
from ._nir import normalize_gains as normalize_gains
from ._nir import save_nir as save_nir
from ._nir import to_nir as to_nir
