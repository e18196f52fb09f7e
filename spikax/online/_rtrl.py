r"""Exact real-time recurrent learning in O(n_s·P) memory, and SnAp masks."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..surrogate import AbstractSurrogate, StraightThrough
from .._trainable import trainable
from ._api import AbstractEstimator, _bind, _forward, _layers_of, check_float_state, flat_step

#: Default cap on the influence matrix of one example (1 GiB); see `rtrl(max_bytes=)`.
DEFAULT_MAX_BYTES = 2**30


class RTRLState(NamedTuple):
    r"""State of [`spikax.online.rtrl`][] (one example).

    - `influence`: $J_t = \partial s_t/\partial\theta$, shape `[n_s, P]`, rows in the order of
      `jax.flatten_util.ravel_pytree(state)` and columns in that of `ravel_pytree(params)`.
    - `mask`: the boolean SnAp mask of the same shape, or None for exact RTRL.
    """

    influence: jax.Array
    mask: jax.Array | None = None


class SnApState(NamedTuple):
    r"""State of [`spikax.online.snap`][] (one example): only the kept entries of $J_t$.

    Each parameter $p$ (a column of $J$, in `ravel_pytree(params)` order) keeps the state rows
    its pattern reaches. Columns that keep at most $k$ rows (*narrow*: weights reach a few
    rows of their own neuron) store those rows' values, `[P_narrow, k]`; the few that reach
    many rows (*wide*: e.g. a leak shared by a whole layer) are stored as dense columns,
    `[n_s, P_wide]`. $k$ is chosen when the learner is built, to minimise the step's work
    $P_\text{narrow}k^2 + P_\text{wide}n_s^2$ with $k^2 \le 2n_s$ (a narrow column's step gathers
    a $k\times k$ block of $D_t$, about what a dense column takes). Memory $O(kP_\text{narrow} + n_sP_\text{wide})$
    instead of $n_s P$.

    - `values`, `rows`, `valid`: `[P_narrow, k]` kept values, their state rows (int32), and
      which entries are real (rows are padded to $k$); `columns`: `[P_narrow]` parameter indices.
    - `wide_values`, `wide_mask`: `[n_s, P_wide]` dense columns and their pattern;
      `wide_columns`: `[P_wide]` parameter indices.
    - `state_rows`: `[n_s]`, the state rows 0..n_s-1 (it carries $n_s$ for the dense views).

    `mask` and `influence` give the dense `[n_s, P]` views (for inspection and tests).
    """

    values: jax.Array
    rows: jax.Array
    valid: jax.Array
    columns: jax.Array
    wide_values: jax.Array
    wide_mask: jax.Array
    wide_columns: jax.Array
    state_rows: jax.Array

    def _dense(self, narrow, wide, dtype):
        n_p = self.columns.shape[0] + self.wide_columns.shape[0]
        dense = jnp.zeros((self.state_rows.shape[0], n_p), dtype)
        where = dense.at[self.rows, self.columns[:, None]]
        kept = jnp.where(self.valid, narrow, jnp.zeros((), dtype))  # padded entries repeat a row: add zeros there
        dense = where.max(kept) if dtype == bool else where.add(kept)
        return dense.at[:, self.wide_columns].set(wide)

    @property
    def mask(self) -> jax.Array:
        """The dense boolean `[n_s, P]` pattern of the kept entries."""
        return self._dense(self.valid, self.wide_mask, bool)

    @property
    def influence(self) -> jax.Array:
        """The dense `[n_s, P]` influence matrix (zeros outside the pattern)."""
        return self._dense(self.values, self.wide_values, self.values.dtype)


def _snap_layout(pattern: np.ndarray) -> SnApState:
    """Zero SnAp state for a boolean `[n_s, P]` pattern: narrow columns padded to k rows, wide ones dense."""
    n_s, n_p = pattern.shape
    counts = pattern.sum(axis=0)
    # a narrow column's step gathers a k x k block of D_t: keep k^2 <= 2 n_s, about what a dense column takes
    widths = [k for k in np.unique(np.concatenate([counts, [0]])) if k * k <= 2 * n_s]
    work = [np.sum(counts <= k) * k * k + np.sum(counts > k) * n_s * n_s for k in widths]
    k = max(int(widths[int(np.argmin(work))]), 1)
    narrow, wide = np.nonzero(counts <= k)[0], np.nonzero(counts > k)[0]
    order = np.argsort(~pattern[:, narrow], axis=0, kind="stable")[:k].T  # kept rows first, ascending
    valid = np.arange(k)[None, :] < counts[narrow][:, None]
    return SnApState(
        values=jnp.zeros((narrow.size, k)), rows=jnp.asarray(np.where(valid, order, 0), jnp.int32),
        valid=jnp.asarray(valid), columns=jnp.asarray(narrow, jnp.int32), wide_values=jnp.zeros((n_s, wide.size)),
        wide_mask=jnp.asarray(pattern[:, wide]), wide_columns=jnp.asarray(wide, jnp.int32),
        state_rows=jnp.arange(n_s, dtype=jnp.int32))


class RTRL(AbstractEstimator):
    r"""Exact RTRL (Williams & Zipser 1989) in O(n_s·P) memory, and SnAp-n; see [`rtrl`][spikax.online.rtrl]."""

    mask: jax.Array | None
    snap_n: int | None = eqx.field(static=True)
    input_shape: tuple[int, ...] | None = eqx.field(static=True)
    max_bytes: int | None = eqx.field(static=True)
    snap_layout: SnApState | None = None  # SnAp: where the kept entries live (zero values)

    def __init__(self, model, loss_fn, *, mask=None, snap_n=None, input_shape=None, max_bytes=DEFAULT_MAX_BYTES,
                 owner="spikax.online.rtrl"):
        self.params_treedef, self.static = _bind(owner, model, loss_fn)
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer))
                                      or max_bytes <= 0):
            raise ValueError(f"`{owner}`: `max_bytes` must be a positive whole number of bytes or None (no cap), "
                             f"got {max_bytes!r}.")
        self.max_bytes = None if max_bytes is None else int(max_bytes)
        self.loss_fn = loss_fn
        self.mask = None if mask is None else jnp.asarray(mask, dtype=bool)
        self.snap_n = snap_n
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.snap_layout = None
        if snap_n is not None:
            # The pattern is found once, here, from the model's own parameters, so that the layout of the
            # kept entries has static shapes.
            params, _ = eqx.partition(model, trainable(model))
            state0 = _factory_state(model, self.input_shape)
            pattern = np.asarray(jax.jit(lambda p: _snap_pattern(self, p, state0, snap_n))(params))
            self.snap_layout = _snap_layout(pattern)

    def init(self, params, state0, *, key=None):
        del key
        owner = f"spikax.online.{'snap' if self.snap_n is not None else 'rtrl'}"
        self.check_params(params)
        check_float_state(owner, state0)
        flat_s, _ = ravel_pytree(state0)
        flat_p, _ = ravel_pytree(params)
        shape = (flat_s.size, flat_p.size)
        if self.snap_n is not None:
            layout = self.snap_layout
            built = (layout.state_rows.shape[0], layout.columns.shape[0] + layout.wide_columns.shape[0])
            if shape != built:
                raise ValueError(
                    f"`{owner}`: this learner was built for a model with [n_state, n_params] = {built} (its state for "
                    f"one input step, from `input_shape` or the first layer), but `init` got {shape}. Give "
                    "`spikax.online.snap` the `input_shape=` of one example's input step.")
            kept = layout.values.size + layout.wide_values.size
            _check_fits(owner, (kept, 1), flat_s.dtype, self.max_bytes, what="kept entries of the influence matrix")
            return layout._replace(values=layout.values.astype(flat_s.dtype),
                                   wide_values=layout.wide_values.astype(flat_s.dtype))
        _check_fits(owner, shape, flat_s.dtype, self.max_bytes)
        mask = self.mask
        if mask is not None and mask.shape != shape:
            raise ValueError(
                f"`{owner}`: `mask` has shape {mask.shape}, but the influence matrix of this model is [n_state, "
                f"n_params] = {shape} (rows: `ravel_pytree(state)`, columns: `ravel_pytree(params)`). Give a boolean "
                "mask of that shape, or use `spikax.online.snap(model, loss_fn, n)`."
            )
        return RTRLState(influence=jnp.zeros(shape, flat_s.dtype), mask=mask)

    def step(self, params, lstate, state, x, target, *, key=None):
        del key
        f, flat_s, flat_p, unravel_s, unravel_p = flat_step(self, params, state, x, target)
        (new_s, loss), pullback, y = jax.vjp(f, flat_s, flat_p, has_aux=True)
        # Reverse mode over the n_s state rows plus the loss: one vjp per row gives [D_t; c_t]
        # ([n_s + 1, n_s]) and [M_t; r_t] ([n_s + 1, P]), so no [P, P] tangent basis is ever built.
        # Then J_t = D_t J_{t-1} + M_t and dl_t/dθ = c_t J_{t-1} + r_t (exact) in one matmul.
        n_s = flat_s.size
        rows = jnp.eye(n_s + 1, dtype=new_s.dtype)
        cotangents = (rows[:, :n_s], rows[:, n_s].astype(loss.dtype))
        d_rows, m_rows = jax.vmap(pullback)(cotangents)
        if isinstance(lstate, SnApState):
            lstate, dloss = _sparse_step(lstate, d_rows, m_rows)
            return unravel_s(new_s), lstate, y, loss, unravel_p(dloss.astype(flat_p.dtype))
        both = d_rows.astype(lstate.influence.dtype) @ lstate.influence + m_rows.astype(lstate.influence.dtype)
        influence, dloss = both[:n_s], both[n_s]
        if lstate.mask is not None:
            influence = jnp.where(lstate.mask, influence, jnp.zeros((), influence.dtype))
        dloss = dloss.astype(flat_p.dtype)
        return unravel_s(new_s), RTRLState(influence, lstate.mask), y, loss, unravel_p(dloss)


def _sparse_step(lstate: SnApState, d_rows, m_rows):
    r"""SnAp's step on the kept entries only.

    For a narrow column $p$ with kept rows $K_p$: $J_t[r, p] = \sum_{k\in K_p} D_t[r, k] J_{t-1}[k, p] +
    M_t[r, p]$ ($r\in K_p$) and $\partial\ell_t/\partial\theta_p = \sum_{k\in K_p} c_t[k] J_{t-1}[k, p] + r_t[p]$,
    $O(k^2)$ each; wide columns as dense RTRL under their mask.
    """
    n_s = lstate.state_rows.shape[0]
    dtype = lstate.values.dtype
    d, c = d_rows[:n_s].astype(dtype), d_rows[n_s].astype(dtype)
    m, r = m_rows[:n_s].astype(dtype), m_rows[n_s].astype(dtype)
    rows, cols, values = lstate.rows, lstate.columns, lstate.values
    dloss_narrow = jnp.sum(c[rows] * values, axis=1) + r[cols]
    narrow = jnp.einsum("pab,pb->pa", d[rows[:, :, None], rows[:, None, :]], values) + m[rows, cols[:, None]]
    narrow = jnp.where(lstate.valid, narrow, jnp.zeros((), dtype))
    wide_cols, wide_values = lstate.wide_columns, lstate.wide_values
    dloss_wide = c @ wide_values + r[wide_cols]
    wide = jnp.where(lstate.wide_mask, d @ wide_values + m[:, wide_cols], jnp.zeros((), dtype))
    dloss = jnp.zeros_like(r).at[cols].set(dloss_narrow).at[wide_cols].set(dloss_wide)
    return lstate._replace(values=narrow, wide_values=wide), dloss


def _factory_state(model, input_shape):
    """The model's state for one input step, to find SnAp's pattern when the learner is built."""
    if input_shape is None:
        found = _layers_of(model)
        first = found[0][0] if found is not None else model
        connection = getattr(first, "connection", getattr(first, "fn", None))
        if not isinstance(connection, eqx.nn.Linear):
            raise TypeError(
                "`spikax.online.snap`: cannot tell the input shape of this model (its first layer's connection is not "
                "an `equinox.nn.Linear`): pass `input_shape=` (one example, one step) to `spikax.online.snap`.")
        size = connection.in_features
        input_shape = () if size == "scalar" else (size,)
    return model.init_state(tuple(input_shape))


def _check_fits(owner: str, shape, dtype, max_bytes, what=None) -> None:
    """Raise before anything is allocated when the influence matrix of one example exceeds `max_bytes`."""
    needed = shape[0] * shape[1] * jnp.dtype(dtype).itemsize
    if max_bytes is not None and needed > max_bytes:
        size = (f"{shape[0]} {what}" if what else
                f"the influence matrix J = ds/dθ of this model is {shape[0]} state entries x {shape[1]} parameters")
        raise ValueError(
            f"`{owner}`: {size} x "
            f"{jnp.dtype(dtype).itemsize} bytes ({jnp.dtype(dtype).name}) = {needed / 2**20:.1f} MiB per "
            f"example, more than `max_bytes={max_bytes}` ({max_bytes / 2**20:.1f} MiB); one step needs about three "
            "times that, and a batch multiplies it. Use a smaller model, an approximate learner with O(k·P) memory "
            "(`spikax.online.eprop`, `ostl`, `snap1`, `ottt`), `spikax.online.forward_gradient`, or BPTT "
            "(`spikax.online.bptt`); or raise the cap with `max_bytes=` (None: no cap) if the memory is there."
        )


def rtrl(model, loss_fn, *, mask=None, max_bytes: int | None = DEFAULT_MAX_BYTES) -> RTRL:
    r"""Exact real-time recurrent learning, by forward-mode differentiation (Williams & Zipser 1989).

    With the step $s_t = F(s_{t-1}, x_t;\theta)$ and the loss $L = \sum_t \ell_t$, RTRL carries
    the influence matrix $J_t = \partial s_t/\partial\theta$:

    $$J_t = D_t J_{t-1} + M_t,\qquad D_t = \frac{\partial F}{\partial s},\quad M_t = \frac{\partial F}{\partial\theta},
      \qquad \nabla_\theta L = \sum_t \Big(\frac{\partial \ell_t}{\partial s_{t-1}} J_{t-1}
      + \frac{\partial \ell_t}{\partial\theta}\Big).$$

    Each step takes one `jax.vjp` of the model step and pulls back the $n_s$ unit rows of the
    new state and the loss (vmapped): this gives $[D_t;\,\partial\ell_t/\partial s_{t-1}]$ and
    $[M_t;\,\partial\ell_t/\partial\theta]$ without ever building a $P\times P$ tangent basis,
    then one matmul with $J_{t-1}$ gives $J_t$ and the step's exact gradient. Memory
    $O(n_s P)$ (about three times the $n_s P$ entries of $J$ while a step runs) and compute
    $O(n_s^2 P)$ per step, independent of $T$: exact but for small networks. Works for any
    spikax model with floating-point state (any neuron, recurrent layers, `Chain`s).

    **Arguments:**

    - `model`: the model (its trainable part is given later as `params`).
    - `loss_fn`: the per-step loss `loss_fn(y_t, target_t) -> scalar`.
    - `mask`: optional boolean `[n_state, n_params]` array applied to $J_t$ after every step
      (rows in `ravel_pytree(state)` order, columns in `ravel_pytree(params)` order); see
      [`snap`][spikax.online.snap] for masks built from connectivity.
    - `max_bytes`: the most memory the influence matrix of one example may take
      ($n_s \times P\times$ bytes per number; default 1 GiB); a bigger one raises a clear
      error at `init`, before anything is allocated. None removes the cap.

    **Returns:** an [`AbstractEstimator`][spikax.online.AbstractEstimator] for
    [`spikax.online.run`][] / [`spikax.online.train`][].

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    est = spikax.online.rtrl(net, mse)
    loss, grads = spikax.online.run(est, params, net.init_state((3,)), xs, targets)  # == BPTT
    ```
    """
    return RTRL(model, loss_fn, mask=mask, max_bytes=max_bytes)


def snap(model, loss_fn, n: int, *, input_shape=None, max_bytes: int | None = DEFAULT_MAX_BYTES) -> RTRL:
    r"""SnAp-n: RTRL that keeps only the influence entries a parameter reaches within `n` steps (Menick et al. 2021).

    $$J_t \leftarrow (D_t J_{t-1} + M_t)\odot S_n,\qquad S_1 = [M \ne 0],\quad
      S_{k+1} = S_k \lor [D\ne 0]\,S_k$$

    The patterns of $D$ and $M$ are meant to be structural: they are found once, when the
    learner is built, from the model's parameters, with the
    threshold's pseudo-derivative replaced by 1 (so a surrogate with compact support does not
    hide an edge), at 64 random states, inputs and parameters of scales from 0.1 to 100, and
    OR-ed (a spike that is 0 in every draw would hide the weights it multiplies; pass an
    explicit `mask` to [`rtrl`][spikax.online.rtrl] to be certain). A detached reset or a
    fixed (non-learnable) parameter is a true structural zero. Within one step the influence
    of $J_{t-1}$ on $\ell_t$ is exact; the mask applies to what is carried. SnAp-1 of a
    single recurrent layer keeps, for $W_{ji}$, only neuron $j$'s own state (as the diagonal
    eligibility engine); `n >= T` equals [`rtrl`][spikax.online.rtrl] exactly. Only the kept
    entries are stored ([`SnApState`][spikax.online.SnApState]: the $m$ kept rows of each
    parameter's column), so $J$ takes $O(mP)$ memory and a step $O(m^2P)$ compute, with $m$
    the most rows any parameter reaches (a few per neuron for SnAp-1; up to $n_s$ once the
    recurrence spreads). The step's own Jacobians $D_t$, $M_t$ are still formed densely
    ($O(n_s P)$ while it runs).

    **Arguments:** `model`, `loss_fn`, `max_bytes` as in [`rtrl`][spikax.online.rtrl]; `n >= 1`,
    the number of steps of reach kept; `input_shape`, the shape of one input step, needed only
    when the first connection is not an `equinox.nn.Linear`.

    **Example:**

    ```python
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.recurrent_dense(3, 8, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(8, 2, spikax.neurons.LI(), key=k2)])
    params, _ = eqx.partition(net, spikax.trainable(net))
    mse = lambda y, target: jnp.sum((y - target) ** 2)
    xs, targets = jnp.ones((20, 3)), jnp.zeros((20, 2))
    loss, grads = spikax.online.run(spikax.online.snap(net, mse, 1), params, net.init_state((3,)), xs, targets)
    ```
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"`spikax.online.snap`: `n` must be a whole number of steps >= 1, got {n!r}.")
    return RTRL(model, loss_fn, snap_n=int(n), input_shape=input_shape, max_bytes=max_bytes,
                owner="spikax.online.snap")


def _snap_pattern(est: RTRL, params, state0, n: int, draws: int = 64) -> jax.Array:
    """Boolean [n_s, P] pattern of the entries reached within n steps (structural, see `snap`)."""
    def model_of(p):  # the threshold's pseudo-derivative replaced by 1 everywhere
        return jax.tree_util.tree_map(
            lambda leaf: StraightThrough() if isinstance(leaf, AbstractSurrogate) else leaf,
            est.model(p), is_leaf=lambda leaf: isinstance(leaf, AbstractSurrogate),
        )

    flat_s, unravel_s = ravel_pytree(state0)
    flat_p, unravel_p = ravel_pytree(params)
    x_spec = _input_spec(est.model(params), state0, est.input_shape)

    # Random points at scales from 0.1 to 100, so every spike is 1 in some draws (a spike of 0 hides the
    # weights it multiplies) whatever the neuron's units. Drawn with NumPy at trace time: constants, no
    # random-number kernels to compile.
    rng = np.random.default_rng(0)
    scales = 10.0 ** rng.uniform(-1.0, 2.0, (draws, 2, 1))
    noise_s = jnp.asarray(scales[:, 0] * rng.normal(size=(draws, flat_s.size)), flat_s.dtype)
    noise_x = jnp.asarray(scales[:, 1] * rng.normal(size=(draws, int(np.prod(x_spec.shape)))), x_spec.dtype)
    noise_p = jnp.asarray(0.1 * rng.normal(size=(draws, flat_p.size)) * (rng.uniform(size=(draws, 1)) < 0.5),
                          flat_p.dtype)

    def accumulate(patterns, noise):  # one draw at a time: memory of one Jacobian, not of all draws
        ds, dp, x = noise

        def F(fs, fp):
            return ravel_pytree(_forward(model_of(unravel_p(fp)), unravel_s(fs), x.reshape(x_spec.shape), None)[0])[0]

        # reverse mode over the n_s outputs: [n_s, n_s] and [n_s, P], never a [P, P] tangent basis
        d, m = jax.jacrev(F, argnums=(0, 1))(flat_s + ds, flat_p + dp)
        return (patterns[0] | (d != 0), patterns[1] | (m != 0)), None

    zeros = (jnp.zeros((flat_s.size, flat_s.size), bool), jnp.zeros((flat_s.size, flat_p.size), bool))
    (d_pattern, m_pattern), _ = jax.lax.scan(accumulate, zeros, (noise_s, noise_p, noise_x))
    d_float = d_pattern.astype(flat_s.dtype)

    def grow(carry):
        k, reach, _ = carry
        new = reach | ((d_float @ reach.astype(d_float.dtype)) > 0)
        return k + 1, new, jnp.any(new != reach)

    _, reach, _ = jax.lax.while_loop(lambda c: (c[0] < n) & c[2], grow, (jnp.ones((), jnp.int32), m_pattern,
                                                                         jnp.ones((), bool)))
    return reach


def _input_spec(model, state0, input_shape) -> jax.ShapeDtypeStruct:
    """The one-step input a model with this state takes: `input_shape`, or read from its first connection."""
    dtype = jax.tree_util.tree_leaves(state0)[0].dtype
    if input_shape is not None:
        return jax.ShapeDtypeStruct(tuple(input_shape), dtype)
    found = _layers_of(model)
    first = found[0][0] if found is not None else model
    for attr in ("connection", "fn"):
        connection = getattr(first, attr, None)
        if isinstance(connection, eqx.nn.Linear):
            size = connection.in_features
            return jax.ShapeDtypeStruct(() if size == "scalar" else (size,), dtype)
        if isinstance(connection, eqx.nn.Identity):
            return jax.ShapeDtypeStruct(jnp.shape(jax.tree_util.tree_leaves(state0)[0]), dtype)
    raise TypeError(
        "`spikax.online.snap`: cannot tell the input shape of this model (its first layer's connection is not an "
        "`equinox.nn.Linear`): pass `input_shape=` (one example, one step) to `spikax.online.snap`."
    )
