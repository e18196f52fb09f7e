"""Neuromorphic hardware targets: [`spikax.hw.loihi`][] (Intel Loihi 2)."""

from . import loihi as loihi
