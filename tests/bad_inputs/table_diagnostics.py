"""Bad inputs of ``pinfer.diagnostics`` (ESS, MCSE, SBC, TARP).

Concrete bad values raise, naming the argument and the value; the ``jit`` cases
check the documented traced outcome (NaN, or a rank of -1), never a number.
"""

import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.builders import bad as _bad
from bad_inputs.builders import with_entry as _with
from bad_inputs.cases import RESULT, Case, NotApplicable
from pinfer import diagnostics as dg

KEY = jax.random.key(0)
NAN, INF = np.float32(np.nan), np.float32(np.inf)
ANY_REAL = "any real value is valid (the statistic is defined for every real input)"


def _nan(result) -> bool:
    leaves = jax.tree.leaves(result)
    return all(bool(np.isnan(np.asarray(leaf)).any()) for leaf in leaves)


def _traced(arg, kind, fn, *args, flag=_nan, static=()) -> Case:
    """The same bad value inside ``jit``: the documented NaN (or ``flag``)."""
    return Case(arg, kind, lambda: jax.jit(fn, static_argnums=static)(*args), flag=flag)


# ---------------------------------------------------------------- ESS and MCSE

W = np.zeros(4, np.float32)
X = np.arange(4.0, dtype=np.float32)
CHAINS = np.stack([np.sin(np.arange(8.0)), np.cos(np.arange(8.0))]).astype(np.float32)


def _log_weight_cases(fn) -> list:
    name = "log_weights"
    return [
        _bad(name, "shape", fn, np.zeros((3, 4)), match=("(3, 4)",)),
        _bad(name, "shape", fn, np.zeros(0), match=("(0,)",)),
        _bad(name, "dtype", fn, W > 0, match=("bool",)),
        _bad(name, "range", fn, _with(W, 1, INF), match=("inf",)),
        _bad(name, "nan", fn, _with(W, 2, NAN), match=("nan", "position 2")),
        _traced(name, "range", fn, _with(W, 1, INF)),
        _traced(name, "nan", fn, _with(W, 2, NAN)),
    ]


def _chain_cases(fn) -> list:
    inf, nan = _with(CHAINS, (0, 1), INF), _with(CHAINS, (1, 5), NAN)
    return [
        _bad("samples", "shape", fn, np.zeros(8), match=("(8,)", "x[None]")),
        _bad("samples", "shape", fn, np.zeros((2, 3)), match=("4 draws", "(2, 3)")),
        _bad("samples", "dtype", fn, CHAINS > 0, match=("bool",)),
        _bad("samples", "dtype", fn, CHAINS + 1j, match=("complex",)),
        NotApplicable("samples", "range", ANY_REAL),
        _bad("samples", "range", fn, inf, match=("inf", "chain 0, draw 1")),
        _bad("samples", "nan", fn, nan, match=("nan", "chain 1, draw 5")),
        _traced("samples", "nan", fn, nan),
        # A chain that never moves: no information about mixing, NaN as in Stan.
        Case("samples", "value", lambda: fn(np.ones((2, 8))), flag=_nan),
    ]


def _mcse_weighted_cases() -> list:
    fn = dg.mcse_weighted
    return [
        _bad("values", "shape", fn, np.float32(1.0), np.zeros(1), match=("()",)),
        _bad("values", "dtype", fn, X > 1, W, match=("bool",)),
        NotApplicable("values", "range", ANY_REAL),
        _bad("values", "nan", fn, _with(X, 3, NAN), W, match=("nan", "position 3")),
        _traced("values", "nan", fn, _with(X, 3, NAN), W),
        _bad("log_weights", "shape", fn, X, np.zeros(3), match=("[4]", "[3]")),
        _bad("log_weights", "dtype", fn, X, W > 0, match=("bool",)),
        _bad("log_weights", "range", fn, X, _with(W, 0, INF), match=("inf",)),
        _traced("log_weights", "range", fn, X, _with(W, 0, INF)),
        _bad("log_weights", "nan", fn, X, _with(W, 0, NAN), match=("nan",)),
        _traced("log_weights", "nan", fn, X, _with(W, 0, NAN)),
    ]


# ---------------------------------------------------------------- SBC and TARP

