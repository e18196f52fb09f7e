"""The time loop and gradient methods."""

from ._methods import BPTT as BPTT
from ._methods import AbstractGradientMethod as AbstractGradientMethod
from ._methods import CheckpointedBPTT as CheckpointedBPTT
from ._methods import TruncatedBPTT as TruncatedBPTT
from ._parallel import Parallel as Parallel
from ._run import run as run
from ._run import check_time_axis as check_time_axis
