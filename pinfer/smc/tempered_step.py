"""The tempered SMC step: its state, its diagnostics, and the ``init``/``step`` pair.

One step from temperature ``lam`` to ``lam'`` (adaptive or given), for a population
drawn from ``p(x) L(x)^lam`` with equal weights::

    log w_i = -log N + (lam' - lam) log L(x_i);   log Z += logsumexp(log w)
    resample x;  tune the MCMC kernel on the weighted particles
    x_i <- num_mcmc_steps MCMC moves targeting p(x) L(x)^lam';   log w_i = -log N

:func:`pinfer.smc.tempered_smc` drives it (see :mod:`pinfer.smc.tempered` for the
algorithm, its references and its NaN policy).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.scipy.special import logsumexp

from pinfer.base import Algorithm
from pinfer.diagnostics.ess import log_ess
from pinfer.smc._tempered_checks import check_options
from pinfer.smc.mcmc import MCMCKernel
from pinfer.smc.resampling import systematic
from pinfer.smc.schedule import invalid_as_nan, temperature_step, weight_increment
from pinfer.smc.tuning import build_rwm
from pinfer.types import Array, ArrayTree, Float, Int, PRNGKey, Scalar
from pinfer.validation import check_callable

__all__ = [
    "TemperedSMCInfo",
    "TemperedSMCResult",
    "TemperedSMCState",
    "build",
    "build_tempered_smc",
    "checked_build",
]


class TemperedSMCState(NamedTuple):
    """What the next tempered step needs.

    Attributes:
        particles: pytree, every leaf with leading axis ``N``.
        log_weights: ``[N]`` normalised log-weights.
        temperature: current ``lam`` in ``[0, 1]``.
        log_evidence: running ``log(Z_lam / Z_0)``.
        log_prior: ``[N]`` log-prior of each particle.
        log_likelihood: ``[N]`` log-likelihood, invalid values stored as ``-inf``.
        kernel_params: the MCMC kernel's tuned parameters.
        acceptance_rate: mean acceptance of the last move (NaN before the first).
    """

    particles: ArrayTree
    log_weights: Float[Array, "num_particles"]
    temperature: Scalar
    log_evidence: Scalar
    log_prior: Float[Array, "num_particles"]
    log_likelihood: Float[Array, "num_particles"]
    kernel_params: ArrayTree
    acceptance_rate: Scalar


class TemperedSMCInfo(NamedTuple):
    """Diagnostics of one step: new temperature, ``log Z`` increment, ESS of the
    reweighted particles before resampling, and the MCMC acceptance rate."""

    temperature: Scalar
    log_evidence_increment: Scalar
    ess: Scalar
    acceptance_rate: Scalar


class TemperedSMCResult(NamedTuple):
    """Output of :func:`tempered_smc`.

    Per-step arrays have length ``max_steps`` (adaptive) or ``K`` (fixed schedule);
    entries past ``num_steps`` are padding: ``temperatures`` repeats the final
    temperature (so ``temperatures[-1]`` is always the last one reached), ``ess`` and
    ``acceptance_rate`` are NaN. ``failed_step`` is the first step whose evidence
    increment was not finite (every weight zero: ``-inf``; a NaN or ``+inf``
    log-likelihood: NaN), ``0`` for a degenerate traced population, or ``-1``.
    """

    particles: ArrayTree
    log_weights: Float[Array, "num_particles"]
    log_evidence: Scalar
    temperatures: Float[Array, "num_steps"]
    num_steps: Int[Array, ""]
    ess: Float[Array, "num_steps"]
    acceptance_rate: Float[Array, "num_steps"]
    failed_step: Int[Array, ""] = None


def _flatten(particles: ArrayTree) -> tuple[Array, Callable[[Array], ArrayTree]]:
    first = jax.tree.map(lambda leaf: leaf[0], particles)
    _, unravel = ravel_pytree(first)
    flat = jax.vmap(lambda p: ravel_pytree(p)[0])(particles)
    return flat, unravel


def build_tempered_smc(
    log_prior_fn: Callable[[ArrayTree], Scalar],
    log_likelihood_fn: Callable[[ArrayTree], Scalar],
    *,
    mcmc_kernel: MCMCKernel | None = None,
    num_mcmc_steps: int = 10,
    resample_fn: Callable = systematic,
    target_ess: float | Scalar = 0.5,
    num_bisection_steps: int = 24,
) -> Algorithm:
    """The tempered SMC ``init``/``step`` pair, for users who drive the loop.

    ``init(particles) -> TemperedSMCState`` evaluates the prior and likelihood of
    each particle. ``step(key, state, temperature=None) -> (state, TemperedSMCInfo)``
    moves to ``temperature`` (at least the current one) or, when it is ``None``, to
    the adaptive next temperature; it reweights, adds the ``log Z`` increment,
    resamples, tunes the kernel on the weighted particles and applies
    ``num_mcmc_steps`` MCMC moves.

    Args:
        log_prior_fn: one particle (pytree without the ``N`` axis) ``-> log p(x)``.
        log_likelihood_fn: one particle ``-> log L(x)``.
        mcmc_kernel: an :class:`~pinfer.smc.mcmc.MCMCKernel`; default
            :func:`~pinfer.smc.tuning.build_rwm`.
        num_mcmc_steps: MCMC moves per temperature (static).
        resample_fn: ``(key, log_weights, num_samples) -> indices``.
        target_ess: ESS fraction for the adaptive temperature, in ``(0, 1)``.
        num_bisection_steps: see :func:`next_temperature`.

    Returns:
        :class:`~pinfer.base.Algorithm` ``(init, step)``.

    Raises:
        TypeError / ValueError: for functions that are not callable, a kernel that
            is not an :class:`~pinfer.smc.mcmc.MCMCKernel`, counts that are not
            positive ints, or a ``target_ess`` outside ``(0, 1)``.

    Example:
        >>> alg = build_tempered_smc(
        ...     lambda x: -0.5 * x @ x, lambda x: -x @ x, num_mcmc_steps=2
        ... )
        >>> key, key_init = jax.random.split(jax.random.key(0))
        >>> state = alg.init(jax.random.normal(key_init, (100, 2)))
        >>> step = jax.jit(alg.step)
        >>> while state.temperature < 1:
        ...     key, key_step = jax.random.split(key)
        ...     state, info = step(key_step, state)
    """
    algorithm, _ = checked_build(
        "build_tempered_smc",
        log_prior_fn,
        log_likelihood_fn,
        mcmc_kernel=mcmc_kernel,
        num_mcmc_steps=num_mcmc_steps,
        resample_fn=resample_fn,
        target_ess=target_ess,
        num_bisection_steps=num_bisection_steps,
    )
    return algorithm


def checked_build(
    where: str,
    log_prior_fn: Callable,
    log_likelihood_fn: Callable,
    *,
    mcmc_kernel: MCMCKernel | None,
    num_mcmc_steps: int,
    resample_fn: Callable,
    target_ess: Any,
    num_bisection_steps: int,
    temperatures: Any = None,
    max_steps: int = 1,
) -> tuple[Algorithm, int]:
    """Check the sampler's options for ``where``, then :func:`build`; returns the
    algorithm and the checked ``max_steps``."""
    check_callable(log_prior_fn, "log_prior_fn", where=where)
    check_callable(log_likelihood_fn, "log_likelihood_fn", where=where)
    target_ess, max_steps = check_options(
        target_ess,
        temperatures,
        max_steps,
        where=where,
        mcmc_kernel=mcmc_kernel,
        num_mcmc_steps=num_mcmc_steps,
        resample_fn=resample_fn,
        num_bisection_steps=num_bisection_steps,
    )
    algorithm = build(
        log_prior_fn,
        log_likelihood_fn,
        mcmc_kernel,
        num_mcmc_steps,
        resample_fn,
        target_ess,
        num_bisection_steps,
    )
    return algorithm, max_steps


def build(
    log_prior_fn,
    log_likelihood_fn,
    mcmc_kernel,
    num_mcmc_steps,
    resample_fn,
    target_ess,
    num_bisection_steps,
) -> Algorithm:
    """:func:`build_tempered_smc` without its checks (the drivers check once)."""
    kernel = build_rwm() if mcmc_kernel is None else mcmc_kernel

    def split_density(unravel, x):
        particle = unravel(x)
        return log_prior_fn(particle), invalid_as_nan(log_likelihood_fn(particle))

    def init(particles: ArrayTree) -> TemperedSMCState:
        flat, unravel = _flatten(particles)
        log_prior, log_likelihood = jax.vmap(lambda x: split_density(unravel, x))(flat)
        num = flat.shape[0]
        dtype = log_likelihood.dtype
        log_weights = jnp.full((num,), -jnp.log(num), dtype)
        params = kernel.init_params(flat, log_weights)
        zero = jnp.zeros((), dtype)
        nan = jnp.full((), jnp.nan, dtype)
        return TemperedSMCState(
            particles, log_weights, zero, zero, log_prior, log_likelihood, params, nan
        )

    def move(key, flat, unravel, temperature, params):
        def log_density_fn(x):
            log_prior, log_likelihood = split_density(unravel, x)
            tempered = log_prior + weight_increment(temperature, log_likelihood)
            return tempered, (log_prior, log_likelihood)

        states = jax.vmap(lambda x: kernel.init(x, log_density_fn))(flat)

        def sweep(states, key_sweep):
            states, info = kernel.step(key_sweep, states, log_density_fn, params)
            return states, jnp.mean(info.acceptance_rate)

        keys = jax.random.split(key, num_mcmc_steps)
        states, acceptance = jax.lax.scan(sweep, states, keys)
        log_prior, log_likelihood = states.aux
        return states.position, log_prior, log_likelihood, jnp.mean(acceptance)

    def step(
        key: PRNGKey, state: TemperedSMCState, temperature: Any = None
    ) -> tuple[TemperedSMCState, TemperedSMCInfo]:
        flat, unravel = _flatten(state.particles)
        num = flat.shape[0]
        if temperature is None:
            temperature = temperature_step(
                state.log_weights,
                state.log_likelihood,
                state.temperature,
                target_ess,
                num_bisection_steps,
            )
        temperature = jnp.asarray(temperature, state.temperature.dtype)
        delta = temperature - state.temperature
        log_weights = state.log_weights + weight_increment(delta, state.log_likelihood)
        log_increment = logsumexp(log_weights)
        key_resample, key_move = jax.random.split(key)
        ancestors = resample_fn(key_resample, log_weights, num)
        params = kernel.tune(
            state.kernel_params, flat, log_weights, state.acceptance_rate
        )
        flat, log_prior, log_likelihood, acceptance = move(
            key_move, flat[ancestors], unravel, temperature, params
        )
        uniform = jnp.full((num,), -jnp.log(num), log_weights.dtype)
        new_state = TemperedSMCState(
            jax.vmap(unravel)(flat),
            uniform,
            temperature,
            state.log_evidence + log_increment,
            log_prior,
            log_likelihood,
            params,
            acceptance,
        )
        info = TemperedSMCInfo(
            temperature, log_increment, jnp.exp(log_ess(log_weights)), acceptance
        )
        return new_state, info

    return Algorithm(init, step)
