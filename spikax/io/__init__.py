"""Interoperability: NIR (Neuromorphic Intermediate Representation) export and import.

[`spikax.io.to_nir`][] writes a trained model as a NIR graph, the exchange format read by
snnTorch, Norse, Lava (Loihi 2), SpiNNaker 2, Xylo, Speck and BrainScaleS-2;
[`spikax.io.from_nir`][] reads one back. Requires the `nir` package.

What each simulator reads (checked by the test suite): the spikax reference interpreter
(every mapping, delays and recurrent subgraphs included), spikax_torch (every graph),
snnTorch 1.0 (feed-forward `Linear`/`Affine` + `CubaLIF`/`LIF` after
`normalize_gains(graph, to="tau/dt")`; it cannot import recurrent subgraphs) and Norse 1.1
(`LIF` after `normalize_gains(graph, to="one")`, with `dt` passed to its `from_nir`). Graphs
written by snnTorch and Norse import into spikax with their spikes (Norse 1.1 writes
`tau = dt / tau_inv`; export from Norse with `dt=1` to get true time constants).

**Loihi 2 through Lava** (optional, not run by the test suite: lava-nc 0.10 installs on
Python 3.10 only). Map each `LIF`/`CubaLIF` node onto Lava's `Dense` + `LIF` with
`du = dt / tau_syn` (0 for a `LIF`), `dv = dt / tau_mem` and the input gain folded into the
`Dense` weights, run it with `Loihi2SimCfg(select_tag="floating_pt")`, and compare spikes after
shifting them back one step for every `Dense` on the path (Lava delivers a `Dense` output the
next step). With `select_tag="fixed_pt"`, compare spike counts within a tolerance;
[`spikax.hw.loihi`][] emulates that fixed-point model bit for bit without Lava.
"""

from ._nir import DEFAULT_DT as DEFAULT_DT
from ._nir import from_nir as from_nir
from ._nir import load_nir as load_nir
from ._nir import normalize_gains as normalize_gains
from ._nir import save_nir as save_nir
from ._nir import to_nir as to_nir
