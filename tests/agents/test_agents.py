"""Agents: each policy equals the planner's, ``act`` samples what ``log_action_prob``
scores (chi-square), lapse and budget limits, reward specifications, and bad input."""

import importlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agents_helpers import open_grid
from docstring_examples import assert_examples_run
from scipy import stats
from tolerances import rounding_atol, rounding_rtol

import pinfer.agents
import pinfer.planning
from pinfer.agents import (
    AgentInfo,
    BoltzmannAgent,
    BudgetAgent,
    BudgetParams,
    GoalValues,
    LapseAgent,
    LapseParams,
    LinearReward,
    PlannerParams,
    PolicyState,
    RandomAgent,
    StateGoal,
    WorldReward,
)
from pinfer.planning import (
    TabularMDP,
    arrival_features,
    boltzmann_policy,
    budget_limited_planning,
    goal_reward,
    max_value,
    soft_value,
    value_iteration,
)

HEIGHT, WIDTH, GOAL = 3, 4, 11
NUM_STATES, NUM_ACTIONS = HEIGHT * WIDTH, 4
SWEEPS, MAX_BUDGET = 12, 6


def planning_tol(q_values, beta=1.0, dtype=jnp.float32, sweeps=SWEEPS):
    """Two evaluation orders (jit / vmap / eager) of ``sweeps`` value-iteration
    sweeps, each summing ``NUM_STATES`` next-state values, then a log-softmax over
    the actions: float rounding of that chain at the scale ``beta * max |Q|``."""
    num_ops = sweeps * (NUM_STATES + 2) + NUM_ACTIONS + 2
    scale = max(float(beta), 1.0) * float(np.abs(np.asarray(q_values)).max())
    return dict(rtol=0, atol=rounding_atol(num_ops, scale, dtype))


MODULES = [
    "base",
    "lapse",
    "loop",
    "rewards",
    "rollouts",
    "tabular",
    "tabular_env",
    "trajectories",
]


def planner_params(beta=1.5, goal=GOAL, dtype=jnp.float32, discount=0.9):
    goal_spec = StateGoal(goal, jnp.asarray(10.0, dtype), jnp.asarray(1.0, dtype))
    return PlannerParams(
        open_grid(HEIGHT, WIDTH, dtype), goal_spec, jnp.asarray(beta, dtype), discount
    )


def budget_params(budget, beta=1.5, dtype=jnp.float32):
    base = planner_params(beta, dtype=dtype)
    return BudgetParams(base.world, base.reward, base.beta, base.discount, budget)


def all_log_probs(agent, state, params):
    """``[S, A]`` table of ``log_action_prob`` over every state and action."""

    def one(obs, action):
        return agent.log_action_prob(state, obs, action, params)

    obs, actions = jnp.meshgrid(
        jnp.arange(NUM_STATES), jnp.arange(NUM_ACTIONS), indexing="ij"
    )
    return jax.vmap(jax.vmap(one))(obs, actions)


KEY0 = jax.random.key(0)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"pinfer.agents.{name}")
    names = {name: getattr(pinfer.agents, name) for name in pinfer.agents.__all__}
    assert_examples_run(module, names, TabularMDP=pinfer.planning.TabularMDP)


def test_every_public_name_is_documented():
    for name in pinfer.agents.__all__:
        obj = getattr(pinfer.agents, name)
        assert obj.__doc__ and obj.__doc__.strip(), name


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_boltzmann_policy_equals_the_planner(dtype, soft):
    with jax.enable_x64(dtype == jnp.float64):
        params = planner_params(dtype=dtype)
        agent = BoltzmannAgent(num_iterations=SWEEPS, soft=soft)
        state = jax.jit(agent.init)(KEY0, params)
        mdp = goal_reward(params.world, GOAL, 10.0, 1.0)
        value_fn = max_value
        if soft:
            value_fn = lambda q: soft_value(q, params.beta)  # noqa: E731
        q_values = value_iteration(mdp, 0.9, SWEEPS, value_fn).q_values
        expected = boltzmann_policy(q_values, params.beta)
        assert state.log_policy.dtype == dtype
        tol = planning_tol(q_values, params.beta, dtype)
        np.testing.assert_allclose(state.q_values, q_values, **tol)
        np.testing.assert_allclose(state.log_policy, expected, **tol)
        table = jax.jit(all_log_probs)(agent, state, params)
        np.testing.assert_array_equal(table, state.log_policy)


