"""Checks of arrays at pinfer's boundaries: rank, shape and dtype (also on traced
values), finiteness, ranges and indices (on concrete ones) (private: import them
from :mod:`pinfer.validation`).
"""

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pinfer._validation_base import concrete, is_traced, position, prefix, rule, show
from pinfer._validation_objects import check_static_int
from pinfer.types import Array

__all__ = [
    "check_array",
    "check_finite",
    "check_indices",
    "check_range",
    "first_out_of_range",
]


_KINDS = {
    "float": (jnp.floating, "floating point", ".astype(jnp.float32)"),
    "int": (jnp.integer, "integer", ".astype(jnp.int32)"),
    "bool": (jnp.bool_, "bool", ".astype(bool)"),
    "number": (jnp.number, "numeric", ".astype(jnp.float32)"),
}


def check_array(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    dtype: str | None = None,
    hint: str = "",
) -> Array:
    """``value`` as a JAX array of the expected rank, shape and dtype kind.

    Shapes and dtypes are static, so this also runs on traced values (inside the
    user's ``jit``, the error is raised at trace time).

    Args:
        value: the value passed (array-like).
        name: the argument's name.
        where: the public function's name.
        ndim: the allowed rank(s).
        shape: the expected shape; ``None`` entries match any size.
        dtype: ``"float"``, ``"int"``, ``"bool"`` or ``"number"`` (None: any).
            Python bools are not accepted as numbers, nor floats as integers.
        hint: appended to the message (e.g. what the axes mean).

    Returns:
        ``jnp.asarray(value)``.

    Example:
        >>> check_array([0, 1], "actions", ndim=1, dtype="int").dtype
        dtype('int32')
        >>> check_array([0.5], "actions", dtype="int", where="infer_goals")
        Traceback (most recent call last):
        ...
        TypeError: infer_goals: `actions` must be integer, got dtype float32 \
([0.5]). Cast with .astype(jnp.int32).
    """
    if isinstance(value, jax.core.Tracer) or isinstance(value, jax.Array):
        array = value
    else:
        try:
            array = jnp.asarray(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{prefix(where)}`{name}` must be an array, got {show(value)} of "
                f"type {type(value).__name__}. {hint}".rstrip()
            ) from None
    if dtype is not None:
        if dtype not in _KINDS:
            raise ValueError(
                f"check_array: `dtype` must be one of {sorted(_KINDS)}, got {dtype!r}."
            )
        kind, words, cast = _KINDS[dtype]
        ok = jnp.issubdtype(array.dtype, kind)
        if dtype in ("float", "int", "number") and array.dtype == jnp.bool_:
            ok = False
        if not ok:
            seen = "" if is_traced(array) else f" ({show(array)})"
            # The dtype the user passed, before JAX's conversion (float64 -> float32).
            given = getattr(value, "dtype", array.dtype)
            raise TypeError(
                f"{prefix(where)}`{name}` must be {words}, got dtype "
                f"{given}{seen}. Cast with {cast}. {hint}".rstrip()
            )
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and array.ndim not in tuple(allowed):
        rank = " or ".join(str(n) for n in allowed)
        raise ValueError(
            f"{prefix(where)}`{name}` must have {rank} dimension(s), got shape "
            f"{tuple(array.shape)}. {hint}".rstrip()
        )
    if shape is not None:
        expected = tuple(shape)
        matches = len(expected) == array.ndim and all(
            e is None or e == s for e, s in zip(expected, array.shape, strict=False)
        )
        if not matches:
            want = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
            raise ValueError(
                f"{prefix(where)}`{name}` must have shape {want}, got "
                f"{list(array.shape)}. {hint}".rstrip()
            )
    return array


