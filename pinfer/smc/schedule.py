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
from pinfer.smc._checks import check_log_weights
from pinfer.types import Array, Float, Scalar
from pinfer.validation import (
    check_fraction,
    check_scalar,
    check_static_int,
)

__all__ = [
    "next_temperature",
    "invalid_as_nan",
    "temperature_step",
    "weight_increment",
]

_LOG_DELTA_RANGE = 40.0


def invalid_as_nan(log_likelihood: Array) -> Array:
    """``+inf`` log-likelihoods become NaN: both are invalid (the NaN policy).

    ``-inf`` (an impossible observation, weight zero) and finite values pass
    unchanged. An invalid value is a broken model, never a weight: it makes the
    tempered log-evidence NaN.

    Args / Returns: ``[N]`` log-likelihoods in, ``[N]`` out.

    Example:
        >>> invalid_as_nan(jnp.array([0.0, -jnp.inf, jnp.nan, jnp.inf]))
        Array([  0., -inf,  nan,  nan], dtype=float32)
    """
    return jnp.where(log_likelihood == jnp.inf, jnp.nan, log_likelihood)


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
    strictly above ``temperature`` unless that is already 1. A NaN log-likelihood
    (traced) makes every ESS NaN, and the smallest step is taken.

    Args:
        log_weights: ``[N]`` current log-weights.
        log_likelihood: ``[N]`` log-likelihoods (finite or ``-inf``).
        temperature: current ``lam``.
        target_ess: fraction of ``N`` in ``(0, 1)``.
        num_bisection_steps: bisection steps (static); the relative precision of the
            step is about ``exp(40 / 2**num_bisection_steps) - 1``.

    Returns:
        The next temperature ``lam'`` (scalar).

    Raises:
        TypeError / ValueError: for arrays of the wrong rank, shape or dtype, and
            (when concrete) NaN or ``+inf`` values, a temperature outside
            ``[0, 1]`` or a ``target_ess`` outside ``(0, 1)``.

    Example:
        >>> float(next_temperature(jnp.zeros(4), jnp.zeros(4), 0.0, 0.5))
        1.0
    """
    where = "next_temperature"
    log_weights = check_log_weights(log_weights, "log_weights", where)
    log_likelihood = check_log_weights(log_likelihood, "log_likelihood", where)
    if log_likelihood.shape != log_weights.shape:
        raise ValueError(
            f"{where}: `log_likelihood` must have the shape of `log_weights` "
            f"{list(log_weights.shape)} (one value per particle), got "
            f"{list(log_likelihood.shape)}."
        )
    check_scalar(temperature, "temperature", where=where, low=0.0, high=1.0)
    target_ess = check_fraction(
        target_ess, "target_ess", where=where, low_open=True, high_open=True
    )
    num_bisection_steps = check_static_int(
        num_bisection_steps, "num_bisection_steps", 1, where=where
    )
    return temperature_step(
        log_weights, log_likelihood, temperature, target_ess, num_bisection_steps
    )


def temperature_step(
    log_weights: Array,
    log_likelihood: Array,
    temperature: Scalar,
    target_ess: float | Scalar,
    num_bisection_steps: int,
) -> Scalar:
    """:func:`next_temperature` without its checks (called at every step)."""
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
