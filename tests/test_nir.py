"""NIR export and import (`spikax.io`): reference interpreter, round trips, fixture graphs, refusals."""

import functools
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spikax
import spikax.io
from nir_reference import simulate

nir = pytest.importorskip("nir")

DT = 1e-4
L, N = spikax.layers, spikax.neurons


def _run(model, xs):
    return np.asarray(spikax.run(model, model.init_state(xs.shape[1:]), jnp.asarray(xs))[1])


def _inputs(key, shape, scale=3.0, steps=30):
    return np.asarray(jax.random.uniform(key, (steps,) + tuple(shape), minval=-0.5, maxval=1.0)) * scale


def _boost(model, factor=10.0):
    """Scale every weight so that random inputs drive every layer to fire."""
    def scale(path, leaf):
        return leaf * factor if getattr(path[-1], "name", None) == "weight" else leaf
    return jax.tree_util.tree_map_with_path(scale, model)


def _models(seed):
    """Random models covering every mapping (all reset to a value, so peers and the reference agree)."""
    models = {name: (_boost(model), shape) for name, (model, shape) in _models_raw(np.random.default_rng(seed)).items()}
    graph, shape = models["graph_skip_feedback"]
    out = graph.nodes["out"].connection
    graph = eqx.tree_at(lambda g: (g.nodes["out"].connection.weight, g.nodes["out"].connection.bias), graph,
                        (jnp.abs(out.weight) / 4, jnp.full(3, 0.5)))  # an excitatory read-out that fires
    models["graph_skip_feedback"] = (graph, shape)
    return models


def _make(cls, *args, rng, **kwargs):
    """`cls(*args, **kwargs)` with its arrays drawn by NumPy (no JAX random draw: nothing to compile)."""
    shell = eqx.filter_eval_shape(cls, *args, key=jax.random.key(0), **kwargs)

    def draw(leaf):
        if not isinstance(leaf, jax.ShapeDtypeStruct):
            return leaf
        if jnp.issubdtype(leaf.dtype, jnp.integer):  # delays, in steps
            return jnp.asarray(rng.integers(0, 5, leaf.shape), leaf.dtype)
        fan_in = int(np.prod(leaf.shape[1:])) if len(leaf.shape) > 1 else 4
        return jnp.asarray(rng.uniform(-1, 1, leaf.shape) / np.sqrt(fan_in), leaf.dtype)

    return jax.tree_util.tree_map(draw, shell)


def _dense(n_in, n_out, neuron, rng, use_bias=True):
    return L.Layer(_make(eqx.nn.Linear, n_in, n_out, use_bias=use_bias, rng=rng), neuron)


def _recurrent(n_in, n_out, neuron, rng):
    return L.Recurrent(_make(eqx.nn.Linear, n_in, n_out, rng=rng),
                       _make(eqx.nn.Linear, n_out, n_out, use_bias=False, rng=rng), neuron)


def _models_raw(rng):
    lif = N.LIF(np.linspace(0.7, 0.95, 6), threshold=np.linspace(0.8, 1.2, 6), reset="zero", v_reset=0.1)
    cuba = N.CubaLIF(alpha=0.8, beta=0.9, threshold=1.0, reset="zero")
    return {
        "dense_lif_li": (spikax.Chain([_dense(4, 6, lif, rng), _dense(6, 3, N.LI(0.8), rng)]), (4,)),
        "cuba_if_linear": (spikax.Chain([_dense(4, 5, cuba, rng, use_bias=False),
                                         _dense(5, 3, N.IF(threshold=0.5, reset="zero"), rng)]), (4,)),
        "reset_free": (spikax.Chain([_dense(4, 5, N.LIF(0.9, threshold=0.7, reset="none"), rng),
                                     _dense(5, 4, N.CubaLIF(reset="none", threshold=0.3), rng),
                                     _dense(4, 3, N.IF(reset="none", threshold=0.5), rng)]), (4,)),
        "recurrent": (spikax.Chain([_recurrent(4, 6, N.CubaLIF(0.7, 0.8, reset="zero"), rng),
                                    _recurrent(6, 3, N.LIF(0.9, reset="zero"), rng)]), (4,)),
        "delays": (spikax.Chain([L.Delay(3, delays=jnp.array([0, 1, 3, 2])),
                                 _dense(4, 5, N.LIF(0.8, reset="zero"), rng),
                                 _make(L.DelayedLinear, 5, 4, 4, rng=rng), N.LIF(0.85, reset="zero")]), (4,)),
        "conv": (spikax.Chain([L.Layer(_make(eqx.nn.Conv2d, 2, 3, 3, stride=1, padding=1, rng=rng),
                                       N.IF(threshold=0.8, reset="zero")),
                               L.Pool("sum", 2), L.Layer(_make(eqx.nn.Conv2d, 3, 2, 3, padding=1, rng=rng),
                                                         N.LIF(0.9, reset="zero")),
                               L.Pool("avg", 2), L.Flatten(), _dense(8, 3, N.LIF(0.5, reset="zero"), rng)]),
                 (2, 8, 8)),
        "conv1d": (spikax.Chain([L.Layer(_make(eqx.nn.Conv1d, 2, 3, 3, padding=1, rng=rng), N.LIF(0.9, reset="zero")),
                                 L.Flatten(), _dense(18, 2, N.LIF(0.5, reset="zero"), rng)]), (2, 6)),
        "graph_skip_feedback": (spikax.Graph(
            nodes={"enc": _make(eqx.nn.Linear, 4, 6, rng=rng),
                   "a": _dense(6, 6, N.LIF(0.9, reset="zero"), rng),
                   "b": _dense(6, 6, N.CubaLIF(reset="zero"), rng),
                   "out": _dense(6, 3, N.LIF(0.5, reset="zero"), rng)},
            edges=[("input", "enc"), ("enc", "a"), ("a", "b"), ("b", "out"), ("a", "out"), ("b", "a")],
            output="out"), (4,)),
    }


