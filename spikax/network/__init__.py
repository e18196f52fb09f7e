"""Networks: `Chain` (sequential) and `Graph` (arbitrary wiring, with delayed feedback)."""

from ._chain import Chain as Chain
