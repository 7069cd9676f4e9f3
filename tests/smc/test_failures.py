"""Failures are reported, never returned as plausible numbers: the one NaN policy of
the particle filter and tempered SMC, all-zero weights, degenerate populations, and
``checked=True`` errors whose first line is the message.

The NaN policy: a NaN (or ``+inf``) log-likelihood is a broken model, not a weight.
It makes the log-evidence NaN and ``failed_step`` names the first step where it
happened, in both samplers; ``-inf`` is a valid log-likelihood (an impossible
observation) and gives weight zero.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pf_helpers import BrokenModel, tiny_model

from pinfer.smc import particle_filter, simulate, tempered_smc

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def small():
    """A 2-d state observed in 1-d for 30 steps."""
    model = tiny_model()
    return model, simulate(KEY, model, 30)[1]


def test_nan_log_likelihood_sets_failed_step_without_checked(small):
    model, ys = small
    broken = BrokenModel(model, k=12, value=np.nan)
    result = particle_filter(KEY, broken, ys, 64)
    assert np.isnan(float(result.log_evidence))
    assert int(result.failed_step) == 12
    # Under jit and vmap too: the flag is a result field, not a host check.
    batched = jax.jit(
        jax.vmap(lambda k: particle_filter(k, broken, ys, 64).failed_step)
    )(jax.random.split(KEY, 3))
    np.testing.assert_array_equal(batched, [12, 12, 12])


def test_first_failure_wins(small):
    model, ys = small
    early = BrokenModel(BrokenModel(model, k=20, value=np.nan), k=4, value=-np.inf)
    result = particle_filter(KEY, early, ys, 64)
    assert int(result.failed_step) == 4
    assert np.isnan(float(result.log_evidence))


def test_plus_inf_log_likelihood_is_a_failure_too(small):
    model, ys = small
    result = particle_filter(KEY, BrokenModel(model, k=3, value=np.inf), ys, 64)
    assert int(result.failed_step) == 3
    assert np.isnan(float(result.log_evidence))


def test_checked_error_starts_with_the_message(small):
    model, ys = small
    broken = BrokenModel(model, k=12, value=np.nan)
    with pytest.raises(ValueError) as info:
        particle_filter(KEY, broken, ys, 64, checked=True)
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith("particle_filter: NaN log-likelihood at step 12")
    # Inside eqx.filter_jit the message comes through equinox's runtime error.
    run = eqx.filter_jit(lambda k: particle_filter(k, broken, ys, 64, checked=True))
    with pytest.raises(eqx.EquinoxRuntimeError, match=r"at step 12\b"):
        jax.block_until_ready(run(KEY))
    fine = particle_filter(KEY, model, ys, 64, checked=True)
    assert np.isfinite(float(fine.log_evidence))


# --- tempered SMC: the same policy -------------------------------------------------


def _log_prior(x):
    return -0.5 * jnp.sum(x**2) - jnp.log(2 * jnp.pi)


def _log_likelihood(x):
    return -0.5 * jnp.sum((x - 1.0) ** 2) - jnp.log(2 * jnp.pi)


# Prior N(0, I_2), likelihood N(x; 1, I_2) as a function of x: log Z = log N(1; 0, 2I).
LOG_Z = float(-np.log(4 * np.pi) - 0.5)


def test_tempered_nan_log_likelihood_makes_the_evidence_nan():
    x0 = jax.random.normal(KEY, (200, 2))

    def nan_above(x):
        return jnp.where(x[0] > 1.0, jnp.nan, _log_likelihood(x))

    # A fixed schedule (the adaptive one is tested in test_tempered.py).
    schedule = jnp.array([0.5, 1.0])
    result = tempered_smc(
        KEY, _log_prior, nan_above, x0, num_mcmc_steps=1, temperatures=schedule
    )
    assert np.isnan(float(result.log_evidence))
    assert int(result.failed_step) == 0


def test_tempered_minus_inf_is_a_valid_truncation():
    """-inf above the cut gives the truncated evidence (what NaN used to give)."""
    from scipy.stats import norm

    def truncated(x):
        return jnp.where(x[0] > 0.5, -jnp.inf, _log_likelihood(x))

    def one(key):
        key_init, key_smc = jax.random.split(key)
        x0 = jax.random.normal(key_init, (400, 2))
        return tempered_smc(key_smc, _log_prior, truncated, x0, num_mcmc_steps=10)

    result = jax.jit(jax.vmap(one))(jax.random.split(KEY, 16))
    assert np.all(np.asarray(result.failed_step) == -1)
    # The posterior of x[0] is N(1/2, 1/2): the cut keeps half of its mass.
    log_z = LOG_Z + norm.logcdf(0.0)
    errors = np.asarray(result.log_evidence, np.float64) - log_z
    # Monte-Carlo bound: the bias-corrected mean within 4 standard errors.
    stat = errors.mean() + 0.5 * errors.var()
    assert abs(stat) < 4 * errors.std(ddof=1) / np.sqrt(errors.size), errors


def test_tempered_degenerate_population_raises():
    x0 = jnp.ones((50, 2))
    with pytest.raises(ValueError, match=r"tempered_smc: `initial_particles` are all"):
        tempered_smc(KEY, _log_prior, _log_likelihood, x0)


def test_tempered_degenerate_population_under_jit_is_flagged():
    run = jax.jit(lambda x0: tempered_smc(KEY, _log_prior, _log_likelihood, x0))
    result = run(jnp.ones((50, 2)))
    assert np.isnan(float(result.log_evidence))
    assert int(result.failed_step) == 0
    fine = run(jax.random.normal(KEY, (50, 2)))
    assert int(fine.failed_step) == -1 and np.isfinite(float(fine.log_evidence))