SEED = 0  # a draw where every model's output layer fires on the test inputs


@functools.lru_cache(maxsize=None)
def built_models():
    """The models, built once per session (drawing random weights compiles, which is slow on small CPUs)."""
    return _models(SEED)


@pytest.fixture
def models():
    return built_models()


CASES = ["dense_lif_li", "cuba_if_linear", "reset_free", "recurrent", "delays", "conv", "conv1d", "graph_skip_feedback"]


@pytest.mark.parametrize("case", CASES)
def test_reference_interpreter_gives_the_same_spikes(models, case, getkey):
    model, shape = models[case]
    xs = _inputs(getkey(), shape)
    graph = spikax.io.to_nir(model, dt=DT, input_shape=shape)
    ours = _run(model, xs)
    ref = simulate(graph, xs, DT)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    if not isinstance(model[-1].neuron if isinstance(model, spikax.Chain) else None, N.LI):
        assert ours.sum() > 0, "the test input must make the output layer fire"


def _arrays(model):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))]


@pytest.mark.parametrize("case", ["dense_lif_li", "cuba_if_linear", "reset_free", "recurrent", "conv", "conv1d"])
def test_write_read_import_keeps_parameters_and_spikes(models, case, getkey, tmp_path):
    model, shape = models[case]
    path = tmp_path / "model.nir"
    spikax.io.save_nir(path, model, dt=DT, input_shape=shape)
    graph = nir.read(path)
    assert float(graph.metadata["dt"]) == DT
    assert graph.metadata["discretization"] == "forward_euler" and graph.metadata["reset"] == "zero"
    again = spikax.io.load_nir(path)
    assert type(again) is type(model)
    for got, want in zip(_arrays(again), _arrays(model), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    xs = _inputs(getkey(), shape)
    np.testing.assert_array_equal(_run(again, xs), _run(model, xs))


@pytest.mark.parametrize("case", ["delays", "graph_skip_feedback"])
def test_round_trip_keeps_spikes_of_delays_and_graphs(models, case, getkey, tmp_path):
    model, shape = models[case]
    spikax.io.save_nir(tmp_path / "m.nir", model, dt=DT, input_shape=shape)
    again = spikax.io.load_nir(tmp_path / "m.nir")
    xs = _inputs(getkey(), shape)
    ours = _run(model, xs)
    assert ours.sum() > 0
    np.testing.assert_array_equal(_run(again, xs), ours)


def test_per_neuron_arrays_and_v_reset_always_written(models):
    graph = spikax.io.to_nir(models["reset_free"][0], dt=DT)
    graph2 = spikax.io.to_nir(models["dense_lif_li"][0], dt=DT)
    for g in (graph, graph2):
        for node in g.nodes.values():
            for name in ("tau", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in", "threshold"):
                if hasattr(node, name):
                    assert np.ndim(getattr(node, name)) >= 1, name
    lif = graph2.nodes["0.neuron"]
    np.testing.assert_allclose(lif.v_reset, 0.1)
    np.testing.assert_allclose(lif.tau, DT / (1 - np.linspace(0.7, 0.95, 6)))
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert {"LI", "CubaLI", "I", "Threshold"} <= kinds and not kinds & {"LIF", "CubaLIF", "IF"}


def test_learnable_delays_are_rounded_with_a_warning(getkey):
    delay = L.Delay(4, delays=jnp.array([0.4, 1.6, 3.2]), learnable=True)
    with pytest.warns(UserWarning, match="rounded"):
        graph = spikax.io.to_nir(spikax.Chain([delay]), dt=DT, input_shape=(3,))
    np.testing.assert_allclose(graph.nodes["0"].delay, np.array([0, 2, 3]) * DT)
    again = spikax.io.from_nir(graph)
    np.testing.assert_array_equal(np.asarray(again[0].delays), [0, 2, 3])
    syn = L.DelayedLinear(3, 2, 5, learnable=True, key=getkey())
    with pytest.warns(UserWarning, match="rounded"):
        graph = spikax.io.to_nir(spikax.Chain([syn, N.LIF(0.9, reset="zero")]), dt=DT)
    fixed = L.DelayedLinear(3, 2, 5, delays=np.rint(np.asarray(syn.delays)).astype(int), key=getkey())
    fixed = eqx.tree_at(lambda m: (m.weight, m.bias), fixed, (syn.weight, syn.bias))
    xs = _inputs(getkey(), (3,))
    np.testing.assert_allclose(simulate(graph, xs, DT), _run(spikax.Chain([fixed, N.LIF(0.9, reset="zero")]), xs))


def test_nir_delay_nodes_written_and_read(models):
    graph = spikax.io.to_nir(models["delays"][0], dt=DT, input_shape=(4,))
    delays = [n for n in graph.nodes.values() if type(n).__name__ == "Delay"]
    assert delays and all(np.ndim(d.delay) == 1 for d in delays)
    again = spikax.io.from_nir(graph)
    assert any(isinstance(n, L.Delay) for n in again.nodes.values())


def test_subtract_reset_warns_or_raises():
    net = spikax.Chain([L.dense(3, 2, N.LIF(0.9), key=jax.random.key(0))])  # reset="subtract" by default
    with pytest.warns(UserWarning, match="subtract"):
        graph = spikax.io.to_nir(net, dt=DT)
    assert graph.metadata["reset"] == "subtract"
    assert graph.nodes["0.neuron"].metadata["reset"] == "subtract"
    np.testing.assert_array_equal(graph.nodes["0.neuron"].v_reset, 0.0)
    with pytest.raises(ValueError, match="subtract"):
        spikax.io.to_nir(net, dt=DT, reset_policy="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph = spikax.io.to_nir(net, dt=DT, reset_policy="ignore")
    again = spikax.io.from_nir(graph)  # spikax reads its own metadata back: subtract again
    assert again[0].neuron.reset == "subtract"
    xs = _inputs(jax.random.key(1), (3,))
    np.testing.assert_array_equal(_run(again, xs), _run(net, xs))


@pytest.mark.parametrize("neuron", [N.ALIF(), N.Izhikevich()], ids=lambda n: type(n).__name__)
def test_neurons_nir_cannot_hold_are_refused(neuron):
    net = spikax.Chain([L.dense(3, 2, neuron, key=jax.random.key(0))])
    with pytest.raises(NotImplementedError, match=type(neuron).__name__):
        spikax.io.to_nir(net, dt=DT)


def test_other_refusals():
    with pytest.raises(NotImplementedError, match="max"):
        spikax.io.to_nir(spikax.Chain([L.Pool("max", 2)]), dt=DT, input_shape=(1, 4, 4))
    with pytest.raises(NotImplementedError, match="refractory"):
        spikax.io.to_nir(N.LIF(reset="zero", refractory=2), dt=DT, input_shape=(3,))
    with pytest.raises(ValueError, match="input_shape"):
        spikax.io.to_nir(spikax.Chain([L.Flatten()]), dt=DT)
    with pytest.raises(ValueError, match="dt"):
        spikax.io.to_nir(N.LIF(reset="zero"), dt=0.0, input_shape=(3,))


def test_import_without_dt_raises(models):
    graph = spikax.io.to_nir(models["dense_lif_li"][0], dt=DT)
    graph.metadata = {}
    with pytest.raises(ValueError, match="dt=1e-4"):
        spikax.io.from_nir(graph)
    assert isinstance(spikax.io.from_nir(graph, dt=DT), spikax.Chain)


def test_import_honours_r_v_leak_w_in_and_v_reset(getkey):
    """A hand-written graph with non-trivial gains, leak and reset value: spikax agrees with the reference."""
    n = 5
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(n, 3))
    w2 = rng.normal(size=(n, n))
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "fc": nir.Affine(weight=w1, bias=rng.normal(size=n)),
        "lif": nir.LIF(tau=np.full(n, 1e-3), r=rng.uniform(0.5, 2, n), v_leak=rng.uniform(-0.2, 0.2, n),
                       v_threshold=np.full(n, 0.5), v_reset=np.full(n, -0.1)),
        "fc2": nir.Linear(weight=w2),
        "cuba": nir.CubaLIF(tau_syn=np.full(n, 5e-4), tau_mem=np.full(n, 1e-3), r=np.full(n, 3.0),
                            v_leak=np.zeros(n), v_threshold=np.full(n, 0.4), v_reset=np.zeros(n), w_in=np.full(n, 2.0)),
        "li": nir.LI(tau=np.full(n, 2e-4), r=np.full(n, 0.7), v_leak=np.full(n, 0.05)),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "fc2"), ("fc2", "cuba"), ("cuba", "li"), ("li", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    model = spikax.io.from_nir(graph, dt=DT)
    xs = _inputs(getkey(), (3,), steps=60)
    np.testing.assert_allclose(_run(model, xs), simulate(graph, xs, DT), atol=1e-9)


# -- fixtures from the NIR paper -------------------------------------------------------------


def _fixture(data_path, name):
    path = data_path / "nir" / name
    if not path.exists():
        pytest.skip(f"NIR fixture {path} is absent (set SPIKAX_DATA to the shared data folder)")
    return path


FIXTURES = ["lif_norse.nir", "braille_noDelay_bias_zero.nir", "braille_noDelay_noBias_subtract.nir", "cnn_sinabs.nir"]


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_graphs_load(data_path, name):
    graph = nir.read(_fixture(data_path, name))
    model = spikax.io.from_nir(graph, dt=DT)
    assert isinstance(model, spikax.layers.AbstractLayer)


@pytest.mark.parametrize("name", ["lif_norse.csv", "lif_exact.csv"])
def test_fixture_traces_load(data_path, name):
    table = np.loadtxt(_fixture(data_path, name), delimiter=",")
    assert table.ndim == 2 and table.shape[0] >= 1000


def test_lif_norse_spikes_at_the_paper_steps(data_path):
    path = _fixture(data_path, "lif_norse.nir")
    xs = np.loadtxt(_fixture(data_path, "lif_norse.csv"), delimiter=",")[:, :1]
    model = spikax.io.load_nir(path, dt=DT)
    spikes = _run(model, xs)[:, 0]
    np.testing.assert_array_equal(np.flatnonzero(spikes), [460, 510, 710, 760])
    # The peak voltage, read through the reference on the same file.
    _, v = simulate(nir.read(path), xs, DT, record="1")
    np.testing.assert_allclose(v.max(), 0.09984, atol=1e-5)
    layer = model[-1] if isinstance(model, spikax.Chain) else None
    state = layer.init_state((1,))
    vs = []
    for x in xs:  # spikax's own membrane, step by step
        state, _ = layer(state, jnp.asarray(x))
        vs.append(float(state.v[0]))
    np.testing.assert_allclose(max(vs), 0.09984, atol=1e-5)


@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero.nir", "braille_noDelay_noBias_subtract.nir"])
def test_braille_graphs_import_and_run_one_sample(data_path, name):
    graph = nir.read(_fixture(data_path, name))
    model = spikax.io.from_nir(graph, dt=DT)
    assert isinstance(model[0], L.Recurrent)
    xs = (np.random.default_rng(0).random((80, 12)) < 0.3).astype(float)  # ON/OFF-like spikes of 12 taxels
    xs = np.asarray(xs, float) * 5.0
    ours = _run(model, xs)
    np.testing.assert_array_equal(ours, simulate(graph, xs, DT))
    assert ours.shape == (xs.shape[0], 7)


def test_cnn_graph_imports_and_runs_one_sample(data_path):
    graph = nir.read(_fixture(data_path, "cnn_sinabs.nir"))
    model = spikax.io.from_nir(graph, dt=DT)
    rng = np.random.default_rng(0)
    xs = (rng.random((6, 2, 34, 34)) < 0.1).astype(float)
    ours = _run(model, xs)
    assert ours.shape == (6, 10)
    np.testing.assert_array_equal(ours, simulate(graph, xs, DT))


@pytest.mark.parametrize("to", ["one", "tau/dt"])
def test_normalize_gains_keeps_spikes(models, to, getkey):
    model, shape = models["cuba_if_linear"]
    graph = spikax.io.to_nir(model, dt=DT)
    normal = spikax.io.normalize_gains(graph, to=to)
    node = normal.nodes["0.neuron"]
    want_r = 1.0 if to == "one" else node.tau_mem / DT
    np.testing.assert_allclose(node.r, want_r)
    assert not np.allclose(node.v_threshold, graph.nodes["0.neuron"].v_threshold) or to == "one"
    xs = _inputs(getkey(), shape)
    np.testing.assert_array_equal(simulate(normal, xs, DT), simulate(graph, xs, DT))
    np.testing.assert_array_equal(_run(spikax.io.from_nir(normal), xs), _run(model, xs))


def test_normalize_gains_refuses_a_reset_value(models):
    graph = spikax.io.to_nir(models["dense_lif_li"][0], dt=DT)  # v_reset = 0.1
    with pytest.raises(ValueError, match="v_reset"):
        spikax.io.normalize_gains(graph, to="one")
