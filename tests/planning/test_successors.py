"""The successor-table planner of deterministic worlds.

A ``TabularMDP`` built from a concrete table whose rows are all one-hot carries
``successors [S, A]`` and every planner gathers ``V[successors]`` instead of summing
over ``transition``. Each planner must equal the dense one (the same MDP with
``successors`` removed) within float32 rounding, on random deterministic MDPs with
terminal states, alone and under ``vmap`` over layouts; a stochastic table never gets
successors; derivatives follow the dense formula.
"""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxpr_helpers import equations
from planning_helpers import (
    dense,
    policy_atol,
    random_deterministic_arrays,
    random_mdp_arrays,
    sweep_atol,
    to_mdp,
    value_scale,
)
from tolerances import rounding_atol

from pinfer.planning import (
    TabularMDP,
    arrival_features,
    bellman_q,
    budget_limited_planning,
    expected_next,
    finite_horizon_value_iteration,
    goal_reward,
    linear_reward,
    multi_goal_reward,
    soft_value,
    soft_value_iteration,
    validate_mdp,
    value_iteration,
    value_iteration_until_converged,
    with_reward,
)

NUM_STATES, NUM_ACTIONS, SWEEPS, BETA = 9, 3, 12, 1.5


def _world(seed, terminal_fraction=0.25):
    arrays = random_deterministic_arrays(
        seed, NUM_STATES, NUM_ACTIONS, terminal_fraction
    )
    return to_mdp(arrays), arrays


def test_one_hot_tables_get_successors_and_stochastic_ones_never():
    mdp, (_, _, _, successors) = _world(0)
    np.testing.assert_array_equal(mdp.successors, successors)
    assert mdp.successors.dtype == jnp.int32
    assert to_mdp(random_mdp_arrays(0, NUM_STATES, NUM_ACTIONS)).successors is None
    # One row a hair off one-hot (still stochastic within float32) is not deterministic.
    transition = np.asarray(mdp.transition).copy()
    transition[3, 1] = 0.0
    transition[3, 1, :2] = [1 - 2**-20, 2**-20]
    almost = TabularMDP(transition, mdp.reward, mdp.terminal)
    assert almost.successors is None
    # Built from traced arrays: unknown, unless passed.
    traced = jax.jit(lambda t: TabularMDP(t, mdp.reward, mdp.terminal))(mdp.transition)
    assert traced.successors is None
    kept = jax.jit(lambda t, s: TabularMDP(t, mdp.reward, mdp.terminal, successors=s))(
        mdp.transition, mdp.successors
    )
    np.testing.assert_array_equal(kept.successors, successors)


def test_slippery_and_plain_grid_worlds():
    from pinfer.envs import make_gridworld

    env, params = make_gridworld("S.#\n..G")
    mdp = env.tabular_mdp(params)
    np.testing.assert_array_equal(mdp.successors, env.successor_table(params))
    slippery, slip_params = make_gridworld("S.#\n..G", slip=0.2)
    assert slippery.tabular_mdp(slip_params).successors is None


