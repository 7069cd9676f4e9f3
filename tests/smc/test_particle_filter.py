"""Particle filter against the exact Kalman filter, plus its contract and bad input.

Statistical tests use R = 100 replicate seeds (vmap over keys) on one fixed problem
(dx=4, dy=2, T=200) and tolerances from Monte-Carlo standard errors:

* evidence: ``mean(d) + var(d)/2`` with ``d = log Z_hat - log Z`` within 4 delta-method
  standard errors of 0 (``Z_hat`` unbiased, ``d`` close to ``N(-s^2/2, s^2)``), at an
  N where ``var(d) < 1``;
* filtering means: one Bonferroni max-|t| test over all T * dx cells (level 1e-3);
* gradients: replicate mean within 4 replicate standard errors of ``jax.grad`` of the
  Kalman log-likelihood.
"""

import functools

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pf_helpers import (
    BrokenModel,
    bonferroni_max_t,
    evidence_statistic,
    log_evidence_atol,
    make_problem,
)
from tolerances import rounding_atol, rounding_rtol

from pinfer.models.linear_gaussian import kalman_filter
from pinfer.smc import (
    ParticleFilterResult,
    guided_proposal,
    particle_filter,
    pf_init,
    pf_step,
)

NUM_REPLICATES = 100


@functools.partial(
    jax.jit,
    static_argnames=("num_particles", "proposal", "auxiliary", "ess_threshold"),
)
def replicate_filters(
    key,
    model,
    observations,
    mask=None,
    *,
    num_particles,
    proposal,
    auxiliary=False,
    ess_threshold=0.5,
):
    def one(k):
        result = particle_filter(
            k,
            model,
            observations,
            num_particles,
            mask=mask,
            proposal=proposal,
            auxiliary=auxiliary,
            ess_threshold=ess_threshold,
        )
        return result.log_evidence, result.filtering_mean, result.failed_step

    return jax.vmap(one)(jax.random.split(key, NUM_REPLICATES))


CONFIGS = {
    # name: (num_particles, proposal, auxiliary, ess_threshold)
    "bootstrap": (1000, "bootstrap", False, 0.5),
    "guided": (400, "guided", False, 0.5),
    "fully_adapted_auxiliary": (200, "guided", True, 1.0),
}


@pytest.fixture(scope="module")
def replicate_runs(lg_problem):
    runs = {}

    def get(name):
        if name not in runs:
            num_particles, proposal, auxiliary, threshold = CONFIGS[name]
            runs[name] = replicate_filters(
                jax.random.key(2024),
                lg_problem.model,
                lg_problem.observations,
                num_particles=num_particles,
                proposal=proposal,
                auxiliary=auxiliary,
                ess_threshold=threshold,
            )
        return runs[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_evidence_is_unbiased(lg_problem, replicate_runs, name):
    log_z_hat, _, failed = replicate_runs(name)
    assert np.all(np.asarray(failed) == -1)
    stat, se, variance = evidence_statistic(log_z_hat, lg_problem.log_likelihood)
    # The statistic needs the small-variance (log-normal) regime.
    assert variance < 1.0, f"var(log Z_hat) = {variance:.3f}: increase N"
    assert abs(stat) < 4 * se, f"{name}: stat={stat:.4f}, se={se:.4f}, var={variance}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bootstrap", "guided"])
def test_filtering_means_match_kalman(lg_problem, replicate_runs, name):
    _, means, _ = replicate_runs(name)
    max_t, bound = bonferroni_max_t(means, lg_problem.filtered_means)
    assert max_t < bound, f"{name}: max |t| = {max_t:.2f} >= {bound:.2f}"


@pytest.mark.slow
def test_missing_observations_match_kalman():
    num_steps = 60
    mask = jax.random.bernoulli(jax.random.key(7), 0.7, (num_steps,))
    mask = mask.at[0].set(False)
    problem = make_problem(num_steps=num_steps, mask=mask)
    # Missing values may be anything, NaN included.
    observations = jnp.where(mask[:, None], problem.observations, jnp.nan)
    log_z_hat, means, failed = replicate_filters(
        jax.random.key(5),
        problem.model,
        observations,
        mask,
        num_particles=500,
        proposal="guided",
    )
    assert np.all(np.asarray(failed) == -1)
    stat, se, variance = evidence_statistic(log_z_hat, problem.log_likelihood)
    assert variance < 1.0
    assert abs(stat) < 4 * se, f"stat={stat:.4f}, se={se:.4f}"
    max_t, bound = bonferroni_max_t(means, problem.filtered_means)
    assert max_t < bound
    # The Kalman filter with a mask is not the unmasked one.
    unmasked = kalman_filter(problem.model, problem.observations).log_likelihood
    assert abs(float(unmasked - problem.log_likelihood)) > 10


