"""Tests of the TARP coverage test on an exact conjugate posterior.

Model: theta ~ N(0, I_2), y ~ N(theta, 0.5^2 I_2), so the posterior is
N(0.8 y, 0.2 I_2). Exact draws must pass; draws with the posterior sd divided by 3,
or with the mean shifted by one prior sd, must fail. Each test uses a fixed key.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conjugate_helpers import conjugate_draws, posterior_draws
from scipy import stats
from tolerances import rounding_atol, rounding_rtol

from pinfer.diagnostics import TARPResult, ks_uniform_test, tarp, tarp_fractions

NUM_SIMULATIONS = 1000
NUM_POSTERIOR_SAMPLES = 100
ALPHA = 1e-3
# Error of Stephens' (1970) formula against scipy's exact KS distribution, measured
# on a grid of exact quantiles (n = 35..1000, p = 1e-6..1): at most 2.5 % of p for
# p >= 1e-3 and 2e-5 below. An approximation allowance, not a rounding one.
STEPHENS_RTOL, STEPHENS_ATOL = 0.025, 2e-5

_tarp = jax.jit(tarp, static_argnames="num_alphas")


@functools.cache
def _conjugate_draws():
    return conjugate_draws(77, NUM_SIMULATIONS, NUM_POSTERIOR_SAMPLES)


def _result(sd_factor: float, bias: float) -> TARPResult:
    theta, mean, noise = _conjugate_draws()
    draws = posterior_draws(mean, noise, sd_factor, bias)
    return _tarp(jax.random.key(1), theta, draws)


def test_exact_posterior_passes():
    result = _result(sd_factor=1.0, bias=0.0)
    assert float(result.p_value) > ALPHA, result.p_value
    # The curve hugs the diagonal within the KS band.
    band = stats.kstwo.isf(ALPHA, NUM_SIMULATIONS)
    assert float(jnp.max(jnp.abs(result.ecp - result.alphas))) < band


def test_too_narrow_posterior_fails():
    result = _result(sd_factor=1.0 / 3.0, bias=0.0)
    assert float(result.p_value) < ALPHA
    assert float(result.statistic) > stats.kstwo.isf(ALPHA, NUM_SIMULATIONS)


def test_biased_posterior_fails():
    result = _result(sd_factor=1.0, bias=1.0)
    assert float(result.p_value) < ALPHA
    assert float(result.statistic) > stats.kstwo.isf(ALPHA, NUM_SIMULATIONS)


def test_result_shapes_and_curve():
    result = _result(sd_factor=1.0, bias=0.0)
    assert isinstance(result, TARPResult)
    assert result.alphas.shape == result.ecp.shape == (101,)
    assert result.statistic.shape == result.p_value.shape == ()
    assert float(result.alphas[0]) == 0.0 and float(result.alphas[-1]) == 1.0
    assert float(result.ecp[-1]) == 1.0
    assert bool(jnp.all(jnp.diff(result.ecp) >= 0))


def test_ks_matches_scipy():
    theta, mean, noise = _conjugate_draws()
    f = tarp_fractions(jax.random.key(1), theta, posterior_draws(mean, noise))
    for u in [f, f[:60] ** 1.3, f[:200] * 0.9]:
        stat, p = ks_uniform_test(u)
        ref = stats.kstest(np.asarray(u, np.float64), "uniform")
        # D = max |i / n - u_(i)|: i / n rounded once, then one subtraction.
        atol_d = rounding_atol(num_ops=2, scale=1.0)
        np.testing.assert_allclose(stat, ref.statistic, rtol=0, atol=atol_d)
        # Stephens' asymptotic formula against scipy's exact distribution: its
        # approximation error, the Kolmogorov density (at most 2) times the error
        # of lambda = c D, and the float32 rounding of the 100-term series.
        c = np.sqrt(u.size) + 0.12 + 0.11 / np.sqrt(u.size)
        rtol = STEPHENS_RTOL + rounding_rtol(num_ops=100)
        atol = STEPHENS_ATOL + 2.0 * c * atol_d
        np.testing.assert_allclose(p, ref.pvalue, rtol=rtol, atol=atol)


def test_ks_p_values_are_uniform_under_the_null():
    num_replicates = 400
    u = jax.random.uniform(jax.random.key(3), (num_replicates, 300))
    _, p = jax.vmap(ks_uniform_test)(u)
    frac = float(jnp.mean(p < 0.1))
    assert abs(frac - 0.1) < 4 * np.sqrt(0.1 * 0.9 / num_replicates)


def test_fractions_invariant_to_affine_rescaling():
    theta, mean, noise = _conjugate_draws()
    draws = posterior_draws(mean, noise)
    refs = jax.random.uniform(jax.random.key(3), theta.shape, minval=-2, maxval=2)
    # Scales five orders of magnitude apart; the shift of the small coordinate is
    # 40 of its sds, so its rounding is 40 u in z-score units.
    scale, shift = np.array([1e3, 1e-2]), np.array([-5.0, 0.4])
    f = tarp_fractions(jax.random.key(2), theta, draws, refs)
    g = tarp_fractions(
        jax.random.key(2),
        theta * scale + shift,
        draws * scale + shift,
        refs * scale + shift,
    )
    # The counts (and so f) can differ only where a draw's distance ties the
    # truth's within rounding. The rounding of the transformed data is u (|x| s +
    # |b|) per coordinate, u (|x| s + |b|) / (s sd) in z-score units; a distance
    # sums d of them, and the z-scoring and norm add a few operations (Higham,
    # 2002, 3.1). Errors in the mean and sd shift or scale every point alike.
    x = np.concatenate(
        [np.asarray(theta).reshape(-1, 2), np.asarray(draws).reshape(-1, 2)]
    )
    sd = np.asarray(theta, np.float64).std(axis=0)
    cond = np.max((np.abs(x).max(axis=0) * scale + np.abs(shift)) / (scale * sd))
    delta = 2 * rounding_atol(num_ops=2 * 2 + 6, scale=cond + np.abs(x / sd).max())
    z = (np.asarray(draws, np.float64) - np.asarray(theta).mean(0)) / sd
    z_true = (np.asarray(theta, np.float64) - np.asarray(theta).mean(0)) / sd
    z_ref = (np.asarray(refs, np.float64) - np.asarray(theta).mean(0)) / sd
    d_draws = np.linalg.norm(z - z_ref[:, None, :], axis=-1)
    d_true = np.linalg.norm(z_true - z_ref, axis=-1)
    near_tie = np.any(np.abs(d_draws - d_true[:, None]) <= delta, axis=1)
    differ = np.asarray(f) != np.asarray(g)
    assert not np.any(differ & ~near_tie), np.flatnonzero(differ & ~near_tie)
    assert near_tie.mean() < 0.1, near_tie.mean()  # most simulations are checked


def test_user_references_and_ties():
    theta, mean, noise = _conjugate_draws()
    draws = posterior_draws(mean, noise)
    refs = jnp.zeros_like(theta) + jnp.array([2.0, -1.0])
    result = _tarp(jax.random.key(4), theta, draws, refs)
    assert float(result.p_value) > ALPHA
    # Every draw at the truth: all distances tie, and the jitter keeps f uniform.
    tied = jnp.broadcast_to(theta[:, None, :], draws.shape)
    assert float(_tarp(jax.random.key(5), theta, tied).p_value) > ALPHA
    with pytest.raises(ValueError, match="references"):
        tarp(jax.random.key(0), theta, draws, refs[:10])
    with pytest.raises(ValueError, match="posterior_samples"):
        tarp(jax.random.key(0), theta, draws[..., 0])


def test_deterministic_and_rejects_int_key():
    a = _result(sd_factor=1.0, bias=0.0)
    b = _result(sd_factor=1.0, bias=0.0)
    np.testing.assert_array_equal(a.ecp, b.ecp)
    theta, mean, noise = _conjugate_draws()
    with pytest.raises(TypeError, match="jax.random.key"):
        tarp(0, theta, mean[:, None, :] + noise)


def test_float64():
    with jax.enable_x64(True):
        theta = jax.random.normal(jax.random.key(0), (200, 2), dtype=jnp.float64)
        draws = jax.random.normal(jax.random.key(1), (200, 30, 2), dtype=jnp.float64)
        result = tarp(jax.random.key(2), theta, draws, num_alphas=11)
        assert result.ecp.dtype == jnp.float64
        assert result.p_value.dtype == jnp.float64
        assert float(result.p_value) > ALPHA


def test_nan_inputs_raise_or_give_nan():
    theta = jax.random.normal(jax.random.key(0), (40, 2))
    draws = jax.random.normal(jax.random.key(1), (40, 9, 2))
    with pytest.raises(ValueError, match=r"`posterior_samples`.*nan at simulation 3"):
        tarp(jax.random.key(0), theta, draws.at[3, 0, 1].set(jnp.nan))
    with pytest.raises(ValueError, match=r"`theta_true`.*nan"):
        tarp_fractions(jax.random.key(0), theta.at[5, 0].set(jnp.nan), draws)
    # Traced: the fraction of the simulation is NaN, and so is the whole test.
    fractions = jax.jit(tarp_fractions)
    f = fractions(jax.random.key(0), theta, draws.at[3, 0, 1].set(jnp.nan))
    assert np.isnan(float(f[3])) and np.all(np.isfinite(np.delete(np.asarray(f), 3)))
    f = fractions(jax.random.key(0), theta.at[5, 0].set(jnp.nan), draws)
    assert np.isnan(float(f[5]))
    result = _tarp(jax.random.key(0), theta, draws.at[3, 0, 1].set(jnp.nan))
    assert np.isnan(float(result.statistic)) and np.isnan(float(result.p_value))
    assert np.all(np.isnan(np.asarray(result.ecp)))


def test_ks_rejects_values_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"`u`.*2\.0"):
        ks_uniform_test(jnp.array([0.5, 2.0]))
    stat, p = jax.jit(ks_uniform_test)(jnp.array([0.5, 2.0, 0.1]))
    assert np.isnan(float(stat)) and np.isnan(float(p))
    with pytest.raises(ValueError, match=r"`u`.*\(2, 3\)"):
        ks_uniform_test(jnp.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"`num_alphas`.*1"):
        tarp(jax.random.key(0), jnp.zeros((4, 1)), jnp.zeros((4, 3, 1)), num_alphas=1)
