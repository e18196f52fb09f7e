r"""Online (forward-mode) gradient estimators in PyTorch, by `torch.func`: the torch twins of
[`spikax.online.rtrl`][], [`spikax.online.forward_gradient`][], [`spikax.online.run`][],
[`spikax.online.bptt`][] and [`spikax.online.rtrl_oracle`][], for the JAX-vs-PyTorch
forward-mode comparison.

`params` is a dict of the model's trainable tensors, `dict(model.named_parameters())` (the
twin of `eqx.partition(model, spikax.trainable(model))[0]`). Every estimator is a pair of
pure methods, `init(params, state0, *, key=None)` and
`step(params, lstate, state, x, target, *, key=None) -> (state, lstate, y_t, loss_t, grad_t)`.
PyTorch has no `linearize`: the forward gradient pushes its tangents through `torch.func.jvp`,
vmapped over them, which re-evaluates the step's primal once per tangent batch; RTRL pulls the
state rows back through one `torch.func.vjp` per step (vmapped over the rows), as spikax does.
The eligibility-trace learners live in `_traces.py`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from .._errors import check_choice
from .._pytree import split_tensors, tree_map
from ..loop import run as run_model
from ..loop._run import _batched_state


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors]) if tensors else torch.zeros(0)


def _unflatten(flat: torch.Tensor, like) -> list[torch.Tensor]:
    out, start = [], 0
    for t in like:
        out.append(flat[start:start + t.numel()].reshape(t.shape))
        start += t.numel()
    return out


#: Default cap on the influence matrix (1 GiB), as in spikax.
DEFAULT_MAX_BYTES = 2**30


def _params_of(owner: str, model, params):
    names = [name for name, _ in model.named_parameters()]
    if not isinstance(params, dict) or sorted(params) != sorted(names):
        raise ValueError(
            f"`{owner}`: `params` must be the model's trainable tensors, `dict(model.named_parameters())`, with keys "
            f"{names}; got {type(params).__name__}{' with keys ' + str(sorted(params)) if isinstance(params, dict) else ''}."
        )
    return names


class AbstractEstimator(abc.ABC):
    """Base class of the torch online estimators: a model, a per-step loss, and `(init, step)`.

    `loss_fn(y_t, target_t) -> scalar` is the loss of one step of one example; with a native
    batch ([`run`][spikax_torch.online.run] with `batch_axis`) it is vmapped over the batch and
    averaged, so gradients are batch means as in spikax.
    """

    def __init__(self, model: torch.nn.Module, loss_fn: Callable, *, batched: bool = False):
        self.model_ = model
        self.loss_fn = loss_fn
        self.batched = batched

    @abc.abstractmethod
    def init(self, params, state0, *, key=None):
        """The learner's initial state."""

    @abc.abstractmethod
    def step(self, params, lstate, state, x, target, *, key=None):
        """One time step: `(state, lstate, y_t, loss_t, grad_t)` with `grad_t` shaped like `params`."""

    def loss(self, y, target):
        if self.batched:
            return torch.func.vmap(self.loss_fn)(y, target).mean()
        value = self.loss_fn(y, target)
        if value.ndim != 0:
            raise ValueError(
                f"`spikax_torch.online.{type(self).__name__}`: `loss_fn(y_t, target_t)` must return a scalar, got "
                f"shape {tuple(value.shape)}. Reduce it; batches are handled by `batch_axis=`."
            )
        return value

    def flat_step(self, params, state, x, target):
        """`(f, flat_state, flat_params, unflatten_state, names)` with `f(fs, fp) -> ((fs', loss), y)`."""
        names = list(params)
        values = [params[n] for n in names]
        tensors, rebuild = split_tensors(state)

        def f(fs, fp):
            p = dict(zip(names, _unflatten(fp, values), strict=True))
            new_state, y = torch.func.functional_call(self.model_, p, (rebuild(_unflatten(fs, tensors)), x))
            new_tensors, _ = split_tensors(new_state)
            return (_flat(new_tensors), self.loss(y, target)), y

        def unflatten_state(fs, like=state):
            like_tensors, like_rebuild = split_tensors(like)
            return like_rebuild(_unflatten(fs, like_tensors))

        return f, _flat(tensors).detach(), _flat(values).detach(), unflatten_state, names

    def grads_like(self, params, flat):
        names = list(params)
        return dict(zip(names, _unflatten(flat, [params[n] for n in names]), strict=True))


