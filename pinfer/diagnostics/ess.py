"""Effective sample size of importance weights, computed in log space.

    ESS(w) = (sum_i w_i)^2 / sum_i w_i^2
    log ESS = 2 * logsumexp(log_w) - logsumexp(2 * log_w)

The ESS is invariant to the normalisation of the weights, so unnormalised log-weights
are fine. When every weight is zero (all ``log_w = -inf``) the ESS is defined as 0 (and
``log_ess`` as ``-inf``) instead of NaN.
"""

import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.types import Array, Float

__all__ = ["ess", "log_ess"]


def log_ess(log_weights: Float[Array, "num_particles"]) -> Float[Array, ""]:
    """Log of the effective sample size of (unnormalised) log-weights.

    Args:
        log_weights: ``[N]`` log importance weights, any normalisation.

    Returns:
        Scalar ``log ESS`` in ``[-inf, log N]``; ``-inf`` when every weight is zero.

    Example:
        >>> log_ess(jnp.zeros(4))  # log 4
        Array(1.3862944, dtype=float32)
    """
    lse = logsumexp(log_weights)
    lse2 = logsumexp(2.0 * (log_weights - jnp.where(jnp.isfinite(lse), lse, 0.0)))
    return jnp.where(jnp.isfinite(lse), -lse2, -jnp.inf)


def ess(log_weights: Float[Array, "num_particles"]) -> Float[Array, ""]:
    """Effective sample size ``(sum w)^2 / sum w^2`` of (unnormalised) log-weights.

    Args:
        log_weights: ``[N]`` log importance weights, any normalisation.

    Returns:
        Scalar in ``[0, N]``; 0 when every weight is zero.

    Example:
        >>> ess(jnp.log(jnp.array([1.0, 1.0, 0.0, 0.0])))
        Array(2., dtype=float32)
    """
    return jnp.exp(log_ess(log_weights))
