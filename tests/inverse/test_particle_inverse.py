"""Online particle inverse planning against exact inference on a fine beta grid.

The oracle is pinfer's exact filter (:func:`pinfer.inverse.goal_posterior`) over
goals x budgets x a fine quadrature grid of log beta carrying the log-normal prior's
weights, which integrates beta numerically. The particle filter is replicated over
seeds and every per-step estimate (goal and budget posteriors, beta mean) must lie
within a Bonferroni-corrected t-interval of its Monte-Carlo standard error. The
collapse case is a corridor that forks to two goals; the agent steps twice toward the
wrong one before turning back.
"""

import functools
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from docstring_examples import assert_examples_run
from grid_oracle import MOVES, grid_transition
from jaxpr_helpers import equations
from scipy import special, stats
from tolerances import rounding_atol

from pinfer.diagnostics import sbc
from pinfer.inverse import (
    InverseParticles,
    ParticleInverseResult,
    gibbs_goal_budget_move,
    goal_posterior,
    goal_q_tables,
    history_tables,
    log_beta_rwm_move,
    particle_inverse_init,
    particle_inverse_step,
    particle_posterior_samples,
    run_particle_inverse,
    uniform_prior,
)
from pinfer.inverse.particle_tables import interpolate
from pinfer.planning import TabularMDP

UP, DOWN, RIGHT = 0, 1, 3
DISCOUNT, GOAL_VALUE, STEP_COST = 0.95, 10.0, 1.0
FORK = [
    "#######A",
    "#######.",
    "#######.",
    "S.......",
    "#######.",
    "#######.",
    "#######B",
]


def layout_mdp(rows):
    """Deterministic grid moves; walls ('#') and edges block. Returns cell indices."""
    height, width = len(rows), len(rows[0])
    walls = np.array([[ch == "#" for ch in row] for row in rows])
    transition = grid_transition(height, width, walls, dtype=np.float32)
    cells = {
        ch: r * width + c for r, row in enumerate(rows) for c, ch in enumerate(row)
    }
    num_states = height * width
    mdp = TabularMDP(
        jnp.asarray(transition),
        jnp.zeros((num_states, len(MOVES))),
        jnp.zeros(num_states, bool),
    )
    return mdp, cells


def exact_summaries(q_tables, prior, states, actions, mask, num_grid=600):
    """Goal / budget posteriors and E[beta] per step, beta integrated on a grid."""
    loc, scale = float(prior.log_beta_loc), float(prior.log_beta_scale)
    log_beta = jnp.linspace(loc - 7 * scale, loc + 7 * scale, num_grid)
    betas = jnp.exp(log_beta)
    log_pi = jax.nn.log_softmax(
        betas[None, :, None, None, None] * q_tables[:, None], axis=-1
    )
    num_goals, _, num_budgets = log_pi.shape[:3]
    log_prior = (
        prior.log_goal[:, None, None]
        + (-0.5 * ((log_beta - loc) / scale) ** 2)[None, :, None]
        + prior.log_budget[None, None, :]
    )
    flat = log_pi.reshape(-1, *q_tables.shape[2:])
    result = goal_posterior(flat, log_prior.ravel(), states, actions, mask)
    post = jnp.exp(result.log_posterior).reshape(-1, num_goals, num_grid, num_budgets)
    beta_mean = jnp.sum(post.sum((1, 3)) * betas, axis=-1)
    return post.sum((2, 3)), post.sum((1, 2)), beta_mean


def simulate(key, q_tables, transition, goal, budget, beta, start, num_steps):
    """A Boltzmann agent acting on ``q_tables[goal, budget]`` for num_steps steps."""

    def body(state, key_t):
        action = jax.random.categorical(key_t, beta * q_tables[goal, budget, state])
        return jnp.argmax(transition[state, action]), (state, action)

    _, (states, actions) = jax.lax.scan(body, start, jax.random.split(key, num_steps))
    return states, actions