def _chi_square_pvalue(counts, probs, min_expected=5.0):
    """Pearson chi-square over rows (states); cells expected below ``min_expected``
    are pooled per row."""
    statistic, dof = 0.0, 0
    for observed, p in zip(counts, probs, strict=True):
        expected = observed.sum() * p
        big = expected >= min_expected
        obs_cells = list(observed[big]) + [observed[~big].sum()]
        exp_cells = list(expected[big]) + [expected[~big].sum()]
        if exp_cells[-1] < min_expected:  # the pooled cell is too small: drop it
            obs_cells, exp_cells = obs_cells[:-1], exp_cells[:-1]
        o, e = np.array(obs_cells), np.array(exp_cells)
        statistic += np.sum((o - e) ** 2 / e)
        dof += len(o) - 1
    return stats.chi2.sf(statistic, dof)


@jax.jit
def _sample_actions(agent, keys, state, obs, params):
    """Actions drawn by ``act`` at each of ``obs`` (``keys [len(obs), N]``)."""

    def one(key, ob):
        action, new_state, info = agent.act(key, state, ob, params)
        return action, info.log_prob, agent.log_action_prob(state, ob, action, params)

    return jax.vmap(jax.vmap(one, in_axes=(0, None)))(keys, obs)


AGENTS = {
    "boltzmann": (BoltzmannAgent(SWEEPS), planner_params(beta=0.8)),
    "lapse": (
        LapseAgent(BoltzmannAgent(SWEEPS)),
        LapseParams(planner_params(beta=3.0), 0.3),
    ),
    "budget": (BudgetAgent(MAX_BUDGET), budget_params(2, beta=2.0)),
    "random": (RandomAgent(NUM_ACTIONS), None),
}


@pytest.mark.parametrize("name", list(AGENTS))
def test_act_samples_what_log_action_prob_scores(name):
    agent, params = AGENTS[name]
    state = agent.init(KEY0, params)
    obs = jnp.array([0, 4, 6, 9])
    num_draws = 2000
    keys = jax.random.split(jax.random.key(1), (len(obs), num_draws))
    actions, info_log_probs, scored = _sample_actions(agent, keys, state, obs, params)
    assert actions.dtype == jnp.int32
    np.testing.assert_array_equal(info_log_probs, scored)
    probs = np.exp(
        np.asarray(jax.vmap(lambda o: agent.log_policy(state, o, params))(obs))
    )
    # exp then a sum of A terms: A + 1 roundings of numbers at most 1.
    np.testing.assert_allclose(
        probs.sum(-1), 1.0, rtol=0, atol=rounding_atol(NUM_ACTIONS + 1, 1.0)
    )
    counts = np.stack([np.bincount(row, minlength=NUM_ACTIONS) for row in actions])
    # One test per agent at false-alarm level 1e-3 (fixed keys, not tuned).
    assert _chi_square_pvalue(counts, probs) > 1e-3


def test_act_returns_agent_info_and_unchanged_state():
    agent, params = AGENTS["boltzmann"]
    state = agent.init(KEY0, params)
    action, new_state, info = agent.act(jax.random.key(3), state, 0, params)
    assert isinstance(info, AgentInfo)
    assert new_state is state
    assert agent.update(state, 0, action, 1.0, 1, params) is state


def test_lapse_limits_and_mixture():
    base = BoltzmannAgent(SWEEPS)
    agent = LapseAgent(base)
    params = planner_params(beta=4.0)
    state = agent.init(KEY0, LapseParams(params, 0.0))
    base_table = all_log_probs(base, state, params)
    table = jax.jit(all_log_probs)
    np.testing.assert_array_equal(
        table(agent, state, LapseParams(params, 0.0)), base_table
    )
    np.testing.assert_array_equal(
        table(agent, state, LapseParams(params, 1.0)),
        jnp.full_like(base_table, -np.log(NUM_ACTIONS)),
    )
    epsilon = 0.25
    mixed = (1 - epsilon) * np.exp(np.asarray(base_table, np.float64))
    mixed += epsilon / NUM_ACTIONS
    # A logaddexp of two weighted log terms (about 6 roundings), each as large as
    # the largest |log pi| (finite): exp turns that absolute error into relative.
    finite = np.isfinite(base_table)
    condition = 1.0 + float(np.abs(np.asarray(base_table)[finite]).max())
    np.testing.assert_allclose(
        np.exp(table(agent, state, LapseParams(params, epsilon))),
        mixed,
        rtol=rounding_rtol(6, condition),
    )


