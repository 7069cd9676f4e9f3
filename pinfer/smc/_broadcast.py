"""Find an observation broadcast against the state inside ``log_observation``.

A model that declares no ``observation_shape`` cannot say what one observation looks
like, and NumPy broadcasting lets ``[T, 1]`` (or ``[T]``) observations meet a
two-dimensional state (``y - H x`` of shapes ``[1]`` and ``[2]``) without an error:
every particle is then weighed against a copy of one number. This module traces
``log_observation(x, y, t)`` once (``jax.make_jaxpr`` on shape structs, before any
filter runs) and reports when an axis of size 1 of ``y`` (or of ``y`` reshaped or
cast) is stretched in an operation whose other operand depends on the state ``x``.
A broadcast against the model's parameters alone (a mixture's means) is not reported.
"""

import math
from collections.abc import Callable
from typing import Any

import jax
from jax.extend.core import Literal

__all__ = ["stretched_observation"]

# Operations that keep an observation what it is (shape changes that add or drop
# axes of size 1, casts, copies).
_KEEP = {
    "convert_element_type",
    "copy",
    "copy_p",
    "reshape",
    "squeeze",
    "expand_dims",
    "broadcast_in_dim",
    "neg",
    "reduce_precision",
}


def _stretch(before: tuple, after: tuple, dims: tuple | None = None) -> bool:
    if dims is None:
        if not before:  # a scalar met an array: stretched if that has > 1 entry
            return math.prod(after) > 1
        if len(before) != len(after):
            return False
        dims = tuple(range(len(before)))
    return any(b == 1 and after[d] > 1 for b, d in zip(before, dims, strict=True))


def _sub_jaxprs(eqn) -> list[tuple[Any, list]]:
    """``(inner jaxpr, outer invars matching its invars)`` for calls we can map."""
    params = eqn.params
    found = []
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        inner = params.get(key)
        inner = getattr(inner, "jaxpr", inner)
        if hasattr(inner, "eqns") and len(inner.invars) == len(eqn.invars):
            found.append((inner, list(eqn.invars)))
    for branch in params.get("branches", ()):
        inner = getattr(branch, "jaxpr", branch)
        if len(inner.invars) == len(eqn.invars) - 1:
            found.append((inner, list(eqn.invars[1:])))
    return found


def _walk(jaxpr, tainted: set, observed: dict) -> tuple[Any, set, dict]:
    """Returns ``(stretch or None, tainted vars, observation-derived vars)``.

    ``tainted``: variables that depend on the state. ``observed``: variables that
    are the observation up to a cast or a reshape, mapped to its original shape.
    """
    tainted, observed = set(tainted), dict(observed)
    for eqn in jaxpr.eqns:
        ins = [v for v in eqn.invars if not isinstance(v, Literal)]
        subs = _sub_jaxprs(eqn)
        if subs:
            for inner, outer in subs:
                inner_t = {
                    i for i, o in zip(inner.invars, outer, strict=True) if o in tainted
                }
                inner_o = {
                    i: observed[o]
                    for i, o in zip(inner.invars, outer, strict=True)
                    if not isinstance(o, Literal) and o in observed
                }
                found, t_out, o_out = _walk(inner, inner_t, inner_o)
                if found is not None:
                    return found, tainted, observed
                for i, o in zip(inner.outvars, eqn.outvars, strict=True):
                    if i in t_out:
                        tainted.add(o)
                    if not isinstance(i, Literal) and i in o_out:
                        observed[o] = o_out[i]
            continue
        if any(v in tainted for v in ins):
            tainted.update(eqn.outvars)
        mine = [v for v in ins if v in observed]
        if not mine or len(eqn.outvars) != 1:
            continue
        out = eqn.outvars[0]
        after = tuple(out.aval.shape)
        for var in mine:
            before = tuple(var.aval.shape)
            if eqn.primitive.name == "broadcast_in_dim":
                dims = tuple(eqn.params["broadcast_dimensions"])
                if _stretch(before, after, dims):
                    continue  # a stretched copy: no longer the observation
                observed[out] = observed[var]
            elif _stretch(before, after):
                if any(v in tainted for v in ins if v is not var):
                    return (observed[var], after), tainted, observed
            elif eqn.primitive.name in _KEEP or before == after:
                observed[out] = observed[var]
    return None, tainted, observed


def stretched_observation(
    log_observation: Callable, particle: Any, observation: Any
) -> tuple[tuple, tuple] | None:
    """``(observation shape, shape it is stretched to)``, or ``None``.

    Args:
        log_observation: ``(x, y, t) -> scalar`` of one particle.
        particle, observation: shape structs (``jax.ShapeDtypeStruct`` pytrees).

    Example:
        >>> import jax.numpy as jnp
        >>> f = lambda x, y, t: jnp.sum((y - x) ** 2)
        >>> s = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
        >>> stretched_observation(f, s(2), s(1))
        ((1,), (2,))
        >>> stretched_observation(f, s(2), s())
        ((), (2,))
        >>> stretched_observation(f, s(2), s(2)) is None
        True
    """
    closed = jax.make_jaxpr(lambda x, y: log_observation(x, y, 0))(
        particle, observation
    )
    jaxpr = closed.jaxpr
    num_x = len(jax.tree.leaves(particle))
    tainted = set(jaxpr.invars[:num_x])
    # Only scalar observations, or ones with an axis of size 1, can be stretched
    # by mistake.
    observed = {
        v: tuple(v.aval.shape)
        for v in jaxpr.invars[num_x:]
        if not v.aval.shape or 1 in v.aval.shape
    }
    if not observed:
        return None
    found, _, _ = _walk(jaxpr, tainted, observed)
    return found