def replicated(num_particles, **kwargs):
    run = functools.partial(run_particle_inverse, num_particles=num_particles, **kwargs)
    return jax.jit(jax.vmap(run, in_axes=(0, None, 0, 0, 0, None)))


# ------------------------------------------------ 16 goals x 10 budgets x beta

GRID_SIZE, NUM_GOALS, BUDGETS, NUM_STEPS = 6, 16, tuple(range(10)), 12
NUM_REPLICATES, NUM_PARTICLES = 32, 200


@pytest.fixture(scope="module")
def big_problem():
    mdp, _ = layout_mdp(["." * GRID_SIZE] * GRID_SIZE)
    rng = np.random.default_rng(0)
    goals = jnp.asarray(rng.choice(GRID_SIZE**2, NUM_GOALS, replace=False))
    q_tables = goal_q_tables(
        mdp,
        goals,
        DISCOUNT,
        budgets=BUDGETS,
        goal_value=GOAL_VALUE,
        step_cost=STEP_COST,
    )
    prior = uniform_prior(NUM_GOALS, len(BUDGETS), 0.0, 1.0)
    truths = [(3, 6, 2.0, 0), (11, 2, 0.7, 20)]  # goal, budget index, beta, start
    keys = jax.random.split(jax.random.key(1), len(truths))
    trajectories = [
        simulate(key, q_tables, mdp.transition, g, k, b, jnp.int32(s), NUM_STEPS)
        for key, (g, k, b, s) in zip(keys, truths, strict=True)
    ]
    states = jnp.stack([s for s, _ in trajectories])
    actions = jnp.stack([a for _, a in trajectories])
    mask = jnp.ones(states.shape, bool).at[1, -3:].set(False)  # padded tail
    return q_tables, prior, states, actions, mask


COARSE_GRID = jnp.array([-2.0, 2.0])  # log beta: a poor proposal, corrected


@pytest.fixture(scope="module", params=["default", "every step, coarse grid"])
def big_result(request, big_problem):
    """The filter replicated over seeds: by default, and rejuvenating at every step
    with a 2-value grid (the (goal, budget) proposals are off; only the Metropolis
    correction keeps the posterior invariant)."""
    q_tables, prior, states, actions, mask = big_problem
    kwargs = {}
    if request.param != "default":
        kwargs = {"ess_threshold": 1.0, "log_beta_grid": COARSE_GRID}
    run = replicated(NUM_PARTICLES, **kwargs)
    keys = jax.random.split(jax.random.key(2), NUM_REPLICATES * states.shape[0])
    tile = functools.partial(jnp.repeat, repeats=NUM_REPLICATES, axis=0)
    result = run(keys, q_tables, tile(states), tile(actions), tile(mask), prior)
    return request.param, result


def test_matches_exact_posterior_within_monte_carlo_error(big_problem, big_result):
    q_tables, prior, states, actions, mask = big_problem
    setting, result = big_result
    num_traj = states.shape[0]
    assert isinstance(result, ParticleInverseResult)
    assert result.goal_posterior.shape == (
        NUM_REPLICATES * num_traj,
        NUM_STEPS + 1,
        NUM_GOALS,
    )
    exact = [
        exact_summaries(q_tables, prior, states[i], actions[i], mask[i])
        for i in range(num_traj)
    ]
    estimates = (result.goal_posterior, result.budget_posterior, result.beta_mean)
    num_tests = sum(np.asarray(e[0]).size for e in estimates)
    crit = stats.t.ppf(1 - 1e-3 / (2 * num_tests), NUM_REPLICATES - 1)
    moved = 0.0
    for i in range(num_traj):
        for k, (estimate, truth) in enumerate(zip(estimates, exact[i], strict=True)):
            runs = np.asarray(estimate, np.float64).reshape(
                num_traj, NUM_REPLICATES, *estimate.shape[1:]
            )[i]
            mean = runs.mean(0)
            se = runs.std(0, ddof=1) / np.sqrt(NUM_REPLICATES)
            if k < 2:
                # A mass so small that every replicate misses it has sample sd 0;
                # floor the error at that of N R independent draws (binomial).
                p = np.clip(np.asarray(truth, np.float64), 0.0, 1.0)
                binomial = np.sqrt(p * (1 - p) / (NUM_PARTICLES * NUM_REPLICATES))
                se = np.maximum(se, binomial)
            # Plus the float32 rounding of T normalised steps of the exact filter.
            atol = rounding_atol(NUM_STEPS + 1, 1.0)
            np.testing.assert_array_less(np.abs(mean - truth), crit * se + atol)
        moved = max(moved, float(exact[i][0][-1].max()))
    assert moved > 0.5  # not vacuous: the goal posterior concentrates
    # 200 particles for 160 (goal, budget) pairs x continuous beta; it resampled.
    assert bool(result.resampled.any())
    if setting != "default":
        assert bool(result.resampled[:NUM_REPLICATES].all())
    assert not bool(result.resampled[NUM_REPLICATES:, -3:].any())  # padding
    assert (np.asarray(result.failed_step) == -1).all()


