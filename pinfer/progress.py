"""Host-side progress bars for long-running jitted drivers.

A driver that loops with ``lax.scan`` or ``lax.while_loop`` reports progress through
``jax.debug.callback``: the device computation sends its step counter to the host, which
draws a ``tqdm`` bar. Progress is off by default (``progress=False``), so nothing is
traced into the program unless asked for; inside ``vmap`` leave it off (each batch
element would report on its own).

    progress_scan(f, init, xs, progress=True)      # a bar of `length` steps
    report_fraction(bar_id, fraction, progress=True)  # a 0..1 bar for while loops

Arguments are checked when the driver is traced (the flags, ids and lengths are
static); a fraction is range-checked only when it is concrete.
"""

import itertools
import threading
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.validation import (
    check_callable,
    check_scalar,
    check_static_int,
    check_type,
)

__all__ = ["progress_scan", "new_bar_id", "report_fraction", "close_bar"]

_BARS: dict[int, Any] = {}
_LOCK = threading.Lock()
_IDS = itertools.count()


def new_bar_id() -> int:
    """A fresh integer id naming one progress bar (a static Python int).

    Example:
        >>> isinstance(new_bar_id(), int)
        True
    """
    return next(_IDS)


def _check_flags(progress: Any, desc: Any, where: str) -> None:
    check_type(
        progress,
        "progress",
        (bool, np.bool_),
        where=where,
        hint="It is static: True draws a bar, False traces nothing.",
    )
    check_type(desc, "desc", str, where=where, hint="The bar's label.")


def _bar(bar_id: int, total: float, desc: str):
    from tqdm.auto import tqdm

    with _LOCK:
        bar = _BARS.get(bar_id)
        if bar is None:
            bar = tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True)
            _BARS[bar_id] = bar
    return bar


def close_bar(bar_id: int) -> None:
    """Close and forget bar ``bar_id`` (host side; safe to call twice).

    Raises:
        TypeError: ``bar_id`` is not an int (an id from :func:`new_bar_id`).

    Example:
        >>> close_bar(new_bar_id())  # no bar drawn under that id: nothing to close
    """
    bar_id = check_static_int(bar_id, "bar_id", 0, where="close_bar")
    with _LOCK:
        bar = _BARS.pop(bar_id, None)
    if bar is not None:
        bar.close()


def _update_steps(bar_id: int, total: int, desc: str, step: np.ndarray) -> None:
    bar = _bar(bar_id, total, desc)
    done = int(step) + 1
    bar.update(done - bar.n)
    if done >= total:
        close_bar(bar_id)


def progress_scan(
    f: Callable,
    init: Any,
    xs: Any = None,
    *,
    length: int | None = None,
    progress: bool = False,
    desc: str = "pinfer",
) -> tuple[Any, Any]:
    """``lax.scan`` that optionally draws a host progress bar.

    Args:
        f, init, xs, length: as :func:`jax.lax.scan` (``length`` a static int
            >= 0; needed when ``xs`` is None).
        progress: draw a ``tqdm`` bar with one tick per step (static bool).
        desc: the bar's label.

    Returns:
        ``(final_carry, stacked_outputs)`` exactly as ``lax.scan``.

    Raises:
        TypeError: ``f`` is not callable, ``progress`` is not a bool, ``desc`` not
            a string, or ``length`` not a static int.
        ValueError: ``length`` is negative, or neither ``xs`` nor ``length`` gives
            the number of steps.

    Example:
        >>> carry, ys = progress_scan(lambda c, x: (c + x, c), 0.0, jnp.arange(3.0))
    """
    where = "progress_scan"
    check_callable(f, "f", where=where, hint="It maps (carry, x) to (carry, y).")
    _check_flags(progress, desc, where)
    if length is not None:
        length = check_static_int(length, "length", 0, where=where)
    elif not jax.tree_util.tree_leaves(xs):
        raise ValueError(
            f"{where}: `xs` is {xs!r} and `length` is None: pass the number of "
            "steps as `length` when there is nothing to scan over."
        )
    if not progress:
        return jax.lax.scan(f, init, xs, length=length)
    if length is None:
        length = jax.tree_util.tree_leaves(xs)[0].shape[0]
    bar_id = new_bar_id()
    # At most ~200 host round-trips, however long the scan.
    every = max(1, length // 200)

    def report(step):
        jax.debug.callback(lambda s: _update_steps(bar_id, length, desc, s), step)

    def body(carry, x):
        inner, step = carry
        inner, y = f(inner, x)
        due = (step % every == 0) | (step == length - 1)
        jax.lax.cond(due, report, lambda _: None, step)
        return (inner, step + 1), y

    (carry, _), ys = jax.lax.scan(body, (init, jnp.int32(0)), xs, length=length)
    return carry, ys


def _update_fraction(bar_id: int, desc: str, fraction: np.ndarray) -> None:
    if np.isnan(fraction):
        return  # a traced NaN (unchecked inside jit) is not drawn
    bar = _bar(bar_id, 1.0, desc)
    value = float(np.clip(fraction, 0.0, 1.0))
    bar.update(round(value - bar.n, 6))
    if value >= 1.0:
        close_bar(bar_id)


def report_fraction(
    bar_id: int, fraction: jax.Array, *, progress: bool = False, desc: str = "pinfer"
) -> None:
    """Send ``fraction`` in ``[0, 1]`` to the host bar ``bar_id`` (for while loops).

    The bar closes itself when the fraction reaches 1. With ``progress=False`` this
    traces nothing.

    Args:
        bar_id: the bar's id, from :func:`new_bar_id` (static).
        fraction: a real scalar in ``[0, 1]`` (checked when concrete; a traced
            value outside is clipped for display, a NaN is not drawn).
        progress: draw the bar (static bool).
        desc: the bar's label.

    Raises:
        TypeError: ``bar_id`` is not an int, ``fraction`` not a real number,
            ``progress`` not a bool or ``desc`` not a string.
        ValueError: ``fraction`` is not a scalar, or (concrete) outside ``[0, 1]``.

    Example:
        >>> bar = new_bar_id()
        >>> report_fraction(bar, jnp.float32(0.5), progress=True)  # doctest: +SKIP
    """
    where = "report_fraction"
    bar_id = check_static_int(bar_id, "bar_id", 0, where=where)
    _check_flags(progress, desc, where)
    check_scalar(fraction, "fraction", where=where, low=0.0, high=1.0)
    if progress:
        jax.debug.callback(lambda f: _update_fraction(bar_id, desc, f), fraction)
