"""Helpers for the JAX-vs-PyTorch parity tests."""

import jax
import jax.numpy as jnp
import numpy as np
import torch

TOL = {  # (rtol, atol) for values and for gradients, per dtype
    "float32": {"value": (1e-6, 1e-6), "grad": (1e-5, 1e-5)},
    "float64": {"value": (1e-12, 1e-12), "grad": (1e-10, 1e-10)},
}
JAX_DTYPE = {"float32": jnp.float32, "float64": jnp.float64}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}


def to_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def leaves(tree):
    """Array leaves of a JAX or torch state (None skipped), as NumPy arrays."""
    if isinstance(tree, torch.Tensor) or hasattr(tree, "shape"):
        return [to_np(tree)]
    if tree is None:
        return []
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in leaves(item)]
    raise TypeError(type(tree))


def assert_close(a, b, rtol, atol, what=""):
    la, lb = leaves(a), leaves(b)
    assert len(la) == len(lb), f"{what}: {len(la)} vs {len(lb)} leaves"
    for i, (x, y) in enumerate(zip(la, lb)):
        assert x.shape == y.shape, f"{what} leaf {i}: shapes {x.shape} vs {y.shape}"
        assert x.dtype == y.dtype, f"{what} leaf {i}: dtypes {x.dtype} vs {y.dtype}"
        # atol scales with the leaf's size so that big-valued states (AdEx, mV) compare relatively.
        scale = max(1.0, float(np.max(np.abs(y))) if y.size else 1.0)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol * scale, err_msg=f"{what} leaf {i}")


def tree_to_jax(tree):
    return jax.tree_util.tree_map(lambda t: jnp.asarray(to_np(t)), tree)
