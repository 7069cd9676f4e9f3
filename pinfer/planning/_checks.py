"""Boundary checks shared by the public planning functions (built on
:mod:`pinfer.validation`).

Each public function checks its arguments once, before tracing: the MDP's type and
rank, scalars (discount, beta, step cost, tolerance) and arrays of Q-values. Shapes and
dtypes are checked on traced values too; values only when concrete (a traced value
out of range makes the result NaN: ``traced_in_range`` and ``nan_unless`` of
:mod:`pinfer.validation`). Kernels inside the planners call the unchecked helpers.
"""

import jax.numpy as jnp
import numpy as np

from pinfer.planning.mdp import TabularMDP
from pinfer.validation import (
    check_array,
    check_callable,
    check_finite,
    check_range,
    check_scalar,
    check_type,
)

MDP_HINT = (
    "Build one with env.tabular_mdp(params) for a pinfer environment, "
    "pinfer.envs.from_gymnasium(env) for a toy-text one, or "
    "TabularMDP(transition, reward, terminal)."
)


def check_mdp(mdp, where: str, name: str = "mdp") -> TabularMDP:
    """``mdp`` is one :class:`TabularMDP` (not an environment, not a batch)."""
    check_type(mdp, name, TabularMDP, where=where, hint=MDP_HINT)
    if mdp.transition.ndim != 3:
        raise ValueError(
            f"{where}: `{name}` must be one MDP with transition [S, A, S], got a batch "
            f"with transition shape {tuple(mdp.transition.shape)}. jax.vmap over "
            "layouts instead of passing the batch."
        )
    check_finite(mdp.reward, f"{name}.reward", where=where, axes=("state", "action"))
    return mdp


def check_discount(discount, where: str):
    return check_scalar(
        discount,
        "discount",
        where=where,
        low=0.0,
        high=1.0,
        hint="It weighs the next state's value: 0.95 is a typical choice, 1.0 means "
        "no discounting.",
    )


BETA_HINT = "beta is the rationality: 0 is the uniformly random agent."


def check_beta(beta, where: str, *, positive: bool = False, scalar: bool = True):
    """Rationality ``>= 0`` (``> 0`` for a soft value, which divides by it), finite.

    Arrays of betas (``scalar=False``) must have a last axis of size 1: one
    rationality per state or hypothesis, never one per action.
    """
    hint = (
        "The soft value divides by beta; for beta = 0 (a random agent) use "
        "boltzmann_policy(q_values, 0.0)."
        if positive
        else BETA_HINT
    )
    array = check_array(beta, "beta", where=where, dtype="number", hint=hint)
    if scalar and array.ndim != 0:
        raise ValueError(
            f"{where}: `beta` must be a scalar, got shape {tuple(array.shape)}. "
            "jax.vmap over several betas."
        )
    check_range(
        beta,
        "beta",
        where=where,
        low=0.0,
        low_open=positive,
        high=np.inf,
        high_open=True,
        hint=hint,
    )
    return array


def check_beta_shape(beta, q_values, where: str) -> None:
    """``beta`` broadcasts against ``q_values`` without an axis over actions."""
    shape = tuple(jnp.shape(beta))
    ok = len(shape) == 0 or shape[-1] == 1
    if ok:
        try:
            np.broadcast_shapes(shape, tuple(q_values.shape))
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(
            f"{where}: `beta` must be a scalar or broadcast against q_values "
            f"{tuple(q_values.shape)} with a last axis of size 1 (one rationality per "
            f"state or hypothesis, never one per action), got shape {shape}."
        )


def check_q_values(q_values, where: str, name: str = "q_values"):
    """Q-values ``[..., A]``: numeric, at least 1-d, no NaN or ``+inf`` (``-inf`` marks
    an excluded action)."""
    q_values = check_array(
        q_values, name, where=where, dtype="number", hint="Index it as [..., action]."
    )
    if q_values.ndim < 1:
        raise ValueError(
            f"{where}: `{name}` must have an action axis (shape [..., A]), got a "
            "scalar."
        )
    check_finite(q_values, name, where=where, allow_neg_inf=True)
    return q_values


def check_value_fn(value_fn, where: str):
    return check_callable(
        value_fn,
        "value_fn",
        where=where,
        hint="Pass max_value or functools.partial(soft_value, beta=b).",
    )
