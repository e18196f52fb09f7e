"""Gradient methods by name: the registry behind `fit(method=...)` and `spikax train --method`."""

from __future__ import annotations

from collections.abc import Callable

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp

from ..loop import BPTT, CheckpointedBPTT, TruncatedBPTT

# A gradient function: (loss_fn, params, static, x, y, key) -> ((loss, metrics), grads).
GradientFunction = Callable

_REGISTRY: dict[str, tuple[Callable[..., GradientFunction], str]] = {}
_CACHE: dict = {}


def register_method(name: str, factory: Callable[..., GradientFunction], description: str = "") -> None:
    """Make a gradient method available to [`spikax.training.fit`][] and the `spikax` command by name.

    A method is a factory returning a *gradient function*

    `grad_fn(loss_fn, params, static, x, y, key) -> ((loss, metrics), grads)`

    where `params, static = eqx.partition(model, spikax.trainable(model))`, `loss_fn(model, x, y,
    *, method, key) -> (loss, metrics)` is the task's loss, and `grads` has the structure of
    `params`. The BPTT family computes `grads` with reverse mode through `spikax.run`; online
    learners (`spikax.online`) register their own functions under their own names.

    **Arguments:**

    - `name`: the name used on the command line (`spikax train randman --method NAME`).
    - `factory`: called with keyword options (e.g. `k=` for truncation) to build a gradient function.
    - `description`: one line shown by `spikax train --help`.

    **Example:**

    ```python
    def my_method(**options):
        return spikax.training.get_method("bptt")  # or a custom gradient function
    spikax.training.register_method("mine", my_method, "BPTT under another name")
    ```
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`spikax.training.register_method`: `name` must be a non-empty string, got {name!r}.")
    if not callable(factory):
        raise TypeError(f"`spikax.training.register_method`: `factory` must be callable, got "
                        f"{type(factory).__name__}.")
    _REGISTRY[name] = (factory, description)


def methods() -> dict[str, str]:
    """The registered gradient methods, `{name: description}`.

    **Example:**

    ```python
    sorted(spikax.training.methods())  # ['bptt', 'checkpointed', 'truncated', ...]
    ```
    """
    return {name: description for name, (_, description) in _REGISTRY.items()}


def get_method(method="bptt", **options) -> GradientFunction:
    """A gradient function from a name, a [`spikax.loop.AbstractGradientMethod`][], or a function.

    **Arguments:**

    - `method`: a registered name (`"bptt"`, `"checkpointed"`, `"truncated"`, ...), an instance
      such as `spikax.TruncatedBPTT(k=20)`, or a gradient function (returned as is).
    - `options`: keyword options passed to the named method's factory (e.g. `k=20` for `"truncated"`).

    **Returns:**

    `grad_fn(loss_fn, params, static, x, y, key) -> ((loss, metrics), grads)`.

    **Example:**

    ```python
    grad_fn = spikax.training.get_method("truncated", k=25)
    ```
    """
    from ..loop import AbstractGradientMethod

    if isinstance(method, AbstractGradientMethod):
        if method not in _CACHE:
            _CACHE[method] = reverse_mode(method)
        return _CACHE[method]
    if isinstance(method, str):
        if method not in _REGISTRY:
            raise ValueError(f"`spikax.training.get_method`: unknown method {method!r}. Known methods: "
                             f"{', '.join(sorted(_REGISTRY))}.")
        factory, _ = _REGISTRY[method]
        cache_key = (method, factory, tuple(sorted(options.items())))
        if cache_key not in _CACHE:  # the same function for the same request, so jitted steps are reused
            try:
                _CACHE[cache_key] = factory(**options)
            except TypeError as error:
                raise TypeError(f"`spikax.training.get_method`: method {method!r} does not take the options "
                                f"{sorted(options)}: {error}") from error
        return _CACHE[cache_key]
    if callable(method):
        return method
    raise TypeError(f"`spikax.training.get_method`: `method` must be a name, a gradient method such as "
                    f"`spikax.BPTT()`, or a gradient function; got {type(method).__name__}.")


def reverse_mode(run_method) -> GradientFunction:
    """A gradient function that differentiates the whole loss with reverse mode.

    The loss runs the model with `run_method` (e.g. [`spikax.BPTT`][]) inside `spikax.run`, and
    `eqx.filter_value_and_grad` differentiates it with respect to the trainable leaves.

    **Example:**

    ```python
    grad_fn = spikax.training.reverse_mode(spikax.CheckpointedBPTT(every=10))
    ```
    """

    def grad_fn(loss_fn, params, static, x, y, key):
        def loss(p):
            return loss_fn(eqx.combine(p, static), x, y, method=run_method, key=key)

        return eqx.filter_value_and_grad(loss, has_aux=True)(params)

    return grad_fn


def _truncated(k: int = 20) -> GradientFunction:
    return reverse_mode(TruncatedBPTT(k=k))


def _checkpointed(every: int | None = None) -> GradientFunction:
    return reverse_mode(CheckpointedBPTT(every=every))


def online_method(factory_name: str, **options) -> GradientFunction:
    r"""A gradient function from an online learner of [`spikax.online`][] (e-prop, RTRL, OTTT, ...).

    Online learners need a loss per time step: the loss function must carry `per_step(y_t,
    label)` and `prepare(model, x, y, key)`, as those from
    [`spikax.training.classification_loss`][] do. The learner runs forward over the sequence
    with [`spikax.online.run`][] and its summed gradient of $\sum_t \ell_t$ is divided by $T$,
    i.e. it estimates the gradient of the mean per-step cross-entropy
    $\frac1T\sum_t \ell_t$. The loss and metrics reported are those of the task's own loss
    (one extra forward pass), so runs with different methods compare directly.

    **Arguments:**

    - `factory_name`: a learner in `spikax.online` (`"eprop"`, `"rtrl"`, `"ottt"`, ...).
    - `options`: keyword options of that learner.

    **Example:**

    ```python
    x, y = spikax.datasets.randman(n_classes=2, n_units=20, n_steps=20, samples_per_class=16, seed=0)
    k1, k2 = jax.random.split(key)
    net = spikax.Chain([spikax.layers.dense(20, 16, spikax.neurons.LIF(), key=k1),
                        spikax.layers.dense(16, 2, spikax.neurons.LI(), key=k2)])
    loss_fn = spikax.training.classification_loss("max")
    grad_fn = spikax.training.online_method("eprop")
    net, history = spikax.training.fit(net, loss_fn, (x, y), method=grad_fn, epochs=1, batch_size=16, progress=False)
    ```
    """
    from .. import online

    factory = getattr(online, factory_name)

    def grad_fn(loss_fn, params, static, x, y, key):
        per_step, prepare = getattr(loss_fn, "per_step", None), getattr(loss_fn, "prepare", None)
        if per_step is None or prepare is None:
            raise TypeError(f"`spikax.training`: the online method {factory_name!r} needs a loss with a per-step "
                            "form (`loss_fn.per_step` and `loss_fn.prepare`), as made by "
                            "`spikax.training.classification_loss`. Use such a loss, or a BPTT method.")
        model = eqx.combine(params, static)
        xs, labels = prepare(model, x, y, key)
        steps = xs.shape[0]
        targets = jnp.broadcast_to(labels, (steps,) + labels.shape)
        state0 = model.init_state(xs.shape[2:], xs.dtype)
        learner = factory(model, per_step, **options)
        _, grads = online.run(learner, params, state0, xs, targets, key=key, batch_axis=1)
        grads = jax.tree_util.tree_map(lambda g: g / steps, grads)
        loss, metrics = loss_fn(model, x, y, method=BPTT(), key=key)
        return (loss, metrics), grads

    return grad_fn


register_method("bptt", lambda: reverse_mode(BPTT()), "backpropagation through time (memory ~T)")
register_method("checkpointed", _checkpointed, "BPTT storing the state every ~sqrt(T) steps (memory ~sqrt(T))")
register_method("truncated", _truncated, "BPTT with the gradient cut every k steps (default k=20)")

for _name, _text in [
    ("eprop", "e-prop (Bellec et al. 2020): eligibility traces x learning signal, online"),
    ("rtrl", "exact real-time recurrent learning by forward mode (memory ~state x params)"),
    ("ostl", "online spatio-temporal learning (Bohnstingl et al. 2022)"),
    ("snap1", "SnAp-1 (Menick et al. 2021)"),
    ("ottt", "online training through time (Xiao et al. 2022)"),
    ("otpe", "online training with postsynaptic estimates (Summe et al. 2023)"),
    ("forward_gradient", "forward gradient (Baydin et al. 2022): random-direction estimate"),
]:
    register_method(_name, partial(online_method, _name), _text + "; per-step loss")
