"""Sparse vs dense spike propagation, I = S @ W, at 50 / 90 / 99 / 99.9 % sparsity.

S: binary spikes of shape (rows, n_in) (rows = time x batch steps at once, as `spikax.run`
propagates them), W: (n_in, n_out), float32. Columns (each checked equal to the dense product):

- `dense`: `S @ W` (jitted).
- `BCOO`: `jax.experimental.sparse.BCOO.fromdense(S, nse=...)` then `@ W`, conversion included (spikes
  come out of the neurons dense); also the product alone with S already in BCOO form.
- `segment_sum`: the active (row, input) pairs from `jnp.nonzero(S, size=...)`, the rows of W they
  select, summed per row with `jax.ops.segment_sum`.
- `torch dense` / `torch sparse`: `S @ W` and `torch.sparse.mm` on a COO tensor (conversion included).

`nse` is the exact number of spikes (a static size; real use needs an upper bound). A sparse
form pays off only if it beats `dense`; the verdict per sparsity is in the table.

    python -m benchmarks sparse [--rows 1024 --n 1024] [--quick]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse

from . import _common

SPARSITIES = (0.5, 0.9, 0.99, 0.999)


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=10)
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--n", type=int, default=1024)
    args = p.parse_args(argv)
    rows_, n, repeats = (64, 32, 1) if args.quick else (args.rows, args.n, args.repeats)
    skipped = []
    torch = _common.optional("torch", skipped)
    threads = _common.set_torch_threads(torch) if torch is not None else None
    rng = np.random.default_rng(0)
    w = rng.standard_normal((n, n)).astype(np.float32)
    wj = jnp.asarray(w)
    table_rows, results = [], []
    for sparsity in SPARSITIES:
        s = (rng.random((rows_, n)) > sparsity).astype(np.float32)
        nse = max(1, int(s.sum()))
        sj = jnp.asarray(s)
        dense = jax.jit(lambda s, w: s @ w)
        bcoo_full = jax.jit(lambda s, w: sparse.BCOO.fromdense(s, nse=nse) @ w)
        bcoo_only = jax.jit(lambda m, w: m @ w)
        m = sparse.BCOO.fromdense(sj, nse=nse)

        def segsum(s, w):
            r, c = jnp.nonzero(s, size=nse)
            return jax.ops.segment_sum(w[c], r, num_segments=s.shape[0])

        seg = jax.jit(segsum)
        want, _, t_dense, _ = _common.timed(_common.jax_ready(lambda: dense(sj, wj)), repeats)
        out = {"sparsity": sparsity, "nse": nse, "dense_ms": 1e3 * t_dense}
        checks = {}
        for name, fn in (("bcoo_with_conversion", lambda: bcoo_full(sj, wj)), ("bcoo_product_only", lambda: bcoo_only(m, wj)),
                         ("segment_sum", lambda: seg(sj, wj))):
            got, _, t, _ = _common.timed(_common.jax_ready(fn), repeats)
            out[f"{name}_ms"] = 1e3 * t
            checks[name] = bool(np.allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-3))
        if torch is not None:
            st, wt = torch.from_numpy(s), torch.from_numpy(w)
            with torch.no_grad():
                got, _, t, _ = _common.timed(lambda: st @ wt, repeats)
                out["torch_dense_ms"] = 1e3 * t
                got, _, t, _ = _common.timed(lambda: torch.sparse.mm(st.to_sparse(), wt), repeats)
                out["torch_sparse_ms"] = 1e3 * t
                checks["torch_sparse"] = bool(np.allclose(got.numpy(), np.asarray(want), rtol=1e-4, atol=1e-3))
        out["equal_to_dense"] = checks
        best = min(("bcoo_with_conversion_ms", "segment_sum_ms"), key=lambda k: out[k])
        out["best_sparse"] = best[:-3]
        out["best_sparse_over_dense"] = out[best] / out["dense_ms"]
        if torch is not None:
            out["torch_sparse_over_dense"] = out["torch_sparse_ms"] / out["torch_dense_ms"]
        results.append(out)
        table_rows.append([f"{100 * sparsity:g} %", nse, out["dense_ms"], out["bcoo_with_conversion_ms"], out["bcoo_product_only_ms"],
                           out["segment_sum_ms"], out.get("torch_dense_ms"), out.get("torch_sparse_ms"),
                           f"{out['best_sparse']} {out['best_sparse_over_dense']:.2f}x",
                           out.get("torch_sparse_over_dense"),
                           "yes" if all(checks.values()) else "NO"])
        print(f"  sparsity {sparsity}: dense {out['dense_ms']:.3f} ms, best sparse {out['best_sparse']} "
              f"{out['best_sparse_over_dense']:.2f}x", flush=True)
    wins = [r["sparsity"] for r in results if r["best_sparse_over_dense"] < 1]
    torch_wins = [r["sparsity"] for r in results if r.get("torch_sparse_over_dense", 2) < 1]
    md = (f"I = S @ W with S of shape ({rows_}, {n}) and W ({n}, {n}), float32, median ms (conversion from dense "
          f"spikes included unless said).\n\n"
          + _common.table(["sparsity", "spikes", "dense (JAX)", "BCOO", "BCOO product only", "segment_sum",
                           "torch dense", "torch sparse", "best JAX sparse / JAX dense",
                           "torch sparse / torch dense", "equal"], table_rows)
          + "\n\n" + (f"A sparse form beat the dense JAX product at sparsity {wins}." if wins else
                      "No sparse form beat the dense JAX product at any sparsity measured: spikax keeps dense propagation.")
          + (f" torch.sparse beat torch's dense product at sparsity {torch_wins}." if torch_wins else "")
          + f" torch threads: {threads}.")
    return _common.write("sparse", args.out, {"rows": results, "shape": [rows_, n], "sparse_wins_at": wins,
                                               "torch_sparse_wins_at": torch_wins, "torch_threads": threads,
                                               "skipped": skipped}, md)


if __name__ == "__main__":
    main()
