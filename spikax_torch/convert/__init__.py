"""Copy models and states between spikax (JAX) and spikax_torch, in both directions.

**Example:**

```python
import jax, spikax
jax_net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(learnable="beta"), key=jax.random.key(0))])
twin = spikax_torch.convert.from_spikax(jax_net)      # same weights, options and learnable sets
back = spikax_torch.convert.to_spikax(twin)           # equal to jax_net leaf for leaf
```
"""

from ._convert import from_spikax as from_spikax
from ._convert import state_from_spikax as state_from_spikax
from ._convert import state_to_spikax as state_to_spikax
from ._convert import to_spikax as to_spikax
