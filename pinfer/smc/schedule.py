"""The adaptive temperature schedule of tempered SMC.

The next temperature is the largest ``lam' <= 1`` whose incremental weights
``(lam' - lam) log L`` keep the ESS above a target, found by bisection on
``log(lam' - lam)`` over ``[log(1 - lam) - 40, log(1 - lam)]`` with a fixed number of
steps (the ESS falls as the step grows), so the adaptive step is jittable (Jasra et
al., 2011). Used by :func:`pinfer.smc.tempered_smc`.
"""

import jax
import jax.numpy as jnp

from pinfer.diagnostics.ess import log_ess
from pinfer.types import Array, Float, Scalar

__all__ = ["next_temperature", "clean_log_likelihood", "weight_increment"]

_LOG_DELTA_RANGE = 40.0


def clean_log_likelihood(log_likelihood: Array) -> Array:
    """NaN and ``+inf`` log-likelihoods become ``-inf`` (weight zero, never NaN).

    Args / Returns: ``[N]`` log-likelihoods in, ``[N]`` out.

    Example:
        >>> clean_log_likelihood(jnp.array([0.0, jnp.nan, jnp.inf]))
        Array([  0., -inf, -inf], dtype=float32)
    """
    invalid = jnp.isnan(log_likelihood) | (log_likelihood == jnp.inf)
    return jnp.where(invalid, -jnp.inf, log_likelihood)


def weight_increment(delta: Array, log_likelihood: Array) -> Array:
    """``delta * log L``, zero when ``delta == 0`` (where ``0 * -inf`` would be NaN).

    Args / Returns: a scalar step ``delta`` and ``[N]`` log-likelihoods; ``[N]``.

    Example:
        >>> weight_increment(jnp.array(0.0), jnp.array([-jnp.inf, 1.0]))
        Array([0., 0.], dtype=float32)
    """
    # delta * -inf is NaN when delta == 0; a zero step leaves the weights alone.
    return jnp.where(delta > 0, delta * log_likelihood, 0.0)


def next_temperature(
    log_weights: Float[Array, "num_particles"],
    log_likelihood: Float[Array, "num_particles"],
    temperature: Scalar,
    target_ess: float | Scalar,
    num_bisection_steps: int = 24,
) -> Scalar:
    """Largest ``lam' <= 1`` with ``ESS(log_weights + (lam' - lam) log L) >= target``.

    Bisection on ``log(lam' - lam)`` with a fixed number of steps (jittable). If no
    step keeps the ESS above ``target_ess * N`` (too few particles with finite
    likelihood), the smallest step of the search is taken; the result is always
    strictly above ``temperature`` unless that is already 1.

    Args:
        log_weights: ``[N]`` current log-weights.
        log_likelihood: ``[N]`` log-likelihoods (``-inf`` allowed).
        temperature: current ``lam``.
        target_ess: fraction of ``N`` in ``(0, 1)``.
        num_bisection_steps: bisection steps (static); the relative precision of the
            step is about ``exp(40 / 2**num_bisection_steps) - 1``.

    Returns:
        The next temperature ``lam'`` (scalar).

    Example:
        >>> float(next_temperature(jnp.zeros(4), jnp.zeros(4), 0.0, 0.5))
        1.0
    """
    log_likelihood = clean_log_likelihood(log_likelihood)
    dtype = log_likelihood.dtype
    temperature = jnp.asarray(temperature, dtype)
    log_target = jnp.log(jnp.asarray(target_ess, dtype) * log_weights.shape[0])
    log_delta_max = jnp.log1p(-temperature)

    def ok(log_delta):
        increment = jnp.exp(log_delta) * log_likelihood
        return log_ess(log_weights + increment) >= log_target

    def bisect(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        good = ok(mid)
        return jnp.where(good, mid, lo), jnp.where(good, hi, mid)

    bounds = (log_delta_max - _LOG_DELTA_RANGE, log_delta_max)
    log_delta, _ = jax.lax.fori_loop(0, num_bisection_steps, bisect, bounds)
    proposed = jnp.minimum(temperature + jnp.exp(log_delta), 1.0)
    proposed = jnp.maximum(
        proposed, jnp.nextafter(temperature, jnp.ones_like(proposed))
    )
    return jnp.where(ok(log_delta_max), jnp.ones_like(proposed), proposed)
