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

Which one to differentiate: :func:`value_iteration` and
:func:`finite_horizon_value_iteration` run a ``lax.scan`` of a static length and are
differentiable in forward and reverse mode (rewards, transitions, discount, and the
``beta`` of a soft ``value_fn``). :func:`value_iteration_until_converged` stops on a
tolerance inside a ``lax.while_loop``, which supports forward mode (``jax.jvp``) but
not reverse mode (``jax.grad``).

Counts (``num_iterations``, ``horizon``, ``max_iterations``) are static Python ints;
everything else may be traced, so a batch of layouts, goals or discounts is one
``vmap`` from outside.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from pinfer.planning.mdp import TabularMDP
from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import check_static_int

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
    """Values and Q-values after a number of sweeps.

    Attributes:
        values: ``[S]`` state values ``V(s) = value_fn(Q(s, :))``, 0 at terminals.
        q_values: ``[S, A]`` action values, 0 at terminals.
    """

    values: Float[Array, "S"]
    q_values: Float[Array, "S A"]


class ConvergedVIResult(NamedTuple):
    """Result of :func:`value_iteration_until_converged`.

    Attributes:
        values: ``[S]`` state values of the last sweep.
        q_values: ``[S, A]`` Q-values of the last sweep.
        num_iterations: sweeps run (int32 scalar).
        residual: ``max_s |V_n(s) - V_{n-1}(s)|`` of the last sweep.
        converged: whether ``residual <= tol`` (else ``max_iterations`` was hit).
    """

    values: Float[Array, "S"]
    q_values: Float[Array, "S A"]
    num_iterations: Int[Array, ""]
    residual: Float[Array, ""]
    converged: Bool[Array, ""]


def _concrete_scalar(value) -> float | None:
    if isinstance(value, jax.core.Tracer) or np.ndim(value) != 0:
        return None
    return float(value)


def check_discount(discount) -> None:
    """Raise a ``ValueError`` if a concrete ``discount`` lies outside ``[0, 1]``.

    Traced discounts (inside ``jit`` or ``vmap``) are not checked.
    """
    value = _concrete_scalar(discount)
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(
            f"discount must lie in [0, 1], got {value}. It weighs the next state's "
            "value: 0.95 is a typical choice, 1.0 means no discounting."
        )


def max_value(q_values: Float[Array, "S A"]) -> Float[Array, "S"]:
    """The hard (greedy) state value ``V(s) = max_a Q(s, a)``.

    Example:
        >>> max_value(jnp.array([[1.0, 3.0], [2.0, 0.0]]))
        Array([3., 2.], dtype=float32)
    """
    return jnp.max(q_values, axis=-1)


