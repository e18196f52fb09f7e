"""Every ```python example in a spikax_torch docstring runs."""

import dataclasses
import importlib
import inspect
import math
import re
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikax_torch  # noqa: E402

MODULES = ["", ".surrogate", ".neurons", ".layers", ".network", ".loop", ".encoding", ".losses", ".online", ".convert", ".plasticity"]


def _examples():
    seen, found = set(), []
    for suffix in MODULES:
        module = importlib.import_module("spikax_torch" + suffix)
        for obj in [module] + [getattr(module, n) for n in dir(module) if not n.startswith("_")]:
            if id(obj) in seen or isinstance(obj, (tuple, int, float, str)):
                continue
            seen.add(id(obj))
            for i, block in enumerate(re.findall(r"```python\n(.*?)```", inspect.getdoc(obj) or "", re.S)):
                found.append(pytest.param(textwrap.dedent(block), id=f"{getattr(obj, '__name__', '?')}-{i}"))
    return found


@pytest.mark.standard_promotion  # some examples build spikax (JAX) models with default dtypes
@pytest.mark.parametrize("code", _examples())
def test_docstring_example_runs(code):
    exec(code, {"torch": torch, "spikax_torch": spikax_torch, "math": math, "np": np, "dataclasses": dataclasses})
