"""Threshold implementations: forward/backward time and whether forward mode works.

Four ways to write a Heaviside spike with the fast-sigmoid surrogate $1/(1+k|x|)^2$ (k = 25):

- `custom_jvp`: `spikax.spike(x, FastSigmoid(25))`, the library's one definition (tangent rule,
  transposed by JAX for reverse mode).
- `custom_vjp`: the same forward, a hand-written backward rule (reverse mode only).
- `stop_gradient`: the straight-through trick `s = σ(x) + stop_gradient(H(x) - σ(x))` with the
  antiderivative σ(x) = x / (1 + k|x|).
- `jax.nn`: `jnp.heaviside` plus the same straight-through correction built from
  `jax.nn.soft_sign` (soft_sign(kx)/k has the fast-sigmoid derivative).

All four give the same spikes and gradients (checked); they are timed inside a LIF layer
(the `lif_sweep` workload: I = x @ W, `v <- 0.95 v + I_t`, reset by subtraction), forward alone,
forward + gradient w.r.t. W, and one forward-mode JVP in a direction of W.

    python -m benchmarks threshold [--config 16,200,256] [--quick]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _common
import spikax

K = 25.0


def spike_custom_jvp(x):
    return spikax.spike(x, spikax.surrogate.FastSigmoid(K))


@jax.custom_vjp
def spike_custom_vjp(x):
    return (x > 0).astype(x.dtype)


def _fwd(x):
    return spike_custom_vjp(x), x


def _bwd(x, g):
    return (g / (K * jnp.abs(x) + 1.0) ** 2,)


spike_custom_vjp.defvjp(_fwd, _bwd)


def spike_stop_gradient(x):
    smooth = x / (1.0 + K * jnp.abs(x))
    return smooth + lax.stop_gradient((x > 0).astype(x.dtype) - smooth)


def spike_jax_nn(x):
    smooth = jax.nn.soft_sign(K * x) / K
    return smooth + lax.stop_gradient(jnp.heaviside(x, jnp.zeros((), x.dtype)) - smooth)


IMPLEMENTATIONS = {"custom_jvp (spikax)": spike_custom_jvp, "custom_vjp": spike_custom_vjp,
                   "stop_gradient trick": spike_stop_gradient, "jax.nn (heaviside + soft_sign)": spike_jax_nn}


def loss(spike_fn, w, xs):
    currents = xs @ w

    def step(v, i):
        v = 0.95 * v + i
        s = spike_fn(v - 1.0)
        return v - s, s

    return jnp.sum(lax.scan(step, jnp.zeros(currents.shape[1:], currents.dtype), currents)[1])


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=5)
    p.add_argument("--config", default="16,200,256", help="B,T,n")
    args = p.parse_args(argv)
    batch, steps, n = (2, 20, 16) if args.quick else map(int, args.config.split(","))
    repeats = 1 if args.quick else args.repeats
    key_w, key_x, key_d = jax.random.split(jax.random.key(0), 3)
    w = jax.random.normal(key_w, (n, n), jnp.float32) * np.float32(1.5 / np.sqrt(n))
    xs = jax.random.normal(key_x, (steps, batch, n), jnp.float32)
    direction = jax.random.normal(key_d, (n, n), jnp.float32)
    rows, reference = [], None
    for name, fn in IMPLEMENTATIONS.items():
        f = lambda w, fn=fn: loss(fn, w, xs)  # noqa: E731
        fwd, both = jax.jit(f), jax.jit(jax.value_and_grad(f))
        count, c_fwd, t_fwd, _ = _common.timed(_common.jax_ready(lambda: fwd(w)), repeats)
        (value, grad), c_both, t_both, _ = _common.timed(_common.jax_ready(lambda: both(w)), repeats)
        row = {"implementation": name, "fwd_ms": 1e3 * t_fwd, "fwd_bwd_ms": 1e3 * t_both, "compile_s": c_both - t_both,
               "spike_count": float(count)}
        try:
            jvp = jax.jit(lambda w, f=f: jax.jvp(f, (w,), (direction,)))
            (_, tangent), _, t_jvp, _ = _common.timed(_common.jax_ready(lambda: jvp(w)), repeats)
            row.update(forward_mode="works", jvp_ms=1e3 * t_jvp, jvp=float(tangent))
        except Exception as error:  # noqa: BLE001 - custom_vjp has no forward mode: that is the finding
            row.update(forward_mode=f"fails ({type(error).__name__})", jvp_ms=None)
        if reference is None:
            reference = (float(count), grad)
        row["same_spikes"] = float(count) == reference[0]
        row["gradient_max_rel_diff"] = float(jnp.max(jnp.abs(grad - reference[1])) / jnp.max(jnp.abs(reference[1])))
        rows.append(row)
        print(f"  {name}: fwd {row['fwd_ms']:.2f} ms, fwd+bwd {row['fwd_bwd_ms']:.2f} ms, forward mode {row['forward_mode']}",
              flush=True)
    base = rows[0]
    for r in rows:
        r["fwd_bwd_over_custom_jvp"] = r["fwd_bwd_ms"] / base["fwd_bwd_ms"]
    md = (f"LIF layer, B,T,n = {batch},{steps},{n}, float32, median ms.\n\n"
          + _common.table(["implementation", "fwd", "fwd+bwd", "fwd+bwd / custom_jvp", "forward mode (JVP ms)",
                           "same spikes", "grad max rel. diff"],
                          [[r["implementation"], r["fwd_ms"], r["fwd_bwd_ms"], r["fwd_bwd_over_custom_jvp"],
                            r["forward_mode"] + (f" ({r['jvp_ms']:.2f})" if r.get("jvp_ms") else ""),
                            r["same_spikes"], f"{r['gradient_max_rel_diff']:.1e}"] for r in rows]))
    return _common.write("threshold", args.out, {"config": [batch, steps, n], "rows": rows}, md)


if __name__ == "__main__":
    main()
