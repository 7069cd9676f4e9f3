"""Goals and reward weights on top of a world's MDP.

Checks the reward formula against NumPy on random MDPs, and the planned values
against the closed form on an open grid: with discount 1, deterministic moves, a goal
worth g and step cost c, a state d steps away has value g - c * d.
"""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from planning_helpers import grid_distance, grid_world, random_mdp_arrays, to_mdp

from pinfer.planning import (
    arrival_features,
    goal_reward,
    linear_reward,
    multi_goal_reward,
    validate_mdp,
    value_iteration,
    with_reward,
)

HEIGHT, WIDTH = 3, 4
NUM_STATES = HEIGHT * WIDTH


def _goal_values(world, goal, goal_value, step_cost):
    mdp = goal_reward(world, goal, goal_value, step_cost)
    return value_iteration(mdp, 1.0, NUM_STATES).values


GOAL_VALUES = jax.jit(_goal_values)


def test_goal_reward_formula_on_random_mdps():
    transition, reward, terminal = random_mdp_arrays(5, 8, 3)
    goal, goal_value, step_cost = 4, 7.0, 0.5
    mdp = goal_reward(to_mdp((transition, reward, terminal)), goal, goal_value, 0.5)
    validate_mdp(mdp)
    new_terminal = terminal.copy()
    new_terminal[goal] = True
    expected = reward + goal_value * transition[:, :, goal] - step_cost
    expected[new_terminal] = reward[new_terminal]
    np.testing.assert_array_equal(mdp.terminal, new_terminal)
    np.testing.assert_allclose(mdp.reward, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(mdp.transition, transition.astype(np.float32))


def test_grid_values_are_goal_value_minus_distance_cost():
    world = to_mdp(grid_world(HEIGHT, WIDTH))
    for goal in [0, 6, 11]:
        values = GOAL_VALUES(world, goal, 10.0, 1.5)
        expected = 10.0 - 1.5 * grid_distance(HEIGHT, WIDTH, goal)
        expected[goal] = 0.0
        np.testing.assert_allclose(values, expected, rtol=1e-6)


def test_vmap_over_goals_and_goal_values():
    world = to_mdp(grid_world(HEIGHT, WIDTH))
    goals = jnp.array([0, 3, 8, 11])
    goal_values = jnp.array([5.0, 10.0, 20.0, 8.0])
    batched = jax.jit(jax.vmap(_goal_values, in_axes=(None, 0, 0, None)))(
        world, goals, goal_values, 1.0
    )
    for i, goal in enumerate(np.asarray(goals)):
        expected = goal_values[i] - grid_distance(HEIGHT, WIDTH, goal)
        expected = np.where(np.arange(NUM_STATES) == goal, 0.0, expected)
        np.testing.assert_allclose(batched[i], expected, rtol=1e-6)


def test_multi_goal_takes_the_best_net_goal():
    world = to_mdp(grid_world(HEIGHT, WIDTH))
    is_goal = np.zeros(NUM_STATES, bool)
    is_goal[[0, 11]] = True
    goal_values = np.where(is_goal, 0.0, 123.0)  # values off the goals are ignored
    goal_values[0], goal_values[11] = 4.0, 9.0
    mdp = multi_goal_reward(world, goal_values, is_goal, 1.0)
    values = value_iteration(mdp, 1.0, NUM_STATES).values
    net = np.maximum(
        4.0 - grid_distance(HEIGHT, WIDTH, 0), 9.0 - grid_distance(HEIGHT, WIDTH, 11)
    )
    np.testing.assert_allclose(values, np.where(is_goal, 0.0, net), rtol=1e-6)


def test_goal_state_traced_compiles_once():
    traces = collections.Counter()
    world = to_mdp(grid_world(HEIGHT, WIDTH))

    @jax.jit
    def plan(goal):
        traces["plan"] += 1
        return _goal_values(world, goal, 10.0, 1.0)

    for goal in [1, 2, 10]:
        assert float(plan(goal)[goal]) == 0.0
    assert traces["plan"] == 1


def test_linear_reward_and_arrival_features():
    transition, _, terminal = random_mdp_arrays(9, 6, 3)
    rng = np.random.default_rng(0)
    state_features = rng.normal(size=(6, 2))
    weights = np.array([0.7, -1.2])
    world = to_mdp((transition, np.zeros((6, 3)), terminal))
    features = arrival_features(world, state_features)
    assert features.shape == (6, 3, 2)
    np.testing.assert_allclose(
        features, np.einsum("sat,tf->saf", transition, state_features), atol=1e-6
    )
    reward = linear_reward(features, weights)
    np.testing.assert_allclose(
        reward, np.einsum("saf,f->sa", np.asarray(features), weights), atol=1e-6
    )
    mdp = with_reward(world, reward)
    np.testing.assert_array_equal(mdp.reward, reward)
    np.testing.assert_array_equal(mdp.terminal, terminal)


def test_values_are_differentiable_in_reward_weights():
    transition, _, terminal = random_mdp_arrays(9, 6, 3)
    state_features = np.random.default_rng(1).normal(size=(6, 2))

    @jax.jit
    def start_value(weights):
        world = to_mdp((transition, np.zeros((6, 3)), terminal), jnp.float64)
        reward = linear_reward(arrival_features(world, state_features), weights)
        return value_iteration(with_reward(world, reward), 0.9, 20).values[0]

    with jax.enable_x64(True):
        check_grads(start_value, (jnp.array([0.7, -1.2]),), order=1, modes=["rev"])


# ---- bad input ---------------------------------------------------------------------


def test_bad_goal_arguments_are_rejected():
    world = to_mdp(grid_world(2, 2))
    with pytest.raises(ValueError, match=r"pass step_cost=1.0"):
        goal_reward(world, 3, 10.0, -1.0)
    with pytest.raises(
        ValueError, match=r"goal_state must be a state index in \[0, 4\)"
    ):
        goal_reward(world, 4)
    with pytest.raises(ValueError, match=r"goal_values must have shape \[S\] = \[4\]"):
        multi_goal_reward(world, jnp.zeros(3), jnp.zeros(4, bool))
    with pytest.raises(ValueError, match=r"is_goal must have shape \[S\] = \[4\]"):
        multi_goal_reward(world, jnp.zeros(4), jnp.zeros(5, bool))
    with pytest.raises(TypeError, match="is_goal must be a bool mask"):
        multi_goal_reward(world, jnp.zeros(4), jnp.zeros(4))
    with pytest.raises(ValueError, match="the same F"):
        linear_reward(jnp.zeros((4, 4, 3)), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"state_features must have shape \[S, F\]"):
        arrival_features(world, jnp.zeros((3, 2)))
