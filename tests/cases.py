"""One table of neuron and surrogate cases for both packages.

- `NEURON_CASES`: (class name, constructor arguments) that build a neuron in spikax and in
  spikax_torch alike. The JAX neuron suite (`test_neurons.py`) and the parity tests
  (`torch/test_parity_neurons.py`) both run on them.
- `ERROR_CASES`: documented bad inputs of neurons and surrogates, with the error class and the
  message pattern. `test_neurons.py` / `test_surrogate.py` check them in spikax, and
  `torch/test_error_parity.py` checks that spikax_torch raises the same class with the same
  message.

Arguments are framework-neutral: NumPy arrays, dtype names (`"int32"`) and surrogate class
names (`"Triangle"`); [`build`][] turns them into the package's own objects.
"""

import numpy as np

PER_NEURON = np.linspace(0.6, 0.95, 5)  # one value per neuron for the 5 neurons of the suites

# Every neuron of `ALL_NEURONS` appears, with most options.
NEURON_CASES = [
    ("IF", {"learnable": "threshold"}),
    ("IF", {"refractory": 2, "reset": "zero", "v_reset": -0.2, "learnable": "threshold"}),
    ("LIF", {"learnable": ("beta", "threshold")}),
    ("LIF", {"beta": PER_NEURON, "threshold": np.linspace(0.5, 2.0, 5), "detach_reset": True, "learnable": "beta",
             "surrogate": "Triangle"}),
    ("LIF", {"tau": 5.0, "reset": "zero", "v_reset": 0.1, "refractory": 1, "learnable": ("beta", "threshold"),
             "surrogate": "ATan"}),
    ("LIF", {"reset": "none", "threshold": 0.7, "learnable": "beta", "surrogate": "SpikeRateEscape"}),
    ("CubaLIF", {"reset": "none", "learnable": ("alpha", "beta", "threshold")}),
    ("CubaLIF", {"alpha": PER_NEURON, "refractory_time": 2.0, "dt": 1.0, "detach_reset": True,
                 "learnable": ("alpha", "beta")}),
    ("ALIF", {"learnable": ("alpha", "rho", "beta_a", "threshold"), "beta_a": 0.5}),
    ("ALIF", {"alpha": PER_NEURON, "rho": PER_NEURON, "beta_a": np.array([0.0, 0.1, 0.3, 0.6, 1.0]),
              "reset": "zero", "refractory": 1, "learnable": ("alpha",), "surrogate": "Sigmoid"}),
    ("LI", {"learnable": "beta"}),
    ("Izhikevich", {"c": -50.0, "d": np.array([1.0, 2.0, 3.0, 4.0, 5.0]), "learnable": ("a", "b", "c", "d")}),
    ("Izhikevich", {"substeps": 1, "detach_reset": True, "learnable": ("b", "d")}),
    ("AdEx", {"learnable": ("c_m", "g_l", "e_l", "v_t", "delta_t", "tau_w", "a", "b")}),
    ("AdEx", {"detach_reset": True, "v_reset": -60.0, "learnable": ("a", "b")}),
    ("ResonateAndFire", {"learnable": ("decay", "omega", "threshold")}),
    ("ResonateAndFire", {"reset": "none", "learnable": "omega", "surrogate": "Gaussian"}),
    ("SigmaDelta", {"learnable": ("threshold", "leak"), "leak": 0.9}),
    ("SigmaDelta", {"activation": "identity", "quantize": True, "leak": 0.9, "learnable": "threshold"}),
]
NEURON_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(NEURON_CASES)]


def build(package, target: str, kwargs: dict, dtype=None):
    """Call `package.<target>(**kwargs)` (e.g. target `"neurons.LIF"`), turning neutral arguments into the package's.

    `package` is the module `spikax` or `spikax_torch`; `dtype`, when given, is added as `dtype=`.
    """
    fn = package
    for part in target.split("."):
        fn = getattr(fn, part)
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("surrogate"), str):
        kwargs["surrogate"] = getattr(package.surrogate, kwargs["surrogate"])()
    if isinstance(kwargs.get("dtype"), str):
        kwargs["dtype"] = _dtype(package, kwargs["dtype"])
    if dtype is not None:
        kwargs["dtype"] = dtype
    return fn(**kwargs)


def _dtype(package, name: str):
    if package.__name__ == "spikax_torch":
        import torch

        return getattr(torch, name)
    import jax.numpy as jnp

    return jnp.dtype(name)


