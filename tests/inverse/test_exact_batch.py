"""Batched ``infer_goals``: chunks equal one vmap, a batch equals a loop of single
calls, and the compiled working memory grows with ``batch_size``, not with the
number of trajectories."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import rounding_atol

from pinfer.agents import pad_trajectories
from pinfer.envs import make_gridworld
from pinfer.inverse import exact, goal_log_policies, infer_goals

# A 3 x 4 grid with a wall at 5; goals in three corners.
ENV, PARAMS = make_gridworld("S..G\n.#..\n...G", goals_terminal=False)
WORLD = ENV.tabular_mdp(PARAMS)
GOALS, BETAS, BUDGETS = jnp.array([3, 8, 11]), jnp.array([0.5, 2.0]), (1, 2, 5)
UP, DOWN, LEFT, RIGHT = range(4)
PATHS = [
    ([0, 1, 2, 3], [RIGHT, RIGHT, RIGHT]),
    ([0, 4, 8, 9, 10, 11], [DOWN, DOWN, RIGHT, RIGHT, RIGHT]),
    ([0, 4, 8], [DOWN, DOWN]),
    ([4, 0, 1, 2, 6], [UP, RIGHT, RIGHT, DOWN]),
    ([9, 10, 6, 7], [RIGHT, UP, RIGHT]),
    ([2], []),  # no observed step: padding only
    ([1, 2, 6, 10, 11], [RIGHT, DOWN, DOWN, RIGHT]),
]
BATCH = pad_trajectories(PATHS)
LOG_PRIOR = jnp.log(jnp.arange(1.0, 19.0)).reshape(3, 2, 3)
KWARGS = dict(budgets=BUDGETS, goal_value=5.0, log_prior=LOG_PRIOR)


def run(**options):
    return infer_goals(
        WORLD,
        GOALS,
        BETAS,
        0.9,
        BATCH.obs,
        BATCH.actions,
        BATCH.mask,
        **KWARGS,
        **options,
    )


def tolerance(result) -> float:
    """Two evaluation orders of one filter: a prefix sum of T terms and a
    logsumexp over H, on log-probabilities as large as the ones compared."""
    values = np.asarray(result.log_goal_posterior)
    scale = np.abs(values[np.isfinite(values)]).max()
    num_ops = BATCH.num_steps + LOG_PRIOR.size
    return rounding_atol(num_ops=num_ops, scale=float(scale))


def test_chunked_equals_one_vmap_and_history_on_request():
    whole = run(batch_size=None, joint_history=True)
    atol = tolerance(whole)
    for batch_size in (1, 3, 7, 100):  # remainders, exact fits, one chunk
        chunked = run(batch_size=batch_size)
        assert chunked.log_posterior is None  # a batch keeps no joint history
        for field in ("log_goal_posterior", "log_evidence", "log_final_posterior"):
            np.testing.assert_allclose(
                getattr(chunked, field), getattr(whole, field), rtol=0, atol=atol
            )
        np.testing.assert_array_equal(chunked.failed_step, -1)
    assert whole.log_posterior.shape == (len(PATHS), BATCH.num_steps + 1, 3, 2, 3)
    np.testing.assert_array_equal(whole.log_posterior[:, -1], whole.log_final_posterior)


def test_batch_equals_a_loop_of_single_calls():
    batch = run(batch_size=3, joint_history=True)
    atol = tolerance(batch)
    for n, (states, actions) in enumerate(PATHS):
        if not actions:
            continue  # an empty trajectory is an error on its own
        single = infer_goals(
            WORLD,
            GOALS,
            BETAS,
            0.9,
            jnp.array(states),
            jnp.array(actions),
            jnp.ones(len(actions), bool),
            **KWARGS,
        )
        length = len(actions)
        for field in ("log_posterior", "log_goal_posterior", "log_evidence"):
            padded = np.asarray(getattr(batch, field)[n])
            np.testing.assert_allclose(
                padded[: length + 1], getattr(single, field), rtol=0, atol=atol
            )
            # Padded steps keep the last posterior and evidence.
            np.testing.assert_array_equal(
                padded[length:], np.broadcast_to(padded[length], padded[length:].shape)
            )
        np.testing.assert_allclose(
            batch.log_final_posterior[n], single.log_final_posterior, atol=atol
        )
    # The all-padding trajectory keeps the (normalised) prior.
    prior = LOG_PRIOR - jax.nn.logsumexp(LOG_PRIOR)
    np.testing.assert_allclose(batch.log_final_posterior[5], prior, atol=atol)
    # Not vacuous: the final goal posteriors differ across trajectories.
    final = np.exp(np.asarray(batch.log_goal_posterior[:, -1]))
    assert np.ptp(final.argmax(axis=1)) > 0 and final.max() > 0.9


def test_working_memory_grows_with_batch_size_not_trajectories():
    log_policies = goal_log_policies(WORLD, GOALS, BETAS, 0.9, budgets=BUDGETS)
    num_steps = 20

    def temp_bytes(num, batch_size):
        states = jnp.zeros((num, num_steps + 1), jnp.int32)
        actions = jnp.zeros((num, num_steps), jnp.int32)
        mask = jnp.ones((num, num_steps), bool)
        lowered = exact._infer_batch.lower(
            log_policies, LOG_PRIOR, WORLD, states, actions, mask, False, batch_size
        )
        return lowered.compile().memory_analysis().temp_size_in_bytes

    small, large = temp_bytes(256, 16), temp_bytes(2048, 16)
    # Same chunk, 8x the trajectories: the temporaries do not grow with N (the
    # output, 8x larger, is not a temporary).
    assert large <= 1.1 * small, (small, large)
    assert temp_bytes(2048, 128) > 4 * large  # and they do grow with the chunk


def test_batch_size_and_joint_history_are_checked():
    with pytest.raises(ValueError, match="`batch_size` must be an int >= 1, got 0"):
        run(batch_size=0)
    with pytest.raises(TypeError, match="`batch_size` must be a static Python int"):
        run(batch_size=2.5)
    with pytest.raises(TypeError, match="`joint_history` must be True, False or None"):
        run(joint_history="yes")
