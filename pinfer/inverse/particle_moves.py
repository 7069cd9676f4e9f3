"""The model of online particle inverse planning and its rejuvenation moves.

A particle is a hypothesis ``(goal g, budget k, log beta)``. The agent plans with a
hard-max planner, so its Q-values depend on the goal and the budget but not on its
rationality, and it acts Boltzmann-rationally on them::

    Q[g, k]              = Q-values after k sweeps of value iteration for goal g
                           (computed once: goal_q_tables)
    log pi(a | s; g,k,b) = b Q[g, k, s, a] - logsumexp_a' b Q[g, k, s, a']
    prior                = p(g) p(k) Normal(log b; loc, scale)      (b log-normal)

The log-likelihood of the observed history ``(s_tau, a_tau)_{tau < t}`` is a masked
sum over the history, ``O(t A)`` per particle, so rejuvenation targets the exact
posterior given everything seen so far (Gilks and Berzuini, 2001, resample-move):

    gibbs_goal_budget_move:  (g, k) ~ p(g, k | b, history)        exact, all G x K
    log_beta_rwm_move:       log b' = log b + s z,  accept with the posterior ratio
                             (s = 2.38 x the population's sd of log b, clipped)

Both leave the posterior invariant, so any sequence of them is a valid rejuvenation
kernel. The discrete Gibbs move is what lets a population recover a goal that
resampling has wiped out: it re-proposes every goal from the history's likelihood.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.inverse.hypotheses import _check_budgets
from pinfer.planning import (
    TabularMDP,
    budget_limited_planning,
    goal_reward,
    max_value,
    value_iteration,
)
from pinfer.types import Array, Bool, Float, Int, PRNGKey, Scalar

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


class InverseParticles(NamedTuple):
    """A population of hypotheses; every leaf has a leading particle axis ``N``.

    Attributes:
        goal: ``[N]`` int32 goal index in ``[0, G)``.
        budget: ``[N]`` int32 budget index in ``[0, K)``.
        log_beta: ``[N]`` log rationality.
    """

    goal: Int[Array, " N"]
    budget: Int[Array, " N"]
    log_beta: Float[Array, " N"]


class ParticlePrior(NamedTuple):
    """Prior ``p(g) p(k) Normal(log beta; log_beta_loc, log_beta_scale)``.

    Attributes:
        log_goal: ``[G]`` log-prior over goals (need not be normalised).
        log_budget: ``[K]`` log-prior over budgets (need not be normalised).
        log_beta_loc: mean of ``log beta``.
        log_beta_scale: standard deviation of ``log beta`` (``> 0``).
    """

    log_goal: Float[Array, " G"]
    log_budget: Float[Array, " K"]
    log_beta_loc: Scalar
    log_beta_scale: Scalar


class History(NamedTuple):
    """The observed history, gathered from the Q-tables once per step.

    Attributes:
        q_all: ``[G, K, T, A]`` Q-values of every action at each observed state.
        q_taken: ``[G, K, T]`` Q-value of the action taken.
        mask: ``[T]`` True for steps already observed.
    """

    q_all: Float[Array, "G K T A"]
    q_taken: Float[Array, "G K T"]
    mask: Bool[Array, " T"]


MoveFn = Callable[
    [PRNGKey, InverseParticles, History, ParticlePrior],
    tuple[InverseParticles, Scalar],
]


def _check_particle_model(q_tables, prior: ParticlePrior) -> None:
    """Raise a clear error unless ``q_tables [G, K, S, A]`` and ``prior`` agree."""
    if jnp.ndim(q_tables) != 4:
        raise ValueError(
            f"q_tables must have shape [G, K, S, A] (goals x budgets x states x "
            f"actions), got {jnp.shape(q_tables)}; build it with goal_q_tables and "
            "jax.vmap over layouts for a batch."
        )
    num_goals, num_budgets = jnp.shape(q_tables)[:2]
    if jnp.shape(prior.log_goal) != (num_goals,) or jnp.shape(prior.log_budget) != (
        num_budgets,
    ):
        raise ValueError(
            f"prior.log_goal must have shape [G] = [{num_goals}] and prior.log_budget "
            f"[K] = [{num_budgets}] to match q_tables {jnp.shape(q_tables)}; got "
            f"{jnp.shape(prior.log_goal)} and {jnp.shape(prior.log_budget)}."
        )


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
    if not isinstance(log_beta_scale, jax.core.Tracer) and not log_beta_scale > 0:
        raise ValueError(f"log_beta_scale must be > 0, got {log_beta_scale}.")
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

    Args:
        mdp: the world (one layout).
        goal_states: ``[G]`` candidate goal states.
        discount: scalar in ``[0, 1]``.
        budgets: static planning budgets (``K = len(budgets)``; budget 0 is the
            uniform policy), or None for ``num_iterations`` sweeps (``K = 1``).
        num_iterations: sweeps of value iteration without budgets (static).
        goal_value: reward on arriving at the goal.
        step_cost: cost ``>= 0`` of every step.

    Returns:
        ``[G, K, S, A]`` Q-values.

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> goal_q_tables(line, jnp.array([0, 2]), 0.9, budgets=(0, 2)).shape
        (2, 2, 3, 2)
    """
    budgets = _check_budgets(budgets)

    def q_of_goal(goal):
        agent = goal_reward(mdp, goal, goal_value, step_cost)
        if budgets is None:
            return value_iteration(agent, discount, num_iterations).q_values[None]
        planned = budget_limited_planning(agent, discount, 1.0, max(budgets), max_value)
        return planned.q_values[jnp.asarray(budgets)]

    return jax.vmap(q_of_goal)(jnp.asarray(goal_states))


