"""Tests of the importance-weight effective sample size."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import rounding_rtol

from pinfer.diagnostics import ess, log_ess

_ess = jax.jit(ess)
_log_ess = jax.jit(log_ess)


def _ess_rtol(n: int, scale: float, dtype=np.float32) -> float:
    """Rounding bound on the relative error of an ESS of ``n`` log-weights of size
    up to ``scale`` (Higham, 2002, 3.1). log ESS = 2 lse - lse2: each log-sum-exp sums
    ``n`` positive terms (relative error gamma_n in any order; 3 gamma_n in all, below
    2 gamma_2n), and exponents off by u * scale move log ESS by at most 4 u scale;
    ESS = exp(log ESS) turns these absolute errors into relative ones."""
    return rounding_rtol(num_ops=2 * n, dtype=dtype) + rounding_rtol(
        num_ops=2, condition=scale, dtype=dtype
    )


def _numpy_ess(log_weights: np.ndarray) -> float:
    w = np.exp(log_weights - np.max(log_weights))
    return float(w.sum() ** 2 / np.sum(w**2))


def test_uniform_weights_give_n():
    for n in [1, 7, 1000]:
        # The shifted log-weights are -log n, so the scale is 3.2 + log n.
        rtol = _ess_rtol(n, 3.2 + np.log(n))
        np.testing.assert_allclose(_ess(jnp.full(n, -3.2)), n, rtol=rtol)
        # log ESS is off by at most the ESS's relative error (log(1 + r) <= r).
        atol = _ess_rtol(n, np.log(n))
        np.testing.assert_allclose(_log_ess(jnp.zeros(n)), np.log(n), atol=atol)


def test_one_hot_weights_give_one():
    log_w = jnp.full(10, -jnp.inf).at[4].set(12.0)
    # Exact: each log-sum-exp sums the single term exp(0) = 1.
    assert float(_ess(log_w)) == 1.0
    assert float(_log_ess(log_w)) == 0.0


def test_invariant_to_adding_a_constant():
    log_w = jax.random.normal(jax.random.key(0), (200,)) * 2.0
    reference = _ess(log_w)
    scale = float(jnp.max(jnp.abs(log_w)))
    for shift in [-1000.0, -3.0, 5.0, 800.0]:
        # Both ESS within their rounding bound; log_w + shift is itself rounded to
        # u * (|shift| + scale), which the scale of the shifted bound covers.
        rtol = _ess_rtol(200, scale) + _ess_rtol(200, abs(shift) + scale)
        np.testing.assert_allclose(_ess(log_w + shift), reference, rtol=rtol)


def test_all_minus_inf_gives_zero_not_nan():
    log_w = jnp.full(5, -jnp.inf)
    assert float(_ess(log_w)) == 0.0
    assert float(_log_ess(log_w)) == -np.inf


def test_agrees_with_numpy_on_random_weights():
    keys = jax.random.split(jax.random.key(1), 20)
    log_w = jax.vmap(lambda k: 3.0 * jax.random.normal(k, (64,)))(keys)
    log_w = log_w.at[:, :5].set(-jnp.inf)
    got = jax.vmap(_ess)(log_w)
    expected = [_numpy_ess(np.asarray(lw, np.float64)) for lw in log_w]
    rtol = _ess_rtol(64, float(jnp.max(jnp.where(jnp.isinf(log_w), 0, jnp.abs(log_w)))))
    np.testing.assert_allclose(got, expected, rtol=rtol)


def test_float64():
    with jax.enable_x64(True):
        log_w = jax.random.normal(jax.random.key(2), (300,), dtype=jnp.float64) * 4
        value = ess(log_w)
        assert value.dtype == jnp.float64
        rtol = _ess_rtol(300, float(jnp.max(jnp.abs(log_w))), np.float64)
        np.testing.assert_allclose(value, _numpy_ess(np.asarray(log_w)), rtol=rtol)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    st.lists(st.floats(-1e4, 1e4, width=32), min_size=16, max_size=16),
    st.lists(st.booleans(), min_size=16, max_size=16),
)
def test_property_ess_between_one_and_n(values, dead):
    log_w = jnp.where(jnp.asarray(dead), -jnp.inf, jnp.asarray(values, jnp.float32))
    value = float(_ess(log_w))
    if all(dead):
        assert value == 0.0
    else:
        scale = max(abs(v) for v, d in zip(values, dead, strict=True) if not d)
        rtol = _ess_rtol(16, scale)
        assert 1.0 - rtol <= value <= (16.0 - sum(dead)) * (1.0 + rtol)
        expected = _numpy_ess(np.asarray(log_w, np.float64))
        np.testing.assert_allclose(value, expected, rtol=rtol)


def test_bad_log_weights_name_the_argument_and_value():
    with pytest.raises(ValueError, match=r"`log_weights`.*\(3, 4\)"):
        ess(jnp.zeros((3, 4)))  # once summed over all 12 entries as one population
    with pytest.raises(ValueError, match=r"`log_weights`.*nan at position 1"):
        ess(jnp.array([0.0, jnp.nan]))
    with pytest.raises(ValueError, match=r"`log_weights`.*inf"):
        log_ess(jnp.array([0.0, jnp.inf]))
    with pytest.raises(TypeError, match=r"`log_weights`.*bool"):
        ess(jnp.array([True, False]))
    with pytest.raises(ValueError, match=r"`log_weights`.*\(0,\)"):
        ess(jnp.zeros(0))


def test_nan_or_plus_inf_weights_under_jit_give_nan_not_zero():
    # Traced inputs cannot be checked: the ESS is NaN (documented), not the 0 that
    # also means "every weight is zero".
    for bad in (jnp.nan, jnp.inf):
        log_w = jnp.array([0.0, bad, -1.0])
        assert np.isnan(float(_ess(log_w))), bad
        assert np.isnan(float(_log_ess(log_w))), bad
    assert float(_ess(jnp.full(3, -jnp.inf))) == 0.0
