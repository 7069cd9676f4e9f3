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

from collections.abc import Callable, Sequence
from functools import partial

import jax
import jax.numpy as jnp

from pinfer.inverse.checks import check_world_goals
from pinfer.planning import (
    TabularMDP,
    boltzmann_policy,
    budget_limited_planning,
    goal_reward,
    max_value,
    value_iteration,
)
from pinfer.types import Array, Float, Int
from pinfer.validation import (
    check_array,
    check_callable,
    check_finite,
    check_range,
    check_scalar,
    check_static_int,
    error_unless,
    traced_in_range,
)

__all__ = ["goal_log_policies"]


def check_budgets(budgets, where: str) -> tuple[int, ...] | None:
    if budgets is None:
        return None
    if isinstance(budgets, (str, bytes)) or not hasattr(budgets, "__iter__"):
        raise TypeError(
            f"{where}: `budgets` must be None or a sequence of Python ints (planning "
            f"sweeps per hypothesis, e.g. (0, 1, 2, 4, 8)), got {budgets!r}."
        )
    budgets = tuple(
        check_static_int(k, f"budgets[{i}]", 0, where=where)
        for i, k in enumerate(budgets)
    )
    if not budgets:
        raise ValueError(
            f"{where}: `budgets` must be a non-empty sequence of ints >= 0, got (); "
            "budget 0 is the uniformly random agent."
        )
    return budgets


def check_planning_scalars(discount, goal_value, step_cost, where: str) -> None:
    """Scalars of the goal planner: finite; discount in [0, 1]; a cost >= 0."""
    check_scalar(discount, "discount", where=where, low=0.0, high=1.0)
    check_scalar(goal_value, "goal_value", where=where)
    check_scalar(
        step_cost,
        "step_cost",
        where=where,
        low=0.0,
        hint="It is an extra cost of every step, on top of the world's "
        "reward; for a world without step costs pass a positive cost, not "
        "a negative reward.",
    )


def check_planner_options(budgets, num_iterations, value_fn, where: str):
    """``(budgets, num_iterations)`` checked (static), and ``value_fn`` callable."""
    budgets = check_budgets(budgets, where)
    num_iterations = check_static_int(num_iterations, "num_iterations", 0, where=where)
    check_callable(value_fn, "value_fn", where=where)
    return budgets, num_iterations


def check_planning(
    mdp, goal_states, betas, discount, goal_value, step_cost, where: str
) -> tuple[Array, Array]:
    """Types, shapes and dtypes always; values when concrete (goals in range and
    enterable, betas >= 0, discount in [0, 1], a cost >= 0)."""
    goal_states = check_world_goals(mdp, goal_states, where=where)
    betas = check_array(
        betas,
        "betas",
        where=where,
        ndim=1,
        dtype="number",
        hint="A grid of rationality values, e.g. [1.0, 4.0].",
    )
    if betas.shape[0] == 0:
        raise ValueError(f"{where}: `betas` must not be empty, got shape (0,).")
    check_planning_scalars(discount, goal_value, step_cost, where)
    check_finite(betas, "betas", where=where)
    check_range(
        betas, "betas", where=where, low=0.0, hint="0 is a uniformly random agent."
    )
    return goal_states, betas


def guard_traced(mdp, goal_states, betas, where: str) -> tuple[Array, Array]:
    """Inside the user's jit, a goal outside the world or a negative / NaN beta
    raises at run time (``eqx.error_if``) rather than planning something else."""
    last = mdp.num_states - 1
    goal_states = error_unless(
        goal_states,
        [
            (
                traced_in_range(goal_states, low=0, high=last),
                "goal_states",
                f"state indices in 0..{last}",
            )
        ],
        where=where,
    )
    betas = error_unless(
        betas, [(traced_in_range(betas, low=0.0), "betas", ">= 0")], where=where
    )
    return goal_states, betas


@partial(jax.jit, static_argnames=("budgets", "num_iterations", "value_fn"))
def plan_log_policies(
    mdp,
    goal_states,
    betas,
    discount,
    goal_value,
    step_cost,
    *,
    budgets,
    num_iterations,
    value_fn,
):
    """The planning of :func:`goal_log_policies`, without its checks."""

    def q_of_goal(goal):
        agent = goal_reward(mdp, goal, goal_value, step_cost)
        if budgets is None:
            planned = value_iteration(agent, discount, num_iterations, value_fn)
            return planned.q_values[None]
        planned = budget_limited_planning(agent, discount, 1.0, max(budgets), value_fn)
        return planned.q_values[jnp.asarray(budgets)]

    q_values = jax.vmap(q_of_goal)(goal_states)  # [G, K, S, A]
    return boltzmann_policy(q_values[:, None], betas[None, :, None, None, None])


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
    value_fn: Callable = max_value,
) -> Float[Array, "G B K S A"]:
    """Boltzmann log-policies of every (goal, beta, budget) hypothesis.

    Goal ``g`` is the agent MDP ``goal_reward(mdp, g, goal_value, step_cost)``:
    the world's reward (its cost of a step: a GridWorld's ``step_reward``, -1 by
    default) plus ``goal_value`` on arriving at ``g`` minus ``step_cost``, an
    *extra* cost of every step that the agent adds on top of the world's (0 by
    default: the world owns the cost of a step). Its Q-values come from
    ``num_iterations`` sweeps of value iteration (``budgets=None``, ``K = 1``) or,
    for budgets, from one :func:`pinfer.planning.budget_limited_planning` scan to
    ``max(budgets)`` sweeps, read out at each budget (budget 0 is the uniform
    policy). The policy is ``log_softmax(beta * Q)``. Differentiable in ``betas``,
    ``discount``, ``goal_value``, ``step_cost`` and the MDP's arrays.

    Concrete inputs are checked first (goals inside the world and enterable from
    another state, not walls; betas ``>= 0``; discount in ``[0, 1]``); inside
    ``jit`` a bad goal or beta raises at run time (``eqx.error_if``).

    Args:
        mdp: the world (one layout).
        goal_states: ``[G]`` candidate goal states.
        betas: ``[B]`` rationality values ``>= 0``.
        discount: scalar in ``[0, 1]``.
        budgets: static sequence of planning budgets ``>= 0``, or None.
        num_iterations: sweeps of value iteration when ``budgets`` is None (static).
        goal_value: reward on arriving at the goal.
        step_cost: extra cost ``>= 0`` of every step, on top of the world's reward.
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
    where = "goal_log_policies"
    budgets, num_iterations = check_planner_options(
        budgets, num_iterations, value_fn, where
    )
    goal_states, betas = check_planning(
        mdp, goal_states, betas, discount, goal_value, step_cost, where
    )
    goal_states, betas = guard_traced(mdp, goal_states, betas, where)
    return plan_log_policies(
        mdp,
        goal_states,
        betas,
        discount,
        goal_value,
        step_cost,
        budgets=budgets,
        num_iterations=num_iterations,
        value_fn=value_fn,
    )
