"""Every notebook in `notebooks/` is executed, top to bottom, in a fresh kernel (small sizes).

Notebooks read `SPIKAX_NOTEBOOK_SMALL` and shrink their sizes when it is set. The kernel is
`python3` started from the interpreter running the tests (jupyter_client swaps a bare
`python` in the kernel spec for `sys.executable`), so it sees the same installed packages.
"""

import pathlib

import pytest

from conftest import REPO

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install spikax[notebooks])")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install spikax[notebooks])")

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 600  # per cell


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: pathlib.Path, monkeypatch):
    monkeypatch.setenv("SPIKAX_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the repository's spikax, even if not installed
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}")