class RTRLState(NamedTuple):
    """State of [`spikax_torch.online.rtrl`][]: the influence matrix $J_t$, `[n_state, n_params]`, and the mask."""

    influence: torch.Tensor
    mask: torch.Tensor | None = None


class RTRL(AbstractEstimator):
    r"""Exact RTRL in O(n_s·P) memory; see [`rtrl`][spikax_torch.online.rtrl]."""

    def __init__(self, model, loss_fn, *, mask=None, max_bytes: int | None = DEFAULT_MAX_BYTES, batched=False):
        super().__init__(model, loss_fn, batched=batched)
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0):
            raise ValueError("`spikax_torch.online.rtrl`: `max_bytes` must be a positive whole number of bytes or None "
                             f"(no cap), got {max_bytes!r}.")
        self.mask = mask
        self.max_bytes = max_bytes

    def init(self, params, state0, *, key=None):
        del key
        n_s = sum(t.numel() for t in split_tensors(state0)[0])
        n_p = sum(p.numel() for p in params.values())
        mask = None if self.mask is None else torch.as_tensor(self.mask, dtype=torch.bool)
        if mask is not None and tuple(mask.shape) != (n_s, n_p):
            raise ValueError(f"`spikax_torch.online.rtrl`: `mask` has shape {tuple(mask.shape)}, expected [n_state, "
                             f"n_params] = {(n_s, n_p)}.")
        dtype = next(iter(params.values())).dtype
        needed = n_s * n_p * dtype.itemsize
        if self.max_bytes is not None and needed > self.max_bytes:
            raise ValueError(
                f"`spikax_torch.online.rtrl`: the influence matrix J = ds/dθ of this model is {n_s} state entries x "
                f"{n_p} parameters x {dtype.itemsize} bytes = {needed / 2**20:.1f} MiB (the whole batch), more than "
                f"`max_bytes={self.max_bytes}` ({self.max_bytes / 2**20:.1f} MiB); one step needs about three times "
                "that. Use a smaller model or batch, a trace learner with O(k·P) memory (`spikax_torch.online.eprop`, "
                "`ostl`, `snap1`, `ottt`), `spikax_torch.online.forward_gradient`, or BPTT; or raise the cap with "
                "`max_bytes=` (None: no cap) if the memory is there.")
        return RTRLState(influence=torch.zeros((n_s, n_p), dtype=dtype), mask=mask)

    def step(self, params, lstate, state, x, target, *, key=None):
        del key
        f, fs, fp, unflatten_state, _ = self.flat_step(params, state, x, target)
        (new_s, loss), pullback, y = torch.func.vjp(f, fs, fp, has_aux=True)
        # Reverse mode over the n_s state rows and the loss (as spikax): [D_t; c_t] and [M_t; r_t], never
        # a [P, P] basis; then J_t = D_t J_{t-1} + M_t and dl_t/dθ = c_t J_{t-1} + r_t in one matmul.
        n_s = fs.numel()
        rows = torch.eye(n_s + 1, dtype=new_s.dtype)
        d_rows, m_rows = torch.func.vmap(pullback)((rows[:, :n_s], rows[:, n_s].to(loss.dtype)))
        both = d_rows @ lstate.influence + m_rows
        influence, dloss = both[:n_s], both[n_s]
        if lstate.mask is not None:
            influence = influence * lstate.mask
        return (unflatten_state(new_s.detach()), RTRLState(influence.detach(), lstate.mask), y.detach(),
                loss.detach(), self.grads_like(params, dloss.detach()))


