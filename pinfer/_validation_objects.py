"""Checks of Python objects at pinfer's boundaries: keys, static ints, types,
functions, flags and protocols (private: import them from :mod:`pinfer.validation`).
"""

import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pinfer._validation_base import prefix, show

__all__ = [
    "check_callable",
    "check_flag",
    "check_key",
    "check_protocol",
    "check_static_int",
    "check_type",
]


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
            f"{prefix(where)}`{name}` must be a JAX PRNG key, got {key!r}. Make one "
            "with `jax.random.key(seed)` and pass it as the first argument."
        )
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if jnp.ndim(key) != 0:
            raise ValueError(
                f"{prefix(where)}`{name}` must be a single PRNG key, got a batch of "
                f"keys of shape {tuple(jnp.shape(key))}. Pass one key, or jax.vmap "
                "over the batch."
            )
        return
    shape = getattr(key, "shape", None)
    if shape is not None and tuple(shape) == (2,) and str(dtype) == "uint32":
        return  # a legacy raw key from jax.random.PRNGKey
    raise TypeError(
        f"{prefix(where)}`{name}` must be a JAX PRNG key, got "
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
            f"{prefix(where)}`{name}` must be a static Python int (it fixes a shape "
            f"or a loop length), got {show(value)} of type {type(value).__name__}. "
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
        raise ValueError(f"{prefix(where)}`{name}` must be an int {rule}, got {count}.")
    return count


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
    shown = show(value, limit=60)
    raise TypeError(
        f"{prefix(where)}`{name}` must be a {names}, got {type(value).__name__} "
        f"({shown}). {hint}".rstrip()
    )


def check_callable(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    hint: str = "",
    optional: bool = False,
) -> Callable | None:
    """Raise a ``TypeError`` unless ``value`` is callable (or, with ``optional``,
    ``None``); return it.

    Example:
        >>> check_callable(len, "summary_fn") is len
        True
        >>> check_callable(3, "summary_fn", where="rollout", optional=True)
        Traceback (most recent call last):
        ...
        TypeError: rollout: `summary_fn` must be a function or None, got 3 of type \
int.
    """
    if optional and value is None:
        return None
    if not callable(value):
        shown = show(value, limit=80)
        raise TypeError(
            f"{prefix(where)}`{name}` must be a function{' or None' * optional}, got "
            f"{shown} of type {type(value).__name__}. {hint}".rstrip()
        )
    return value


def check_flag(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    allow_none: bool = False,
    static: bool = False,
) -> Any:
    """Raise a ``TypeError`` unless ``value`` is a bool.

    A bool is a Python or NumPy bool, or a 0-d bool array (a flag that may be
    traced); with ``static`` only a Python or NumPy bool (a switch between code
    paths, fixed when tracing), and with ``allow_none`` also ``None``.

    Returns:
        ``value`` (a Python bool when ``static``).

    Example:
        >>> check_flag(np.bool_(True), "allow_stay", static=True)
        True
        >>> check_flag("yes", "allow_stay", where="make_gridworld")
        Traceback (most recent call last):
        ...
        TypeError: make_gridworld: `allow_stay` must be True or False, got 'yes' of \
type str.
    """
    if allow_none and value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value) if static else value
    if (
        not static
        and getattr(value, "dtype", None) == jnp.bool_
        and np.ndim(value) == 0
    ):
        return value
    rule = "True, False or None" if allow_none else "True or False"
    if static:
        rule += " (a Python bool: it picks a code path)"
    raise TypeError(
        f"{prefix(where)}`{name}` must be {rule}, got {show(value)} of type "
        f"{type(value).__name__}."
    )


def check_protocol(
    value: Any,
    name: str,
    methods: Sequence[str],
    *,
    where: str | None = None,
    what: str = "an object",
    hint: str = "",
    has: Callable[[Any, str], bool] | None = None,
) -> None:
    """Raise a ``TypeError`` unless ``value`` has every one of ``methods``.

    For arguments known by what they can do (an agent's ``init``, ``act`` and
    ``update``; an environment's ``reset`` and ``step``; a model's methods), so
    that a wrong object fails at the boundary with its name, not deep inside a
    trace with an ``AttributeError``.

    Args:
        value: the object passed.
        name: the argument's name.
        methods: the methods it must have.
        where: the public function's name.
        what: what the argument is, for the message (``"an agent"``).
        hint: appended to the message (how to make one, the argument order).
        has: ``has(value, method) -> bool``, when having a method means more than
            a callable attribute (e.g. overriding an abstract one).

    Example:
        >>> check_protocol(3, "env", ("reset", "step"), where="rollout",
        ...                what="an environment")
        Traceback (most recent call last):
        ...
        TypeError: rollout: `env` must be an environment with `reset`, `step` \
methods, got int (no `reset`, `step`).
    """
    if has is None:

        def has(obj, method):
            return callable(getattr(obj, method, None))

    missing = [m for m in methods if not has(value, m)]
    if missing:
        raise TypeError(
            f"{prefix(where)}`{name}` must be {what} with "
            + ", ".join(f"`{m}`" for m in methods)
            + f" methods, got {type(value).__name__} (no "
            + ", ".join(f"`{m}`" for m in missing)
            + f"). {hint}".rstrip()
        )
