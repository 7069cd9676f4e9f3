"""Goals and reward weights on top of a world's MDP.

Checks the reward formula against NumPy on random MDPs, and the planned values
against the closed form on an open grid: with discount 1, deterministic moves, a goal
worth g, a world whose steps pay r and an extra step cost c, a state d steps away has
value g + d * (r - c).
"""

import collections

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads
from planning_helpers import (
    grid_distance,
    grid_world,
    random_mdp_arrays,
    sweep_atol,
    to_mdp,
)
from tolerances import rounding_atol

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
# NUM_STATES sweeps on the grid, values below goal value + distance * cost <= 30.
GRID_ATOL = sweep_atol(NUM_STATES, NUM_STATES, 4, NUM_STATES * 30.0)


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
    # reward + goal_value * T - step_cost in float32: a sum of 8 products and two
    # additions, terms up to |reward| + goal_value + step_cost.
    scale = np.abs(reward).max() + goal_value + step_cost
    atol = rounding_atol(8 + 2, scale)
    np.testing.assert_allclose(mdp.reward, expected, rtol=0, atol=atol)
    np.testing.assert_array_equal(mdp.transition, transition.astype(np.float32))


def test_grid_values_are_goal_value_minus_distance_cost():
    world = to_mdp(grid_world(HEIGHT, WIDTH))
    for goal in [0, 6, 11]:
        values = GOAL_VALUES(world, goal, 10.0, 1.5)
        expected = 10.0 - 1.5 * grid_distance(HEIGHT, WIDTH, goal)
        expected[goal] = 0.0
        np.testing.assert_allclose(values, expected, rtol=0, atol=GRID_ATOL)


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
        np.testing.assert_allclose(batched[i], expected, rtol=0, atol=GRID_ATOL)


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
    np.testing.assert_allclose(
        values, np.where(is_goal, 0.0, net), rtol=0, atol=GRID_ATOL
    )


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
    # float32 sums of 6 products (against float64), terms up to max |phi|.
    atol = rounding_atol(6, np.abs(state_features).max())
    np.testing.assert_allclose(
        features,
        np.einsum("sat,tf->saf", transition, state_features),
        rtol=0,
        atol=atol,
    )
    reward = linear_reward(features, weights)
    scale = np.abs(np.asarray(features)).max() * np.abs(weights).sum()
    np.testing.assert_allclose(
        reward,
        np.einsum("saf,f->sa", np.asarray(features), weights),
        rtol=0,
        atol=rounding_atol(2, scale),  # a sum of 2 products
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
