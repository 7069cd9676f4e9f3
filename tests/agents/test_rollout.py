"""The agent-environment loop and trajectory likelihoods: masks after termination,
populations by vmap, compile-once, padded = unpadded likelihoods, gradients in beta."""

import collections

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agents_helpers import StickyAgent, open_grid
from scipy import stats
from tolerances import rounding_rtol

from pinfer.agents import (
    BoltzmannAgent,
    BudgetAgent,
    BudgetParams,
    LapseAgent,
    LapseParams,
    PlannerParams,
    StateGoal,
    Trajectory,
    first_impossible_transition,
    make_tabular_env,
    make_trajectory,
    pad_trajectories,
    rollout,
    step_log_likelihoods,
    trajectory_log_likelihood,
)
from pinfer.envs import make_gridworld
from pinfer.planning import goal_reward

HEIGHT, WIDTH, GOAL = 3, 4, 11
NUM_STATES, NUM_ACTIONS = HEIGHT * WIDTH, 4
SWEEPS, NUM_STEPS = 12, 24
KEY0 = jax.random.key(0)

ROLLOUT = jax.jit(rollout, static_argnames=("num_steps",))
LIKELIHOODS = jax.jit(jax.vmap(trajectory_log_likelihood, in_axes=(None, None, 0)))
AGENT = BoltzmannAgent(SWEEPS)


def grid_params(beta=1.0, goal=GOAL, dtype=jnp.float32, slip=0.0):
    world = open_grid(HEIGHT, WIDTH, dtype, slip=slip)
    goal_spec = StateGoal(goal, jnp.asarray(5.0, dtype), jnp.asarray(1.0, dtype))
    return PlannerParams(world, goal_spec, jnp.asarray(beta, dtype), 0.95)


def grid_env(params, start=0, max_steps=None):
    """A TabularEnv on the agent's own MDP (the goal is terminal there)."""
    return make_tabular_env(params.reward.apply(params.world), start, max_steps)


@jax.jit
def _step_many(env, keys, state, action, params):
    return jax.vmap(env.step, in_axes=(0, None, None, None))(
        keys, state, action, params
    )


def test_tabular_env_samples_the_model():
    params = grid_params(slip=0.4)
    env, env_params = grid_env(params, start=jnp.full(NUM_STATES, 1 / NUM_STATES))
    mdp = env_params.mdp
    _, state = env.reset(KEY0, env_params)
    num_draws = 3000
    for cell, action in ((0, 3), (5, 0)):
        state = state._replace(state=jnp.int32(cell))
        keys = jax.random.split(jax.random.key(cell), num_draws)
        obs, new_state, reward, terminated, truncated, _ = _step_many(
            env, keys, state, action, env_params
        )
        probs = np.asarray(mdp.transition[cell, action])
        counts = np.bincount(obs, minlength=NUM_STATES)[probs > 0]
        assert np.bincount(obs, minlength=NUM_STATES)[probs == 0].sum() == 0
        _, p_value = stats.chisquare(counts, num_draws * probs[probs > 0])
        assert p_value > 1e-3
        np.testing.assert_array_equal(reward, mdp.reward[cell, action])  # a lookup
        np.testing.assert_array_equal(terminated, mdp.terminal[obs])
        np.testing.assert_array_equal(new_state.time, 1)
        assert not truncated.any()
    starts = jax.vmap(lambda k: env.reset(k, env_params)[0])(
        jax.random.split(jax.random.key(9), num_draws)
    )
    counts = np.bincount(starts, minlength=NUM_STATES)
    assert stats.chisquare(counts).pvalue > 1e-3
    absorbed = env.step(KEY0, state._replace(state=jnp.int32(GOAL)), 1, env_params)
    assert int(absorbed[0]) == GOAL and float(absorbed[2]) == 0.0 and bool(absorbed[3])


