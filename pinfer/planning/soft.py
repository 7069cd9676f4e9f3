"""Soft (max-ent) value iteration and policies from Q-values.

A Boltzmann-rational agent with rationality ``beta`` picks actions with
``pi(a | s) = exp(beta * Q(s, a)) / sum_a' exp(beta * Q(s, a'))``. The value that is
consistent with such an agent replaces the max of value iteration by a soft maximum
(Ziebart et al., 2008, "Maximum Entropy Inverse Reinforcement Learning"; Haarnoja et
al., 2017, "Reinforcement Learning with Deep Energy-Based Policies"):

    V(s)       = (1 / beta) * logsumexp_a beta * Q(s, a)          (soft_value)
    Q(s, a)    = R(s, a) + discount * sum_s' T(s, a, s') V(s')
    log pi(a|s) = beta * Q(s, a) - logsumexp_a' beta * Q(s, a')   (boltzmann_policy)

so that ``V(s) = E_pi[Q(s, a)] + H(pi(. | s)) / beta``. As ``beta -> inf`` the soft
value falls to the hard maximum: ``0 <= V_soft - V_hard <= log(A) / beta`` per backup.
Terminal states keep value 0. ``beta`` is a dynamic argument (trace, vmap or
differentiate it); everything is differentiable in the rewards and in ``beta``.
"""

import functools

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.planning._checks import check_beta, check_beta_shape, check_q_values
from pinfer.planning.mdp import TabularMDP
from pinfer.planning.value_iteration import VIResult, _iterate, flag_result
from pinfer.types import Array, Float
from pinfer.validation import all_of, check_scalar, nan_unless, traced_in_range

__all__ = ["soft_value", "soft_value_iteration", "boltzmann_policy", "greedy_policy"]


def soft_value(
    q_values: Float[Array, "S A"], beta: Float[Array, ""] | float
) -> Float[Array, "S"]:
    """The soft maximum ``(1 / beta) * logsumexp_a beta * Q(s, a)``.

    Args:
        q_values: ``[S, A]`` (or ``[..., A]``) Q-values, no NaN (``-inf`` excludes
            an action).
        beta: rationality ``> 0`` and finite (may be traced): a scalar, or an array
            with a last axis of size 1 that broadcasts against ``q_values``. A
            traced invalid ``beta`` gives NaN values.

    Returns:
        ``[S]`` soft values, each within ``[max_a Q, max_a Q + log(A) / beta]``.

    Example:
        >>> soft_value(jnp.array([[0.0, 0.0]]), 1.0)  # log 2
        Array([0.6931472], dtype=float32)
    """
    where = "soft_value"
    q_values = check_q_values(q_values, where)
    beta = check_beta(beta, where, positive=True, scalar=False)
    check_beta_shape(beta, q_values, where)
    ok = beta_ok(beta, positive=True)
    if ok is not None and ok.ndim:
        ok = ok[..., 0]
    return nan_unless(ok, _soft_value(q_values, beta))


def beta_ok(beta, positive: bool = False):
    """A traced beta that is finite and ``>= 0`` (``> 0``), elementwise; None when
    concrete (checked already)."""
    return traced_in_range(
        beta, low=0.0, low_open=positive, high=float("inf"), high_open=True
    )


def _soft_value(q_values, beta):
    if jnp.ndim(beta):
        return logsumexp(beta * q_values, axis=-1) / beta[..., 0]
    return logsumexp(beta * q_values, axis=-1) / beta


