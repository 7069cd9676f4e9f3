"""Exact Bayesian inverse planning: the posterior over goals, rationality and budget.

Bayesian inverse planning (Baker, Saxe and Tenenbaum, 2009, "Action understanding as
inverse planning") inverts a model of a planning agent. Every hypothesis
``h = (goal g, rationality beta, budget k)`` fixes a Boltzmann policy, so the
likelihood of any trajectory is a lookup in one table of log-policies, and the
posterior after every step of a trajectory (filtering) is a cumulative sum:

    Q[g, k]             = value_iteration(goal_reward(mdp, g), discount, sweeps)
                          (for budgets: one budget_limited_planning scan gives all k)
    log_policies[h]     = log_softmax(beta * Q[g, k])             # [H, S, A]
    loglik[t, h]        = log pi_h(a_t | s_t) + log T(s_{t+1} | s_t, a_t)
                          (0 on padded steps, mask[t] = False)
    log_joint[t, h]     = log prior(h) + sum_{tau < t} loglik[tau, h]   # prefix sum
    log_evidence[t]     = logsumexp_h log_joint[t, h]
    log_posterior[t, h] = log_joint[t, h] - log_evidence[t]

Row ``t`` of the result is the belief after ``t`` observed steps (row 0 is the
prior). The prefix sum is a parallel scan (:func:`pinfer.linalg.cumsum`, O(T log T);
XLA lowers ``jnp.cumsum`` to a slow reduce-window on CPU). Internally the hypothesis
axis comes first, so that under ``vmap`` the normalising ``logsumexp``
reduces over a major axis, which is several times faster on CPU than over a short
minor one. Planning depends only on the layout, so under ``jax.vmap`` over many
trajectories of one layout it runs once; ``vmap`` over layouts (MDPs of one size)
plans each layout once.

Impossible observations: a step whose probability is zero under every hypothesis
(a move the transition model forbids, e.g. through a wall, or an action every
hypothesis excludes) makes the evidence ``-inf`` from that step on. The posterior is
then not defined by Bayes' rule; pinfer keeps it at the last posterior with finite
evidence (the belief just before the impossible step), so nothing is ever NaN.
:func:`pinfer.inverse.check_trajectories` finds such steps before inference and
names the trajectory, the step and the move.
"""

from collections.abc import Sequence
from typing import NamedTuple

import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.inverse.hypotheses import goal_log_policies
from pinfer.linalg import cumsum
from pinfer.planning import TabularMDP, max_value
from pinfer.types import Array, Bool, Float, Int

__all__ = [
    "FilterResult",
    "InverseResult",
    "action_log_likelihoods",
    "filter_log_likelihoods",
    "goal_posterior",
    "infer_goals",
]


class FilterResult(NamedTuple):
    """Posterior over a flat list of hypotheses after every step.

    Attributes:
        log_posterior: ``[T + 1, H]``; row ``t`` is the log-posterior after ``t``
            steps (row 0 the normalised prior). Each row's ``logsumexp`` is 0.
        log_evidence: ``[T + 1]``; ``log p(observations of steps < t)``, 0 at
            ``t = 0``, ``-inf`` from the first impossible step on.
    """

    log_posterior: Float[Array, "T1 H"]
    log_evidence: Float[Array, "T1"]


class InverseResult(NamedTuple):
    """Result of :func:`infer_goals` for one trajectory.

    Attributes:
        log_posterior: ``[T + 1, G, B, K]`` joint log-posterior over goal, beta and
            budget after ``t = 0..T`` steps.
        log_goal_posterior: ``[T + 1, G]`` log-posterior of the goal alone
            (``logsumexp`` of ``log_posterior`` over beta and budget).
        log_evidence: ``[T + 1]`` log marginal likelihood of the first ``t`` steps.
    """

    log_posterior: Float[Array, "T1 G B K"]
    log_goal_posterior: Float[Array, "T1 G"]
    log_evidence: Float[Array, "T1"]


def action_log_likelihoods(
    log_policies: Float[Array, "H S A"],
    states: Int[Array, "T"],
    actions: Int[Array, "T"],
    mask: Bool[Array, "T"],
) -> Float[Array, "T H"]:
    """``log pi_h(a_t | s_t)`` for every step and hypothesis, 0 on padded steps.

    Args:
        log_policies: ``[H, S, A]`` log-policy of each hypothesis.
        states: ``[T]`` state of each step (padded entries may hold anything).
        actions: ``[T]`` action taken at each step.
        mask: ``[T]`` True for observed steps, False for padding.

    Returns:
        ``[T, H]`` log-likelihoods; add other evidence channels to it and pass it
        to :func:`filter_log_likelihoods`.

    Example:
        >>> log_pi = jnp.log(jnp.array([[[0.9, 0.1]], [[0.5, 0.5]]]))  # H=2, S=1
        >>> jnp.exp(action_log_likelihoods(log_pi, jnp.array([0, 0]),
        ...                                jnp.array([0, 1]), jnp.array([True, False])))
        Array([[0.9, 0.5],
               [1. , 1. ]], dtype=float32)
    """
    return _step_log_likelihoods(log_policies, states, actions, mask).T


