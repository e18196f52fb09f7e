"""Copy a model between spikax (JAX/equinox) and spikax_torch, parameters and options included.

Both packages store neuron parameters the same way (unconstrained `raw_<name>` arrays), so the
copy is exact: the same numbers, dtypes and learnable sets, and the twin computes the same
spikes, states and gradients (see `tests/torch/`). Connections map between `equinox.nn` and
`torch.nn` (`Linear`, `Conv1d/2d/3d`, `Identity`, `Sequential`, `AvgPool`/`MaxPool`), whose
weight layouts agree (`[out, in, *kernel]`); a convolution's bias is `[out, 1, ...]` in
equinox and `[out]` in torch.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from .. import layers as tlayers
from .. import network as tnetwork
from .. import neurons as tneurons
from .. import surrogate as tsurrogate


def _jax():
    try:
        import equinox as eqx
        import jax
        import jax.numpy as jnp

        import spikax
    except ImportError as error:  # pragma: no cover - spikax needs jax anyway
        raise ImportError("`spikax_torch.convert`: converting needs `spikax` (and JAX) installed.") from error
    return spikax, eqx, jax, jnp


def _tensor(array) -> torch.Tensor:
    return torch.from_numpy(np.array(array, copy=True))


def _array(tensor: torch.Tensor):
    _, _, _, jnp = _jax()
    return jnp.asarray(tensor.detach().cpu().numpy())


# -- surrogates -------------------------------------------------------------------------------


def _surrogate_from_spikax(s):
    spikax, _, _, _ = _jax()
    if isinstance(s, spikax.surrogate.Custom):
        raise TypeError(
            "`spikax_torch.convert`: a `spikax.surrogate.custom(fn)` surrogate holds a JAX function, which cannot "
            "run on tensors. Build the torch one with `spikax_torch.surrogate.custom(torch_fn)` and set it on the twin."
        )
    cls = getattr(tsurrogate, type(s).__name__, None)
    if cls is None:
        raise TypeError(f"`spikax_torch.convert`: no torch twin for surrogate {type(s).__name__}.")
    return cls(**{f.name: float(getattr(s, f.name)) for f in dataclasses.fields(s)})


def _surrogate_to_spikax(s):
    spikax, _, _, _ = _jax()
    if isinstance(s, tsurrogate.Custom):
        raise TypeError(
            "`spikax_torch.convert`: a `spikax_torch.surrogate.custom(fn)` surrogate holds a torch function; build "
            "the JAX one with `spikax.surrogate.custom(jax_fn)`."
        )
    cls = getattr(spikax.surrogate, type(s).__name__)
    return cls(**{f.name: getattr(s, f.name) for f in dataclasses.fields(s)})


# -- neurons ----------------------------------------------------------------------------------


def _spike_options_from_spikax(part):
    v_reset = None if part.v_reset is None else _tensor(part.v_reset)
    return tneurons.SpikeOptions(part.reset, v_reset, part.detach_reset, part.refractory,
                                 surrogate=_surrogate_from_spikax(part.surrogate),
                                 dtype=None if v_reset is None else v_reset.dtype)


def _spike_options_to_spikax(part):
    spikax, _, _, _ = _jax()
    v_reset = None if part.v_reset is None else _array(part.v_reset)
    return spikax.neurons.SpikeOptions(part.reset, v_reset, part.detach_reset, part.refractory,
                                       surrogate=_surrogate_to_spikax(part.surrogate),
                                       dtype=None if v_reset is None else v_reset.dtype)


def _neuron_from_spikax(neuron):
    cls = getattr(tneurons, type(neuron).__name__, None)
    if cls is None:
        raise TypeError(f"`spikax_torch.convert`: no torch twin for neuron {type(neuron).__name__}.")
    twin = cls.__new__(cls)
    tneurons.AbstractNeuron.__init__(twin, neuron.learnable)
    for field in dataclasses.fields(neuron):
        name, value = field.name, getattr(neuron, field.name)
        if name == "learnable":
            continue
        if name.startswith("raw_"):
            twin.set_raw(name[4:], _tensor(value))
        elif name == "surrogate":
            twin.surrogate = _surrogate_from_spikax(value)
        elif name == "spiking":
            twin.spiking = _spike_options_from_spikax(value)
        elif hasattr(value, "shape") and hasattr(value, "dtype"):
            twin.register_buffer(name, _tensor(value))
        else:
            setattr(twin, name, value)
    return twin


def _neuron_to_spikax(neuron):
    spikax, _, _, _ = _jax()
    cls = getattr(spikax.neurons, type(neuron).__name__)
    twin = object.__new__(cls)
    for field in dataclasses.fields(cls):
        name = field.name
        if name == "learnable":
            value = frozenset(neuron.learnable)
        elif name == "surrogate":
            value = _surrogate_to_spikax(neuron.surrogate)
        elif name == "spiking":
            value = _spike_options_to_spikax(neuron.spiking)
        else:
            value = getattr(neuron, name)
            if isinstance(value, torch.Tensor):
                value = _array(value)
        object.__setattr__(twin, name, value)
    return twin


# -- connections ------------------------------------------------------------------------------


def _pairs_to_torch(padding):
    lows = [lo for lo, _ in padding]
    if any(lo != hi for lo, hi in padding):
        raise ValueError(f"`spikax_torch.convert`: asymmetric padding {padding} has no torch.nn.Conv equivalent.")
    return tuple(lows)


def _connection_from_spikax(conn):
    spikax, eqx, _, _ = _jax()
    if isinstance(conn, eqx.nn.Linear):
        w = _tensor(conn.weight)
        linear = torch.nn.Linear(conn.in_features, conn.out_features, bias=conn.use_bias, dtype=w.dtype)
        with torch.no_grad():
            linear.weight.copy_(w)
            if conn.use_bias:
                linear.bias.copy_(_tensor(conn.bias))
        return linear
    if isinstance(conn, eqx.nn.Conv) and not isinstance(conn, eqx.nn.ConvTranspose):
        w = _tensor(conn.weight)
        cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[conn.num_spatial_dims]
        mode = {"ZEROS": "zeros", "REFLECT": "reflect", "REPLICATE": "replicate", "CIRCULAR": "circular"}[
            conn.padding_mode]
        conv = cls(conn.in_channels, conn.out_channels, conn.kernel_size, stride=conn.stride,
                   padding=_pairs_to_torch(conn.padding), dilation=conn.dilation, groups=conn.groups,
                   bias=conn.use_bias, padding_mode=mode, dtype=w.dtype)
        with torch.no_grad():
            conv.weight.copy_(w)
            if conn.use_bias:
                conv.bias.copy_(_tensor(conn.bias).reshape(-1))
        return conv
    if isinstance(conn, eqx.nn.Identity):
        return torch.nn.Identity()
    if isinstance(conn, eqx.nn.Sequential):
        return torch.nn.Sequential(*[_connection_from_spikax(c) for c in conn.layers])
    if isinstance(conn, (eqx.nn.AvgPool1d, eqx.nn.AvgPool2d, eqx.nn.AvgPool3d, eqx.nn.MaxPool1d, eqx.nn.MaxPool2d,
                         eqx.nn.MaxPool3d)):
        kind = "Avg" if "Avg" in type(conn).__name__ else "Max"
        cls = getattr(torch.nn, f"{kind}Pool{conn.num_spatial_dims}d")
        kwargs = {"count_include_pad": True} if kind == "Avg" else {}
        return cls(conn.kernel_size, conn.stride, _pairs_to_torch(conn.padding), ceil_mode=conn.use_ceil, **kwargs)
    if isinstance(conn, (spikax.layers.AbstractLayer, spikax.neurons.AbstractNeuron)):
        return from_spikax(conn)
    raise TypeError(
        f"`spikax_torch.convert.from_spikax`: no torch twin for connection {type(conn).__name__}. Supported: "
        "equinox.nn Linear, Conv1d/2d/3d, Identity, Sequential, AvgPool/MaxPool, and spikax layers."
    )


def _connection_to_spikax(conn):
    spikax, eqx, jax, _ = _jax()
    key = jax.random.key(0)
    if isinstance(conn, torch.nn.Linear):
        dtype = _array(conn.weight).dtype
        twin = eqx.nn.Linear(conn.in_features, conn.out_features, use_bias=conn.bias is not None, key=key, dtype=dtype)
        twin = eqx.tree_at(lambda m: m.weight, twin, _array(conn.weight))
        if conn.bias is not None:
            twin = eqx.tree_at(lambda m: m.bias, twin, _array(conn.bias))
        return twin
    if isinstance(conn, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
        dims = conn.weight.ndim - 2
        if isinstance(conn.padding, str):
            raise ValueError("`spikax_torch.convert.to_spikax`: give the convolution's padding as numbers, not a string.")
        mode = {"zeros": "ZEROS", "reflect": "REFLECT", "replicate": "REPLICATE", "circular": "CIRCULAR"}[
            conn.padding_mode]
        dtype = _array(conn.weight).dtype
        twin = {1: eqx.nn.Conv1d, 2: eqx.nn.Conv2d, 3: eqx.nn.Conv3d}[dims](
            conn.in_channels, conn.out_channels, conn.kernel_size, stride=conn.stride,
            padding=tuple((p, p) for p in conn.padding), dilation=conn.dilation, groups=conn.groups,
            use_bias=conn.bias is not None, padding_mode=mode, key=key, dtype=dtype)
        twin = eqx.tree_at(lambda m: m.weight, twin, _array(conn.weight))
        if conn.bias is not None:
            twin = eqx.tree_at(lambda m: m.bias, twin, _array(conn.bias).reshape((-1,) + (1,) * dims))
        return twin
    if isinstance(conn, torch.nn.Identity):
        return eqx.nn.Identity()
    if isinstance(conn, torch.nn.Sequential):
        return eqx.nn.Sequential([_connection_to_spikax(c) for c in conn])
    pools = (torch.nn.AvgPool1d, torch.nn.AvgPool2d, torch.nn.AvgPool3d, torch.nn.MaxPool1d, torch.nn.MaxPool2d,
             torch.nn.MaxPool3d)
    if isinstance(conn, pools):
        name = type(conn).__name__
        padding = conn.padding
        return getattr(eqx.nn, name)(conn.kernel_size, conn.stride, padding, use_ceil=conn.ceil_mode)
    if isinstance(conn, (tlayers.AbstractLayer, tneurons.AbstractNeuron)):
        return to_spikax(conn)
    raise TypeError(
        f"`spikax_torch.convert.to_spikax`: no spikax twin for connection {type(conn).__name__}. Supported: "
        "torch.nn Linear, Conv1d/2d/3d, Identity, Sequential, AvgPool/MaxPool, and spikax_torch layers."
    )


# -- public -----------------------------------------------------------------------------------


def from_spikax(model):
    """The spikax_torch twin of a spikax model, with the same parameters (copied) and options.

    Works for surrogates, neurons, layers (`Layer`, `Recurrent`, `Stateless`), `Chain` and the
    supported `equinox.nn` connections. Arrays keep their dtype (float64 stays float64).

    **Arguments:**

    - `model`: a spikax (equinox) model.

    **Returns:** the torch twin (a `torch.nn.Module`, or a surrogate).

    **Example:**

    ```python
    import jax, spikax
    net = spikax.Chain([spikax.layers.dense(3, 8, spikax.neurons.LIF(), key=jax.random.key(0))])
    twin = spikax_torch.convert.from_spikax(net)
    ```
    """
    spikax, eqx, _, _ = _jax()
    if isinstance(model, (torch.nn.Module, tsurrogate.AbstractSurrogate)):
        raise TypeError(f"`spikax_torch.convert.from_spikax`: got a torch model ({type(model).__module__}."
                        f"{type(model).__name__}), expected a spikax (JAX) model to copy into torch. To copy a "
                        "spikax_torch model into spikax, use `spikax_torch.convert.to_spikax`.")
    if isinstance(model, spikax.surrogate.AbstractSurrogate):
        return _surrogate_from_spikax(model)
    if isinstance(model, spikax.neurons.AbstractNeuron):
        return _neuron_from_spikax(model)
    if isinstance(model, spikax.Chain):
        return tnetwork.Chain([from_spikax(layer) for layer in model.layers])
    if isinstance(model, spikax.Graph):
        return tnetwork.Graph({n: from_spikax(model.nodes[n]) for n in model.order}, model.edges, model.output)
    if isinstance(model, spikax.layers.Recurrent):
        return tlayers.Recurrent(_connection_from_spikax(model.connection), _connection_from_spikax(model.recurrent),
                                 _neuron_from_spikax(model.neuron))
    if isinstance(model, spikax.layers.Layer):
        return tlayers.Layer(_connection_from_spikax(model.connection), _neuron_from_spikax(model.neuron))
    if isinstance(model, spikax.layers.Stateless):
        return tlayers.Stateless(_connection_from_spikax(model.fn))
    extra = _extra_from_spikax(model)
    if extra is not None:
        return extra
    if isinstance(model, eqx.Module):
        return _connection_from_spikax(model)
    raise TypeError(f"`spikax_torch.convert.from_spikax`: cannot convert a {type(model).__name__}.")


def to_spikax(model):
    """The spikax (JAX) twin of a spikax_torch model, with the same parameters (copied) and options.

    The inverse of [`from_spikax`][spikax_torch.convert.from_spikax]: `to_spikax(from_spikax(m))`
    equals `m` leaf for leaf.

    **Arguments:**

    - `model`: a spikax_torch model (or surrogate).

    **Returns:** the equinox twin.

    **Example:**

    ```python
    twin = spikax_torch.convert.to_spikax(spikax_torch.neurons.LIF(beta=0.8, learnable="beta"))
    ```
    """
    if isinstance(model, tsurrogate.AbstractSurrogate):
        return _surrogate_to_spikax(model)
    if isinstance(model, tneurons.AbstractNeuron):
        return _neuron_to_spikax(model)
    spikax, eqx, _, _ = _jax()
    if isinstance(model, eqx.Module):
        raise TypeError(f"`spikax_torch.convert.to_spikax`: got a JAX/equinox model ({type(model).__module__}."
                        f"{type(model).__name__}), expected a spikax_torch model to copy into spikax. To copy a "
                        "spikax model into torch, use `spikax_torch.convert.from_spikax`.")
    if isinstance(model, tnetwork.Chain):
        return spikax.Chain([to_spikax(layer) for layer in model.layers])
    if isinstance(model, tnetwork.Graph):
        return spikax.Graph({n: to_spikax(model.nodes[n]) for n in model.order}, model.edges, model.output)
    if isinstance(model, tlayers.Recurrent):
        return spikax.layers.Recurrent(_connection_to_spikax(model.connection), _connection_to_spikax(model.recurrent),
                                       _neuron_to_spikax(model.neuron))
    if isinstance(model, tlayers.Layer):
        return spikax.layers.Layer(_connection_to_spikax(model.connection), _neuron_to_spikax(model.neuron))
    if isinstance(model, tlayers.Stateless):
        return spikax.layers.Stateless(_connection_to_spikax(model.fn))
    extra = _extra_to_spikax(model)
    if extra is not None:
        return extra
    if isinstance(model, torch.nn.Module):
        return _connection_to_spikax(model)
    raise TypeError(f"`spikax_torch.convert.to_spikax`: cannot convert a {type(model).__name__}.")


def _extra_from_spikax(model):
    """Delays, flatten, pooling and dropout."""
    spikax, _, _, _ = _jax()
    L = spikax.layers
    if isinstance(model, L.Flatten):
        return tlayers.Flatten()
    if isinstance(model, L.Pool):
        pool = model.pool
        return tlayers.Pool(model.kind, pool.kernel_size, pool.stride, num_spatial_dims=pool.num_spatial_dims,
                            padding=_pairs_to_torch(pool.padding))
    if isinstance(model, L.Dropout):
        return tlayers.Dropout(model.p, inference=bool(model.inference))
    if isinstance(model, L.BNTT):
        twin = tlayers.BNTT(model.weight.shape[0], model.weight.shape[1], eps=model.eps, momentum=model.momentum,
                            axis_name=model.axis_name, inference=bool(model.inference),
                            dtype=_tensor(model.weight).dtype)
        with torch.no_grad():
            twin.weight.copy_(_tensor(model.weight))
            twin.running_mean.copy_(_tensor(model.running_mean))
            twin.running_var.copy_(_tensor(model.running_var))
        return twin
    if isinstance(model, L.Delay):
        twin = tlayers.Delay(model.max_delay, delays=np.asarray(model.delays), learnable=model.learnable,
                             sigma=model.sigma)
        _copy_delays(twin, model.delays)
        return twin
    if isinstance(model, L.DelayedLinear):
        out_features, in_features = model.weight.shape
        twin = tlayers.DelayedLinear(in_features, out_features, model.max_delay, delays=np.asarray(model.delays),
                                     learnable=model.learnable, sigma=model.sigma, use_bias=model.bias is not None,
                                     key=0, dtype=_tensor(model.weight).dtype)
        with torch.no_grad():
            twin.weight.copy_(_tensor(model.weight))
            if model.bias is not None:
                twin.bias.copy_(_tensor(model.bias))
        _copy_delays(twin, model.delays)
        return twin
    return None


def _copy_delays(twin, delays):
    value = _tensor(delays)
    if twin.learnable:
        twin.delays = torch.nn.Parameter(value)
    else:
        twin.delays = value


def _extra_to_spikax(model):
    spikax, eqx, jax, _ = _jax()
    L = spikax.layers
    if isinstance(model, tlayers.Flatten):
        if model.sample_ndim is not None:
            raise ValueError("`spikax_torch.convert.to_spikax`: only `Flatten()` (all axes after the batch) has a "
                             "spikax twin.")
        return L.Flatten()
    if isinstance(model, tlayers.Pool):
        return L.Pool(model.kind, model.kernel_size, model.stride, num_spatial_dims=model.num_spatial_dims,
                      padding=tuple((p, p) for p in model.padding))
    if isinstance(model, tlayers.Dropout):
        return L.Dropout(model.p, inference=model.inference)
    if isinstance(model, tlayers.BNTT):
        twin = L.BNTT(model.weight.shape[0], model.weight.shape[1], eps=model.eps, momentum=model.momentum,
                      axis_name=model.axis_name, inference=model.inference, dtype=_array(model.weight).dtype)
        return eqx.tree_at(lambda b: (b.weight, b.running_mean, b.running_var), twin,
                           (_array(model.weight), _array(model.running_mean), _array(model.running_var)))
    if isinstance(model, (tlayers.Delay, tlayers.DelayedLinear)):
        cls = getattr(L, type(model).__name__)
        twin = object.__new__(cls)
        values = {"delays": _array(model.delays), "max_delay": model.max_delay, "learnable": model.learnable,
                  "sigma": model.sigma}
        if isinstance(model, tlayers.DelayedLinear):
            values["weight"] = _array(model.weight)
            values["bias"] = None if model.bias is None else _array(model.bias)
        for field in dataclasses.fields(cls):
            object.__setattr__(twin, field.name, values[field.name])
        return twin
    return None


def state_from_spikax(state) -> Any:
    """A spikax state (NamedTuples of JAX arrays) as the matching spikax_torch state (of tensors).

    **Example:**

    ```python
    import spikax
    state = spikax_torch.convert.state_from_spikax(spikax.neurons.LIF().init_state((3,)))  # a torch LIFState
    ```
    """
    return _map_state(state, _tensor, _torch_state_class)


def state_to_spikax(state) -> Any:
    """A spikax_torch state as the matching spikax state (JAX arrays); the inverse of `state_from_spikax`.

    **Example:**

    ```python
    state = spikax_torch.convert.state_to_spikax(spikax_torch.neurons.LIF().init_state((3,)))  # a JAX LIFState
    ```
    """
    return _map_state(state, _array, _jax_state_class)


def _torch_state_class(name):
    for module in (tneurons, tlayers):
        if hasattr(module, name):
            return getattr(module, name)
    raise TypeError(f"`spikax_torch.convert`: no torch twin for state {name}.")


def _jax_state_class(name):
    spikax, _, _, _ = _jax()
    for module in (spikax.neurons, spikax.layers, spikax.network):
        if hasattr(module, name):
            return getattr(module, name)
    raise TypeError(f"`spikax_torch.convert`: no spikax twin for state {name}.")


def _map_state(state, leaf_fn, class_for):
    if state is None:
        return None
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        cls = class_for(type(state).__name__)
        return cls(*[_map_state(x, leaf_fn, class_for) for x in state])
    if isinstance(state, (tuple, list)):
        return type(state)(_map_state(x, leaf_fn, class_for) for x in state)
    if isinstance(state, dict):
        return {k: _map_state(v, leaf_fn, class_for) for k, v in state.items()}
    return leaf_fn(state)
