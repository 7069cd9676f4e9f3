"""Effective sample size of importance weights, computed in log space.

    ESS(w) = (sum_i w_i)^2 / sum_i w_i^2
    log ESS = 2 * logsumexp(log_w) - logsumexp(2 * log_w)

The ESS is invariant to the normalisation of the weights, so unnormalised log-weights
are fine. When every weight is zero (all ``log_w = -inf``) the ESS is defined as 0 (and
``log_ess`` as ``-inf``) instead of NaN. A NaN or ``+inf`` log-weight has no meaning as
a weight: concrete inputs raise a ``ValueError``; traced ones (inside ``jit``, where
the SMC kernels call these functions) give NaN, never the 0 of an empty population.
"""

import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.diagnostics._checks import min_size, real_array
from pinfer.types import Array, Float
from pinfer.validation import check_finite

__all__ = ["ess", "log_ess"]


def _check_log_weights(log_weights: Array, where: str) -> Array:
    """Static checks (rank, dtype, size) always; finiteness for concrete inputs."""
    log_weights = real_array(
        log_weights,
        "log_weights",
        where,
        ndim=1,
        hint="Pass one population's [N] log-weights; jax.vmap over a batch.",
    )
    min_size(log_weights, "log_weights", where, 0, 1, "weight")
    check_finite(
        log_weights,
        "log_weights",
        where=where,
        allow_neg_inf=True,
        hint="-inf is a zero weight; NaN and +inf are not weights.",
    )
    return log_weights


def _log_ess(log_weights: Array) -> Array:
    lse = logsumexp(log_weights)
    # NaN (a NaN weight) and +inf (an infinite weight, whose shifted entries are
    # inf - inf) both reach lse2 as NaN; only an empty population is -inf.
    empty = lse == -jnp.inf
    lse2 = logsumexp(2.0 * (log_weights - jnp.where(empty, 0.0, lse)))
    return jnp.where(empty, -jnp.inf, -lse2)


def log_ess(log_weights: Float[Array, "num_particles"]) -> Float[Array, ""]:
    """Log of the effective sample size of (unnormalised) log-weights.

    Args:
        log_weights: ``[N]`` log importance weights, any normalisation, ``N >= 1``;
            finite or ``-inf`` (a zero weight).

    Returns:
        Scalar ``log ESS`` in ``[-inf, log N]``; ``-inf`` when every weight is zero;
        NaN when a traced log-weight is NaN or ``+inf`` (concrete ones raise).

    Raises:
        ValueError: ``log_weights`` is not ``[N]``, or (concrete) holds NaN / +inf.
        TypeError: ``log_weights`` is not real (bool, complex).

    Example:
        >>> log_ess(jnp.zeros(4))  # log 4
        Array(1.3862944, dtype=float32)
    """
    return _log_ess(_check_log_weights(log_weights, "log_ess"))


def ess(log_weights: Float[Array, "num_particles"]) -> Float[Array, ""]:
    """Effective sample size ``(sum w)^2 / sum w^2`` of (unnormalised) log-weights.

    Args:
        log_weights: ``[N]`` log importance weights, any normalisation, ``N >= 1``;
            finite or ``-inf`` (a zero weight).

    Returns:
        Scalar in ``[0, N]``; 0 when every weight is zero; NaN when a traced
        log-weight is NaN or ``+inf`` (concrete ones raise).

    Raises:
        ValueError: ``log_weights`` is not ``[N]``, or (concrete) holds NaN / +inf.
        TypeError: ``log_weights`` is not real (bool, complex).

    Example:
        >>> ess(jnp.log(jnp.array([1.0, 1.0, 0.0, 0.0])))
        Array(2., dtype=float32)
    """
    return jnp.exp(_log_ess(_check_log_weights(log_weights, "ess")))