def check_finite(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    axes: Sequence[str] | None = None,
    allow_neg_inf: bool = False,
    hint: str = "",
) -> None:
    """Raise a ``ValueError`` at the first NaN or infinite entry of a concrete array.

    Traced values are not checked (see the module docstring).

    Args:
        value: the array (or scalar).
        name: the argument's name.
        where: the public function's name.
        axes: names of the array's axes, used to say where the entry is
            (e.g. ``("trajectory", "step")``).
        allow_neg_inf: accept ``-inf`` (log-probabilities of excluded values).
        hint: appended to the message.

    Example:
        >>> check_finite(jnp.array([0.0, jnp.nan]), "log_prior", where="infer_goals")
        Traceback (most recent call last):
        ...
        ValueError: infer_goals: `log_prior` must be finite, got nan at position 1.
    """
    array = concrete(value)
    if array is None or not np.issubdtype(array.dtype, np.inexact):
        return
    bad = np.isnan(array) | np.isposinf(array)
    if not allow_neg_inf:
        bad |= np.isneginf(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        at = position(index, axes)
        wanted = "finite or -inf" if allow_neg_inf else "finite"
        raise ValueError(
            f"{prefix(where)}`{name}` must be {wanted}, got {array[index]}"
            + (f" at {at}" if at else "")
            + (f" ({int(bad.sum())} such entries)" if bad.sum() > 1 else "")
            + f". {hint}".rstrip()
        )


def check_range(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    axes: Sequence[str] | None = None,
    hint: str = "",
) -> None:
    """Raise a ``ValueError`` unless every entry of a concrete array lies in range.

    NaN is out of every range. Traced values are not checked.

    Args:
        value: the array (or scalar).
        name: the argument's name.
        where: the public function's name.
        low, high: bounds (None: unbounded on that side).
        low_open, high_open: exclude the bound itself.
        axes: names of the array's axes, for the position in the message.
        hint: appended to the message (what the value means, a usual choice).

    Example:
        >>> check_range(-1.0, "beta", low=0.0, where="boltzmann_policy",
        ...             hint="0 is a random agent.")
        Traceback (most recent call last):
        ...
        ValueError: boltzmann_policy: `beta` must be >= 0.0, got -1.0. 0 is a random \
agent.
    """
    if low is not None and high is not None and not low <= high:
        raise ValueError(
            f"check_range: `low` ({low}) must not lie above `high` ({high})."
        )
    array = concrete(value)
    if array is None:
        return
    array = np.asarray(array, dtype=np.float64)
    ok = ~np.isnan(array)
    if low is not None:
        ok &= (array > low) if low_open else (array >= low)
    if high is not None:
        ok &= (array < high) if high_open else (array <= high)
    if ok.all():
        return
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    seen = np.asarray(concrete(value))[index] if index else np.asarray(value).item()
    at = position(index, axes)
    raise ValueError(
        f"{prefix(where)}`{name}` must be {rule(low, high, low_open, high_open)}, "
        f"got {show(seen)}" + (f" at {at}" if at else "") + f". {hint}".rstrip()
    )


def first_out_of_range(indices: Array, size: int, mask: Array | None = None) -> Array:
    """Position of the first index outside ``0..size-1`` (where ``mask``), or -1.

    Jittable: the kernel-side counterpart of :func:`check_indices`, for inputs that
    are traced. The flat position over all axes is returned (int32).

    Example:
        >>> first_out_of_range(jnp.array([0, 3, 7, -1]), 4)
        Array(2, dtype=int32)
    """
    size = check_static_int(size, "size", 0, where="first_out_of_range")
    indices = check_array(indices, "indices", where="first_out_of_range", dtype="int")
    bad = (indices < 0) | (indices >= size)
    if mask is not None:
        bad = bad & jnp.asarray(mask, bool)
    bad = jnp.ravel(bad)
    return jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)


def check_indices(
    value: Any,
    name: str,
    size: int,
    *,
    where: str | None = None,
    mask: Any = None,
    axes: Sequence[str] | None = None,
    what: str = "index",
    hint: str = "",
) -> None:
    """Raise a ``ValueError`` at the first entry outside ``0..size-1``.

    Concrete values only (traced ones: :func:`first_out_of_range`). Entries where
    ``mask`` is False (padding) are not checked. The dtype must be integer (checked
    on traced values too): a float index is never rounded silently.

    Args:
        value: integer array of indices.
        name: the argument's name.
        size: the number of valid indices.
        where: the public function's name.
        mask: optional bool array of the same shape; False entries are skipped.
        axes: names of the axes for the position (``("trajectory", "step")``).
        what: what an index is (``"action"``, ``"state"``), for the message.
        hint: appended to the message.

    Example:
        >>> check_indices(jnp.array([[0, 1], [3, 7]]), "actions", 4,
        ...               axes=("trajectory", "step"), what="action",
        ...               where="infer_goals")
        Traceback (most recent call last):
        ...
        ValueError: infer_goals: `actions` holds 7 at trajectory 1, step 1, which is \
not an action in 0..3.
    """
    size = check_static_int(size, "size", 0, where="check_indices")
    if not is_traced(value):
        array = np.asarray(value)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise TypeError(
                f"{prefix(where)}`{name}` must hold integer {what} indices, got dtype "
                f"{array.dtype}. Cast with .astype(int) after checking the values are "
                "whole numbers."
            )
    elif not jnp.issubdtype(jnp.result_type(value), jnp.integer):
        raise TypeError(
            f"{prefix(where)}`{name}` must hold integer {what} indices, got dtype "
            f"{jnp.result_type(value)}."
        )
    array = concrete(value)
    if array is None:
        return
    bad = (array < 0) | (array >= size)
    if mask is not None:
        keep = concrete(mask)
        if keep is not None:
            bad &= np.broadcast_to(np.asarray(keep, bool), bad.shape)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        at = position(index, axes)
        more = int(bad.sum()) - 1
        raise ValueError(
            f"{prefix(where)}`{name}` holds {array[index]}"
            + (f" at {at}" if at else "")
            + f", which is not {'an' if what[0] in 'aeiou' else 'a'} {what} in "
            f"0..{size - 1}"
            + (f" ({more} more such entries)" if more else "")
            + f". {hint}".rstrip()
        )
