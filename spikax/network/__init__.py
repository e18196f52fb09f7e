"""Networks: `Chain` (sequential) and `Graph` (arbitrary wiring, with delayed feedback)."""

from ._chain import Chain as Chain
from ._graph import Graph as Graph
from ._graph import GraphState as GraphState
from ._stateful import Stateful as Stateful
