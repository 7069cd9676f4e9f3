"""Boundary checks shared by the diagnostics (ESS, MCSE, SBC, TARP).

Built on :mod:`pinfer.validation`: shapes and dtypes are checked on traced values
too (at trace time), values only on concrete ones; a kernel given a bad traced value
returns NaN (or a rank of -1), as each docstring says.
"""

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from pinfer.types import Array
from pinfer.validation import check_array, check_finite, concrete

__all__ = ["calibration_inputs", "check_returned_finite", "min_size", "real_array"]


def real_array(
    value: Any,
    name: str,
    where: str,
    *,
    ndim: int | None = None,
    min_ndim: int = 0,
    promote: bool = True,
    hint: str = "",
) -> Array:
    """``value`` as a real array: bools and complex numbers are rejected, integers
    promoted to the default float dtype (``promote``), so that no statistic is
    computed in integer arithmetic.

    Example:
        >>> real_array([1, 2], "samples", "mcse").dtype
        dtype('float32')
    """
    array = check_array(value, name, where=where, ndim=ndim, dtype="number", hint=hint)
    if jnp.issubdtype(array.dtype, jnp.complexfloating):
        raise TypeError(
            f"{where}: `{name}` must be real, got dtype {array.dtype}. Pass the real "
            f"part or the modulus. {hint}".rstrip()
        )
    if array.ndim < min_ndim:
        raise ValueError(
            f"{where}: `{name}` must have at least {min_ndim} dimension(s), got shape "
            f"{tuple(array.shape)}. {hint}".rstrip()
        )
    if promote and jnp.issubdtype(array.dtype, jnp.integer):
        array = array.astype(jnp.result_type(float))
    return array


def min_size(array: Array, name: str, where: str, axis: int, minimum: int, what: str):
    """Raise unless ``array.shape[axis] >= minimum`` (a static check).

    Example:
        >>> min_size(jnp.zeros((2, 3)), "samples", "mcse", 1, 4, "draws")
        Traceback (most recent call last):
        ...
        ValueError: mcse: `samples` must hold at least 4 draws along axis 1, got \
shape (2, 3).
    """
    if array.shape[axis] < minimum:
        raise ValueError(
            f"{where}: `{name}` must hold at least {minimum} {what} along axis "
            f"{axis}, got shape {tuple(array.shape)}."
        )


def calibration_inputs(
    where: str, theta_true: Any, posterior_samples: Any, *, promote: bool
) -> tuple[Array, Array]:
    """Check ``theta_true [S, d]`` and ``posterior_samples [S, L, d]`` (finite).

    Example:
        >>> theta, draws = calibration_inputs(
        ...     "sbc_ranks", jnp.zeros((3, 1)), jnp.zeros((3, 5, 1)), promote=False)
    """
    theta = real_array(
        theta_true,
        "theta_true",
        where,
        ndim=2,
        promote=promote,
        hint="theta_true is [S, d], one row per simulation; add a trailing axis of "
        "size 1 for a scalar parameter.",
    )
    draws = real_array(
        posterior_samples,
        "posterior_samples",
        where,
        ndim=3,
        promote=promote,
        hint="posterior_samples is [S, L, d]: L draws for each of the S simulations; "
        "add a trailing axis of size 1 for a scalar parameter.",
    )
    num_simulations, dim = theta.shape
    check_array(
        draws,
        "posterior_samples",
        where=where,
        shape=(num_simulations, None, dim),
        hint=f"theta_true has shape {tuple(theta.shape)}, so posterior_samples must "
        "be [S, L, d] with the same S and d.",
    )
    min_size(theta, "theta_true", where, 0, 1, "simulation")
    min_size(draws, "posterior_samples", where, 1, 1, "draw")
    check_finite(theta, "theta_true", where=where, axes=("simulation", "coordinate"))
    check_finite(
        draws,
        "posterior_samples",
        where=where,
        axes=("simulation", "draw", "coordinate"),
    )
    return theta, draws


def check_returned_finite(
    value: Any, fn_name: str, where: str, axes: Sequence[str], hint: str
) -> None:
    """Raise at the first non-finite entry of what a user function returned.

    Example:
        >>> check_returned_finite(jnp.array([[0.0, jnp.nan]]), "prior_sample_fn",
        ...                       "sbc", ("simulation", "coordinate"), "")
        Traceback (most recent call last):
        ...
        ValueError: sbc: `prior_sample_fn` returned nan at simulation 0, coordinate 1.
    """
    array = concrete(value)
    if array is None:
        return
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        at = ", ".join(f"{axis} {i}" for axis, i in zip(axes, index, strict=True))
        more = int(bad.sum()) - 1
        raise ValueError(
            f"{where}: `{fn_name}` returned {array[index]} at {at}"
            + (f" ({more} more non-finite entries)" if more else "")
            + f". {hint}".rstrip()
        )
