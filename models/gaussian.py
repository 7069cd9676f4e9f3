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
from jax.scipy.linalg import solve_triangular

from pinfer.linalg import dot, matvec
from pinfer.types import Array, Scalar

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


def factor_of_chol(chol: Array) -> GaussianFactor:
    """The :class:`GaussianFactor` of a covariance given its lower Cholesky factor.

    Example:
        >>> factor_of_chol(2.0 * jnp.eye(2)).half_log_det
        Array(1.3862944, dtype=float32)
    """
    # Invert the factor once, then multiply: when vmapped over particles with a
    # shared factor the inverse is computed once (a batched triangular solve is an
    # order of magnitude slower on CPU), and the unrolled products of pinfer.linalg
    # fuse into one loop over the particles.
    eye = jnp.eye(chol.shape[0], dtype=chol.dtype)
    inv_chol = solve_triangular(chol, eye, lower=True)
    return GaussianFactor(chol, inv_chol, jnp.sum(jnp.log(jnp.diagonal(chol))))


def factor(cov: Array) -> GaussianFactor:
    """The :class:`GaussianFactor` of a ``[d, d]`` covariance (symmetrised first).

    Example:
        >>> factor(4.0 * jnp.eye(2)).inv_chol
        Array([[0.5, 0. ],
               [0. , 0.5]], dtype=float32)
    """
    return factor_of_chol(chol(cov))


def mvn_logpdf(x: Array, mean: Array, cov_factor: GaussianFactor) -> Scalar:
    """``log N(x; mean, S)`` for one ``[d]`` vector, ``S`` given by its factor.

    Example:
        >>> mvn_logpdf(jnp.zeros(1), jnp.zeros(1), factor(jnp.eye(1)))
        Array(-0.9189385, dtype=float32)
    """
    z = matvec(cov_factor.inv_chol, x - mean)
    log_2pi = jnp.log(2 * jnp.pi).astype(z.dtype)
    return -0.5 * dot(z, z) - cov_factor.half_log_det - 0.5 * x.shape[-1] * log_2pi


def chol(cov: Array) -> Array:
    """Lower Cholesky factor of the symmetric part of ``cov``.

    Example:
        >>> chol(jnp.array([[4.0, 0.0], [0.0, 9.0]]))
        Array([[2., 0.],
               [0., 3.]], dtype=float32)
    """
    return jnp.linalg.cholesky(0.5 * (cov + cov.T))
