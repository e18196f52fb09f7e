"""spikax.plasticity vs spikax_torch.plasticity: same trains and weights give the same updates and states."""

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import spikax
import spikax_torch

J, T = spikax.plasticity, spikax_torch.plasticity

RULES = {  # name -> (factory taking the plasticity module)
    "stdp": lambda m: m.stdp(0.01, 0.012, 5.0, 7.0, 0.5),
    "stdp_nearest_clipped": lambda m: m.stdp(0.3, 0.2, 5.0, 7.0, interaction="nearest", w_min=-0.2, w_max=0.2),
    "stdp_multiplicative": lambda m: m.stdp(0.01, 0.012, 5.0, 7.0, bounds="multiplicative", w_min=-1.0, w_max=1.0),
    "triplet": lambda m: m.triplet_visual_cortex("all_to_all"),
    "triplet_nearest": lambda m: m.triplet_stdp(0.01, 0.02, 0.012, 0.005, interaction="nearest"),
    "reward_stdp": lambda m: m.reward_modulated(m.stdp(0.01, 0.012, 5.0, 7.0), tau_e=20.0),
    "hebbian": lambda m: m.hebbian(0.1),
    "oja": lambda m: m.oja(0.1),
    "bcm": lambda m: m.bcm(0.1, tau_theta=3.0, theta0=0.5),
    "synaptic_scaling": lambda m: m.synaptic_scaling(0.3, lr=0.1, tau=3.0),
    "chain": lambda m: m.chain(m.triplet_stdp(0.01, 0.02, 0.012, 0.005), m.synaptic_scaling(0.3, lr=0.1, tau=3.0)),
}


def trains(shape_pre, shape_post, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.random((steps,) + shape_pre) < 0.4).astype(np.float64),
            (rng.random((steps,) + shape_post) < 0.4).astype(np.float64), rng.uniform(-1, 1, steps))


def both(name, conv_args, weights, pre, post, rewards, input_shape=None):
    """Run the JAX and the torch rule over the trains; return (jax dws, torch dws, jax state, torch state)."""
    j_rule, t_rule = RULES[name](J), RULES[name](T)
    if conv_args is not None:
        j_rule, t_rule = J.conv(j_rule, **conv_args), T.conv(t_rule, **conv_args)
    j_w, t_w = jnp.asarray(weights), torch.as_tensor(weights)
    j_state, t_state = j_rule.init(j_w, input_shape), t_rule.init(t_w, input_shape)
    j_dws, t_dws = [], []
    for t in range(pre.shape[0]):
        reward = float(rewards[t]) if name.startswith("reward") else None
        dw, j_state = j_rule.update(jnp.asarray(pre[t]), jnp.asarray(post[t]), j_state, j_w, reward)
        j_dws.append(np.asarray(dw))
        dw, t_state = t_rule.update(torch.as_tensor(pre[t]), torch.as_tensor(post[t]), t_state, t_w, reward)
        t_dws.append(dw.numpy())
    return np.stack(j_dws), np.stack(t_dws), j_state, t_state


def state_leaves(state):
    if isinstance(state, torch.Tensor):
        return [state.numpy()]
    if hasattr(state, "shape"):
        return [np.asarray(state)]
    return [leaf for item in state for leaf in state_leaves(item)]


@pytest.mark.parametrize("name", list(RULES))
def test_dense_rules_agree(name):
    pre, post, rewards = trains((5,), (3,))
    weights = np.random.default_rng(1).uniform(-0.2, 0.2, (3, 5))
    j_dws, t_dws, j_state, t_state = both(name, None, weights, pre, post, rewards)
    assert np.abs(j_dws).max() > 0
    np.testing.assert_allclose(t_dws, j_dws, rtol=1e-12, atol=1e-14)
    for a, b in zip(state_leaves(j_state), state_leaves(t_state), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["stdp", "stdp_multiplicative", "triplet", "oja", "reward_stdp"])
@pytest.mark.parametrize("conv_args", [dict(), dict(stride=2, padding=1), dict(stride=(1, 2), padding=((1, 0), (0, 2)),
                                                                             dilation=(2, 1))],
                         ids=["plain", "stride_padding", "asymmetric_dilated"])
