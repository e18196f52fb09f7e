"""EventProp: event-driven simulation of LIF networks with exact spike times and exact gradients.

[`spikax.eventprop.simulate`][] runs a [`spikax.Chain`][] of dense or recurrent LIF/CubaLIF
layers event by event in continuous time (Wunderlich & Pehle 2021, *Sci. Rep.* 11:12829); its
gradient is the EventProp adjoint, whose memory grows with the number of spikes, not with the
simulated time. Reverse mode only (it is a `jax.custom_vjp`).
"""

from ._losses import first_spike_cross_entropy as first_spike_cross_entropy
from ._losses import first_spike_predict as first_spike_predict
from ._losses import max_voltage_cross_entropy as max_voltage_cross_entropy
from ._simulate import EventResult as EventResult
from ._simulate import Spikes as Spikes
from ._simulate import first_spike_times as first_spike_times
from ._simulate import simulate as simulate
from ._simulate import spike_counts as spike_counts
