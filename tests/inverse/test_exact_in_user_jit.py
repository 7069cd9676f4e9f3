"""infer_goals inside a user's jit with data captured from outside it, and
trajectories with no observed step (both crashed once the boundary checks landed)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import rounding_atol

from pinfer.envs import make_gridworld
from pinfer.inverse import infer_goals

LAYOUT = "G...#...G\n.##.#.##.\n....S....\n.#.###.#.\nG.......G"
BETAS = jnp.array([0.5, 2.0])


@pytest.fixture(scope="module")
def problem():
    env, params = make_gridworld(LAYOUT)
    world = env.tabular_mdp(params)
    start = int(params.start)
    right = env.successor_table(params)[start, 3]
    states = jnp.array([start, right, env.successor_table(params)[right, 3]])
    actions = jnp.array([3, 3])
    return env, params, world, states, actions, jnp.array([True, True])


def test_jit_over_betas_with_captured_data_equals_eager(problem):
    _, _, world, states, actions, mask = problem

    def goal_posterior(betas):
        return infer_goals(
            world, jnp.arange(2), betas, 0.95, states, actions, mask, goal_value=10.0
        ).log_goal_posterior

    eager = goal_posterior(BETAS)
    jitted = jax.jit(goal_posterior)(BETAS)
    # The same program compiled once more: equal within float32 rounding of the
    # planning sweeps (100) and the filter's sums.
    np.testing.assert_allclose(jitted, eager, atol=rounding_atol(200, 20.0))


def test_bad_captured_data_still_raises_inside_jit(problem):
    _, params, world, states, _, mask = problem
    goals, bad_actions = params.goal_cells, jnp.array([3, 7])  # captured: concrete
    with pytest.raises(ValueError, match=r"`actions` holds 7"):
        jax.jit(
            lambda b: (
                infer_goals(
                    world,
                    goals,
                    b,
                    0.95,
                    states,
                    bad_actions,
                    mask,
                    goal_value=10.0,
                ).log_goal_posterior
            )
        )(BETAS)


def test_a_world_built_inside_jit_with_captured_data(problem):
    env, params, world, states, actions, mask = problem
    goals = params.goal_cells

    def run(p):
        return infer_goals(
            env.tabular_mdp(p),
            goals,
            BETAS,
            0.95,
            states,
            actions,
            mask,
            goal_value=10.0,
        ).log_goal_posterior

    eager = infer_goals(
        world, goals, BETAS, 0.95, states, actions, mask, goal_value=10.0
    ).log_goal_posterior
    np.testing.assert_allclose(
        jax.jit(run)(params), eager, atol=rounding_atol(200, 20.0)
    )


@pytest.mark.parametrize("batch", [False, True])
def test_no_observed_step_leaves_the_prior(problem, batch):
    _, params, world, states, actions, mask = problem
    mask = jnp.zeros_like(mask)
    if batch:
        states, actions, mask = (jnp.stack([x] * 3) for x in (states, actions, mask))
    result = infer_goals(
        world, params.goal_cells, BETAS, 0.95, states, actions, mask, goal_value=10.0
    )
    goals = params.goal_cells.shape[0]
    # Nothing observed: every row is the uniform prior, exactly (log(1/G) each).
    np.testing.assert_allclose(
        np.exp(result.log_goal_posterior), 1.0 / goals, atol=rounding_atol(8, 1.0)
    )
