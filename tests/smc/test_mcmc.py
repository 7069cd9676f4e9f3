"""Rejuvenation kernels leave a Gaussian target invariant.

Each test starts N independent chains from exact draws of N(mu, Sigma) and applies a
few transitions: if the kernel is invariant the final states are again N exact,
independent draws, so the sample mean and covariance follow the usual Monte-Carlo
laws (entry (i, j) of the sample covariance has variance
(Sigma_ii Sigma_jj + Sigma_ij^2) / N).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import rounding_atol

from pinfer.smc.mcmc import (
    HMCParams,
    RWMParams,
    hmc_init,
    hmc_step,
    rwm_init,
    rwm_step,
    weighted_mean_cov,
)
from pinfer.smc.tuning import build_hmc, build_rwm

DIM, NUM_CHAINS, NUM_STEPS = 3, 4000, 10
MU = np.array([1.0, -2.0, 0.5])
SIGMA = np.array([[1.0, 0.6, -0.2], [0.6, 2.0, 0.3], [-0.2, 0.3, 0.5]])
PRECISION = np.linalg.inv(SIGMA)


def log_density(x):
    centred = x - jnp.asarray(MU, x.dtype)
    value = -0.5 * centred @ jnp.asarray(PRECISION, x.dtype) @ centred
    return value, jnp.sum(x)  # aux: anything carried along


def exact_draws(seed, dtype=jnp.float32):
    z = jax.random.normal(jax.random.key(seed), (NUM_CHAINS, DIM), dtype)
    return jnp.asarray(MU, dtype) + z @ jnp.asarray(np.linalg.cholesky(SIGMA), dtype).T


def check_invariant(final, start, min_moved=0.5):
    x = np.asarray(final, np.float64)
    moved = np.mean(np.any(x != np.asarray(start), axis=1))
    assert moved > min_moved, moved  # an identity kernel would pass the rest
    se_mean = np.sqrt(np.diag(SIGMA) / NUM_CHAINS)
    assert np.all(np.abs(x.mean(0) - MU) < 4 * se_mean), x.mean(0) - MU
    cov = np.cov(x, rowvar=False)
    var = np.diag(SIGMA)
    se_cov = np.sqrt((np.outer(var, var) + SIGMA**2) / NUM_CHAINS)
    assert np.all(np.abs(cov - SIGMA) < 4 * se_cov), (cov - SIGMA) / se_cov


def run_chains(step_fn, states, seed):
    def body(states, key):
        states, info = step_fn(key, states)
        return states, info.acceptance_rate

    keys = jax.random.split(jax.random.key(seed), NUM_STEPS)
    return jax.jit(lambda s: jax.lax.scan(body, s, keys))(states)


def test_rwm_leaves_gaussian_invariant():
    start = exact_draws(0)
    states = jax.vmap(lambda x: rwm_init(x, log_density))(start)
    tril = jnp.linalg.cholesky(2.38**2 / DIM * jnp.asarray(SIGMA, jnp.float32))
    final, accept = run_chains(
        lambda k, s: rwm_step(k, s, log_density, tril), states, seed=1
    )
    check_invariant(final.position, start)
    assert accept.shape == (NUM_STEPS, NUM_CHAINS)
    assert 0.2 < float(accept.mean()) < 0.6  # about 0.35 for 2.38/sqrt(d) in d = 3
    # aux follows the accepted point: the same d-term sum, maybe in another order.
    position = np.asarray(final.position)
    atol = rounding_atol(DIM, 1.0) * np.abs(position).sum(1)
    assert np.all(np.abs(final.aux - position.sum(1)) <= atol)
    # The stored density is the accepted point's: a d x d quadratic form, bounded
    # by its terms' magnitude 0.5 |x - mu|' |P| |x - mu|.
    centred = np.abs(position - MU)
    scale = 0.5 * np.einsum("ni,ij,nj->n", centred, np.abs(PRECISION), centred)
    recomputed = jax.vmap(log_density)(final.position)[0]
    atol = rounding_atol(DIM * DIM + DIM, 1.0) * scale
    assert np.all(np.abs(final.log_density - recomputed) <= atol)


def test_hmc_leaves_gaussian_invariant():
    start = exact_draws(2)
    states = jax.vmap(lambda x: hmc_init(x, log_density))(start)
    inverse_mass = jnp.asarray(np.diag(SIGMA), jnp.float32)
    final, accept = run_chains(
        lambda k, s: hmc_step(k, s, log_density, 0.3, inverse_mass, 5), states, seed=3
    )
    check_invariant(final.position, start)
    assert 0.7 < float(accept.mean()) <= 1.0
    grad = jax.vmap(jax.grad(lambda x: log_density(x)[0]))(final.position)
    # The gradient -P (x - mu): d-term sums, bounded by |P| |x - mu| per entry.
    scale = np.abs(np.asarray(final.position) - MU) @ np.abs(PRECISION)
    assert np.all(np.abs(final.grad - grad) <= rounding_atol(DIM + 1, 1.0) * scale)


def test_hmc_with_a_bad_step_still_invariant():
    """A large step makes most proposals fail; the Metropolis test must still hold."""
    start = exact_draws(4)
    states = jax.vmap(lambda x: hmc_init(x, log_density))(start)
    final, accept = run_chains(
        lambda k, s: hmc_step(k, s, log_density, 1.2, jnp.ones(DIM), 3), states, seed=5
    )
    assert float(accept.mean()) < 0.5
    check_invariant(final.position, start, min_moved=0.2)


def test_single_chain_shapes():
    state = rwm_init(jnp.zeros(DIM), log_density)
    state, info = rwm_step(jax.random.key(0), state, log_density, 0.5 * jnp.eye(DIM))
    assert state.position.shape == (DIM,) and info.acceptance_rate.shape == ()
    state = hmc_init(jnp.zeros(DIM), log_density)
    state, info = hmc_step(jax.random.key(0), state, log_density, 0.1, jnp.ones(3), 4)
    assert state.grad.shape == (DIM,) and info.is_accepted.shape == ()


def test_nan_region_is_never_entered():
    def fn(x):
        value, aux = log_density(x)
        return jnp.where(x[0] > MU[0], jnp.nan, value), aux

    start = jnp.minimum(exact_draws(6), MU[0] - 1e-3)
    states = jax.vmap(lambda x: rwm_init(x, fn))(start)
    tril = jnp.linalg.cholesky(jnp.asarray(SIGMA, jnp.float32))
    final, accept = run_chains(lambda k, s: rwm_step(k, s, fn, tril), states, seed=7)
    assert np.all(np.asarray(final.position[:, 0]) <= MU[0])
    assert np.all(np.isfinite(np.asarray(final.log_density)))
    assert float(accept.mean()) > 0.05
    hstates = jax.vmap(lambda x: hmc_init(x, fn))(start)
    hfinal, _ = run_chains(
        lambda k, s: hmc_step(k, s, fn, 0.3, jnp.ones(DIM), 4), hstates, seed=8
    )
    assert np.all(np.asarray(hfinal.position[:, 0]) <= MU[0])


def test_weighted_mean_cov_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    w = rng.uniform(size=50)
    w[:5] = 0.0
    x[:5] = np.nan  # zero-weight particles may hold anything
    mean, cov = weighted_mean_cov(jnp.asarray(x), jnp.log(jnp.asarray(w)))
    wn = w / w.sum()
    ref_mean = wn[5:] @ x[5:]
    ref_cov = np.cov(x[5:], rowvar=False, aweights=wn[5:], bias=True)
    # float32 against float64: the weights pass a 50-term logsumexp and an exp
    # (relative error about (N + |log w|) eps), then N-term weighted sums of |x|
    # and of |x - m| |x - m|'.
    num_ops = x.shape[0] + int(np.max(np.abs(np.log(w[5:])))) + 2
    mean_scale = wn[5:] @ np.abs(x[5:])
    assert np.all(np.abs(mean - ref_mean) <= rounding_atol(num_ops, 1.0) * mean_scale)
    centred = np.abs(x[5:] - ref_mean)
    cov_scale = np.einsum("n,ni,nj->ij", wn[5:], centred, centred)
    # The centring by the float32 mean adds its error to each factor.
    cov_scale = cov_scale + 2 * np.outer(mean_scale, mean_scale)
    assert np.all(np.abs(cov - ref_cov) <= rounding_atol(num_ops + 2, 1.0) * cov_scale)


def test_rwm_tuning_uses_scaled_covariance():
    kernel = build_rwm()
    x = exact_draws(9)
    params = kernel.tune(
        RWMParams(jnp.eye(DIM)), x, jnp.zeros(NUM_CHAINS), jnp.float32(0.3)
    )
    _, cov = weighted_mean_cov(x, jnp.zeros(NUM_CHAINS))
    scaled = np.asarray(2.38**2 / DIM * cov, np.float64)
    # The kernel factors c^2 Cov + eps I, eps = jitter * trace / d (jitter 1e-6).
    expected = scaled + 1e-6 * np.trace(scaled) / DIM * np.eye(DIM)
    tril = np.asarray(params.scale_tril, np.float64)
    # Cholesky's backward error: L L' = A + E with |E| <= gamma_{d+1} |L| |L'|
    # (Higham, 2002, Thm 10.3), and the product here rounds once more.
    bound = rounding_atol(DIM + 2, 1.0) * (np.abs(tril) @ np.abs(tril).T)
    assert np.all(np.abs(tril @ tril.T - expected) <= bound)
    collapsed = jnp.ones((10, DIM))  # zero covariance: keep the previous factor
    kept = kernel.tune(RWMParams(2 * jnp.eye(DIM)), collapsed, jnp.zeros(10), 0.3)
    assert np.all(np.isfinite(kept.scale_tril))


def test_hmc_tuning_adapts_step_size_and_mass():
    kernel = build_hmc(step_size=0.2, target_acceptance=0.8)
    x = exact_draws(10)
    params = kernel.init_params(x, jnp.zeros(NUM_CHAINS))
    # Sample variances of n exact draws: relative sd sqrt(2 / n); 4 sd.
    rtol = 4 * np.sqrt(2 / NUM_CHAINS)
    np.testing.assert_allclose(params.inverse_mass, np.diag(SIGMA), rtol=rtol)
    up = kernel.tune(params, x, jnp.zeros(NUM_CHAINS), jnp.float32(0.95))
    down = kernel.tune(params, x, jnp.zeros(NUM_CHAINS), jnp.float32(0.3))
    same = kernel.tune(params, x, jnp.zeros(NUM_CHAINS), jnp.float32(jnp.nan))
    assert float(up.step_size) > 0.2 > float(down.step_size)
    assert float(same.step_size) == pytest.approx(0.2)
    fixed = build_hmc(step_size=0.2).tune(params, x, jnp.zeros(NUM_CHAINS), 0.1)
    assert float(fixed.step_size) == pytest.approx(0.2)
    assert isinstance(fixed, HMCParams)
    with pytest.raises(ValueError, match="num_leapfrog_steps"):
        build_hmc(num_leapfrog_steps=0)


def test_float64_kernels():
    with jax.enable_x64(True):
        start = exact_draws(11, jnp.float64)
        states = jax.vmap(lambda x: rwm_init(x, log_density))(start)
        tril = jnp.linalg.cholesky(jnp.asarray(SIGMA))
        final, _ = run_chains(
            lambda k, s: rwm_step(k, s, log_density, tril), states, 12
        )
        assert final.position.dtype == jnp.float64
        check_invariant(final.position, start)
