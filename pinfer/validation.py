"""The boundary checks every public entry point of pinfer uses.

pinfer validates what a user passes in *once*, at the boundary (constructors, public
functions, the command line, data loading), and keeps its kernels lean. The rules:

    concrete input (a NumPy / JAX array, a Python number)
        -> checked now, on the host; a bad value raises ``ValueError`` / ``TypeError``
           whose message names the function, the argument, the value seen (and where
           in the array it sits) and the fix
    traced input (inside the user's ``jit`` / ``vmap`` / ``grad``)
        -> shapes and dtypes are still checked (they are static); values cannot be,
           so the kernel reports them as a field of its result (``failed_step``) or
           through ``eqx.error_if``, never as a plausible number

Messages read ``"<function>: `<argument>` must be <rule>, got <value>. <fix>"``.
Every helper takes ``where`` (the public function's name) and ``name`` (the
argument's name as the user wrote it), so one message format runs through the
library.

Example:
    >>> check_fraction(1.5, "ess_threshold", where="particle_filter")
    Traceback (most recent call last):
    ...
    ValueError: particle_filter: `ess_threshold` must be a fraction of the particles \
in [0, 1], got 1.5. Resampling happens when ESS < ess_threshold * N: 0 never \
resamples, 1 resamples at every step, 0.5 is the usual choice.
"""

import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.types import Array, ArrayTree

__all__ = [
    "check_array",
    "check_callable",
    "check_finite",
    "check_fraction",
    "check_indices",
    "check_key",
    "check_range",
    "check_static_int",
    "check_type",
    "concrete",
    "first_out_of_range",
    "is_traced",
]


def _prefix(where: str | None) -> str:
    return f"{where}: " if where else ""


def _show(value: Any) -> str:
    """A short, readable rendering of a value for an error message."""
    if isinstance(value, jax.core.Tracer):
        return f"a traced value of shape {tuple(value.shape)} (inside jit or vmap)"
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) > 0:
        array = np.asarray(value)
        if array.size > 8:
            return f"an array of shape {array.shape} and dtype {array.dtype}"
        return f"{array.tolist()}"
    if isinstance(value, (np.generic, np.ndarray, jax.Array)):
        return repr(np.asarray(value).item())
    return repr(value)


def is_traced(tree: ArrayTree) -> bool:
    """True when any leaf of ``tree`` is a JAX tracer (inside ``jit``, ``vmap`` ...).

    Example:
        >>> is_traced(jnp.ones(3)), jax.jit(lambda x: is_traced(x))(1.0)
        (False, Array(True, dtype=bool))
    """
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


def concrete(value: Any) -> np.ndarray | None:
    """``value`` as a host NumPy array, or ``None`` when it is traced.

    Value checks run only on concrete inputs; under a user's ``jit`` the kernel's
    result flags carry them instead.

    Example:
        >>> concrete([1, 2]).tolist()
        [1, 2]
        >>> jax.jit(lambda x: jnp.bool_(concrete(x) is None))(1.0)
        Array(True, dtype=bool)
    """
    if is_traced(value):
        return None
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(
        value.dtype, jax.dtypes.prng_key
    ):
        return None
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        return None


def check_key(key: Any, name: str = "key", where: str | None = None) -> None:
    """Raise a ``TypeError`` unless ``key`` is a JAX PRNG key (typed or legacy).

    Keys are required and come first; an int seed or ``None`` is the most common
    mistake, so the message says how to make a key.

    Args:
        key: the value passed.
        name: the argument's name.
        where: the public function's name (prefixes the message).

    Example:
        >>> check_key(jax.random.key(0))
        >>> check_key(0, where="rollout")
        Traceback (most recent call last):
        ...
        TypeError: rollout: `key` must be a JAX PRNG key, got 0. Make one with \
`jax.random.key(seed)` and pass it as the first argument.
    """
    if key is None or isinstance(key, (bool, int, float, np.integer, np.floating)):
        raise TypeError(
            f"{_prefix(where)}`{name}` must be a JAX PRNG key, got {key!r}. Make one "
            "with `jax.random.key(seed)` and pass it as the first argument."
        )
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if jnp.ndim(key) != 0:
            raise ValueError(
                f"{_prefix(where)}`{name}` must be a single PRNG key, got a batch of "
                f"keys of shape {tuple(jnp.shape(key))}. Pass one key, or jax.vmap "
                "over the batch."
            )
        return
    shape = getattr(key, "shape", None)
    if shape is not None and tuple(shape) == (2,) and str(dtype) == "uint32":
        return  # a legacy raw key from jax.random.PRNGKey
    raise TypeError(
        f"{_prefix(where)}`{name}` must be a JAX PRNG key, got "
        + (
            f"an array of shape {tuple(shape)} and dtype {dtype}"
            if shape is not None
            else f"{key!r} of type {type(key).__name__}"
        )
        + ". Make one with `jax.random.key(seed)`."
    )


