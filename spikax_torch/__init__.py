"""spikax_torch: the spikax API in PyTorch, with forward mode (`torch.func.jvp`) through spikes.

A smaller mirror of [`spikax`][] for JAX-vs-PyTorch comparisons: the same sub-module names,
class names, argument names, defaults and state NamedTuples. `forward(state, x) -> (state, y)`,
`init_state(shape)`; batch axes are native; states are pytrees `torch.func` understands.
`spikax_torch.convert` copies parameters between a spikax model and its twin.

**Where spikax_torch differs from spikax, and why** (everything else is tested equal in
`tests/torch/`: same spikes, states and gradients from the same weights, both directions):

- *Batch axes are native.* `init_state(shape)` takes the step input's shape *with* its batch
  axes and `run` needs no `batch_axis` (accepted for compatibility). So `Flatten()` keeps axis 0
  (the batch), `BNTT` takes `(batch, channels, ...)`, a delay buffer is `[slots, batch, ...]`
  (a vmapped spikax one is `[batch, slots, ...]`), and BNTT's running statistics exist once
  per batch (spikax holds one identical copy per example).
- *Default dtype.* torch's default float is float32; spikax's is JAX's (float64 with x64 on).
  Pass `dtype=` to both for parity.
- *Random numbers.* `key=` is a `torch.Generator` or an int seed; torch and JAX streams differ,
  so random encoders, dropout masks, default weight draws (same law, U(±1/√fan_in)) and random
  forward-gradient tangents agree in distribution only. Copy a model with `convert` for exact
  parity. With a native batch, `online.forward_gradient` shares its tangents across the batch
  (spikax draws one set per example): both are unbiased.
- *`None` in states.* `torch.utils._pytree` treats `None` (e.g. `LIFState.refractory` without a
  refractory period) as a leaf, and `torch.func.jvp`/`grad`/`vmap` reject non-tensor primals and
  aux outputs: pass such states through `spikax_torch._pytree.split_tensors`.
- *Float32 rounding.* XLA and torch round differently in the last bit (exp, fused ops,
  summation order). One step from the same state agrees to 1e-6 (spikes identical away from
  threshold); over a free run the differences grow where surrogate slopes amplify them, to
  ~1e-4 relative in gradients after 10–20 steps. Float64 agrees to 1e-12 (values) / 1e-10
  (gradients).
- *A torch.func quirk.* `torch.func.jvp` gives a float64 tangent for `0-dim float32 tensor ±×/
  Python float`; the losses avoid it, and a user's scalar loss should scale before reducing.
- *Fixed parameters are buffers*, not `parameters()` (spikax reads them through
  `stop_gradient`); `trainable(model)` is `dict(model.named_parameters())`.
- *Online learners.* torch has no `linearize`: `online.forward_gradient` re-runs the step's
  primal inside each vmapped `jvp`, and the trace learners (e-prop, OSTL, SnAp-1, OTTT, OTPE)
  one `jvp` per trace. `online.train` takes a torch optimiser (or `online.fptt` around one)
  over the model's tensors instead of an optax one, and updates them in place.
- *Custom surrogates* (`surrogate.custom(fn)`) hold a framework-specific function and are not
  converted. `run(..., unroll=)` is ignored; `compile=` is torch only. `network.Stateful` keeps
  its state as a module attribute (spikax: an `equinox.nn.State`). Datasets, plotting and
  training are spikax only (NumPy data feeds both); NIR I/O (`spikax_torch.io`) runs
  `spikax.io` on the model's exact JAX twin.

**Example:**

```python
import torch, spikax_torch
net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0)])
state, ys = spikax_torch.run(net, None, torch.rand(50, 4, 3))
```
"""

from . import convert as convert
from . import encoding as encoding
from . import io as io  # NIR through spikax.io (needs JAX and nir, imported when used)
from . import layers as layers
from . import loop as loop
from . import losses as losses
from . import network as network
from . import neurons as neurons
from . import online as online
from . import plasticity as plasticity
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

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0)])
    opt = torch.optim.Adam(spikax_torch.trainable(net).values(), lr=1e-3)
    ```
    """
    return dict(model.named_parameters())

__version__ = "0.1.0"