@pytest.mark.parametrize("epsilon", [0.0, 0.4, 1.0])
def test_lapse_gradient_in_epsilon_is_exact_at_the_ends(epsilon):
    """d log pi / d epsilon = (1 / A - pi) / pi_mix, also at epsilon = 0 and 1."""
    agent = LapseAgent(BoltzmannAgent(SWEEPS))
    params = planner_params(beta=2.0)
    state = agent.init(KEY0, LapseParams(params, 0.0))

    def log_prob(eps, obs, action):
        return agent.log_action_prob(state, obs, action, LapseParams(params, eps))

    grads = jax.vmap(jax.vmap(jax.grad(log_prob), (None, None, 0)), (None, 0, None))(
        jnp.float32(epsilon), jnp.arange(NUM_STATES), jnp.arange(NUM_ACTIONS)
    )
    log_pi = np.asarray(state.log_policy, np.float64)
    pi = np.exp(log_pi)
    mix = (1 - epsilon) * pi + epsilon / NUM_ACTIONS
    # The float32 rule takes exp of differences of log terms as large as
    # |log pi_mix| (about 8 roundings): each ratio has relative error
    # eps * (1 + |log pi_mix|), on terms of size (1 / A + pi) / mix.
    terms = (1 / NUM_ACTIONS + pi) / mix
    atol = rounding_atol(8, 1.0) * (1 + np.abs(np.log(mix))) * terms
    assert np.all(np.abs(grads - (1 / NUM_ACTIONS - pi) / mix) <= atol)


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_budget_agent_equals_each_budget_slice(soft):
    agent = BudgetAgent(MAX_BUDGET, soft=soft)
    params = budget_params(0, beta=1.5)
    state = agent.init(KEY0, params)
    mdp = goal_reward(params.world, GOAL, 10.0, 1.0)
    value_fn = (lambda q: soft_value(q, params.beta)) if soft else max_value
    planned = budget_limited_planning(mdp, 0.9, params.beta, MAX_BUDGET, value_fn)

    def table(budget):  # one plan, every budget read from it
        return all_log_probs(
            agent, state, eqx.tree_at(lambda p: p.budget, params, budget)
        )

    tables = jax.jit(jax.vmap(table))(jnp.arange(MAX_BUDGET + 1))
    np.testing.assert_array_equal(tables, planned.log_policies)
    # log_softmax of A zeros: a logsumexp of A terms, about A + 2 roundings.
    np.testing.assert_allclose(
        tables[0], -np.log(NUM_ACTIONS), rtol=rounding_rtol(NUM_ACTIONS + 2)
    )
    if not soft:  # budget K is K sweeps of value iteration: the Boltzmann agent
        boltzmann = BoltzmannAgent(MAX_BUDGET)
        base = planner_params(beta=1.5)
        expected = boltzmann.init(KEY0, base).log_policy
        tol = planning_tol(state.q_values, 1.5, sweeps=MAX_BUDGET)
        np.testing.assert_allclose(tables[MAX_BUDGET], expected, **tol)


def test_budget_out_of_range_is_an_error():
    agent = BudgetAgent(3)
    with pytest.raises(ValueError, match=r"`budget` must be in 0\.\.3.*got 4"):
        agent.init(KEY0, budget_params(4))
    plan = jax.jit(lambda budget: agent.init(KEY0, budget_params(budget)))
    for budget in (-1, 4):  # traced: the constructor cannot see the value
        with pytest.raises(Exception, match=r"`budget` must be in 0\.\.3"):
            jax.block_until_ready(plan(budget))
    state = agent.init(KEY0, budget_params(3))
    assert np.all(np.isneginf(agent.log_policy(state, 0, budget_params(4))))


def test_random_agent_and_off_range_inputs():
    agent = RandomAgent(NUM_ACTIONS)
    assert agent.init(KEY0, None) is None
    np.testing.assert_allclose(  # a log then an exp: two roundings
        jnp.exp(agent.log_policy(None, 3, None)), 1 / NUM_ACTIONS, rtol=rounding_rtol(2)
    )
    assert np.isneginf(agent.log_action_prob(None, 0, NUM_ACTIONS, None))
    assert np.isneginf(agent.log_action_prob(None, 0, -1, None))
    boltzmann, params = AGENTS["boltzmann"]
    state = boltzmann.init(KEY0, params)
    assert np.isneginf(boltzmann.log_action_prob(state, NUM_STATES, 0, params))
    assert np.isneginf(boltzmann.log_action_prob(state, -1, 0, params))


