"""Networks: `Chain` (sequential); the torch twin of [`spikax.network`][]."""

from ._chain import Chain as Chain
