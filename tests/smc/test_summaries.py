"""Online per-step summaries of the particle filter, and the generic simulator.

``summary_fn(particles, log_weights)`` runs inside the filter's scan on each step's
weighted population; stacked over time it estimates filtering expectations without
storing the particle history. Oracles: the exact forward algorithm of a small discrete
HMM (filtering marginals) and the Kalman filter (filtering means and variances). With
R replicate filters (vmap over keys) every estimate is compared with the truth in one
Bonferroni max-|t| test over all cells (level 1e-3), as the other filter tests do.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pf_helpers import bonferroni_max_t, hmm_forward, make_problem, small_hmm
from tolerances import rounding_rtol

from pinfer.models import linear_gaussian
from pinfer.smc import particle_filter, simulate

NUM_REPLICATES, NUM_PARTICLES, NUM_STEPS = 50, 400, 25


def marginals(particles, log_weights):
    """Filtering marginals of a discrete state: ``[K]`` weights of each value."""
    return jnp.zeros(3).at[particles].add(jnp.exp(log_weights))


def test_summary_fn_matches_hmm_forward_algorithm():
    model = small_hmm()
    _, ys = simulate(jax.random.key(1), model, NUM_STEPS)
    exact, _ = hmm_forward(model, ys)

    def one(key):
        result = particle_filter(key, model, ys, NUM_PARTICLES, summary_fn=marginals)
        return result.summaries

    estimates = jax.jit(jax.vmap(one))(
        jax.random.split(jax.random.key(2), NUM_REPLICATES)
    )
    assert estimates.shape == (NUM_REPLICATES, NUM_STEPS, 3)
    # Marginals sum N weights to 1 (up to the rounding of N additions).
    np.testing.assert_allclose(
        estimates.sum(-1), 1.0, rtol=rounding_rtol(NUM_PARTICLES)
    )
    max_t, bound = bonferroni_max_t(estimates, exact)
    assert max_t < bound, f"max |t| = {max_t:.2f} >= {bound:.2f}"


def moments(particles, log_weights):
    weights = jnp.exp(log_weights)
    mean = weights @ particles
    return {"mean": mean, "variance": weights @ (particles - mean) ** 2}


def test_summary_fn_matches_kalman_mean_and_variance():
    problem = make_problem(num_steps=NUM_STEPS)
    kf = linear_gaussian.kalman_filter(problem.model, problem.observations)

    def one(key):
        result = particle_filter(
            key, problem.model, problem.observations, NUM_PARTICLES, summary_fn=moments
        )
        return result.summaries, result.filtering_mean

    keys = jax.random.split(jax.random.key(3), NUM_REPLICATES)
    summaries, means = jax.jit(jax.vmap(one))(keys)
    # Two orders of one weighted sum of N terms: within 2 gamma_N of sum_i w_i |x_i|,
    # which is at most sqrt(sum_i w_i x_i^2) (Cauchy-Schwarz).
    scale = np.sqrt(summaries["variance"] + summaries["mean"] ** 2)
    bound = rounding_rtol(NUM_PARTICLES) * scale
    assert np.all(np.abs(summaries["mean"] - means) <= bound)
    variances = np.diagonal(np.asarray(kf.filtered_covs), axis1=1, axis2=2)
    estimates = np.concatenate([summaries["mean"], summaries["variance"]], axis=-1)
    truth = np.concatenate([kf.filtered_means, variances], axis=-1)
    # The weighted variance has an O(1/N) bias (1/400 of the variance), far below
    # the replicate standard error (about sd/sqrt(N R) ~ 1/140 of it).
    max_t, bound = bonferroni_max_t(estimates, truth)
    assert max_t < bound, f"max |t| = {max_t:.2f} >= {bound:.2f}"


def test_summaries_keep_memory_of_one_population():
    problem = make_problem(num_steps=8)
    jaxpr = jax.make_jaxpr(
        lambda k: particle_filter(
            k, problem.model, problem.observations, 64, summary_fn=moments
        )
    )(jax.random.key(0))
    shapes = [tuple(v.aval.shape) for v in jaxpr.jaxpr.outvars]
    # No [T, N, ...] output: the particle history is never stored.
    assert not any(len(s) >= 2 and s[:2] == (8, 64) for s in shapes), shapes
    plain = particle_filter(jax.random.key(0), problem.model, problem.observations, 64)
    assert plain.summaries is None


def test_summary_fn_must_return_arrays():
    problem = make_problem(num_steps=4)
    with pytest.raises(TypeError, match="summary_fn"):
        particle_filter(
            jax.random.key(0),
            problem.model,
            problem.observations,
            16,
            summary_fn="mean",
        )


# --- simulate ----------------------------------------------------------------------


def test_generic_simulate_draws_from_the_model():
    model = small_hmm()
    states, ys = jax.jit(simulate, static_argnums=2)(jax.random.key(4), model, 4000)
    assert states.shape == (4000,) and states.dtype == jnp.int32 and ys.shape == (4000,)
    # Emissions given the state are N(means[x], scale^2): standardised residuals have
    # mean 0 and variance 1 within 4 standard errors (1/sqrt(n), sqrt(2/n)).
    z = (np.asarray(ys) - np.asarray(model.means)[np.asarray(states)]) / float(
        model.scale
    )
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)
    # The chain's transition counts follow the transition matrix.
    counts = np.zeros((3, 3))
    np.add.at(counts, (np.asarray(states[:-1]), np.asarray(states[1:])), 1)
    rows = counts.sum(1, keepdims=True)
    expected = np.asarray(model.transition)
    se = np.sqrt(expected * (1 - expected) / rows)
    assert np.all(np.abs(counts / rows - expected) < 4 * se)


def test_linear_gaussian_simulate_is_the_generic_one():
    problem = make_problem(num_steps=5)
    xs, ys = linear_gaussian.simulate(jax.random.key(5), problem.model, num_steps=5)
    again = simulate(jax.random.key(5), problem.model, 5)
    np.testing.assert_array_equal(xs, again[0])
    np.testing.assert_array_equal(ys, again[1])
    assert xs.shape == (5, 4) and ys.shape == (5, 2)


def test_simulate_needs_sample_observation():
    from pf_helpers import SumRandomWalk

    with pytest.raises(TypeError, match="sample_observation"):
        simulate(jax.random.key(0), SumRandomWalk(), 5)
    with pytest.raises(ValueError, match="`num_steps` must be an int >= 1, got 0"):
        simulate(jax.random.key(0), small_hmm(), 0)