def _with_params(model, theta):
    """Scale R by theta[0] and shift A[0, 0] by theta[1]."""
    scale, shift = theta
    return eqx.tree_at(
        lambda m: (m.R, m.A), model, (scale * model.R, model.A.at[0, 0].add(shift))
    )


@functools.partial(
    jax.jit, static_argnames=("num_particles", "ess_threshold", "score_correction")
)
def replicate_gradients(
    key, model, ys, *, num_particles, ess_threshold, score_correction
):
    def log_z_hat(theta, k):
        return particle_filter(
            k,
            _with_params(model, theta),
            ys,
            num_particles,
            ess_threshold=ess_threshold,
            score_correction=score_correction,
        ).log_evidence

    theta = jnp.array([1.0, 0.0])
    keys = jax.random.split(key, NUM_REPLICATES)
    return jax.vmap(jax.grad(log_z_hat), (None, 0))(theta, keys)


def _kalman_gradient(model, ys):
    def log_z(theta):
        return kalman_filter(_with_params(model, theta), ys).log_likelihood

    return jax.grad(log_z)(jnp.array([1.0, 0.0]))


@pytest.mark.slow
@pytest.mark.parametrize(
    "num_steps, ess_threshold, score_correction",
    [
        # Unbiased-score variant (Scibior and Wood, 2021) with resampling.
        (20, 0.5, True),
        # Default estimator where it is exact in expectation: no resampling at all,
        # so no gradient is lost through ancestor indices (its known bias otherwise).
        (5, 0.0, False),
    ],
)
def test_gradient_of_log_evidence_matches_kalman(
    num_steps, ess_threshold, score_correction
):
    problem = make_problem(num_steps=num_steps)
    grads = np.asarray(
        replicate_gradients(
            jax.random.key(11),
            problem.model,
            problem.observations,
            num_particles=1000,
            ess_threshold=ess_threshold,
            score_correction=score_correction,
        )
    )
    exact = np.asarray(_kalman_gradient(problem.model, problem.observations))
    se = grads.std(axis=0, ddof=1) / np.sqrt(NUM_REPLICATES)
    # grad log Z_hat is a ratio estimator: its O(1/N) bias is far below 4 se here.
    np.testing.assert_array_less(np.abs(grads.mean(axis=0) - exact), 4 * se)


def test_fully_adapted_auxiliary_filter_has_equal_weights(lg_problem):
    result = particle_filter(
        jax.random.key(0),
        lg_problem.model,
        lg_problem.observations[:20],
        64,
        proposal="guided",
        auxiliary=True,
        ess_threshold=1.0,
        keep_history=True,
    )
    # Look-ahead p(y_t | x_{t-1}) and the optimal proposal cancel every weight, up
    # to the rounding of the terms that cancel: three log-densities of dimension
    # d (d^2 + d operations each) and the N-term normalisation, relative to the
    # largest term that enters (bounded through the particles' own densities).
    model = lg_problem.model.prepare()
    ys = lg_problem.observations[:20]
    parents = jnp.concatenate([result.particles[:1], result.particles[:-1]])
    parents = jnp.take_along_axis(parents, result.ancestors[..., None], axis=1)
    steps = jnp.arange(20)

    def terms(x, x_prev, y, t):
        return jnp.stack(
            [
                model.log_observation(x, y, t),
                model.log_transition(x, x_prev, t),
                model.log_proposal(x, x_prev, y, t),
                model.log_lookahead(x_prev, y, t),
            ]
        )

    per_step = jax.vmap(jax.vmap(terms, (0, 0, None, None)), (0, 0, 0, 0))
    scale = float(
        jnp.max(
            jnp.sum(
                jnp.abs(per_step(result.particles[1:], parents[1:], ys[1:], steps[1:])),
                -1,
            )
        )
    )
    atol = rounding_atol(3 * (4 * 4 + 4) + 64, scale)
    np.testing.assert_allclose(result.log_weights[1:], -np.log(64), atol=atol)
    assert bool(result.resampled.all())


# --- contract -------------------------------------------------------------------

SMALL_T, SMALL_N = 30, 128


@pytest.fixture(scope="module")
def small(lg_problem):
    return lg_problem.model, lg_problem.observations[:SMALL_T]


jit_filter = jax.jit(
    particle_filter,
    static_argnames=(
        "num_particles",
        "resample_fn",
        "proposal",
        "auxiliary",
        "keep_history",
        "checked",
        "progress",
    ),
)


