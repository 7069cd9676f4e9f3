"""Backward-simulation smoother against the exact RTS smoother.

R = 100 replicates, each a particle filter plus M backward trajectories; per replicate
the trajectories' mean and mean square at every (t, coordinate) are the estimates.
Replicates are independent, so one Bonferroni max-|t| test (level 1e-3) over all
first and second moments compares them with the RTS smoother's moments.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pf_helpers import bonferroni_max_t, make_problem

from pinfer.models.linear_gaussian import rts_smoother
from pinfer.smc import particle_filter
from pinfer.smc.smoothing import backward_simulation

NUM_STEPS, NUM_PARTICLES, NUM_PATHS, NUM_REPLICATES = 30, 300, 20, 100


@functools.partial(jax.jit, static_argnames=("num_paths",))
def smoothed_moments(key, model, ys, num_paths=NUM_PATHS):
    def one(k):
        key_filter, key_smooth = jax.random.split(k)
        history = particle_filter(
            key_filter, model, ys, NUM_PARTICLES, keep_history=True
        )
        paths = backward_simulation(key_smooth, model, history, num_paths)
        return paths.mean(0), (paths**2).mean(0)

    return jax.vmap(one)(jax.random.split(key, NUM_REPLICATES))


@pytest.mark.slow
def test_backward_simulation_matches_rts_smoother():
    problem = make_problem(num_steps=NUM_STEPS)
    means, covs = rts_smoother(problem.model, problem.observations)
    second = covs.diagonal(axis1=1, axis2=2) + means**2
    est_mean, est_second = smoothed_moments(
        jax.random.key(0), problem.model, problem.observations
    )
    estimates = np.concatenate([est_mean, est_second], axis=-1)
    truth = np.concatenate([means, second], axis=-1)
    max_t, bound = bonferroni_max_t(estimates, truth)
    assert max_t < bound, f"max |t| = {max_t:.2f} >= {bound:.2f}"
    # Smoothing is not filtering: the first steps' means move by much more than the
    # Monte-Carlo error, so the test above can tell them apart.
    assert np.max(np.abs(means - problem.filtered_means)) > 0.1


def test_backward_simulation_shapes_and_errors():
    problem = make_problem(num_steps=8)
    key = jax.random.key(1)
    history = particle_filter(
        key, problem.model, problem.observations, 32, keep_history=True
    )
    paths = backward_simulation(key, problem.model, history, 5)
    assert paths.shape == (5, 8, 4)
    # Every path point is one of the filter's particles at that step.
    for t in range(8):
        hits = (paths[:, t, None, :] == history.particles[t][None]).all(-1).any(-1)
        assert bool(hits.all())
    final = particle_filter(key, problem.model, problem.observations, 32)
    with pytest.raises(ValueError, match="keep_history=True"):
        backward_simulation(key, problem.model, final, 5)
    with pytest.raises(ValueError, match=r"`num_samples` must be an int >= 1, got 0"):
        backward_simulation(key, problem.model, history, 0)
    assert jnp.all(jnp.isfinite(paths))