# (target, arguments, error class, message pattern). Patterns name the public object as
# `PKG.neurons.X` (PKG: spikax or spikax_torch), what was wrong and the fix.
NEURON_ERRORS = [
    ("neurons.LIF", {"tau": 0.0}, ValueError, r"LIF`: `tau` must be positive.*tau=20"),
    ("neurons.LI", {"tau": 5.0, "dt": -1.0}, ValueError, r"LI`: `dt` must be positive"),
    ("neurons.CubaLIF", {"tau_syn": -2.0}, ValueError, r"CubaLIF`: `tau_syn` must be positive"),
    ("neurons.ALIF", {"tau_adapt": 0.5, "dt": 1.0}, ValueError, r"ALIF`: `rho = 1 - dt/tau_adapt`.*tau_adapt >= dt"),
    ("neurons.CubaLIF", {"alpha": 1.2}, ValueError, r"CubaLIF`: `alpha` must lie in \[0, 1\].*per-step decay"),
    ("neurons.ALIF", {"rho": -0.1}, ValueError, r"ALIF`: `rho` must lie in \[0, 1\]"),
    ("neurons.LIF", {"beta": 1.5}, ValueError, r"LIF`: `beta` must lie in \[0, 1\], got 1.5"),
    ("neurons.LIF", {"beta": float("nan")}, ValueError, r"LIF`: `beta` must lie in \[0, 1\], got nan"),
    ("neurons.ResonateAndFire", {"decay": 2.0}, ValueError, r"ResonateAndFire`: `decay` must lie in"),
    ("neurons.LIF", {"beta": 0.0, "learnable": "beta"}, ValueError, r"LIF`: `beta` must lie in \(0, 1\), got 0.0.*learnable"),
    # spikax_torch accepted this one while spikax rejected it (issue 9): a learnable decay of exactly 1
    ("neurons.LIF", {"beta": 1.0, "learnable": "beta"}, ValueError,
     r"LIF`: `beta` must lie in \(0, 1\), got 1.0.*learnable.*beta=0.99"),
    ("neurons.SigmaDelta", {"learnable": "leak"}, ValueError,
     r"SigmaDelta`: `leak` must lie in \(0, 1\), got 1.0.*learnable.*leak=0.99"),
    ("neurons.CubaLIF", {"alpha": 0.5, "tau_syn": 3.0}, ValueError, r"CubaLIF`: give exactly one of `alpha`.*`tau_syn`"),
    ("neurons.IF", {"reset": "soft"}, ValueError, r"IF`: unknown reset mode 'soft'. Choose one of 'subtract', 'zero', 'none'"),
    ("neurons.ALIF", {"reset": "hard"}, ValueError, r"ALIF`: unknown reset mode 'hard'"),
    ("neurons.ResonateAndFire", {"reset": "subtract"}, ValueError, r"ResonateAndFire`: unknown reset mode 'subtract'.*'zero'"),
    ("neurons.Izhikevich.preset", {"name": "bursty"}, ValueError,
     r"Izhikevich.preset`: unknown preset name 'bursty'. Choose one of 'regular_spiking', 'intrinsically_bursting'"),
    ("neurons.ALIF", {"learnable": "beta"}, ValueError,
     r"ALIF`: cannot make \['beta'\] learnable; its parameters are \['alpha', 'beta_a', 'rho', 'threshold'\]. Pass `learnable=`"),
    ("neurons.IF", {"learnable": ("threshold", "tau")}, ValueError, r"IF`: cannot make \['tau'\] learnable"),
    ("neurons.ALIF", {"beta_a": -0.1}, ValueError, r"ALIF`: `beta_a` must be >= 0.*non-negative"),
    ("neurons.ALIF", {"beta_a": 0.0, "learnable": "beta_a"}, ValueError,
     r"ALIF`: `beta_a` must be positive, got 0.0. It is learnable"),
    ("neurons.IF", {"threshold": 0.0}, ValueError, r"IF`: `threshold` must be positive"),
    ("neurons.Izhikevich", {"a": -0.02}, ValueError, r"Izhikevich`: `a` must be positive"),
    ("neurons.Izhikevich", {"substeps": 0}, ValueError, r"Izhikevich`: `substeps` must be a whole number >= 1"),
    ("neurons.Izhikevich", {"substeps": True}, ValueError, r"Izhikevich`: `substeps` must be a whole number >= 1, got True"),
    ("neurons.AdEx", {"c_m": 0.0}, ValueError, r"AdEx`: `c_m` must be positive.*c_m=281"),
    ("neurons.AdEx", {"dt": 0.0}, ValueError, r"AdEx`: `dt` must be positive"),
    ("neurons.SigmaDelta", {"activation": "tanh"}, ValueError, r"SigmaDelta`: unknown activation 'tanh'. Choose one of 'relu'"),
    ("neurons.LIF", {"refractory": -1}, ValueError, r"LIF`: `refractory` must be a whole number of steps >= 0"),
    ("neurons.LIF", {"refractory": 2.0}, ValueError, r"LIF`: `refractory` must be a whole number of steps >= 0, got 2.0"),
    # issue 10: `refractory=True` meant one step
    ("neurons.LIF", {"refractory": True}, ValueError,
     r"LIF`: `refractory` must be a whole number of steps >= 0, got True.*refractory_time"),
    ("neurons.IF", {"refractory_time": True}, TypeError, r"IF`: `refractory_time` must be a number"),
    ("neurons.ALIF", {"refractory_time": -1.0}, ValueError, r"ALIF`: `refractory_time` must be >= 0"),
    ("neurons.CubaLIF", {"refractory": 1, "refractory_time": 1.0}, ValueError, r"CubaLIF`: give the refractory period in steps or"),
    # issue 10: an integer dtype silently rounded the parameters (beta 0.9 was stored as 0.873)
    ("neurons.LIF", {"beta": 0.9, "dtype": "int32"}, TypeError,
     r"LIF`: `dtype` must be a floating-point dtype, got int32.*pass e.g. `dtype=float32`"),
    ("neurons.Izhikevich", {"dtype": "int64"}, TypeError, r"Izhikevich`: `dtype` must be a floating-point dtype, got int64"),
    ("neurons.LI", {"dtype": "bool"}, TypeError, r"LI`: `dtype` must be a floating-point dtype, got bool"),
]

