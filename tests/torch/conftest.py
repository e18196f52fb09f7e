"""Configuration of the spikax_torch tests: one torch thread, and skip everything without torch."""

import warnings

try:
    import torch
except ImportError:  # the whole folder is skipped when torch is not installed
    collect_ignore_glob = ["test_*.py"]
else:
    torch.set_num_threads(1)
    # torch's forward AD loads its decompositions on first use through `torch.jit.script`, which
    # torch itself now deprecates; the suite turns warnings into errors, so load them quietly here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch._decomp.decompositions_for_jvp  # noqa: F401