def rtrl(model, loss_fn, *, mask=None, max_bytes: int | None = DEFAULT_MAX_BYTES) -> RTRL:
    r"""Exact real-time recurrent learning by forward mode (Williams & Zipser 1989), with `torch.func`.

    $$J_t = D_t J_{t-1} + M_t,\qquad \nabla_\theta L = \sum_t \Big(\frac{\partial\ell_t}{\partial s_{t-1}}J_{t-1}
      + \frac{\partial\ell_t}{\partial\theta}\Big)$$

    As [`spikax.online.rtrl`][]: each step pulls the $n_s$ unit rows of the new state and the
    loss back through one `torch.func.vjp` of the model step (vmapped), which gives $D_t$,
    $M_t$ and the loss's own derivatives without a $P\times P$ basis; one matmul with $J_{t-1}$
    gives $J_t$ and the step's exact gradient. Memory $O(n_s P)$, compute $O(n_s^2 P)$ per step.

    **Arguments:** `model` (a spikax_torch model), `loss_fn(y_t, target_t) -> scalar`, `mask`
    (optional boolean `[n_state, n_params]`, applied to $J_t$ after every step), `max_bytes`
    (the most memory $J$ may take, $n_s\times P\times$ bytes, for the whole native batch;
    default 1 GiB; a bigger one raises a clear error before anything is allocated; None: no cap).

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, target: ((y - target) ** 2).sum()
    xs, targets = torch.ones(20, 3), torch.zeros(20, 2)
    est = spikax_torch.online.rtrl(net, mse)
    loss, grads = spikax_torch.online.run(est, dict(net.named_parameters()), net.init_state((3,)), xs, targets)
    ```
    """
    return RTRL(model, loss_fn, mask=mask, max_bytes=max_bytes)


class ForwardGradientState(NamedTuple):
    """State of [`spikax_torch.online.forward_gradient`][]: tangents `[K, P]` and state tangents `[K, n_s]`."""

    tangents: torch.Tensor
    state_tangents: torch.Tensor


class ForwardGradient(AbstractEstimator):
    r"""Forward-gradient estimator; see [`forward_gradient`][spikax_torch.online.forward_gradient]."""

    def __init__(self, model, loss_fn, *, num_tangents=1, dist="rademacher", direction=None, batched=False):
        super().__init__(model, loss_fn, batched=batched)
        owner = "spikax_torch.online.forward_gradient"
        if not isinstance(num_tangents, int) or isinstance(num_tangents, bool) or num_tangents < 1:
            raise ValueError(f"`{owner}`: `num_tangents` must be a whole number >= 1, got {num_tangents!r}.")
        check_choice(owner, "tangent distribution `dist`", dist, ("rademacher", "normal"))
        self.num_tangents, self.dist, self.direction = num_tangents, dist, direction

    def init(self, params, state0, *, key=None):
        owner = "spikax_torch.online.forward_gradient"
        values = list(params.values())
        dtype = values[0].dtype
        n_p = sum(p.numel() for p in values)
        n_s = sum(t.numel() for t in split_tensors(state0)[0])
        if self.direction is not None and not callable(self.direction):
            tangents = _flat([self.direction[n] for n in params]).to(dtype)[None]
        else:
            if key is None:
                raise ValueError(f"`{owner}`: random tangents need `key=` (a torch.Generator or an int seed).")
            gen = key if isinstance(key, torch.Generator) else torch.Generator().manual_seed(int(key))
            if callable(self.direction):
                tangents = _flat([t for t in self.direction(gen).values()]).to(dtype)[None]
            elif self.dist == "normal":
                tangents = torch.randn((self.num_tangents, n_p), generator=gen, dtype=dtype)
            else:
                tangents = torch.randint(0, 2, (self.num_tangents, n_p), generator=gen).to(dtype) * 2 - 1
        return ForwardGradientState(tangents, torch.zeros((tangents.shape[0], n_s), dtype=dtype))

    def step(self, params, lstate, state, x, target, *, key=None):
        del key
        f, fs, fp, unflatten_state, _ = self.flat_step(params, state, x, target)

        def push(ts, tp):
            primal, tangent, y = torch.func.jvp(f, (fs, fp), (ts, tp), has_aux=True)
            return tangent[0], tangent[1], primal[0], primal[1], y

        state_tangents, dloss, new_s, loss, y = torch.func.vmap(push)(lstate.state_tangents, lstate.tangents)
        grad = dloss @ lstate.tangents / lstate.tangents.shape[0]
        return (unflatten_state(new_s[0]), ForwardGradientState(lstate.tangents, state_tangents), y[0], loss[0],
                self.grads_like(params, grad))


