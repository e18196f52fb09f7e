"""Every notebook in `notebooks/` is executed, top to bottom, in a fresh kernel (small sizes), and
what it prints is checked: its networks spike, and its claims hold.

Notebooks read `SPIKAX_NOTEBOOK_SMALL` and shrink their sizes when it is set. The kernel is
`python3` started from the interpreter running the tests (jupyter_client swaps a bare
`python` in the kernel spec for `sys.executable`), so it sees the same installed packages.
The kernel cannot download anything (its HTTP(S) proxy is a closed local port) and has an
empty download cache, so a notebook sees exactly the data in `$SPIKAX_DATA`, as on a fresh
clone without internet when that folder is empty.

To add a notebook: add an entry to `CHECKS` with what its printed output must show.
"""

import pathlib
import re

import numpy as np
import pytest

from conftest import REPO, data_dir

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install spikax[notebooks])")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install spikax[notebooks])")

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
TIMEOUT_S = 600  # per cell
NUMBER = r"([-+0-9.eE]+)"


def numbers(pattern: str, text: str) -> list[float]:
    """The numbers captured by `pattern` in `text` (its first match); fails when it is absent."""
    match = re.search(pattern, text)
    assert match, f"the notebook no longer prints {pattern!r}"
    return [float(g) for g in match.groups()]


def check_quickstart(out: str) -> None:
    counts = numbers(r"spike counts: \[\s*" + NUMBER + r"\s+" + NUMBER + r"\s+" + NUMBER + r"\]", out)
    assert counts[0] == 0 and counts[1] > 0 and counts[2] > counts[1]  # 0.5 stays below threshold; 1.5, 3.0 fire
    layer1, layer2 = numbers(r"hidden spikes: layer 1 (\d+), layer 2 (\d+)", out)
    assert layer1 > 0 and layer2 > 0
    (norm,) = numbers(r"gradient norm of the first layer's weights: " + NUMBER, out)
    assert norm > 1e-3
    reverse, forward = numbers(r"d loss / d gain: reverse " + NUMBER + ", forward " + NUMBER, out)
    assert reverse != 0 and np.isclose(reverse, forward, rtol=1e-4)
    assert "reverse and forward mode agree" in out
    assert "checkpointed == BPTT: True" in out
    (graph_spikes,) = numbers(r"graph output: \(\d+, \d+\) spikes: (\d+)", out)
    assert graph_spikes > 0


def check_training(out: str) -> None:
    (source,) = re.findall(r"data: (.*)", out)
    has_file = (data_dir() / "digits" / "digits.csv.gz").is_file()
    assert ("scikit-learn's 8x8 digits" in source) == has_file, source
    assert has_file or "generated stand-in" in source  # the fallback says so
    (fresh,) = numbers(r"hidden spikes of the untrained network on one image: (\d+)", out)
    assert fresh > 0
    (trained,) = numbers(r"hidden spikes of the trained network on one test image: (\d+)", out)
    assert trained > 0
    (accuracy,) = numbers(r"test accuracy: " + NUMBER + " %", out)
    assert accuracy > 20  # chance is 10 %


def check_online(out: str) -> None:
    (rel,) = numbers(r"max relative difference RTRL vs BPTT: " + NUMBER, out)
    assert rel < 1e-9  # "RTRL equals BPTT"
    (rate,) = numbers(r"initial firing rate: " + NUMBER, out)
    assert rate > 0.005
    before, after = numbers(r"e-prop: mean loss per step " + NUMBER + " -> " + NUMBER, out)
    assert after < before  # e-prop learns online


def check_plasticity(out: str) -> None:
    (source,) = re.findall(r"data: (\w+)", out)
    learned, random = numbers(r"learned kernels: " + NUMBER, out) + numbers(r"random kernels:  " + NUMBER, out)
    assert learned > 0.5 and random > 0.5  # chance is 0.1
    if source == "MNIST":
        assert learned > random and "learned features win: True" in out
    first, last = numbers(r"better arm chosen: first 50 trials " + NUMBER + ", last 50 trials " + NUMBER, out)
    assert last > 0.8 and last > first  # reward-modulated STDP learns the better arm


def check_nir_loihi(out: str) -> None:
    (source,) = re.findall(r"data: (.*?); hidden", out)
    has_file = (data_dir() / "braille" / "braille_taxel.npz").is_file()
    assert ("Braille" in source) == has_file, source
    assert has_file or "generated stand-in" in source  # the fallback says so
    (spikes,) = numbers(r"output spikes of the float model on the test set: (\d+)", out)
    assert spikes > 0
    equal = [float(x) for x in re.findall(r"spikes equal to spikax: " + NUMBER + " %", out)]
    assert len(equal) >= 3 and all(e == 100 for e in equal)  # re-imported, spikax_torch and each installed peer
    (float_acc,) = numbers(r"float model: +" + NUMBER + " %", out)
    (loihi_acc,) = numbers(r"Loihi integer emulation: +" + NUMBER + " %", out)
    assert 0 <= float_acc <= 100 and 0 <= loihi_acc <= 100


# notebook file name -> a function checking its printed output
CHECKS = {
    "01_quickstart.ipynb": check_quickstart,
    "02_training.ipynb": check_training,
    "03_online_learning.ipynb": check_online,
    "04_nir_and_loihi.ipynb": check_nir_loihi,
    "05_plasticity.ipynb": check_plasticity,
}


def printed(notebook) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def test_every_notebook_is_checked():
    missing = [p.name for p in NOTEBOOKS if p.name not in CHECKS]
    assert not missing, f"add an entry to CHECKS in tests/test_notebooks.py for {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: pathlib.Path, monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKAX_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the repository's spikax, even if not installed
    monkeypatch.setenv("SPIKAX_DATA", str(data_dir()))
    monkeypatch.setenv("SPIKAX_CACHE", str(tmp_path / "cache"))  # empty: only $SPIKAX_DATA counts
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # no downloads: connections are refused at once
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}")
    if path.name not in CHECKS:
        pytest.fail(f"{path.name} ran, but nothing checks what it printed: add an entry to CHECKS in "
                    "tests/test_notebooks.py (its networks spike, its claims hold)")
    CHECKS[path.name](printed(notebook))