def test_reward_specifications_agree():
    world = open_grid(HEIGHT, WIDTH)
    is_goal = jnp.arange(NUM_STATES) == GOAL
    by_index = StateGoal(GOAL, 10.0, 1.0).apply(world)
    by_values = GoalValues(jnp.where(is_goal, 10.0, 0.0), is_goal, 1.0).apply(world)
    for a, b in zip(jax.tree.leaves(by_index), jax.tree.leaves(by_values), strict=True):
        np.testing.assert_array_equal(a, b)  # the same computation on the same values
    assert WorldReward().apply(world) is world
    features = arrival_features(world, jnp.eye(NUM_STATES)[:, [GOAL, 0]])
    linear = LinearReward(features, jnp.array([2.0, -1.0])).apply(world)
    expected = jnp.einsum(
        "sat,t->sa", world.transition, 2.0 * is_goal - (jnp.arange(12) == 0)
    )
    # Sums over S next states, then over F = 2 features, of terms at most 2.
    atol = rounding_atol(NUM_STATES + 2, 2.0)
    np.testing.assert_allclose(linear.reward, expected, rtol=0, atol=atol)
    np.testing.assert_array_equal(linear.terminal, world.terminal)


def test_population_by_vmap_over_goals_and_beta():
    agent = BoltzmannAgent(SWEEPS)
    goals = jnp.array([11, 0, 5])
    betas = jnp.array([0.5, 1.5, 4.0])

    @jax.jit
    def policies(goal, beta):
        params = planner_params(beta=beta, goal=goal)
        return agent.init(KEY0, params).log_policy

    batch = jax.vmap(policies)(goals, betas)
    for i in range(len(goals)):
        single = agent.init(KEY0, planner_params(float(betas[i]), int(goals[i])))
        tol = planning_tol(single.q_values, betas[i])
        np.testing.assert_allclose(batch[i], single.log_policy, **tol)


def test_bad_construction_is_explained():
    with pytest.raises(ValueError, match=r"`BoltzmannAgent.num_iterations` must be an"):
        BoltzmannAgent(0)
    with pytest.raises(TypeError, match="static Python int"):
        BudgetAgent(2.5)
    with pytest.raises(TypeError, match=r"BudgetParams: `budget` must be integer"):
        budget_params(1.5)
    with pytest.raises(ValueError, match=r"BudgetParams: `budget` must be >= 0"):
        budget_params(-1)
    with pytest.raises(TypeError, match=r"StateGoal: `goal_state` must be integer"):
        StateGoal(2.0)
    with pytest.raises(ValueError, match=r"StateGoal: `step_cost` must be >= 0.*-1"):
        StateGoal(2, 1.0, -1.0)
    with pytest.raises(ValueError, match=r"StateGoal: `goal_value` must be finite"):
        StateGoal(2, jnp.nan)
    with pytest.raises(TypeError, match="wraps an AbstractPolicyAgent"):
        LapseAgent(object())
    with pytest.raises(TypeError, match=r"LapseParams: `epsilon` must be floating"):
        LapseParams(None, 1)
    with pytest.raises(ValueError, match="need the same F"):
        LinearReward(jnp.ones((2, 2, 3)), jnp.ones(2))
    with pytest.raises(ValueError, match="must have one shape"):
        GoalValues(jnp.ones(3), jnp.ones(2, bool))
    with pytest.raises(ValueError, match=r"PlannerParams: `discount` must be in"):
        planner_params(discount=1.5)
    world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)), jnp.zeros(2, bool))
    with pytest.raises(ValueError, match="build the features"):
        LinearReward(jnp.ones((3, 1, 2)), jnp.ones(2)).apply(world)
    with pytest.raises(ValueError, match=r"StateGoal: `goal_state` holds 5.*0\.\.1"):
        StateGoal(5).apply(world)
    with pytest.raises(Exception, match=r"StateGoal: `goal_state` must be a state"):
        jax.block_until_ready(jax.jit(lambda g: StateGoal(g).apply(world).reward)(5))
    assert isinstance(PolicyState(jnp.zeros(1), jnp.zeros(1)), tuple)
