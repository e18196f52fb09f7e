"""Networks: `Chain` (sequential) and `Graph` (arbitrary wiring); the torch twin of [`spikax.network`][]."""

from ._chain import Chain as Chain
from ._graph import Graph as Graph
from ._graph import GraphState as GraphState
from ._stateful import Stateful as Stateful
