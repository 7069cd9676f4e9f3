"""Bad inputs at the agents' boundaries: keys, types, ranges, and padded steps.

Each test names the argument and the value seen in the error (concrete input), or
checks the ``eqx.error_if`` raised inside ``jit``; none may return a number.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agents_helpers import NeverZeroAgent, open_grid
from tolerances import rounding_atol

from pinfer.agents import (
    BoltzmannAgent,
    BudgetAgent,
    BudgetParams,
    LapseAgent,
    LapseParams,
    PlannerParams,
    RandomAgent,
    StateGoal,
    Trajectory,
    make_tabular_env,
    make_trajectory,
    pad_trajectories,
    rollout,
    step_log_likelihoods,
    trajectory_log_likelihood,
)
from pinfer.envs import make_gridworld

KEY0 = jax.random.key(0)
GOAL = 11
AGENT = BoltzmannAgent(6)


def planner_params(beta=1.0, discount=0.9):
    return PlannerParams(open_grid(3, 4), StateGoal(GOAL, 5.0), beta, discount)


def tabular_env():
    params = planner_params()
    return make_tabular_env(params.reward.apply(params.world), start=0)


# --- keys ---------------------------------------------------------------------


def test_rollout_explains_an_int_seed():
    env, env_params = tabular_env()
    with pytest.raises(
        TypeError, match=r"rollout: `key` must be a JAX PRNG key, got 0"
    ):
        rollout(0, AGENT, planner_params(), env, env_params, 5)
    with pytest.raises(ValueError, match=r"rollout: `key` must be a single PRNG key"):
        rollout(jax.random.split(KEY0), AGENT, planner_params(), env, env_params, 5)


def test_init_act_reset_and_step_check_their_key():
    params = planner_params()
    env, env_params = tabular_env()
    state = AGENT.init(KEY0, params)
    calls = {
        "BoltzmannAgent.init": lambda: AGENT.init(3, params),
        "BudgetAgent.init": lambda: BudgetAgent(2).init(
            None, BudgetParams(params.world, params.reward, 1.0, 0.9, 1)
        ),
        "LapseAgent.init": lambda: LapseAgent(AGENT).init(1, LapseParams(params, 0.1)),
        "RandomAgent.init": lambda: RandomAgent(2).init(7, None),
        "BoltzmannAgent.act": lambda: AGENT.act(0, state, 0, params),
        "TabularEnv.reset": lambda: env.reset(5, env_params),
        "TabularEnv.step": lambda: env.step(
            2, env.reset(KEY0, env_params)[1], 0, env_params
        ),
    }
    for where, call in calls.items():
        with pytest.raises(TypeError, match=rf"{where}: `key` must be a JAX PRNG key"):
            call()


# --- types --------------------------------------------------------------------


def test_an_environment_where_an_mdp_is_expected_is_named():
    env, env_params = make_gridworld("S..G")
    with pytest.raises(TypeError, match=r"PlannerParams: `world` must be a TabularMDP"):
        PlannerParams(env, StateGoal(3), 1.0, 0.9)
    with pytest.raises(TypeError, match=r"`world` must be a TabularMDP.*GridParams"):
        BudgetParams(env_params, StateGoal(3), 1.0, 0.9, 1)
    with pytest.raises(TypeError, match=r"PlannerParams: `reward` must be"):
        PlannerParams(env.tabular_mdp(env_params), 3, 1.0, 0.9)
    mdp = env.tabular_mdp(env_params)
    with pytest.raises(TypeError, match=r"rollout: `env` must be an environment.*"):
        rollout(KEY0, AGENT, planner_params(), mdp, env_params, 5)
    with pytest.raises(TypeError, match=r"rollout: `agent` must be an agent"):
        rollout(KEY0, planner_params(), AGENT, env, env_params, 5)
    with pytest.raises(TypeError, match=r"`summary_fn` must be a function"):
        rollout(KEY0, AGENT, planner_params(), env, env_params, 5, summary_fn=3)


def test_float_states_and_actions_are_named():
    params = planner_params()
    state = AGENT.init(KEY0, params)
    with pytest.raises(TypeError, match=r"`obs` must be integer.*1\.0"):
        AGENT.log_action_prob(state, 1.0, 0, params)
    with pytest.raises(TypeError, match=r"`action` must be integer.*2\.0"):
        AGENT.log_action_prob(state, 1, 2.0, params)
    with pytest.raises(TypeError, match=r"`obs` must be integer"):
        AGENT.act(KEY0, state, jnp.float32(3), params)
    with pytest.raises(TypeError, match=r"`obs` must be integer"):
        jax.jit(AGENT.log_policy)(state, 1.5, params)  # dtypes are static
    float_actions = make_trajectory([0, 1, 2], [3, 3])._replace(
        actions=jnp.array([3.0, 3.0])
    )
    with pytest.raises(TypeError, match=r"`trajectory.actions` must be integer"):
        trajectory_log_likelihood(AGENT, params, float_actions)
    env, env_params = tabular_env()
    _, env_state = env.reset(KEY0, env_params)
    with pytest.raises(TypeError, match=r"TabularEnv.step: `action` must be integer"):
        env.step(KEY0, env_state, 1.0, env_params)
    with pytest.raises(TypeError, match=r"`trajectory` must be a Trajectory"):
        step_log_likelihoods(AGENT, params, ([0, 1], [1]))


# --- ranges -------------------------------------------------------------------


@pytest.mark.parametrize("beta", [-1.0, float("nan")], ids=["negative", "nan"])
def test_beta_below_zero_or_nan_is_rejected(beta):
    shown = "nan" if np.isnan(beta) else "-1.0"
    with pytest.raises(
        ValueError, match=rf"PlannerParams: `beta` must be >= 0.*{shown}"
    ):
        planner_params(beta=beta)
    world, goal = open_grid(3, 4), StateGoal(GOAL, 5.0)
    with pytest.raises(
        ValueError, match=rf"BudgetParams: `beta` must be >= 0.*{shown}"
    ):
        BudgetParams(world, goal, beta, 0.9, 1)

    @jax.jit
    def plan(beta):  # params built from a traced beta: checked inside the kernel
        return AGENT.init(KEY0, PlannerParams(world, goal, beta, 0.9)).log_policy

    with pytest.raises(Exception, match=r"BoltzmannAgent.init: `beta` must be >= 0"):
        jax.block_until_ready(plan(beta))

    @jax.jit
    def plan_budget(beta):
        params = BudgetParams(world, goal, beta, 0.9, 1)
        return BudgetAgent(2).init(KEY0, params).log_policies

    with pytest.raises(Exception, match=r"BudgetAgent.init: `beta` must be >= 0"):
        jax.block_until_ready(plan_budget(beta))


def test_soft_planning_needs_a_positive_beta_under_jit():
    world, goal = open_grid(3, 4), StateGoal(GOAL, 5.0)

    @jax.jit
    def plan(beta):
        params = PlannerParams(world, goal, beta, 0.9)
        return BoltzmannAgent(3, soft=True).init(KEY0, params).log_policy

    with pytest.raises(Exception, match=r"`beta` must be > 0 with soft=True"):
        jax.block_until_ready(plan(0.0))


def test_discount_and_shapes_of_planner_params():
    with pytest.raises(ValueError, match=r"PlannerParams: `discount` must be in.*1\.5"):
        planner_params(discount=1.5)
    with pytest.raises(ValueError, match=r"`beta` must have 0 dimension"):
        planner_params(beta=jnp.ones(4))
    with pytest.raises(TypeError, match=r"`beta` must be numeric, got dtype bool"):
        planner_params(beta=True)


@pytest.mark.parametrize("epsilon", [1.5, -0.1, float("nan")])
def test_lapse_rate_outside_the_unit_interval_is_rejected(epsilon):
    with pytest.raises(ValueError, match=r"LapseParams: `epsilon` must be in \[0"):
        LapseParams(None, epsilon)
    agent = LapseAgent(RandomAgent(3))

    @jax.jit
    def policy(epsilon):
        return agent.log_policy(None, 0, LapseParams(None, epsilon))

    with pytest.raises(Exception, match=r"LapseAgent: `epsilon` must be in \[0, 1\]"):
        jax.block_until_ready(policy(epsilon))


def test_tabular_env_step_rejects_actions_off_range():
    env, env_params = tabular_env()  # 4 actions
    _, env_state = env.reset(KEY0, env_params)
    for action in (4, -1):
        with pytest.raises(ValueError, match=rf"`action` holds {action}.*0\.\.3"):
            env.step(KEY0, env_state, action, env_params)
    step = jax.jit(env.step)
    with pytest.raises(
        Exception, match=r"TabularEnv.step: `action` must be an action in 0\.\.3"
    ):
        jax.block_until_ready(step(KEY0, env_state, 7, env_params))
    obs = step(KEY0, env_state, 3, env_params)[0]  # a good action still steps
    assert int(obs) == 1


# --- padded steps -------------------------------------------------------------


def _never_zero_data():
    """Trajectories with actions in 1..3 of lengths 2, 5, 3, padded with action 0."""
    rng = np.random.default_rng(0)
    return [
        (np.zeros(length + 1, np.int32), rng.integers(1, 4, size=length))
        for length in (2, 5, 3)
    ]


@jax.jit
def _steps_and_jacobians(agent, beta, trajectory):
    """Per-step log-likelihoods and their derivatives in ``beta``, both modes."""

    def steps(b):
        return step_log_likelihoods(agent, b, trajectory)

    return steps(beta), jax.jacrev(steps)(beta), jax.jacfwd(steps)(beta)


def test_padded_steps_add_zero_to_the_value_and_the_gradient():
    """The padding action has probability 0 under the agent (``log 0`` in both
    ``log_action_prob`` and ``update``): masked steps add exactly 0 to the value
    and to the gradient (reverse and forward mode), and the padded per-step
    gradients equal the unpadded ones."""
    agent, beta = NeverZeroAgent(), jnp.float32(0.7)
    data = _never_zero_data()
    padded = pad_trajectories(data, num_steps=7)
    mask = np.asarray(padded.mask)
    assert not mask.all() and int(padded.actions[0, -1]) == 0
    values, rev, fwd = jax.vmap(_steps_and_jacobians, in_axes=(None, None, 0))(
        agent, beta, padded
    )
    for name, array in (("value", values), ("reverse", rev), ("forward", fwd)):
        array = np.asarray(array)
        assert np.isfinite(array).all(), name
        np.testing.assert_array_equal(array[~mask], 0.0, err_msg=name)
    total = jax.grad(
        lambda b: jnp.sum(
            jax.vmap(trajectory_log_likelihood, in_axes=(None, None, 0))(
                agent, b, padded
            )
        )
    )(beta)
    assert np.isfinite(total)
    unpadded = [
        _steps_and_jacobians(agent, beta, make_trajectory(s, a)) for s, a in data
    ]
    # Step t's derivative runs through t state updates, each a softmax over A = 4
    # actions (about 3A roundings): float32 rounding of that chain, at the scale of
    # the largest per-step gradient; the total sums all steps once more.
    num_ops = 3 * 4 * padded.num_steps
    scale = max(float(np.abs(g[1]).max()) for g in unpadded)
    for i, (value, grad, _) in enumerate(unpadded):
        length = len(value)
        np.testing.assert_allclose(
            rev[i, :length], grad, rtol=0, atol=rounding_atol(num_ops, scale)
        )
        np.testing.assert_allclose(
            values[i, :length], value, rtol=0, atol=rounding_atol(num_ops, 1.0)
        )
    expected = sum(float(np.sum(g[1])) for g in unpadded)
    atol = rounding_atol(num_ops + int(mask.sum()), scale * int(mask.sum()))
    np.testing.assert_allclose(total, expected, rtol=0, atol=atol)


def test_trajectory_is_checked_before_tracing():
    traj = make_trajectory([0, 1, 2], [1, 1])
    bad_mask = traj._replace(mask=jnp.array([1, 1]))
    with pytest.raises(TypeError, match=r"`trajectory.mask` must be bool"):
        trajectory_log_likelihood(AGENT, planner_params(), bad_mask)
    assert isinstance(traj, Trajectory)
