"""spikax_torch: the spikax API in PyTorch, with forward mode (`torch.func.jvp`) through spikes.

A smaller mirror of [`spikax`][] for JAX-vs-PyTorch comparisons: the same sub-module names,
class names, argument names, defaults and state NamedTuples. `forward(state, x) -> (state, y)`,
`init_state(shape)`; batch axes are native; states are pytrees `torch.func` understands.
`spikax_torch.convert` copies parameters between a spikax model and its twin.

**Example:**

```python
import torch, spikax_torch
net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0)])
state, ys = spikax_torch.run(net, None, torch.rand(50, 4, 3))
```
"""

from . import convert as convert
from . import encoding as encoding
from . import layers as layers
from . import loop as loop
from . import losses as losses
from . import network as network
from . import neurons as neurons
from . import online as online
from . import surrogate as surrogate
from .loop import BPTT as BPTT
from .loop import CheckpointedBPTT as CheckpointedBPTT
from .loop import TruncatedBPTT as TruncatedBPTT
from .loop import run as run
from .network import Chain as Chain
from .network import Graph as Graph
from .surrogate import spike as spike


def trainable(model) -> dict:
    """The trainable tensors of a model, `dict(model.named_parameters())`: the twin of `spikax.trainable`.

    Weights, biases and the neuron parameters named in `learnable=` (fixed ones are buffers).

    **Example:** `torch.optim.Adam(spikax_torch.trainable(net).values(), lr=1e-3)`
    """
    return dict(model.named_parameters())

__version__ = "0.1.0"