def _index(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def _check_masked_trajectory(traj, mdp, num_steps):
    mask = np.asarray(traj.mask)
    length = int(mask.sum())
    np.testing.assert_array_equal(mask, np.arange(num_steps) < length)  # a prefix
    obs, actions = np.asarray(traj.obs), np.asarray(traj.actions)
    terminal = np.asarray(mdp.terminal)
    assert not terminal[obs[:length]].any()
    if length < num_steps:
        assert terminal[obs[length]]
    np.testing.assert_array_equal(obs[length:], obs[length])
    np.testing.assert_array_equal(actions[length:], 0)
    np.testing.assert_array_equal(np.asarray(traj.rewards)[length:], 0.0)
    return length


def test_rollout_masks_after_termination():
    params = grid_params(beta=1.0)
    env, env_params = grid_env(params)
    keys = jax.random.split(jax.random.key(1), 32)
    trajs = jax.vmap(ROLLOUT, in_axes=(0, None, None, None, None, None))(
        keys, AGENT, params, env, env_params, NUM_STEPS
    )
    assert trajs.obs.shape == (32, NUM_STEPS + 1)
    assert trajs.actions.dtype == jnp.int32 and trajs.mask.dtype == jnp.bool_
    mdp = env_params.mdp
    lengths = []
    for i in range(32):
        traj = _index(trajs, i)
        lengths.append(_check_masked_trajectory(traj, mdp, NUM_STEPS))
        assert int(first_impossible_transition(mdp, traj)) == -1
        real = np.asarray(traj.mask)
        np.testing.assert_array_equal(  # the env looks the same table up
            np.asarray(traj.rewards)[real],
            mdp.reward[traj.obs[:-1], traj.actions][real],
        )
    assert min(lengths) >= 5  # the goal is 5 moves from the start
    assert len(set(lengths)) > 1 and min(lengths) < NUM_STEPS
    np.testing.assert_array_equal(trajs.lengths, lengths)


def test_rollout_in_gridworld_with_truncation():
    env, env_params = make_gridworld("S..#\n.#..\n...G", max_steps=30)
    world = env.tabular_mdp(env_params)
    params = PlannerParams(world, StateGoal(11, 10.0), 4.0, 1.0)
    traj = ROLLOUT(jax.random.key(2), AGENT, params, env, env_params, num_steps=20)
    length = _check_masked_trajectory(traj, world, 20)
    assert int(traj.obs[length]) == 11  # the goal, then frozen
    np.testing.assert_array_equal(traj.rewards[:length], -1.0)
    short = eqx.tree_at(lambda p: p.max_steps, env_params, jnp.int32(3))
    cut = ROLLOUT(jax.random.key(2), AGENT, params, env, short, num_steps=20)
    np.testing.assert_array_equal(cut.mask, np.arange(20) < 3)
    np.testing.assert_array_equal(cut.obs[3:], cut.obs[3])


def test_population_by_vmap_equals_single_rollouts():
    params0 = grid_params()
    env, env_params = grid_env(params0, max_steps=NUM_STEPS)
    goals = jnp.array([11, 3, 8, 11])
    betas = jnp.array([0.5, 2.0, 1.0, 8.0])
    keys = jax.random.split(jax.random.key(3), 4)

    def one(key, goal, beta):
        params = eqx.tree_at(
            lambda p: (p.reward.goal_state, p.beta), params0, (goal, beta)
        )
        return rollout(key, AGENT, params, env, env_params, NUM_STEPS)

    batch = jax.jit(jax.vmap(one))(keys, goals, betas)
    for i in range(4):
        single = jax.jit(one)(keys[i], goals[i], betas[i])
        for a, b in zip(jax.tree.leaves(batch), jax.tree.leaves(single), strict=True):
            np.testing.assert_array_equal(a[i], b)
    again = jax.jit(jax.vmap(one))(keys, goals, betas)
    for a, b in zip(jax.tree.leaves(batch), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_rollout_and_likelihood_compile_once():
    traces = collections.Counter()
    env, env_params = grid_env(grid_params())

    @jax.jit
    def simulate_and_score(key, goal, beta):
        traces["jit"] += 1
        params = eqx.tree_at(
            lambda p: (p.reward.goal_state, p.beta), grid_params(), (goal, beta)
        )
        traj = rollout(key, AGENT, params, env, env_params, NUM_STEPS)
        return trajectory_log_likelihood(AGENT, params, traj)

    for seed, goal, beta in ((0, 11, 1.0), (1, 4, 2.0), (2, 7, 0.3)):
        value = simulate_and_score(jax.random.key(seed), jnp.int32(goal), beta)
        assert np.isfinite(value)
    assert traces["jit"] == 1


def _variable_length_data(params, num=8):
    env, env_params = grid_env(params)
    keys = jax.random.split(jax.random.key(4), num)
    trajs = jax.vmap(ROLLOUT, in_axes=(0, None, None, None, None, None))(
        keys, AGENT, params, env, env_params, NUM_STEPS
    )
    data = []
    for i in range(num):
        length = int(trajs.lengths[i])
        data.append((np.asarray(trajs.obs[i, : length + 1]), trajs.actions[i, :length]))
    return data


def test_padded_likelihood_equals_sum_of_unpadded():
    params = grid_params(beta=1.0)
    data = _variable_length_data(params)
    assert len({len(actions) for _, actions in data}) > 2
    padded = pad_trajectories(data, num_steps=NUM_STEPS + 5)
    batch = LIKELIHOODS(AGENT, params, padded)
    state = AGENT.init(KEY0, params)
    log_policy = np.asarray(state.log_policy, np.float64)
    for i, (states, actions) in enumerate(data):
        unpadded = trajectory_log_likelihood(
            AGENT, params, make_trajectory(states, actions)
        )
        manual = log_policy[states[:-1], actions].sum()
        # The same negative terms summed in another order (padded: 5 more zeros),
        # and against a float64 sum of the same float32 table entries.
        rtol = rounding_rtol(NUM_STEPS + 5)
        np.testing.assert_allclose(batch[i], unpadded, rtol=rtol)
        np.testing.assert_allclose(unpadded, manual, rtol=rounding_rtol(len(actions)))
    steps = step_log_likelihoods(AGENT, params, _index(padded, 0))
    assert steps.shape == (NUM_STEPS + 5,)
    np.testing.assert_array_equal(steps[len(data[0][1]) :], 0.0)


def _grad_cases():
    params = grid_params(beta=1.3, dtype=jnp.float64)
    lapse = LapseParams(params, jnp.float64(0.2))
    budget = BudgetParams(params.world, params.reward, params.beta, params.discount, 3)
    return {
        "hard": (AGENT, params, lambda p, x: eqx.tree_at(lambda q: q.beta, p, x)),
        "soft": (
            BoltzmannAgent(SWEEPS, soft=True),
            params,
            lambda p, x: eqx.tree_at(lambda q: q.beta, p, x),
        ),
        "lapse-beta": (
            LapseAgent(AGENT),
            lapse,
            lambda p, x: eqx.tree_at(lambda q: q.base.beta, p, x),
        ),
        "lapse-epsilon": (
            LapseAgent(AGENT),
            lapse,
            lambda p, x: eqx.tree_at(lambda q: q.epsilon, p, x),
        ),
        "budget": (
            BudgetAgent(5),
            budget,
            lambda p, x: eqx.tree_at(lambda q: q.beta, p, x),
        ),
    }


@pytest.mark.parametrize(
    "case", ["hard", "soft", "lapse-beta", "lapse-epsilon", "budget"]
)
def test_gradient_matches_finite_differences(case):
    with jax.enable_x64(True):
        data = _variable_length_data(grid_params(beta=1.0), num=6)
        padded = pad_trajectories(data)
        agent, params, replace = _grad_cases()[case]
        x0 = {"lapse-epsilon": 0.2}.get(case, 1.3)

        @jax.jit
        def total(x):
            return jnp.sum(LIKELIHOODS(agent, replace(params, x), padded))

        grad = jax.grad(total)(jnp.float64(x0))

        def central(h):
            return (total(x0 + h) - total(x0 - h)) / (2 * h)

        h = 1e-5
        numeric = central(h)
        assert np.isfinite(grad) and total(x0).dtype == jnp.float64
        # Truncation: D(2h) - D(h) is 3x the O(h^2) error of D(h) (Richardson),
        # so it bounds it; rounding: the likelihood (SWEEPS sweeps over the states,
        # then a sum over the steps) to float64 rounding, divided by 2h twice.
        num_ops = SWEEPS * (NUM_STATES + 2) + int(padded.mask.sum())
        rounding = rounding_rtol(num_ops, dtype=np.float64) * abs(total(x0)) / h
        tol = abs(float(central(2 * h) - numeric)) + rounding
        np.testing.assert_allclose(grad, numeric, rtol=0, atol=tol)


def test_likelihood_of_a_learning_agent_scans_log_prob_then_update():
    agent, stickiness = StickyAgent(), jnp.float32(3.0)
    env, env_params = grid_env(grid_params(), max_steps=NUM_STEPS)
    traj = ROLLOUT(jax.random.key(5), agent, stickiness, env, env_params, NUM_STEPS)
    length = int(traj.lengths)
    actions = np.asarray(traj.actions)[:length]
    assert length > 10
    repeats = np.mean(actions[1:] == actions[:-1])
    # A repeat has probability p = e^3 / (e^3 + 3) = 0.87 when rollout runs update
    # (1 / 4 without): 4 binomial standard deviations below p.
    p, n = np.exp(3.0) / (np.exp(3.0) + 3), len(actions) - 1
    assert repeats > p - 4 * np.sqrt(p * (1 - p) / n)
    last, manual = -1, 0.0
    for action in actions:
        bonus = np.where(np.arange(4) == last, 3.0, 0.0)
        manual += bonus[action] - np.log(np.exp(bonus).sum())
        last = action
    value = trajectory_log_likelihood(agent, stickiness, traj)
    # Per step a log-softmax of A terms (about A + 3 roundings), then a sum over
    # the steps, of negative terms: relative to the total.
    rtol = rounding_rtol(NUM_ACTIONS + 3 + length)
    np.testing.assert_allclose(value, manual, rtol=rtol)
    explicit = trajectory_log_likelihood(agent, stickiness, traj, jnp.int32(-1))
    assert explicit == value  # an explicit initial state is the same as init
    assert isinstance(traj, Trajectory)


def test_likelihood_rejects_batches_and_ragged_fields():
    padded = pad_trajectories([([0, 1], [3]), ([0, 4, 5], [1, 3])])
    with pytest.raises(ValueError, match=r"jax.vmap\(trajectory_log_likelihood"):
        trajectory_log_likelihood(AGENT, grid_params(), padded)
    broken = make_trajectory([0, 1, 2], [3, 3])._replace(mask=jnp.ones(3, bool))
    with pytest.raises(ValueError, match=r"`trajectory.mask` must have shape \[2\]"):
        trajectory_log_likelihood(AGENT, grid_params(), broken)
    with pytest.raises(ValueError, match="`num_steps` must be an int >= 1"):
        rollout(KEY0, AGENT, grid_params(), *grid_env(grid_params()), 0)


def test_goal_reward_matches_what_the_env_samples():
    params = grid_params()
    _, env_params = grid_env(params)
    expected = goal_reward(params.world, GOAL, 5.0, 1.0)
    np.testing.assert_array_equal(env_params.mdp.reward, expected.reward)


def test_rollout_and_likelihood_in_float64():
    with jax.enable_x64(True):
        params = grid_params(beta=1.0, dtype=jnp.float64)
        env, env_params = grid_env(params)
        traj = ROLLOUT(jax.random.key(6), AGENT, params, env, env_params, num_steps=8)
        assert traj.rewards.dtype == jnp.float64
        value = trajectory_log_likelihood(AGENT, params, traj)
        assert value.dtype == jnp.float64 and np.isfinite(value)
        gw_env, gw_params = make_gridworld("S..G")
        gw_world = gw_env.tabular_mdp(gw_params)
        gw_agent_params = PlannerParams(gw_world, StateGoal(3, 5.0), 2.0, 1.0)
        gw_traj = ROLLOUT(
            jax.random.key(7), AGENT, gw_agent_params, gw_env, gw_params, num_steps=6
        )
        assert gw_traj.rewards.dtype == jnp.float64
        assert np.isfinite(trajectory_log_likelihood(AGENT, gw_agent_params, gw_traj))
