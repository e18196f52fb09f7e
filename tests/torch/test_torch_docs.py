"""Every ```python example in a spikax_torch docstring runs, with exactly the documented names defined.

The names are `torch`, `spikax_torch`, `np` and `math`; nothing else. Every public module of every
subpackage is found with `pkgutil` (a new subpackage is picked up without editing this file), and
in each: the module docstring, its public names, and the public methods of its classes.
"""

import importlib
import inspect
import math
import pkgutil
import re
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax_torch  # noqa: E402

EXAMPLE = re.compile(r"```python\n(.*?)```", re.S)


def public_modules():
    names = []
    for info in pkgutil.walk_packages(spikax_torch.__path__, "spikax_torch.", onerror=lambda name: None):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names + ["spikax_torch"]  # last: a re-exported name counts for the subpackage that defines it


def _documented(module):
    yield module.__name__, module
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not str(getattr(obj, "__module__", "") or "").startswith("spikax_torch"):
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
        except ModuleNotFoundError as error:  # an optional dependency is missing
            if error.name and error.name.split(".")[0].startswith("spikax"):
                raise
            params.append(pytest.param(None, id=module_name, marks=pytest.mark.skip(
                reason=f"{module_name} needs {error.name}, which is not installed")))
            continue
        for label, obj in _documented(module):
            target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
            if id(target) in seen:
                continue
            seen.add(id(target))
            for i, block in enumerate(EXAMPLE.findall(inspect.getdoc(target) or "")):
                params.append(pytest.param(textwrap.dedent(block), id=f"{label}-{i}"))
    return params


EXAMPLES = _examples()


@pytest.mark.standard_promotion  # some examples build spikax (JAX) models with default dtypes
@pytest.mark.parametrize("code", EXAMPLES)
def test_docstring_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<docstring example>", "exec"), {"torch": torch, "spikax_torch": spikax_torch, "np": np,
                                                         "math": math})


def test_examples_are_found_in_every_subpackage():
    packages = {name.split(".")[1] for name in public_modules() if "." in name}
    expected = {"surrogate", "neurons", "layers", "network", "loop", "encoding", "losses", "online", "convert"}
    assert expected <= packages, expected - packages
    with_examples = {p.id.split(".")[1] for p in EXAMPLES if p.values[0] is not None and "." in p.id.split("-")[0]}
    assert expected <= with_examples, expected - with_examples
