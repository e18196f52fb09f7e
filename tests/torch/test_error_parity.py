"""Error parity: every documented bad input of a neuron or surrogate raises the same error class
with the same message in spikax and spikax_torch (both take their rules from `spikax_spec`).

The cases are the shared table `tests/cases.py::ERROR_CASES`; the messages may differ only in the
package name that opens them (`spikax.neurons.LIF` vs `spikax_torch.neurons.LIF`).
"""

import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import spikax  # noqa: E402
import spikax_torch  # noqa: E402
from cases import ERROR_CASES, ERROR_IDS, SURROGATE_BAD_VALUES, build  # noqa: E402


def _raised(package, target, kwargs):
    with pytest.raises(Exception) as info:
        build(package, target, kwargs)
    return info.value


@pytest.mark.parametrize("target, kwargs, error, pattern", ERROR_CASES, ids=ERROR_IDS)
def test_same_error_class_and_message_in_both_packages(target, kwargs, error, pattern):
    jax_error = _raised(spikax, target, kwargs)
    torch_error = _raised(spikax_torch, target, kwargs)
    assert type(jax_error) is type(torch_error) is error, (type(jax_error), type(torch_error))
    jax_message, torch_message = str(jax_error), str(torch_error)
    assert jax_message.startswith(f"`spikax.{target}`: "), jax_message
    assert torch_message.startswith(f"`spikax_torch.{target}`: "), torch_message
    assert torch_message.replace("spikax_torch.", "spikax.") == jax_message
    assert re.search(pattern, torch_message), torch_message


def test_every_hyperparameter_of_every_surrogate_has_a_bad_input_case():
    import spikax_spec

    for package in (spikax, spikax_torch):
        for surrogate in package.surrogate.ALL_SURROGATES:
            name = type(surrogate).__name__
            assert set(SURROGATE_BAD_VALUES[name]) == set(spikax_spec.SURROGATES[name]), name


def test_torch_dtype_mismatch_names_the_model_dtype():
    """torch does not promote float64 input against float32 weights; the message says which dtype the model has."""
    layer = spikax_torch.layers.dense(3, 4, spikax_torch.neurons.LIF(), dtype=torch.float32)
    x = torch.ones(2, 3, dtype=torch.float64)
    pattern = (r"`spikax_torch.layers.Layer`: the input has dtype torch.float64 but the model's parameters have "
               r"dtype torch.float32.*`x.to\(torch.float32\)`.*`dtype=torch.float64`")
    with pytest.raises(TypeError, match=pattern):
        layer(None, x)
    with pytest.raises(TypeError, match=pattern):
        spikax_torch.run(layer, None, x[None].expand(5, 2, 3))
    recurrent = spikax_torch.layers.recurrent_dense(3, 4, spikax_torch.neurons.LIF(), dtype=torch.float32)
    with pytest.raises(TypeError, match=r"layers.Recurrent`: the input has dtype torch.float64.*torch.float32"):
        spikax_torch.run(recurrent, None, x[None].expand(5, 2, 3))


def test_the_spec_imports_without_jax_or_torch():
    code = "import sys, spikax_spec; assert 'jax' not in sys.modules and 'torch' not in sys.modules, sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True)
    # and sharing it does not make the torch package load JAX
    code = "import sys, spikax_torch; assert 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module", ["neurons", "surrogate"])
def test_constructors_have_the_same_signature_in_both_packages(module):
    """Same argument names, order, kinds and defaults (the defaults themselves come from `spikax_spec`)."""
    import inspect

    every = {"neurons": spikax.neurons.ALL_NEURONS, "surrogate": spikax.surrogate.ALL_SURROGATES}[module]
    for obj in every:
        name = type(obj).__name__
        jax_sig = inspect.signature(getattr(getattr(spikax, module), name))
        torch_sig = inspect.signature(getattr(getattr(spikax_torch, module), name))
        describe = lambda sig: [(p.name, p.kind, p.default) for p in sig.parameters.values()]  # noqa: E731
        assert describe(jax_sig) == describe(torch_sig), name
