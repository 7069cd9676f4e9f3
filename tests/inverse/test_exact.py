"""Exact inverse planning against a brute-force enumeration written here.

The oracle shares nothing with pinfer: random gridworld layouts (walls, slippery
moves), its own value iteration (NumPy loops over states and actions), its own
Boltzmann agent to sample trajectories, and a posterior recomputed from scratch for
every prefix of every trajectory (loops over hypotheses and steps, no cumulative
sums). pinfer runs vmapped over layouts and padded trajectories, in float32 and in
float64.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from docstring_examples import assert_examples_run
from grid_oracle import MOVES, grid_transition
from tolerances import rounding_atol

import pinfer.inverse
from pinfer.inverse import (
    check_trajectories,
    goal_log_policies,
    goal_posterior,
    infer_goals,
)
from pinfer.planning import TabularMDP, greedy_policy, value_iteration

HEIGHT, WIDTH, NUM_GOALS, MAX_STEPS = 4, 5, 3, 9
NUM_LAYOUTS, NUM_TRAJECTORIES = 3, 4
BETAS = (0.5, 2.0)
BUDGETS = (0, 1, 3, 6)
DISCOUNT, GOAL_VALUE, STEP_COST, SWEEPS = 0.9, 5.0, 0.5, 30


# ---------------------------------------------------------------- the oracle


def random_layout(rng, slip):
    """Random walls; a move goes where intended with 1 - slip, else a random way."""
    walls = rng.random((HEIGHT, WIDTH)) < 0.2
    transition = grid_transition(HEIGHT, WIDTH, walls, slip)
    free = np.flatnonzero(~walls.ravel())
    goals = rng.choice(free, NUM_GOALS, replace=False)
    return transition, goals, free


def brute_q(transition, goal, sweeps):
    """``sweeps`` sweeps of hard value iteration for one goal, from V = 0."""
    num_states, num_actions = transition.shape[:2]
    values = np.zeros(num_states)
    q = np.zeros((num_states, num_actions))
    for _ in range(sweeps):
        q = np.zeros((num_states, num_actions))
        for s in range(num_states):
            if s == goal:
                continue  # the goal is terminal: Q = 0
            for a in range(num_actions):
                expected = 0.0
                for s2 in range(num_states):
                    if s2 != goal:
                        expected += transition[s, a, s2] * values[s2]
                bonus = GOAL_VALUE * transition[s, a, goal] - STEP_COST
                q[s, a] = bonus + DISCOUNT * expected
        values = q.max(axis=1)
    return q


def log_softmax(x):
    top = x.max(axis=-1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=-1, keepdims=True))


def brute_policies(transition, goals, budgets):
    """``{(g, b, k): log-policy [S, A]}`` over the hypothesis grid."""
    sweeps = [SWEEPS] if budgets is None else list(budgets)
    out = {}
    for g, goal in enumerate(goals):
        for k, n in enumerate(sweeps):
            q = brute_q(transition, goal, n)
            for b, beta in enumerate(BETAS):
                out[g, b, k] = log_softmax(beta * q)
    return out


def brute_posterior(policies, log_prior, transition, states, actions, mask):
    """Posterior and evidence after every prefix, each recomputed from scratch."""
    keys = list(policies)
    num_steps = len(actions)
    log_post = np.zeros((num_steps + 1, *log_prior.shape))
    log_evidence = np.zeros(num_steps + 1)
    for t in range(num_steps + 1):
        joint = {}
        for h in keys:
            total = log_prior[h]
            for tau in range(t):
                if mask[tau]:
                    s, a, s2 = states[tau], actions[tau], states[tau + 1]
                    total += policies[h][s, a] + math.log(transition[s, a, s2])
            joint[h] = total
        norm = np.logaddexp.reduce([joint[h] for h in keys])
        log_evidence[t] = norm - np.logaddexp.reduce(log_prior.ravel())
        for h in keys:
            log_post[(t, *h)] = joint[h] - norm
    return log_post, log_evidence


def sample_trajectory(rng, transition, policy, goal, free):
    """A Boltzmann agent from a random start until it reaches its goal."""
    states = np.zeros(MAX_STEPS + 1, int)
    actions = np.zeros(MAX_STEPS, int)
    mask = np.zeros(MAX_STEPS, bool)
    states[0] = rng.choice(free[free != goal])
    for t in range(MAX_STEPS):
        s = states[t]
        if s == goal:
            states[t + 1 :] = -1  # padding, never read
            break
        actions[t] = rng.choice(len(MOVES), p=np.exp(policy[s]))
        states[t + 1] = rng.choice(transition.shape[0], p=transition[s, actions[t]])
        mask[t] = True
    return states, actions, mask


@pytest.fixture(scope="module", params=[None, BUDGETS], ids=["vi", "budgets"])
def problem(request):
    budgets = request.param
    rng = np.random.default_rng(0 if budgets is None else 1)
    layouts = []
    for i in range(NUM_LAYOUTS):
        transition, goals, free = random_layout(rng, slip=0.0 if i == 0 else 0.2)
        policies = brute_policies(transition, goals, budgets)
        log_prior = np.log(rng.dirichlet(np.ones(len(policies)))).reshape(
            NUM_GOALS, len(BETAS), -1
        )
        trajectories = []
        for _ in range(NUM_TRAJECTORIES):
            h = list(policies)[rng.integers(len(policies))]
            goal = goals[h[0]]
            trajectories.append(
                sample_trajectory(rng, transition, policies[h], goal, free)
            )
        states, actions, mask = map(np.stack, zip(*trajectories, strict=True))
        expected = [
            brute_posterior(policies, log_prior, transition, s, a, m)
            for s, a, m in trajectories
        ]
        layouts.append(
            dict(
                transition=transition,
                goals=goals,
                log_prior=log_prior,
                states=states,
                actions=actions,
                mask=mask,
                log_post=np.stack([e[0] for e in expected]),
                log_evidence=np.stack([e[1] for e in expected]),
            )
        )
    return budgets, {k: np.stack([lay[k] for lay in layouts]) for k in layouts[0]}


# ---------------------------------------------------------------- pinfer


def run_pinfer(transition, goals, betas, states, actions, mask, log_prior, budgets):
    num_states = transition.shape[0]
    mdp = TabularMDP(
        transition,
        jnp.zeros((num_states, len(MOVES)), transition.dtype),
        jnp.zeros(num_states, bool),
    )
    return infer_goals(
        mdp,
        goals,
        betas,
        DISCOUNT,
        states,
        actions,
        mask,
        log_prior,
        budgets=budgets,
        num_iterations=SWEEPS,
        goal_value=GOAL_VALUE,
        step_cost=STEP_COST,
    )


per_trajectory = jax.vmap(run_pinfer, in_axes=(None, None, None, 0, 0, 0, None, None))
per_layout = jax.vmap(per_trajectory, in_axes=(0, 0, None, 0, 0, 0, 0, None))
batched = jax.jit(per_layout, static_argnums=7)


def as_inputs(data, dtype):
    return (
        jnp.asarray(data["transition"], dtype),
        jnp.asarray(data["goals"]),
        jnp.asarray(BETAS, dtype),
        jnp.asarray(data["states"]),
        jnp.asarray(data["actions"]),
        jnp.asarray(data["mask"]),
        jnp.asarray(data["log_prior"], dtype),
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_equals_brute_force_enumeration(problem, dtype):
    budgets, data = problem
    with jax.enable_x64(dtype == jnp.float64):
        result = batched(*as_inputs(data, dtype), budgets)
        assert result.log_posterior.dtype == dtype
    posterior = np.exp(np.asarray(result.log_posterior, np.float64))
    expected = np.exp(data["log_post"])
    # Rounding: the dependent chain is the value-iteration sweeps, then a prefix sum
    # over the steps and a logsumexp over the hypotheses; the terms are log-policy
    # entries of size up to beta * |Q| (|Q| <= GOAL_VALUE + STEP_COST / (1 - gamma)).
    num_ops = SWEEPS + MAX_STEPS + expected[0, 0, 0].size
    scale = max(BETAS) * (GOAL_VALUE + STEP_COST / (1 - DISCOUNT))
    atol = rounding_atol(num_ops, scale, dtype)
    np.testing.assert_allclose(posterior, expected, rtol=0, atol=atol)
    goal_marginal = expected.reshape(*expected.shape[:4], -1).sum(-1)
    np.testing.assert_allclose(
        np.exp(np.asarray(result.log_goal_posterior, np.float64)),
        goal_marginal,
        atol=atol,
    )
    # The evidence sums MAX_STEPS such log-likelihoods.
    np.testing.assert_allclose(
        result.log_evidence, data["log_evidence"], rtol=0, atol=MAX_STEPS * atol
    )
    # Not vacuous: the goal posteriors move far from the prior.
    prior_goal = np.exp(data["log_prior"]).reshape(NUM_LAYOUTS, 1, NUM_GOALS, -1)
    assert np.abs(goal_marginal[:, :, -1] - prior_goal.sum(-1)).max() > 0.3


def test_vmapped_padded_equals_single_trajectories(problem):
    budgets, data = problem
    transition, goals, betas, states, actions, mask, log_prior = as_inputs(
        data, jnp.float32
    )
    result = batched(
        transition, goals, betas, states, actions, mask, log_prior, budgets
    )
    # A few trajectories: each length compiles anew.
    single_fn = jax.jit(run_pinfer, static_argnums=7)
    for i, j in ((0, 0), (0, 1), (1, 0), (2, 3)):
        length = int(data["mask"][i, j].sum())
        single = single_fn(
            transition[i],
            goals[i],
            betas,
            states[i, j, : length + 1],
            actions[i, j, :length],
            mask[i, j, :length],
            log_prior[i],
            budgets,
        )
        padded = result.log_posterior[i, j]
        # Two orders of one filter: a prefix sum over the steps and a logsumexp
        # over the hypotheses, of log-probabilities as large as those compared.
        finite = np.asarray(single.log_posterior)
        scale = np.abs(finite[np.isfinite(finite)]).max()
        atol = rounding_atol(MAX_STEPS + finite[0].size, float(scale))
        np.testing.assert_allclose(
            padded[: length + 1], single.log_posterior, rtol=0, atol=atol
        )
        # Padded steps leave the posterior and the evidence where they were.
        np.testing.assert_array_equal(
            padded[length:], np.broadcast_to(padded[length], padded[length:].shape)
        )
        evidence = result.log_evidence[i, j]
        np.testing.assert_array_equal(evidence[length:], evidence[length])


def test_compiles_once_per_shape():
    traces = []

    def counted(*args):
        traces.append(None)
        return per_trajectory(*args, None)

    fn = jax.jit(counted)
    rng = np.random.default_rng(5)
    transition, goals, free = random_layout(rng, 0.1)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        states = rng.choice(free, (2, MAX_STEPS + 1))
        actions = rng.integers(0, len(MOVES), (2, MAX_STEPS))
        mask = rng.random((2, MAX_STEPS)) < 0.8
        fn(
            jnp.asarray(transition, jnp.float32),
            jnp.asarray(goals),
            jnp.asarray(BETAS),
            jnp.asarray(states),
            jnp.asarray(actions),
            jnp.asarray(mask),
            jnp.zeros((NUM_GOALS, len(BETAS), 1)),
        )
    assert len(traces) == 1


@pytest.fixture(scope="module")
def corridor():
    """Cells 0-1-2-3-4 on a line, actions left / right / stay, goals at both ends."""
    moves = np.array([[0, 1, 0], [0, 2, 1], [1, 3, 2], [2, 4, 3], [3, 4, 4]])
    transition = jnp.eye(5)[moves]
    mdp = TabularMDP(transition, jnp.zeros((5, 3)), jnp.zeros(5, bool))
    return mdp, jnp.array([0, 4])


def test_impossible_move_is_reported_and_never_nan(corridor):
    mdp, goals = corridor
    # Trajectory 1 jumps from cell 1 to cell 3 at step 1 (through a "wall").
    states = jnp.array([[2, 3, 4, 4], [2, 1, 3, 4]])
    actions = jnp.array([[1, 1, 0], [0, 1, 1]])
    mask = jnp.array([[True, True, False], [True, True, True]])
    check_trajectories((states[:1], actions[:1], mask[:1]), world=mdp)
    with pytest.raises(
        ValueError,
        match=r"trajectory 1, step 1: the move from state 1 to state 3 with action "
        r"'right' \(1\) has probability 0",
    ):
        check_trajectories(
            (states, actions, mask), world=mdp, action_names=["left", "right", "stay"]
        )
    run = jax.vmap(
        lambda s, a, m: infer_goals(
            mdp, goals, jnp.array([1.0, 3.0]), 0.9, s, a, m, goal_value=5.0
        )
    )
    result = run(states, actions, mask)
    assert not np.isnan(np.asarray(result.log_posterior)).any()
    assert not np.isnan(np.asarray(result.log_evidence)).any()
    evidence = np.asarray(result.log_evidence[1])
    assert np.isfinite(evidence[:2]).all() and np.isneginf(evidence[2:]).all()
    posterior = np.asarray(result.log_posterior[1])
    # After the impossible step the posterior stays at the belief before it.
    np.testing.assert_array_equal(
        posterior[2:], np.broadcast_to(posterior[1], posterior[2:].shape)
    )
    # A normalised row: a logsumexp over the H hypotheses of log-probabilities.
    atol = rounding_atol(posterior.shape[1], float(np.abs(posterior[1]).max()))
    np.testing.assert_allclose(jax.nn.logsumexp(posterior[1]), 0.0, atol=atol)
    assert np.isfinite(np.asarray(result.log_evidence[0])).all()
    np.testing.assert_array_equal(result.failed_step, [-1, 1])


def test_action_excluded_by_every_hypothesis(corridor):
    mdp, goals = corridor
    q = jax.vmap(
        lambda g: (
            value_iteration(
                TabularMDP(mdp.transition, 5.0 * mdp.transition[:, :, g], mdp.terminal),
                0.9,
                10,
            ).q_values
        )
    )(goals)
    greedy = greedy_policy(q)  # -inf off the best action; "stay" is never best
    # Step 0 moves right (only goal 4 allows it), step 1 stays.
    states, actions = jnp.array([2, 3]), jnp.array([1, 2])
    with pytest.raises(
        ValueError,
        match="step 1: action 2 in state 3 has probability 0 under every hypothesis",
    ):
        check_trajectories((states, actions), world=mdp, log_policies=greedy)
    result = goal_posterior(greedy, jnp.zeros(2), states, actions, jnp.ones(2, bool))
    assert not np.isnan(np.asarray(result.log_posterior)).any()
    # One hypothesis left: its posterior is exactly 1, the other's exactly 0.
    np.testing.assert_array_equal(np.exp(result.log_posterior[1]), [0.0, 1.0])
    np.testing.assert_array_equal(result.log_posterior[2], result.log_posterior[1])
    assert np.isneginf(result.log_evidence[2])


def test_gradient_in_beta_is_finite(corridor):
    mdp, goals = corridor

    def log_evidence(beta):
        result = infer_goals(
            mdp,
            goals,
            beta[None],
            0.9,
            jnp.array([2, 3, 4]),
            jnp.array([1, 1]),
            jnp.array([True, True]),
            goal_value=5.0,
        )
        return result.log_evidence[-1]

    grad = jax.grad(log_evidence)(jnp.array(1.0))
    assert np.isfinite(grad) and grad > 0  # moving straight to a goal favours beta


def test_bad_inputs_are_reported(corridor):
    mdp, goals = corridor
    args = (jnp.array([2, 3, 4]), jnp.array([1, 1]), jnp.ones(2, bool))
    with pytest.raises(ValueError, match=r"`log_prior` must have shape \[2, 2, 1\]"):
        infer_goals(mdp, goals, jnp.ones(2), 0.9, *args, jnp.zeros((2, 1, 1)))
    with pytest.raises(
        ValueError, match=r"`goal_states` holds 7 at position 1, which is not a state"
    ):
        infer_goals(mdp, jnp.array([0, 7]), jnp.ones(1), 0.9, *args)
    with pytest.raises(ValueError, match=r"`states` must have shape \[3\]"):
        infer_goals(mdp, goals, jnp.ones(1), 0.9, jnp.zeros(5, int), *args[1:])
    with pytest.raises(ValueError, match=r"`budgets\[1\]` must be an int >= 0"):
        infer_goals(mdp, goals, jnp.ones(1), 0.9, *args, budgets=(2, -1))
    with pytest.raises(ValueError, match="jax.vmap over layouts"):
        batch = jax.tree.map(lambda x: jnp.stack([x, x]), mdp)
        goal_log_policies(batch, goals, jnp.ones(1), 0.9)
    with pytest.raises(
        ValueError,
        match=r"`states` holds 9 at step 0 \(its next "
        r"state\), which is not a state in 0..4",
    ):
        check_trajectories((jnp.array([2, 9]), jnp.array([1])), world=mdp)


@pytest.mark.parametrize(
    "module", ["exact", "filtering", "hypotheses", "checks", "reward"]
)
def test_docstring_examples(module):
    mod = getattr(pinfer.inverse, module)
    assert_examples_run(mod, TabularMDP=TabularMDP)
