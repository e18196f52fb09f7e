"""Sequential (pixel-by-pixel) MNIST, one BPTT training epoch: spikax (jitted) vs spikax_torch (eager).

The model and step are those of `benchmarks/torch_vs_jax.py` (reused, not copied): 1 input ->
recurrent LIF (hidden) -> LI 10, T = 784, max-membrane cross-entropy, SGD; the same initial weights in
both packages (`spikax_torch.convert.from_spikax`); the first batch's loss and hidden spike count of
both are compared before any timing. The epoch time is the median over `--repeats` epochs of
`--samples` images, extrapolated to 60000. Goal of the suite: spikax at least 5x faster.

    python -m benchmarks smnist [--samples 512 --batch 64 --hidden 64] [--quick]
"""

from __future__ import annotations

import argparse

from . import _common


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=2)
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--torch-threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.quick:
        args.samples, args.batch, args.hidden, args.repeats = 8, 4, 8, 1
    skipped = []
    torch = _common.optional("torch", skipped)
    if torch is None or _common.optional("spikax_torch", skipped) is None:
        return _common.write("smnist", args.out, {"skipped": skipped}, "spikax_torch is not installed: nothing to compare.")
    torch.set_num_threads(args.torch_threads)
    from . import torch_vs_jax

    out = torch_vs_jax.smnist(argparse.Namespace(samples=args.samples, batch=args.batch, hidden=args.hidden,
                                                  lr=args.lr, repeats=args.repeats))
    ratio = out["torch_epoch_s"] / out["jax_epoch_s"]
    same = (abs(out["jax_spikes_first_batch"] - out["torch_spikes_first_batch"]) <= 1e-3 * max(1.0, out["jax_spikes_first_batch"])
            and abs(out["jax_first_loss"] - out["torch_first_loss"]) <= 1e-3 * max(1.0, abs(out["jax_first_loss"])))
    result = {**out, "speedup_jax_over_torch": ratio, "goal_5x_met": ratio >= 5, "same_model_checked": same,
              "torch_threads": args.torch_threads, "skipped": skipped}
    md = (f"Data: {out['data']}; T = 784, batch {args.batch}, 1 -> recurrent LIF {args.hidden} -> LI 10; "
          f"{out['samples_per_epoch_measured']} samples per measured epoch; torch threads {args.torch_threads}.\n\n"
          + _common.table(["", "spikax (jit)", "spikax_torch (eager)", "torch / JAX"],
                          [["ms per batch", out["jax_ms_per_batch"], out["torch_ms_per_batch"], ratio],
                           ["60000-sample epoch, s (extrapolated)", out["jax_full_epoch_s_extrapolated"],
                            out["torch_full_epoch_s_extrapolated"], None]])
          + f"\n\nJAX compile: {out['jax_compile_s']:.1f} s. First batch: loss {out['jax_first_loss']:.6f} (JAX) / "
            f"{out['torch_first_loss']:.6f} (torch); hidden spikes {out['jax_spikes_first_batch']:.0f} / "
            f"{out['torch_spikes_first_batch']:.0f} ({'same model' if same else 'MISMATCH'}). "
            f"Goal spikax >= 5x: {'met' if ratio >= 5 else 'not met'} ({ratio:.1f}x).")
    return _common.write("smnist", args.out, result, md)


if __name__ == "__main__":
    main()
