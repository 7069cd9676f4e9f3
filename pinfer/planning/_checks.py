"""Boundary checks shared by the public planning functions (built on
:mod:`pinfer.validation`).

Each public function checks its arguments once, before tracing: the MDP's type and
rank, scalars (discount, beta, step cost, tolerance) and arrays of Q-values. Shapes and
dtypes are checked on traced values too; values only when concrete. Kernels inside
the planners call the unchecked helpers.
"""

import jax.numpy as jnp
import numpy as np

from pinfer.planning.mdp import TabularMDP
from pinfer.validation import (
    check_array,
    check_callable,
    check_finite,
    check_range,
    check_type,
    is_traced,
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


def check_scalar(
    value,
    name: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
):
    """A real scalar (0-d, numeric, not bool) in range; NaN is out of every range."""
    array = check_array(value, name, where=where, ndim=0, dtype="number", hint=hint)
    # The value as given (not its float32 copy) goes into the message.
    if low is None and high is None:
        check_finite(value, name, where=where, hint=hint)
    else:
        check_range(
            value,
            name,
            where=where,
            low=low,
            high=high,
            low_open=low_open,
            high_open=high_open,
            hint=hint,
        )
    return array


def check_discount(discount, where: str):
    return check_scalar(
        discount,
        "discount",
        where,
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


def traced_in_range(
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
):
    """Whether a *traced* value lies in range (a traced bool array; NaN is out), or
    ``None`` for a concrete value (checked before tracing already)."""
    if not is_traced(value):
        return None
    value = jnp.asarray(value)
    ok = ~jnp.isnan(value)
    if low is not None:
        ok &= (value > low) if low_open else (value >= low)
    if high is not None:
        ok &= (value < high) if high_open else (value <= high)
    return ok


def all_of(*oks):
    """The conjunction of :func:`traced_in_range` results (``None`` if all are)."""
    present = [jnp.all(ok) for ok in oks if ok is not None]
    if not present:
        return None
    out = present[0]
    for ok in present[1:]:
        out &= ok
    return out


def nan_unless(ok, *arrays):
    """``arrays`` where ``ok``, NaN elsewhere: how an argument that was traced (so
    not checked before tracing) and out of range shows in the result; an unchanged
    ``arrays`` when ``ok`` is None."""
    if ok is None:
        return arrays if len(arrays) > 1 else arrays[0]
    out = tuple(jnp.where(ok, a, jnp.nan) for a in arrays)
    return out if len(out) > 1 else out[0]