def test_running_tables_equal_rescoring_from_scratch(big_problem, big_result):
    q_tables, prior, states, actions, mask = big_problem
    final = big_result[1].final_state
    for i in range(states.shape[0]):
        row = i * NUM_REPLICATES  # the tables do not depend on the particles
        grid = final.log_beta_grid[row]
        scratch = history_tables(q_tables, states[i], actions[i], mask[i], grid)
        # Two summation orders of T float32 terms, each a log-softmax of A terms of
        # magnitude <= beta max|Q| (Higham's gamma_n, tests/tolerances.py).
        q = np.abs(np.asarray(q_tables, np.float64)[:, :, np.asarray(states[i])])
        q_max = np.where(np.asarray(mask[i]), q.max(-1), 0.0).sum(-1)  # [G, K]
        beta = np.exp(np.asarray(grid, np.float64))
        scale = 2 * q_max[..., None] * beta + NUM_STEPS * np.log(q.shape[-1])
        atol = rounding_atol(NUM_STEPS + q.shape[-1] + 4, 1.0) * scale
        for running, reference in (
            (final.log_lik_table[row], scratch.log_lik_table),
            (final.log_lik_slope[row], scratch.log_lik_slope),
        ):
            np.testing.assert_array_less(
                np.abs(np.asarray(running, np.float64) - np.asarray(reference)), atol
            )
        assert float(np.abs(scratch.log_lik_table).max()) > 1.0  # not all zero


