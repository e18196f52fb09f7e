"""Surrogate derivatives for the spike function; see [`spikax.surrogate.spike`][]."""

from ._spike import AbstractSurrogate as AbstractSurrogate
from ._spike import Custom as Custom
from ._spike import custom as custom
from ._spike import spike as spike
from ._surrogates import FastSigmoid as FastSigmoid
from ._surrogates import Triangle as Triangle