THETA = np.array([[0.0], [1.0], [2.0]], np.float32)
DRAWS = np.linspace(-1.0, 3.0, 12, dtype=np.float32).reshape(3, 4, 1)
RANKS = np.array([[0, 1], [4, 2], [3, 0]], np.int32)


def _flagged(result) -> bool:
    """sbc_ranks flags a NaN with rank -1; tarp / tarp_fractions with NaN."""
    if isinstance(result, dg.TARPResult):
        return _nan((result.ecp, result.statistic, result.p_value))
    array = np.asarray(result)
    if np.issubdtype(array.dtype, np.integer):
        return bool((array == -1).any())
    return _nan(array)


def _calibration_cases(fn) -> list:
    """key, theta_true [S, d] and posterior_samples [S, L, d] of SBC / TARP."""
    nan_theta, nan_draws = _with(THETA, (1, 0), NAN), _with(DRAWS, (2, 3, 0), NAN)
    theta, draws = "theta_true", "posterior_samples"
    return [
        _bad("key", "key", fn, 0, THETA, DRAWS, match=("0", "jax.random.key")),
        _bad(theta, "shape", fn, KEY, THETA[:, 0], DRAWS, match=("(3,)",)),
        _bad(theta, "dtype", fn, KEY, THETA > 0, DRAWS, match=("bool",)),
        NotApplicable(theta, "range", ANY_REAL),
        _bad(theta, "nan", fn, KEY, nan_theta, DRAWS, match=("nan", "simulation 1")),
        _traced(theta, "nan", fn, KEY, nan_theta, DRAWS, flag=_flagged),
        _bad(
            draws, "shape", fn, KEY, THETA, DRAWS[:2], match=("[3, *, 1]", "[2, 4, 1]")
        ),
        _bad(draws, "shape", fn, KEY, THETA, DRAWS[..., 0], match=("(3, 4)",)),
        _bad(draws, "dtype", fn, KEY, THETA, DRAWS + 1j, match=("complex",)),
        NotApplicable(draws, "range", ANY_REAL),
        _bad(
            draws,
            "nan",
            fn,
            KEY,
            THETA,
            nan_draws,
            match=("nan", "simulation 2, draw 3"),
        ),
        _traced(draws, "nan", fn, KEY, THETA, nan_draws, flag=_flagged),
    ]


def _references_cases(fn) -> list:
    refs, nan = "references", _with(THETA, (0, 0), NAN)
    return [
        _bad(
            refs, "shape", fn, KEY, THETA, DRAWS, THETA[:2], match=("[3, 1]", "[2, 1]")
        ),
        _bad(refs, "dtype", fn, KEY, THETA, DRAWS, THETA > 0, match=("bool",)),
        NotApplicable(refs, "range", "any real point can centre the balls"),
        _bad(refs, "nan", fn, KEY, THETA, DRAWS, nan, match=("nan", "simulation 0")),
        _traced(refs, "nan", fn, KEY, THETA, DRAWS, nan, flag=_flagged),
    ]


def _rank_test_cases() -> list:
    fn, out_of_range = dg.rank_uniformity_test, _with(RANKS, (1, 1), 7)

    def second_coordinate_only(result) -> bool:
        (stat, p) = result
        return _nan((stat[1], p[1])) and not _nan(p[0])

    return [
        _bad("ranks", "shape", fn, np.int32(2), 4, 2, match=("()",)),
        _bad("ranks", "dtype", fn, RANKS * 0.5, 4, 2, match=("float", "2.0")),
        _bad("ranks", "range", fn, out_of_range, 4, 2, match=("7", "simulation 1")),
        _bad("ranks", "range", fn, _with(RANKS, (2, 0), -1), 4, 2, match=("-1",)),
        _traced(
            "ranks",
            "range",
            fn,
            out_of_range,
            4,
            2,
            flag=second_coordinate_only,
            static=(1, 2),
        ),
        NotApplicable(
            "ranks",
            "nan",
            "integer ranks cannot be NaN (float ranks fail the dtype check); "
            "sbc_ranks gives a NaN draw rank -1, the range case above",
        ),
        _bad("num_posterior_samples", "value", fn, RANKS, 0, 2, match=("0",)),
        _bad("num_posterior_samples", "type", fn, RANKS, 4.0, 2, match=("4.0",)),
        _bad("num_bins", "value", fn, RANKS, 4, 6, match=("6", "2..5")),
        _bad("num_bins", "value", fn, RANKS, 4, 1, match=("1",)),
    ]


