"""The model of online particle inverse planning and its rejuvenation moves.

A particle is a hypothesis ``(goal g, budget k, log beta)``. The agent plans with a
hard-max planner, so its Q-values depend on the goal and the budget but not on its
rationality, and it acts Boltzmann-rationally on them::

    Q[g, k]              = Q-values after k sweeps of value iteration for goal g
                           (computed once: goal_q_tables)
    log pi(a | s; g,k,b) = b Q[g, k, s, a] - logsumexp_a' b Q[g, k, s, a']
    prior                = p(g) p(k) Normal(log b; loc, scale)      (b log-normal)

Rejuvenation targets the exact posterior given everything seen so far (Gilks and
Berzuini, 2001, resample-move). The filter keeps the history's log-likelihood of
every (goal, budget) pair on a grid of ``B`` values of ``log beta``, with its slope
(:mod:`pinfer.inverse.particle_tables`, ``O(G K B A)`` per observed step), so the
moves never rescore the history for all ``G x K`` pairs::

    gibbs_goal_budget_move:  (g', k') ~ q(g, k) ∝ p(g) p(k) exp(L~(g, k, b)),
                             L~ = the tables interpolated at the particle's b;
                             accept with min(1, exp([l' - L~'] - [l - L~]))
                             (l = exact log-likelihood, O(t A) per particle)
    log_beta_rwm_move:       log b' = log b + s z,  accept with the posterior ratio
                             (s = 2.38 x the population's sd of log b, clipped)

The first is an independence Metropolis-Hastings step whose proposal is the
conditional ``p(g, k | b, history)`` up to the interpolation error (exactly that
conditional, always accepted, when ``b`` is on the grid); the correction makes it
exact for any ``b``. Both leave the posterior invariant, so any sequence of them is a
valid rejuvenation kernel. The (goal, budget) move is what lets a population recover
a goal that resampling has wiped out: it re-proposes every goal from the history.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.inverse.checks import check_world_goals
from pinfer.inverse.hypotheses import check_planner_options, check_planning_scalars
from pinfer.inverse.particle_checks import (
    check_log_beta_grid,
    check_move,
    check_q_tables,
    check_trajectory,
)
from pinfer.inverse.particle_tables import (
    gather_history,
    interpolate,
    particle_log_likelihood,
    scratch_tables,
)
from pinfer.inverse.particle_types import (
    History,
    InverseParticles,
    MoveFn,
    ParticlePrior,
)
from pinfer.planning import (
    TabularMDP,
    budget_limited_planning,
    goal_reward,
    max_value,
    value_iteration,
)
from pinfer.types import Array, Bool, Float, Int, PRNGKey, Scalar
from pinfer.validation import (
    check_scalar,
    check_static_int,
)

__all__ = [
    "History",
    "InverseParticles",
    "ParticlePrior",
    "gibbs_goal_budget_move",
    "goal_q_tables",
    "history_tables",
    "log_beta_rwm_move",
    "uniform_prior",
]


def uniform_prior(
    num_goals: int,
    num_budgets: int,
    log_beta_loc: float | Scalar = 0.0,
    log_beta_scale: float | Scalar = 1.0,
) -> ParticlePrior:
    """Uniform over goals and budgets, ``log beta ~ Normal(loc, scale)``.

    Example:
        >>> uniform_prior(3, 2).log_goal.shape
        (3,)
    """
    where = "uniform_prior"
    num_goals = check_static_int(num_goals, "num_goals", 1, where=where)
    num_budgets = check_static_int(num_budgets, "num_budgets", 1, where=where)
    check_scalar(log_beta_loc, "log_beta_loc", where=where)
    check_scalar(
        log_beta_scale,
        "log_beta_scale",
        where=where,
        low=0.0,
        low_open=True,
        hint="It is the standard deviation of log beta.",
    )
    dtype = jnp.result_type(float)
    return ParticlePrior(
        jnp.zeros(num_goals, dtype),
        jnp.zeros(num_budgets, dtype),
        jnp.asarray(log_beta_loc, dtype),
        jnp.asarray(log_beta_scale, dtype),
    )


def goal_q_tables(
    mdp: TabularMDP,
    goal_states: Int[Array, " G"],
    discount: Float[Array, ""] | float,
    *,
    budgets: Sequence[int] | None = None,
    num_iterations: int = 100,
    goal_value: Float[Array, ""] | float = 1.0,
    step_cost: Float[Array, ""] | float = 0.0,
) -> Float[Array, "G K S A"]:
    """Hard-max Q-values of every (goal, budget) hypothesis, planned once.

    The same planning as :func:`pinfer.inverse.goal_log_policies` (whose policies
    are ``log_softmax(beta * goal_q_tables(...)[:, None])``), without the beta axis:
    with a hard-max planner Q does not depend on beta.

    The world owns the cost of a step: the MDP's reward (a GridWorld's
    ``step_reward``, -1 by default) is what each step costs the agent, and
    ``step_cost`` is an extra cost the agent adds on top (a default GridWorld
    already pays -1 a step, so ``step_cost=1`` makes -2).

    Args:
        mdp: the world (one layout).
        goal_states: ``[G]`` candidate goal states (at least one, each in
            ``[0, S)``).
        discount: scalar in ``[0, 1]``.
        budgets: static planning budgets (``K = len(budgets)``; budget 0 is the
            uniform policy), or None for ``num_iterations`` sweeps (``K = 1``).
        num_iterations: sweeps of value iteration without budgets (static).
        goal_value: reward on arriving at the goal.
        step_cost: extra cost ``>= 0`` of every step, on top of the world's
            reward (default 0: the world's reward alone).

    Returns:
        ``[G, K, S, A]`` Q-values.

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> goal_q_tables(line, jnp.array([0, 2]), 0.9, budgets=(0, 2)).shape
        (2, 2, 3, 2)
    """
    where = "goal_q_tables"
    budgets, num_iterations = check_planner_options(
        budgets, num_iterations, max_value, where
    )
    goal_states = check_world_goals(mdp, goal_states, where=where)
    check_planning_scalars(discount, goal_value, step_cost, where)

    def q_of_goal(goal):
        agent = goal_reward(mdp, goal, goal_value, step_cost)
        if budgets is None:
            return value_iteration(agent, discount, num_iterations).q_values[None]
        planned = budget_limited_planning(agent, discount, 1.0, max(budgets), max_value)
        return planned.q_values[jnp.asarray(budgets)]

    return jax.vmap(q_of_goal)(goal_states)


def history_tables(
    q_tables: Float[Array, "G K S A"],
    states: Int[Array, " T"],
    actions: Int[Array, " T"],
    mask: Bool[Array, " T"],
    log_beta_grid: Float[Array, " B"],
) -> History:
    """A :class:`History` with its tables rescored from the whole trajectory.

    ``O(G K B T A)``: the reference the filter's running tables are tested
    against, and a way to call a move on a history of one's own.

    Args:
        q_tables: ``[G, K, S, A]`` Q-values (:func:`goal_q_tables`).
        states: ``[T]`` (or ``[T + 1]``; the last is dropped) observed states.
        actions: ``[T]`` observed actions.
        mask: ``[T]`` True for observed steps.
        log_beta_grid: ``[B]`` strictly increasing grid of ``log beta``.

    Returns:
        :class:`History`.

    Example:
        >>> history = history_tables(jnp.zeros((2, 1, 3, 4)), jnp.array([0, 2]),
        ...                          jnp.array([1, 3]), jnp.array([True, False]),
        ...                          jnp.linspace(-1.0, 1.0, 5))
        >>> history.log_lik_table.shape
        (2, 1, 5)
        >>> float(history.log_lik_table[0, 0, 0])  # one step, 4 equal actions
        -1.386...
    """
    where = "history_tables"
    num_states, num_actions = check_q_tables(q_tables, where)[2:]
    check_log_beta_grid(log_beta_grid, where)
    states, actions, mask = check_trajectory(
        states, actions, mask, num_states, num_actions, where
    )
    states = states[: actions.shape[0]]
    log_beta_grid = jnp.asarray(log_beta_grid, jnp.result_type(q_tables, 0.0))
    log_lik, slope = scratch_tables(q_tables, states, actions, mask, log_beta_grid)
    return History(q_tables, states, actions, mask, log_beta_grid, log_lik, slope)


def _inverse_cdf(key, logits):
    """One draw per row of ``softmax(logits)`` ``[N, C]``: one uniform and a
    cumulative sum per row (cheaper than a Gumbel draw per entry)."""
    weights = jnp.exp(logits - jnp.max(logits, axis=-1, keepdims=True))
    cdf = jnp.cumsum(weights, axis=-1)
    u = jax.random.uniform(key, cdf.shape[:1] + (1,), cdf.dtype) * cdf[:, -1:]
    index = jnp.sum(cdf <= u, axis=-1)
    return jnp.minimum(index, logits.shape[-1] - 1).astype(jnp.int32)


def _row(table, index):
    return jnp.take_along_axis(table, index[:, None, None], axis=1)[:, 0]


def _log_normal(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale)


def _accept(key, log_ratio):
    log_u = jnp.log(jax.random.uniform(key, log_ratio.shape, log_ratio.dtype))
    return log_u < jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)


def gibbs_goal_budget_move(
    key: PRNGKey,
    particles: InverseParticles,
    history: History,
    prior: ParticlePrior,
) -> tuple[InverseParticles, Scalar]:
    """Move each particle's ``(goal, budget)`` given its beta, from the tables.

    Proposes ``(g', k')`` from ``p(g) p(k) exp(L~(g, k, beta))``, the history's
    tables interpolated at the particle's beta (``O(G K)`` per particle, whatever
    the history's length), and accepts with the ratio of the exact to the
    interpolated likelihood (``O(t A)`` per particle). An exact draw from
    ``p(g, k | beta, history)`` when beta is on the grid; a Metropolis-corrected
    one, leaving the posterior invariant, otherwise.

    Args:
        key: PRNG key.
        particles: the population (leading axis ``N``).
        history: the steps seen so far and their tables (the filter's, or
            :func:`history_tables`).
        prior: the prior.

    Returns:
        ``(particles, fraction of particles whose (goal, budget) changed)``.

    Example:
        >>> history = history_tables(jnp.zeros((2, 1, 3, 2)), jnp.zeros(1, int),
        ...                          jnp.zeros(1, int), jnp.ones(1, bool),
        ...                          jnp.linspace(-2.0, 2.0, 5))
        >>> particles = InverseParticles(jnp.zeros(4, int), jnp.zeros(4, int),
        ...                              jnp.zeros(4))
        >>> moved, rate = gibbs_goal_budget_move(jax.random.key(0), particles,
        ...                                      history, uniform_prior(2, 1))
    """
    check_move(key, particles, history, prior, "gibbs_goal_budget_move")
    key_goal, key_budget, key_accept = jax.random.split(key, 3)
    log_prior = prior.log_goal[:, None] + prior.log_budget[None, :]
    approx = jax.vmap(interpolate, in_axes=(None, None, None, 0))(
        history.log_lik_table,
        history.log_lik_slope,
        history.log_beta_grid,
        particles.log_beta,
    )  # [N, G, K]
    logits = log_prior + approx
    # (g', k') ~ softmax(logits): g' from its marginal, then k' given g'.
    goal = _inverse_cdf(key_goal, logsumexp(logits, axis=-1))
    budget = _inverse_cdf(key_budget, _row(logits, goal))
    rows = jnp.arange(goal.shape[0])

    def error(goal, budget):
        """Exact minus interpolated log-likelihood of each particle's pair."""
        q_rows, q_taken = gather_history(
            history.q_tables, goal, budget, history.states, history.actions
        )
        exact = particle_log_likelihood(
            q_rows, q_taken, history.mask, particles.log_beta
        )
        return exact - approx[rows, goal, budget]

    error_old = error(particles.goal, particles.budget)
    # A particle the history rules out (error NaN: -inf minus -inf) always moves.
    log_ratio = error(goal, budget) - jnp.where(
        jnp.isnan(error_old), -jnp.inf, error_old
    )
    changed = (goal != particles.goal) | (budget != particles.budget)
    accept = _accept(key_accept, log_ratio) & changed
    moved = particles._replace(
        goal=jnp.where(accept, goal, particles.goal),
        budget=jnp.where(accept, budget, particles.budget),
    )
    return moved, jnp.mean(accept)


def log_beta_rwm_move(
    key: PRNGKey,
    particles: InverseParticles,
    history: History,
    prior: ParticlePrior,
) -> tuple[InverseParticles, Scalar]:
    """Random-walk Metropolis on each particle's ``log beta`` given its goal, budget.

    The step size is ``2.38`` times the population's standard deviation of
    ``log beta`` (Roberts, Gelman and Gilks, 1997), clipped to
    ``[0.01, 1] x log_beta_scale``; it depends on the population only, so each
    particle's move is a valid Metropolis kernel for the posterior. Scores the
    history exactly, ``O(t A)`` per particle.

    Args / Returns: as :func:`gibbs_goal_budget_move` (the acceptance rate).

    Example:
        >>> history = history_tables(jnp.zeros((2, 1, 3, 2)), jnp.zeros(1, int),
        ...                          jnp.zeros(1, int), jnp.ones(1, bool),
        ...                          jnp.linspace(-2.0, 2.0, 5))
        >>> particles = InverseParticles(jnp.zeros(4, int), jnp.zeros(4, int),
        ...                              jnp.zeros(4))
        >>> moved, rate = log_beta_rwm_move(jax.random.key(0), particles,
        ...                                 history, uniform_prior(2, 1))
    """
    check_move(key, particles, history, prior, "log_beta_rwm_move")
    log_beta = particles.log_beta
    scale = prior.log_beta_scale
    step = jnp.clip(2.38 * jnp.std(log_beta), 0.01 * scale, scale)
    key_move, key_accept = jax.random.split(key)
    proposal = log_beta + step * jax.random.normal(key_move, log_beta.shape)
    rows, taken = gather_history(
        history.q_tables, particles.goal, particles.budget, history.states,
        history.actions,
    )  # fmt: skip

    def log_target(x):
        log_lik = particle_log_likelihood(rows, taken, history.mask, x)
        return log_lik + _log_normal(x, prior.log_beta_loc, scale)

    accept = _accept(key_accept, log_target(proposal) - log_target(log_beta))
    new = jnp.where(accept, proposal, log_beta)
    return particles._replace(log_beta=new), jnp.mean(accept)


DEFAULT_MOVES: tuple[MoveFn, ...] = (gibbs_goal_budget_move, log_beta_rwm_move)