def test_goal_budget_move_leaves_its_conditional_invariant(big_problem):
    """Draws from the exact p(g, k | beta, history) stay so distributed after the
    table-proposed, Metropolis-corrected move (chi-square), with beta off the grid
    and a grid so coarse that the uncorrected proposal would fail the test."""
    q_tables, prior, states, actions, mask = big_problem
    history = history_tables(q_tables, states[0], actions[0], mask[0], COARSE_GRID)
    log_beta, num_draws = 0.7, 20_000
    q = np.asarray(q_tables, np.float64)[:, :, np.asarray(states[0])]  # [G, K, T, A]
    z = np.exp(log_beta) * q
    taken = np.take_along_axis(z, np.asarray(actions[0])[None, None, :, None], -1)
    log_lik = (taken[..., 0] - special.logsumexp(z, axis=-1)).sum(-1)  # all observed
    exact = special.softmax(log_lik.ravel())
    key_draw, key_move = jax.random.split(jax.random.key(9))
    flat = jax.random.choice(key_draw, exact.size, (num_draws,), p=jnp.asarray(exact))
    particles = InverseParticles(
        (flat // len(BUDGETS)).astype(jnp.int32),
        (flat % len(BUDGETS)).astype(jnp.int32),
        jnp.full(num_draws, log_beta),
    )
    moved, rate = jax.jit(gibbs_goal_budget_move)(key_move, particles, history, prior)
    after = np.asarray(moved.goal * len(BUDGETS) + moved.budget)
    counts = np.bincount(after, minlength=exact.size)
    expected = num_draws * exact
    big = expected >= 5  # pool the rest into one cell
    observed = np.append(counts[big], counts[~big].sum())
    pooled = np.append(expected[big], expected[~big].sum())
    p_value = stats.chisquare(observed, pooled).pvalue
    assert p_value > 1e-3, p_value
    assert 0.05 < float(rate) < 0.95  # it moves, and it rejects
    # Power: draws from the interpolated proposal itself (no correction) would give
    # a statistic far above the critical value.
    approx = np.asarray(
        interpolate(
            history.log_lik_table, history.log_lik_slope, COARSE_GRID, log_beta
        ),
        np.float64,
    ).ravel()
    proposal = special.softmax(approx)
    shift = num_draws * np.append(proposal[big], proposal[~big].sum())
    noncentral = np.sum((shift - pooled) ** 2 / pooled)
    assert noncentral > 10 * stats.chi2.ppf(1 - 1e-3, observed.size - 1)


# --------------------------------------------------------------- collapse case


@pytest.fixture(scope="module")
def fork():
    mdp, cells = layout_mdp(FORK)
    goals = jnp.array([cells["A"], cells["B"]])
    q_tables = goal_q_tables(
        mdp,
        goals,
        DISCOUNT,
        num_iterations=30,
        goal_value=GOAL_VALUE,
        step_cost=STEP_COST,
    )
    actions = [RIGHT] * 7 + [DOWN] * 2 + [UP] * 2 + [UP] * 3  # to A, via a detour
    states, state = [], cells["S"]
    for a in actions:
        states.append(state)
        state = int(np.argmax(np.asarray(mdp.transition[state, a])))
    assert state == cells["A"]
    prior = uniform_prior(2, 1, 0.5, 0.75)
    return q_tables, prior, jnp.array(states), jnp.array(actions)


def test_collapse_plain_resampling_vs_rejuvenation(fork):
    q_tables, prior, states, actions = fork
    mask = jnp.ones(actions.shape, bool)
    exact_goal = np.asarray(exact_summaries(q_tables, prior, states, actions, mask)[0])
    assert exact_goal[9, 0] < 1e-3 and exact_goal[-1, 0] > 0.99  # dip, then recovery
    num_seeds, num_particles = 200, 50
    keys = jax.random.split(jax.random.key(3), num_seeds)
    tile = functools.partial(jnp.repeat, repeats=num_seeds, axis=0)
    data = (tile(states[None]), tile(actions[None]), tile(mask[None]))
    final_mass = {}
    for name, moves in [
        ("plain", ()),
        ("beta only", (log_beta_rwm_move,)),
        ("pinfer", None),
    ]:
        kwargs = {} if moves is None else {"moves": moves}
        result = replicated(num_particles, **kwargs)(keys, q_tables, *data, prior)
        final_mass[name] = np.asarray(result.goal_posterior[:, -1, 0])
    collapsed = {name: float(np.mean(m < 0.01)) for name, m in final_mass.items()}
    # Measured (200 seeds, 50 particles): plain and beta-only collapse in ~2/3 of
    # the seeds (mean final mass on the true goal ~0.37 vs exact 0.9994); pinfer's
    # (goal, budget) move recovers in every seed (mean ~0.9996).
    assert collapsed["plain"] > 0.3 and collapsed["beta only"] > 0.3
    assert collapsed["pinfer"] <= 0.01
    close = np.abs(final_mass["pinfer"] - exact_goal[-1, 0]) < 0.05
    assert close.mean() >= 0.99


# ---------------------------------------------------------------------- SBC

SBC_GOALS, SBC_BUDGETS, SBC_STEPS = 3, (1, 3, 6), 12


@pytest.mark.slow
def test_sbc_of_beta_goal_and_budget():
    mdp, cells = layout_mdp(["S...", "..#.", "....", "...."])
    goals = jnp.array([3, 12, 15])
    q_tables = goal_q_tables(
        mdp,
        goals,
        DISCOUNT,
        budgets=SBC_BUDGETS,
        goal_value=GOAL_VALUE,
        step_cost=STEP_COST,
    )
    prior = uniform_prior(SBC_GOALS, len(SBC_BUDGETS), 0.0, 1.0)
    mask = jnp.ones(SBC_STEPS, bool)
    start = jnp.int32(cells["S"])

    def prior_sample(key):
        return particle_inverse_init(key, q_tables, 1, 1, prior).particles

    def simulate_fn(key, theta):
        goal, budget, log_beta = (leaf[0] for leaf in theta)
        return simulate(
            key,
            q_tables,
            mdp.transition,
            goal,
            budget,
            jnp.exp(log_beta),
            start,
            SBC_STEPS,
        )

    def posterior_fn(filter_prior):
        def sample(key, data, num_samples):
            key_run, key_draw = jax.random.split(key)
            result = run_particle_inverse(
                key_run, q_tables, *data, mask, filter_prior, num_particles=200
            )
            draws = particle_posterior_samples(
                key_draw, result.final_state, num_samples
            )
            return jax.tree.map(lambda leaf: leaf[:, None], draws)

        return sample

    def run_sbc(filter_prior):
        return sbc(
            jax.random.key(4),
            prior_sample,
            simulate_fn,
            posterior_fn(filter_prior),
            num_simulations=200,
            num_posterior_samples=49,
            num_bins=10,
        )

    result = run_sbc(prior)
    # Coordinates: goal, budget, log beta. Bonferroni over three at 1e-3.
    assert result.ranks.shape == (200, 3)
    assert float(result.p_value.min()) > 1e-3 / 3, result.p_value
    # The test has power: a filter whose beta prior is off by 1.5 fails it.
    wrong = prior._replace(log_beta_loc=jnp.asarray(1.5))
    assert float(run_sbc(wrong).p_value[2]) < 1e-3


# ------------------------------------------------------------ the contracts

TRACES = {"count": 0}


def _counted(key, q_tables, states, actions, mask, prior):
    TRACES["count"] += 1
    return run_particle_inverse(
        key, q_tables, states, actions, mask, prior, num_particles=64
    )


counted = jax.jit(_counted)


def test_compiles_once_deterministic_and_streaming_matches_driver(fork):
    q_tables, prior, states, actions = fork
    mask = jnp.ones(actions.shape, bool)
    key = jax.random.key(5)
    first = counted(key, q_tables, states, actions, mask, prior)
    second = counted(key, q_tables, states, actions, mask, prior)
    counted(jax.random.key(6), q_tables, states, actions, mask, prior)
    assert TRACES["count"] == 1
    jax.tree.map(np.testing.assert_array_equal, first, second)

    key_init, key_steps = jax.random.split(key)
    state = particle_inverse_init(key_init, q_tables, 64, actions.shape[0], prior)
    step = jax.jit(particle_inverse_step)
    keys = jax.random.split(key_steps, len(actions))
    for key_t, s_t, a_t in zip(keys, states, actions, strict=True):
        state, info = step(key_t, state, s_t, a_t, q_tables, prior)

    def close(streamed, driven):
        # The step compiled alone and inside the driver's scan: the same sums in
        # other orders. Each of the T steps adds into a leaf at most a log-sum-exp
        # over the N = 64 particles, so T * 64 roundings of the leaf's magnitude.
        scale = 1.0 + float(np.nanmax(np.abs(np.asarray(driven, float)), initial=0))
        atol = rounding_atol(len(actions) * 64, scale)
        np.testing.assert_allclose(streamed, driven, rtol=0, atol=atol)

    jax.tree.map(close, state, first.final_state)
    assert info.move_rates.shape == (2,)


def test_no_float_scatter_add(fork):
    # A float scatter-add runs as atomics on a GPU, whose summation order changes
    # from run to run: the goal and budget marginals were one, and the same key gave
    # results differing in the last bit there. They are masked reductions now.
    q_tables, prior, states, actions = fork
    mask = jnp.ones(actions.shape, bool)
    jaxpr = jax.make_jaxpr(_counted)(
        jax.random.key(5), q_tables, states, actions, mask, prior
    )
    float_scatters = [
        eqn
        for eqn, _ in equations(jaxpr.jaxpr)
        if eqn.primitive.name == "scatter-add"
        and jnp.issubdtype(eqn.outvars[0].aval.dtype, jnp.floating)
        and not eqn.params["unique_indices"]  # one update per element: no race
    ]
    assert float_scatters == []


def test_padded_steps_are_skipped(fork):
    q_tables, prior, states, actions = fork
    mask = jnp.arange(actions.shape[0]) < 9
    key = jax.random.key(7)
    result = counted(key, q_tables, states, actions, mask, prior)
    garbage = counted(
        key,
        q_tables,
        jnp.where(mask, states, 0),
        jnp.where(mask, actions, 2),
        mask,
        prior,
    )
    jax.tree.map(np.testing.assert_array_equal, result, garbage)
    held = np.broadcast_to(result.goal_posterior[9], (actions.shape[0] - 8, 2))
    np.testing.assert_array_equal(result.goal_posterior[9:], held)
    assert int(result.final_state.num_observed) == 9


def test_float64_and_impossible_action_is_held_not_nan():
    q_tables = jnp.zeros((2, 1, 2, 2)).at[0, 0, :, 1].set(-jnp.inf)
    q_tables = q_tables.at[1, 0, :, 1].set(-jnp.inf)  # action 1 is impossible
    prior = uniform_prior(2, 1)
    args = (jnp.zeros(3, int), jnp.array([0, 1, 0]), jnp.ones(3, bool), prior)
    with jax.enable_x64(True):
        result = run_particle_inverse(
            jax.random.key(0), q_tables.astype(jnp.float64), *args, num_particles=16
        )
        assert result.goal_posterior.dtype == jnp.float64
        assert result.final_state.particles.log_beta.dtype == jnp.float64
    assert (
        np.isfinite(result.log_evidence[1])
        and np.isneginf(result.log_evidence[2:]).all()
    )
    assert not np.isnan(np.asarray(result.goal_posterior)).any()
    held = np.broadcast_to(result.goal_posterior[1], (2, 2))
    np.testing.assert_array_equal(result.goal_posterior[2:], held)


def test_bad_input_raises():
    prior = uniform_prior(2, 1)
    q_tables = jnp.zeros((2, 1, 3, 2))
    data = (jnp.zeros(4, int), jnp.zeros(4, int), jnp.ones(4, bool))
    with pytest.raises(ValueError, match=r"`q_tables` must have 4 dim"):
        run_particle_inverse(
            jax.random.key(0), q_tables[0], *data, prior, num_particles=8
        )
    with pytest.raises(ValueError, match=r"`prior.log_goal` must have shape \[2\]"):
        run_particle_inverse(
            jax.random.key(0), q_tables, *data, uniform_prior(3, 1), num_particles=8
        )
    with pytest.raises(ValueError, match="One trajectory"):
        run_particle_inverse(
            jax.random.key(0),
            q_tables,
            data[0],
            data[1][:3],
            data[2],
            prior,
            num_particles=8,
        )
    with pytest.raises(ValueError, match="`num_particles` must be an int >= 1, got 0"):
        particle_inverse_init(jax.random.key(0), q_tables, 0, 4, prior)
    with pytest.raises(ValueError, match="`log_beta_scale` must be > 0.0, got 0.0"):
        uniform_prior(2, 1, 0.0, 0.0)


@pytest.mark.parametrize("module", ["particle", "particle_moves", "particle_step"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"pinfer.inverse.{module}")
    assert_examples_run(
        mod,
        TabularMDP=TabularMDP,
        uniform_prior=uniform_prior,
        InverseParticles=InverseParticles,
    )