def history_tables(
    q_tables: Float[Array, "G K S A"],
    states: Int[Array, " T"],
    actions: Int[Array, " T"],
    mask: Bool[Array, " T"],
) -> History:
    """Gather the Q-values of an observed history once for the whole population.

    Example:
        >>> history = history_tables(jnp.zeros((2, 1, 3, 4)), jnp.array([0, 2]),
        ...                          jnp.array([1, 3]), jnp.array([True, False]))
        >>> history.q_all.shape, history.q_taken.shape
        ((2, 1, 2, 4), (2, 1, 2))
    """
    q_all = q_tables[:, :, states]
    q_taken = jnp.take_along_axis(q_all, actions[None, None, :, None], axis=-1)
    return History(q_all, q_taken[..., 0], mask)


def _log_likelihood(beta, q_all, q_taken, mask):
    """``sum_t mask_t (b Q_taken - logsumexp_a b Q)`` over the trailing T axis."""
    per_step = beta * q_taken - logsumexp(beta * q_all, axis=-1)
    return jnp.sum(jnp.where(mask, per_step, 0.0), axis=-1)


def _log_normal(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale)


def gibbs_goal_budget_move(
    key: PRNGKey,
    particles: InverseParticles,
    history: History,
    prior: ParticlePrior,
) -> tuple[InverseParticles, Scalar]:
    """Draw each particle's ``(goal, budget)`` from its exact conditional given beta.

    ``p(g, k | b, history) ∝ p(g) p(k) exp(loglik(g, k, b))``, evaluated for all
    ``G x K`` pairs (``O(G K T A)`` per particle). Leaves the posterior invariant.

    Args:
        key: PRNG key.
        particles: the population (leading axis ``N``).
        history: :func:`history_tables` of the steps seen so far.
        prior: the prior.

    Returns:
        ``(particles, fraction of particles whose (goal, budget) changed)``.

    Example:
        >>> history = history_tables(jnp.zeros((2, 1, 3, 2)), jnp.zeros(1, int),
        ...                          jnp.zeros(1, int), jnp.ones(1, bool))
        >>> particles = InverseParticles(jnp.zeros(4, int), jnp.zeros(4, int),
        ...                              jnp.zeros(4))
        >>> moved, rate = gibbs_goal_budget_move(jax.random.key(0), particles,
        ...                                      history, uniform_prior(2, 1))
    """
    num_goals, num_budgets = history.q_all.shape[:2]
    log_prior = prior.log_goal[:, None] + prior.log_budget[None, :]
    keys = jax.random.split(key, particles.goal.shape[0])

    def one(key, log_beta):
        loglik = _log_likelihood(
            jnp.exp(log_beta), history.q_all, history.q_taken, history.mask
        )
        return jax.random.categorical(key, jnp.ravel(log_prior + loglik))

    flat = jax.vmap(one)(keys, particles.log_beta).astype(jnp.int32)
    goal, budget = flat // num_budgets, flat % num_budgets
    changed = (goal != particles.goal) | (budget != particles.budget)
    return particles._replace(goal=goal, budget=budget), jnp.mean(changed)


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
    particle's move is a valid Metropolis kernel for the posterior.

    Args / Returns: as :func:`gibbs_goal_budget_move` (the acceptance rate).

    Example:
        >>> history = history_tables(jnp.zeros((2, 1, 3, 2)), jnp.zeros(1, int),
        ...                          jnp.zeros(1, int), jnp.ones(1, bool))
        >>> particles = InverseParticles(jnp.zeros(4, int), jnp.zeros(4, int),
        ...                              jnp.zeros(4))
        >>> moved, rate = log_beta_rwm_move(jax.random.key(0), particles,
        ...                                 history, uniform_prior(2, 1))
    """
    log_beta = particles.log_beta
    scale = prior.log_beta_scale
    step = jnp.clip(2.38 * jnp.std(log_beta), 0.01 * scale, scale)
    key_move, key_accept = jax.random.split(key)
    proposal = log_beta + step * jax.random.normal(key_move, log_beta.shape)
    log_u = jnp.log(jax.random.uniform(key_accept, log_beta.shape, log_beta.dtype))

    def log_target(goal, budget, x):
        q_all, q_taken = history.q_all[goal, budget], history.q_taken[goal, budget]
        loglik = _log_likelihood(jnp.exp(x), q_all, q_taken, history.mask)
        return loglik + _log_normal(x, prior.log_beta_loc, scale)

    target = jax.vmap(log_target)
    log_ratio = target(particles.goal, particles.budget, proposal) - target(
        particles.goal, particles.budget, log_beta
    )
    accept = log_u < jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    new = jnp.where(accept, proposal, log_beta)
    return particles._replace(log_beta=new), jnp.mean(accept)


DEFAULT_MOVES: tuple[MoveFn, ...] = (gibbs_goal_budget_move, log_beta_rwm_move)