def test_conv_rules_agree(name, conv_args):
    x_shape = (2, 7, 6)
    kernel = np.random.default_rng(2).uniform(-0.2, 0.2, (3, 2, 3, 2))
    pre, post, rewards = trains(x_shape, (3,) + _out(x_shape, kernel.shape, conv_args))
    j_dws, t_dws, j_state, t_state = both(name, conv_args, kernel, pre, post, rewards, x_shape)
    assert np.abs(j_dws).max() > 0
    np.testing.assert_allclose(t_dws, j_dws, rtol=1e-12, atol=1e-14)
    for a, b in zip(state_leaves(j_state), state_leaves(t_state), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def _out(x_shape, k_shape, args):
    """Output spatial shape of a convolution (the textbook formula)."""
    n = len(x_shape) - 1
    stride = args.get("stride", 1)
    stride = (stride,) * n if isinstance(stride, int) else stride
    dilation = args.get("dilation", 1)
    dilation = (dilation,) * n if isinstance(dilation, int) else dilation
    padding = args.get("padding", 0)
    padding = ((padding, padding),) * n if isinstance(padding, int) else padding
    return tuple((x_shape[1 + d] + sum(padding[d]) - dilation[d] * (k_shape[2 + d] - 1) - 1) // stride[d] + 1
                 for d in range(n))


def test_short_term_and_homeostasis_agree():
    pre, _, _ = trains((4,), (1,), steps=30)
    j_stp, t_stp = J.tsodyks_markram(0.3, 50.0, 20.0), T.tsodyks_markram(0.3, 50.0, 20.0)
    j_state, t_state = j_stp.init((4,), jnp.float64), t_stp.init((4,), torch.float64)
    for t in range(pre.shape[0]):
        j_r, j_state = j_stp.update(jnp.asarray(pre[t]), j_state)
        t_r, t_state = t_stp.update(torch.as_tensor(pre[t]), t_state)
        np.testing.assert_allclose(t_r.numpy(), np.asarray(j_r), rtol=1e-12)
    j_thr, t_thr = J.adaptive_threshold(0.1, 10.0), T.adaptive_threshold(0.1, 10.0)
    j_s, t_s = j_thr.init((4,), jnp.float64), t_thr.init((4,), torch.float64)
    for t in range(pre.shape[0]):
        j_theta, j_s = j_thr.update(jnp.asarray(pre[t]), j_s)
        t_theta, t_s = t_thr.update(torch.as_tensor(pre[t]), t_s)
    np.testing.assert_allclose(t_theta.numpy(), np.asarray(j_theta), rtol=1e-12)
    x = np.random.default_rng(3).normal(size=(3, 4, 4))
    np.testing.assert_array_equal(T.kwta(torch.as_tensor(x), 2).numpy(), np.asarray(J.kwta(jnp.asarray(x), 2)))
    np.testing.assert_allclose(T.lateral_inhibition(torch.as_tensor(x), 0.3).numpy(),
                               np.asarray(J.lateral_inhibition(jnp.asarray(x), 0.3)), rtol=1e-12)
    for ord in (1, 2):
        np.testing.assert_allclose(T.normalize_weights(torch.as_tensor(x), 2.0, ord=ord).numpy(),
                                   np.asarray(J.normalize_weights(jnp.asarray(x), 2.0, ord=ord)), rtol=1e-12)


def test_hebbian_loss_gradients_agree():
    torch_conv = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1, dtype=torch.float64)
    x = torch.rand(2, 7, 7, dtype=torch.float64)
    post = torch.rand(3, 4, 4, dtype=torch.float64)
    T.hebbian_loss(torch_conv, x, post).backward()
    rule = J.conv(J.hebbian(1.0), stride=2, padding=1)
    kernel = jnp.asarray(torch_conv.weight.detach().numpy())
    dw, _ = rule.update(jnp.asarray(x.numpy()), jnp.asarray(post.numpy()), rule.init(kernel, (2, 7, 7)), kernel)
    np.testing.assert_allclose(-torch_conv.weight.grad.numpy(), np.asarray(dw), rtol=1e-10, atol=1e-13)
