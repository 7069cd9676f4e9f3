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
library. The helpers, by what they check:

    objects     check_key, check_static_int, check_type, check_callable,
                check_flag, check_protocol (an object with given methods)
    arrays      check_array (rank, shape, dtype: also traced), check_finite,
                check_range, check_indices
    scalars     check_scalar (a real parameter), check_fraction (ESS fractions)
    traced      is_traced, concrete; traced_in_range -> all_of -> nan_unless (a
                documented NaN result) or error_unless (an ``eqx.error_if``);
                first_out_of_range (a ``failed_step``)

Domain checks (a grid world's parameters, an observed trajectory, a state-space
model's observations) live next to their code, built on these.

Example:
    >>> check_fraction(1.5, "ess_threshold", where="particle_filter")
    Traceback (most recent call last):
    ...
    ValueError: particle_filter: `ess_threshold` must be a fraction of the particles \
in [0, 1], got 1.5. Resampling happens when ESS < ess_threshold * N: 0 never \
resamples, 1 resamples at every step, 0.5 is the usual choice.
"""

from typing import Any

import numpy as np

from pinfer._validation_arrays import (
    check_array,
    check_finite,
    check_indices,
    check_range,
    first_out_of_range,
)
from pinfer._validation_base import (
    all_of,
    concrete,
    error_unless,
    is_traced,
    nan_unless,
    prefix,
    rule,
    show,
    traced_in_range,
)
from pinfer._validation_objects import (
    check_callable,
    check_flag,
    check_key,
    check_protocol,
    check_static_int,
    check_type,
)
from pinfer.types import Array

__all__ = [
    "all_of",
    "check_array",
    "check_callable",
    "check_finite",
    "check_flag",
    "check_fraction",
    "check_indices",
    "check_key",
    "check_protocol",
    "check_range",
    "check_scalar",
    "check_static_int",
    "check_type",
    "concrete",
    "error_unless",
    "first_out_of_range",
    "is_traced",
    "nan_unless",
    "traced_in_range",
]


def check_scalar(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
    dtype: str = "number",
    hint: str = "",
) -> Array:
    """A real scalar parameter (a discount, a rationality, a cost), checked.

    Its rank (0) and dtype kind are checked also on traced values (at trace time);
    its range and finiteness when it is concrete. NaN is out of every range, so a
    NaN is reported with the rule it breaks.

    Args:
        value: the value passed (a Python number or a 0-d array; not a bool).
        name: the argument's name.
        where: the public function's name.
        low, high: bounds (None: unbounded on that side).
        low_open, high_open: exclude the bound itself.
        finite: refuse ``inf`` too (``False`` where ``inf`` means "no limit").
        dtype: the dtype kind, as for :func:`check_array` (``"number"``,
            ``"float"``, ``"int"``).
        hint: appended to the message (what the value means, a usual choice).

    Returns:
        ``jnp.asarray(value)`` (``[]``).

    Example:
        >>> check_scalar(0.9, "discount", low=0.0, high=1.0).shape
        ()
        >>> check_scalar(1.5, "discount", low=0.0, high=1.0, where="value_iteration")
        Traceback (most recent call last):
        ...
        ValueError: value_iteration: `discount` must be in [0.0, 1.0], got 1.5.
        >>> check_scalar(float("inf"), "step_cost", low=0.0, where="goal_reward")
        Traceback (most recent call last):
        ...
        ValueError: goal_reward: `step_cost` must be finite, got inf.
    """
    array = check_array(value, name, where=where, ndim=0, dtype=dtype, hint=hint)
    # The value as given (not its float32 copy) goes into the message.
    if low is not None or high is not None:
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
    if finite:
        check_finite(value, name, where=where, hint=hint)
    return array


def check_fraction(
    value: Any,
    name: str,
    *,
    where: str | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """The one rule for ESS fractions (``ess_threshold``, ``target_ess``).

    A fraction of the particle count ``N``, a scalar in ``[0, 1]`` (bounds open where
    the algorithm cannot use them: a tempered step with ``target_ess = 1`` never
    moves). A concrete value is checked now; a traced one (inside the user's
    ``jit``) for its rank and dtype, and it comes back wrapped in ``eqx.error_if``
    (:func:`error_unless`), so a run with a bad fraction stops with the message
    instead of returning a number.

    Returns:
        ``value``: unchanged when concrete (a Python number stays one), guarded
        when traced.

    Example:
        >>> check_fraction(0.5, "target_ess", high_open=True)
        0.5
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
            f"{prefix(where)}`{name}` must be a number (a fraction of the "
            f"particles), got {show(value)} of type {type(value).__name__}."
        )
    shape = np.shape(value) if array is None else array.shape
    if shape != ():
        raise ValueError(
            f"{prefix(where)}`{name}` must be a scalar fraction of the particles, "
            f"got shape {shape}."
        )
    bounds = rule(0, 1, low_open, high_open)
    if array is None:
        ok = traced_in_range(
            value, low=0, high=1, low_open=low_open, high_open=high_open
        )
        return error_unless(
            value, [(ok, name, f"a fraction of the particles {bounds}")], where=where
        )
    number = float(array)
    ok = (number > 0 if low_open else number >= 0) and (
        number < 1 if high_open else number <= 1
    )
    if not ok:
        if name == "ess_threshold":
            meaning = (
                "Resampling happens when ESS < ess_threshold * N: 0 never resamples, "
                "1 resamples at every step, 0.5 is the usual choice."
            )
        else:
            meaning = "0.5 is the usual choice."
        raise ValueError(
            f"{prefix(where)}`{name}` must be a fraction of the particles "
            f"{bounds}, got {show(array)}. {meaning}"
        )
    return value
