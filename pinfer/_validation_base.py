"""The base of :mod:`pinfer.validation`: how a message shows a value, and values
under tracing (private: import the helpers from :mod:`pinfer.validation`).

Inside a user's ``jit`` a value is a tracer, so it cannot be checked on the host.
The helpers here let a public function carry the check into the computation:

    ok = traced_in_range(beta, low=0.0)    # None when beta is concrete (checked
                                           # already), else a traced bool array
    result = nan_unless(ok, result)        # a NaN result, as the docstring says, or
    beta = error_unless(beta, [(ok, "beta", ">= 0")], where="f")   # eqx.error_if

One ``traced_in_range`` per argument, folded with :func:`all_of`, costs a few
elementwise comparisons, once per call (never per step of a loop).
"""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from pinfer.types import Array, ArrayTree

__all__ = [
    "all_of",
    "concrete",
    "error_unless",
    "is_traced",
    "nan_unless",
    "traced_in_range",
]


def prefix(where: str | None) -> str:
    """``"<where>: "`` (empty without a ``where``), the head of every message."""
    return f"{where}: " if where else ""


def show(value: Any, limit: int | None = None) -> str:
    """A short, readable rendering of a value for an error message (cut to
    ``limit`` characters, ending in ``...``)."""
    text = _render(value)
    if limit is not None and len(text) > limit:
        return text[: limit - 3] + "..."
    return text


def _render(value: Any) -> str:
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


def position(index: tuple, axes: Sequence[str] | None) -> str:
    """Where an entry sits: ``"trajectory 1, step 2"`` with ``axes``, else
    ``"position (1, 2)"``."""
    if axes is not None and len(axes) == len(index):
        return ", ".join(f"{axis} {i}" for axis, i in zip(axes, index, strict=True))
    if len(index) == 0:
        return ""
    return "position " + (str(index[0]) if len(index) == 1 else str(tuple(index)))


def rule(low, high, low_open: bool = False, high_open: bool = False) -> str:
    """The words of a range: ``"in [0, 1)"``, ``">= 0"`` or ``"<= 1"``."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    return f"{'<' if high_open else '<='} {high}"


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


def traced_in_range(
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Array | None:
    """Whether a *traced* value lies in range, entry by entry; ``None`` when it is
    concrete (a concrete value is checked before tracing, by :func:`check_range`).

    NaN is out of every range. The result is folded into the function's result
    with :func:`nan_unless` (a documented NaN) or into an ``eqx.error_if`` with
    :func:`error_unless`.

    Args:
        value: the argument (array or scalar; traced or not).
        low, high: bounds (None: unbounded on that side).
        low_open, high_open: exclude the bound itself.

    Returns:
        A bool array of ``value``'s shape, or ``None``.

    Example:
        >>> traced_in_range(2.0, low=0.0) is None
        True
        >>> jax.jit(lambda b: traced_in_range(b, low=0.0))(jnp.array([1.0, -1.0]))
        Array([ True, False], dtype=bool)
    """
    if not is_traced(value):
        return None
    value = jnp.asarray(value)
    ok = ~jnp.isnan(value)
    if low is not None:
        ok &= (value > low) if low_open else (value >= low)
    if high is not None:
        ok &= (value < high) if high_open else (value <= high)
    return ok


def all_of(*oks: Array | None) -> Array | None:
    """The conjunction of :func:`traced_in_range` results: a traced ``[]`` bool, or
    ``None`` when every one is ``None`` (all arguments were concrete).

    Example:
        >>> all_of(None, None) is None
        True
        >>> all_of(None, jnp.array([True, False]))
        Array(False, dtype=bool)
    """
    present = [jnp.all(ok) for ok in oks if ok is not None]
    if not present:
        return None
    out = present[0]
    for ok in present[1:]:
        out &= ok
    return out


def nan_unless(ok: Array | None, *arrays: Array) -> Array | tuple[Array, ...]:
    """``arrays`` where ``ok``, NaN elsewhere (``ok`` broadcasts against each).

    How an argument that was traced (so not checked before tracing) and out of
    range shows in a result whose docstring promises NaN; ``arrays`` unchanged when
    ``ok`` is ``None``. One array in, one out; several in, a tuple out.

    Example:
        >>> nan_unless(jnp.array(False), jnp.ones(2))
        Array([nan, nan], dtype=float32)
        >>> nan_unless(None, jnp.ones(2))
        Array([1., 1.], dtype=float32)
    """
    if ok is None:
        return arrays if len(arrays) > 1 else arrays[0]
    out = tuple(jnp.where(ok, a, jnp.nan) for a in arrays)
    return out if len(out) > 1 else out[0]


def error_unless(
    value: Any,
    checks: Sequence[tuple[Array | None, str, str]],
    *,
    where: str | None = None,
    hint: str = "",
) -> Any:
    """``value`` guarded by ``eqx.branched_error_if``: the run stops with a message
    naming the first argument whose ``ok`` is False.

    The kernel-side counterpart of the host checks, for arguments that are traced
    (inside the user's ``jit`` or ``vmap``): one predicate and one message per
    argument, riding on ``value`` (a scalar the computation reads, so the check is
    not dead code). Checks whose ``ok`` is ``None`` (concrete arguments, checked
    already) are skipped; with none left, ``value`` comes back unchanged.

    Args:
        value: the array (or pytree) the check rides on.
        checks: ``(ok, name, rule)`` triples: ``ok`` a bool array (e.g. from
            :func:`traced_in_range`; all of it must hold) or ``None``, ``name`` the
            argument's name, ``rule`` what it must be (``">= 0"``, ``"in [0, 1]"``).
        where: the public function's name.
        hint: appended to every message (the fix).

    Returns:
        ``value``, wrapped when some ``ok`` is an array.

    Example:
        >>> import equinox as eqx
        >>> f = eqx.filter_jit(lambda b: error_unless(
        ...     b, [(traced_in_range(b, low=0.0), "beta", ">= 0")], where="f"))
        >>> try:
        ...     f(jnp.array(-1.0))
        ... except Exception as error:  # EquinoxRuntimeError, after JAX's stack
        ...     print(str(error).split("Error: ")[1].splitlines()[0])
        f: `beta` must be >= 0, got a traced value outside it (inside jit or vmap).
    """
    present = [(jnp.all(ok), name, text) for ok, name, text in checks if ok is not None]
    if not present:
        return value
    messages = [
        f"{prefix(where)}`{name}` must be {text}, got a traced value outside it "
        f"(inside jit or vmap). {hint}".rstrip()
        for _, name, text in present
    ]
    if len(present) == 1:
        return eqx.error_if(value, ~present[0][0], messages[0])
    bad = jnp.stack([~ok for ok, _, _ in present])
    return eqx.branched_error_if(value, jnp.any(bad), jnp.argmax(bad), messages)
