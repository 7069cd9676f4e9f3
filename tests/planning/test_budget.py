"""Budget-limited planning (L-IBM): every budget's policy from one scan.

Each slice ``k`` of the stacked result must equal an independently run ``k``-sweep
value iteration (and slice 0 the uniform policy), for hard and soft backups, and the
whole computation must batch over goals and over layouts with ``vmap``.
"""

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from planning_helpers import (
    grid_distance,
    grid_world,
    policy_atol,
    random_mdp_arrays,
    sweep_atol,
    to_mdp,
    value_scale,
)
from tolerances import rounding_rtol

from pinfer.planning import (
    BudgetResult,
    TabularMDP,
    boltzmann_policy,
    budget_limited_planning,
    goal_reward,
    soft_value,
    value_iteration,
)

MAX_BUDGET = 6
BUDGET = jax.jit(budget_limited_planning, static_argnames=("max_budget", "value_fn"))
VI = jax.jit(value_iteration, static_argnames=("num_iterations", "value_fn"))


def budget_atols(reward, beta, dtype=np.float32, soft_beta=None, num_actions=3):
    """Q and log-policy tolerances for two evaluation orders of MAX_BUDGET sweeps
    (scan slices vs separate runs, vmapped vs single): the float rounding bound."""
    num_states = reward.shape[0]
    scale = value_scale(reward, MAX_BUDGET, soft_beta, num_actions)
    q_atol = sweep_atol(MAX_BUDGET, num_states, num_actions, scale, dtype)
    return q_atol, policy_atol(q_atol, beta, scale, num_actions, dtype)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_each_budget_equals_an_independent_value_iteration(dtype, soft):
    arrays = random_mdp_arrays(21, 9, 3)
    discount, beta = 0.9, 1.5
    value_fn = functools.partial(soft_value, beta=2.0) if soft else None
    kwargs = {"value_fn": value_fn} if soft else {}
    with jax.enable_x64(dtype == jnp.float64):
        mdp = to_mdp(arrays, dtype)
        result = BUDGET(mdp, discount, beta, max_budget=MAX_BUDGET, **kwargs)
        assert isinstance(result, BudgetResult)
        assert result.q_values.shape == (MAX_BUDGET + 1, 9, 3)
        assert result.log_policies.dtype == dtype
        np.testing.assert_array_equal(result.q_values[0], 0.0)
        # log(1/3) from a log-softmax of zeros: a few roundings of log 3.
        np.testing.assert_allclose(
            result.log_policies[0], -np.log(3), rtol=rounding_rtol(6, dtype=dtype)
        )
        q_atol, pi_atol = budget_atols(arrays[1], beta, dtype, 2.0 if soft else None)
        for k in range(1, MAX_BUDGET + 1):
            independent = VI(mdp, discount, num_iterations=k, **kwargs).q_values
            np.testing.assert_allclose(
                result.q_values[k], independent, rtol=0, atol=q_atol
            )
            np.testing.assert_allclose(
                result.log_policies[k],
                boltzmann_policy(independent, beta),
                rtol=0,
                atol=pi_atol,
            )


def test_budget_is_a_lookahead_depth():
    """An agent d steps from the goal is random below budget d, purposeful from d."""
    height, width, goal = 3, 4, 11
    mdp = goal_reward(to_mdp(grid_world(height, width)), goal, 10.0, 1.0)
    result = BUDGET(mdp, 1.0, 10.0, max_budget=MAX_BUDGET)
    probs = np.exp(np.asarray(result.log_policies))
    distance = grid_distance(height, width, goal)
    next_state = np.argmax(np.asarray(mdp.transition), axis=-1)
    for state in range(height * width - 1):
        d = int(distance[state])
        for k in range(min(d, MAX_BUDGET + 1)):
            # Equal Q-values: exp(log_softmax) of 4 equal terms, a few roundings.
            np.testing.assert_allclose(probs[k, state], 0.25, rtol=rounding_rtol(8))
        # Every other move is worth at least one step cost (1) less: at beta = 10
        # the three others together have probability below 3 * exp(-10).
        towards = distance[next_state[state]] < d
        for k in range(d, MAX_BUDGET + 1):
            assert probs[k, state, towards].sum() > 1 - 3 * np.exp(-10.0)