def check_static_int(
    value: Any,
    name: str,
    minimum: int | None = None,
    *,
    where: str | None = None,
    maximum: int | None = None,
) -> int:
    """``value`` as a Python int (it fixes a shape or a loop length), checked.

    Args:
        value: the value passed (a Python or NumPy integer; not a bool, not traced).
        name: the argument's name.
        minimum, maximum: inclusive bounds (None: unbounded).
        where: the public function's name.

    Returns:
        ``int(value)``.

    Example:
        >>> check_static_int(3, "num_steps", 1)
        3
        >>> check_static_int(0, "num_steps", 1, where="rollout")
        Traceback (most recent call last):
        ...
        ValueError: rollout: `num_steps` must be an int >= 1, got 0.
    """
    if isinstance(value, bool):
        count = None
    else:
        try:
            count = operator.index(value)
        except TypeError:
            count = None
    if count is None:
        raise TypeError(
            f"{_prefix(where)}`{name}` must be a static Python int (it fixes a shape "
            f"or a loop length), got {_show(value)} of type {type(value).__name__}. "
            "Pass a plain int; under jax.jit mark the argument static."
        )
    if (minimum is not None and count < minimum) or (
        maximum is not None and count > maximum
    ):
        rule = (
            f">= {minimum}"
            if maximum is None
            else f"<= {maximum}"
            if minimum is None
            else f"in {minimum}..{maximum}"
        )
        raise ValueError(
            f"{_prefix(where)}`{name}` must be an int {rule}, got {count}."
        )
    return count


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
                f"{_prefix(where)}`{name}` must be an array, got {_show(value)} of "
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
            seen = "" if is_traced(array) else f" ({_show(array)})"
            # The dtype the user passed, before JAX's conversion (float64 -> float32).
            given = getattr(value, "dtype", array.dtype)
            raise TypeError(
                f"{_prefix(where)}`{name}` must be {words}, got dtype "
                f"{given}{seen}. Cast with {cast}. {hint}".rstrip()
            )
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and array.ndim not in tuple(allowed):
        rank = " or ".join(str(n) for n in allowed)
        raise ValueError(
            f"{_prefix(where)}`{name}` must have {rank} dimension(s), got shape "
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
                f"{_prefix(where)}`{name}` must have shape {want}, got "
                f"{list(array.shape)}. {hint}".rstrip()
            )
    return array


