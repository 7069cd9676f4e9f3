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

import jax
import jax.numpy as jnp

from pinfer.progress import new_bar_id, report_fraction
from pinfer.smc._tempered_checks import (
    check_particles,
    check_scalar_fn,
    is_degenerate,
)
from pinfer.smc.mcmc import MCMCKernel
from pinfer.smc.resampling import systematic
from pinfer.smc.tempered_step import (
    TemperedSMCInfo,
    TemperedSMCResult,
    TemperedSMCState,
    build_tempered_smc,
    checked_build,
)
from pinfer.types import Array, ArrayTree, Float, PRNGKey, Scalar
from pinfer.validation import check_key, is_traced

__all__ = [
    "TemperedSMCInfo",
    "TemperedSMCResult",
    "TemperedSMCState",
    "build_tempered_smc",  # re-exported from pinfer.smc.tempered_step
    "tempered_smc",
]


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

    NaN policy (shared with :func:`~pinfer.smc.particle_filter`): a NaN or ``+inf``
    log-likelihood makes ``log_evidence`` NaN and sets ``failed_step``; it is never
    turned into weight zero, which would silently truncate the model wherever it is
    broken. ``-inf`` is a valid log-likelihood (weight zero).

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
            (:func:`~pinfer.smc.tuning.build_rwm`), or
            :func:`~pinfer.smc.tuning.build_hmc`.
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
    algorithm, max_steps = checked_build(
        where,
        log_prior_fn,
        log_likelihood_fn,
        mcmc_kernel=mcmc_kernel,
        num_mcmc_steps=num_mcmc_steps,
        resample_fn=resample_fn,
        target_ess=target_ess,
        num_bisection_steps=num_bisection_steps,
        temperatures=temperatures,
        max_steps=max_steps,
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