def bellman_q(
    mdp: TabularMDP, values: Float[Array, "S"], discount: Float[Array, ""] | float
) -> Float[Array, "S A"]:
    """One Bellman backup: ``Q(s, a) = R(s, a) + discount * E[V(s') | s, a]``.

    Terminal states get ``Q = 0`` and count as value 0 when reached, whatever
    ``values`` holds there.

    Args:
        mdp: the MDP.
        values: ``[S]`` state values.
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
    values = jnp.where(mdp.terminal, 0.0, values)
    expected = jnp.einsum(
        "sat,t->sa", mdp.transition, values, precision=lax.Precision.HIGHEST
    )
    q_values = mdp.reward + discount * expected
    return jnp.where(mdp.terminal[:, None], 0.0, q_values)


def _sweep(mdp, discount, value_fn, values):
    q_values = bellman_q(mdp, values, discount)
    # The cast keeps the loop carry's dtype when value_fn closes over a wider beta.
    values = value_fn(q_values).astype(q_values.dtype)
    return jnp.where(mdp.terminal, 0.0, values), q_values


def _zero_values(mdp, discount):
    # The weak 0.0 makes integer rewards plan in floating point.
    dtype = jnp.result_type(mdp.reward, mdp.transition, discount, 0.0)
    return jnp.zeros(mdp.reward.shape[:1], dtype)


def value_iteration(
    mdp: TabularMDP,
    discount: Float[Array, ""] | float,
    num_iterations: int,
    value_fn: ValueFn = max_value,
) -> VIResult:
    """``num_iterations`` sweeps of value iteration from ``V_0 = 0`` (one ``scan``).

    Differentiable (forward and reverse) in everything but ``num_iterations``.

    Args:
        mdp: the MDP.
        discount: scalar in ``[0, 1]`` (may be traced).
        num_iterations: number of sweeps ``n >= 1`` (static). ``n = 1`` gives
            ``Q = R``, the myopic agent.
        value_fn: ``[S, A] -> [S]`` value of each state from its Q-values;
            :func:`max_value` (default) or ``functools.partial(soft_value, beta=b)``.

    Returns:
        ``VIResult(values [S], q_values [S, A])`` after the last sweep, with
        ``values = value_fn(q_values)`` (0 at terminal states).

    Example:
        >>> chain = TabularMDP(
        ...     jnp.eye(3)[jnp.array([[1], [2], [2]])],  # 0 -> 1 -> 2 (terminal)
        ...     jnp.ones((3, 1)), jnp.array([False, False, True]))
        >>> value_iteration(chain, 0.5, 10).values
        Array([1.5, 1. , 0. ], dtype=float32)
    """
    num_iterations = check_static_int(num_iterations, "num_iterations", 1)
    check_discount(discount)
    values = _zero_values(mdp, discount)
    q_values = jnp.zeros(mdp.reward.shape, values.dtype)

    def body(carry, _):
        return _sweep(mdp, discount, value_fn, carry[0]), None

    (values, q_values), _ = lax.scan(body, (values, q_values), length=num_iterations)
    return VIResult(values, q_values)


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
    One reverse ``lax.scan``; differentiable.

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
    horizon = check_static_int(horizon, "horizon", 1)
    check_discount(discount)

    def body(values, _):
        return _sweep(mdp, discount, value_fn, values)

    _, q_values = lax.scan(body, _zero_values(mdp, discount), length=horizon)
    return q_values[::-1]


def value_iteration_until_converged(
    mdp: TabularMDP,
    discount: Float[Array, ""] | float,
    tol: Float[Array, ""] | float = 1e-6,
    max_iterations: int = 1000,
    value_fn: ValueFn = max_value,
) -> ConvergedVIResult:
    """Sweep until ``max_s |V_n(s) - V_{n-1}(s)| <= tol`` (a ``lax.while_loop``).

    With ``discount < 1`` the error to the fixed point is at most
    ``tol * discount / (1 - discount)``. Not reverse-differentiable (use
    :func:`value_iteration` with a fixed count for ``jax.grad``); ``jax.jvp`` works.
    In float32 a ``tol`` below about ``1e-7 * max|V|`` is never met, so the loop runs
    ``max_iterations`` sweeps and reports ``converged = False``.

    Args:
        mdp: the MDP.
        discount: scalar in ``[0, 1]``.
        tol: stopping tolerance on the sup-norm change of the values.
        max_iterations: static cap on the number of sweeps (``>= 1``).
        value_fn: ``[S, A] -> [S]`` as in :func:`value_iteration`.

    Returns:
        ``ConvergedVIResult(values, q_values, num_iterations, residual, converged)``.

    Example:
        >>> loop = TabularMDP(jnp.ones((1, 1, 1)), jnp.ones((1, 1)),
        ...                   jnp.array([False]))
        >>> result = value_iteration_until_converged(loop, 0.5, tol=1e-4)
        >>> round(float(result.values[0]), 3), bool(result.converged)
        (2.0, True)
    """
    max_iterations = check_static_int(max_iterations, "max_iterations", 1)
    check_discount(discount)
    values, q_values = _sweep(mdp, discount, value_fn, _zero_values(mdp, discount))
    residual = jnp.max(jnp.abs(values), initial=0.0)
    init = (jnp.int32(1), values, q_values, residual)

    def cond(carry):
        count, _, _, residual = carry
        return (count < max_iterations) & (residual > tol)

    def body(carry):
        count, values, _, _ = carry
        new_values, q_values = _sweep(mdp, discount, value_fn, values)
        residual = jnp.max(jnp.abs(new_values - values), initial=0.0)
        return count + 1, new_values, q_values, residual

    count, values, q_values, residual = lax.while_loop(cond, body, init)
    return ConvergedVIResult(values, q_values, count, residual, residual <= tol)