def forward_gradient(model, loss_fn, *, num_tangents: int = 1, dist: str = "rademacher",
                     direction: Any = None) -> ForwardGradient:
    r"""Forward gradient $g = \frac1K\sum_k(\nabla L\cdot v_k)v_k$ (Baydin et al. 2022), carried online with `torch.func.jvp`.

    $u_t = D_t u_{t-1} + M_t v$ per tangent, vmapped over the K tangents. `direction` (a dict
    like `params`) fixes the tangent; a function `direction(generator) -> dict` draws one.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, target: ((y - target) ** 2).sum()
    xs, targets = torch.ones(20, 3), torch.zeros(20, 2)
    est = spikax_torch.online.forward_gradient(net, mse, num_tangents=4)
    loss, grads = spikax_torch.online.run(est, dict(net.named_parameters()), net.init_state((3,)), xs, targets, key=0)
    ```
    """
    return ForwardGradient(model, loss_fn, num_tangents=num_tangents, dist=dist, direction=direction)


def _check_chunk(owner, chunk, update_every=None):
    """`chunk` as in spikax (checked the same way); the mirror's learners always advance one step at a time."""
    if chunk is None:
        return
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        raise ValueError(f"`{owner}`: `chunk` must be a whole number of steps >= 1 (or None for the learner's "
                         f"default), got {chunk!r}.")
    if update_every is not None and update_every % chunk:
        raise ValueError(f"`{owner}`: `chunk={chunk}` does not divide `update_every={update_every}`; parameters change "
                         "only between chunks. Pick a divisor of `update_every`, or leave `chunk=None`.")


def run(est: AbstractEstimator, params, state0, xs, targets, *, key=None, batch_axis: int | None = None,
        chunk: int | None = None):
    r"""Run an online estimator over a sequence with fixed parameters; returns `(loss, grads)` summed over time.

    As [`spikax.online.run`][]. With `batch_axis` the batch is native (moved next to time); the
    per-step loss is `loss_fn` vmapped over examples and averaged, so `(loss, grads)` are batch
    means, and `state0` is the one-example state (expanded) or a batched one. `chunk` is checked
    as in spikax, so the same call runs in both packages; the mirror's learners always advance
    one step at a time, which gives the same sums.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, target: ((y - target) ** 2).sum()
    xs, targets = torch.ones(20, 3), torch.zeros(20, 2)
    loss, grads = spikax_torch.online.run(spikax_torch.online.rtrl(net, mse), dict(net.named_parameters()),
                                          net.init_state((3,)), xs, targets)
    ```
    """
    owner = "spikax_torch.online.run"
    if not isinstance(est, AbstractEstimator):
        raise TypeError(f"`{owner}`: expected an estimator such as `spikax_torch.online.rtrl(model, loss_fn)`, got "
                        f"{type(est).__name__}.")
    _check_chunk(owner, chunk)
    _params_of(owner, est.model_, params)
    params = {k: v.detach() for k, v in params.items()}
    xs, targets, state0 = _batch(est, xs, targets, state0, batch_axis)
    lstate = est.init(params, state0, key=key)
    state, total, grads = state0, None, None
    targets_t = [None] * xs.shape[0] if targets is None else targets.unbind(0)
    for x, target in zip(xs.unbind(0), targets_t, strict=True):
        state, lstate, _, loss_t, grad_t = est.step(params, lstate, state, x, target)
        total = loss_t if total is None else total + loss_t
        grads = grad_t if grads is None else tree_map(torch.add, grads, grad_t)
    return total, grads


