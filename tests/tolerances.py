"""Tolerances derived from floating-point rounding, for comparisons of two exact
computations done in different orders (vmapped vs single, dense vs gathered,
chunked vs whole, float32 vs float64).

A computation of ``n`` floating-point operations in precision ``u = eps / 2`` has
relative error at most ``gamma_n = n u / (1 - n u)`` of the magnitude of what it
sums (Higham, 2002, "Accuracy and Stability of Numerical Algorithms", 3.1); two
orders of the same computation differ by at most twice that. ``condition`` scales
the bound where the result is a difference of larger terms (e.g. a log-softmax of
large values: the terms are ``beta * |Q|``, the result may be much smaller).

Example:
    >>> rounding_rtol(num_ops=100) < 1e-4
    True
"""

import numpy as np

__all__ = ["EPS32", "rounding_atol", "rounding_rtol"]

EPS32 = float(np.finfo(np.float32).eps)


def _eps(dtype) -> float:
    return float(np.finfo(np.dtype(dtype)).eps)


def rounding_rtol(num_ops: int, condition: float = 1.0, dtype=np.float32) -> float:
    """Relative bound on the difference of two evaluation orders of ``num_ops``
    operations: ``2 * gamma_n * condition`` with ``u = eps / 2``.

    Args:
        num_ops: the longest chain of dependent roundings (e.g. the sweeps of value
            iteration times the terms summed in each backup).
        condition: magnitude of the terms over magnitude of the result (>= 1).
        dtype: the precision computed in.
    """
    unit = _eps(dtype) / 2
    gamma = num_ops * unit / (1 - num_ops * unit)
    return 2.0 * gamma * condition


def rounding_atol(num_ops: int, scale: float, dtype=np.float32) -> float:
    """Absolute bound for results whose terms have magnitude up to ``scale``:
    ``rounding_rtol(num_ops) * scale``."""
    return rounding_rtol(num_ops, 1.0, dtype) * scale
