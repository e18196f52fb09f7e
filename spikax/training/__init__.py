"""Training: a jitted step, the `fit` loop, evaluation, checkpoints, gradient-method registry, data parallelism."""

from ._checkpoint import checkpoint_metadata as checkpoint_metadata
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._fit import evaluate as evaluate
from ._fit import fit as fit
from ._fit import make_train_step as make_train_step
from ._fit import train_step as train_step
from ._history import History as History
from ._loss import classification_loss as classification_loss
from ._methods import get_method as get_method
from ._methods import methods as methods
from ._methods import online_method as online_method
from ._methods import register_method as register_method
from ._methods import reverse_mode as reverse_mode
from ._sharding import DataParallel as DataParallel
from ._sharding import initialize_distributed as initialize_distributed
from ._tasks import Task as Task
from ._tasks import get_task as get_task
from ._tasks import register_task as register_task
from ._tasks import tasks as tasks