def _step_log_likelihoods(log_policies, states, actions, mask):
    """``[H, T]``: the hypothesis-major layout the filter works in."""
    mask = jnp.asarray(mask, bool)
    return jnp.where(mask, log_policies[:, states, actions], 0.0)


def _filter(log_prior, log_likelihoods):
    """``[H], [H, T] -> (log_posterior [H, T + 1], log_evidence [T + 1])``."""
    norm = logsumexp(log_prior)
    log_prior = jnp.where(jnp.isfinite(norm), log_prior - norm, -jnp.inf)
    cumulative = cumsum(log_likelihoods, axis=1)
    start = jnp.zeros_like(cumulative[:, :1])
    log_joint = log_prior[:, None] + jnp.concatenate([start, cumulative], axis=1)
    log_evidence = logsumexp(log_joint, axis=0)
    finite = jnp.isfinite(log_evidence)
    # -inf - (-inf) would be NaN: subtract only finite evidence.
    log_posterior = log_joint - jnp.where(finite, log_evidence, 0.0)
    # Once all hypotheses are impossible they stay so: the finite rows are a
    # prefix, and every later row holds the last finite one (a masked sum, which
    # is cheaper under vmap than a gather).
    last = jnp.sum(finite) - 1
    is_last = jnp.arange(log_evidence.shape[0]) == last
    held = jnp.sum(jnp.where(is_last, log_posterior, 0.0), axis=1, keepdims=True)
    held = jnp.where(last >= 0, held, -jnp.inf)
    return jnp.where(finite, log_posterior, held), log_evidence


def filter_log_likelihoods(
    log_prior: Float[Array, "H"], log_likelihoods: Float[Array, "T H"]
) -> FilterResult:
    """The posterior after every step from per-step log-likelihoods (a cumsum).

    ``log_prior`` need not be normalised (``-inf`` excludes a hypothesis). Once
    every hypothesis has probability zero the evidence is ``-inf`` and the
    posterior stays at the last row with finite evidence (see the module docstring).

    Args:
        log_prior: ``[H]`` log-prior weights.
        log_likelihoods: ``[T, H]`` log-likelihood of each step under each
            hypothesis (already 0 on padded steps).

    Returns:
        ``FilterResult(log_posterior [T + 1, H], log_evidence [T + 1])``.

    Example:
        >>> result = filter_log_likelihoods(
        ...     jnp.zeros(2), jnp.log(jnp.array([[0.9, 0.3], [0.0, 0.0]])))
        >>> jnp.round(100 * jnp.exp(result.log_posterior))  # step 1 keeps row 1
        Array([[50., 50.],
               [75., 25.],
               [75., 25.]], dtype=float32)
        >>> result.log_evidence[2]
        Array(-inf, dtype=float32)
    """
    log_posterior, log_evidence = _filter(log_prior, log_likelihoods.T)
    return FilterResult(log_posterior.T, log_evidence)


def goal_posterior(
    log_policies: Float[Array, "H S A"],
    log_prior: Float[Array, "H"],
    states: Int[Array, "T"],
    actions: Int[Array, "T"],
    mask: Bool[Array, "T"],
) -> FilterResult:
    """Filter a trajectory's state-action steps through a table of log-policies.

    Args:
        log_policies: ``[H, S, A]`` log-policy of each hypothesis (any agent whose
            action probabilities depend on the state only: Boltzmann, greedy with
            ``-inf`` entries, lapse mixtures).
        log_prior: ``[H]`` log-prior weights (need not be normalised).
        states: ``[T]`` state of each step.
        actions: ``[T]`` action of each step.
        mask: ``[T]`` True for observed steps, False for padding.

    Returns:
        ``FilterResult(log_posterior [T + 1, H], log_evidence [T + 1])``.

    Example:
        >>> log_pi = jnp.log(jnp.array([[[0.8, 0.2]], [[0.2, 0.8]]]))
        >>> result = goal_posterior(log_pi, jnp.zeros(2), jnp.zeros(2, int),
        ...                         jnp.array([0, 0]), jnp.array([True, True]))
        >>> jnp.round(100 * jnp.exp(result.log_posterior[:, 0]))  # 16 / 17 = 94 %
        Array([50., 80., 94.], dtype=float32)
    """
    log_likelihoods = _step_log_likelihoods(log_policies, states, actions, mask)
    log_posterior, log_evidence = _filter(log_prior, log_likelihoods)
    return FilterResult(log_posterior.T, log_evidence)


def _check_trajectory_shapes(states, actions, mask) -> None:
    if actions.ndim != 1 or mask.shape != actions.shape:
        raise ValueError(
            f"infer_goals takes one trajectory: actions [T] and mask [T], got "
            f"actions {actions.shape} and mask {mask.shape}; jax.vmap over "
            "trajectories for a batch."
        )
    num_steps = actions.shape[0]
    if states.shape not in ((num_steps,), (num_steps + 1,)):
        raise ValueError(
            f"states must have shape [T + 1] = [{num_steps + 1}] (the visited "
            f"states, the last one where the last action led) or [T] = [{num_steps}] "
            f"(no transition check) for actions of shape {actions.shape}; got "
            f"{states.shape}."
        )


