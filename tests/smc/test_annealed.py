"""Tests for annealed (tempered) resampling with an adaptive exponent.

The premature-exploitation problem: a Gaussian random walk ``x_1 ~ N(0, 1)``,
``x_t = x_{t-1} + N(0, Q)``, explored by SMC through intermediate targets
``pi_t ∝ p(x_{1:t}) psi_t``. The first potential is an overconfident, misleading score
``psi_1 = exp(-KAPPA (x_1 - B)^2 / 2)`` favouring ``x_1 ≈ B = -2``; the middle ones are
flat; the final one is the true likelihood ``psi_T = N(Y; x_T, R)``. Incremental
weights ``psi_t / psi_{t-1}`` telescope, so the final target is
``p(x_{1:T}) N(Y; x_T, R)``: a Gaussian with ``E[x_T] = V Y / (V + R)`` and
``E[x_1] = Y / (V + R)``, ``V = 1 + (T-1) Q``, whose mass sits near ``x_T ≈ +1.8``, far
from where the early score pushes. Both runs resample at every step (as particle-based
inference-time scaling does); plain resampling commits to ``x_1 ≈ B`` after step 1.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import rounding_atol, rounding_rtol

from pinfer.smc import (
    annealed_log_lookahead,
    annealed_resample,
    annealing_exponent,
    entropy_fraction,
    ess_fraction,
    smc_step,
    tempered_resample,
)
from pinfer.smc.base import init as smc_init
from pinfer.smc.resampling import multinomial, normalize, systematic

T, N, REPS = 15, 500, 40
Q, KAPPA, B, Y, R = 0.1, 50.0, -2.0, 2.0, 0.25
V = 1.0 + (T - 1) * Q
TRUE_MEAN_LAST = V * Y / (V + R)
TRUE_MEAN_FIRST = Y / (V + R)


def plain_resample(key, log_weights):
    indices = systematic(key, log_weights, log_weights.shape[0])
    return indices, jnp.full_like(log_weights, -jnp.log(log_weights.shape[0]))


def annealed(key, log_weights):
    indices, new_log_weights, _ = annealed_resample(
        key, log_weights, log_weights.shape[0], target_diversity=0.5
    )
    return indices, new_log_weights


def _log_potential(t, x):
    misleading = -0.5 * KAPPA * (x - B) ** 2
    final = -0.5 * (Y - x) ** 2 / R
    return jnp.where(t == T - 1, final, jnp.where(t == 0, misleading, 0.0))


def _run_smc(key, resample_fn):
    """One SMC run, resampling at every step; returns ancestors and two estimates."""
    key_init, key_steps = jax.random.split(key)
    x = jax.random.normal(key_init, (N,))
    log_psi = _log_potential(0, x)
    carry = (x, x, jnp.arange(N), log_psi, log_psi)

    def step(carry, inputs):
        x, x_first, origin, log_w, log_psi = carry
        t, key = inputs
        key_resample, key_move = jax.random.split(key)
        idx, log_w = resample_fn(key_resample, log_w)
        x = x[idx] + jnp.sqrt(Q) * jax.random.normal(key_move, (N,))
        new_log_psi = _log_potential(t, x)
        log_w = log_w + new_log_psi - log_psi[idx]
        return (x, x_first[idx], origin[idx], log_w, new_log_psi), None

    inputs = (jnp.arange(1, T), jax.random.split(key_steps, T - 1))
    (x, x_first, origin, log_w, _), _ = jax.lax.scan(step, carry, inputs)
    weights = jnp.exp(normalize(log_w))
    num_ancestors = jnp.sum(jnp.bincount(origin, length=N) > 0)
    return num_ancestors, weights @ x, weights @ x_first


@functools.partial(jax.jit, static_argnames="resample_fn")
def run_replicates(keys, resample_fn):
    return jax.vmap(_run_smc, in_axes=(0, None))(keys, resample_fn)


@pytest.fixture(scope="module")
def replicates():
    keys = jax.random.split(jax.random.key(2025), REPS)
    out = {}
    for name, fn in (("plain", plain_resample), ("annealed", annealed)):
        ancestors, mean_last, mean_first = run_replicates(keys, fn)
        out[name] = (
            np.asarray(ancestors, float),
            (np.asarray(mean_last, float) - TRUE_MEAN_LAST) ** 2,
            (np.asarray(mean_first, float) - TRUE_MEAN_FIRST) ** 2,
        )
    return out


def test_annealed_keeps_many_more_ancestors(replicates):
    plain, annealed_ = replicates["plain"][0], replicates["annealed"][0]
    print(
        f"distinct time-0 ancestors: plain {plain.mean():.1f}, "
        f"annealed {annealed_.mean():.1f} (N={N}, T={T}, {REPS} seeds)"
    )
    assert annealed_.mean() >= 5.0 * plain.mean()


@pytest.mark.parametrize("column", [1, 2], ids=["mean_x_T", "mean_x_1"])
def test_annealed_has_lower_mse_on_target_mean(replicates, column):
    sq_plain = replicates["plain"][column]
    sq_annealed = replicates["annealed"][column]
    diff = sq_plain - sq_annealed  # paired: same seeds
    se_diff = diff.std(ddof=1) / np.sqrt(REPS)
    print(
        f"MSE plain {sq_plain.mean():.4f} ± {sq_plain.std(ddof=1) / np.sqrt(REPS):.4f}"
        f", annealed {sq_annealed.mean():.4f} ± "
        f"{sq_annealed.std(ddof=1) / np.sqrt(REPS):.4f}, diff {diff.mean():.4f} ± "
        f"{se_diff:.4f}"
    )
    assert diff.mean() > 4.0 * se_diff


# --- inside the generic SMC step: unbiased log-evidence ---------------------------


def _run_smc_step(key):
    """The same problem through ``smc_step`` (resampling every step)."""
    key_init, key_steps = jax.random.split(key)
    x = jax.random.normal(key_init, (N,))
    log_psi = _log_potential(0, x)
    log_z_init = jax.nn.logsumexp(log_psi) - jnp.log(N)

    def propose(key, parents):
        return parents + jnp.sqrt(Q) * jax.random.normal(key, parents.shape)

    def step(state, inputs):
        t, key = inputs

        def log_weight(new, parents):
            return _log_potential(t, new) - _log_potential(t - 1, parents)

        lookahead = annealed_log_lookahead(state.log_weights, 0.5)
        state, info = smc_step(
            key,
            state,
            propose,
            log_weight,
            systematic,
            1.0,
            log_lookahead_fn=lambda _: lookahead,
        )
        return state, info.log_evidence_increment

    inputs = (jnp.arange(1, T), jax.random.split(key_steps, T - 1))
    state, increments = jax.lax.scan(step, smc_init(x, log_psi), inputs)
    return log_z_init + increments.sum(), jnp.exp(state.log_weights) @ state.particles


@pytest.mark.slow
def test_smc_step_with_annealed_lookahead_has_unbiased_evidence():
    # Z = int p(x_{1:T}) psi_T = N(Y; 0, V + R), with psi_T's normalising constant.
    log_z_true = -0.5 * Y**2 / (V + R) - 0.5 * np.log(2 * np.pi * (V + R))
    log_z_psi = -0.5 * np.log(2 * np.pi * R)
    reps = 100
    keys = jax.random.split(jax.random.key(11), reps)
    log_z, _ = jax.jit(jax.vmap(_run_smc_step))(keys)
    ratio = np.exp(np.asarray(log_z, float) + log_z_psi - log_z_true)
    se = ratio.std(ddof=1) / np.sqrt(reps)
    print(f"Z_hat / Z = {ratio.mean():.3f} ± {se:.3f}")
    assert abs(ratio.mean() - 1.0) < 4.0 * se


# --- properly weighted: the corrected offspring estimate the ancestors' target -------

NUM_KEYS = 400


@functools.partial(jax.jit, static_argnames="base_resample_fn")
def _offspring_means(keys, x, log_w, base_resample_fn):
    def one(key):
        idx, new_log_w, alpha = annealed_resample(
            key, log_w, x.shape[0], base_resample_fn=base_resample_fn
        )
        corrected = jnp.exp(new_log_w) @ x[idx]
        return corrected, jnp.mean(x[idx]), alpha

    return jax.vmap(one)(keys)


@pytest.mark.parametrize("base", [systematic, multinomial], ids=lambda f: f.__name__)
def test_offspring_are_properly_weighted_given_ancestors(base):
    x = jax.random.normal(jax.random.key(0), (1000,))
    log_w = -0.5 * (x - 1.0) ** 2 / 0.1
    weighted_mean = float(jnp.exp(normalize(log_w)) @ x)
    keys = jax.random.split(jax.random.key(1), NUM_KEYS)
    corrected, uncorrected, alpha = map(
        np.asarray, _offspring_means(keys, x, log_w, base)
    )
    assert 0.0 < alpha[0] < 1.0
    se = corrected.std(ddof=1) / np.sqrt(NUM_KEYS)
    # Monte-Carlo error, plus the float32 rounding of the 1000-term weighted mean.
    rounding = rounding_atol(x.shape[0], float(jnp.exp(normalize(log_w)) @ jnp.abs(x)))
    assert abs(corrected.mean() - weighted_mean) < 4.0 * se + rounding
    # Power: dropping the w^(1 - alpha) correction gives a detectably different answer.
    assert abs(uncorrected.mean() - weighted_mean) > 10.0 * (4.0 * se + rounding)


def test_annealed_estimate_matches_exact_posterior_mean():
    # x ~ N(0, 1), y | x ~ N(x, s2): posterior mean y / (1 + s2).
    y, s2, num = 1.0, 0.1, 1000

    @jax.jit
    @jax.vmap
    def estimate(key):
        key_x, key_r = jax.random.split(key)
        x = jax.random.normal(key_x, (num,))
        idx, new_log_w, _ = annealed_resample(key_r, -0.5 * (y - x) ** 2 / s2, num)
        return jnp.exp(new_log_w) @ x[idx]

    estimates = np.asarray(estimate(jax.random.split(jax.random.key(3), 200)))
    se = estimates.std(ddof=1) / np.sqrt(estimates.size)
    assert abs(estimates.mean() - y / (1.0 + s2)) < 4.0 * se


# --- the exponent ------------------------------------------------------------------


def test_exponent_meets_target_and_is_largest():
    log_w = -0.5 * jax.random.normal(jax.random.key(4), (500,)) ** 2 * 40.0
    for target, diversity_fn in ((0.5, ess_fraction), (0.8, entropy_fraction)):
        alpha = annealing_exponent(log_w, target, diversity_fn=diversity_fn)
        assert 0.0 < alpha < 1.0
        # The bisection keeps diversity(lo) >= target > diversity(hi), with hi one
        # bisection width (2^-30, or one float32 step of alpha) above lo = alpha;
        # evaluated again here, the diversity can move by its rounding (N terms).
        slack = target * rounding_rtol(log_w.shape[0])
        hi = alpha + max(2.0**-30, float(np.spacing(np.float32(alpha))))
        assert diversity_fn(alpha * log_w) >= target - slack
        assert diversity_fn(np.float32(hi) * log_w) < target + slack


def test_exponent_is_one_when_weights_are_diverse_enough():
    log_w = jnp.log(jnp.array([1.0, 1.0, 1.0, 0.9]))
    assert annealing_exponent(log_w, 0.5) == 1.0


def test_zero_weights_are_never_resampled():
    log_w = jnp.array([0.0, -jnp.inf, -30.0, -jnp.inf])
    # Half of the weights are zero: an ESS above N / 2 is out of reach, so alpha = 0.
    idx, new_log_w, alpha = annealed_resample(
        jax.random.key(5), log_w, 8, target_diversity=0.9
    )
    assert alpha == 0.0
    assert set(np.asarray(idx).tolist()) <= {0, 2}
    # alpha = 0: the offspring keep their weights, normalised the same way.
    np.testing.assert_array_equal(new_log_w, normalize(log_w[idx]))


def test_alpha_one_recovers_plain_resampling_exactly():
    key = jax.random.key(6)
    log_w = 3.0 * jax.random.normal(jax.random.key(7), (64,))
    idx, new_log_w = tempered_resample(key, log_w, 64, 1.0)
    np.testing.assert_array_equal(idx, systematic(key, log_w, 64))
    np.testing.assert_array_equal(new_log_w, jnp.full(64, -jnp.log(64.0)))
    # The adaptive version picks alpha = 1 for diverse weights and agrees too.
    flat = 0.1 * log_w
    idx, new_log_w, alpha = annealed_resample(key, flat, 64, target_diversity=0.5)
    assert alpha == 1.0
    np.testing.assert_array_equal(idx, systematic(key, flat, 64))
    np.testing.assert_array_equal(new_log_w, jnp.full(64, -jnp.log(64.0)))


def test_rejects_target_out_of_range():
    with pytest.raises(ValueError, match="target_diversity"):
        annealed_resample(jax.random.key(0), jnp.zeros(4), 4, target_diversity=1.5)


def test_jit_vmap_over_keys_and_targets_compiles_once():
    traces = []

    @jax.jit
    def batched(keys, log_w, targets):
        traces.append(None)
        fn = functools.partial(annealed_resample, num_samples=32)
        return jax.vmap(lambda k, t: fn(k, log_w, target_diversity=t))(keys, targets)

    log_w = -jnp.linspace(0.0, 20.0, 32)
    targets = jnp.array([0.2, 0.5, 0.9])
    for seed in range(2):
        idx, new_log_w, alpha = batched(
            jax.random.split(jax.random.key(seed), 3), log_w, targets
        )
    assert len(traces) == 1
    assert idx.shape == (3, 32) and new_log_w.shape == (3, 32) and alpha.shape == (3,)
    assert idx.dtype == jnp.int32
    assert bool(jnp.all(jnp.diff(alpha) < 0))  # a higher target flattens more
    again = batched(jax.random.split(jax.random.key(1), 3), log_w, targets)
    np.testing.assert_array_equal(again[0], idx)  # deterministic for a fixed key


def test_float64():
    with jax.enable_x64(True):
        log_w = -0.5 * jnp.linspace(-4.0, 4.0, 200, dtype=jnp.float64) ** 2 * 30.0
        idx, new_log_w, alpha = jax.jit(annealed_resample, static_argnums=2)(
            jax.random.key(8), log_w, 200
        )
        assert new_log_w.dtype == jnp.float64 and alpha.dtype == jnp.float64
        # One bisection width (2^-30) in alpha moves ESS / N by at most
        # |d(ESS / N) / d alpha| * 2^-30 <= 2 (max log w - min log w) 2^-30.
        spread = float(log_w.max() - log_w.min())
        bound = 2 * spread * 2.0**-30 + rounding_rtol(200, dtype=np.float64)
        assert abs(float(ess_fraction(alpha * log_w)) - 0.5) < bound
        # Normalised by a 200-term logsumexp, summed again here: 2 gamma_N (float64).
        atol = rounding_rtol(2 * 200, dtype=np.float64)
        np.testing.assert_allclose(jax.nn.logsumexp(new_log_w), 0.0, atol=atol)
