"""Tests of Monte-Carlo standard errors and the MCMC effective sample size.

Oracles: the closed-form ESS and variance of the mean of a stationary AR(1) chain,
``sd / sqrt(n)`` for independent draws, the spread of self-normalised importance
sampling estimates over replicates, and a loop-by-loop NumPy transcription of the
Stan / ArviZ (``method="mean"``) initial-monotone-sequence estimator.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import rounding_rtol

from pinfer.diagnostics import mcmc_ess, mcse, mcse_weighted

NUM_REPLICATES = 64
# Geyer's truncated estimator has a finite-sample bias of a few per cent at these
# chain lengths (measured: -1.5 % for iid, < 1 % for rho = 0.5 and 0.9, 4 chains of
# 1000 draws); the tolerance allows for it on top of the Monte-Carlo error.
BIAS_ALLOWANCE = 0.03

_mcse = jax.jit(mcse)
_mcmc_ess = jax.jit(mcmc_ess)


def _ess_rtol(num_draws: int, dtype=np.float32) -> float:
    """Rounding bound between two evaluations of the ESS of ``T`` draws (Higham,
    2002, 3.1 and 24.1): each autocovariance is an FFT of ``2T`` points (log2(2T)
    stages, each adding terms of the size of the variance) and tau sums up to ``T``
    autocorrelations, which cancel to ~1 from terms of size ~1 (condition ~T)."""
    stages = int(np.ceil(np.log2(2 * num_draws)))
    return rounding_rtol(num_ops=stages + num_draws, condition=num_draws, dtype=dtype)


def _ar1(key, rho, num_chains, num_draws):
    """Stationary AR(1) chains with unit marginal variance, ``[C, T]``."""
    key_noise, key_init = jax.random.split(key)
    noise = jax.random.normal(key_noise, (num_draws, num_chains))

    def step(x, e):
        x = rho * x + jnp.sqrt(1.0 - rho**2) * e
        return x, x

    _, xs = jax.lax.scan(step, jax.random.normal(key_init, (num_chains,)), noise)
    return xs.T


@functools.cache
def _ar1_replicates(rho: float, num_chains: int, num_draws: int):
    """Over replicates: (ESS estimates, mcse estimates, chain-mean estimates)."""

    def one(key):
        x = _ar1(key, rho, num_chains, num_draws)
        return mcmc_ess(x), mcse(x), x.mean()

    keys = jax.random.split(jax.random.key(11), NUM_REPLICATES)
    return tuple(np.asarray(a, np.float64) for a in jax.jit(jax.vmap(one))(keys))


def _arviz_ess(x: np.ndarray) -> float:
    """Stan / ArviZ ``_ess`` (no rank normalisation) as explicit loops, ``[C, T]``."""
    num_chains, num_draws = x.shape
    centred = x - x.mean(axis=1, keepdims=True)
    acov = np.array(
        [
            [np.dot(c[: num_draws - t], c[t:]) / num_draws for t in range(num_draws)]
            for c in centred
        ]
    )
    mean_var = acov[:, 0].mean() * num_draws / (num_draws - 1.0)
    var_plus = mean_var * (num_draws - 1.0) / num_draws
    if num_chains > 1:
        var_plus += np.var(x.mean(axis=1), ddof=1)
    rho = np.zeros(num_draws)
    rho_even, rho_odd = 1.0, 1.0 - (mean_var - acov[:, 1].mean()) / var_plus
    rho[0], rho[1] = rho_even, rho_odd
    t = 1
    while t < num_draws - 3 and rho_even + rho_odd > 0.0:
        rho_even = 1.0 - (mean_var - acov[:, t + 1].mean()) / var_plus
        rho_odd = 1.0 - (mean_var - acov[:, t + 2].mean()) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1], rho[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = num_chains * num_draws
    tau = -1.0 + 2.0 * rho[: max_t + 1].sum() + rho[max_t + 1]
    return total / max(tau, 1.0 / np.log10(total))


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ar1_ess_matches_closed_form(rho):
    num_chains, num_draws = 4, 1000
    ess_hat, _, _ = _ar1_replicates(rho, num_chains, num_draws)
    truth = num_chains * num_draws * (1 - rho) / (1 + rho)
    ratio = ess_hat / truth
    tolerance = 4 * ratio.std(ddof=1) / np.sqrt(NUM_REPLICATES) + BIAS_ALLOWANCE
    assert abs(ratio.mean() - 1.0) < tolerance, (ratio.mean(), tolerance)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ar1_mcse_matches_exact_sd_of_the_mean(rho):
    num_chains, num_draws = 4, 1000
    _, se_hat, means = _ar1_replicates(rho, num_chains, num_draws)
    # Var of the mean of T stationary AR(1) draws with unit variance, over C chains.
    t = num_draws
    var_chain = (
        (1 + rho) / (1 - rho) - 2 * rho * (1 - rho**t) / (t * (1 - rho) ** 2)
    ) / t
    exact_sd = np.sqrt(var_chain / num_chains)
    ratio = se_hat / exact_sd
    tolerance = 4 * ratio.std(ddof=1) / np.sqrt(NUM_REPLICATES) + BIAS_ALLOWANCE
    assert abs(ratio.mean() - 1.0) < tolerance, (ratio.mean(), tolerance)
    # And the spread of the replicate means agrees with it (chi-square band on sd).
    sd_ratio = means.std(ddof=1) / exact_sd
    assert abs(sd_ratio - 1.0) < 4 / np.sqrt(2 * (NUM_REPLICATES - 1))


def test_matches_arviz_transcription():
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(3), 3)
        chains = [
            _ar1(keys[0], 0.6, 3, 300),
            _ar1(keys[1], -0.4, 1, 150),
            _ar1(keys[2], 0.95, 4, 400),
        ]
        for x in chains:
            # FFT against direct sums, in float64: the rounding bound of T draws.
            rtol = _ess_rtol(x.shape[1], np.float64)
            np.testing.assert_allclose(
                _mcmc_ess(x), _arviz_ess(np.asarray(x)), rtol=rtol
            )
            sd = np.asarray(x).std(ddof=1)
            np.testing.assert_allclose(
                _mcse(x), sd / np.sqrt(_arviz_ess(np.asarray(x))), rtol=rtol
            )


def test_iid_chains_mcse_is_sd_over_sqrt_ess():
    num_chains, num_draws = 4, 1000
    x = jax.random.normal(jax.random.key(4), (num_chains, num_draws)) * 3.0
    n_eff, se = float(_mcmc_ess(x)), float(_mcse(x))
    # mcse = sd / sqrt(ESS): the float32 sd sums n squares (gamma_n, Higham 3.1).
    sd = np.asarray(x, np.float64).std(ddof=1)
    rtol = rounding_rtol(num_ops=x.size)
    np.testing.assert_allclose(se, sd / np.sqrt(n_eff), rtol=rtol)
    # The ESS of iid draws is n, within 4 sd of the estimator's spread over the
    # replicates of the same shape (rho = 0) and its finite-sample bias.
    ratios, _, _ = _ar1_replicates(0.0, num_chains, num_draws)
    ratios = ratios / x.size
    tolerance = 4 * ratios.std(ddof=1) + BIAS_ALLOWANCE
    assert abs(n_eff / x.size - 1.0) < tolerance, (n_eff, tolerance)


def test_event_axes_jit_and_vmap():
    x = jax.random.normal(jax.random.key(5), (2, 100, 3, 2))
    se = jax.jit(mcse)(x)
    assert se.shape == (3, 2)
    # Mapped over the event axes or alone: two evaluations of T = 100 draws.
    np.testing.assert_allclose(se[1, 0], _mcse(x[:, :, 1, 0]), rtol=_ess_rtol(100))
    batch = jax.vmap(mcmc_ess)(jnp.stack([x, 2 * x + 1]))
    assert batch.shape == (2, 3, 2)
    # ESS is affine-invariant; the map's own rounding (u per draw, relative to the
    # spread) is one more operation in the same bound.
    np.testing.assert_allclose(batch[0], batch[1], rtol=_ess_rtol(100 + 1))


def test_constant_and_nan_chains():
    # A chain that never moves says nothing about mixing: ESS and MCSE are NaN (as
    # Stan and the posterior R package report them), not C T and 0.
    x = jnp.ones((2, 50))
    assert np.isnan(float(_mcse(x)))
    # Only the constant component: the other one keeps its ESS.
    mixed = jnp.stack([x, _ar1(jax.random.key(12), 0.5, 2, 50)], axis=-1)
    ess_mixed = _mcmc_ess(mixed)
    assert np.isnan(float(ess_mixed[0])) and np.isfinite(float(ess_mixed[1]))
    assert np.isnan(float(_mcmc_ess(x.at[0, 3].set(jnp.nan))))


def test_bad_chain_shapes_raise():
    with pytest.raises(ValueError, match="x\\[None\\]"):
        _mcse(jnp.zeros(100))
    with pytest.raises(ValueError, match="at least 4"):
        _mcmc_ess(jnp.zeros((2, 3)))


def test_weighted_uniform_weights_is_sd_over_sqrt_n():
    x = jax.random.normal(jax.random.key(6), (4000, 3)) * jnp.array([1.0, 2.0, 0.5])
    se = mcse_weighted(x, jnp.full(4000, -7.0))
    # Two float32 orders of a sum of 4000 squares (gamma_n, Higham 3.1).
    rtol = rounding_rtol(num_ops=4000)
    np.testing.assert_allclose(se, x.std(axis=0) / np.sqrt(4000), rtol=rtol)
    # And sd is the true sd up to its Monte-Carlo error 1 / sqrt(2 n).
    true_sd = np.array([1.0, 2.0, 0.5]) / np.sqrt(4000)
    assert np.all(np.abs(se / true_sd - 1) < 4 / np.sqrt(2 * 4000))


def test_weighted_matches_spread_of_importance_estimates():
    # Target N(1, 1), proposal N(0, 2^2): self-normalised estimates of E[x] = 1.
    n, num_replicates = 500, 400

    def one(key):
        x = 2.0 * jax.random.normal(key, (n,))
        log_w = -0.5 * (x - 1.0) ** 2 + 0.5 * (x / 2.0) ** 2
        w = jax.nn.softmax(log_w)
        return jnp.sum(w * x), mcse_weighted(x, log_w)

    keys = jax.random.split(jax.random.key(7), num_replicates)
    estimates, se = (np.asarray(a, np.float64) for a in jax.jit(jax.vmap(one))(keys))
    spread = estimates.std(ddof=1)
    # sd of the spread estimate is ~ spread / sqrt(2 R); se itself varies little.
    se_error = se.std(ddof=1) / (se.mean() * np.sqrt(num_replicates))
    tolerance = 4 / np.sqrt(2 * (num_replicates - 1)) + 4 * se_error
    assert abs(se.mean() / spread - 1.0) < tolerance, (se.mean(), spread)
    assert abs(estimates.mean() - 1.0) < 4 * spread / np.sqrt(num_replicates)


def test_weighted_degenerate_and_shapes():
    assert float(mcse_weighted(jnp.ones(4), jnp.full(4, -jnp.inf))) == np.inf
    one_hot = jnp.full(4, -jnp.inf).at[2].set(0.0)
    assert float(mcse_weighted(jnp.arange(4.0), one_hot)) == 0.0
    batched = jax.jit(jax.vmap(mcse_weighted))(jnp.ones((5, 10, 2)), jnp.zeros((5, 10)))
    assert batched.shape == (5, 2)
    with pytest.raises(ValueError, match="log_weights"):
        mcse_weighted(jnp.ones((10, 2)), jnp.zeros(9))


def test_float64():
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(8), (2, 200), dtype=jnp.float64)
        assert _mcse(x).dtype == jnp.float64
        assert _mcmc_ess(x).dtype == jnp.float64
        se = mcse_weighted(x[0], jnp.zeros(200, jnp.float64))
        assert se.dtype == jnp.float64


def test_integer_draws_are_not_truncated():
    # A 0/1 chain (a discrete parameter): the autocovariances are fractions, and
    # were cast back to the draws' integer dtype (truncated to 0).
    x = jax.random.bernoulli(jax.random.key(9), 0.5, (2, 400))
    ints, floats = x.astype(jnp.int32), x.astype(jnp.float32)
    # Integer draws are promoted to float first, so the arithmetic is the same
    # (mcse shares the autocovariance that truncated).
    np.testing.assert_array_equal(_mcmc_ess(ints), _mcmc_ess(floats))


def test_bad_draws_name_the_argument_and_value():
    with pytest.raises(ValueError, match=r"`samples`.*nan at chain 1, draw 3"):
        mcse(jnp.ones((2, 50)).at[1, 3].set(jnp.nan))
    with pytest.raises(ValueError, match=r"`samples`.*inf"):
        mcmc_ess(jnp.ones((2, 50)).at[0, 0].set(jnp.inf))
    with pytest.raises(TypeError, match=r"`samples`.*bool"):
        mcmc_ess(jnp.ones((2, 50), bool))
    with pytest.raises(ValueError, match=r"`values`.*nan"):
        mcse_weighted(jnp.array([0.0, jnp.nan]), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"`log_weights`.*inf"):
        mcse_weighted(jnp.ones(2), jnp.array([0.0, jnp.inf]))


def test_traced_nan_and_plus_inf_weights_give_nan():
    weighted = jax.jit(mcse_weighted)
    assert np.isnan(float(weighted(jnp.ones(2), jnp.array([0.0, jnp.inf]))))
    assert np.isnan(float(weighted(jnp.ones(2), jnp.array([0.0, jnp.nan]))))
    assert np.isnan(float(weighted(jnp.array([0.0, jnp.nan]), jnp.zeros(2))))
    x = jnp.ones((2, 50)).at[0, 0].set(jnp.inf)
    assert np.isnan(float(_mcse(x))) and np.isnan(float(_mcmc_ess(x)))
