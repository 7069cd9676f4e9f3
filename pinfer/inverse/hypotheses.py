"""The hypothesis grid of goal inference: one Boltzmann log-policy per hypothesis.

Each hypothesis ``h = (goal g, rationality beta, budget k)`` is an agent that plans
in ``goal_reward(mdp, g, goal_value, step_cost)`` (Baker, Saxe and Tenenbaum, 2009)
and acts Boltzmann-rationally on the Q-values it has:

    for each goal g (vmap):
        Q[g, 0]   = value_iteration(goal_reward(mdp, g), discount, num_iterations)
                    (no budgets), or
        Q[g, :]   = budget_limited_planning(goal_reward(mdp, g), discount,
                                            max(budgets)).q_values[budgets]
                    (one scan gives every budget; budget 0 is the uniform policy,
                     as in Jacob, Gupta and Andreas, 2024)
    log_policies[g, b, k] = log_softmax(beta_b * Q[g, k])        # [G, B, K, S, A]

With a hard-max planner Q does not depend on beta, so the beta grid costs one
``log_softmax`` per value, not one planning run. A goal is terminal in its own MDP,
so there ``Q = 0`` and the policy is uniform: an observed action taken from a goal
cell neither favours nor rules out that goal. To make "the agent would have
stopped" rule it out, set those rows of the table to ``-inf`` and filter with
:func:`pinfer.inverse.goal_posterior`.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.planning import (
    TabularMDP,
    boltzmann_policy,
    budget_limited_planning,
    goal_reward,
    max_value,
    value_iteration,
)
from pinfer.types import Array, Float, Int

__all__ = ["goal_log_policies"]


def _check_budgets(budgets) -> tuple[int, ...] | None:
    if budgets is None:
        return None
    try:
        budgets = tuple(int(np.asarray(k).item()) for k in budgets)
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        raise TypeError(
            f"budgets must be None or a static sequence of Python ints (planning "
            f"sweeps per hypothesis, e.g. (0, 1, 2, 4, 8)), got {budgets!r}."
        ) from None
    if not budgets or min(budgets) < 0:
        raise ValueError(
            f"budgets must be a non-empty sequence of ints >= 0, got {budgets}; "
            "budget 0 is the uniformly random agent."
        )
    return budgets


def _check_goals_and_betas(mdp: TabularMDP, goal_states, betas) -> None:
    if jnp.ndim(goal_states) != 1 or jnp.ndim(betas) != 1:
        raise ValueError(
            f"goal_states and betas must be 1-D (one entry per hypothesis value), got "
            f"shapes {jnp.shape(goal_states)} and {jnp.shape(betas)}; vmap for "
            "batches."
        )
    if mdp.transition.ndim != 3:
        raise ValueError(
            f"expected one MDP with transition [S, A, S], got {mdp.transition.shape}; "
            "jax.vmap over layouts instead of passing a batch."
        )
    if not isinstance(goal_states, jax.core.Tracer):
        goals = np.asarray(goal_states)
        bad = (goals < 0) | (goals >= mdp.num_states)
        if bad.any():
            raise ValueError(
                f"goal_states must be state indices in [0, {mdp.num_states}), got "
                f"{goals[bad][0]} at position {int(np.argmax(bad))}."
            )
    if not isinstance(betas, jax.core.Tracer):
        values = np.asarray(betas)
        if not np.all(np.isfinite(values) & (values >= 0)):
            raise ValueError(f"betas must be finite and >= 0, got {values}.")


def goal_log_policies(
    mdp: TabularMDP,
    goal_states: Int[Array, "G"],
    betas: Float[Array, "B"],
    discount: Float[Array, ""] | float,
    *,
    budgets: Sequence[int] | None = None,
    num_iterations: int = 100,
    goal_value: Float[Array, ""] | float = 1.0,
    step_cost: Float[Array, ""] | float = 0.0,
    value_fn=max_value,
) -> Float[Array, "G B K S A"]:
    """Boltzmann log-policies of every (goal, beta, budget) hypothesis.

    Goal ``g`` is the agent MDP ``goal_reward(mdp, g, goal_value, step_cost)``;
    its Q-values come from ``num_iterations`` sweeps of value iteration
    (``budgets=None``, ``K = 1``) or, for budgets, from one
    :func:`pinfer.planning.budget_limited_planning` scan to ``max(budgets)``
    sweeps, read out at each budget (budget 0 is the uniform policy). The policy is
    ``log_softmax(beta * Q)``. Differentiable in ``betas``, ``discount``,
    ``goal_value``, ``step_cost`` and the MDP's arrays.

    Args:
        mdp: the world (one layout).
        goal_states: ``[G]`` candidate goal states.
        betas: ``[B]`` rationality values ``>= 0``.
        discount: scalar in ``[0, 1]``.
        budgets: static sequence of planning budgets ``>= 0``, or None.
        num_iterations: sweeps of value iteration when ``budgets`` is None (static).
        goal_value: reward on arriving at the goal.
        step_cost: cost ``>= 0`` of every step (subtracted).
        value_fn: ``[S, A] -> [S]`` backup of the planner (default: hard max).

    Returns:
        ``[G, B, K, S, A]`` log-probabilities, ``K = len(budgets)`` or 1.

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> log_pi = goal_log_policies(line, jnp.array([0, 2]), jnp.array([5.0]),
        ...                            0.9, budgets=(0, 2))
        >>> log_pi.shape
        (2, 1, 2, 3, 2)
        >>> jnp.round(100 * jnp.exp(log_pi[1, 0, :, 1]))  # middle, goal on the right
        Array([[50., 50.],
               [ 1., 99.]], dtype=float32)
    """
    budgets = _check_budgets(budgets)
    goal_states, betas = jnp.asarray(goal_states), jnp.asarray(betas)
    _check_goals_and_betas(mdp, goal_states, betas)

    def q_of_goal(goal):
        agent = goal_reward(mdp, goal, goal_value, step_cost)
        if budgets is None:
            return value_iteration(agent, discount, num_iterations, value_fn).q_values[
                None
            ]
        planned = budget_limited_planning(agent, discount, 1.0, max(budgets), value_fn)
        return planned.q_values[jnp.asarray(budgets)]

    q_values = jax.vmap(q_of_goal)(goal_states)  # [G, K, S, A]
    return boltzmann_policy(q_values[:, None], betas[None, :, None, None, None])
