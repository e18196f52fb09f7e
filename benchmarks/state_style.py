"""State fed in vs registered state (`spikax.network.Stateful`); `lax.scan` per layer vs over the whole network.

A 3-layer network (n_in -> n LIF -> n LIF -> 10 LI) on inputs (T, B, n_in), float32:

1. Style: the explicit style `spikax.run(net, state, xs, batch_axis=1)` vs the registered-state
   adapter `model.run(xs, state)` (`eqx.nn.make_with_state(spikax.network.Stateful)(net, ...,
   batch_size=B)`); and one step, `net(state, x)` (vmapped) vs `model(x, state)`, each jitted.
2. Scan structure: `spikax.run` (each layer over the whole sequence: connections as one matmul
   over T x B rows, one scan per layer) vs one `lax.scan` of the whole network's step over time
   (every connection applied step by step inside the scan).

Times: forward + gradient w.r.t. the parameters (sum of outputs as the loss) for sequences, the
call itself for single steps; median after warm-up; compile time (first call minus a timed call)
apart. Outputs of each pair are checked equal.

    python -m benchmarks state_style [--config 16,200,256] [--quick]
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from . import _common
import spikax


def main(argv=None):
    p = _common.parser(__doc__.split("\n")[0], repeats=5)
    p.add_argument("--config", default="16,200,256", help="B,T,n")
    args = p.parse_args(argv)
    batch, steps, n = (2, 10, 8) if args.quick else map(int, args.config.split(","))
    repeats = 1 if args.quick else args.repeats
    keys = jax.random.split(jax.random.key(0), 4)
    net = spikax.Chain([spikax.layers.dense(n, n, spikax.neurons.LIF(), key=keys[0], dtype=jnp.float32),
                        spikax.layers.dense(n, n, spikax.neurons.LIF(), key=keys[1], dtype=jnp.float32),
                        spikax.layers.dense(n, 10, spikax.neurons.LI(), key=keys[2], dtype=jnp.float32)])
    xs = jax.random.normal(keys[3], (steps, batch, n), jnp.float32)
    state = net.init_state((n,), jnp.float32)
    model, registered = eqx.nn.make_with_state(spikax.network.Stateful)(net, (n,), batch_size=batch, dtype=jnp.float32)

    def fed(net):
        return jnp.sum(spikax.run(net, state, xs, batch_axis=1)[1])

    def fresh():  # an `eqx.nn.State` may be used once: a clone per call
        leaves, treedef = jax.tree_util.tree_flatten(registered)
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def stateful(model, registered):
        return jnp.sum(model.run(xs, registered)[0])

    def whole(net):
        step = jax.vmap(lambda s, x: net(s, x))
        batched = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (batch,) + a.shape), state)
        return jnp.sum(lax.scan(step, batched, xs)[1])

    def time_grad(loss, tree, *extra):
        fn = eqx.filter_jit(eqx.filter_value_and_grad(loss))
        (value, _), first, t, _ = _common.timed(_common.jax_ready(lambda: fn(tree, *(e() for e in extra))), repeats)
        return float(value), 1e3 * t, first - t

    rows = []
    v_fed, t_fed, c_fed = time_grad(fed, net)
    v_st, t_st, c_st = time_grad(stateful, model, fresh)
    v_whole, t_whole, c_whole = time_grad(whole, net)
    step_fed = eqx.filter_jit(lambda net, s, x: jax.vmap(lambda s, x: net(s, x))(s, x))
    batched = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (batch,) + a.shape), state)
    out_fed, cf, ts_fed, _ = _common.timed(_common.jax_ready(lambda: step_fed(net, batched, xs[0])), repeats * 20)
    step_st = eqx.filter_jit(lambda model, x, s: model(x, s))
    out_st, cs, ts_st, _ = _common.timed(_common.jax_ready(lambda: step_st(model, xs[0], fresh())), repeats * 20)
    same_step = bool(jnp.allclose(out_fed[1], out_st[0], rtol=1e-6, atol=1e-6))
    rel = lambda a, b: abs(a - b) <= 1e-4 * max(1.0, abs(b))  # noqa: E731
    rows = [
        {"what": "sequence fwd+bwd: state fed in (spikax.run)", "ms": t_fed, "compile_s": c_fed, "ratio": 1.0, "same": True},
        {"what": "sequence fwd+bwd: registered (Stateful.run)", "ms": t_st, "compile_s": c_st, "ratio": t_st / t_fed,
         "same": rel(v_st, v_fed)},
        {"what": "sequence fwd+bwd: one scan over the whole network", "ms": t_whole, "compile_s": c_whole,
         "ratio": t_whole / t_fed, "same": rel(v_whole, v_fed)},
        {"what": "one step: state fed in (vmapped net(state, x))", "ms": 1e3 * ts_fed, "compile_s": cf - ts_fed, "ratio": 1.0,
         "same": True},
        {"what": "one step: registered (model(x, state))", "ms": 1e3 * ts_st, "compile_s": cs - ts_st,
         "ratio": ts_st / ts_fed, "same": same_step},
    ]
    md = (f"3-layer network {n} -> {n} LIF -> {n} LIF -> 10 LI, B,T = {batch},{steps}, float32, median ms; ratio to the "
          "first row of its group.\n\n"
          + _common.table(["", "ms", "compile s", "ratio", "same result"],
                          [[r["what"], r["ms"], r["compile_s"], r["ratio"], r["same"]] for r in rows]))
    return _common.write("state_style", args.out, {"config": [batch, steps, n], "rows": rows}, md)


if __name__ == "__main__":
    main()
