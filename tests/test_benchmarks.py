"""Smoke test of the benchmark suite: quick runs write their JSON and markdown, and the compared models agree."""

import json
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

suite = pytest.importorskip("benchmarks.__main__", reason="the benchmarks/ folder is not importable")


def _result(folder, name):
    assert (folder / f"{name}.md").read_text().startswith(f"# {name}\n\nMachine: ")
    return json.loads((folder / f"{name}.json").read_text())


def test_lif_sweep_quick_spikax_matches_the_bare_scan(tmp_path):
    import spikax.cli

    status = spikax.cli.main(["bench", "lif_sweep", "--quick", "--no-sweep", "--layers", "1", "--no-peers",
                              "--out", str(tmp_path)])
    assert status in (0, None)
    result = _result(tmp_path, "lif_sweep")
    (row,) = result["rows"]
    assert set(row["ms"]) == {"spikax", "bare lax.scan"}
    assert row["spike_counts"]["spikax"] == row["spike_counts"]["bare lax.scan"] > 0
    assert all(row["counts_match"].values())
    assert row["limit_ms"] > 0 and "cpu" in result["machine"]


@pytest.mark.peers
@pytest.mark.filterwarnings("ignore")  # third-party peers warn about their own deprecations
def test_lif_sweep_quick_peers_reproduce_the_matched_spike_counts(tmp_path):
    pytest.importorskip("torch")
    assert suite.main(["lif_sweep", "--quick", "--no-sweep", "--layers", "1", "--out", str(tmp_path)]) == 0
    (row,) = _result(tmp_path, "lif_sweep")["rows"]
    assert "spikax_torch" in row["ms"]
    assert all(row["counts_match"].values()), (row["spike_counts"], row["reference_counts"])


def test_threshold_quick_same_spikes_and_forward_mode(tmp_path):
    assert suite.main(["threshold", "--quick", "--out", str(tmp_path)]) == 0
    rows = {r["implementation"]: r for r in _result(tmp_path, "threshold")["rows"]}
    assert all(r["same_spikes"] and r["gradient_max_rel_diff"] < 1e-5 for r in rows.values())
    assert rows["custom_jvp (spikax)"]["forward_mode"] == "works"
    assert rows["custom_vjp"]["forward_mode"].startswith("fails")


def test_unknown_benchmark_is_refused(capsys):
    assert suite.main(["nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_spikax_bench_without_the_suite_says_where_it_lives(monkeypatch, capsys):
    import spikax._bench_cli
    import spikax.cli

    monkeypatch.setattr(spikax._bench_cli, "_suite", lambda: None)
    assert spikax.cli.main(["bench", "lif_sweep", "--quick"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spikax bench: error:") and "checkout" in err and "python -m benchmarks" in err
