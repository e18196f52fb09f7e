"""Data sets, synthetic spiking tasks, and host-side batching (NumPy in, NumPy or device arrays out)."""

from ._batches import batches as batches
from ._events import EVENT_DTYPE as EVENT_DTYPE
from ._events import NMNIST_SENSOR_SIZE as NMNIST_SENSOR_SIZE
from ._events import SHD as SHD
from ._events import bin_spikes as bin_spikes
from ._events import events_to_frames as events_to_frames
from ._events import load_shd as load_shd
from ._events import read_nmnist as read_nmnist
from ._files import cache_dir as cache_dir
from ._files import data_dir as data_dir
from ._files import md5sum as md5sum
from ._mnist import load_mnist as load_mnist
from ._mnist import read_idx as read_idx
from ._small import Braille as Braille
from ._small import load_braille as load_braille
from ._small import load_digits as load_digits
from ._subsets import split as split
from ._subsets import take as take
from ._synthetic import cue_accumulation as cue_accumulation
from ._synthetic import delayed_xor as delayed_xor
from ._synthetic import randman as randman
from ._synthetic import store_recall as store_recall
from ._yinyang import yin_yang as yin_yang