@pytest.mark.parametrize("seed", [1, 2])
def test_every_planner_equals_the_dense_one(seed):
    fast, (_, reward, _, _) = _world(seed)
    slow = dense(fast)
    assert fast.successors is not None and slow.successors is None
    scale = value_scale(reward, SWEEPS)
    atol = sweep_atol(SWEEPS, NUM_STATES, NUM_ACTIONS, scale)

    def close(a, b, tol=atol):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)

    results = [value_iteration(m, 0.9, SWEEPS) for m in (fast, slow)]
    for field in ("values", "q_values", "residual"):
        close(getattr(results[0], field), getattr(results[1], field))
    soft_scale = value_scale(reward, SWEEPS, BETA, NUM_ACTIONS)
    soft_atol = sweep_atol(SWEEPS, NUM_STATES, NUM_ACTIONS, soft_scale)
    close(
        soft_value_iteration(fast, 0.9, BETA, SWEEPS).q_values,
        soft_value_iteration(slow, 0.9, BETA, SWEEPS).q_values,
        soft_atol,
    )
    close(
        finite_horizon_value_iteration(fast, SWEEPS, 1.0),
        finite_horizon_value_iteration(slow, SWEEPS, 1.0),
    )
    # To a tolerance: both stop after the same sweep (residuals agree to rounding).
    converged = [
        value_iteration_until_converged(m, 0.5, 1e-3, 200) for m in (fast, slow)
    ]
    assert int(converged[0].num_iterations) == int(converged[1].num_iterations)
    close(converged[0].values, converged[1].values)
    budgets = [budget_limited_planning(m, 0.9, BETA, SWEEPS) for m in (fast, slow)]
    close(budgets[0].q_values, budgets[1].q_values)
    close(
        budgets[0].log_policies,
        budgets[1].log_policies,
        policy_atol(atol, BETA, scale, NUM_ACTIONS),
    )
    values = jnp.linspace(-3.0, 3.0, NUM_STATES)
    one_sweep = sweep_atol(
        1, NUM_STATES, NUM_ACTIONS, 3.0 + float(np.abs(reward).max())
    )
    close(bellman_q(fast, values, 0.9), bellman_q(slow, values, 0.9), one_sweep)
    features = jnp.stack([values, values**2], axis=1)  # |features| <= 9
    close(
        arrival_features(fast, features),
        arrival_features(slow, features),
        rounding_atol(NUM_STATES, 9.0),  # one sum of NUM_STATES products
    )


def test_goal_hypotheses_equal_the_dense_ones_under_vmap():
    fast, (_, reward, _, _) = _world(3, terminal_fraction=0.0)
    goals, goal_value, step_cost = jnp.array([1, 4, 7]), 10.0, 0.5

    def plan(world, goal):
        agent = goal_reward(world, goal, goal_value, step_cost)
        return budget_limited_planning(agent, 0.95, BETA, SWEEPS).q_values

    batched = jax.jit(jax.vmap(plan, in_axes=(None, 0)))
    terms = float(np.abs(reward).max()) + goal_value + step_cost
    atol = sweep_atol(SWEEPS, NUM_STATES, NUM_ACTIONS, SWEEPS * terms)
    np.testing.assert_allclose(
        batched(fast, goals), batched(dense(fast), goals), rtol=0, atol=atol
    )


def test_vmap_over_a_stack_of_deterministic_layouts():
    layouts = [_world(seed)[0] for seed in (4, 5, 6)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *layouts)
    assert stacked.successors.shape == (3, NUM_STATES, NUM_ACTIONS)
    plan = jax.jit(jax.vmap(functools.partial(value_iteration, num_iterations=SWEEPS)))
    fast = plan(stacked, jnp.array([0.5, 0.9, 1.0]))
    slow = plan(dense(stacked), jnp.array([0.5, 0.9, 1.0]))
    for i, layout in enumerate(layouts):
        scale = value_scale(layout.reward, SWEEPS)
        atol = sweep_atol(SWEEPS, NUM_STATES, NUM_ACTIONS, scale)
        np.testing.assert_allclose(
            fast.q_values[i], slow.q_values[i], rtol=0, atol=atol
        )


def _gathers_and_products(fn, *args):
    jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
    names = [eqn.primitive.name for eqn, in_loop in equations(jaxpr) if in_loop]
    return names.count("gather"), names.count("dot_general")


def test_the_gather_replaces_the_dense_product_in_the_loop():
    fast, _ = _world(7)
    plan = functools.partial(budget_limited_planning, beta=BETA, max_budget=SWEEPS)
    gathers, products = _gathers_and_products(plan, fast, 0.9)
    assert gathers >= 1 and products == 0
    gathers, products = _gathers_and_products(plan, dense(fast), 0.9)
    assert gathers == 0 and products >= 1


