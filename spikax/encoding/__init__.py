"""Spike encodings: turn real-valued data into spike trains (time is axis 0 of every output)."""

from ._delta import delta as delta
from ._latency import latency as latency
from ._population import population as population
from ._rate import rate as rate
