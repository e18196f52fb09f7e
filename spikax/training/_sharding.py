"""Data parallelism with JAX's own sharding: the batch split over devices (and hosts), the model replicated."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


class DataParallel:
    """Data-parallel placement on a one-axis device mesh named `"batch"`.

    Mini-batches are split along their first axis over the devices (`PartitionSpec("batch")`),
    and the model and optimiser state are replicated (`PartitionSpec()`). A jitted step given
    such arrays is partitioned by XLA: each device runs its slice of the batch, and the mean
    over the batch inside the loss becomes an all-reduce of the gradients, so the update is the
    same as on one device (up to floating-point summation order). With several hosts
    (after [`spikax.training.initialize_distributed`][]) the mesh spans every process's devices
    and each process feeds its own slice of the global batch.

    **Arguments:**

    - `devices`: the devices to use (default: `jax.devices()`, every device of every process).

    **Example:**

    ```python
    model = spikax.Chain([spikax.layers.dense(4, 8, spikax.neurons.LIF(), key=key)])
    x_batch, y_batch = np.zeros((8, 10, 4), np.float32), np.zeros(8, np.int32)
    dp = spikax.training.DataParallel()      # all devices
    model = dp.replicate(model)
    xb, yb = dp.shard((x_batch, y_batch))    # batch split over devices
    ```
    """

    def __init__(self, devices: Sequence | None = None):
        devices = list(jax.devices() if devices is None else devices)
        if not devices:
            raise ValueError("`spikax.training.DataParallel`: `devices` is empty; pass at least one device "
                             "(e.g. `jax.devices()[:1]`).")
        self.devices = devices
        self.mesh = Mesh(np.asarray(devices, dtype=object), ("batch",))
        self.batch_sharding = NamedSharding(self.mesh, PartitionSpec("batch"))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())

    def __eq__(self, other) -> bool:  # equal placements share compiled steps
        return isinstance(other, DataParallel) and other.devices == self.devices

    def __hash__(self) -> int:
        return hash(tuple(self.devices))

    @property
    def size(self) -> int:
        """The number of devices the batch is split over."""
        return len(self.devices)

    def check_batch_size(self, owner: str, batch_size: int) -> None:
        """Raise a clear error unless the global batch splits evenly over the devices."""
        if batch_size % self.size:
            lower = max(self.size, batch_size - batch_size % self.size)
            raise ValueError(f"`{owner}`: the batch size {batch_size} does not split evenly over {self.size} "
                             f"devices. Use a multiple of {self.size}, e.g. {lower} or {lower + self.size}.")

    def shard(self, tree):
        """Place a batch (a pytree of arrays with the batch on axis 0) split over the devices.

        In a multi-process run each process passes its local part (global batch / processes).
        """
        if jax.process_count() > 1:
            return jax.tree_util.tree_map(
                lambda a: jax.make_array_from_process_local_data(self.batch_sharding, np.asarray(a)), tree)
        return jax.device_put(tree, self.batch_sharding)

    def replicate(self, tree):
        """Place every array leaf of `tree` (a model, an optimiser state, a key) on all devices."""
        arrays, rest = eqx.partition(tree, eqx.is_array)
        return eqx.combine(jax.device_put(arrays, self.replicated), rest)

    def constrain(self, tree):
        """Inside `jit`: keep every array leaf of `tree` replicated (used for the updated model)."""
        arrays, rest = eqx.partition(tree, eqx.is_array)
        arrays = jax.tree_util.tree_map(lambda a: jax.lax.with_sharding_constraint(a, self.replicated), arrays)
        return eqx.combine(arrays, rest)

    def __repr__(self) -> str:
        return f"DataParallel({self.size} devices: {', '.join(str(d) for d in self.devices[:4])}" + \
            (", ...)" if self.size > 4 else ")")


def initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, **kwargs) -> tuple[int, int]:
    """Join a multi-host run: a thin wrapper around `jax.distributed.initialize`.

    Call it once per process, before any other JAX computation (importing spikax computes
    nothing, so after the imports is fine). On managed clusters (SLURM, Cloud TPU,
    Kubernetes with the right environment) every argument can be left out and JAX detects them.
    Afterwards `jax.devices()` lists the devices of all processes, and
    [`spikax.training.fit`][] shards each global batch over all of them; every process runs the
    same script and reads its own share of the data.

    **Arguments:**

    - `coordinator_address`: `"host:port"` of process 0.
    - `num_processes`: how many processes take part.
    - `process_id`: this process's index, `0 .. num_processes - 1`.
    - `kwargs`: passed on to `jax.distributed.initialize` (e.g. `local_device_ids`).

    **Returns:**

    `(process_index, process_count)`.

    **Example:**

    ```python
    import os
    if os.environ.get("SPIKAX_RANK") is not None:  # set on each of 2 hosts (0 and 1)
        spikax.training.initialize_distributed("10.0.0.1:1234", num_processes=2,
                                               process_id=int(os.environ["SPIKAX_RANK"]))
    # then, on every host, the same script: spikax.training.fit(...) splits each batch over all of them
    ```
    """
    if num_processes is not None and (not isinstance(num_processes, int) or num_processes < 1):
        raise ValueError(f"`spikax.training.initialize_distributed`: `num_processes` must be a positive int, "
                         f"got {num_processes!r}.")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"`spikax.training.initialize_distributed`: `process_id` must lie in 0..{num_processes - 1}, "
                         f"got {process_id!r}.")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kwargs)
    return jax.process_index(), jax.process_count()