def train(est: AbstractEstimator, opt, params, opt_state, state0, xs, targets, *, update_every: int = 1, key=None,
          batch_axis: int | None = None, chunk: int | None = None):
    r"""Train online over one sequence: a torch optimiser steps every `update_every` steps.

    As [`spikax.online.train`][]: the learner's per-step gradients are summed, and every
    `update_every` steps (and once more at the end for a remainder) the sum is handed to `opt`
    (as the tensors' `.grad`) and `opt.step()` changes the parameters *during* the sequence,
    while the model state and the learner's traces carry on. `update_every >= T` is one
    optimiser step on [`run`][spikax_torch.online.run]'s gradient.

    **Arguments:**

    - `est`: the learner; `opt`: a `torch.optim.Optimizer` (or [`fptt`][spikax_torch.online.fptt])
      over exactly the tensors of `params`, e.g. `torch.optim.Adam(net.parameters(), 1e-3)`.
    - `params`: `dict(model.named_parameters())`; updated in place (they are the model's tensors).
    - `opt_state`: a state to load first (`opt.state_dict()`), or None to keep the optimiser's own.
    - `state0`, `xs`, `targets`, `key`, `batch_axis`: as in [`run`][spikax_torch.online.run].
    - `update_every`: steps between updates (>= 1).
    - `chunk`: checked as in [`spikax.online.train`][] (it must divide `update_every`); the mirror
      advances one step at a time, with the same result.

    **Returns:** `(params, opt_state, losses)`: the (updated) parameters, `opt.state_dict()` and
    the per-step losses, shape `[T]` (batch means).

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, target: ((y - target) ** 2).sum()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    params, opt_state, losses = spikax_torch.online.train(spikax_torch.online.eprop(net, mse), opt,
                                                          dict(net.named_parameters()), None, net.init_state((3,)),
                                                          torch.ones(20, 3), torch.zeros(20, 2), update_every=5)
    ```
    """
    owner = "spikax_torch.online.train"
    if not isinstance(est, AbstractEstimator):
        raise TypeError(f"`{owner}`: expected a learner such as `spikax_torch.online.eprop(model, loss_fn)`, got "
                        f"{type(est).__name__}.")
    _params_of(owner, est.model_, params)
    if not isinstance(update_every, int) or isinstance(update_every, bool) or update_every < 1:
        raise ValueError(f"`{owner}`: `update_every` must be a whole number of steps >= 1, got {update_every!r}.")
    _check_chunk(owner, chunk, update_every)
    held = {id(p) for group in getattr(opt, "param_groups", ()) for p in group["params"]}
    if held != {id(v) for v in params.values()}:
        raise ValueError(f"`{owner}`: `opt` must be a torch optimiser over exactly the tensors of `params` (e.g. "
                         "`torch.optim.Adam(net.parameters(), lr)` with `params = dict(net.named_parameters())`); "
                         f"it holds {len(held)} tensors, `params` has {len(params)}.")
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    views = {k: v.detach() for k, v in params.items()}  # share storage: the optimiser's updates show through
    xs, targets, state0 = _batch(est, xs, targets, state0, batch_axis)
    lstate = est.init(views, state0, key=key)
    state, losses = state0, []
    acc = {k: torch.zeros_like(v) for k, v in views.items()}

    def apply():
        for name, tensor in params.items():
            tensor.grad = acc[name].to(tensor.dtype).clone()
        opt.step()
        opt.zero_grad(set_to_none=True)
        for value in acc.values():
            value.zero_()

    targets_t = [None] * xs.shape[0] if targets is None else targets.unbind(0)
    for count, (x, target) in enumerate(zip(xs.unbind(0), targets_t, strict=True), start=1):
        state, lstate, _, loss_t, grad_t = est.step(views, lstate, state, x, target)
        losses.append(loss_t)
        for name, g in grad_t.items():
            acc[name].add_(g)
        if count % update_every == 0:
            apply()
    if xs.shape[0] % update_every:
        apply()
    return params, opt.state_dict(), torch.stack(losses)