def test_returns_declared_result_with_shapes(small):
    model, ys = small
    result = jit_filter(jax.random.key(0), model, ys, num_particles=SMALL_N)
    assert isinstance(result, ParticleFilterResult)
    assert result.log_evidence.shape == ()
    assert result.filtering_mean.shape == (SMALL_T, 4)
    assert result.ess.shape == (SMALL_T,)
    assert result.resampled.shape == (SMALL_T,) and result.resampled.dtype == bool
    assert result.particles.shape == (SMALL_N, 4)
    assert result.log_weights.shape == (SMALL_N,)
    assert result.ancestors is None
    assert int(result.failed_step) == -1
    # Normalised by an N-term logsumexp, summed again here: 2 gamma_N.
    tol = rounding_rtol(2 * SMALL_N)
    np.testing.assert_allclose(jax.nn.logsumexp(result.log_weights), 0.0, atol=tol)
    assert np.all((result.ess >= 1.0 - tol) & (result.ess <= SMALL_N * (1 + tol)))


def test_keep_history_shapes(small):
    model, ys = small
    plain = jit_filter(jax.random.key(0), model, ys, num_particles=SMALL_N)
    full = jit_filter(
        jax.random.key(0), model, ys, num_particles=SMALL_N, keep_history=True
    )
    assert full.particles.shape == (SMALL_T, SMALL_N, 4)
    assert full.log_weights.shape == (SMALL_T, SMALL_N)
    assert full.ancestors.shape == (SMALL_T, SMALL_N)
    assert full.ancestors.dtype == jnp.int32
    np.testing.assert_array_equal(full.particles[-1], plain.particles)
    np.testing.assert_array_equal(full.log_evidence, plain.log_evidence)
    # Steps that did not resample keep every particle's own index.
    kept = ~np.asarray(full.resampled)
    np.testing.assert_array_equal(
        np.asarray(full.ancestors)[kept],
        np.broadcast_to(np.arange(SMALL_N), (kept.sum(), SMALL_N)),
    )
    # The history's weighted means are the filtering means: two orders of an N-term
    # weighted sum differ by at most 2 gamma_N of sum_i w_i |x_i|.
    weights = jnp.exp(full.log_weights)
    means = jnp.einsum("tn,tnd->td", weights, full.particles)
    scale = jnp.einsum("tn,tnd->td", weights, jnp.abs(full.particles))
    bound = rounding_rtol(SMALL_N) * np.asarray(scale)
    assert np.all(np.abs(np.asarray(means - full.filtering_mean)) <= bound)


def test_deterministic_for_a_fixed_key(small):
    model, ys = small
    first = jit_filter(jax.random.key(3), model, ys, num_particles=SMALL_N)
    second = jit_filter(jax.random.key(3), model, ys, num_particles=SMALL_N)
    other = jit_filter(jax.random.key(4), model, ys, num_particles=SMALL_N)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(first.log_evidence) != float(other.log_evidence)


def test_compiles_once_per_shape(small):
    model, ys = small

    @jax.jit
    @chex.assert_max_traces(n=2)
    def run(key, model, ys):
        return particle_filter(key, model, ys, 64).log_evidence

    scaled = eqx.tree_at(lambda m: m.R, model, 2.0 * model.R)
    for seed in range(3):
        run(jax.random.key(seed), model, ys)
        run(jax.random.key(seed), scaled, ys)  # new values, same shapes
    run(jax.random.key(0), model, ys[:10])  # a new shape: the second trace
    with pytest.raises(AssertionError):
        run(jax.random.key(0), model, ys[:11])


def test_vmap_over_keys_and_model_parameters(small):
    model, ys = small
    keys = jax.random.split(jax.random.key(1), 3)
    batched = jax.vmap(lambda k: particle_filter(k, model, ys, SMALL_N))(keys)
    assert batched.log_evidence.shape == (3,)
    single = jit_filter(keys[1], model, ys, num_particles=SMALL_N)
    atol = log_evidence_atol(SMALL_T, SMALL_N, single.log_evidence, 4)
    np.testing.assert_allclose(batched.log_evidence[1], single.log_evidence, atol=atol)

    scales = jnp.array([0.5, 1.0, 2.0])

    def with_scale(s):
        scaled = eqx.tree_at(lambda m: m.R, model, s * model.R)
        return particle_filter(jax.random.key(2), scaled, ys, 64).log_evidence

    by_scale = jax.jit(jax.vmap(with_scale))(scales)
    assert by_scale.shape == (3,)
    single = with_scale(1.0)
    atol = log_evidence_atol(SMALL_T, 64, single, 4)
    np.testing.assert_allclose(by_scale[1], single, atol=atol)
    assert len(set(np.asarray(by_scale).tolist())) == 3


