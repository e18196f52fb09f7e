"""Online learning: gradient estimators that run forward in time, as pure `(init, step)` objects.

See the online-learning guide (`docs/online_learning.md`) for the algorithms and
[`spikax.online.AbstractEstimator`][] for the contract every learner follows.
"""

from ._api import AbstractEstimator as AbstractEstimator
from ._api import LossFunction as LossFunction
from ._api import Probes as Probes
from ._api import bptt as bptt
from ._api import rtrl_oracle as rtrl_oracle
from ._api import run as run
from ._api import train as train
from ._rtrl import RTRL as RTRL
from ._rtrl import RTRLState as RTRLState
from ._rtrl import SnApState as SnApState
from ._rtrl import rtrl as rtrl
from ._rtrl import snap as snap
from ._eligibility import ConstantDecay as ConstantDecay
from ._eligibility import DiagonalTrace as DiagonalTrace
from ._eligibility import DiagonalTraces as DiagonalTraces
from ._eligibility import EligibilityEngine as EligibilityEngine
from ._eligibility import FeedbackSignal as FeedbackSignal
from ._eligibility import LayerTraces as LayerTraces
from ._eligibility import NextLayerLeak as NextLayerLeak
from ._eligibility import RateRegulariser as RateRegulariser
from ._eligibility import RateTrace as RateTrace
from ._eligibility import ReadoutLeak as ReadoutLeak
from ._eligibility import SeparableTraces as SeparableTraces
from ._eligibility import SpatialSignal as SpatialSignal
from ._eligibility import eprop as eprop
from ._eligibility import ostl as ostl
from ._eligibility import snap1 as snap1
from ._ottt import otpe as otpe
from ._ottt import ottt as ottt
from ._forward_gradient import ForwardGradient as ForwardGradient
from ._forward_gradient import ForwardGradientState as ForwardGradientState
from ._forward_gradient import forward_gradient as forward_gradient
from ._fptt import FPTTState as FPTTState
from ._fptt import fptt as fptt
