"""Bad inputs of ``pinfer.smc``: filters, tempered SMC, resampling, MCMC kernels.

Concrete bad values raise before tracing, naming the argument and the value. The
``jit`` cases check what a traced bad value gives: a NaN log-likelihood sets
``failed_step`` and makes the evidence NaN (the NaN policy), a traced ESS fraction
outside its interval stops the run through ``eqx.error_if``, a degenerate traced
population is flagged.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.builders import bad as _bad
from bad_inputs.builders import with_entry as _with
from bad_inputs.cases import RESULT, Case, Exempt, NotApplicable, na
from pinfer import smc
from pinfer.models.linear_gaussian import LinearGaussianSSM

KEY = jax.random.key(0)
NAN = np.float32(np.nan)
INF = np.float32(np.inf)
FUNCTION = "a function, not an array: checked for being callable (see the type case)"
BOOL = "a bool has no range and cannot be NaN (a float flag fails the dtype check)"
W = np.log(np.array([0.4, 0.3, 0.2, 0.1], np.float32))

MODEL = LinearGaussianSSM(
    m0=jnp.zeros(2),
    P0=jnp.eye(2),
    A=0.9 * jnp.eye(2),
    Q=0.5 * jnp.eye(2),
    H=jnp.ones((1, 2)),
    R=jnp.eye(1),
)
YS = np.array([[0.3], [-0.2], [0.5]], np.float32)


def _failed(result) -> bool:
    """The documented failure of a run: failed_step set and a NaN evidence."""
    return int(result.failed_step) >= 0 and bool(np.isnan(result.log_evidence))


# ---------------------------------------------------------------- particle filters


def _filter_cases() -> list:
    pf = functools.partial(smc.particle_filter, KEY, MODEL)
    threshold = "ess_threshold"
    run_traced = eqx.filter_jit(lambda th: pf(YS, 8, ess_threshold=th).log_evidence)
    return [
        _bad("key", "key", smc.particle_filter, 0, MODEL, YS, 8, match=("got 0",)),
        _bad("model", "type", pf.func, KEY, "lg", YS, 8, match=("str",)),
        _bad("num_particles", "value", pf, YS, 0, match=("got 0",)),
        _bad("num_particles", "type", pf, YS, 8.0, match=("8.0",)),
        _bad("observations", "shape", pf, YS[:, [0, 0]], 8, match=("(2,)", "(1,)")),
        _bad("observations", "shape", pf, YS[:, 0], 8, match=("()", "y[:, None]")),
        Case(
            "observations",
            "nan",
            lambda: pf(_with(YS, (1, 0), NAN), 8),
            flag=_failed,
        ),
        _bad(threshold, "shape", pf, YS, 8, ess_threshold=np.ones(2), match=("(2,)",)),
        _bad(threshold, "dtype", pf, YS, 8, ess_threshold="0.5", match=("'0.5'",)),
        _bad(threshold, "range", pf, YS, 8, ess_threshold=-0.2, match=("-0.2",)),
        _bad(threshold, "range", pf, YS, 8, ess_threshold=500, match=("500",)),
        _bad(threshold, "nan", pf, YS, 8, ess_threshold=NAN, match=("nan",)),
        # Traced: equinox stops the run with the message (eqx.filter_jit).
        Case(threshold, "range", lambda: run_traced(1.5), match=(threshold,)),
        _bad("mask", "shape", pf, YS, 8, mask=np.ones(2, bool), match=("[3]", "[2]")),
        _bad("mask", "dtype", pf, YS, 8, mask=np.ones(3), match=("float",)),
        *na("mask", BOOL, ("range", "nan")),
        _bad("proposal", "value", pf, YS, 8, proposal="optimal", match=("'optimal'",)),
        _bad("summary_fn", "type", pf, YS, 8, summary_fn=3, match=("3",)),
        _bad("resample_fn", "type", pf, YS, 8, resample_fn=None, match=("None",)),
    ]


def _pf_init_cases() -> list:
    fn = smc.pf_init
    return [
        _bad("key", "key", fn, None, MODEL, 8, match=("None",)),
        _bad("num_particles", "value", fn, KEY, MODEL, -1, match=("-1",)),
        _bad("model", "type", fn, KEY, object(), 8, match=("object", "sample_initial")),
    ]


@functools.cache
def _state():
    return smc.pf_init(KEY, MODEL, 8)


def _step(key=KEY, state=None, observation=YS[0], **options):
    state = _state() if state is None else state
    return smc.pf_step(key, state, MODEL, observation, **options)


def _pf_step_cases() -> list:
    threshold = "ess_threshold"
    return [
        _bad("key", "key", _step, 1, match=("1",)),
        _bad("state", "type", _step, KEY, (1, 2), match=("tuple",)),
        _bad(
            "observation", "shape", _step, observation=YS[:2], match=("(2, 1)", "(1,)")
        ),
        _bad("observed", "shape", _step, observed=np.ones(3, bool), match=("(3,)",)),
        _bad("observed", "dtype", _step, observed=np.float32(1), match=("float32",)),
        *na("observed", BOOL, ("range", "nan")),
        _bad(threshold, "shape", _step, ess_threshold=np.ones(2), match=("(2,)",)),
        _bad(threshold, "dtype", _step, ess_threshold=True, match=("True",)),
        _bad(threshold, "range", _step, ess_threshold=1.5, match=("1.5",)),
        _bad(threshold, "nan", _step, ess_threshold=NAN, match=("nan",)),
    ]


def _smc_step_cases() -> list:
    state = smc.SMCState(jnp.zeros((4, 1)), jnp.full(4, -np.log(4.0)))

    def propose(key, x):
        return x + 1.0

    def log_weight(x, parents):
        return jnp.zeros(x.shape[0])

    step = functools.partial(
        smc.smc_step, KEY, state, propose, log_weight, smc.systematic
    )
    threshold = "ess_threshold"
    return [
        _bad("key", "key", smc.smc_step, 0, state, propose, log_weight, smc.systematic),
        _bad(
            "state",
            "type",
            smc.smc_step,
            KEY,
            jnp.zeros(4),
            propose,
            log_weight,
            smc.systematic,
            match=("ArrayImpl",),
        ),
        *na("log_weight_fn", FUNCTION),
        _bad(
            "log_weight_fn",
            "type",
            smc.smc_step,
            KEY,
            state,
            propose,
            1.0,
            smc.systematic,
            match=("1.0",),
        ),
        *na("log_lookahead_fn", FUNCTION),
        _bad(threshold, "shape", step, np.ones(2), match=("(2,)",)),
        _bad(threshold, "dtype", step, "half", match=("'half'",)),
        _bad(threshold, "range", step, -0.2, match=("-0.2",)),
        _bad(threshold, "nan", step, NAN, match=("nan",)),
    ]


def _history(keep_history=True):
    """A hand-built filter result (no filter run): T = 3 steps of N = 4 particles."""
    steps, num = 3, 4
    log_weights = np.full((steps, num), -np.log(num), np.float32)
    particles = np.zeros((steps, num, 2), np.float32) + np.arange(num)[:, None]
    return smc.ParticleFilterResult(
        log_evidence=np.float32(0.0),
        filtering_mean=np.zeros((steps, 2), np.float32),
        ess=np.full(steps, float(num), np.float32),
        resampled=np.zeros(steps, bool),
        log_weights=log_weights if keep_history else log_weights[-1],
        particles=particles if keep_history else particles[-1],
        ancestors=np.tile(np.arange(num), (steps, 1)) if keep_history else None,
        failed_step=np.int32(-1),
    )


def _smooth(key=KEY, history=None, num_samples=2):
    history = _history() if history is None else history
    return smc.backward_simulation(key, MODEL, history, num_samples)


def _backward_cases() -> list:
    return [
        _bad("key", "key", _smooth, 0, match=("0",)),
        _bad("history", "type", _smooth, KEY, {"a": 1}, match=("dict",)),
        Case(
            "history",
            "value",
            lambda: _smooth(history=_history(False)),
            ("history", "keep_history"),
        ),
        _bad("num_samples", "value", _smooth, num_samples=0, match=("0",)),
    ]


def _simulate_cases() -> list:
    fn = smc.simulate
    return [
        _bad("key", "key", fn, 0, MODEL, 3, match=("0",)),
        _bad("num_steps", "value", fn, KEY, MODEL, -1, match=("-1",)),
        _bad("num_steps", "type", fn, KEY, MODEL, 2.5, match=("2.5",)),
        _bad("model", "type", fn, KEY, 3, 3, match=("int", "sample_observation")),
    ]


# ---------------------------------------------------------------- resampling


def _log_weight_cases(fn, *before, after=(), all_zero=False) -> list:
    """log_weights [N]: every kind, for ``fn(*before, log_weights, *after)``.

    ``all_zero``: every weight zero (all ``-inf``) is refused too (resamplers)."""
    name = "log_weights"

    def case(kind, value, *match):
        return Case(name, kind, lambda: fn(*before, value, *after), (name, *match))

    cases = [
        case("shape", W[None], "(1, 4)"),
        case("shape", W[:0], "empty"),
        case("dtype", W > -1, "bool"),
        case("range", _with(W, 1, INF), "inf", "position 1"),
        case("nan", _with(W, 2, NAN), "nan", "position 2"),
    ]
    if all_zero:
        cases.append(case("range", np.full(4, -np.inf, np.float32), "all -inf"))
    return cases


def _resampler_cases(fn) -> list:
    return [
        _bad("key", "key", fn, 0, W, 4, match=("0",)),
        *_log_weight_cases(fn, KEY, after=(4,), all_zero=True),
        _bad("num_samples", "value", fn, KEY, W, 0, match=("0",)),
        _bad("num_samples", "type", fn, KEY, W, 4.0, match=("4.0",)),
    ]


def _diversity_cases(fn, *before, after=()) -> list:
    """target_diversity in (0, 1] and the function arguments of annealed resampling."""
    call = functools.partial(fn, *before, W, *after)
    name = "target_diversity"
    return [
        _bad(name, "shape", call, target_diversity=np.ones(2), match=("(2,)",)),
        _bad(name, "dtype", call, target_diversity="0.5", match=("'0.5'",)),
        _bad(name, "range", call, target_diversity=1.5, match=("1.5",)),
        _bad(name, "range", call, target_diversity=0.0, match=("0.0",)),
        _bad(name, "nan", call, target_diversity=NAN, match=("nan",)),
        *na("diversity_fn", FUNCTION),
        _bad("diversity_fn", "type", call, diversity_fn="ess", match=("'ess'",)),
    ]


def _tempered_resample_cases() -> list:
    fn = smc.tempered_resample
    call = functools.partial(fn, KEY, W, 4)
    return [
        _bad("key", "key", fn, None, W, 4, 0.5, match=("None",)),
        *_log_weight_cases(fn, KEY, after=(4, 0.5), all_zero=True),
        _bad("alpha", "shape", call, np.ones(2), match=("(2,)",)),
        _bad("alpha", "dtype", call, "half", match=("half",)),
        _bad("alpha", "range", call, 1.5, match=("1.5",)),
        _bad("alpha", "nan", call, NAN, match=("nan",)),
        *na("base_resample_fn", FUNCTION),
        _bad("base_resample_fn", "type", call, 0.5, base_resample_fn=2, match=("2",)),
    ]


def _annealed_resample_cases() -> list:
    fn = smc.annealed_resample
    return [
        _bad("key", "key", fn, 0, W, 4, match=("0",)),
        *_log_weight_cases(fn, KEY, after=(4,), all_zero=True),
        *_diversity_cases(fn, KEY, after=(4,)),
        *na("base_resample_fn", FUNCTION),
        _bad("base_resample_fn", "type", fn, KEY, W, 4, base_resample_fn=1),
        _bad("num_samples", "value", fn, KEY, W, 0, match=("0",)),
    ]


# ---------------------------------------------------------------- tempered SMC


def _log_prior(x):
    return -0.5 * x @ x


X0 = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
# One tempered step with one MCMC move: the cheapest run that shows a flag.
ONE_STEP = {"temperatures": np.array([1.0], np.float32), "num_mcmc_steps": 1}


def _nan_likelihood(x):
    return jnp.nan * x[0]


def _target_ess_cases(fn, *args, **kwargs) -> list:
    call = functools.partial(fn, *args, **kwargs)
    name = "target_ess"
    return [
        _bad(name, "shape", call, target_ess=np.ones(2), match=("(2,)",)),
        _bad(name, "dtype", call, target_ess="0.5", match=("'0.5'",)),
        _bad(name, "range", call, target_ess=1.0, match=("1.0", "(0, 1)")),
        _bad(name, "range", call, target_ess=-0.2, match=("-0.2",)),
        _bad(name, "nan", call, target_ess=NAN, match=("nan",)),
    ]


def _tempered_cases() -> list:
    fn = smc.tempered_smc
    call = functools.partial(fn, KEY, _log_prior, _log_prior)
    temps = "temperatures"
    traced_flat = jax.jit(lambda x: fn(KEY, _log_prior, _log_prior, x, **ONE_STEP))
    return [
        _bad("key", "key", fn, 0, _log_prior, _log_prior, X0, match=("0",)),
        *na("log_prior_fn", FUNCTION),
        *na("log_likelihood_fn", FUNCTION),
        _bad("log_prior_fn", "type", fn, KEY, None, _log_prior, X0, match=("None",)),
        _bad(
            "log_likelihood_fn",
            "value",
            fn,
            KEY,
            _log_prior,
            lambda x: x,
            X0,
            match=("scalar", "(2,)"),
        ),
        _bad("initial_particles", "shape", call, X0[:, 0], match=("(6,)",)),
        _bad("initial_particles", "dtype", call, X0 > 0, match=("bool",)),
        _bad(
            "initial_particles",
            "nan",
            call,
            _with(X0, (2, 1), NAN),
            match=("nan", "(2, 1)"),
        ),
        _bad("initial_particles", "value", call, np.ones((6, 2)), match=("all equal",)),
        Case(
            "initial_particles",
            "value",
            lambda: traced_flat(jnp.ones((6, 2))),
            flag=_failed,
        ),
        *_target_ess_cases(fn, KEY, _log_prior, _log_prior, X0),
        _bad(temps, "shape", call, X0, temperatures=np.ones((2, 2)), match=("(2, 2)",)),
        _bad(temps, "dtype", call, X0, temperatures=np.ones(2, bool), match=("bool",)),
        _bad(
            temps,
            "range",
            call,
            X0,
            temperatures=np.array([0.5, 0.3, 1.0]),
            match=("0.3",),
        ),
        _bad(
            temps,
            "nan",
            call,
            X0,
            temperatures=np.array([0.5, np.nan, 1.0]),
            match=("nan",),
        ),
        _bad("max_steps", "value", call, X0, max_steps=0, match=("0",)),
        _bad("num_mcmc_steps", "value", call, X0, num_mcmc_steps=0, match=("0",)),
        _bad("mcmc_kernel", "type", call, X0, mcmc_kernel="rwm", match=("'rwm'",)),
        Case(
            "log_likelihood_fn",
            "nan",
            lambda: fn(KEY, _log_prior, _nan_likelihood, X0, **ONE_STEP),
            flag=_failed,
        ),
    ]


def _build_tempered_cases() -> list:
    fn = smc.build_tempered_smc
    return [
        *na("log_prior_fn", FUNCTION),
        *na("log_likelihood_fn", FUNCTION),
        _bad("log_prior_fn", "type", fn, 1, _log_prior, match=("1",)),
        *_target_ess_cases(fn, _log_prior, _log_prior),
        _bad("num_mcmc_steps", "value", fn, _log_prior, _log_prior, num_mcmc_steps=-1),
    ]


def _next_temperature_cases() -> list:
    fn = smc.next_temperature
    zeros = np.zeros(4, np.float32)
    return [
        *_log_weight_cases(fn, after=(zeros, 0.0, 0.5)),
        _bad("log_likelihood", "shape", fn, W, zeros[:3], 0.0, 0.5, match=("[3]",)),
        _bad("log_likelihood", "dtype", fn, W, zeros > 0, 0.0, 0.5, match=("bool",)),
        _bad(
            "log_likelihood",
            "range",
            fn,
            W,
            _with(zeros, 0, INF),
            0.0,
            0.5,
            match=("inf",),
        ),
        _bad(
            "log_likelihood",
            "nan",
            fn,
            W,
            _with(zeros, 1, NAN),
            0.0,
            0.5,
            match=("nan", "position 1"),
        ),
        _bad("temperature", "shape", fn, W, zeros, np.zeros(2), 0.5, match=("(2,)",)),
        _bad("temperature", "dtype", fn, W, zeros, "0", 0.5, match=("str",)),
        _bad("temperature", "range", fn, W, zeros, 1.5, 0.5, match=("1.5",)),
        _bad("temperature", "nan", fn, W, zeros, NAN, 0.5, match=("nan",)),
        *_target_ess_cases(fn, W, zeros, 0.0),
    ]


def _numpyro_model(y):
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)


def _numpyro_cases() -> list:
    fn = smc.tempered_smc_numpyro
    y = jnp.array([0.5, 1.0])
    return [
        _bad("key", "key", fn, 0, _numpyro_model, (y,), 8, match=("0",)),
        _bad("model", "type", fn, KEY, "model", (y,), 8, match=("'model'",)),
        _bad("model_args", "type", fn, KEY, _numpyro_model, y, 8, match=("(y,)",)),
        _bad("num_particles", "value", fn, KEY, _numpyro_model, (y,), 1, match=("1",)),
    ]


def _numpyro_target_cases() -> list:
    fn = smc.numpyro_target
    return [
        _bad("model", "type", fn, 3, match=("int",)),
        _bad("model_args", "type", fn, _numpyro_model, 1.0, match=("float",)),
        _bad("model_kwargs", "type", fn, _numpyro_model, (), [1], match=("list",)),
    ]


# ---------------------------------------------------------------- MCMC kernels


def _density(x):
    return -0.5 * x @ x, ()


def _rwm(scale_tril, key=KEY, log_density_fn=_density):
    state = smc.mcmc.rwm_init(jnp.zeros(2), _density)
    return smc.rwm_step(key, state, log_density_fn, scale_tril)


def _hmc(step_size, inverse_mass, num_leapfrog_steps, key=KEY):
    state = smc.mcmc.hmc_init(jnp.zeros(2), _density)
    return smc.hmc_step(
        key, state, _density, step_size, inverse_mass, num_leapfrog_steps
    )


def _rwm_step_cases() -> list:
    fn = _rwm
    name = "scale_tril"
    return [
        _bad("key", "key", fn, jnp.eye(2), key=0),
        _bad(name, "shape", fn, jnp.eye(3), match=("[2, 2]", "[3, 3]")),
        _bad(name, "dtype", fn, jnp.eye(2, dtype=int), match=("int32",)),
        NotApplicable(name, "range", "any square matrix is a valid proposal factor"),
        _bad(name, "nan", fn, _with(np.eye(2), (1, 0), np.nan), match=("nan",)),
        _bad("log_density_fn", "type", fn, jnp.eye(2), log_density_fn=3),
    ]


def _hmc_step_cases() -> list:
    fn = _hmc
    ones = np.ones(2, np.float32)
    return [
        _bad("key", "key", fn, 0.1, ones, 2, key=0),
        _bad("step_size", "shape", fn, ones, ones, 2, match=("[2]",)),
        _bad("step_size", "dtype", fn, True, ones, 2, match=("bool",)),
        _bad("step_size", "range", fn, -0.1, ones, 2, match=("-0.1",)),
        _bad("step_size", "nan", fn, NAN, ones, 2, match=("nan",)),
        _bad("inverse_mass", "shape", fn, 0.1, np.ones(3), 2, match=("[2]", "[3]")),
        _bad("inverse_mass", "dtype", fn, 0.1, ones > 0, 2, match=("bool",)),
        _bad("inverse_mass", "range", fn, 0.1, -ones, 2, match=("-1.0",)),
        _bad("inverse_mass", "nan", fn, 0.1, _with(ones, 1, NAN), 2, match=("nan",)),
        _bad("num_leapfrog_steps", "value", fn, 0.1, ones, 0, match=("0",)),
    ]


def _build_rwm_cases() -> list:
    fn = smc.build_rwm
    return [
        _bad("scale", "range", fn, scale=-1.0, match=("-1.0",)),
        _bad("scale", "nan", fn, scale=NAN, match=("nan",)),
        _bad("jitter", "range", fn, jitter=-1e-6, match=("-1e-06",)),
    ]


def _build_hmc_cases() -> list:
    fn = smc.build_hmc
    return [
        _bad("step_size", "range", fn, step_size=0.0, match=("0.0",)),
        _bad("num_leapfrog_steps", "value", fn, num_leapfrog_steps=0, match=("0",)),
        _bad("target_acceptance", "range", fn, target_acceptance=1.5, match=("1.5",)),
        _bad("adaptation_rate", "range", fn, adaptation_rate=-1.0, match=("-1.0",)),
        _bad("adapt_mass", "type", fn, adapt_mass="yes", match=("'yes'",)),
    ]


ENTRIES = {
    "pinfer.smc.AbstractStateSpaceModel": Exempt(
        "an abstract base class whose methods users implement; the drivers check a "
        "model's methods and shapes (the particle_filter, pf_step and simulate cases)"
    ),
    "pinfer.smc.ParticleFilterResult": RESULT,
    "pinfer.smc.ParticleFilterState": RESULT,
    "pinfer.smc.SMCInfo": RESULT,
    "pinfer.smc.SMCState": Exempt(
        "a NamedTuple of particles and log-weights; smc_step checks its type"
    ),
    "pinfer.smc.Proposal": Exempt("a NamedTuple of two user functions"),
    "pinfer.smc.MCMCKernel": Exempt(
        "a NamedTuple of four functions built by build_rwm / build_hmc"
    ),
    "pinfer.smc.NumpyroTarget": RESULT,
    "pinfer.smc.TemperedSMCInfo": RESULT,
    "pinfer.smc.TemperedSMCResult": RESULT,
    "pinfer.smc.TemperedSMCState": RESULT,
    "pinfer.smc.prepared": Exempt(
        "duck-typed: returns model.prepare() when the model has one, else the model"
    ),
    "pinfer.smc.particle_filter": _filter_cases(),
    "pinfer.smc.pf_init": _pf_init_cases(),
    "pinfer.smc.pf_step": _pf_step_cases(),
    "pinfer.smc.smc_step": _smc_step_cases(),
    "pinfer.smc.backward_simulation": _backward_cases(),
    "pinfer.smc.simulate": _simulate_cases(),
    "pinfer.smc.multinomial": _resampler_cases(smc.multinomial),
    "pinfer.smc.residual": _resampler_cases(smc.residual),
    "pinfer.smc.stratified": _resampler_cases(smc.stratified),
    "pinfer.smc.systematic": _resampler_cases(smc.systematic),
    "pinfer.smc.ess_fraction": _log_weight_cases(smc.ess_fraction),
    "pinfer.smc.entropy_fraction": _log_weight_cases(smc.entropy_fraction),
    "pinfer.smc.annealing_exponent": [
        *_log_weight_cases(smc.annealing_exponent),
        *_diversity_cases(smc.annealing_exponent),
    ],
    "pinfer.smc.annealed_log_lookahead": [
        *_log_weight_cases(smc.annealed_log_lookahead),
        *_diversity_cases(smc.annealed_log_lookahead),
    ],
    "pinfer.smc.annealed_resample": _annealed_resample_cases(),
    "pinfer.smc.tempered_resample": _tempered_resample_cases(),
    "pinfer.smc.tempered_smc": _tempered_cases(),
    "pinfer.smc.build_tempered_smc": _build_tempered_cases(),
    "pinfer.smc.next_temperature": _next_temperature_cases(),
    "pinfer.smc.tempered_smc_numpyro": _numpyro_cases(),
    "pinfer.smc.numpyro_target": _numpyro_target_cases(),
    "pinfer.smc.rwm_step": _rwm_step_cases(),
    "pinfer.smc.hmc_step": _hmc_step_cases(),
    "pinfer.smc.build_rwm": _build_rwm_cases(),
    "pinfer.smc.build_hmc": _build_hmc_cases(),
}
