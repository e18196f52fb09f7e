"""Plasticity: local learning rules as pure `(init, update)` pairs that carry their own traces.

Pair and triplet STDP, reward-modulated (three-factor) STDP, Hebbian, Oja and BCM rules;
Tsodyks-Markram short-term plasticity as a synapse state; competition and homeostasis (k-WTA,
lateral inhibition, adaptive thresholds, weight normalisation, synaptic scaling). Every weight
rule is written for a dense connection and runs on convolutions through
[`spikax.plasticity.conv`][] (traces per patch position, the shared kernel's update summed over
positions). Rules read the signals a layer's step reports ([`spikax.plasticity.step`][]), run
inside `lax.scan`, `jit` and `vmap`, and reach optax through [`spikax.plasticity.surrogate_loss`][]
or [`spikax.plasticity.learner`][] (with [`spikax.online.train`][]).
"""

from ._conv import conv as conv
from ._conv import for_connection as for_connection
from ._hebbian import BCMState as BCMState
from ._hebbian import EmptyState as EmptyState
from ._hebbian import bcm as bcm
from ._hebbian import hebbian as hebbian
from ._hebbian import oja as oja
from ._homeostasis import AdaptiveThresholdState as AdaptiveThresholdState
from ._homeostasis import Homeostasis as Homeostasis
from ._homeostasis import SynapticScalingState as SynapticScalingState
from ._homeostasis import adaptive_threshold as adaptive_threshold
from ._homeostasis import kwta as kwta
from ._homeostasis import lateral_inhibition as lateral_inhibition
from ._homeostasis import normalize_weights as normalize_weights
from ._homeostasis import synaptic_scaling as synaptic_scaling
from ._layer import PlasticityLearner as PlasticityLearner
from ._layer import apply as apply
from ._layer import init as init
from ._layer import learner as learner
from ._layer import step as step
from ._rule import PlasticityRule as PlasticityRule
from ._rule import chain as chain
from ._short_term import ShortTermPlasticity as ShortTermPlasticity
from ._short_term import TsodyksMarkramState as TsodyksMarkramState
from ._short_term import tsodyks_markram as tsodyks_markram
from ._stdp import RewardModulatedState as RewardModulatedState
from ._stdp import STDPState as STDPState
from ._stdp import TripletState as TripletState
from ._stdp import reward_modulated as reward_modulated
from ._stdp import stdp as stdp
from ._stdp import triplet_stdp as triplet_stdp
from ._stdp import triplet_visual_cortex as triplet_visual_cortex
from ._surrogate_loss import hebbian_loss as hebbian_loss
from ._surrogate_loss import surrogate_loss as surrogate_loss
