"""Rules on convolutional connections (mirrors `spikax.plasticity.conv`)."""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch.utils._pytree import tree_map

from ._rule import PlasticityRule

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _tuple(owner, name, value, n):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"`{owner}`: `{name}` has {len(value)} entries for a {n}-d convolution; give one int or {n}.")
    return value


def _padding(owner, padding, n):
    if isinstance(padding, numbers.Integral):
        return ((int(padding), int(padding)),) * n
    padding = tuple(padding)
    if len(padding) != n:
        raise ValueError(f"`{owner}`: `padding` has {len(padding)} entries for a {n}-d convolution.")
    return tuple((int(p), int(p)) if isinstance(p, numbers.Integral) else (int(p[0]), int(p[1])) for p in padding)


class _Geometry:
    def __init__(self, owner, kernel, stride, padding, dilation):
        if kernel.dim() < 3 or kernel.dim() > 5:
            raise ValueError(f"`{owner}`: expected a convolution kernel shaped [out_channels, in_channels, *kernel_size] "
                             f"with 1 to 3 spatial axes, got shape {tuple(kernel.shape)}.")
        n = kernel.dim() - 2
        self.owner, self.n = owner, n
        self.kernel_size = tuple(kernel.shape[2:])
        self.stride = _tuple(owner, "stride", stride, n)
        self.dilation = _tuple(owner, "dilation", dilation, n)
        self.padding = _padding(owner, padding, n)
        self.padded = any(p != (0, 0) for p in self.padding)

    def check_input(self, kernel, x_shape):
        if len(x_shape) != kernel.dim() - 1 or x_shape[0] != kernel.shape[1]:
            raise ValueError(f"`{self.owner}`: the input has shape {tuple(x_shape)} but the kernel {tuple(kernel.shape)} "
                             f"expects [{kernel.shape[1]}, *spatial] for one sample.")

    def patches(self, x):
        """[positions, C * prod(kernel_size)], channel-major (an identity-kernel convolution)."""
        c = x.shape[0]
        size = c * math.prod(self.kernel_size)
        eye = torch.eye(size, dtype=x.dtype, device=x.device).reshape((size, c) + self.kernel_size)
        pad = [p for pair in reversed(self.padding) for p in pair]
        out = _CONV[self.n](F.pad(x[None], pad), eye, stride=self.stride, dilation=self.dilation)[0]
        return out.reshape(size, -1).T


def conv(rule: PlasticityRule, *, stride=1, padding=0, dilation=1) -> PlasticityRule:
    r"""A dense rule on a convolution's shared kernel, as `spikax.plasticity.conv`: the rule runs per patch
    position with its own traces and $\Delta W = \sum_p \Delta W^{dense}(x_p, y_p, W\odot m_p)\odot m_p$.

    **Example:**

    ```python
    rule = spikax_torch.plasticity.conv(spikax_torch.plasticity.hebbian(lr=0.1), stride=2, padding=1)
    kernel = torch.zeros(4, 1, 3, 3)
    dw, state = rule.update(torch.ones(1, 8, 8), torch.ones(4, 4, 4), rule.init(kernel, (1, 8, 8)), kernel)
    ```
    """
    owner = "spikax_torch.plasticity.conv"
    if not isinstance(rule, PlasticityRule):
        raise TypeError(f"`{owner}`: `rule` must be a dense `spikax_torch.plasticity.PlasticityRule`, got "
                        f"{type(rule).__name__}.")

    def init_fn(kernel, input_shape=None):
        geometry = _Geometry(owner, kernel, stride, padding, dilation)
        if input_shape is None:
            raise TypeError(f"`{owner}`: `init(kernel, input_shape)` needs the shape of one input sample "
                            "[C_in, *spatial]: convolutional rules keep their traces per patch position.")
        geometry.check_input(kernel, tuple(input_shape))
        positions = geometry.patches(torch.zeros(tuple(input_shape), dtype=kernel.dtype)).shape[0]
        one = rule.init(kernel.reshape(kernel.shape[0], -1))
        return tree_map(lambda t: t.expand((positions,) + tuple(t.shape)).clone(), one)

    def update_fn(x, y, state, kernel, reward=None):
        geometry = _Geometry(owner, kernel, stride, padding, dilation)
        geometry.check_input(kernel, tuple(x.shape))
        flat = kernel.reshape(kernel.shape[0], -1)
        pre = geometry.patches(x)
        if y.shape[0] != kernel.shape[0] or y[0].numel() != pre.shape[0]:
            raise ValueError(f"`{owner}`: the output has shape {tuple(y.shape)}, which does not match this kernel, "
                             f"stride, padding and dilation for an input of shape {tuple(x.shape)} "
                             f"({kernel.shape[0]} channels, {pre.shape[0]} positions).")
        post = y.reshape(kernel.shape[0], -1).T
        mask = geometry.patches(torch.ones_like(x)) if geometry.padded else None

        def one(pre_p, post_p, state_p, mask_p):
            weights = flat if mask_p is None else flat * mask_p
            dw, new = rule.update(pre_p, post_p, state_p, weights, reward)
            return (dw if mask_p is None else dw * mask_p), new

        dws, state = torch.func.vmap(one, in_dims=(0, 0, 0, None if mask is None else 0))(pre, post, state, mask)
        return dws.sum(0).reshape(kernel.shape), state

    return PlasticityRule(init_fn, update_fn)


def for_connection(rule: PlasticityRule, connection) -> PlasticityRule:
    """The rule for a `torch.nn.Linear` (as is) or `torch.nn.Conv1d/2d/3d` (wrapped with its geometry).

    **Example:**

    ```python
    rule = spikax_torch.plasticity.for_connection(spikax_torch.plasticity.hebbian(), torch.nn.Conv2d(1, 4, 3))
    ```
    """
    owner = "spikax_torch.plasticity.for_connection"
    if type(connection) is torch.nn.Linear:
        return rule
    if isinstance(connection, torch.nn.modules.conv._ConvNd) and not connection.transposed:
        if connection.groups != 1 or connection.padding_mode != "zeros" or isinstance(connection.padding, str):
            raise TypeError(f"`{owner}`: only ungrouped, zero-padded convolutions with numeric padding are supported, "
                            f"got groups={connection.groups}, padding={connection.padding!r}, "
                            f"padding_mode={connection.padding_mode!r}.")
        return conv(rule, stride=connection.stride, padding=connection.padding, dilation=connection.dilation)
    raise TypeError(f"`{owner}`: plasticity does not support a {type(connection).__name__} connection. Supported: "
                    "`torch.nn.Linear` and `torch.nn.Conv1d/2d/3d` (groups=1, zero padding).")
