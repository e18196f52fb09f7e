"""Plasticity in PyTorch: the rules of `spikax.plasticity` as pure `(init, update)` pairs.

Same names, arguments, defaults and state NamedTuples as spikax; tensors instead of arrays,
`torch.func.vmap` instead of `jax.vmap`. Layer-step integration (`step`, `init`, `apply`,
`learner`) is spikax only: call the rules on a connection's weight with the layer's input and
output here.
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
