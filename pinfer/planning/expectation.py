"""The Bellman expectation ``E[f(s') | s, a]``, dense or by successor gather.

    dense:        E[f | s, a] = sum_s' transition[s, a, s'] f(s')     # S terms
    deterministic: E[f | s, a] = f(successors[s, a])                  # one read

Both give the same numbers on a one-hot table (every product but one is an exact
zero), so the gather is chosen whenever the MDP carries ``successors``. Its
derivative is the dense one: the tangent (and, transposed, the gradient) goes
through ``transition`` with a matrix product, so derivatives with respect to
``transition`` are exact and reverse mode has no scatter-add (whose float summation
order on a GPU is not fixed). Only the primal value, the part every planner runs,
takes the fast path.
"""

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

from pinfer.planning._checks import check_mdp
from pinfer.planning.mdp import TabularMDP
from pinfer.types import Array, Float
from pinfer.validation import check_array, check_finite

__all__ = ["expected_next"]


def _dense(transition, per_state):
    return jnp.einsum(
        "sat,t...->sa...", transition, per_state, precision=lax.Precision.HIGHEST
    )


@jax.custom_jvp
def _gather(transition, successors, per_state):
    dtype = jnp.result_type(transition, per_state)
    return per_state[successors].astype(dtype)


@_gather.defjvp
def _gather_jvp(primals, tangents):
    transition, successors, per_state = primals
    d_transition, _, d_per_state = tangents
    out = _gather(transition, successors, per_state)
    parts = []
    if not isinstance(d_per_state, SymbolicZero):
        parts.append(_dense(transition, d_per_state))
    if not isinstance(d_transition, SymbolicZero):
        parts.append(_dense(d_transition, per_state))
    tangent = sum(parts[1:], parts[0]) if parts else jnp.zeros_like(out)
    return out, tangent.astype(out.dtype)


_gather.defjvp(_gather_jvp, symbolic_zeros=True)


def _expected_next(mdp: TabularMDP, per_state: Array) -> Array:
    """``[S, ...] -> [S, A, ...]`` without checks (for kernels)."""
    if mdp.successors is None:
        return _dense(mdp.transition, per_state)
    return _gather(mdp.transition, mdp.successors, per_state)


def expected_next(
    mdp: TabularMDP, per_state: Float[Array, "S *F"]
) -> Float[Array, "S A *F"]:
    """Expected value of a function of the next state: ``sum_s' T[s, a, s'] f[s']``.

    A gather ``f[successors[s, a]]`` when ``mdp.successors`` is set (deterministic
    worlds), else a dense product over ``transition``; the two agree exactly on a
    one-hot table, and derivatives always follow the dense formula.

    Args:
        mdp: the MDP (one layout; ``vmap`` for many).
        per_state: ``[S, ...]`` values of each next state (finite).

    Returns:
        ``[S, A, ...]`` expectations.

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> expected_next(line, jnp.array([10.0, 20.0, 30.0]))
        Array([[10., 20.],
               [10., 30.],
               [20., 30.]], dtype=float32)
    """
    where = "expected_next"
    check_mdp(mdp, where)
    per_state = check_array(
        per_state,
        "per_state",
        where=where,
        dtype="number",
        hint=f"Its first axis runs over the {mdp.num_states} states.",
    )
    if per_state.ndim < 1 or per_state.shape[0] != mdp.num_states:
        raise ValueError(
            f"{where}: `per_state` must have shape [S, ...] with S = "
            f"{mdp.num_states}, got {list(per_state.shape)}."
        )
    check_finite(per_state, "per_state", where=where)
    return _expected_next(mdp, per_state)
