"""Statistical checks of the ``rbg`` key implementation the filter benchmark suggests.

``jax.random.key(seed, impl="rbg")`` draws its bits with XLA's ``RngBitGenerator``
(splitting and ``fold_in`` still use threefry) and makes a bootstrap filter about twice
as fast on CPU as the default threefry keys (``BENCHMARKS.md``). Before a user is
pointed at it, its uniforms and normals are checked here the way a filter uses them:
one long stream, and many short streams from split keys (one key per particle):

* uniformity: Kolmogorov-Smirnov and chi-square (1000 bins) tests at level 1e-4,
* every one of the 32 output bits is fair (|mean - 1/2| < 4.5 standard errors),
* no serial correlation (lags 1, 2, 7, 64) and no correlation between sibling
  streams (|r| < 4.5 / sqrt(n)),
* the bootstrap filter's evidence estimate stays unbiased for the Kalman value with
  rbg keys (hand-written filter and, when present, ``pinfer.smc.particle_filter``).

Every check uses a fixed key; the thresholds are proper tests with small false-alarm
levels, not tuned to the seed.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from benchmarks.handwritten_filter import (
    build_filter,
    kalman_log_evidence,
    make_problem,
    to_jax,
)

ALPHA = 1e-4
IMPLS = ["rbg"]


def _key(seed, impl):
    return jax.random.key(seed, impl=impl)


@pytest.mark.parametrize("impl", IMPLS)
def test_long_stream_uniforms(impl):
    u = np.asarray(jax.random.uniform(_key(0, impl), (1 << 20,)), np.float64)
    assert stats.kstest(u, "uniform").pvalue > ALPHA
    counts = np.bincount((u * 1000).astype(int), minlength=1000)
    assert stats.chisquare(counts).pvalue > ALPHA
    for lag in (1, 2, 7, 64):
        r = np.corrcoef(u[:-lag], u[lag:])[0, 1]
        assert abs(r) < 4.5 / np.sqrt(u.size - lag), (lag, r)


@pytest.mark.parametrize("impl", IMPLS)
def test_every_bit_is_fair(impl):
    bits = np.asarray(jax.random.bits(_key(1, impl), (1 << 18,), jnp.uint32))
    ones = (bits[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    se = 0.5 / np.sqrt(bits.size)
    assert np.all(np.abs(ones.mean(0) - 0.5) < 4.5 * se), ones.mean(0)


@pytest.mark.parametrize("impl", IMPLS)
def test_split_streams_are_uniform_and_uncorrelated(impl):
    # One key per particle, a few draws each: how a vmapped transition uses keys.
    keys = jax.random.split(_key(2, impl), 1 << 14)
    u = np.asarray(jax.vmap(lambda k: jax.random.uniform(k, (16,)))(keys), np.float64)
    assert stats.kstest(u.ravel(), "uniform").pvalue > ALPHA
    assert stats.kstest(u[:, 0], "uniform").pvalue > ALPHA
    n = u.shape[0] - 1
    for j in (0, 15):
        r = np.corrcoef(u[:-1, j], u[1:, j])[0, 1]  # sibling keys, same position
        assert abs(r) < 4.5 / np.sqrt(n), (j, r)
    r = np.corrcoef(u[:, 0], u[:, 1])[0, 1]  # within a stream
    assert abs(r) < 4.5 / np.sqrt(u.shape[0])


@pytest.mark.parametrize("impl", IMPLS)
def test_normals(impl):
    z = np.asarray(jax.random.normal(_key(3, impl), (1 << 18, 4)), np.float64)
    assert stats.kstest(z.ravel(), "norm").pvalue > ALPHA
    cov = np.cov(z.T)
    assert np.all(np.abs(cov - np.eye(4)) < 4.5 * np.sqrt(2.0 / z.shape[0]))


NUM_STEPS, NUM_PARTICLES, NUM_SEEDS = 20, 256, 200


def _assert_unbiased(log_z, exact):
    ratio = np.exp(np.asarray(log_z, np.float64) - exact)
    assert np.all(np.isfinite(ratio))
    assert abs(ratio.mean() - 1) < 4 * ratio.std(ddof=1) / np.sqrt(ratio.size)


@pytest.mark.parametrize("impl", IMPLS)
def test_filter_evidence_unbiased_with_rbg_keys(impl):
    problem = make_problem(0, NUM_STEPS)
    exact = kalman_log_evidence(problem)
    keys = jax.random.split(_key(4, impl), NUM_SEEDS)
    pf = build_filter(NUM_PARTICLES)
    _assert_unbiased(jax.vmap(pf, in_axes=(0, None))(keys, to_jax(problem)), exact)

    linear_gaussian = pytest.importorskip("pinfer.models.linear_gaussian")
    from pinfer.smc import particle_filter

    model = linear_gaussian.LinearGaussianSSM(
        *(jnp.asarray(a, jnp.float32) for a in problem[:6])
    )
    ys = jnp.asarray(problem.ys, jnp.float32)

    @jax.vmap
    def pinfer_log_z(key):
        result = particle_filter(key, model, ys, NUM_PARTICLES, ess_threshold=1.0)
        return result.log_evidence

    _assert_unbiased(pinfer_log_z(keys), exact)