def test_streaming_matches_driver(small):
    model, ys = small
    key = jax.random.key(8)
    driver = jit_filter(key, model, ys, num_particles=SMALL_N, proposal=guided_proposal)
    key_init, key_steps = jax.random.split(key)
    state = pf_init(key_init, model, SMALL_N)
    step = jax.jit(pf_step, static_argnames=("proposal",))
    for k, y in zip(jax.random.split(key_steps, SMALL_T), ys, strict=True):
        state, info = step(k, state, model, y, proposal=guided_proposal)
    assert int(state.t) == SMALL_T
    atol = log_evidence_atol(SMALL_T, SMALL_N, driver.log_evidence, 4)
    np.testing.assert_allclose(state.log_evidence, driver.log_evidence, atol=atol)
    # One guided move is about 4 d-term products (d = 4); the rounding of each step
    # carries through the (contracting) dynamics of the T steps.
    scale = float(jnp.max(jnp.abs(driver.particles)))
    atol = rounding_atol(SMALL_T * 4 * 4, scale)
    np.testing.assert_allclose(state.particles, driver.particles, atol=atol)


def test_all_true_mask_and_progress_give_the_same_numbers(small):
    model, ys = small
    key = jax.random.key(9)
    plain = jit_filter(key, model, ys, num_particles=SMALL_N)
    mask = jnp.ones(SMALL_T, bool)
    masked = jit_filter(key, model, ys, mask=mask, num_particles=SMALL_N)
    shown = jit_filter(key, model, ys, num_particles=SMALL_N, progress=True)
    atol = log_evidence_atol(SMALL_T, SMALL_N, plain.log_evidence, 4)
    np.testing.assert_allclose(masked.log_evidence, plain.log_evidence, atol=atol)
    np.testing.assert_allclose(shown.log_evidence, plain.log_evidence, atol=atol)


def test_float64(small):
    model32, _ = small
    with jax.enable_x64(True):
        problem = make_problem(num_steps=SMALL_T)
        assert problem.model.A.dtype == jnp.float64
        keys = jax.random.split(jax.random.key(0), 8)
        result = jax.jit(
            jax.vmap(
                lambda k: particle_filter(k, problem.model, problem.observations, 500)
            )
        )(keys)
        assert result.log_evidence.dtype == jnp.float64
        assert result.filtering_mean.dtype == jnp.float64
        # Unbiased Z_hat: mean(d) + var(d)/2 within 4 delta-method standard errors.
        stat, se, _ = evidence_statistic(result.log_evidence, problem.log_likelihood)
        assert abs(stat) < 4 * se, (stat, se)
        # A float32 model under x64 runs too (float64 weights, float32 particles).
        mixed = particle_filter(
            jax.random.key(0), model32, problem.observations.astype(jnp.float32), 64
        )
        assert mixed.particles.dtype == jnp.float32
        assert np.isfinite(float(mixed.log_evidence))


# --- bad input and failures -----------------------------------------------------


def test_wrong_observation_shape_is_a_clear_error(small):
    model, ys = small
    bad = jnp.zeros((SMALL_T, 3))
    with pytest.raises(ValueError, match=r"\(3,\).*expects.*\(2,\)") as info:
        particle_filter(jax.random.key(0), model, bad, 10)
    assert f"({SMALL_T}, 2)" in str(info.value)
    with pytest.raises(ValueError, match="time axis"):
        particle_filter(jax.random.key(0), model, jnp.float32(1.0), 10)


@pytest.mark.parametrize("num_particles", [0, -5, 2.5, True, "100"])
def test_bad_num_particles_is_a_clear_error(small, num_particles):
    model, ys = small
    with pytest.raises((TypeError, ValueError), match="num_particles"):
        particle_filter(jax.random.key(0), model, ys, num_particles)


def test_bad_key_mask_and_proposal_are_clear_errors(small):
    model, ys = small
    with pytest.raises(TypeError, match="jax.random.key"):
        particle_filter(0, model, ys, 10)
    with pytest.raises(ValueError, match="mask"):
        particle_filter(jax.random.key(0), model, ys, 10, mask=jnp.ones(5, bool))
    with pytest.raises(ValueError, match="must be one of"):
        particle_filter(jax.random.key(0), model, ys, 10, proposal="optimal")
    bare = BrokenModel(model, k=-1, value=0.0)  # implements no guided proposal
    with pytest.raises(ValueError, match="sample_proposal"):
        particle_filter(jax.random.key(0), bare, ys, 10, proposal="guided")
    with pytest.raises(ValueError, match="log_lookahead"):
        particle_filter(jax.random.key(0), bare, ys, 10, auxiliary=True)


@pytest.mark.parametrize("keep_history", [False, True])
def test_all_weights_zero_gives_minus_inf_and_failed_step(small, keep_history):
    model, ys = small
    broken = BrokenModel(model, k=7, value=-np.inf)
    result = particle_filter(
        jax.random.key(0), broken, ys, 64, keep_history=keep_history
    )
    assert float(result.log_evidence) == -np.inf
    assert int(result.failed_step) == 7
    for leaf in jax.tree.leaves(result._replace(log_evidence=0.0)):
        assert not np.any(np.isnan(np.asarray(leaf, np.float64)))
    assert np.all(np.isfinite(result.filtering_mean))
