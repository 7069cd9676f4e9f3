"""Tempered (annealed) SMC: from the prior to the posterior through ``prior * lik^lam``.

The particles move through the targets ``pi_lam(x) ∝ p(x) L(x)^lam`` for
``0 = lam_0 < lam_1 < ... < lam_K = 1``; the product of the mean incremental weights
estimates the evidence ``Z = ∫ p(x) L(x) dx`` (Neal, 2001; Del Moral, Doucet and
Jasra, 2006; Chopin and Papaspiliopoulos, 2020, ch. 17)::

    x_i ~ p,  log w_i = -log N,  lam = 0,  log Z = 0
    while lam < 1:
        lam' = lam + delta,  delta = max{d : ESS(log w + d log L) >= target_ess * N}
        log w_i += (lam' - lam) log L(x_i);   log Z += logsumexp(log w)
        resample x (and tune the MCMC kernel on the weighted particles)
        x_i <- num_mcmc_steps MCMC moves targeting p(x) L(x)^lam',  log w_i = -log N

The next temperature is found by bisection on ``log delta`` over
``[log(1 - lam) - 40, log(1 - lam)]`` with a fixed number of steps (the ESS falls as
``delta`` grows), so the adaptive step is jittable (Jasra et al., 2011). A fixed
schedule ``temperatures`` runs the same step with ``lax.scan``.

Rejuvenation uses an :class:`~pinfer.smc.mcmc.MCMCKernel`: random-walk Metropolis
(default) or HMC, tuned on the weighted particles of the new temperature (random-walk
covariance, HMC mass). As in every adaptive SMC sampler this biases ``exp(log Z)`` by
O(1/N), and the bias grows when the moves mix poorly, because the kernel then depends
on the particles' chance spread: on a 10-d conjugate Gaussian we measured about 0.15
nats with N = 500 and 10 random-walk moves, 0.02 nats with N = 1000 and 30 moves. Use
a few times ``d`` random-walk moves per temperature, or HMC with a trajectory near a
quarter period (the default). :func:`~pinfer.smc.numpyro_bridge.tempered_smc_numpyro`
runs the same sampler on a numpyro model.

**Failures and the NaN policy** (the same as the particle filter's). A
log-likelihood of ``-inf`` is an impossible observation: the particle gets weight
zero. If every particle has weight zero the log-evidence is ``-inf``. A NaN (or
``+inf``) log-likelihood is a broken model, not a weight: a reweighting that meets one
makes the log-evidence NaN. Giving such a particle weight zero (what this sampler
did before) would silently truncate the model wherever it is broken; a NaN cannot be
mistaken for an answer. Either way ``failed_step`` names the first failed step and
the adaptive driver stops there, with a final temperature below 1. Inside the MCMC
moves a proposal whose density is NaN is rejected (the Metropolis rule keeps the
chain where it is); a model that means "impossible" there should return ``-inf``.
A degenerate initial population (every particle equal) cannot spread and would give
the likelihood at that point as the evidence: concrete, it raises; traced, the
log-evidence is NaN and ``failed_step = 0``.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.scipy.special import logsumexp

from pinfer.base import Algorithm
from pinfer.diagnostics.ess import log_ess
from pinfer.progress import new_bar_id, report_fraction
from pinfer.smc._tempered_checks import (
    check_options,
    check_particles,
    check_scalar_fn,
    is_degenerate,
)
from pinfer.smc.mcmc import MCMCKernel, build_rwm
from pinfer.smc.resampling import systematic
from pinfer.smc.schedule import invalid_as_nan, temperature_step, weight_increment
from pinfer.types import Array, ArrayTree, Float, Int, PRNGKey, Scalar
from pinfer.validation import check_callable, check_key, is_traced

__all__ = [
    "TemperedSMCInfo",
    "TemperedSMCResult",
    "TemperedSMCState",
    "build_tempered_smc",
    "tempered_smc",
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
            :func:`~pinfer.smc.mcmc.build_rwm`.
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
    where = "build_tempered_smc"
    check_callable(log_prior_fn, "log_prior_fn", where=where)
    check_callable(log_likelihood_fn, "log_likelihood_fn", where=where)
    target_ess, _ = check_options(
        target_ess,
        None,
        1,
        where=where,
        mcmc_kernel=mcmc_kernel,
        num_mcmc_steps=num_mcmc_steps,
        resample_fn=resample_fn,
        num_bisection_steps=num_bisection_steps,
    )
    return _build(
        log_prior_fn,
        log_likelihood_fn,
        mcmc_kernel,
        num_mcmc_steps,
        resample_fn,
        target_ess,
        num_bisection_steps,
    )


def _build(
    log_prior_fn,
    log_likelihood_fn,
    mcmc_kernel,
    num_mcmc_steps,
    resample_fn,
    target_ess,
    num_bisection_steps,
) -> Algorithm:
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


def _pad(values: Array, num_steps: Array, fill: Array) -> Array:
    return jnp.where(jnp.arange(values.shape[0]) < num_steps, values, fill)


def tempered_smc(
    key: PRNGKey,
    log_prior_fn: Callable[[ArrayTree], Scalar],
    log_likelihood_fn: Callable[[ArrayTree], Scalar],
    initial_particles: ArrayTree,
    *,
    mcmc_kernel: MCMCKernel | None = None,
    num_mcmc_steps: int = 10,
    target_ess: float | Scalar = 0.5,
    temperatures: Float[Array, "num_temperatures"] | None = None,
    resample_fn: Callable = systematic,
    max_steps: int = 200,
    num_bisection_steps: int = 24,
    progress: bool = False,
) -> TemperedSMCResult:
    """Tempered SMC from the prior to the posterior, with the evidence estimate.

    With ``temperatures=None`` the schedule is adaptive (each step keeps
    ``target_ess * N`` effective particles) and runs in a ``lax.while_loop`` until
    the temperature reaches 1, the log-evidence stops being finite (every weight
    zero, or a NaN log-likelihood), or ``max_steps`` steps; check
    ``result.temperatures[-1] == 1`` and ``result.failed_step == -1``. A fixed
    schedule runs one step per temperature in a ``lax.scan``. Wrap the call in
    ``eqx.filter_jit`` (it reports a traced ``target_ess`` outside ``(0, 1)`` with
    its message; ``jax.jit`` works too) and ``jax.vmap`` over keys for replicates.

    Args:
        key: PRNG key.
        log_prior_fn: one particle (pytree without the ``N`` axis) ``-> log p(x)``;
            ``initial_particles`` should be draws from this prior.
        log_likelihood_fn: one particle ``-> log L(x)``; ``-inf`` gives weight
            zero, NaN and ``+inf`` make the log-evidence NaN (the module's NaN
            policy).
        initial_particles: ``[N, d]`` array, or a pytree whose leaves share the
            leading axis ``N``, independent draws from the prior (not all equal).
        mcmc_kernel: rejuvenation kernel; default random-walk Metropolis
            (:func:`~pinfer.smc.mcmc.build_rwm`), or :func:`~pinfer.smc.mcmc.build_hmc`.
        num_mcmc_steps: MCMC moves per temperature (static, positive).
        target_ess: ESS fraction for the adaptive schedule, in ``(0, 1)``.
        temperatures: a fixed schedule ``[K]`` increasing strictly to 1, or ``None``.
        resample_fn: ``(key, log_weights, num_samples) -> indices``.
        max_steps: length of the adaptive loop's output arrays and its step cap.
        num_bisection_steps: see :func:`next_temperature`.
        progress: report the temperature to a host progress bar.

    Returns:
        :class:`TemperedSMCResult` with ``log_evidence = log Z`` (``log p(y)`` when
        the prior and likelihood are normalised) and equally weighted particles.

    Raises:
        ValueError / TypeError: before tracing, for a bad key, particles without a
            common leading axis (or a bare array that is not ``[N, d]``), non-float,
            non-finite or all-equal particles, functions that do not map one
            particle to a scalar, ``target_ess`` outside ``(0, 1)``, counts that are
            not positive ints, or a schedule that is not strictly increasing to 1.

    Example:
        >>> x0 = jax.random.normal(jax.random.key(0), (200, 2))
        >>> result = eqx.filter_jit(lambda k, x: tempered_smc(
        ...     k, lambda x: -0.5 * x @ x - jnp.log(2 * jnp.pi),
        ...     lambda x: -0.5 * jnp.sum((x - 1.0) ** 2), x, num_mcmc_steps=3)
        ... )(jax.random.key(1), x0)
        >>> result.temperatures[-1], result.failed_step
        (Array(1., dtype=float32), Array(-1, dtype=int32))
    """
    where = "tempered_smc"
    check_key(key, where=where)
    check_particles(initial_particles, where)
    check_scalar_fn(log_prior_fn, "log_prior_fn", initial_particles, where)
    check_scalar_fn(log_likelihood_fn, "log_likelihood_fn", initial_particles, where)
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
    algorithm = _build(
        log_prior_fn,
        log_likelihood_fn,
        mcmc_kernel,
        num_mcmc_steps,
        resample_fn,
        target_ess,
        num_bisection_steps,
    )
    state = algorithm.init(initial_particles)
    bar_id = new_bar_id() if progress else 0

    if temperatures is not None:
        schedule = jnp.asarray(temperatures, state.temperature.dtype)

        def scan_step(state, inputs):
            key_step, temperature = inputs
            state, info = algorithm.step(key_step, state, temperature)
            report_fraction(bar_id, state.temperature, progress=progress)
            return state, info

        keys = jax.random.split(key, schedule.shape[0])
        state, trace = jax.lax.scan(scan_step, state, (keys, schedule))
        num_steps = jnp.asarray(schedule.shape[0], jnp.int32)
        temperatures_reached = trace.temperature
    else:
        state, num_steps, trace = _adaptive(
            algorithm, key, state, max_steps, bar_id, progress
        )
        temperatures_reached = _pad(trace.temperature, num_steps, state.temperature)
    done = jnp.arange(trace.log_evidence_increment.shape[0]) < num_steps
    failed = done & ~jnp.isfinite(trace.log_evidence_increment)
    failed_step = jnp.where(jnp.any(failed), jnp.argmax(failed), -1).astype(jnp.int32)
    log_evidence = state.log_evidence
    if is_traced(initial_particles):
        # All-equal particles cannot be checked before tracing: flag the result.
        degenerate = is_degenerate(initial_particles)
        log_evidence = jnp.where(degenerate, jnp.nan, log_evidence)
        failed_step = jnp.where(degenerate, 0, failed_step).astype(jnp.int32)
    return TemperedSMCResult(
        state.particles,
        state.log_weights,
        log_evidence,
        temperatures_reached,
        num_steps,
        trace.ess,
        trace.acceptance_rate,
        failed_step,
    )


def _adaptive(algorithm, key, state, max_steps, bar_id, progress):
    """The adaptive schedule: steps until lam = 1, a failure, or ``max_steps``."""
    nan = jnp.full((max_steps,), jnp.nan, state.temperature.dtype)

    def cond(carry):
        state, i, _, _ = carry
        running = (state.temperature < 1) & (state.log_evidence > -jnp.inf)
        return running & (i < max_steps)

    def body(carry):
        state, i, key, trace = carry
        key, key_step = jax.random.split(key)
        state, info = algorithm.step(key_step, state)
        trace = TemperedSMCInfo(
            *(t.at[i].set(v) for t, v in zip(trace, info, strict=True))
        )
        report_fraction(bar_id, state.temperature, progress=progress)
        return state, i + 1, key, trace

    trace = TemperedSMCInfo(nan, nan, nan, nan)
    init = (state, jnp.int32(0), key, trace)
    state, num_steps, _, trace = jax.lax.while_loop(cond, body, init)
    return state, num_steps, trace
