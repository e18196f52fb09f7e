"""Online learning: gradient estimators that run forward in time, as pure `(init, step)` objects.

See `ONLINE_LEARNING.md` for the algorithms and [`spikax.online.AbstractEstimator`][] for the
contract every learner follows.
"""

from ._api import AbstractEstimator as AbstractEstimator
from ._api import Probes as Probes
from ._api import bptt as bptt
from ._api import rtrl_oracle as rtrl_oracle
from ._api import run as run
from ._api import train as train
from ._rtrl import RTRL as RTRL
from ._rtrl import RTRLState as RTRLState
from ._rtrl import rtrl as rtrl
from ._rtrl import snap as snap
