"""Data-parallel training across processes, really run: 2 processes joined by `jax.distributed`
on localhost (CPU collectives through gloo, 2 forced CPU devices each), each feeding its share of
every batch to `spikax.training.fit`; the losses and final parameters equal a single-process run.

The worker is `tests/distributed_fit.py` (its docstring has the launch command).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

WORKER = REPO / "tests" / "distributed_fit.py"
TIMEOUT_S = 150


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env():
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "grpc_proxy")}
    env["no_proxy"] = env["NO_PROXY"] = "localhost,127.0.0.1"  # gRPC to the coordinator must not use a proxy
    env["PYTHONPATH"] = str(REPO)
    return env


def start(tmp_path, processes: int):
    """Start `processes` workers (2 CPU devices each when several); returns `(process, output file)` pairs."""
    port = free_port()
    started = []
    for rank in range(processes):
        out = tmp_path / f"{processes}-{rank}.json"
        cmd = [sys.executable, str(WORKER), "--processes", str(processes), "--process-id", str(rank),
               "--coordinator", f"localhost:{port}", "--local-devices", "2" if processes > 1 else "1",
               "--out", str(out)]
        started.append((subprocess.Popen(cmd, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True), out))
    return started


def finish(started):
    """Wait for the workers; fail with a worker's log if it failed; return their results."""
    logs = []
    try:
        for proc, _ in started:
            logs.append(proc.communicate(timeout=TIMEOUT_S)[0])
    finally:
        for proc, _ in started:
            if proc.poll() is None:
                proc.kill()
    for (proc, _), log in zip(started, logs):
        assert proc.returncode == 0, log[-3000:]
    return [json.loads(out.read_text()) for _, out in started]


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    reference, pair = start(tmp_path, 1), start(tmp_path, 2)  # all three at once
    (single,), results = finish(reference), finish(pair)
    assert single["processes"] == 1 and single["devices"] == 1
    for result in results:
        assert result["processes"] == 2 and result["devices"] == 4  # the mesh spans both processes
        np.testing.assert_allclose(result["loss"], single["loss"], rtol=1e-10)
        for got, want in zip(result["params"], single["params"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert len(set(single["loss"])) > 1  # it trained: the loss changed between epochs


def test_importing_spikax_starts_no_backend():
    # `jax.distributed.initialize` must come before JAX's backend starts; `import spikax` and
    # `import spikax_torch` create no arrays, so `training.initialize_distributed` works after them.
    code = ("import jax._src.xla_bridge as xb, spikax, spikax_torch, spikax.io, spikax.plasticity, spikax.eventprop\n"
            "print(bool(xb._backends))")
    out = subprocess.run([sys.executable, "-c", code], env=worker_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
