"""Budget-limited planning: the policy after k sweeps of value iteration, for every k.

Following "Modeling Boundedly Rational Agents with Latent Inference Budgets" (Jacob,
Gupta and Andreas, ICLR 2024; L-IBM), an agent with budget ``k`` runs an anytime
planner (here value iteration from ``V_0 = 0``) for ``k`` steps and then acts
Boltzmann-rationally on what it has:

    Q^(0)(s, a) = 0                                   # no planning: uniform policy
    V_0 = 0
    for k = 1..K:                                     # ONE lax.scan
        Q^(k) = bellman_q(mdp, V_{k-1}, discount)     # value_iteration(..., k).q_values
        V_k   = value_fn(Q^(k))
    log pi_k(a | s) = log_softmax_a(beta * Q^(k)(s, a))

Because every intermediate ``Q^(k)`` of one run is kept, the budget becomes a discrete
latent variable at the cost of a single ``K``-sweep value iteration: the likelihood of
an observed trajectory under budget ``k`` is ``sum_t log_policies[k, s_t, a_t]``, and
a prior over ``k`` is marginalised with ``logsumexp``. Budget ``k >= 1`` sees ``k``
steps ahead, so budget 1 is the myopic agent (``Q = R``) and an agent farther than
``k`` steps from any reward acts at random. Batch over goals or layouts with ``vmap``.
"""

from typing import NamedTuple

import jax.numpy as jnp
from jax import lax

from pinfer.planning._checks import check_beta
from pinfer.planning.mdp import TabularMDP
from pinfer.planning.soft import _boltzmann, beta_ok
from pinfer.planning.value_iteration import (
    ValueFn,
    _sweep,
    _zero_values,
    check_planner,
    discount_ok,
    max_value,
)
from pinfer.types import Array, Float
from pinfer.validation import all_of, check_static_int, nan_unless

__all__ = ["BudgetResult", "budget_limited_planning"]


class BudgetResult(NamedTuple):
    """Q-values and Boltzmann policies for every budget ``k = 0..K``.

    Attributes:
        q_values: ``[K + 1, S, A]``; ``q_values[k]`` is the Q after ``k`` sweeps
            (``q_values[0] = 0``).
        log_policies: ``[K + 1, S, A]``; ``log_softmax(beta * q_values[k])``.
    """

    q_values: Float[Array, "K1 S A"]
    log_policies: Float[Array, "K1 S A"]


def budget_limited_planning(
    mdp: TabularMDP,
    discount: Float[Array, ""] | float,
    beta: Float[Array, ""] | float,
    max_budget: int,
    value_fn: ValueFn = max_value,
) -> BudgetResult:
    """The Q-values and Boltzmann policies of budgets ``0..max_budget`` in one scan.

    ``q_values[k]`` equals ``value_iteration(mdp, discount, k, value_fn).q_values``
    for ``k >= 1``, and is 0 (the uniform policy) for ``k = 0``. Differentiable in
    the rewards, ``discount`` and ``beta``.

    Args:
        mdp: the MDP (one layout; ``vmap`` for many).
        discount: scalar in ``[0, 1]``.
        beta: scalar Boltzmann rationality ``>= 0`` of the read-out policy, finite
            (may be traced; a traced invalid ``beta`` or ``discount`` gives NaN).
        max_budget: the largest budget ``K >= 0`` (static).
        value_fn: ``[S, A] -> [S]`` backup, :func:`max_value` (default) or
            ``functools.partial(soft_value, beta=...)``.

    Returns:
        ``BudgetResult(q_values [K + 1, S, A], log_policies [K + 1, S, A])``.

    Example:
        >>> chain = TabularMDP(  # 0 -> 1 -> 2 -> 3 (terminal), reward 1 on arrival
        ...     jnp.eye(4)[jnp.array([[0, 1], [1, 2], [2, 3], [3, 3]])],
        ...     jnp.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
        ...     jnp.array([False, False, False, True]))
        >>> result = budget_limited_planning(chain, 1.0, 5.0, max_budget=3)
        >>> result.q_values[:, 0, 1]  # stepping forward from 0 pays only at k = 3
        Array([0., 0., 0., 1.], dtype=float32)
        >>> jnp.exp(result.log_policies[3, 0, 1]) > 0.99
        Array(True, dtype=bool)
    """
    where = "budget_limited_planning"
    check_planner(mdp, discount, value_fn, where)
    beta = check_beta(beta, where)
    max_budget = check_static_int(max_budget, "max_budget", 0, where=where)

    def body(values, _):
        return _sweep(mdp, discount, value_fn, values)

    _, planned = lax.scan(body, _zero_values(mdp, discount), length=max_budget)
    no_plan = jnp.zeros((1, *planned.shape[1:]), planned.dtype)
    q_values = jnp.concatenate([no_plan, planned])
    ok = all_of(discount_ok(discount), beta_ok(beta))
    return BudgetResult(*nan_unless(ok, q_values, _boltzmann(q_values, beta)))
