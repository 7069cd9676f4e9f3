"""Small dense Gaussians: Cholesky factors, log-densities, full-precision tracing.

The pieces :mod:`pinfer.models.linear_gaussian` and :mod:`pinfer.models.kalman` share.
A covariance is factored once (:func:`factor`: Cholesky factor, its inverse, half the
log-determinant) and the density is then products only (:func:`mvn_logpdf`), which
vmaps over particles without a batched triangular solve.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from pinfer.linalg import dot, matvec
from pinfer.types import Array, Scalar
from pinfer.validation import check_array, check_finite, check_type, concrete

__all__ = ["GaussianFactor", "chol", "exact", "factor", "factor_of_chol", "mvn_logpdf"]


def exact(fn):
    """Decorator: trace ``fn`` with full float32 matmul precision.

    GPUs multiply float32 matrices in TF32 by default (about 3 decimal digits); the
    Kalman recursions and the optimal proposal need full precision to cancel weights
    exactly, and their matrices are tiny, so precision costs nothing measurable.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return fn(*args, **kwargs)

    return wrapper


class GaussianFactor(NamedTuple):
    """A covariance ``S`` in the forms a Gaussian density and sampler need.

    Attributes:
        chol: ``[d, d]`` lower Cholesky factor ``L`` (``S = L L'``).
        inv_chol: ``[d, d]`` its inverse ``L^-1``.
        half_log_det: ``sum(log(diag(L))) = log det(S) / 2``.
    """

    chol: Array
    inv_chol: Array
    half_log_det: Scalar


def check_covariance(cov: Array, name: str, where: str) -> Array:
    """A square float matrix; when concrete, finite, symmetric and positive definite.

    Traced covariances are checked for shape and dtype only: one that is not
    positive definite gives a NaN factor (and NaN densities).

    Example:
        >>> check_covariance(jnp.eye(2), "Q", "factor").shape
        (2, 2)
    """
    cov = check_array(cov, name, where=where, ndim=2, dtype="float")
    if cov.shape[0] != cov.shape[1]:
        raise ValueError(
            f"{where}: `{name}` must be a square covariance matrix, got shape "
            f"{list(cov.shape)}."
        )
    check_finite(cov, name, where=where)
    values = concrete(cov)
    if values is None or values.size == 0:
        return cov
    values = np.asarray(values, np.float64)
    scale = max(float(np.abs(values).max()), np.finfo(np.float64).tiny)
    # Rounding of the dtype it arrived in: two orders of a d-term product (B B')
    # differ by at most 2 gamma_d ~ d eps of its scale (Higham, 2002, 3.1).
    tolerance = 4 * cov.shape[0] * float(np.finfo(cov.dtype).eps) * scale
    if np.abs(values - values.T).max() > tolerance:
        i, j = np.unravel_index(np.argmax(np.abs(values - values.T)), values.shape)
        raise ValueError(
            f"{where}: `{name}` must be symmetric, got {values[i, j]} at ({i}, {j}) "
            f"and {values[j, i]} at ({j}, {i})."
        )
    smallest = float(np.linalg.eigvalsh(0.5 * (values + values.T)).min())
    if smallest <= tolerance:
        raise ValueError(
            f"{where}: `{name}` must be positive definite, got a smallest eigenvalue "
            f"of {smallest:.3g}. A covariance needs positive variance in every "
            "direction (add a small multiple of the identity for a near-singular one)."
        )
    return cov


def factor_of_chol(chol: Array) -> GaussianFactor:
    """The :class:`GaussianFactor` of a covariance given its lower Cholesky factor.

    Raises:
        TypeError / ValueError: for a factor that is not a square float matrix or
            (when concrete) has a non-finite or non-positive diagonal entry.

    Example:
        >>> factor_of_chol(2.0 * jnp.eye(2)).half_log_det
        Array(1.3862944, dtype=float32)
    """
    chol = check_array(chol, "chol", where="factor_of_chol", ndim=2, dtype="float")
    if chol.shape[0] != chol.shape[1]:
        raise ValueError(
            f"factor_of_chol: `chol` must be a square matrix, got shape "
            f"{list(chol.shape)}."
        )
    check_finite(chol, "chol", where="factor_of_chol")
    diagonal = concrete(jnp.diagonal(chol)) if concrete(chol) is not None else None
    if diagonal is not None and (diagonal <= 0).any():
        raise ValueError(
            "factor_of_chol: `chol` must be a lower Cholesky factor with a positive "
            f"diagonal, got {diagonal.tolist()} on its diagonal."
        )
    # Invert the factor once, then multiply: when vmapped over particles with a
    # shared factor the inverse is computed once (a batched triangular solve is an
    # order of magnitude slower on CPU), and the unrolled products of pinfer.linalg
    # fuse into one loop over the particles.
    return _factor_of_chol(chol)


def factor(cov: Array) -> GaussianFactor:
    """The :class:`GaussianFactor` of a ``[d, d]`` covariance (symmetrised first).

    Raises:
        TypeError / ValueError: see :func:`check_covariance`.

    Example:
        >>> factor(4.0 * jnp.eye(2)).inv_chol
        Array([[0.5, 0. ],
               [0. , 0.5]], dtype=float32)
    """
    check_covariance(cov, "cov", "factor")
    return _factor_of_chol(_chol(cov))


def mvn_logpdf(x: Array, mean: Array, cov_factor: GaussianFactor) -> Scalar:
    """``log N(x; mean, S)`` for one ``[d]`` vector, ``S`` given by its factor.

    Called once per particle inside the filters, so it checks shapes and types only
    (when tracing): NaN inputs give a NaN density.

    Raises:
        TypeError / ValueError: for ``x`` and ``mean`` that are not ``[d]`` vectors
            of the factor's dimension, or a ``cov_factor`` that is not a
            :class:`GaussianFactor`.

    Example:
        >>> mvn_logpdf(jnp.zeros(1), jnp.zeros(1), factor(jnp.eye(1)))
        Array(-0.9189385, dtype=float32)
    """
    check_type(cov_factor, "cov_factor", GaussianFactor, where="mvn_logpdf")
    dim = jnp.shape(cov_factor.inv_chol)[0]
    for name, value in (("x", x), ("mean", mean)):
        check_array(value, name, where="mvn_logpdf", shape=(dim,), dtype="number")
    z = matvec(cov_factor.inv_chol, x - mean)
    log_2pi = jnp.log(2 * jnp.pi).astype(z.dtype)
    return -0.5 * dot(z, z) - cov_factor.half_log_det - 0.5 * x.shape[-1] * log_2pi


def chol(cov: Array) -> Array:
    """Lower Cholesky factor of the symmetric part of ``cov``.

    Raises:
        TypeError / ValueError: see :func:`check_covariance`.

    Example:
        >>> chol(jnp.array([[4.0, 0.0], [0.0, 9.0]]))
        Array([[2., 0.],
               [0., 3.]], dtype=float32)
    """
    check_covariance(cov, "cov", "chol")
    return _chol(cov)


def _chol(cov: Array) -> Array:
    """:func:`chol` without its checks (inside the Kalman recursion)."""
    return jnp.linalg.cholesky(0.5 * (cov + cov.T))


def _factor_of_chol(chol: Array) -> GaussianFactor:
    """:func:`factor_of_chol` without its checks."""
    eye = jnp.eye(chol.shape[0], dtype=chol.dtype)
    inv_chol = solve_triangular(chol, eye, lower=True)
    return GaussianFactor(chol, inv_chol, jnp.sum(jnp.log(jnp.diagonal(chol))))
