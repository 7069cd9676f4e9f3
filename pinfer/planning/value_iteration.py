"""Value iteration on a tabular MDP: discounted, finite-horizon, and to convergence.

One sweep is one Bellman backup of the state values (Bellman, 1957; Puterman, 1994):

    V_0(s) = 0
    for k = 1..n:
        Q_k(s, a) = R(s, a) + discount * sum_s' T(s, a, s') V_{k-1}(s')
        V_k(s)    = value_fn(Q_k(s, :))          # max_a for hard value iteration
    Q_k(s, a) = V_k(s) = 0 where terminal[s]     # absorbing, no further reward

``value_fn`` is a function of one state's Q-values: :func:`max_value` gives ordinary
value iteration, :func:`pinfer.planning.soft_value` the max-ent (soft) backup. After
``n`` sweeps ``Q_n`` is the optimal Q of the n-step problem, so ``n`` is the agent's
lookahead: ``n = 1`` is the myopic agent (``Q = R``), and ``n = k`` the agent with
budget ``k`` of :func:`pinfer.planning.budget_limited_planning`.

A fixed number of sweeps or a tolerance: :func:`value_iteration` runs exactly
``num_iterations`` sweeps (a ``lax.scan``, differentiable in forward and reverse mode
in the rewards, transitions, discount and the ``beta`` of a soft ``value_fn``), or,
given ``tol``, stops after the first sweep whose residual
``max_s |V_n(s) - V_{n-1}(s)|`` is ``<= tol`` (a ``lax.while_loop``: forward mode,
``jax.jvp``, but not reverse mode). Both report the sweeps run, the last residual and
whether it converged; :func:`value_iteration_until_converged` is the tolerance form
under its former name.

On a deterministic world (``mdp.successors`` set) the expectation over next states is
a gather ``V[successors]`` instead of a sum over ``transition``
(:func:`pinfer.planning.expected_next`): the same numbers, much faster.

Counts (``num_iterations``, ``horizon``, ``max_iterations``) are static Python ints;
everything else may be traced, so a batch of layouts, goals or discounts is one
``vmap`` from outside.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
from jax import lax

from pinfer.planning._checks import (
    check_discount,
    check_mdp,
    check_q_values,
    check_value_fn,
)
from pinfer.planning.expectation import _expected_next
from pinfer.planning.mdp import TabularMDP
from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import (
    check_array,
    check_finite,
    check_scalar,
    check_static_int,
    nan_unless,
    traced_in_range,
)

__all__ = [
    "VIResult",
    "ConvergedVIResult",
    "bellman_q",
    "max_value",
    "value_iteration",
    "finite_horizon_value_iteration",
    "value_iteration_until_converged",
]

ValueFn = Callable[[Float[Array, "S A"]], Float[Array, "S"]]


class VIResult(NamedTuple):
    """Values and Q-values after the last sweep, and how the sweeps ended.

    Attributes:
        values: ``[S]`` state values ``V(s) = value_fn(Q(s, :))``, 0 at terminals.
        q_values: ``[S, A]`` action values, 0 at terminals.
        num_iterations: sweeps run (int32 scalar).
        residual: ``max_s |V_n(s) - V_{n-1}(s)|`` of the last sweep.
        converged: ``residual <= tol``; without ``tol`` (a fixed sweep count),
            ``residual == 0``: the last sweep left the values unchanged.
    """

    values: Float[Array, "S"]
    q_values: Float[Array, "S A"]
    num_iterations: Int[Array, ""]
    residual: Float[Array, ""]
    converged: Bool[Array, ""]


ConvergedVIResult = VIResult
"""The former name of the result of :func:`value_iteration_until_converged`."""


def max_value(q_values: Float[Array, "S A"]) -> Float[Array, "S"]:
    """The hard (greedy) state value ``V(s) = max_a Q(s, a)``.

    Example:
        >>> max_value(jnp.array([[1.0, 3.0], [2.0, 0.0]]))
        Array([3., 2.], dtype=float32)
    """
    q_values = check_q_values(q_values, "max_value")
    return jnp.max(q_values, axis=-1)


def _bellman_q(mdp, values, discount):
    values = jnp.where(mdp.terminal, 0.0, values)
    q_values = mdp.reward + discount * _expected_next(mdp, values)
    return jnp.where(mdp.terminal[:, None], 0.0, q_values)


def bellman_q(
    mdp: TabularMDP, values: Float[Array, "S"], discount: Float[Array, ""] | float
) -> Float[Array, "S A"]:
    """One Bellman backup: ``Q(s, a) = R(s, a) + discount * E[V(s') | s, a]``.

    Terminal states get ``Q = 0`` and count as value 0 when reached, whatever
    ``values`` holds there. The expectation is a gather on a deterministic world
    (``mdp.successors`` set), a sum over ``transition`` otherwise. A traced
    ``discount`` outside ``[0, 1]`` gives NaN Q-values.

    Args:
        mdp: the MDP.
        values: ``[S]`` finite state values.
        discount: scalar in ``[0, 1]``.

    Returns:
        ``[S, A]`` Q-values.

    Example:
        >>> mdp = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.ones((2, 1)),
        ...                  jnp.array([False, True]))
        >>> bellman_q(mdp, jnp.array([2.0, 5.0]), 0.5)  # 1 + 0.5 * (2 + 0) / 2
        Array([[1.5],
               [0. ]], dtype=float32)
    """
    where = "bellman_q"
    check_mdp(mdp, where)
    values = check_array(
        values, "values", where=where, shape=(mdp.num_states,), dtype="number"
    )
    check_finite(values, "values", where=where)
    check_discount(discount, where)
    return nan_unless(discount_ok(discount), _bellman_q(mdp, values, discount))


def _sweep(mdp, discount, value_fn, values):
    q_values = _bellman_q(mdp, values, discount)
    # The cast keeps the loop carry's dtype when value_fn closes over a wider beta.
    values = value_fn(q_values).astype(q_values.dtype)
    return jnp.where(mdp.terminal, 0.0, values), q_values


def _zero_values(mdp, discount):
    # The weak 0.0 makes integer rewards plan in floating point.
    dtype = jnp.result_type(mdp.reward, mdp.transition, discount, 0.0)
    return jnp.zeros(mdp.reward.shape[:1], dtype)


def _residual(new_values, values):
    return jnp.max(jnp.abs(new_values - values), initial=0.0)


def check_planner(mdp, discount, value_fn, where: str) -> None:
    """The checks every planner makes: the MDP, the discount and the backup."""
    check_mdp(mdp, where)
    check_discount(discount, where)
    check_value_fn(value_fn, where)


def discount_ok(discount):
    """A traced discount in ``[0, 1]`` (None when concrete: checked already)."""
    return traced_in_range(discount, low=0.0, high=1.0)


def flag_result(result: VIResult, ok) -> VIResult:
    """NaN values and ``converged = False`` where a traced argument was invalid."""
    if ok is None:
        return result
    values, q_values, residual = nan_unless(
        ok, result.values, result.q_values, result.residual
    )
    return VIResult(
        values, q_values, result.num_iterations, residual, result.converged & ok
    )


def _fixed_sweeps(mdp, discount, num_iterations, value_fn) -> VIResult:
    values = _zero_values(mdp, discount)
    init = (
        values,
        jnp.zeros(mdp.reward.shape, values.dtype),
        jnp.zeros((), values.dtype),
    )

    def body(carry, _):
        new_values, q_values = _sweep(mdp, discount, value_fn, carry[0])
        return (new_values, q_values, _residual(new_values, carry[0])), None

    (values, q_values, residual), _ = lax.scan(body, init, length=num_iterations)
    count = jnp.asarray(num_iterations, jnp.int32)
    return VIResult(values, q_values, count, residual, residual == 0)


def _until_tolerance(mdp, discount, tol, max_iterations, value_fn) -> VIResult:
    start = _zero_values(mdp, discount)
    values, q_values = _sweep(mdp, discount, value_fn, start)
    init = (jnp.int32(1), values, q_values, _residual(values, start))

    def cond(carry):
        count, _, _, residual = carry
        return (count < max_iterations) & (residual > tol)  # NaN residual: stop

    def body(carry):
        count, values, _, _ = carry
        new_values, q_values = _sweep(mdp, discount, value_fn, values)
        return count + 1, new_values, q_values, _residual(new_values, values)

    count, values, q_values, residual = lax.while_loop(cond, body, init)
    return VIResult(values, q_values, count, residual, residual <= tol)


def _iterate(mdp, discount, count, count_name, value_fn, tol, where) -> VIResult:
    check_planner(mdp, discount, value_fn, where)
    count = check_static_int(count, count_name, 1, where=where)
    if tol is None:
        return flag_result(
            _fixed_sweeps(mdp, discount, count, value_fn), discount_ok(discount)
        )
    tol = check_scalar(
        tol,
        "tol",
        where=where,
        low=0.0,
        finite=False,
        hint="It bounds the last sweep's change of the values, max_s |V_n - V_n-1|.",
    )
    result = _until_tolerance(mdp, discount, tol, count, value_fn)
    return flag_result(result, discount_ok(discount))


def value_iteration(
    mdp: TabularMDP,
    discount: Float[Array, ""] | float,
    num_iterations: int,
    value_fn: ValueFn = max_value,
    *,
    tol: Float[Array, ""] | float | None = None,
) -> VIResult:
    """Value iteration from ``V_0 = 0``: a fixed number of sweeps, or to a tolerance.

    Without ``tol``: exactly ``num_iterations`` sweeps (one ``lax.scan``),
    differentiable (forward and reverse) in everything but ``num_iterations``.
    With ``tol``: sweeps until ``max_s |V_n(s) - V_{n-1}(s)| <= tol``, at most
    ``num_iterations`` (a ``lax.while_loop``: ``jax.jvp`` works, ``jax.grad`` does
    not). With ``discount < 1`` the error to the fixed point is then at most
    ``tol * discount / (1 - discount)``; in float32 a ``tol`` below about
    ``1e-7 * max|V|`` is never met, and ``converged`` comes back False. Inside
    ``jit``, where a traced ``discount`` cannot be checked first, one outside
    ``[0, 1]`` (or NaN) gives NaN values and ``converged = False``; so does a NaN
    ``tol`` (a negative one is never met).

    Args:
        mdp: the MDP.
        discount: scalar in ``[0, 1]`` (may be traced).
        num_iterations: number of sweeps ``n >= 1`` (static); with ``tol``, the
            most sweeps to run. ``n = 1`` gives ``Q = R``, the myopic agent.
        value_fn: ``[S, A] -> [S]`` value of each state from its Q-values;
            :func:`max_value` (default) or ``functools.partial(soft_value, beta=b)``.
        tol: None (a fixed sweep count), or a tolerance ``>= 0`` on the residual
            (may be traced).

    Returns:
        ``VIResult(values [S], q_values [S, A], num_iterations, residual,
        converged)`` after the last sweep, with ``values = value_fn(q_values)`` (0
        at terminal states).

    Example:
        >>> chain = TabularMDP(
        ...     jnp.eye(3)[jnp.array([[1], [2], [2]])],  # 0 -> 1 -> 2 (terminal)
        ...     jnp.ones((3, 1)), jnp.array([False, False, True]))
        >>> result = value_iteration(chain, 0.5, 10)
        >>> result.values, bool(result.converged)
        (Array([1.5, 1. , 0. ], dtype=float32), True)
        >>> int(value_iteration(chain, 0.5, 10, tol=0.0).num_iterations)
        3
    """
    return _iterate(
        mdp,
        discount,
        num_iterations,
        "num_iterations",
        value_fn,
        tol,
        "value_iteration",
    )


def finite_horizon_value_iteration(
    mdp: TabularMDP,
    horizon: int,
    discount: Float[Array, ""] | float = 1.0,
    value_fn: ValueFn = max_value,
) -> Float[Array, "H S A"]:
    """Time-indexed Q-values of the ``horizon``-step problem (backward induction).

    ``q[t]`` is the value of acting at time ``t`` with ``horizon - t`` steps left:
    ``q[horizon - 1] = R`` and ``q[t] = bellman_q(mdp, value_fn(q[t + 1]), discount)``,
    so ``q[t]`` equals ``value_iteration(mdp, discount, horizon - t).q_values``.
    One reverse ``lax.scan``; differentiable. A traced ``discount`` outside
    ``[0, 1]`` gives NaN Q-values.

    Args:
        mdp: the MDP.
        horizon: number of decision steps ``H >= 1`` (static).
        discount: scalar in ``[0, 1]``; 1 (default) is the undiscounted sum.
        value_fn: ``[S, A] -> [S]`` as in :func:`value_iteration`.

    Returns:
        ``[H, S, A]`` Q-values, ``q[t, s, a]`` for taking ``a`` in ``s`` at time ``t``.

    Example:
        >>> chain = TabularMDP(
        ...     jnp.eye(3)[jnp.array([[1], [2], [2]])],
        ...     jnp.ones((3, 1)), jnp.array([False, False, True]))
        >>> finite_horizon_value_iteration(chain, 2)[:, :, 0]
        Array([[2., 1., 0.],
               [1., 1., 0.]], dtype=float32)
    """
    where = "finite_horizon_value_iteration"
    check_planner(mdp, discount, value_fn, where)
    horizon = check_static_int(horizon, "horizon", 1, where=where)

    def body(values, _):
        return _sweep(mdp, discount, value_fn, values)

    _, q_values = lax.scan(body, _zero_values(mdp, discount), length=horizon)
    return nan_unless(discount_ok(discount), q_values[::-1])


def value_iteration_until_converged(
    mdp: TabularMDP,
    discount: Float[Array, ""] | float,
    tol: Float[Array, ""] | float = 1e-6,
    max_iterations: int = 1000,
    value_fn: ValueFn = max_value,
) -> VIResult:
    """``value_iteration(mdp, discount, max_iterations, value_fn, tol=tol)``.

    Sweeps until ``max_s |V_n(s) - V_{n-1}(s)| <= tol`` (a ``lax.while_loop``; see
    :func:`value_iteration` for the error bound and for reverse-mode derivatives).

    Args:
        mdp: the MDP.
        discount: scalar in ``[0, 1]``.
        tol: stopping tolerance ``>= 0`` on the sup-norm change of the values.
        max_iterations: static cap on the number of sweeps (``>= 1``).
        value_fn: ``[S, A] -> [S]`` as in :func:`value_iteration`.

    Returns:
        ``VIResult(values, q_values, num_iterations, residual, converged)``.

    Example:
        >>> loop = TabularMDP(jnp.ones((1, 1, 1)), jnp.ones((1, 1)),
        ...                   jnp.array([False]))
        >>> result = value_iteration_until_converged(loop, 0.5, tol=1e-4)
        >>> round(float(result.values[0]), 3), bool(result.converged)
        (2.0, True)
    """
    where = "value_iteration_until_converged"
    if tol is None:  # a fixed count is value_iteration's job
        check_scalar(tol, "tol", where=where, low=0.0, finite=False)
    return _iterate(
        mdp,
        discount,
        max_iterations,
        "max_iterations",
        value_fn,
        tol,
        where,
    )
