"""spikax's benchmark suite: `python -m benchmarks NAME` (or `spikax bench NAME`); see `benchmarks/README.md`."""
