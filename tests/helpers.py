"""Small helpers shared by tests."""

import jax
import jax.numpy as jnp
import numpy as np


def type_name(obj) -> str:
    """A readable pytest id: the class name of an object (or the object itself if a type)."""
    return obj.__name__ if isinstance(obj, type) else type(obj).__name__


def tree_allclose(a, b, rtol=1e-7, atol=0.0) -> bool:
    """True when two pytrees have the same structure and all leaves are close."""
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    if ta != tb:
        return False
    return all(np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol) for x, y in zip(la, lb))


def assert_tree_allclose(a, b, rtol=1e-7, atol=0.0):
    """Assert two pytrees match leaf by leaf, with a message naming the first bad leaf."""
    paths_a = jax.tree_util.tree_flatten_with_path(a)[0]
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    assert jax.tree_util.tree_structure(a) == tree_b, "pytree structures differ"
    for (path, x), y in zip(paths_a, leaves_b):
        np.testing.assert_allclose(
            np.asarray(x), np.asarray(y), rtol=rtol, atol=atol, err_msg=jax.tree_util.keystr(path)
        )


def cosine(a, b) -> float:
    """Cosine similarity of two pytrees (flattened)."""
    fa = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(a)])
    fb = jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(b)])
    return float(jnp.vdot(fa, fb) / (jnp.linalg.norm(fa) * jnp.linalg.norm(fb)))
