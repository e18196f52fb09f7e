"""Losses, regularisers and metrics (time is axis 0 of every input); the torch twin of [`spikax.losses`][]."""

from ._losses import accuracy as accuracy
from ._losses import firing_rate_penalty as firing_rate_penalty
from ._losses import max_membrane_cross_entropy as max_membrane_cross_entropy
from ._losses import mean_membrane_cross_entropy as mean_membrane_cross_entropy
from ._losses import rate_mse as rate_mse
from ._losses import sparsity_penalty as sparsity_penalty
from ._losses import spike_count_cross_entropy as spike_count_cross_entropy
from ._losses import van_rossum_distance as van_rossum_distance
