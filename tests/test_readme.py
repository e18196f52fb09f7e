"""The README's examples run as written (the ones before the training section; those train for minutes)."""

import re

import pytest

from conftest import REPO


def readme_examples():
    text = (REPO / "README.md").read_text()
    head = text.split("## Train", 1)[0]
    return re.findall(r"```python\n(.*?)```", head, flags=re.S)


@pytest.mark.standard_promotion  # user code runs with JAX's default promotion
@pytest.mark.parametrize("index", range(len(readme_examples())))
def test_readme_example_runs(index):
    namespace = {}
    exec(compile(readme_examples()[index], f"README example {index}", "exec"), namespace)
    if "online_grads" in namespace:  # the online learner's gradient is shaped like the parameters
        import jax

        structure = jax.tree_util.tree_structure(namespace["params"])
        assert jax.tree_util.tree_structure(namespace["online_grads"]) == structure
    else:
        assert "spikes" in namespace
