"""Losses, regularisers and metrics for spiking networks (time is axis 0 of every input)."""

from ._classification import accuracy as accuracy
from ._classification import max_membrane_cross_entropy as max_membrane_cross_entropy
from ._classification import mean_membrane_cross_entropy as mean_membrane_cross_entropy
from ._classification import spike_count_cross_entropy as spike_count_cross_entropy
from ._distance import van_rossum_distance as van_rossum_distance
from ._regularisers import firing_rate_penalty as firing_rate_penalty
from ._regularisers import rate_mse as rate_mse
from ._regularisers import sparsity_penalty as sparsity_penalty
