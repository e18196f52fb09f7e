"""Spike encodings (time is axis 0 of every output); the torch twin of [`spikax.encoding`][]."""

from ._encoders import delta as delta
from ._encoders import latency as latency
from ._encoders import population as population
from ._encoders import rate as rate
