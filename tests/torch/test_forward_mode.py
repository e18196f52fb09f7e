"""Forward mode through spikax_torch networks: `torch.func.jvp`, `jacfwd`, `forward_ad` and `vmap`
agree with reverse mode, because the spike function carries its own `jvp` rule."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.autograd.forward_ad as fwAD  # noqa: E402

import spikax_torch  # noqa: E402
from spikax_torch import neurons as N  # noqa: E402
from spikax_torch.layers import Layer, Recurrent, dense  # noqa: E402

T, B = 15, 4


def _network():
    torch.manual_seed(0)
    net = spikax_torch.Chain([
        dense(3, 8, N.LIF(learnable=("beta", "threshold")), key=1),
        Recurrent(torch.nn.Linear(8, 6), torch.nn.Linear(6, 6, bias=False), N.ALIF(learnable=("alpha", "beta_a"))),
        Layer(torch.nn.Linear(6, 2), N.LI(learnable="beta")),
    ]).double()
    with torch.no_grad():
        for p in net.parameters():
            if p.ndim == 2:
                p.mul_(3.0)
    xs = torch.rand(T, B, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2
    return net, xs


def _loss(net, params, xs):
    class Runner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, xs):
            return spikax_torch.run(self.net, None, xs)[1]

    ys = torch.func.functional_call(Runner(), {"net." + k: v for k, v in params.items()}, (xs,))
    return (ys**2).sum()


def test_jvp_through_a_multilayer_network_equals_reverse_mode_along_the_direction():
    net, xs = _network()
    params = {k: v.detach() for k, v in net.named_parameters()}
    gen = torch.Generator().manual_seed(2)
    direction = {k: torch.randn(v.shape, dtype=v.dtype, generator=gen) for k, v in params.items()}
    x_direction = torch.randn(xs.shape, dtype=xs.dtype, generator=gen)
    value, forward = torch.func.jvp(lambda p, x: _loss(net, p, x), (params, xs), (direction, x_direction))
    grads, x_grad = torch.func.grad(lambda p, x: _loss(net, p, x), argnums=(0, 1))(params, xs)
    reverse = sum((grads[k] * direction[k]).sum() for k in params) + (x_grad * x_direction).sum()
    assert value > 0 and abs(float(reverse)) > 1e-3  # spikes flow and the surrogate path matters
    np.testing.assert_allclose(float(forward), float(reverse), rtol=1e-10)
    # the same through plain autograd (loss.backward) on the module itself
    net.zero_grad()
    (spikax_torch.run(net, None, xs)[1] ** 2).sum().backward()
    for k, p in net.named_parameters():
        np.testing.assert_allclose(p.grad, grads[k], rtol=1e-12, atol=1e-14)


def test_jacfwd_equals_jacrev():
    net, xs = _network()
    params = {k: v.detach() for k, v in net.named_parameters()}
    small = {k: v for k, v in params.items() if v.ndim < 2}  # the neuron parameters and biases

    def outputs(small):
        return _per_output(net, {**params, **small}, xs[:6])

    forward = torch.func.jacfwd(outputs)(small)
    reverse = torch.func.jacrev(outputs)(small)
    for k in small:
        np.testing.assert_allclose(forward[k], reverse[k], rtol=1e-10, atol=1e-12)


def _per_output(net, params, xs):
    class Runner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, xs):
            return spikax_torch.run(self.net, None, xs)[1]

    return torch.func.functional_call(Runner(), {"net." + k: v for k, v in params.items()}, (xs,)).sum(0)


def test_forward_ad_dual_numbers_through_run():
    net, xs = _network()
    tangent = torch.ones_like(xs)
    with fwAD.dual_level():
        _, ys = spikax_torch.run(net, None, fwAD.make_dual(xs, tangent))
        jvp = fwAD.unpack_dual((ys**2).sum()).tangent
    xs_leaf = xs.clone().requires_grad_()
    (spikax_torch.run(net, None, xs_leaf)[1] ** 2).sum().backward()
    np.testing.assert_allclose(float(jvp.detach()), float((xs_leaf.grad * tangent).sum()), rtol=1e-10)


def test_vmap_over_samples_equals_the_native_batch():
    net, xs = _network()
    _, native = spikax_torch.run(net, None, xs)
    per_sample = torch.func.vmap(lambda x: spikax_torch.run(net, None, x)[1], in_dims=1, out_dims=1)(xs)
    np.testing.assert_allclose(per_sample.detach(), native.detach(), rtol=1e-12, atol=1e-14)