def _prior(key):
    return jax.random.normal(key, (2,))


def _simulate(key, theta):
    return theta + jax.random.normal(key, (2,))


def _posterior(key, y, num_samples):
    return y / 2 + jax.random.normal(key, (num_samples, 2)) / 2


def _nan_posterior(key, y, num_samples):
    return _posterior(key, y, num_samples).at[1, 0].set(jnp.nan)


def _sbc_cases() -> list:
    good = dict(
        key=KEY,
        prior_sample_fn=_prior,
        simulate_fn=_simulate,
        posterior_sample_fn=_posterior,
        num_simulations=8,
        num_posterior_samples=4,
    )

    def bad(arg, kind, value, *match):
        return _bad(arg, kind, dg.sbc, match=match, **{**good, arg: value})

    def nan_prior(key):
        return jnp.full(2, jnp.nan)

    def long_draws(key, y, num_samples):
        return jnp.zeros((num_samples + 1, 2))

    post = "posterior_sample_fn"
    return [
        bad("key", "key", 7, "7"),
        bad("prior_sample_fn", "type", "normal", "'normal'"),
        bad("simulate_fn", "type", None, "None"),
        bad(post, "type", 3, "3"),
        bad("num_simulations", "value", 0, "0"),
        bad("num_simulations", "type", 8.5, "8.5"),
        bad("num_posterior_samples", "value", -1, "-1"),
        bad("num_bins", "value", 9, "9"),
        bad("batch_size", "value", 0, "0"),
        bad("prior_sample_fn", "nan", nan_prior, "nan", "simulation 0"),
        bad(post, "nan", _nan_posterior, "nan", "draw 1"),
        bad(post, "shape", long_draws, "num_posterior_samples=4", "(5,)"),
    ]


def _tarp_cases() -> list:
    fn = dg.tarp
    return (
        _calibration_cases(fn)
        + _references_cases(fn)
        + [
            _bad(
                "num_alphas", "value", fn, KEY, THETA, DRAWS, num_alphas=1, match=("1",)
            ),
            _bad(
                "num_alphas",
                "type",
                fn,
                KEY,
                THETA,
                DRAWS,
                num_alphas=5.0,
                match=("5.0",),
            ),
        ]
    )


def _ks_cases() -> list:
    fn, u = dg.ks_uniform_test, np.array([0.1, 0.5, 0.9], np.float32)
    return [
        _bad("u", "shape", fn, np.full((2, 3), 0.5), match=("(2, 3)",)),
        _bad("u", "shape", fn, np.zeros(0), match=("(0,)",)),
        _bad("u", "dtype", fn, u > 0.2, match=("bool",)),
        _bad("u", "range", fn, _with(u, 1, 1.5), match=("1.5", "position 1")),
        _traced("u", "range", fn, _with(u, 1, 1.5)),
        _bad("u", "nan", fn, _with(u, 0, NAN), match=("nan",)),
        _traced("u", "nan", fn, _with(u, 0, NAN)),
    ]


ENTRIES = {
    "pinfer.diagnostics.SBCResult": RESULT,
    "pinfer.diagnostics.TARPResult": RESULT,
    "pinfer.diagnostics.ess": _log_weight_cases(dg.ess),
    "pinfer.diagnostics.log_ess": _log_weight_cases(dg.log_ess),
    "pinfer.diagnostics.mcse_weighted": _mcse_weighted_cases(),
    "pinfer.diagnostics.mcmc_ess": _chain_cases(dg.mcmc_ess),
    "pinfer.diagnostics.mcse": _chain_cases(dg.mcse),
    "pinfer.diagnostics.sbc_ranks": _calibration_cases(dg.sbc_ranks),
    "pinfer.diagnostics.rank_uniformity_test": _rank_test_cases(),
    "pinfer.diagnostics.sbc": _sbc_cases(),
    "pinfer.diagnostics.tarp_fractions": (
        _calibration_cases(dg.tarp_fractions) + _references_cases(dg.tarp_fractions)
    ),
    "pinfer.diagnostics.tarp": _tarp_cases(),
    "pinfer.diagnostics.ks_uniform_test": _ks_cases(),
}