def _batch(est, xs, targets, state0, batch_axis):
    est.batched = batch_axis is not None
    if batch_axis is None:
        return xs, targets, state0
    xs = xs.movedim(batch_axis, 1)
    targets = None if targets is None else targets.movedim(batch_axis, 1)
    return xs, targets, _batched_state(est.model_, state0, xs)


def _loss_over_time(model, loss_fn, params, state0, xs, targets, batched):
    class Runner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, xs):
            return run_model(self.inner, state0, xs)[1]

    ys = torch.func.functional_call(Runner(), {"inner." + k: v for k, v in params.items()}, (xs,))
    per_step = torch.func.vmap(loss_fn)
    if batched:
        per_step = torch.func.vmap(per_step)
        return per_step(ys, targets).mean(1).sum()
    return per_step(ys, targets).sum()


def bptt(model, loss_fn, state0, xs, targets, *, batch_axis: int | None = None):
    r"""Reference gradient by backpropagation through time (`torch.func.grad` of the summed loss).

    **Returns:** `(loss, grads)` with `grads` a dict like `dict(model.named_parameters())`.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, target: ((y - target) ** 2).sum()
    xs, targets = torch.ones(20, 3), torch.zeros(20, 2)
    loss, grads = spikax_torch.online.bptt(net, mse, net.init_state((3,)), xs, targets)
    ```
    """
    return _offline("spikax_torch.online.bptt", model, loss_fn, state0, xs, targets, batch_axis, reverse=True)


def rtrl_oracle(model, loss_fn, state0, xs, targets, *, batch_axis: int | None = None):
    r"""Reference gradient by forward mode: `torch.func.jacfwd` of the summed loss over the flat parameters.

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.recurrent_dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, target: ((y - target) ** 2).sum()
    xs, targets = torch.ones(20, 3), torch.zeros(20, 2)
    loss, grads = spikax_torch.online.rtrl_oracle(net, mse, net.init_state((3,)), xs, targets)
    ```
    """
    return _offline("spikax_torch.online.rtrl_oracle", model, loss_fn, state0, xs, targets, batch_axis, reverse=False)


def _offline(owner, model, loss_fn, state0, xs, targets, batch_axis, reverse):
    params = {k: v.detach() for k, v in model.named_parameters()}
    est = RTRL(model, loss_fn)
    xs, targets, state0 = _batch(est, xs, targets, state0, batch_axis)
    loss = lambda p: _loss_over_time(model, loss_fn, p, state0, xs, targets, batch_axis is not None)  # noqa: E731
    if reverse:
        grads, value = torch.func.grad(lambda p: _with_aux(loss, p), has_aux=True)(params)
        return value, grads
    names = list(params)
    values = [params[n] for n in names]
    flat = _flat(values)

    def flat_loss(fp):
        value = loss(dict(zip(names, _unflatten(fp, values), strict=True)))
        return value, value

    grad, value = torch.func.jacfwd(flat_loss, has_aux=True)(flat)
    return value, dict(zip(names, _unflatten(grad, values), strict=True))


def _with_aux(loss, p):
    value = loss(p)
    return value, value
