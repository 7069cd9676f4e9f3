"""Tests of simulation-based calibration on an exact conjugate posterior.

Model: theta ~ N(0, I_2), y ~ N(theta, 0.5^2 I_2), so the posterior is
N(0.8 y, 0.2 I_2). Exact draws must pass; draws with the posterior sd divided by 3,
or with the mean shifted by one prior sd, must fail. Each test uses a fixed key.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conjugate_helpers import (
    NOISE_SD,
    POST_SD,
    POST_SHRINK,
    conjugate_draws,
    posterior_draws,
)
from scipy import stats
from tolerances import rounding_atol, rounding_rtol

from pinfer.diagnostics import SBCResult, rank_uniformity_test, sbc, sbc_ranks

NUM_SIMULATIONS = 1000
NUM_POSTERIOR_SAMPLES = 99
ALPHA = 1e-3


@functools.cache
def _conjugate_draws():
    return conjugate_draws(2024, NUM_SIMULATIONS, NUM_POSTERIOR_SAMPLES)


_ranks_and_test = jax.jit(
    lambda key, theta, draws: rank_uniformity_test(
        sbc_ranks(key, theta, draws), NUM_POSTERIOR_SAMPLES
    )
)


def _p_values(sd_factor: float, bias: float) -> np.ndarray:
    theta, mean, noise = _conjugate_draws()
    draws = posterior_draws(mean, noise, sd_factor, bias)
    _, p_value = _ranks_and_test(jax.random.key(1), theta, draws)
    return np.asarray(p_value)


def test_exact_posterior_passes():
    p = _p_values(sd_factor=1.0, bias=0.0)
    assert p.shape == (2,)
    assert np.all(p > ALPHA), p


def test_too_narrow_posterior_fails():
    assert np.all(_p_values(sd_factor=1.0 / 3.0, bias=0.0) < ALPHA)


def test_biased_posterior_fails():
    assert np.all(_p_values(sd_factor=1.0, bias=1.0) < ALPHA)


def test_ranks_shape_range_and_ties():
    theta, mean, noise = _conjugate_draws()
    ranks = sbc_ranks(jax.random.key(0), theta, mean[:, None, :] + noise)
    assert ranks.shape == theta.shape and ranks.dtype == jnp.int32
    assert int(ranks.min()) >= 0 and int(ranks.max()) <= NUM_POSTERIOR_SAMPLES
    # Every draw equal to the truth: a rank uniform on {0..L}, not always 0.
    tied = jnp.broadcast_to(theta[:, None, :], noise.shape)
    tied_ranks = sbc_ranks(jax.random.key(3), theta, tied)
    _, p = rank_uniformity_test(tied_ranks, NUM_POSTERIOR_SAMPLES)
    assert np.all(np.asarray(p) > ALPHA)
    assert int(tied_ranks.max()) > 0


def test_ties_of_a_discrete_parameter_stay_calibrated():
    # theta ~ Bernoulli(0.3), y ~ N(theta, 1), exact Bernoulli posterior draws: most
    # draws tie with the truth, and randomised ranks keep the histogram flat.
    key_theta, key_y, key_post, key_rank = jax.random.split(jax.random.key(5), 4)
    theta = jax.random.bernoulli(key_theta, 0.3, (NUM_SIMULATIONS, 1)).astype(float)
    y = theta + jax.random.normal(key_y, theta.shape)
    log_odds = jnp.log(0.3 / 0.7) + y - 0.5
    draws = jax.random.bernoulli(
        key_post, jax.nn.sigmoid(log_odds)[:, None, :], (NUM_SIMULATIONS, 49, 1)
    ).astype(float)
    ranks = sbc_ranks(key_rank, theta, draws)
    _, p = rank_uniformity_test(ranks, 49)
    assert float(p[0]) > ALPHA
    # Deterministic ranks (#draws < truth) would pile up at 0 and fail.
    naive = jnp.sum(draws < theta[:, None, :], axis=1)
    assert float(rank_uniformity_test(naive, 49)[1][0]) < ALPHA


def test_chi_square_matches_scipy_with_uneven_bins():
    ranks = jax.random.randint(jax.random.key(6), (300, 3), 0, 100)
    stat, p = rank_uniformity_test(ranks, 99, num_bins=7)
    values_per_bin = np.bincount(np.arange(100) * 7 // 100, minlength=7)
    for j in range(3):
        observed = np.bincount(np.asarray(ranks[:, j]) * 7 // 100, minlength=7)
        expected = 300 * values_per_bin / 100
        ref = stats.chisquare(observed, expected)
        # Exact counts, E rounded once: each (O - E)^2 / E is off by at most
        # u (2 |O - E| + 3 (O - E)^2 / E), and the sum of B terms by B u stat
        # (Higham, 2002, 3.1).
        scale = ref.statistic + np.abs(observed - expected).sum()
        atol = rounding_atol(num_ops=7 + 3, scale=scale)
        np.testing.assert_allclose(stat[j], ref.statistic, rtol=0, atol=atol)
        # The p-value moves by the chi-square density times that error, and
        # gammaincc sums a series or continued fraction of at most 2000 terms in
        # float32, one rounding each.
        slope = stats.chi2.pdf(ref.statistic, 6)
        rtol = rounding_rtol(num_ops=2000)
        np.testing.assert_allclose(p[j], ref.pvalue, rtol=rtol, atol=slope * atol)


def test_statistic_has_chi_square_mean_under_uniform_ranks():
    # B = 7 does not divide L + 1 = 100: the exact expected counts keep E[chi2] = 6.
    num_replicates = 400
    ranks = jax.random.randint(jax.random.key(8), (200, num_replicates), 0, 100)
    stat, _ = rank_uniformity_test(ranks, 99, num_bins=7)
    se = np.sqrt(2 * 6 / num_replicates)
    assert abs(float(stat.mean()) - 6.0) < 4 * se


def test_bad_bins_and_shapes_raise():
    with pytest.raises(ValueError, match="num_bins"):
        rank_uniformity_test(jnp.zeros((10, 1), jnp.int32), 9, num_bins=11)
    with pytest.raises(ValueError, match="posterior_samples"):
        sbc_ranks(jax.random.key(0), jnp.zeros((5, 2)), jnp.zeros((5, 10)))


def _conjugate_model(scale: float):
    def prior(key):
        return jax.random.normal(key, (2,))

    def simulate(key, theta):
        return theta + NOISE_SD * jax.random.normal(key, theta.shape)

    def posterior(key, y, num_samples):
        eps = jax.random.normal(key, (num_samples, 2))
        return POST_SHRINK * y + scale * POST_SD * eps

    return prior, simulate, posterior


def test_driver_passes_exact_and_fails_narrow():
    prior, simulate, posterior = _conjugate_model(1.0)
    result = sbc(jax.random.key(9), prior, simulate, posterior, 500, 49)
    assert isinstance(result, SBCResult)
    assert result.ranks.shape == (500, 2) and result.p_value.shape == (2,)
    assert np.all(np.asarray(result.p_value) > ALPHA)
    prior, simulate, narrow = _conjugate_model(1.0 / 3.0)
    bad = sbc(jax.random.key(9), prior, simulate, narrow, 500, 49)
    assert np.all(np.asarray(bad.p_value) < ALPHA)


def test_driver_batches_and_pytrees():
    def prior(key):
        key_a, key_b = jax.random.split(key)
        return {"a": jax.random.normal(key_a), "b": jax.random.normal(key_b, (2,))}

    def simulate(key, theta):
        return theta["a"] + theta["b"] + jax.random.normal(key, (2,))

    def posterior(key, y, num_samples):  # the prior: a calibrated but useless answer
        return jax.vmap(prior)(jax.random.split(key, num_samples))

    full = sbc(jax.random.key(4), prior, simulate, posterior, 64, 19)
    batched = sbc(jax.random.key(4), prior, simulate, posterior, 64, 19, batch_size=16)
    assert full.ranks.shape == (64, 3)
    np.testing.assert_array_equal(full.ranks, batched.ranks)


def test_driver_rejects_bad_input():
    prior, simulate, posterior = _conjugate_model(1.0)
    with pytest.raises(TypeError, match="jax.random.key"):
        sbc(0, prior, simulate, posterior, 10, 9)
    with pytest.raises(ValueError, match="num_simulations"):
        sbc(jax.random.key(0), prior, simulate, posterior, 0, 9)

    def wrong(key, y, num_samples):
        return jnp.zeros((num_samples + 1, 2))

    with pytest.raises(ValueError, match="leading axis"):
        sbc(jax.random.key(0), prior, simulate, wrong, 10, 9)


def test_float64():
    with jax.enable_x64(True):
        theta = jax.random.normal(jax.random.key(0), (200, 2), dtype=jnp.float64)
        draws = jax.random.normal(jax.random.key(1), (200, 19, 2), dtype=jnp.float64)
        stat, p = rank_uniformity_test(sbc_ranks(jax.random.key(2), theta, draws), 19)
        assert stat.dtype == jnp.float64 and p.dtype == jnp.float64
        assert np.all(np.asarray(p) > ALPHA)


def test_nan_draws_raise_or_flag_the_rank():
    theta = jnp.zeros((3, 1))
    draws = jnp.ones((3, 4, 1))
    with pytest.raises(ValueError, match=r"`posterior_samples`.*nan at simulation 1"):
        sbc_ranks(jax.random.key(0), theta, draws.at[1, 2, 0].set(jnp.nan))
    with pytest.raises(ValueError, match=r"`theta_true`.*nan"):
        sbc_ranks(jax.random.key(0), theta.at[0, 0].set(jnp.nan), draws)
    # Traced: the rank of a simulation with a NaN is -1 (outside 0..L), and the
    # uniformity test of that coordinate is NaN, not a plausible p-value.
    ranks_fn = jax.jit(sbc_ranks)
    ranks = ranks_fn(jax.random.key(0), theta, draws.at[1, 2, 0].set(jnp.nan))
    assert ranks[:, 0].tolist() == [0, -1, 0]
    ranks = ranks_fn(jax.random.key(0), theta.at[2, 0].set(jnp.nan), draws)
    assert ranks[:, 0].tolist() == [0, 0, -1]
    stat, p = jax.jit(rank_uniformity_test, static_argnums=(1, 2))(ranks, 4, 2)
    assert np.isnan(float(stat[0])) and np.isnan(float(p[0]))


def test_out_of_range_ranks_raise_or_give_nan():
    ranks = jnp.array([[0, 1], [7, 2], [3, -1]])
    with pytest.raises(ValueError, match=r"`ranks` holds 7 at simulation 1"):
        rank_uniformity_test(ranks, 4, 2)
    stat, p = jax.jit(rank_uniformity_test, static_argnums=(1, 2))(ranks, 4, 2)
    assert np.all(np.isnan(np.asarray(stat))) and np.all(np.isnan(np.asarray(p)))
    with pytest.raises(TypeError, match=r"`ranks`.*float32"):
        rank_uniformity_test(jnp.zeros((5, 1)), 4, 2)


def test_driver_names_the_function_that_returned_nan():
    prior, simulate, posterior = _conjugate_model(1.0)

    def nan_posterior(key, y, num_samples):
        return posterior(key, y, num_samples).at[0, 1].set(jnp.nan)

    with pytest.raises(ValueError, match=r"`posterior_sample_fn` returned nan"):
        sbc(jax.random.key(0), prior, simulate, nan_posterior, 10, 9)
    with pytest.raises(ValueError, match=r"`prior_sample_fn` returned nan"):
        sbc(
            jax.random.key(0), lambda k: jnp.full(2, jnp.nan), simulate, posterior, 4, 9
        )
    with pytest.raises(ValueError, match=r"`num_bins`.*11"):
        sbc(jax.random.key(0), prior, simulate, posterior, 10, 9, num_bins=11)
    with pytest.raises(TypeError, match=r"`simulate_fn`"):
        sbc(jax.random.key(0), prior, None, posterior, 10, 9)
