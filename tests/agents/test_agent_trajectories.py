"""Observed trajectories: padding and masks, ragged input errors, and impossible steps
reported with the trajectory, step, state and action (never turned into NaN)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agents_helpers import GreedyAgent

from pinfer.agents import (
    AbstractPolicyAgent,
    BoltzmannAgent,
    ImpossibleStepError,
    PlannerParams,
    StateGoal,
    check_trajectories,
    first_impossible_step,
    first_impossible_transition,
    make_trajectory,
    pad_trajectories,
    trajectory_log_likelihood,
)
from pinfer.envs import ACTION_NAMES, make_gridworld

# Cells: 0 1 2 3 / 4 5 6 7 / 8 9 10 11; walls at 5 and 6.
ENV, ENV_PARAMS = make_gridworld("S...\n.##.\n...G", max_steps=50)
WORLD = ENV.tabular_mdp(ENV_PARAMS)
PARAMS = PlannerParams(WORLD, StateGoal(11, 10.0), 2.0, 1.0)
AGENT = BoltzmannAgent(12)
UP, DOWN, LEFT, RIGHT = range(4)
GOOD = ([0, 1, 2, 3, 7, 11], [RIGHT, RIGHT, RIGHT, DOWN, DOWN])
THROUGH_WALL = ([0, 1, 5, 9, 10, 11], [RIGHT, DOWN, DOWN, RIGHT, RIGHT])


class TableAgent(AbstractPolicyAgent):
    """Acts by a log-policy table ``params [S, A]`` (NaN entries included)."""

    def init(self, key, params):
        return None

    def log_policy(self, agent_state, obs, params):
        return params[obs]


SCORE = jax.jit(jax.vmap(trajectory_log_likelihood, in_axes=(None, None, 0)))


def test_pad_trajectories_pads_and_masks():
    batch = pad_trajectories(
        [GOOD, ([4, 8, 9], [DOWN, RIGHT], [0.5, -1.0]), ([0], [])], num_steps=6
    )
    assert batch.obs.shape == (3, 7) and batch.actions.shape == (3, 6)
    assert batch.obs.dtype == jnp.int32 and batch.actions.dtype == jnp.int32
    np.testing.assert_array_equal(batch.lengths, [5, 2, 0])
    np.testing.assert_array_equal(batch.obs[1], [4, 8, 9, 9, 9, 9, 9])
    np.testing.assert_array_equal(batch.actions[1], [DOWN, RIGHT, 0, 0, 0, 0])
    np.testing.assert_array_equal(batch.rewards[1], [0.5, -1.0, 0, 0, 0, 0])
    np.testing.assert_array_equal(batch.mask[2], False)
    assert float(SCORE(AGENT, PARAMS, batch)[2]) == 0.0
    single = make_trajectory(*GOOD)
    assert single.num_steps == 5 and bool(single.mask.all())


def test_pad_trajectories_explains_ragged_input():
    with pytest.raises(ValueError, match=r"trajectory 1: 2 actions need 3 states"):
        pad_trajectories([GOOD, ([0, 1], [RIGHT, RIGHT])])
    with pytest.raises(TypeError, match="actions must be integers"):
        pad_trajectories([([0, 1], [1.0])])
    with pytest.raises(ValueError, match="action -1 at step 0 is negative"):
        pad_trajectories([([0, 1], [-1])])
    with pytest.raises(ValueError, match="state index at step 1 is negative"):
        pad_trajectories([([0, -1], [1])])
    with pytest.raises(ValueError, match="rewards must have one entry per action"):
        pad_trajectories([([0, 1], [1], [0.0, 1.0])])
    with pytest.raises(ValueError, match=r"trajectory 1: states of shape \(2,\)"):
        pad_trajectories([([0, 1], [1]), ([[0, 0], [0, 1]], [3])])
    with pytest.raises(ValueError, match="num_steps=3 is shorter"):
        pad_trajectories([GOOD], num_steps=3)
    with pytest.raises(ValueError, match="non-empty sequence"):
        pad_trajectories([])
    with pytest.raises(ValueError, match=r"trajectory 0: expected a \(states, actions"):
        pad_trajectories([np.arange(3)])
    with pytest.raises(ValueError, match="1-D sequence"):
        make_trajectory([0, 1], [[1]])


def test_move_through_a_wall_is_reported():
    batch = pad_trajectories([GOOD, THROUGH_WALL])
    np.testing.assert_array_equal(
        jax.vmap(first_impossible_transition, in_axes=(None, 0))(WORLD, batch), [-1, 1]
    )
    # Every action is possible for beta < inf.
    check_trajectories(batch, agent=AGENT, agent_params=PARAMS)
    with pytest.raises(ImpossibleStepError) as error:
        check_trajectories(
            batch,
            world=WORLD,
            agent=AGENT,
            agent_params=PARAMS,
            action_names=ACTION_NAMES,
        )
    message = str(error.value)
    assert message.startswith(
        "check_trajectories: trajectory 1, step 1: the move from state 1 to state 5 "
        "with action 'down' (1) has probability 0 in the world model"
    )
    assert "(1 of 2 trajectories" in message
    assert (error.value.trajectory, error.value.step, error.value.kind) == (
        1,
        1,
        "transition",
    )
    check_trajectories(
        make_trajectory(*GOOD), world=WORLD, agent=AGENT, agent_params=PARAMS
    )


def test_action_with_zero_probability_is_reported_not_nan():
    q_values = jnp.zeros((12, 4)).at[4, RIGHT].set(1.0)  # greedy: only 'right' at 4
    agent = GreedyAgent()
    batch = pad_trajectories([GOOD, GOOD, ([0, 4, 8], [DOWN, DOWN])])
    scores = SCORE(agent, q_values, batch)
    assert np.isneginf(scores[2]) and np.isfinite(scores[:2]).all()
    steps = jax.vmap(first_impossible_step, in_axes=(None, None, 0))(
        agent, q_values, batch
    )
    np.testing.assert_array_equal(steps, [-1, -1, 1])
    with pytest.raises(ImpossibleStepError) as error:
        check_trajectories(
            batch, agent=agent, agent_params=q_values, action_names=ACTION_NAMES
        )
    assert str(error.value).startswith(
        "check_trajectories: trajectory 2, step 1: action 'down' (1) from state 4 has "
        "probability 0 under the model (log-probability -inf)."
    )
    assert error.value.kind == "action" and error.value.action == DOWN
    one = make_trajectory([0, 4, 8], [DOWN, DOWN])
    with pytest.raises(
        ImpossibleStepError, match=r"^check_trajectories: step 1: action 1 from state 4"
    ):
        check_trajectories(one, agent=agent, agent_params=q_values)


def test_gradients_of_possible_trajectories_stay_finite():
    batch = pad_trajectories([GOOD, ([0, 4, 8, 9, 10, 11], [1, 1, 3, 3, 3])])

    def total(beta):
        params = PlannerParams(WORLD, StateGoal(11, 10.0), beta, 1.0)
        return jnp.sum(SCORE(AGENT, params, batch))

    grad = jax.grad(total)(2.0)
    assert np.isfinite(grad)


def test_off_range_and_nan_models_are_named():
    batch = pad_trajectories([GOOD, ([0, 1], [7])])
    names = ACTION_NAMES[: ENV.num_actions]
    with pytest.raises(ImpossibleStepError, match=r"action 7 \(outside 0\.\.3\)"):
        check_trajectories(batch, agent=AGENT, agent_params=PARAMS, action_names=names)
    # A model whose log-probabilities are NaN in state 7 (GOOD visits it at step 4).
    broken = jnp.full((12, 4), -jnp.log(4.0)).at[7].set(jnp.nan)
    with pytest.raises(
        ImpossibleStepError, match="^check_trajectories: step 4: .*log-probability NaN"
    ):
        check_trajectories(
            make_trajectory(*GOOD), agent=TableAgent(), agent_params=broken
        )
