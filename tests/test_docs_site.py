"""The API site builds from the docstrings with `mkdocs build --strict`: every cross-reference resolves."""

import shutil
import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install spikax[docs])")
pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] is not installed")
pytest.importorskip("material", reason="mkdocs-material is not installed")


@pytest.mark.slow
def test_site_builds_strict(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    problems = [line for line in result.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert result.returncode == 0, "\n".join(problems) or result.stderr[-3000:]
    for page in ("api/layers/index.html", "api/online/index.html", "online_learning/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    layers = (tmp_path / "site" / "api/layers/index.html").read_text()
    assert 'id="spikax.layers.dense"' in layers  # public names are documented under their public path
    shutil.rmtree(tmp_path / "site")


def test_user_facing_text_names_only_documents_in_the_repository():
    """README, guides, notebooks, docstrings and benchmark notes name only documents a reader of
    the repository can open: every `*.md` they mention exists in it, and no relative path leads
    out of it."""
    import re

    skip = {".git", ".venv", ".ci-venv", ".ci-brian2", "site", "node_modules"}
    documents = {p.name for p in REPO.rglob("*.md") if not skip & set(p.relative_to(REPO).parts)}
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "notebooks").glob("*.ipynb"))]
    for folder in ("spikax", "spikax_torch", "spikax_spec", "benchmarks"):
        files += sorted((REPO / folder).rglob("*.py")) + sorted((REPO / folder).rglob("*.md"))
    offending = []
    for path in files:
        text = path.read_text()
        offending += [f"{path.relative_to(REPO)}: {name}" for name in sorted(set(re.findall(r"[\w./-]*\w\.md\b", text)))
                      if name.rsplit("/", 1)[-1] not in documents | {"NAME.md"}]  # NAME: a placeholder
        for up in sorted(set(re.findall(r"(?:\.\./)+[\w.-]+", text))):
            if not (path.parent / up).resolve().is_relative_to(REPO):
                offending.append(f"{path.relative_to(REPO)}: {up}")
    assert not offending, offending


@pytest.mark.standard_promotion  # user code runs with JAX's default promotion
@pytest.mark.parametrize("guide", sorted(p.name for p in (REPO / "docs").glob("*.md")))
def test_guide_examples_run(guide, tmp_path, monkeypatch):
    """Every ```python block of a guide runs as written, in a fresh namespace."""
    import re

    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", (REPO / "docs" / guide).read_text(), flags=re.S)):
        exec(compile(code, f"docs/{guide} example {i}", "exec"), {})