# issue 10: surrogate hyper-parameters were unchecked (infinite, negative or NaN gradients, or a
# ZeroDivisionError at gradient time). One bad value for every hyper-parameter of every surrogate.
SURROGATE_BAD_VALUES = {
    "FastSigmoid": {"slope": -1.0},
    "Sigmoid": {"slope": -4.0},
    "ATan": {"alpha": 0.0},
    "Triangle": {"gamma": -0.3, "width": 0.0},
    "Rectangle": {"width": 0.0},
    "Gaussian": {"sigma": 0.0},
    "MultiGaussian": {"sigma": 0.0, "height": -0.15, "scale": -6.0, "gamma": 0.0},
    "Exponential": {"alpha": -1.0, "beta": -1.0},
    "Erfc": {"alpha": 0.0},
    "PiecewiseQuadratic": {"alpha": -1.0},
    "PiecewiseExp": {"alpha": 0.0},
    "SoftSign": {"alpha": -2.0},
    "Tanh": {"slope": 0.0},
    "Circ": {"alpha": 0.0},
    "QPseudo": {"q": 1.0},
    "LogTailed": {"alpha": -0.1},
    "StraightThrough": {"scale": 0.0},
    "SpikeRateEscape": {"beta": -1.0, "slope": 0.0},
}
_WANT = {-1.0: "be positive|be >= 0", 0.0: "be positive", 1.0: r"be > 1"}

SURROGATE_ERRORS = [
    (f"surrogate.{cls}", {name: value}, ValueError,
     rf"surrogate.{cls}`: `{name}` must ({_WANT.get(value, 'be positive|be >= 0')}), got {value}. The default is `{name}=")
    for cls, values in SURROGATE_BAD_VALUES.items() for name, value in values.items()
] + [
    ("surrogate.FastSigmoid", {"slope": float("nan")}, ValueError, r"FastSigmoid`: `slope` must be positive, got nan"),
    ("surrogate.Gaussian", {"sigma": True}, TypeError, r"Gaussian`: `sigma` must be a number, got True"),
]

ERROR_CASES = NEURON_ERRORS + SURROGATE_ERRORS
ERROR_IDS = [f"{target.split('.', 1)[1]}-{'-'.join(map(str, kwargs))}-{i}"
             for i, (target, kwargs, _, _) in enumerate(ERROR_CASES)]
