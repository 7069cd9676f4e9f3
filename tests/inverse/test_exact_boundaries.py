"""Exact inverse planning at its boundaries: no bad input becomes a plausible answer.

Concrete inputs raise before tracing, naming the argument, the trajectory, the step
and the value; inside ``jit`` an index out of range or a forbidden move sets
``failed_step`` (and scores as impossible); goals no data can separate warn; padded
steps add exactly 0 to the value and the gradient.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import rounding_atol

import pinfer.agents
import pinfer.inverse
import pinfer.planning
from pinfer.agents import ImpossibleStepError, pad_trajectories
from pinfer.envs import make_gridworld
from pinfer.inverse import (
    IndistinguishableHypothesesWarning,
    check_trajectories,
    filter_log_likelihoods,
    goal_log_policies,
    goal_posterior,
    infer_goals,
)

# Cells 0 1 2 3 / 4 5 6 7 / 8 9 10 11; walls at 2, 6 and 10 cut off 3, 7 and 11.
UP, DOWN, LEFT, RIGHT = range(4)
ENV, PARAMS = make_gridworld(
    "S.#.\n..#.\nG.#.", goals_terminal=False, check_reachable=False
)
WORLD = ENV.tabular_mdp(PARAMS)
GOALS, BETAS = jnp.array([8, 1]), jnp.array([1.0, 3.0])
# 0 -> 4 -> 8 (down, down) and 0 -> 1 -> 5 (right, down).
STATES = jnp.array([[0, 4, 8], [0, 1, 5]])
ACTIONS = jnp.array([[DOWN, DOWN], [RIGHT, DOWN]])
MASK = jnp.ones((2, 2), bool)


def infer(states=STATES, actions=ACTIONS, mask=MASK, **kwargs):
    kwargs = {"goal_value": 5.0, **kwargs}
    return infer_goals(WORLD, GOALS, BETAS, 0.9, states, actions, mask, **kwargs)


@pytest.mark.parametrize("bad", [7, -1])
def test_an_action_out_of_range_is_named_not_clipped(bad):
    # Before: actions 7 and -1 scored exactly like action 3 (clipped or wrapped).
    actions = ACTIONS.at[1, 1].set(bad)
    with pytest.raises(ValueError, match=rf"`actions` holds {bad} at step 1"):
        infer(STATES[1], actions[1], MASK[1])
    with pytest.raises(ValueError, match=rf"`actions` holds {bad} at trajectory 1, "):
        infer(actions=actions)


def test_under_jit_a_bad_index_or_move_sets_failed_step():
    run = jax.jit(lambda s, a, m: infer(s, a, m))
    good = run(STATES, ACTIONS, MASK)
    np.testing.assert_array_equal(good.failed_step, [-1, -1])
    for states, actions in (
        (STATES, ACTIONS.at[1, 1].set(7)),  # action out of range
        (STATES.at[1, 2].set(99), ACTIONS),  # next state out of range
        (STATES.at[1, 2].set(6), ACTIONS),  # 1 -> 6: into a wall
    ):
        result = run(states, actions, MASK)
        np.testing.assert_array_equal(result.failed_step, [-1, 1])
        evidence = np.asarray(result.log_evidence[1])
        assert np.isfinite(evidence[:2]).all() and np.isneginf(evidence[2])
        assert not np.isnan(np.asarray(result.log_goal_posterior)).any()


def test_a_path_through_a_wall_raises_naming_trajectory_step_and_move():
    # Before: the evidence silently became -inf unless check_trajectories was called.
    states = STATES.at[1].set(jnp.array([0, 1, 2]))  # 1 -> 2 is into a wall
    actions = ACTIONS.at[1, 1].set(RIGHT)
    move = (
        r"the move from state 1 to state 2 with action 3 has probability 0 in the "
        r"world model \(`mdp.transition\[1, 3, 2\]` = 0\)"
    )
    with pytest.raises(ImpossibleStepError, match=rf"^infer_goals: step 1: {move}"):
        infer(states[1], actions[1], MASK[1])
    with pytest.raises(
        ImpossibleStepError, match=rf"^infer_goals: trajectory 1, step 1: {move}"
    ):
        infer(states, actions)
    # A padded step may hold anything.
    infer(states, actions, MASK.at[1, 1].set(False))


def test_goals_on_walls_or_out_of_reach_are_rejected():
    # Before: a goal on a wall was accepted and kept a share of the posterior.
    with pytest.raises(
        ValueError,
        match=r"`goal_states` holds 6 at position 1, a "
        "state no other state can enter",
    ):
        infer_goals(WORLD, jnp.array([8, 6]), BETAS, 0.9, STATES, ACTIONS, MASK)
    with pytest.raises(
        ValueError,
        match=r"`goal_states` holds 7 at position 1, "
        r"which cannot be reached from state 0, where trajectory 0 "
        "starts",
    ):
        infer_goals(WORLD, jnp.array([8, 7]), BETAS, 0.9, STATES, ACTIONS, MASK)
    with pytest.raises(ValueError, match=r"`goal_states` holds 12 .* not a state"):
        goal_log_policies(WORLD, jnp.array([8, 12]), BETAS, 0.9)


def test_an_empty_trajectory_is_a_clear_error():
    # Before: "cannot reshape array of shape (2, 0) into shape (2, 1, 1, 1)".
    with pytest.raises(ValueError, match="`actions` must hold at least one step"):
        infer(jnp.array([0]), jnp.zeros(0, int), jnp.zeros(0, bool))


@pytest.mark.parametrize(
    "log_prior, match",
    [
        (
            jnp.zeros((2, 2, 1)).at[1, 0, 0].set(jnp.nan),
            r"`log_prior` must be finite "
            r"or -inf, got nan at position \(1, 0, 0\)",
        ),
        (jnp.zeros((2, 2)), r"`log_prior` must have shape \[2, 2, 1\], got \[2, 2\]"),
        (jnp.full((2, 2, 1), -jnp.inf), "`log_prior` must give some hypothesis"),
    ],
)
def test_bad_log_priors_are_named(log_prior, match):
    with pytest.raises(ValueError, match=match):
        infer(log_prior=log_prior)


def test_negative_or_nan_betas_are_named():
    for betas, seen in (
        (jnp.array([1.0, -1.0]), "-1.0"),
        (jnp.array([jnp.nan]), "nan"),
    ):
        with pytest.raises(ValueError, match=rf"`betas` must be .*got {seen}"):
            infer_goals(WORLD, GOALS, betas, 0.9, STATES, ACTIONS, MASK)


def test_goals_no_data_can_separate_warn():
    # make_gridworld's defaults: every goal cell terminal; goal_value 0 then makes
    # every hypothesis the same agent. Before: the posterior stayed at the prior
    # without a word.
    env, params = make_gridworld("S...\n.#.G\n...G")
    world = env.tabular_mdp(params)
    states, actions = jnp.array([0, 1, 2, 6]), jnp.array([RIGHT, RIGHT, DOWN])
    args = (world, params.goal_cells, BETAS, 0.9, states, actions, jnp.ones(3, bool))
    with pytest.warns(
        IndistinguishableHypothesesWarning,
        match=r"goal 0 \(state 7\) and goal 1 \(state 11\)",
    ):
        result = infer_goals(*args, goal_value=0.0)
    # Indistinguishable goals keep the prior: 1/2 within the rounding of a
    # normalisation (a log-sum-exp of two terms and an exp).
    np.testing.assert_allclose(
        np.exp(result.log_goal_posterior[-1]), [0.5, 0.5], atol=rounding_atol(4, 1.0)
    )
    assert issubclass(IndistinguishableHypothesesWarning, UserWarning)
    infer_goals(*args, goal_value=1.0)  # distinguishable: no warning (an error here)


def test_padded_steps_add_zero_to_value_and_gradient():
    # The padded step's dummy move 8 -> 0 has probability 0 in the world. Before:
    # log(0) on the padded step made the gradient in the transition table NaN.
    def evidence(transition, states, actions, mask):
        world = pinfer.planning.TabularMDP(transition, WORLD.reward, WORLD.terminal)
        result = infer_goals(
            world, GOALS, BETAS, 0.9, states, actions, mask, goal_value=5.0
        )
        return result.log_evidence[-1]

    grad = jax.value_and_grad(evidence)
    value, gradient = grad(WORLD.transition, STATES[0], ACTIONS[0], MASK[0])
    padded = jnp.append(STATES[0], 0), jnp.append(ACTIONS[0], UP)
    value_p, gradient_p = grad(WORLD.transition, *padded, jnp.array([1, 1, 0], bool))
    assert np.isfinite(np.asarray(gradient_p)).all()
    # Same numbers in another order (the padded run sums one more zero).
    atol = rounding_atol(num_ops=8, scale=abs(float(value)))
    np.testing.assert_allclose(value_p, value, rtol=0, atol=atol)
    np.testing.assert_allclose(gradient_p, gradient, rtol=0, atol=atol)


def test_one_check_trajectories_for_agents_and_inverse():
    assert pinfer.inverse.check_trajectories is pinfer.agents.check_trajectories
    batch = pad_trajectories([([0, 4, 8], [DOWN, DOWN]), ([0, 1, 2], [RIGHT, RIGHT])])
    message = (
        r"^check_trajectories: trajectory 1, step 1: the move from state 1 to "
        r"state 2 with action 'right' \(3\) has probability 0 in the world model"
    )
    names = ("up", "down", "left", "right")
    for data in (batch, (batch.obs, batch.actions), tuple(batch[i] for i in (0, 1, 3))):
        with pytest.raises(ImpossibleStepError, match=message) as error:
            check_trajectories(data, world=WORLD, action_names=names)
        assert (error.value.trajectory, error.value.step) == (1, 1)
        assert (error.value.state, error.value.action, error.value.next_state) == (
            1,
            RIGHT,
            2,
        )
    check_trajectories((batch.obs[:1], batch.actions[:1]), world=WORLD)
    check_trajectories((jnp.array([0, 4, 8]), ACTIONS[0]), world=WORLD)
    with pytest.raises(ImpossibleStepError, match=r"`states` holds 12 at step 2"):
        check_trajectories(
            (jnp.array([0, 4, 8, 12]), jnp.array([1, 1, 1])), world=WORLD
        )
    greedy = jnp.log(jnp.zeros((1, 12, 4)).at[:, :, DOWN].set(1.0))
    with pytest.raises(
        ImpossibleStepError,
        match=r"trajectory 1, step 0: action 3 in state 0 has probability 0 under "
        r"every hypothesis of `log_policies`",
    ) as error:
        check_trajectories(batch, log_policies=greedy)
    assert error.value.kind == "policy"
    with pytest.raises(TypeError, match="`trajectories` must be a Trajectory"):
        check_trajectories(batch.actions, world=WORLD)


def test_traced_bad_inputs_of_the_filters_set_failed_step():
    log_pi = jnp.log(jnp.full((2, 3, 2), 0.5))
    run = jax.jit(goal_posterior)
    result = run(
        log_pi, jnp.zeros(2), jnp.array([0, 5]), jnp.array([1, 1]), jnp.ones(2, bool)
    )
    assert int(result.failed_step) == 1 and np.isneginf(result.log_evidence[2])
    with pytest.raises(ValueError, match=r"`states` holds 5 at step 1"):
        goal_posterior(
            log_pi,
            jnp.zeros(2),
            jnp.array([0, 5]),
            jnp.array([1, 1]),
            jnp.ones(2, bool),
        )
    table = jnp.zeros((3, 2)).at[1, 0].set(jnp.nan)
    assert int(jax.jit(filter_log_likelihoods)(jnp.zeros(2), table).failed_step) == 1
    with pytest.raises(
        ValueError,
        match=r"`log_likelihoods` must be finite or -inf, "
        r"got nan at step 1, hypothesis 0",
    ):
        filter_log_likelihoods(jnp.zeros(2), table)