def soft_value_iteration(
    mdp: TabularMDP,
    discount: Float[Array, ""] | float,
    beta: Float[Array, ""] | float,
    num_iterations: int,
) -> VIResult:
    """``num_iterations`` sweeps of soft value iteration from ``V_0 = 0``.

    Equals ``value_iteration(mdp, discount, num_iterations,
    value_fn=functools.partial(soft_value, beta=beta))``; one ``lax.scan``,
    differentiable in the rewards, the transitions, ``discount`` and ``beta``. For a
    tolerance-based stop pass that ``value_fn`` and ``tol=`` to
    :func:`pinfer.planning.value_iteration`.

    Args:
        mdp: the MDP.
        discount: scalar in ``[0, 1]``.
        beta: scalar rationality ``> 0``, finite (may be traced; a traced invalid
            one gives NaN values and ``converged = False``).
        num_iterations: number of sweeps ``>= 1`` (static).

    Returns:
        ``VIResult(values [S], q_values [S, A], ...)`` (see
        :func:`pinfer.planning.value_iteration`); the matching Boltzmann policy is
        ``boltzmann_policy(q_values, beta)``.

    Example:
        >>> mdp = TabularMDP(jnp.ones((1, 2, 1)), jnp.zeros((1, 2)),
        ...                  jnp.array([False]))
        >>> soft_value_iteration(mdp, 0.5, 1.0, 60).values  # log 2 / (1 - 0.5)
        Array([1.3862944], dtype=float32)
    """
    where = "soft_value_iteration"
    beta = check_beta(beta, where, positive=True)
    value_fn = functools.partial(_soft_value, beta=beta)
    result = _iterate(
        mdp, discount, num_iterations, "num_iterations", value_fn, None, where
    )
    return flag_result(result, all_of(beta_ok(beta, positive=True)))


def boltzmann_policy(
    q_values: Float[Array, "S A"], beta: Float[Array, ""] | float
) -> Float[Array, "S A"]:
    """Log-probabilities of the Boltzmann policy: ``log_softmax(beta * Q)`` per state.

    Stable for large ``beta * Q`` (the max is subtracted before exponentiating);
    ``beta = 0`` gives the uniform policy. Differentiable in ``q_values`` and ``beta``.

    Args:
        q_values: ``[S, A]`` (or ``[..., A]``) Q-values, no NaN or ``+inf``
            (``-inf`` gives an action probability 0).
        beta: rationality ``>= 0`` and finite (may be traced): a scalar, or an array
            with a last axis of size 1 (one beta per state or hypothesis) that
            broadcasts against ``q_values``. Concrete values are checked; a traced
            negative, infinite or NaN ``beta`` (inside ``jit``) gives NaN
            log-probabilities where it applies.

    Returns:
        ``[S, A]`` log-probabilities; ``logsumexp`` over the last axis is 0.

    Example:
        >>> jnp.exp(boltzmann_policy(jnp.array([[0.0, jnp.log(3.0)]]), 1.0))
        Array([[0.25, 0.75]], dtype=float32)
    """
    where = "boltzmann_policy"
    q_values = check_q_values(q_values, where)
    beta = check_beta(beta, where, scalar=False)
    check_beta_shape(beta, q_values, where)
    return nan_unless(beta_ok(beta), _boltzmann(q_values, beta))


def _boltzmann(q_values, beta):
    return jax.nn.log_softmax(beta * q_values, axis=-1)


def greedy_policy(
    q_values: Float[Array, "S A"], atol: Float[Array, ""] | float = 0.0
) -> Float[Array, "S A"]:
    """Log-probabilities of the greedy policy, uniform over the maximising actions.

    Actions within ``atol`` of the maximum count as ties. The result is a step
    function of ``q_values``: its gradient is zero (use :func:`boltzmann_policy` to
    differentiate).

    Args:
        q_values: ``[S, A]`` (or ``[..., A]``) Q-values, no NaN or ``+inf``.
        atol: tie tolerance ``>= 0`` and finite (default 0: exact ties only; a
            traced invalid one gives NaN).

    Returns:
        ``[S, A]`` log-probabilities: ``-log(#ties)`` on the maximisers, ``-inf`` off.

    Example:
        >>> jnp.exp(greedy_policy(jnp.array([[1.0, 2.0, 2.0]])))
        Array([[0. , 0.5, 0.5]], dtype=float32)
    """
    where = "greedy_policy"
    q_values = check_q_values(q_values, where)
    check_scalar(atol, "atol", where=where, low=0.0, high=float("inf"), high_open=True)
    q_values = jax.lax.stop_gradient(q_values)
    best = q_values >= jnp.max(q_values, axis=-1, keepdims=True) - atol
    num_best = jnp.sum(best, axis=-1, keepdims=True).astype(q_values.dtype)
    log_policy = jnp.where(best, -jnp.log(num_best), -jnp.inf)
    ok = traced_in_range(atol, low=0.0, high=float("inf"), high_open=True)
    return nan_unless(ok, log_policy)
