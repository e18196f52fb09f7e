"""Rules on convolutional connections, and on a layer's own connection through its step."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ._rule import PlasticityRule


def _tuple(owner: str, name: str, value, n: int) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"`{owner}`: `{name}` has {len(value)} entries for a {n}-d convolution; give one int or {n}.")
    return value


def _padding(owner: str, padding, n: int) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, numbers.Integral):
        return ((int(padding), int(padding)),) * n
    padding = tuple(padding)
    if len(padding) != n:
        raise ValueError(f"`{owner}`: `padding` has {len(padding)} entries for a {n}-d convolution; give one int, "
                         f"{n} ints or {n} (low, high) pairs.")
    return tuple((int(p), int(p)) if isinstance(p, numbers.Integral) else (int(p[0]), int(p[1])) for p in padding)


class _Geometry:
    """Stride, padding and dilation of one convolution, resolved for a kernel."""

    def __init__(self, owner, kernel, stride, padding, dilation):
        if jnp.ndim(kernel) < 3:
            raise ValueError(
                f"`{owner}`: expected a convolution kernel shaped [out_channels, in_channels, *kernel_size] (an "
                f"`eqx.nn.Conv` weight), got shape {jnp.shape(kernel)}. For a dense weight use the rule directly."
            )
        n = jnp.ndim(kernel) - 2
        self.owner = owner
        self.kernel_size = tuple(jnp.shape(kernel)[2:])
        self.stride = _tuple(owner, "stride", stride, n)
        self.dilation = _tuple(owner, "dilation", dilation, n)
        self.padding = _padding(owner, padding, n)
        self.padded = any(p != (0, 0) for p in self.padding)

    def patches(self, x):
        """[positions, in_channels * prod(kernel_size)] (channel-major, as the kernel flattens)."""
        p = lax.conv_general_dilated_patches(x[None], self.kernel_size, self.stride, self.padding,
                                             rhs_dilation=self.dilation)[0]
        return p.reshape(p.shape[0], -1).T

    def check_input(self, kernel, x_shape):
        if len(x_shape) != jnp.ndim(kernel) - 1 or x_shape[0] != jnp.shape(kernel)[1]:
            raise ValueError(
                f"`{self.owner}`: the input has shape {tuple(x_shape)} but the kernel {jnp.shape(kernel)} expects "
                f"[{jnp.shape(kernel)[1]}, *spatial] ({jnp.ndim(kernel) - 2} spatial axes) for one sample. Use "
                "`jax.vmap` for a batch."
            )

    def output_spatial(self, kernel, x_shape):
        self.check_input(kernel, x_shape)
        dummy = jax.ShapeDtypeStruct(tuple(x_shape), jnp.result_type(kernel))
        p = jax.eval_shape(lambda x: lax.conv_general_dilated_patches(
            x[None], self.kernel_size, self.stride, self.padding, rhs_dilation=self.dilation), dummy)
        return tuple(p.shape[2:])


def conv(rule: PlasticityRule, *, stride: int | Sequence[int] = 1, padding=0,
         dilation: int | Sequence[int] = 1) -> PlasticityRule:
    r"""Turn a dense rule into one for a convolution's shared kernel (any number of spatial axes).

    The input is cut into patches with `lax.conv_general_dilated_patches` (the receptive field of
    each output position, channel-major as the kernel flattens), so the convolution is a dense
    map $W \in \mathbb{R}^{C_{out}\times C_{in}k}$ applied at every position $p$. The dense rule
    runs once per position with its own traces (the state gets a leading positions axis), and
    the shared kernel receives the sum:

    $$\Delta W = \sum_p \Delta W^{dense}(x_p, y_p, W \odot m_p)\odot m_p$$

    where $m_p$ masks the patch entries that fall into zero padding (they are not synapses).
    This equals the dense update of the unfolded (Toeplitz) layer summed over each set of tied
    weights, for any stride, padding and dilation, including weight-dependent rules.

    **Arguments:**

    - `rule`: a dense [`spikax.plasticity.PlasticityRule`][].
    - `stride`, `padding`, `dilation`: as the convolution's (ints, one per spatial axis, or for
      `padding` (low, high) pairs as `eqx.nn.Conv` stores them). `groups` must be 1.

    **Returns:** a rule with `init(kernel, input_shape)` (`input_shape` = `[C_in, *spatial]` of one
    sample, required) and `update(x, y, state, kernel, reward=None)` with `x` the input sample
    `[C_in, *spatial]`, `y` the output `[C_out, *spatial_out]`, `dw` shaped like the kernel.

    **Example:**

    ```python
    rule = spikax.plasticity.conv(spikax.plasticity.hebbian(lr=0.1), stride=2, padding=1)
    kernel = jnp.zeros((4, 1, 3, 3))
    state = rule.init(kernel, (1, 8, 8))
    dw, state = rule.update(jnp.ones((1, 8, 8)), jnp.ones((4, 4, 4)), state, kernel)
    ```
    """
    owner = "spikax.plasticity.conv"
    if not isinstance(rule, PlasticityRule):
        raise TypeError(f"`{owner}`: `rule` must be a dense `spikax.plasticity.PlasticityRule` (e.g. "
                        f"`spikax.plasticity.stdp()`), got {type(rule).__name__}.")

    def init_fn(kernel, input_shape=None):
        geometry = _Geometry(owner, kernel, stride, padding, dilation)
        if input_shape is None:
            raise TypeError(f"`{owner}`: `init(kernel, input_shape)` needs the shape of one input sample "
                            "[C_in, *spatial]: convolutional rules keep their traces per patch position.")
        positions = 1
        for size in geometry.output_spatial(kernel, tuple(input_shape)):
            positions *= size
        flat = jnp.reshape(kernel, (jnp.shape(kernel)[0], -1))
        one = rule.init(flat)
        return jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (positions,) + jnp.shape(a)), one)

    def update_fn(x, y, state, kernel, reward=None):
        geometry = _Geometry(owner, kernel, stride, padding, dilation)
        out_spatial = geometry.output_spatial(kernel, jnp.shape(x))
        want = (jnp.shape(kernel)[0],) + out_spatial
        if jnp.shape(y) != want:
            raise ValueError(f"`{owner}`: the output has shape {jnp.shape(y)} but this kernel, stride, padding and "
                             f"dilation give {want} for an input of shape {jnp.shape(x)}. Pass the convolution's "
                             "own stride/padding/dilation (or use `spikax.plasticity.step` on the layer).")
        flat = jnp.reshape(kernel, (want[0], -1))
        pre = geometry.patches(x)
        post = jnp.reshape(y, (want[0], -1)).T
        if geometry.padded:
            mask = geometry.patches(jnp.ones(jnp.shape(x), jnp.result_type(x)))
        else:
            mask = None

        def one(pre_p, post_p, state_p, mask_p):
            weights = flat if mask_p is None else flat * mask_p
            dw, new = rule.update(pre_p, post_p, state_p, weights, reward)
            return (dw if mask_p is None else dw * mask_p), new

        dws, state = jax.vmap(one, in_axes=(0, 0, 0, None if mask is None else 0))(pre, post, state, mask)
        return jnp.reshape(jnp.sum(dws, axis=0), jnp.shape(kernel)), state

    return PlasticityRule(init_fn, update_fn)


def for_connection(rule: PlasticityRule, connection) -> PlasticityRule:
    """The rule for a layer's connection: as is for `eqx.nn.Linear`, wrapped by
    [`spikax.plasticity.conv`][] with the convolution's own geometry for `eqx.nn.Conv1d/2d/3d`.

    Other connections raise a `TypeError` (plasticity needs to know which weight each input
    reaches). Used by [`spikax.plasticity.step`][].

    **Example:**

    ```python
    conv2d = eqx.nn.Conv2d(1, 4, 3, stride=2, padding=1, key=key)
    rule = spikax.plasticity.for_connection(spikax.plasticity.hebbian(), conv2d)
    ```
    """
    owner = "spikax.plasticity.for_connection"
    if type(connection) is eqx.nn.Linear and jnp.ndim(connection.weight) == 2:
        return rule
    if isinstance(connection, eqx.nn.Conv):
        if connection.groups != 1 or connection.padding_mode != "ZEROS":
            raise TypeError(
                f"`{owner}`: only ungrouped, zero-padded convolutions are supported, got groups={connection.groups}, "
                f"padding_mode={connection.padding_mode!r}. Use groups=1 and padding_mode='ZEROS'."
            )
        return conv(rule, stride=connection.stride, padding=connection.padding, dilation=connection.dilation)
    raise TypeError(
        f"`{owner}`: plasticity does not support a {type(connection).__name__} connection. Supported: "
        "`eqx.nn.Linear` (with in/out features as ints) and `eqx.nn.Conv1d/2d/3d` (groups=1, zero padding). "
        "For another connection, call the rule yourself on its weights with matching pre/post arrays."
    )
