"""Online (forward-mode) learning with `torch.func`: the torch twin of the exact and forward-gradient
learners of [`spikax.online`][], for the JAX-vs-PyTorch forward-mode comparison."""

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
