"""The generic SMC step: resampling decision, evidence increment, look-ahead, failures.

The toy step moves ``x' = x + N(0, 1)`` and weighs ``G = N(y; x', 1)``, so from a
weighted population ``(x_i, w_i)`` the exact evidence increment is
``sum_i w_i N(y; x_i, 2)``; ``exp(log_evidence_increment)`` must be unbiased for it,
with or without resampling and with any look-ahead.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import norm
from tolerances import EPS32, rounding_rtol

from pinfer.smc import SMCInfo, SMCState, multinomial, smc_step, systematic
from pinfer.smc.base import init, normalize_log_weights

NUM = 64
Y = 0.7


def propose(key, x):
    return x + jax.random.normal(key, x.shape)


def log_weight(x, parents):
    return norm.logpdf(Y, x, 1.0)


def lookahead(x):
    # Deliberately not p(y | x): any positive look-ahead keeps Z_t unbiased.
    return -0.25 * (x - Y) ** 2 + 0.3 * jnp.sin(3 * x)


def population():
    x = jax.random.normal(jax.random.key(0), (NUM,)) * 1.5
    log_w = jax.random.normal(jax.random.key(1), (NUM,)) * 1.5
    return init(x, log_w)


@functools.partial(jax.jit, static_argnames=("use_lookahead", "threshold", "num_keys"))
def increments(key, state, *, use_lookahead, threshold, num_keys=4000):
    def one(k):
        _, info = smc_step(
            k,
            state,
            propose,
            log_weight,
            multinomial,
            threshold,
            log_lookahead_fn=lookahead if use_lookahead else None,
        )
        return info.log_evidence_increment, info.resampled

    return jax.vmap(one)(jax.random.split(key, num_keys))


@pytest.mark.parametrize(
    "use_lookahead, threshold", [(False, 1.0), (False, 0.0), (True, 1.0), (True, 0.5)]
)
def test_evidence_increment_is_unbiased(use_lookahead, threshold):
    state = population()
    weights = jnp.exp(state.log_weights)
    exact = float(jnp.sum(weights * norm.pdf(Y, state.particles, jnp.sqrt(2.0))))
    log_z, resampled = increments(
        jax.random.key(5), state, use_lookahead=use_lookahead, threshold=threshold
    )
    z = np.exp(np.asarray(log_z, np.float64))
    se = z.std(ddof=1) / np.sqrt(z.size)
    assert abs(z.mean() - exact) < 4 * se, (z.mean(), exact, se)
    assert bool(resampled.all()) == (threshold > 0)


def test_state_and_info_contract():
    state = population()
    new_state, info = jax.jit(smc_step, static_argnums=(2, 3, 4))(
        jax.random.key(0), state, propose, log_weight, systematic, 0.5
    )
    assert isinstance(new_state, SMCState) and isinstance(info, SMCInfo)
    assert new_state.particles.shape == (NUM,)
    assert info.ancestors.shape == (NUM,) and info.ancestors.dtype == jnp.int32
    # Normalised by an N-term logsumexp, summed again here: 2 gamma_N.
    atol = rounding_rtol(2 * NUM)
    np.testing.assert_allclose(jax.nn.logsumexp(new_state.log_weights), 0.0, atol=atol)
    # float32 against float64: gamma_N of the sum, and exp(y) rounds y, |y| eps.
    log_w = np.asarray(new_state.log_weights, np.float64)
    expected_ess = 1.0 / np.sum(np.exp(2 * log_w))
    rtol = rounding_rtol(NUM) + EPS32 * float(np.max(np.abs(2 * log_w)))
    np.testing.assert_allclose(info.ess, expected_ess, rtol=rtol)


def test_resampling_decision_follows_the_ess():
    uniform = init(jnp.arange(NUM, dtype=jnp.float32))
    degenerate = init(uniform.particles, jnp.where(jnp.arange(NUM) < 2, 0.0, -50.0))
    for threshold in (0.5, jnp.float32(0.5)):  # static and traced thresholds
        _, info = smc_step(
            jax.random.key(0), uniform, propose, log_weight, systematic, threshold
        )
        assert not bool(info.resampled)
        np.testing.assert_array_equal(info.ancestors, np.arange(NUM))
        _, info = smc_step(
            jax.random.key(0), degenerate, propose, log_weight, systematic, threshold
        )
        assert bool(info.resampled)
        assert set(np.asarray(info.ancestors).tolist()) <= {0, 1}


def test_all_zero_weights_give_minus_inf_and_a_finite_state():
    state = population()
    new_state, info = smc_step(
        jax.random.key(0),
        state,
        propose,
        lambda x, parents: jnp.full_like(x, -jnp.inf),
        systematic,
        0.5,
    )
    assert float(info.log_evidence_increment) == -np.inf
    # -log N rounded to float32 once; the ESS of those weights sums N terms.
    np.testing.assert_allclose(new_state.log_weights, -np.log(NUM), rtol=EPS32)
    rtol = rounding_rtol(NUM) + EPS32 * 2 * np.log(NUM)
    np.testing.assert_allclose(info.ess, NUM, rtol=rtol)


def _increment_after_shift(shift, key, score_correction):
    """One always-resampling step from weights ``w_i(shift) ∝ w_i exp(shift x_i)``."""
    state = population()
    log_w, _ = normalize_log_weights(state.log_weights + shift * state.particles)
    _, info = smc_step(
        key,
        SMCState(state.particles, log_w),
        propose,
        log_weight,
        systematic,
        1.0,
        score_correction=score_correction,
    )
    return info.log_evidence_increment


def test_score_correction_keeps_values_and_gives_unbiased_gradients():
    key = jax.random.key(3)
    plain = _increment_after_shift(0.1, key, False)
    np.testing.assert_array_equal(plain, _increment_after_shift(0.1, key, True))
    # Without the correction the resampled weights forget the earlier weights.
    assert float(jax.grad(_increment_after_shift)(0.1, key, False)) == 0.0

    def exact_z(shift):
        state = population()
        log_w, _ = normalize_log_weights(state.log_weights + shift * state.particles)
        return jnp.sum(jnp.exp(log_w) * norm.pdf(Y, state.particles, jnp.sqrt(2.0)))

    def z_hat(shift, k):
        return jnp.exp(_increment_after_shift(shift, k, True))

    keys = jax.random.split(jax.random.key(4), 4000)
    grads = np.asarray(jax.jit(jax.vmap(jax.grad(z_hat), (None, 0)))(0.1, keys))
    exact = float(jax.grad(exact_z)(0.1))
    se = grads.std(ddof=1) / np.sqrt(grads.size)
    assert abs(grads.mean() - exact) < 4 * se, (grads.mean(), exact, se)
