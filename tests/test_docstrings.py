"""Every ```python example in a spikax docstring runs, with exactly the documented names defined.

The names are `jax`, `jnp`, `np`, `eqx`, `optax`, `spikax` and `key = jax.random.key(0)`; nothing
else, so an example that uses a name it never defines fails here. Every public module of every
subpackage is found with `pkgutil` (new subpackages are picked up without editing this file),
and in each: the module docstring, its public names, and the public methods of its classes.
"""

import importlib
import inspect
import pkgutil
import re
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import spikax

EXAMPLE = re.compile(r"```python\n(.*?)```", re.S)


def public_modules():
    """`spikax` and every module under it whose dotted name has no private (`_x`) part."""
    names = []
    for info in pkgutil.walk_packages(spikax.__path__, "spikax.", onerror=lambda name: None):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names + ["spikax"]  # last: a re-exported name counts for the subpackage that defines it


def _documented(module):
    """(label, object) for the module, its public names defined in spikax, and their public methods."""
    yield module.__name__, module
    for name in sorted(getattr(module, "__all__", None) or dir(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not str(getattr(obj, "__module__", "") or "").startswith("spikax"):
            continue
        yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if (attr.startswith("_") and attr not in ("__call__", "__init__")) or not (
                        inspect.isfunction(member) or isinstance(member, (property, staticmethod, classmethod))):
                    continue
                yield f"{module.__name__}.{name}.{attr}", member


def _examples():
    seen, params = set(), []
    for module_name in public_modules():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:  # an optional dependency (e.g. matplotlib, nir) is missing
            if error.name and error.name.split(".")[0] == "spikax":
                raise
            params.append(pytest.param(None, id=module_name, marks=pytest.mark.skip(
                reason=f"{module_name} needs {error.name}, which is not installed")))
            continue
        for label, obj in _documented(module):
            target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
            if id(target) in seen:
                continue
            seen.add(id(target))
            doc = inspect.getdoc(target) or ""
            for i, block in enumerate(EXAMPLE.findall(doc)):
                params.append(pytest.param(textwrap.dedent(block), id=f"{label}-{i}"))
    return params


EXAMPLES = _examples()


def namespace():
    return {"jax": jax, "jnp": jnp, "np": np, "eqx": eqx, "optax": optax, "spikax": spikax,
            "key": jax.random.key(0)}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Examples write files into a fresh folder, never download, register tasks only for themselves, close figures."""
    from spikax.datasets import _files
    from spikax.training import _tasks

    def no_download(url, dest, timeout=60.0):
        raise OSError("the test suite never downloads")

    monkeypatch.setattr(_files, "_download", no_download)
    monkeypatch.setenv("SPIKAX_CACHE", str(tmp_path / "cache"))  # data come from $SPIKAX_DATA only
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(_tasks, "_TASKS", dict(_tasks._TASKS))
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.mark.standard_promotion  # examples are user code, run with JAX's default promotion
@pytest.mark.parametrize("code", EXAMPLES)
def test_docstring_example_runs(code, isolated):
    try:
        exec(compile(code, "<docstring example>", "exec"), namespace())
    except FileNotFoundError as error:
        # Loaders of real data sets need their files; with `$SPIKAX_DATA` holding them (as in CI) these run.
        if "spikax.datasets" in code and "`spikax.datasets." in str(error):
            pytest.skip(f"reason: the example reads a data set that is not on this machine ({error})")
        raise


def test_examples_are_found_in_every_subpackage():
    """The discovery sees every subpackage (a renamed or new one cannot drop out silently)."""
    packages = {name.split(".")[1] for name in public_modules() if name.count(".") >= 1}
    expected = {"surrogate", "neurons", "layers", "network", "loop", "online", "encoding", "losses", "datasets",
                "training", "plotting"}
    assert expected <= packages, expected - packages
    with_examples = {p.id.split(".")[1] for p in EXAMPLES if p.values[0] is not None and p.id.count(".") >= 1}
    assert expected <= with_examples, expected - with_examples
    assert len(EXAMPLES) > 100
