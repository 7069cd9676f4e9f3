"""Rejuvenation kernels tuned on the weighted particles: random walk and HMC.

Before each move of tempered SMC (Chopin, 2002; Buchholz, Chopin and Jacob, 2021)::

    RWM  L = chol(c^2 Cov_w + eps I),  c = 2.38 / sqrt(d)    (Roberts et al., 1997)
    HMC  M^{-1} = diag(Var_w);  optionally
         step_size <- step_size * exp(rate * (acceptance - target))

Each builder returns an :class:`~pinfer.smc.mcmc.MCMCKernel` whose one-particle steps
are :func:`~pinfer.smc.mcmc.rwm_step` and :func:`~pinfer.smc.mcmc.hmc_step`.
"""

import jax.numpy as jnp

from pinfer.smc.mcmc import (
    HMCParams,
    MCMCKernel,
    RWMParams,
    check_positive,
    hmc_init,
    hmc_step,
    rwm_init,
    rwm_step,
    weighted_mean_cov,
)
from pinfer.validation import (
    check_array,
    check_finite,
    check_range,
    check_static_int,
    check_type,
)

__all__ = ["build_hmc", "build_rwm"]


def build_rwm(*, scale: float | None = None, jitter: float = 1e-6) -> MCMCKernel:
    """Random-walk Metropolis with its covariance tuned from the particles.

    Before each move the proposal covariance is set to ``scale^2 Cov_w + eps I``,
    where ``Cov_w`` is the weighted particle covariance and
    ``eps = jitter * trace(scale^2 Cov_w) / d``; if its Cholesky factor is not finite
    (a collapsed population) the previous factor is kept.

    Args:
        scale: proposal scale ``c``; ``None`` uses ``2.38 / sqrt(d)``. May be a traced
            scalar when the kernel is built inside a jitted or vmapped function.
        jitter: relative diagonal jitter that keeps the Cholesky factor finite.

    Returns:
        An :class:`MCMCKernel` with :class:`RWMParams`.

    Example:
        >>> kernel = build_rwm()
        >>> params = kernel.init_params(jnp.eye(3), jnp.zeros(3))
        >>> params.scale_tril.shape
        (3, 3)
    """
    if scale is not None:
        check_positive(scale, "scale", "build_rwm", shape=())
    check_array(jitter, "jitter", where="build_rwm", shape=(), dtype="number")
    check_finite(jitter, "jitter", where="build_rwm")
    check_range(jitter, "jitter", where="build_rwm", low=0.0)

    def covariance_tril(positions, log_weights, previous):
        dim = positions.shape[-1]
        c = 2.38 / jnp.sqrt(dim) if scale is None else scale
        _, cov = weighted_mean_cov(positions, log_weights)
        cov = c**2 * cov
        eps = jitter * jnp.trace(cov) / dim + jnp.finfo(cov.dtype).tiny
        tril = jnp.linalg.cholesky(cov + eps * jnp.eye(dim, dtype=cov.dtype))
        return RWMParams(jnp.where(jnp.all(jnp.isfinite(tril)), tril, previous))

    def init_params(positions, log_weights):
        dim = positions.shape[-1]
        c = 2.38 / jnp.sqrt(dim) if scale is None else scale
        fallback = c * jnp.eye(dim, dtype=positions.dtype)
        return covariance_tril(positions, log_weights, fallback)

    def tune(params, positions, log_weights, acceptance_rate):
        del acceptance_rate
        return covariance_tril(positions, log_weights, params.scale_tril)

    def step(key, state, log_density_fn, params):
        return rwm_step(key, state, log_density_fn, params.scale_tril)

    return MCMCKernel(init_params, tune, rwm_init, step)


def build_hmc(
    *,
    step_size: float = 0.25,
    num_leapfrog_steps: int = 6,
    target_acceptance: float | None = None,
    adaptation_rate: float = 2.0,
    adapt_mass: bool = True,
) -> MCMCKernel:
    """Hamiltonian Monte Carlo with its mass (and optionally step size) tuned.

    With ``adapt_mass`` the inverse mass is the weighted particle variance, so
    ``step_size`` is in units of the current marginal standard deviations; the default
    trajectory ``step_size * num_leapfrog_steps = 1.5`` is close to a quarter period
    of a unit Gaussian, where successive states are nearly uncorrelated (a length
    near pi would nearly reflect the particle and mix poorly). With a
    ``target_acceptance`` the step size follows
    ``step_size <- step_size * exp(adaptation_rate * (acceptance - target))``
    after each move; with ``None`` it stays fixed.

    Args:
        step_size: initial (or fixed) leapfrog step size.
        num_leapfrog_steps: leapfrog steps per transition (static).
        target_acceptance: acceptance rate to adapt the step size to, or ``None``.
        adaptation_rate: gain of the step-size update.
        adapt_mass: set ``M^{-1}`` to the weighted particle variances before each
            move; otherwise ``M = I``.

    Returns:
        An :class:`MCMCKernel` with :class:`HMCParams`.

    Example:
        >>> kernel = build_hmc(step_size=0.2, num_leapfrog_steps=5)
        >>> kernel.init_params(jnp.eye(3), jnp.zeros(3)).inverse_mass.shape
        (3,)
    """
    where = "build_hmc"
    check_positive(step_size, "step_size", where, shape=())
    check_static_int(num_leapfrog_steps, "num_leapfrog_steps", 1, where=where)
    if target_acceptance is not None:
        check_array(target_acceptance, "target_acceptance", where=where, shape=())
        check_range(
            target_acceptance,
            "target_acceptance",
            where=where,
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        )
    check_array(adaptation_rate, "adaptation_rate", where=where, shape=())
    check_finite(adaptation_rate, "adaptation_rate", where=where)
    check_range(adaptation_rate, "adaptation_rate", where=where, low=0.0)
    check_type(adapt_mass, "adapt_mass", bool, where=where)

    def inverse_mass(positions, log_weights, previous):
        if not adapt_mass:
            return previous
        _, cov = weighted_mean_cov(positions, log_weights)
        var = jnp.diagonal(cov)
        ok = jnp.all(jnp.isfinite(var) & (var > 0))
        return jnp.where(ok, var, previous)

    def init_params(positions, log_weights):
        ones = jnp.ones(positions.shape[-1], dtype=positions.dtype)
        mass = inverse_mass(positions, log_weights, ones)
        return HMCParams(jnp.asarray(step_size, dtype=positions.dtype), mass)

    def tune(params, positions, log_weights, acceptance_rate):
        new_step = params.step_size
        if target_acceptance is not None:
            factor = jnp.exp(adaptation_rate * (acceptance_rate - target_acceptance))
            new_step = jnp.where(
                jnp.isnan(acceptance_rate), new_step, new_step * factor
            )
        mass = inverse_mass(positions, log_weights, params.inverse_mass)
        return HMCParams(new_step.astype(params.step_size.dtype), mass)

    def step(key, state, log_density_fn, params):
        return hmc_step(
            key,
            state,
            log_density_fn,
            params.step_size,
            params.inverse_mass,
            num_leapfrog_steps,
        )

    return MCMCKernel(init_params, tune, hmc_init, step)