def infer_goals(
    mdp: TabularMDP,
    goal_states: Int[Array, "G"],
    betas: Float[Array, "B"],
    discount: Float[Array, ""] | float,
    states: Int[Array, "T1"],
    actions: Int[Array, "T"],
    mask: Bool[Array, "T"],
    log_prior: Float[Array, "G B K"] | None = None,
    *,
    budgets: Sequence[int] | None = None,
    num_iterations: int = 100,
    goal_value: Float[Array, ""] | float = 1.0,
    step_cost: Float[Array, ""] | float = 0.0,
    value_fn=max_value,
) -> InverseResult:
    """Exact posterior over goal, beta and budget after every step of a trajectory.

    Plans every hypothesis with :func:`goal_log_policies`, then filters the
    trajectory with :func:`filter_log_likelihoods`. When ``states`` holds ``T + 1``
    visited states, ``log T(s_{t+1} | s_t, a_t)`` enters the evidence, so a move
    the transition model forbids gives ``log_evidence = -inf`` (the posterior is
    kept at the step before, never NaN); check data first with
    :func:`check_trajectories`. For many trajectories of one layout use
    ``jax.vmap(..., in_axes=(None, None, None, None, 0, 0, 0))``: the planning runs
    once. ``budgets`` and ``num_iterations`` are static under ``jax.jit``.

    Args:
        mdp: the world (one layout; vmap over layouts of one size).
        goal_states: ``[G]`` candidate goal states.
        betas: ``[B]`` grid of rationality values ``>= 0``.
        discount: scalar in ``[0, 1]``.
        states: ``[T + 1]`` visited states (or ``[T]``: no transition term).
        actions: ``[T]`` actions; padded entries may hold any index.
        mask: ``[T]`` True for observed steps, False for padding.
        log_prior: ``[G, B, K]`` log-prior over the grid (need not be
            normalised); None for uniform.
        budgets: static planning budgets (``K = len(budgets)``), or None for
            ``num_iterations`` sweeps of value iteration (``K = 1``).
        num_iterations: value-iteration sweeps without budgets (static).
        goal_value: reward on arriving at the goal.
        step_cost: cost ``>= 0`` of every step (pass 1.0 for a reward of -1).
        value_fn: ``[S, A] -> [S]`` backup of the planner (default: hard max).

    Returns:
        ``InverseResult(log_posterior [T + 1, G, B, K], log_goal_posterior
        [T + 1, G], log_evidence [T + 1])``.

    Example:
        >>> line = TabularMDP(  # states 0-1-2-3-4 on a line, actions left / right
        ...     jnp.eye(5)[jnp.array([[0, 1], [0, 2], [1, 3], [2, 4], [3, 4]])],
        ...     jnp.zeros((5, 2)), jnp.zeros(5, bool))
        >>> result = infer_goals(line, jnp.array([0, 4]), jnp.array([1.0, 4.0]),
        ...                      0.9, jnp.array([2, 3, 4]), jnp.array([1, 1]),
        ...                      jnp.array([True, True]), goal_value=10.0)
        >>> jnp.round(100 * jnp.exp(result.log_goal_posterior))  # two steps right
        Array([[50., 50.],
               [ 8., 92.],
               [ 2., 98.]], dtype=float32)
    """
    states, actions = jnp.asarray(states), jnp.asarray(actions)
    mask = jnp.asarray(mask).astype(bool)
    _check_trajectory_shapes(states, actions, mask)
    log_policies = goal_log_policies(
        mdp,
        goal_states,
        betas,
        discount,
        budgets=budgets,
        num_iterations=num_iterations,
        goal_value=goal_value,
        step_cost=step_cost,
        value_fn=value_fn,
    )
    grid = log_policies.shape[:3]
    if log_prior is None:
        log_prior = jnp.zeros(grid, log_policies.dtype)
    elif jnp.shape(log_prior) != grid:
        raise ValueError(
            f"log_prior must have shape [G, B, K] = {list(grid)} (goals x betas x "
            f"budgets), got {list(jnp.shape(log_prior))}."
        )
    num_steps = actions.shape[0]
    flat = log_policies.reshape(-1, *log_policies.shape[3:])
    log_likelihoods = _step_log_likelihoods(flat, states[:num_steps], actions, mask)
    if states.shape[0] == num_steps + 1:
        moves = mdp.transition[states[:-1], actions, states[1:]]
        log_likelihoods = log_likelihoods + jnp.where(mask, jnp.log(moves), 0.0)
    log_posterior, log_evidence = _filter(jnp.ravel(log_prior), log_likelihoods)
    log_posterior = log_posterior.reshape(*grid, num_steps + 1)
    if grid[1] * grid[2] == 1:  # one beta, one budget: nothing to marginalise
        log_goal_posterior = log_posterior[:, 0, 0]
    else:
        log_goal_posterior = logsumexp(log_posterior, axis=(1, 2))
    return InverseResult(
        jnp.moveaxis(log_posterior, -1, 0), log_goal_posterior.T, log_evidence
    )