def test_derived_mdps_keep_successors():
    world, _ = _world(8)
    features = jnp.ones((NUM_STATES, NUM_ACTIONS, 2))
    derived = [
        goal_reward(world, 2, 5.0, 1.0),
        multi_goal_reward(world, jnp.ones(NUM_STATES), jnp.arange(NUM_STATES) < 2),
        with_reward(world, linear_reward(features, jnp.array([1.0, -1.0]))),
        eqx.tree_at(lambda m: m.reward, world, world.reward + 1.0),
        jax.jit(lambda w: goal_reward(w, 3))(world),
    ]
    for mdp in derived:
        np.testing.assert_array_equal(mdp.successors, world.successors)
        validate_mdp(mdp)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_derivatives_are_the_dense_ones(mode):
    """In the rewards, the transitions (exact: the tangent is the dense product) and
    beta, with no float scatter-add (GPU atomics) in reverse mode."""
    fast, (_, reward, _, _) = _world(9)

    def start_value(world, transition, reward, beta):
        world = eqx.tree_at(
            lambda m: (m.transition, m.reward), world, (transition, reward)
        )
        value_fn = functools.partial(soft_value, beta=beta)
        return value_iteration(world, 0.9, SWEEPS, value_fn).values[0]

    args = (fast.transition, fast.reward, jnp.float32(BETA))
    derivative = jax.jacrev if mode == "rev" else jax.jacfwd
    grads = [
        jax.jit(derivative(functools.partial(start_value, world), argnums=(0, 1, 2)))(
            *args
        )
        for world in (fast, dense(fast))
    ]
    # A derivative of a sweep has as many terms as the sweep itself, and its values
    # are bounded by the sweep count (d/dR), times SWEEPS * values (d/dT), ...
    scale = value_scale(reward, SWEEPS, BETA, NUM_ACTIONS)
    atol = sweep_atol(SWEEPS, NUM_STATES, NUM_ACTIONS, SWEEPS * scale)
    for a, b in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    assert float(jnp.abs(grads[0][0]).max()) > 0  # the transitions do matter
    if mode == "rev":
        jaxpr = jax.make_jaxpr(jax.grad(functools.partial(start_value, fast)))(*args)
        scatters = [
            e for e, _ in equations(jaxpr.jaxpr) if "scatter" in e.primitive.name
        ]
        assert scatters == []


def test_expected_next_is_the_mean_over_next_states():
    fast, (transition, _, _, successors) = _world(10)
    per_state = jnp.arange(NUM_STATES, dtype=jnp.float32)[:, None] * jnp.ones(2)
    expected = np.einsum("sat,tf->saf", transition, np.asarray(per_state))
    np.testing.assert_array_equal(expected[:, :, 0], successors)
    for mdp in (fast, dense(fast)):
        out = expected_next(mdp, per_state)
        assert out.shape == (NUM_STATES, NUM_ACTIONS, 2)
        # One sum of NUM_STATES products of terms below NUM_STATES.
        np.testing.assert_allclose(
            out, expected, rtol=0, atol=rounding_atol(NUM_STATES, NUM_STATES)
        )


# ---- bad successors ----------------------------------------------------------------


def test_wrong_successors_are_rejected():
    world, (transition, reward, terminal, successors) = _world(11)
    wrong = successors.copy()
    wrong[2, 1] = (wrong[2, 1] + 1) % NUM_STATES
    with pytest.raises(ValueError, match=r"`successors` holds \d at state 2, action 1"):
        TabularMDP(transition, reward, terminal, successors=wrong)
    stochastic = random_mdp_arrays(0, NUM_STATES, NUM_ACTIONS)
    with pytest.raises(ValueError, match="`successors` is given but the move from"):
        TabularMDP(*stochastic, successors=successors)
    with pytest.raises(ValueError, match=r"`successors` holds 9 at state 0, action 0"):
        TabularMDP(transition, reward, terminal, successors=np.full_like(successors, 9))
    with pytest.raises(TypeError, match="`successors` must be integer"):
        TabularMDP(transition, reward, terminal, successors=successors * 1.0)
    with pytest.raises(ValueError, match=r"`successors` must have shape \[9, 3\]"):
        TabularMDP(transition, reward, terminal, successors=successors[:, :2])
    # A stale table slipped in with eqx.tree_at is caught by validate_mdp.
    stale = eqx.tree_at(lambda m: m.successors, world, jnp.asarray(wrong, jnp.int32))
    with pytest.raises(ValueError, match="validate_mdp: `successors` holds"):
        validate_mdp(stale)