def _position(index: tuple, axes: Sequence[str] | None) -> str:
    if axes is not None and len(axes) == len(index):
        return ", ".join(f"{axis} {i}" for axis, i in zip(axes, index, strict=True))
    if len(index) == 0:
        return ""
    return "position " + (str(index[0]) if len(index) == 1 else str(tuple(index)))


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
        at = _position(index, axes)
        rule = "finite or -inf" if allow_neg_inf else "finite"
        raise ValueError(
            f"{_prefix(where)}`{name}` must be {rule}, got {array[index]}"
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
    if low is not None and high is not None:
        rule = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        rule = f"{'>' if low_open else '>='} {low}"
    else:
        rule = f"{'<' if high_open else '<='} {high}"
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    seen = np.asarray(concrete(value))[index] if index else np.asarray(value).item()
    at = _position(index, axes)
    raise ValueError(
        f"{_prefix(where)}`{name}` must be {rule}, got {_show(seen)}"
        + (f" at {at}" if at else "")
        + f". {hint}".rstrip()
    )


def check_fraction(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """The one rule for ESS fractions (``ess_threshold``, ``target_ess``).

    A fraction of the particle count ``N``, a scalar in ``[0, 1]`` (bounds open where
    the algorithm cannot use them: a tempered step with ``target_ess = 1`` never
    moves). Traced values are not checked.

    Example:
        >>> check_fraction(0.5, "target_ess", high_open=True)
        >>> check_fraction(-0.2, "ess_threshold", where="particle_filter")
        Traceback (most recent call last):
        ...
        ValueError: particle_filter: `ess_threshold` must be a fraction of the \
particles in [0, 1], got -0.2. Resampling happens when ESS < ess_threshold * N: 0 \
never resamples, 1 resamples at every step, 0.5 is the usual choice.
    """
    array = concrete(value)
    dtype = getattr(value, "dtype", None if array is None else array.dtype)
    if isinstance(value, (bool, str)) or (
        dtype is not None
        and (dtype == np.bool_ or not np.issubdtype(np.dtype(dtype), np.number))
    ):
        raise TypeError(
            f"{_prefix(where)}`{name}` must be a number (a fraction of the "
            f"particles), got {_show(value)} of type {type(value).__name__}."
        )
    if array is not None and array.ndim != 0:
        raise ValueError(
            f"{_prefix(where)}`{name}` must be a scalar fraction of the particles, "
            f"got shape {array.shape}."
        )
    if array is None:
        return
    number = float(array)
    ok = (number > 0 if low_open else number >= 0) and (
        number < 1 if high_open else number <= 1
    )
    if not ok:
        bounds = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        if name == "ess_threshold":
            meaning = (
                "Resampling happens when ESS < ess_threshold * N: 0 never resamples, "
                "1 resamples at every step, 0.5 is the usual choice."
            )
        else:
            meaning = "0.5 is the usual choice."
        raise ValueError(
            f"{_prefix(where)}`{name}` must be a fraction of the particles in "
            f"{bounds}, got {_show(array)}. {meaning}"
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
                f"{_prefix(where)}`{name}` must hold integer {what} indices, got dtype "
                f"{array.dtype}. Cast with .astype(int) after checking the values are "
                "whole numbers."
            )
    elif not jnp.issubdtype(jnp.result_type(value), jnp.integer):
        raise TypeError(
            f"{_prefix(where)}`{name}` must hold integer {what} indices, got dtype "
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
        at = _position(index, axes)
        more = int(bad.sum()) - 1
        raise ValueError(
            f"{_prefix(where)}`{name}` holds {array[index]}"
            + (f" at {at}" if at else "")
            + f", which is not {'an' if what[0] in 'aeiou' else 'a'} {what} in "
            f"0..{size - 1}"
            + (f" ({more} more such entries)" if more else "")
            + f". {hint}".rstrip()
        )


def check_type(
    value: Any,
    name: str,
    expected: type | tuple[type, ...],
    *,
    where: str | None = None,
    hint: str = "",
) -> None:
    """Raise a ``TypeError`` unless ``isinstance(value, expected)``.

    Example:
        >>> check_type("3", "num_steps", int, where="rollout")
        Traceback (most recent call last):
        ...
        TypeError: rollout: `num_steps` must be a int, got str ('3').
    """
    if isinstance(value, expected):
        return
    names = (
        expected.__name__
        if isinstance(expected, type)
        else " or ".join(t.__name__ for t in expected)
    )
    shown = _show(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise TypeError(
        f"{_prefix(where)}`{name}` must be a {names}, got {type(value).__name__} "
        f"({shown}). {hint}".rstrip()
    )


def check_callable(
    value: Any, name: str, *, where: str | None = None, hint: str = ""
) -> Callable:
    """Raise a ``TypeError`` unless ``value`` is callable; return it.

    Example:
        >>> check_callable(len, "summary_fn") is len
        True
    """
    if not callable(value):
        raise TypeError(
            f"{_prefix(where)}`{name}` must be a function, got {_show(value)} of type "
            f"{type(value).__name__}. {hint}".rstrip()
        )
    return value
