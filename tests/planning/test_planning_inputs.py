"""What the planners do with bad inputs: an error naming the argument and the value
(concrete inputs, before tracing), a shape or dtype error at trace time (traced
inputs), never a plausible number."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from planning_helpers import grid_world, random_mdp_arrays, to_mdp
from tolerances import rounding_atol, rounding_rtol

from pinfer.planning import (
    TabularMDP,
    arrival_features,
    bellman_q,
    boltzmann_policy,
    budget_limited_planning,
    finite_horizon_value_iteration,
    goal_reward,
    greedy_policy,
    linear_reward,
    multi_goal_reward,
    soft_value,
    soft_value_iteration,
    validate_mdp,
    value_iteration,
    value_iteration_until_converged,
    with_reward,
)

MDP = to_mdp(random_mdp_arrays(0, 4, 2))
INF = float("inf")
Q = jnp.array([[1.0, 2.0], [0.0, -1.0]])


def test_the_constructor_checks_dtypes_shapes_and_values():
    transition, reward, terminal = random_mdp_arrays(0, 4, 2)
    with pytest.raises(
        ValueError, match=r"TabularMDP: `reward` must have shape \[4, 2\], got \[4, 1\]"
    ):
        TabularMDP(transition, reward[:, :1], terminal)
    with pytest.raises(
        ValueError, match=r"`terminal` must have shape \[4\], got \[3\]"
    ):
        TabularMDP(transition, reward, terminal[:3])
    with pytest.raises(ValueError, match=r"`transition` must have shape \[S, A, S\]"):
        TabularMDP(transition[:, :, :3], reward, terminal)
    with pytest.raises(TypeError, match="`terminal` must be bool, got dtype float32"):
        TabularMDP(transition, reward, terminal.astype(np.float32))
    with pytest.raises(TypeError, match="`transition` must be floating point"):
        TabularMDP(np.eye(4, dtype=int)[[[0, 1]] * 4], reward, terminal)
    with pytest.raises(TypeError, match="`reward` must be numeric, got dtype bool"):
        TabularMDP(transition, reward > 0, terminal)
    off = transition.copy()
    off[2, 1] *= 0.9
    with pytest.raises(
        ValueError,
        match=r"`transition` rows must sum to 1, got 0.9 at state 2, action 1",
    ):
        TabularMDP(off, reward, terminal)
    negative = transition.copy()
    negative[1, 0, :2] = [-0.2, negative[1, 0, 0] + negative[1, 0, 1] + 0.2]
    with pytest.raises(
        ValueError,
        match=r"`transition` must be in \[0.0, 1.0\], got -0.2 at state 1, action 0, "
        "next state 0",
    ):
        TabularMDP(negative, reward, terminal)
    nan = transition.copy()
    nan[3, 1, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"`transition` must be finite, got nan at state 3"
    ):
        TabularMDP(nan, reward, terminal)
    bad_reward = reward.copy()
    bad_reward[3, 1] = np.inf
    with pytest.raises(
        ValueError, match=r"`reward` must be finite, got inf at state 3, action 1"
    ):
        TabularMDP(transition, bad_reward, terminal)
    # Inside jit the values are unknown; shapes and dtypes are still checked.
    with pytest.raises(TypeError, match="`terminal` must be bool"):
        jax.jit(lambda t: TabularMDP(t, reward, terminal.astype(np.float32)))(
            transition
        )
    traced = jax.jit(lambda t: TabularMDP(t, reward, terminal).transition)(nan)
    assert np.isnan(traced).any()


def test_validate_mdp_rejects_bad_tables_built_leaf_by_leaf():
    import equinox as eqx

    off = np.asarray(MDP.transition).copy()
    off[2, 1] *= 0.9
    bad = eqx.tree_at(lambda m: m.transition, MDP, jnp.asarray(off))
    with pytest.raises(ValueError, match=r"validate_mdp: `transition` rows must sum"):
        validate_mdp(bad)
    nan_reward = eqx.tree_at(lambda m: m.reward, MDP, MDP.reward.at[3, 1].set(jnp.nan))
    with pytest.raises(ValueError, match=r"`mdp.reward` must be finite, got nan"):
        validate_mdp(nan_reward)
    with pytest.raises(ValueError, match="`atol` must be"):
        validate_mdp(MDP, atol=-1.0)
    with pytest.raises(ValueError, match="must hold concrete arrays"):
        jax.jit(validate_mdp)(MDP)
    stacked = jax.tree.map(lambda x: jnp.stack([x, x]), MDP)
    with pytest.raises(ValueError, match="validate each layout separately"):
        validate_mdp(stacked)


def test_an_environment_is_not_an_mdp():
    from pinfer.envs import make_gridworld

    env, params = make_gridworld("S.G")
    match = r"value_iteration: `mdp` must be a TabularMDP, got GridWorld.*tabular_mdp"
    with pytest.raises(TypeError, match=match):
        value_iteration(env, 0.9, 3)
    with pytest.raises(TypeError, match="`mdp` must be a TabularMDP, got tuple"):
        goal_reward((env, params), 2)
    with pytest.raises(ValueError, match="jax.vmap over layouts"):
        value_iteration(jax.tree.map(lambda x: jnp.stack([x, x]), MDP), 0.9, 3)


@pytest.mark.parametrize("count", [0, -3])
def test_nonpositive_counts_are_rejected(count):
    match = f"`num_iterations` must be an int >= 1, got {count}"
    with pytest.raises(ValueError, match=match):
        value_iteration(MDP, 0.9, count)
    with pytest.raises(ValueError, match=match):
        soft_value_iteration(MDP, 0.9, 1.0, count)
    with pytest.raises(ValueError, match=f"`horizon` must be an int >= 1, got {count}"):
        finite_horizon_value_iteration(MDP, count)
    with pytest.raises(
        ValueError, match=f"`max_iterations` must be an int >= 1, got {count}"
    ):
        value_iteration_until_converged(MDP, 0.9, max_iterations=count)
    with pytest.raises(
        ValueError, match=f"`max_budget` must be an int >= 0, got {count - 1}"
    ):
        budget_limited_planning(MDP, 0.9, 1.0, count - 1)


def test_non_static_counts_are_rejected():
    with pytest.raises(TypeError, match="`num_iterations` must be a static Python int"):
        value_iteration(MDP, 0.9, 2.5)
    with pytest.raises(TypeError, match="`num_iterations` must be a static Python int"):
        jax.jit(lambda n: value_iteration(MDP, 0.9, n))(3)


@pytest.mark.parametrize("discount", [1.5, -0.1, np.float64(2.0), float("nan")])
def test_discount_outside_unit_interval_is_rejected(discount):
    match = rf"`discount` must be in \[0.0, 1.0\], got {discount}"
    for call in (
        lambda: value_iteration(MDP, discount, 3),
        lambda: finite_horizon_value_iteration(MDP, 3, discount),
        lambda: value_iteration_until_converged(MDP, discount),
        lambda: budget_limited_planning(MDP, discount, 1.0, 3),
        lambda: bellman_q(MDP, jnp.zeros(4), discount),
    ):
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(ValueError, match=r"`discount` must have 0 dimension"):
        value_iteration(MDP, jnp.array([0.9, 0.5]), 3)


@pytest.mark.parametrize("tol", [-1e-3, float("nan")])
def test_bad_tolerances_are_rejected(tol):
    with pytest.raises(
        ValueError, match=rf"value_iteration: `tol` must be >= 0.0, got {tol}"
    ):
        value_iteration(MDP, 0.9, 3, tol=tol)
    with pytest.raises(ValueError, match=rf"`tol` must be >= 0.0, got {tol}"):
        value_iteration_until_converged(MDP, 0.9, tol)
    with pytest.raises(TypeError, match="value_iteration_until_converged: `tol`"):
        value_iteration_until_converged(MDP, 0.9, None)


@pytest.mark.parametrize("beta", [-1.0, float("nan"), float("inf")])
def test_bad_betas_are_rejected(beta):
    """A negative beta reverses the policy, NaN poisons it: both were accepted."""
    match = rf"boltzmann_policy: `beta` must be in \[0.0, inf\), got {beta}"
    with pytest.raises(ValueError, match=match):
        boltzmann_policy(Q, beta)
    with pytest.raises(
        ValueError, match=rf"`beta` must be in \[0.0, inf\), got {beta}"
    ):
        budget_limited_planning(MDP, 0.9, beta, 2)
    match = rf"`beta` must be in \(0.0, inf\), got {beta}"
    with pytest.raises(ValueError, match="soft_value: " + match):
        soft_value(Q, beta)
    with pytest.raises(ValueError, match="soft_value_iteration: " + match):
        soft_value_iteration(MDP, 0.9, beta, 3)
    with pytest.raises(ValueError, match=r"`beta` must be in \[0.0, inf\), got"):
        boltzmann_policy(Q, jnp.array([[1.0], [beta]]))


def test_beta_zero_is_random_for_policies_and_refused_by_soft_values():
    uniform = jnp.exp(boltzmann_policy(Q, 0.0))  # exp(-log 2): a few roundings
    np.testing.assert_allclose(uniform, 0.5, rtol=rounding_rtol(5))
    with pytest.raises(ValueError, match="The soft value divides by beta"):
        soft_value_iteration(MDP, 0.9, 0.0, 3)


def test_beta_per_action_is_rejected():
    """beta [A] would broadcast over actions and silently distort the policy."""
    with pytest.raises(
        ValueError, match=r"`beta` must be a scalar or broadcast.*\(2,\)"
    ):
        boltzmann_policy(Q, jnp.array([1.0, 2.0]))
    per_state = boltzmann_policy(Q, jnp.array([[1.0], [2.0]]))
    # The same log-softmax of two terms up to beta * max|Q| = 2.
    np.testing.assert_allclose(
        per_state[1],
        boltzmann_policy(Q[1:], 2.0)[0],
        rtol=0,
        atol=rounding_atol(2 + 3, 2.0 + np.log(2)),
    )
    with pytest.raises(ValueError, match="`beta` must be a scalar, got shape"):
        budget_limited_planning(MDP, 0.9, jnp.ones(3), 2)


def test_bad_q_values_are_rejected():
    for fn in (boltzmann_policy, soft_value):
        with pytest.raises(
            ValueError, match=r"`q_values` must be finite or -inf, got nan"
        ):
            fn(Q.at[1, 0].set(jnp.nan), 1.0)
        with pytest.raises(
            TypeError, match="`q_values` must be numeric, got dtype bool"
        ):
            fn(Q > 0, 1.0)
    with pytest.raises(ValueError, match="`q_values` must have an action axis"):
        greedy_policy(jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"`atol` must be in \[0.0, inf\), got -1.0"):
        greedy_policy(Q, -1.0)
    excluded = boltzmann_policy(Q.at[0, 0].set(-jnp.inf), 1.0)
    assert float(excluded[0, 0]) == -np.inf and float(excluded[0, 1]) == 0.0


def test_bad_goal_arguments_are_rejected():
    world = to_mdp(grid_world(2, 2))
    with pytest.raises(
        ValueError, match=r"`step_cost` must be in \[0.0, inf\), got -1.0.*on top"
    ):
        goal_reward(world, 3, 10.0, -1.0)
    with pytest.raises(ValueError, match=r"goal_reward: `goal_state` holds 4"):
        goal_reward(world, 4)
    with pytest.raises(TypeError, match="`goal_state` must be integer, got dtype"):
        goal_reward(world, 2.0)
    with pytest.raises(ValueError, match=r"`goal_value` must be finite, got nan"):
        goal_reward(world, 2, float("nan"))
    with pytest.raises(ValueError, match=r"`goal_values` must have shape \[4\]"):
        multi_goal_reward(world, jnp.zeros(3), jnp.zeros(4, bool))
    with pytest.raises(ValueError, match=r"`is_goal` must have shape \[4\]"):
        multi_goal_reward(world, jnp.zeros(4), jnp.zeros(5, bool))
    with pytest.raises(TypeError, match="`is_goal` must be bool"):
        multi_goal_reward(world, jnp.zeros(4), jnp.zeros(4))
    with pytest.raises(
        ValueError, match="`goal_values` must be finite, got nan at state 1"
    ):
        multi_goal_reward(world, jnp.zeros(4).at[1].set(jnp.nan), jnp.ones(4, bool))
    with pytest.raises(
        ValueError, match=r"linear_reward: `weights` must have shape \[3\]"
    ):
        linear_reward(jnp.zeros((4, 4, 3)), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"`weights` must be finite, got nan"):
        linear_reward(jnp.zeros((4, 4, 1)), jnp.array([jnp.nan]))
    with pytest.raises(ValueError, match=r"`state_features` must have shape \[4, \*\]"):
        arrival_features(world, jnp.zeros((3, 2)))
    with pytest.raises(
        ValueError, match=r"with_reward: `reward` must be finite, got inf"
    ):
        with_reward(world, jnp.zeros((4, 4)).at[0, 0].set(jnp.inf))
    with pytest.raises(
        ValueError, match=r"bellman_q: `values` must be finite, got nan"
    ):
        bellman_q(world, jnp.zeros(4).at[2].set(jnp.nan), 0.9)


def test_traced_values_out_of_range_give_nan_not_numbers():
    """Inside jit the values cannot be checked first: they poison the result."""
    values = jax.jit(lambda d: value_iteration(MDP, d, 3))(1.5)
    assert np.isnan(values.values).all() and not bool(values.converged)
    stopped = jax.jit(lambda d: value_iteration(MDP, d, 3, tol=1e-3))(-0.5)
    assert np.isnan(stopped.values).all() and not bool(stopped.converged)
    assert np.isnan(jax.jit(lambda d: bellman_q(MDP, jnp.zeros(4), d))(2.0)).all()
    assert np.isnan(
        jax.jit(lambda d: finite_horizon_value_iteration(MDP, 2, d))(jnp.nan)
    ).all()
    policy = jax.jit(boltzmann_policy)
    plan = jax.jit(lambda b: budget_limited_planning(MDP, 0.9, b, 2).log_policies)
    for beta in (-1.0, jnp.nan, jnp.inf):
        assert np.isnan(policy(Q, beta)).all() and np.isnan(plan(beta)).all()
    assert np.isnan(jax.jit(soft_value)(Q, 0.0)).all()
    soft = jax.jit(lambda b: soft_value_iteration(MDP, 0.9, b, 3))(-2.0)
    assert np.isnan(soft.values).all() and not bool(soft.converged)
    # Per-state betas: only the state with the bad one.
    mixed = policy(Q, jnp.array([[1.0], [-1.0]]))
    assert np.isfinite(mixed[0]).all() and np.isnan(mixed[1]).all()
    assert np.isnan(jax.jit(greedy_policy)(Q, -1.0)).all()
    world = to_mdp(grid_world(2, 2))
    goal = jax.jit(goal_reward)
    for state, value, cost in (
        (7, 1.0, 0.0),
        (-1, 1.0, 0.0),
        (2, INF, 0.0),
        (2, 1.0, -1.0),
    ):
        assert np.isnan(goal(world, state, value, cost).reward).all()
    agent = jax.jit(multi_goal_reward)(world, jnp.ones(4), jnp.ones(4, bool), -1.0)
    assert np.isnan(agent.reward).all()
    # Valid traced values plan as usual.
    np.testing.assert_array_equal(
        goal(world, 2, 1.0, 0.0).reward, goal_reward(world, 2).reward
    )


def test_an_infinite_step_cost_is_rejected():
    with pytest.raises(
        ValueError, match=r"`step_cost` must be in \[0.0, inf\), got inf"
    ):
        goal_reward(to_mdp(grid_world(2, 2)), 3, 10.0, float("inf"))
