"""Tempered SMC against the closed-form conjugate Gaussian model.

Model (d = 10): theta ~ N(0, s0^2 I), y_i | theta ~ N(theta, sigma^2 I), i = 1..n.
The posterior is N(m, v I) with 1/v = 1/s0^2 + n/sigma^2, m = v n ybar / sigma^2, and
log p(y) = log p(y | t) + log p(t) - log p(t | y) at any t.

Evidence test. Z-hat is unbiased, so with e = log Z-hat - log Z, E[e] = -Var[e]/2 up to
the third cumulant, and T = mean(e) + var(e)/2 should be 0. Its standard error over R
replicates comes from the delta method: T's influence function is
psi_r = (e_r - mean) + ((e_r - mean)^2 - var)/2 and SE = sd(psi)/sqrt(R).

Adapting the random-walk covariance from the particles biases Z-hat by O(1/N), more so
when the moves mix poorly (blackjax's adaptive tempered SMC shows the same). We
measured about +0.02 nats with N = 1000 and 30 moves per temperature (400 replicates),
below this test's resolution (SE about 0.012 with 100 replicates); with 10 moves the
bias is ten times larger.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import EPS32, rounding_atol, rounding_rtol

from pinfer.smc import (
    TemperedSMCResult,
    build_hmc,
    build_rwm,
    build_tempered_smc,
    numpyro_target,
    tempered_smc,
    tempered_smc_numpyro,
)

DIM, PRIOR_SD, NOISE_SD, NUM_OBS = 10, 3.0, 1.0, 20
_rng = np.random.default_rng(0)
_THETA = _rng.normal(0.0, PRIOR_SD, DIM)
YS = _THETA + NOISE_SD * _rng.normal(size=(NUM_OBS, DIM))
YBAR = YS.mean(0)
SUM_SQ = float(((YS - YBAR) ** 2).sum())
POST_VAR = 1.0 / (1.0 / PRIOR_SD**2 + NUM_OBS / NOISE_SD**2)
POST_MEAN = POST_VAR * NUM_OBS * YBAR / NOISE_SD**2


def log_prior(x):
    return -0.5 * jnp.sum(x**2) / PRIOR_SD**2 - 0.5 * DIM * np.log(
        2 * np.pi * PRIOR_SD**2
    )


def log_likelihood(x):
    sq = SUM_SQ + NUM_OBS * jnp.sum((jnp.asarray(YBAR, x.dtype) - x) ** 2)
    const = -0.5 * NUM_OBS * DIM * np.log(2 * np.pi * NOISE_SD**2)
    return const - 0.5 * sq / NOISE_SD**2


def _exact_log_evidence() -> float:
    lik0 = (
        -0.5 * NUM_OBS * DIM * np.log(2 * np.pi * NOISE_SD**2)
        - 0.5 * (SUM_SQ + NUM_OBS * YBAR @ YBAR) / NOISE_SD**2
    )
    prior0 = -0.5 * DIM * np.log(2 * np.pi * PRIOR_SD**2)
    post0 = -0.5 * POST_MEAN @ POST_MEAN / POST_VAR - 0.5 * DIM * np.log(
        2 * np.pi * POST_VAR
    )
    return float(lik0 + prior0 - post0)


LOG_Z = _exact_log_evidence()


def prior_draws(key, num):
    return PRIOR_SD * jax.random.normal(key, (num, DIM))


def replicate(num_particles, num_replicates, seed, **options):
    """``num_replicates`` independent runs (vmap over keys), one compile."""

    def one(key):
        key_init, key_smc = jax.random.split(key)
        x0 = prior_draws(key_init, num_particles)
        return tempered_smc(key_smc, log_prior, log_likelihood, x0, **options)

    keys = jax.random.split(jax.random.key(seed), num_replicates)
    return jax.device_get(jax.jit(jax.vmap(one))(keys))


def bias_corrected(errors):
    """``T = mean(e) + var(e)/2`` and its delta-method standard error."""
    e = np.asarray(errors, np.float64)
    centred = e - e.mean()
    psi = centred + 0.5 * (centred**2 - e.var())
    return e.mean() + 0.5 * e.var(), psi.std() / np.sqrt(e.size)


def check_evidence(result):
    errors = result.log_evidence - LOG_Z
    assert np.all(np.isfinite(errors))
    assert errors.var() < 1.0, f"Var(log Z-hat) = {errors.var():.2f}: N too small"
    stat, se = bias_corrected(errors)
    assert abs(stat) < 4 * se, (stat, se, errors.mean(), errors.var())


def check_posterior(particles, min_ess_fraction=0.2):
    """Posterior mean and covariance of each replicate against the closed form."""
    particles = np.asarray(particles, np.float64)  # [R, N, d]
    num_rep, num, _ = particles.shape
    means = particles.mean(1)
    # Bias of the replicate means: within 4 replicate standard errors per coordinate.
    se = means.std(0, ddof=1) / np.sqrt(num_rep)
    assert np.all(np.abs(means.mean(0) - POST_MEAN) < 4 * se)
    # Spread: Var(mean) ~ v / ESS; the sampler must keep ESS >= min_ess_fraction * N.
    z2 = ((means - POST_MEAN) ** 2 / (POST_VAR / num)).mean()
    assert z2 < 1 / min_ess_fraction, f"posterior-mean ESS about N/{z2:.1f}"
    # Covariance, whitened by the exact posterior: every entry within 4.5 SE of I.
    centred = particles - means[:, None, :]
    covs = np.einsum("rni,rnj->rij", centred, centred) / (num - 1) / POST_VAR
    iu = np.triu_indices(DIM)
    entries = covs[:, iu[0], iu[1]]
    target = np.eye(DIM)[iu]
    z = (entries.mean(0) - target) / (entries.std(0, ddof=1) / np.sqrt(num_rep))
    assert np.max(np.abs(z)) < 4.5, np.max(np.abs(z))


FIXED_SCHEDULE = jnp.geomspace(1e-3, 1.0, 20)


@pytest.fixture(scope="module")
def rwm_adaptive():
    return replicate(1000, 100, seed=1, num_mcmc_steps=30)


@pytest.fixture(scope="module")
def rwm_fixed():
    return replicate(1000, 100, seed=2, num_mcmc_steps=30, temperatures=FIXED_SCHEDULE)


@pytest.fixture(scope="module")
def hmc_adaptive():
    kernel = build_hmc(step_size=0.3, num_leapfrog_steps=5)
    return replicate(500, 100, seed=3, mcmc_kernel=kernel, num_mcmc_steps=10)


@pytest.mark.slow
def test_evidence_adaptive_rwm(rwm_adaptive):
    check_evidence(rwm_adaptive)
    assert np.all(rwm_adaptive.temperatures[:, -1] == 1.0)
    assert np.all(rwm_adaptive.num_steps < rwm_adaptive.temperatures.shape[1])


@pytest.mark.slow
def test_posterior_adaptive_rwm(rwm_adaptive):
    check_posterior(rwm_adaptive.particles)


@pytest.mark.slow
def test_evidence_fixed_schedule_rwm(rwm_fixed):
    check_evidence(rwm_fixed)
    np.testing.assert_allclose(rwm_fixed.temperatures[0], FIXED_SCHEDULE)
    assert np.all(rwm_fixed.num_steps == FIXED_SCHEDULE.shape[0])


@pytest.mark.slow
def test_posterior_fixed_schedule_rwm(rwm_fixed):
    check_posterior(rwm_fixed.particles)


@pytest.mark.slow
def test_evidence_and_posterior_hmc(hmc_adaptive):
    check_evidence(hmc_adaptive)
    check_posterior(hmc_adaptive.particles)
    accept = np.nanmean(hmc_adaptive.acceptance_rate)
    assert 0.5 < accept <= 1.0


def test_adaptive_schedule_pads_its_trace():
    result = replicate(400, 2, seed=4, num_mcmc_steps=5, target_ess=0.6)
    for r in range(2):
        steps = int(result.num_steps[r])
        # Each step keeps ESS >= 0.6 N, up to the rounding of the N-term ESS.
        assert np.all(result.ess[r, :steps] >= 0.6 * 400 * (1 - rounding_rtol(400)))
        assert np.all(np.isnan(result.ess[r, steps:]))
        temps = result.temperatures[r]
        assert np.all(np.diff(temps) >= 0) and temps[-1] == 1.0


def test_small_run_is_accurate():
    """A quick (non-slow) accuracy check: 16 HMC replicates."""
    kernel = build_hmc(step_size=0.3, num_leapfrog_steps=5)
    result = replicate(300, 16, seed=5, mcmc_kernel=kernel, num_mcmc_steps=5)
    stat, se = bias_corrected(result.log_evidence - LOG_Z)
    assert abs(stat) < 4 * se, (stat, se)
    means = result.particles.mean(1)
    z2 = ((means - POST_MEAN) ** 2 / (POST_VAR / 300)).mean()
    # A requirement, not a tolerance: the posterior mean's ESS is above N / 5.
    assert z2 < 5.0


# --- contract -------------------------------------------------------------------


def test_jit_vmap_deterministic_and_one_compile():
    traces = []

    def run(key, x0, target_ess):
        traces.append(1)
        return tempered_smc(
            key, log_prior, log_likelihood, x0, target_ess=target_ess, max_steps=40
        )

    fn = jax.jit(run)
    x0 = prior_draws(jax.random.key(0), 64)
    a = fn(jax.random.key(1), x0, 0.5)
    b = fn(jax.random.key(1), x0, 0.5)
    c = fn(jax.random.key(2), x0 + 0.1, 0.7)
    assert isinstance(a, TemperedSMCResult)
    assert len(traces) == 1
    assert a.temperatures.shape == (40,) and a.particles.shape == (64, DIM)
    assert a.log_weights.shape == (64,) and a.num_steps.dtype == jnp.int32
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(u, v)
    assert float(a.log_evidence) != float(c.log_evidence)
    fn(jax.random.key(1), prior_draws(jax.random.key(0), 32), 0.5)
    assert len(traces) == 2  # a new shape compiles once more

    batched = jax.jit(jax.vmap(lambda k: run(k, x0, 0.5)))
    out = batched(jax.random.split(jax.random.key(3), 3))
    assert out.log_evidence.shape == (3,) and out.particles.shape == (3, 64, DIM)


def test_float64():
    with jax.enable_x64(True):
        result = replicate(300, 8, seed=6, num_mcmc_steps=10)
        assert result.log_evidence.dtype == np.float64
        assert result.particles.dtype == np.float64
    stat, se = bias_corrected(result.log_evidence - LOG_Z)
    assert abs(stat) < 4 * se, (stat, se)
    result32 = replicate(64, 2, seed=6, num_mcmc_steps=2)
    assert result32.log_evidence.dtype == np.float32


def test_algorithm_init_step_keeps_the_target_ess():
    """The adaptive step's ESS is the target, up to the bisection's width.

    The bisection on log(delta) stops with ESS(lo) >= target > ESS(hi), hi one width
    w = 40 / 2^24 above (plus the float32 rounding of lam + delta, eps lam / delta in
    log delta). |d log ESS / d log delta| <= 2 delta (max log L - min log L), so
    ESS(lo) <= target * exp(2 delta range w'), and the N-term ESS itself rounds.
    """
    target, num = 0.6, 400
    alg = build_tempered_smc(
        log_prior,
        log_likelihood,
        mcmc_kernel=build_rwm(),
        num_mcmc_steps=5,
        target_ess=target,
    )
    step = jax.jit(alg.step)
    state = alg.init(prior_draws(jax.random.key(0), num))
    assert float(state.temperature) == 0.0
    state, info = step(jax.random.key(1), state, 0.01)  # a fixed temperature
    assert float(info.temperature) == np.float32(0.01)
    key, rounding = jax.random.key(2), rounding_rtol(num)
    for _ in range(50):
        if float(state.temperature) >= 1.0:
            break
        key, sub = jax.random.split(key)
        spread = float(jnp.max(state.log_likelihood) - jnp.min(state.log_likelihood))
        before = float(state.temperature)
        state, info = step(sub, state)
        delta = float(info.temperature) - before
        assert 0.0 < float(info.acceptance_rate) <= 1.0
        assert float(info.ess) >= target * num * (1 - rounding)
        if float(info.temperature) < 1.0:  # the last step may stop early at 1
            width = 40.0 / 2**24 + EPS32 * float(info.temperature) / delta
            slack = np.expm1(2 * delta * spread * width) + rounding
            assert float(info.ess) <= target * num * (1 + slack)
    assert float(state.temperature) == 1.0


def test_pytree_particles_and_progress():
    def lp(p):
        return log_prior(jnp.concatenate([p["a"], p["b"][None]]))

    def ll(p):
        return log_likelihood(jnp.concatenate([p["a"], p["b"][None]]))

    x0 = prior_draws(jax.random.key(0), 100)
    tree = {"a": x0[:, :-1], "b": x0[:, -1]}
    result = jax.jit(
        lambda k: tempered_smc(k, lp, ll, tree, num_mcmc_steps=3, progress=True)
    )(jax.random.key(1))
    assert result.particles["a"].shape == (100, DIM - 1)
    assert result.particles["b"].shape == (100,)
    assert float(result.temperatures[-1]) == 1.0


# --- invalid values and bad input -----------------------------------------------


def test_all_nan_likelihood_gives_nan_and_stops():
    """The NaN policy: NaN is a broken model, never weight zero (it was -inf)."""
    x0 = prior_draws(jax.random.key(0), 50)
    result = jax.jit(
        lambda k: tempered_smc(k, log_prior, lambda x: jnp.nan * x[0], x0)
    )(jax.random.key(1))
    assert np.isnan(float(result.log_evidence))
    assert int(result.failed_step) == 0
    assert float(result.temperatures[-1]) < 1.0
    assert int(result.num_steps) == 1


def test_all_minus_inf_likelihood_gives_minus_inf_and_stops():
    x0 = prior_draws(jax.random.key(0), 50)
    result = jax.jit(
        lambda k: tempered_smc(k, log_prior, lambda x: -jnp.inf * (x[0] ** 2 + 1), x0)
    )(jax.random.key(1))
    assert float(result.log_evidence) == -np.inf
    assert int(result.failed_step) == 0 and int(result.num_steps) == 1


@pytest.mark.parametrize(
    "particles, match",
    [
        (jnp.zeros(10), r"shape \[N, d\]"),
        (jnp.zeros((4, 3, 2)), r"shape \[N, d\]"),
        ({"a": jnp.zeros((4, 2)), "b": jnp.zeros(3)}, "same leading particle axis"),
        (jnp.zeros((1, 3)), "at least 2 particles"),
    ],
)
def test_bad_particles(particles, match):
    with pytest.raises(ValueError, match=match):
        tempered_smc(jax.random.key(0), log_prior, log_likelihood, particles)


X4 = prior_draws(jax.random.key(0), 4)  # four distinct draws for the input checks


def test_integer_particles_and_vector_likelihood():
    with pytest.raises(TypeError, match="floating point"):
        tempered_smc(jax.random.key(0), log_prior, log_likelihood, X4.astype(jnp.int32))
    with pytest.raises(ValueError, match="to a scalar"):
        tempered_smc(jax.random.key(0), log_prior, lambda x: x, X4)
    with pytest.raises(TypeError, match="PRNG key"):
        tempered_smc(0, log_prior, log_likelihood, X4)


@pytest.mark.parametrize("target_ess", [0.0, 1.0, 1.5, -0.2])
def test_bad_target_ess(target_ess):
    with pytest.raises(ValueError, match=r"target_ess` .* \(0, 1\)"):
        tempered_smc(
            jax.random.key(0), log_prior, log_likelihood, X4, target_ess=target_ess
        )


@pytest.mark.parametrize(
    "temperatures, match",
    [
        (jnp.array([0.5, 0.3, 1.0]), "increase strictly"),
        (jnp.array([0.2, 0.5, 0.9]), "exactly 1"),
        (jnp.array([0.0, 0.5, 1.0]), "from above 0"),
        (jnp.ones((2, 2)), r"must have 1 dimension\(s\), got shape \(2, 2\)"),
    ],
)
def test_bad_schedule(temperatures, match):
    with pytest.raises(ValueError, match=match):
        tempered_smc(
            jax.random.key(0), log_prior, log_likelihood, X4, temperatures=temperatures
        )


# --- numpyro models ----------------------------------------------------------------


def conjugate_model(ys):
    import numpyro
    import numpyro.distributions as dist

    theta = numpyro.sample(
        "theta", dist.Normal(0.0, PRIOR_SD).expand([DIM]).to_event(1)
    )
    with numpyro.plate("obs", ys.shape[0]):
        numpyro.sample("y", dist.Normal(theta, NOISE_SD).to_event(1), obs=ys)


def test_numpyro_densities_match_functions():
    target = numpyro_target(conjugate_model, (jnp.asarray(YS),))
    assert target.latent_sites == ("theta",)
    x = prior_draws(jax.random.key(0), 5)
    lp = jax.vmap(lambda t: target.log_prior_fn({"theta": t}))(x)
    ll = jax.vmap(lambda t: target.log_likelihood_fn({"theta": t}))(x)
    # Sums of same-signed terms in two orders: d terms of three operations each.
    np.testing.assert_allclose(lp, jax.vmap(log_prior)(x), rtol=rounding_rtol(3 * DIM))
    # n d squared residuals, with the float32 data rounded: a relative input error
    # eps moves (y - x)^2 by 2 eps |y| |y - x|, bounded by the condition below.
    xs = np.asarray(x, np.float64)[:, None, :]
    condition = np.max(
        ((np.abs(YS) + np.abs(xs)) ** 2).sum((1, 2)) / ((YS - xs) ** 2).sum((1, 2))
    )
    rtol = rounding_rtol(NUM_OBS * DIM + 3, condition)
    np.testing.assert_allclose(ll, jax.vmap(log_likelihood)(x), rtol=rtol)


def test_numpyro_model_matches_function_input():
    """Same key, same model: the numpyro path reproduces the function path (x64)."""
    with jax.enable_x64(True):
        ys = jnp.asarray(YS)
        key = jax.random.key(8)
        by_model = jax.jit(
            lambda k: tempered_smc_numpyro(
                k, conjugate_model, (ys,), num_particles=200, num_mcmc_steps=5
            )
        )(key)
        key_prior, key_smc = jax.random.split(key)
        target = numpyro_target(conjugate_model, (ys,))
        x0 = target.sample_prior_fn(key_prior, 200)["theta"]
        by_fn = jax.jit(
            lambda k: tempered_smc(k, log_prior, log_likelihood, x0, num_mcmc_steps=5)
        )(key_smc)
    # Same decisions, float64 rounding apart: per step an N-term logsumexp and the
    # n d-term likelihood; the particles move by d-term products in every MCMC move.
    steps = int(by_fn.num_steps)
    assert int(by_model.num_steps) == steps
    atol = rounding_atol(steps * 200, 1.0, np.float64) + rounding_atol(
        steps * NUM_OBS * DIM, abs(float(by_fn.log_evidence)), np.float64
    )
    np.testing.assert_allclose(by_model.log_evidence, by_fn.log_evidence, atol=atol)
    scale = float(np.max(np.abs(by_fn.particles)))
    atol = rounding_atol(steps * 5 * DIM, scale, np.float64)
    np.testing.assert_allclose(by_model.particles["theta"], by_fn.particles, atol=atol)


def test_numpyro_constrained_model_evidence():
    """Gamma prior on a precision: the Jacobian must sit in the prior part."""
    import numpyro
    import numpyro.distributions as dist
    from scipy.special import gammaln

    a, b = 2.0, 1.5
    ys = jnp.asarray(np.random.default_rng(1).normal(0.0, 0.7, size=15))

    def model(y):
        tau = numpyro.sample("tau", dist.Gamma(a, b))
        with numpyro.plate("n", y.shape[0]):
            numpyro.sample("y", dist.Normal(0.0, 1.0 / jnp.sqrt(tau)), obs=y)

    n, sum_sq = ys.shape[0], float(jnp.sum(ys**2))
    log_z = (
        a * np.log(b)
        + gammaln(a + n / 2)
        - gammaln(a)
        - n / 2 * np.log(2 * np.pi)
        - (a + n / 2) * np.log(b + sum_sq / 2)
    )
    run = jax.vmap(lambda k: tempered_smc_numpyro(k, model, (ys,), 400))
    result = jax.device_get(jax.jit(run)(jax.random.split(jax.random.key(9), 20)))
    stat, se = bias_corrected(result.log_evidence - log_z)
    assert abs(stat) < 4 * se, (stat, se)
    tau = result.particles["tau"]
    assert np.all(tau > 0)
    post_mean = (a + n / 2) / (b + sum_sq / 2)
    means = tau.mean(1)
    assert abs(means.mean() - post_mean) < 4 * means.std(ddof=1) / np.sqrt(20) + 1e-3


def test_numpyro_rejects_discrete_latent():
    import numpyro
    import numpyro.distributions as dist

    def model():
        numpyro.sample("k", dist.Poisson(3.0))

    with pytest.raises(ValueError, match="discrete"):
        numpyro_target(model)
