"""Bad inputs of ``pinfer.models`` (the linear-Gaussian model, its Kalman filter and
the small Gaussian helpers).

Concrete bad values raise on construction or before tracing, naming the argument
and the value. ``mvn_logpdf`` runs once per particle inside the filters, so it checks
shapes only; its NaN case is the documented NaN density.
"""

import functools

import jax
import numpy as np

from bad_inputs.builders import bad as _bad
from bad_inputs.builders import with_entry as _with
from bad_inputs.cases import RESULT, Case, Exempt, NotApplicable
from pinfer.models import gaussian, kalman, linear_gaussian

KEY = jax.random.key(0)
NAN = np.float32(np.nan)
INF = np.float32(np.inf)
BOOL = "a bool has no range and cannot be NaN (a float flag fails the dtype check)"

FIELDS = {
    "m0": np.zeros(2, np.float32),
    "P0": np.eye(2, dtype=np.float32),
    "A": 0.9 * np.eye(2, dtype=np.float32),
    "Q": 0.5 * np.eye(2, dtype=np.float32),
    "H": np.ones((1, 2), np.float32),
    "R": np.eye(1, dtype=np.float32),
}
MODEL = linear_gaussian.LinearGaussianSSM(**FIELDS)
YS = np.array([[0.3], [-0.2], [0.5]], np.float32)
NOT_PD = np.array([[1.0, 2.0], [2.0, 1.0]], np.float32)


def _model(**changes):
    return linear_gaussian.LinearGaussianSSM(**(FIELDS | changes))


def _field_cases(name: str) -> list:
    value = FIELDS[name]
    wrong = np.zeros(value.shape + (1,), np.float32)
    covariance = name in ("P0", "Q", "R")
    cases = [
        _bad(name, "shape", _model, **{name: wrong}, match=(str(wrong.shape),)),
        _bad(name, "dtype", _model, **{name: value.astype(np.int32)}, match=("int32",)),
        _bad(name, "nan", _model, **{name: _with(value, (0,) * value.ndim, NAN)}),
    ]
    if covariance:
        bad = -value if value.shape[0] == 1 else NOT_PD
        cases.append(
            _bad(name, "range", _model, **{name: bad}, match=("positive definite",))
        )
    else:  # any finite real entry defines a valid model; infinite ones do not
        cases.append(
            _bad(name, "range", _model, **{name: _with(value, (0,) * value.ndim, INF)})
        )
    return cases


def _observation_cases(fn) -> list:
    call = functools.partial(fn, MODEL)
    name = "observations"
    return [
        _bad("model", "type", fn, object(), YS, match=("object", "m0")),
        _bad(name, "shape", call, YS[:, 0], match=("[*, 1]", "[3]")),
        _bad(name, "dtype", call, YS > 0, match=("bool",)),
        _bad(name, "range", call, _with(YS, (1, 0), INF), match=("inf", "step 1")),
        _bad(name, "nan", call, _with(YS, (2, 0), NAN), match=("nan", "step 2")),
        _bad("mask", "shape", call, YS, np.ones(2, bool), match=("[3]", "[2]")),
        _bad("mask", "dtype", call, YS, np.ones(3, np.float32), match=("float32",)),
        NotApplicable("mask", "range", BOOL),
        NotApplicable("mask", "nan", BOOL),
    ]


def _covariance_cases(fn) -> list:
    return [
        _bad("cov", "shape", fn, np.ones((2, 3), np.float32), match=("[2, 3]",)),
        _bad("cov", "dtype", fn, np.eye(2, dtype=np.int32), match=("int32",)),
        _bad("cov", "range", fn, NOT_PD, match=("positive definite", "-1")),
        _bad("cov", "value", fn, np.array([[1.0, 0.5], [0.0, 1.0]]), match=("0.5",)),
        _bad("cov", "nan", fn, _with(np.eye(2), (1, 1), np.nan), match=("nan",)),
    ]


@functools.cache
def _identity_factor():
    return gaussian.factor(np.eye(2, dtype=np.float32))


def _mvn(x, mean, cov_factor=None):
    cov_factor = _identity_factor() if cov_factor is None else cov_factor
    return gaussian.mvn_logpdf(x, mean, cov_factor)


def _mvn_cases() -> list:
    fn = _mvn
    zeros = np.zeros(2, np.float32)
    return [
        _bad("x", "shape", fn, np.zeros(3), zeros, match=("[2]", "[3]")),
        _bad("mean", "dtype", fn, zeros, zeros > 0, match=("bool",)),
        _bad("cov_factor", "type", fn, zeros, zeros, np.eye(2), match=("ndarray",)),
        # Per particle, values are not checked: NaN in gives the documented NaN.
        Case(
            "x",
            "nan",
            lambda: fn(_with(zeros, 0, NAN), zeros),
            flag=lambda out: bool(np.isnan(out)),
        ),
    ]


def _factor_of_chol_cases() -> list:
    fn = gaussian.factor_of_chol
    return [
        _bad("chol", "shape", fn, np.ones(2, np.float32), match=("(2,)",)),
        _bad("chol", "range", fn, -np.eye(2, dtype=np.float32), match=("-1.0",)),
        _bad("chol", "nan", fn, _with(np.eye(2), (0, 0), np.nan), match=("nan",)),
    ]


def _random_cases() -> list:
    fn = linear_gaussian.random_linear_gaussian
    return [
        _bad("key", "key", fn, 0, 2, 1, match=("0",)),
        _bad("dx", "value", fn, KEY, 0, 1, match=("0",)),
        _bad("dy", "type", fn, KEY, 2, 1.5, match=("1.5",)),
        _bad("spectral_radius", "range", fn, KEY, 2, 1, spectral_radius=-0.5),
        _bad("observation_scale", "range", fn, KEY, 2, 1, observation_scale=0.0),
    ]


ENTRIES = {
    "pinfer.models.gaussian.GaussianFactor": RESULT,
    "pinfer.models.kalman.KalmanResult": RESULT,
    "pinfer.models.linear_gaussian.LinearGaussianFactors": RESULT,
    "pinfer.models.gaussian.exact": Exempt(
        "a decorator (it wraps a function; there is no data to check)"
    ),
    "pinfer.models.gaussian.chol": _covariance_cases(gaussian.chol),
    "pinfer.models.gaussian.factor": _covariance_cases(gaussian.factor),
    "pinfer.models.gaussian.factor_of_chol": _factor_of_chol_cases(),
    "pinfer.models.gaussian.mvn_logpdf": _mvn_cases(),
    "pinfer.models.kalman.kalman_filter": _observation_cases(kalman.kalman_filter),
    "pinfer.models.kalman.rts_smoother": _observation_cases(kalman.rts_smoother),
    "pinfer.models.linear_gaussian.LinearGaussianSSM": [
        case for name in FIELDS for case in _field_cases(name)
    ]
    + [
        _bad(
            "factors",
            "type",
            _model,
            factors=1.0,
            match=("float", "LinearGaussianFactors"),
        )
    ],
    "pinfer.models.linear_gaussian.random_linear_gaussian": _random_cases(),
}