def test_vmap_over_goal_states():
    world = to_mdp(grid_world(3, 4))
    goals = jnp.array([0, 5, 11, 7])

    def plan(goal, beta):
        mdp = goal_reward(world, goal, 10.0, 1.0)
        return budget_limited_planning(mdp, 0.95, beta, MAX_BUDGET)

    betas = jnp.array([0.5, 1.0, 2.0, 4.0])
    batched = jax.jit(jax.vmap(plan))(goals, betas)
    assert batched.log_policies.shape == (4, MAX_BUDGET + 1, 12, 4)
    for i in range(len(goals)):
        agent = goal_reward(world, int(goals[i]), 10.0, 1.0)
        single = BUDGET(agent, 0.95, float(betas[i]), max_budget=MAX_BUDGET)
        q_atol, pi_atol = budget_atols(agent.reward, float(betas[i]), num_actions=4)
        np.testing.assert_allclose(
            batched.q_values[i], single.q_values, rtol=0, atol=q_atol
        )
        np.testing.assert_allclose(
            batched.log_policies[i], single.log_policies, rtol=0, atol=pi_atol
        )


def test_vmap_over_a_stack_of_mdps():
    mdps = [to_mdp(random_mdp_arrays(seed, 7, 3)) for seed in range(3)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *mdps)
    discounts = jnp.array([0.5, 0.9, 1.0])
    plan = jax.jit(
        jax.vmap(functools.partial(budget_limited_planning, max_budget=MAX_BUDGET)),
    )
    batched = plan(stacked, discounts, jnp.full(3, 2.0))
    for i, mdp in enumerate(mdps):
        single = BUDGET(mdp, float(discounts[i]), 2.0, max_budget=MAX_BUDGET)
        # A hand-set rtol of 1e-6 failed on a GPU (1.1e-6): vmapped and single runs
        # may sum in different orders, so the bound is the float32 rounding bound.
        q_atol, pi_atol = budget_atols(mdp.reward, 2.0)
        np.testing.assert_allclose(
            batched.q_values[i], single.q_values, rtol=0, atol=q_atol
        )
        np.testing.assert_allclose(
            batched.log_policies[i], single.log_policies, rtol=0, atol=pi_atol
        )


def test_budget_zero_is_the_uniform_policy():
    mdp = to_mdp(random_mdp_arrays(0, 4, 2))
    only_zero = budget_limited_planning(mdp, 0.9, 1.0, 0)
    assert only_zero.q_values.shape == (1, 4, 2)
    np.testing.assert_allclose(
        only_zero.log_policies, -np.log(2), rtol=rounding_rtol(5)
    )  # log_softmax of zeros


def test_compiles_once_per_shape():
    traces = collections.Counter()

    @jax.jit
    def plan(mdp, discount, beta):
        traces["plan"] += 1
        return budget_limited_planning(mdp, discount, beta, MAX_BUDGET)

    for seed, beta in [(0, 0.3), (1, 2.0), (2, 9.0)]:
        plan(to_mdp(random_mdp_arrays(seed, 5, 2)), 0.9, beta)
    assert traces["plan"] == 1


def test_gradient_of_budget_marginal_likelihood():
    """Gradient of log sum_k p(k) prod_t pi_k(a_t | s_t) vs finite differences."""
    transition, reward, terminal = random_mdp_arrays(8, 6, 3)
    states, actions = jnp.array([0, 1, 2, 3, 0]), jnp.array([2, 0, 1, 1, 0])

    def marginal(reward, beta):
        mdp = TabularMDP(transition, reward, terminal)
        log_pi = budget_limited_planning(mdp, 0.9, beta, 4).log_policies
        per_budget = jnp.sum(log_pi[:, states, actions], axis=1)
        return jax.nn.logsumexp(per_budget - jnp.log(per_budget.shape[0]))

    with jax.enable_x64(True):
        transition, reward = jnp.asarray(transition), jnp.asarray(reward)
        check_grads(
            jax.jit(marginal), (reward, jnp.float64(0.7)), order=1, modes=["rev"]
        )
