"""Online learning in PyTorch: the torch twins of the learners of [`spikax.online`][].

Exact and forward-mode learners by `torch.func` (RTRL, forward gradients), the eligibility-trace
learners (e-prop, OSTL, SnAp-1, OTTT, OTPE), FPTT, and the drivers `run`/`train`, with the
same names and arguments as spikax and the same gradients on a converted model.
"""

from ._online import AbstractEstimator as AbstractEstimator
from ._online import ForwardGradient as ForwardGradient
from ._online import ForwardGradientState as ForwardGradientState
from ._online import RTRL as RTRL
from ._online import RTRLState as RTRLState
from ._online import bptt as bptt
from ._online import forward_gradient as forward_gradient
from ._online import rtrl as rtrl
from ._online import rtrl_oracle as rtrl_oracle
from ._online import run as run
from ._online import train as train
from ._traces import EligibilityEngine as EligibilityEngine
from ._traces import LayerTraces as LayerTraces
from ._traces import eprop as eprop
from ._traces import ostl as ostl
from ._traces import otpe as otpe
from ._traces import ottt as ottt
from ._traces import snap1 as snap1
from ._fptt import FPTT as FPTT
from ._fptt import FPTTState as FPTTState
from ._fptt import fptt as fptt
