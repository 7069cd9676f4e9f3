"""Small builders for the bad-input tables: a copy of an array with one entry
changed, and a :class:`Case` from a function and its arguments."""

import functools

import numpy as np

from bad_inputs.cases import Case


def with_entry(array, index, value) -> np.ndarray:
    """A NumPy copy of ``array`` with ``array[index] = value``.

    Example:
        >>> with_entry([0.0, 1.0], 1, np.nan).tolist()
        [0.0, nan]
    """
    out = np.array(array)
    out[index] = value
    return out


def bad(arg, kind, fn, *args, match=(), **kwargs) -> Case:
    """``fn(*args, **kwargs)`` must raise an error naming ``arg`` and ``match``.

    Example:
        >>> bad("x", "range", abs, -1, match=("-1",)).match
        ('x', '-1')
    """
    return Case(arg, kind, functools.partial(fn, *args, **kwargs), (arg, *match))
