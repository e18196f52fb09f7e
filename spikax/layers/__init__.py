"""Layers: any connection (from `equinox.nn`) with any neuron, feed-forward or recurrent.

Also: synaptic/axonal delays (`Delay`, `DelayedLinear`; fixed or learnable), time-consistent
`Dropout`, `Flatten`, spike `Pool`ing and batch normalisation through time (`BNTT`). Every
layer is a pure step `(state, x) -> (state, y)` on one sample with `init_state(input_shape)`;
`layer.step(state, x)` is the same step that also returns its
[`LayerSignals`][spikax.layers.LayerSignals] (input, recurrent input, neuron current, output) for
learning rules, and `sequence` runs a whole sequence (time on axis 0) at once where it can.
"""

from ._base import AbstractLayer as AbstractLayer
from ._base import LayerSignals as LayerSignals
from ._layers import Layer as Layer
from ._layers import Recurrent as Recurrent
from ._layers import RecurrentState as RecurrentState
from ._layers import Stateless as Stateless
from ._layers import as_layer as as_layer
from ._layers import dense as dense
from ._layers import recurrent_dense as recurrent_dense
from ._delay import Delay as Delay
from ._delay import DelayedLinear as DelayedLinear
from ._delay import DelayState as DelayState
from ._delay import delay_kernel as delay_kernel
from ._layers import AbstractStateless as AbstractStateless
from ._misc import Dropout as Dropout
from ._misc import DropoutState as DropoutState
from ._misc import Flatten as Flatten
from ._misc import Pool as Pool
from ._norm import BNTT as BNTT
from ._norm import BNTTState as BNTTState
