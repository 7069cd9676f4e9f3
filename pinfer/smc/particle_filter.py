"""Particle filters for state-space models: bootstrap, guided and auxiliary.

For a model ``x_0 ~ mu``, ``x_t ~ f_t(. | x_{t-1})``, ``y_t ~ g_t(. | x_t)``
(:class:`~pinfer.smc.ssm.AbstractStateSpaceModel`), one filter step per observation::

    x_0^i ~ mu,  w^i = 1/N                                   pf_init
    for t = 0..T-1:                                          pf_step (= smc_step)
        if ESS(w) / N < ess_threshold: resample ancestors a^i  (auxiliary: w * eta_t)
        x_t^i ~ q_t(. | x_{t-1}^{a^i}, y_t)                  proposal.sample_fn
        G^i   = g_t(y_t | x_t^i) f_t(x_t^i | .) / q_t(x_t^i | .)  proposal.log_weight_fn
        log Z_t = logsumexp(log w^{a^i} + log G^i)           evidence increment
    log Z = sum_t log Z_t                          E[exp(log Z)] = p(y_{0:T-1}) exactly

Bootstrap filter: Gordon, Salmond and Smith (1993); guided and locally optimal
proposals: Doucet, Godsill and Andrieu (2000); auxiliary filter: Pitt and Shephard
(1999). Missing observations (``mask[t] = False``) propagate the particles with the
transition and leave the weights unchanged.

**Streaming.** :func:`pf_init` and :func:`pf_step` are the filter, one observation at
a time; :func:`particle_filter` is a ``lax.scan`` over :func:`pf_step` and gives the
same numbers for the same keys (``key_init, key_steps = split(key)``,
``step_keys = split(key_steps, T)``).

**Gradients.** ``jax.grad`` of ``log_evidence`` flows through the propagated particles
(reparameterised sampling) and the weights, but not through the resampled ancestor
indices (integers): after a resampling step the new weights ``1/N`` forget the
gradient of the earlier weights. This is the usual low-variance estimator; it is
exact in expectation (up to the O(1/N) bias of a log) only when no step resamples,
and otherwise biased, without vanishing as N grows (dx=4, T=20, N=1000: -27 % on
the derivative in an observation-noise scale, +85 % in an entry of A). With
``score_correction=True`` the resampled weights keep their score
``log W^a - stop_gradient(log W^a)`` (Scibior and Wood, 2021): the forward pass is
unchanged, ``grad Z_hat`` is unbiased for ``grad Z``, and ``grad log Z_hat`` becomes
the Fisher-identity estimator ``sum_i W_T^i grad log(path weight^i)`` (consistent, bias
O(1/N); its variance grows with T). Use it to fit parameters by gradient.

**Failures and the NaN policy.** A log-likelihood of ``-inf`` is an impossible
observation: the particle gets weight zero. If every weight is zero at step ``k`` the
result has ``log_evidence = -inf`` and ``failed_step = k``. A NaN (or ``+inf``)
log-likelihood is a broken model, not a weight: it makes ``log_evidence`` NaN and
sets ``failed_step`` to the first step where it happened (one flag in the scan; the
same policy as :func:`~pinfer.smc.tempered_smc`). Giving such a particle weight zero
would silently change the model wherever it is broken; a NaN cannot be mistaken for
an answer. After a failure the weights restart uniform, so the particles and the
filtering means stay finite. With ``checked=True`` a NaN raises an error whose first
line names the step: a ``ValueError`` when the filter runs eagerly, equinox's runtime
error under ``eqx.filter_jit`` (under ``jax.jit`` the same message comes after JAX's
traceback).

**Summaries.** ``summary_fn(particles, log_weights)`` is evaluated on each step's
weighted population inside the scan and stacked over time (filtering marginals of a
discrete state, quantiles, the weight of a region...), in ``O(N)`` memory: the
particle history is never stored.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from pinfer.linalg import weighted_sum
from pinfer.progress import progress_scan
from pinfer.smc._checks import (
    check_model,
    check_observation,
    first_observation,
    raise_at_nan_step,
)
from pinfer.smc.resampling import systematic
from pinfer.smc.ssm import prepared
from pinfer.smc.streaming import (
    Proposal,
    bootstrap_proposal,
    check_proposal,
    init_state,
    resolve_proposal,
    step,
)
from pinfer.types import Array, ArrayTree, Bool, Float, Int, PRNGKey, Scalar
from pinfer.validation import (
    check_array,
    check_callable,
    check_fraction,
    check_key,
    check_static_int,
)

__all__ = ["ParticleFilterResult", "particle_filter"]


class ParticleFilterResult(NamedTuple):
    """Output of :func:`particle_filter` (``T`` steps, ``N`` particles).

    Attributes:
        log_evidence: ``log Z_hat``, an estimate of ``log p(y_{0:T-1})`` whose
            exponential is unbiased; ``-inf`` after a failed step.
        filtering_mean: ``[T, ...]`` weighted particle mean of ``E[x_t | y_{0:t}]``.
        ess: ``[T]`` effective sample size after reweighting at each step.
        resampled: ``[T]`` bool, whether step ``t`` resampled before proposing.
        log_weights: ``[N]`` final normalised log-weights (``[T, N]`` with history).
        particles: final particles ``[N, ...]`` (``[T, N, ...]`` with history).
        ancestors: ``[T, N]`` int32 parent indices with ``keep_history=True``, else
            ``None``.
        failed_step: first step whose evidence increment was not finite (every
            weight zero: ``-inf``; a NaN or ``+inf`` log-likelihood: NaN), or
            ``-1``.
        summaries: ``summary_fn``'s outputs stacked over time (leading axis ``T``),
            or ``None`` without a ``summary_fn``.
    """

    log_evidence: Scalar
    filtering_mean: ArrayTree
    ess: Float[Array, " T"]
    resampled: Bool[Array, " T"]
    log_weights: Array
    particles: ArrayTree
    ancestors: Int[Array, "T num_particles"] | None
    failed_step: Int[Array, ""]
    summaries: ArrayTree = None


class _StepOutput(NamedTuple):
    filtering_mean: ArrayTree
    ess: Array
    resampled: Array
    particles: ArrayTree = None
    log_weights: Array = None
    ancestors: Array = None
    summary: ArrayTree = None


def particle_filter(
    key: PRNGKey,
    model: Any,
    observations: ArrayTree,
    num_particles: int,
    *,
    resample_fn: Callable = systematic,
    ess_threshold: float | Scalar = 0.5,
    mask: Bool[Array, " T"] | None = None,
    proposal: Proposal | str = bootstrap_proposal,
    auxiliary: bool = False,
    score_correction: bool = False,
    keep_history: bool = False,
    summary_fn: Callable[[ArrayTree, Array], ArrayTree] | None = None,
    checked: bool = False,
    progress: bool = False,
) -> ParticleFilterResult:
    """Run a particle filter over ``T`` observations (one ``lax.scan``).

    Jittable as a whole (mark ``num_particles``, ``resample_fn``, ``proposal``,
    ``auxiliary``, ``score_correction``, ``keep_history``, ``summary_fn``,
    ``checked`` and ``progress`` static) and vmappable over keys, observations and
    model parameters (the model's arrays are dynamic leaves). Memory is ``O(N + T)``
    (plus the summaries) unless ``keep_history=True`` (``O(N T)``). With
    ``checked=True`` wrap it in ``eqx.filter_jit``, not ``jax.jit``: equinox then
    reports the error with its message instead of JAX's runtime traceback.

    NaN policy (shared with :func:`~pinfer.smc.tempered_smc`): a NaN or ``+inf``
    log-likelihood makes ``log_evidence`` NaN and sets ``failed_step``; it is never
    turned into weight zero, which would silently change the model wherever it is
    broken. ``-inf`` is a valid log-likelihood (weight zero).

    Args:
        key: PRNG key (``jax.random.key``).
        model: a state-space model (:class:`~pinfer.smc.ssm.AbstractStateSpaceModel`).
        observations: ``[T, *model.observation_shape]`` (or a pytree with leading
            axis ``T``); ``observations[t]`` observes the state after ``t + 1``
            transitions.
        num_particles: ``N``, a positive Python int.
        resample_fn: resampling scheme ``(key, log_weights, N) -> [N] int32``.
        ess_threshold: resample when ``ESS / N < ess_threshold``, a fraction in
            ``[0, 1]`` (``0`` never resamples, ``1`` resamples at every step).
        mask: optional ``[T]`` bool, ``False`` where the observation is missing
            (its value is then ignored, NaN included).
        proposal: :data:`bootstrap_proposal` (default), :data:`guided_proposal`
            (needs the model's ``sample_proposal``, ``log_proposal`` and
            ``log_transition``), any :class:`Proposal`, or the name
            ``"bootstrap"`` / ``"guided"``.
        auxiliary: auxiliary particle filter with ``model.log_lookahead``.
        score_correction: unbiased-gradient variant (see the module docstring).
        keep_history: keep ``[T, N, ...]`` particles, log-weights and ancestors.
        summary_fn: optional ``(particles [N, ...], log_weights [N]) -> pytree``,
            evaluated on every step's weighted population (normalised
            log-weights) and stacked in ``result.summaries`` (leading axis ``T``).
        checked: raise an error naming the first step with a NaN log-likelihood
            (see the module docstring; ``failed_step`` records it either way).
        progress: draw a progress bar (host callback each step).

    Returns:
        A :class:`ParticleFilterResult`.

    Raises:
        ValueError / TypeError: before tracing, for observations whose shape
            disagrees with the model (its ``observation_shape``, the shape its
            ``sample_observation`` draws, or a broadcast inside
            ``log_observation``), a bad ``num_particles``, ``ess_threshold``,
            ``mask``, ``summary_fn`` or key, or a proposal the model cannot provide.
        ValueError: with ``checked=True``, after an eager run that met a NaN
            log-likelihood (under ``eqx.filter_jit``: ``eqx.EquinoxRuntimeError``).

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian
        >>> from pinfer.smc import simulate
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> _, ys = simulate(jax.random.key(1), model, 100)
        >>> result = particle_filter(jax.random.key(2), model, ys, 1000)
        >>> result.filtering_mean.shape
        (100, 4)
        >>> spread = lambda x, log_w: jnp.exp(log_w) @ jnp.abs(x).max(axis=1)
        >>> particle_filter(jax.random.key(2), model, ys, 1000,
        ...                 summary_fn=spread).summaries.shape
        (100,)
    """
    where = "particle_filter"
    proposal, num_particles, ess_threshold = _check_inputs(
        key,
        model,
        observations,
        num_particles,
        mask,
        proposal,
        auxiliary,
        ess_threshold,
        resample_fn,
        summary_fn,
    )
    num_steps = jax.tree.leaves(observations)[0].shape[0]
    model = prepared(model)  # parameter-only work once, not at every step
    key_init, key_steps = jax.random.split(key)
    state = init_state(key_init, model, num_particles)
    xs = (jax.random.split(key_steps, num_steps), observations, mask)
    minus_one = jnp.array(-1, jnp.int32)

    def body(carry, x):
        state, failed_step, nan_step = carry
        step_key, y, observed = x
        new_state, info = step(
            step_key,
            state,
            model,
            y,
            observed=True if observed is None else observed,
            proposal=proposal,
            resample_fn=resample_fn,
            ess_threshold=ess_threshold,
            auxiliary=auxiliary,
            score_correction=score_correction,
        )
        log_z = info.log_evidence_increment
        failed_step = jnp.where(
            (failed_step < 0) & ~jnp.isfinite(log_z), state.t, failed_step
        )
        if checked:
            nan_step = jnp.where((nan_step < 0) & jnp.isnan(log_z), state.t, nan_step)
        weights = jnp.exp(new_state.log_weights)
        out = _StepOutput(
            jax.tree.map(lambda p: weighted_sum(weights, p), new_state.particles),
            info.ess,
            info.resampled,
        )
        if keep_history:
            out = out._replace(
                particles=new_state.particles,
                log_weights=new_state.log_weights,
                ancestors=info.ancestors,
            )
        if summary_fn is not None:
            out = out._replace(
                summary=summary_fn(new_state.particles, new_state.log_weights)
            )
        return (new_state, failed_step, nan_step), out

    init = (state, minus_one, minus_one)
    (state, failed_step, nan_step), out = progress_scan(
        body, init, xs, length=num_steps, progress=progress, desc="particle filter"
    )
    log_evidence = state.log_evidence
    if checked:
        log_evidence = raise_at_nan_step(log_evidence, nan_step, where)
    if keep_history:
        particles, log_weights, ancestors = (
            out.particles,
            out.log_weights,
            out.ancestors,
        )
    else:
        particles, log_weights = state.particles, state.log_weights
        ancestors = None
    return ParticleFilterResult(
        log_evidence,
        out.filtering_mean,
        out.ess,
        out.resampled,
        log_weights,
        particles,
        ancestors,
        failed_step,
        out.summary,
    )


def _check_inputs(
    key,
    model,
    observations,
    num_particles,
    mask,
    proposal,
    auxiliary,
    ess_threshold,
    resample_fn,
    summary_fn,
):
    where = "particle_filter"
    check_key(key, where=where)
    num_particles = check_static_int(num_particles, "num_particles", 1, where=where)
    check_model(
        model, where, ("sample_initial", "sample_transition", "log_observation")
    )
    one, num_steps = first_observation(observations, where)
    if mask is not None:
        check_array(
            mask,
            "mask",
            where=where,
            shape=(num_steps,),
            dtype="bool",
            hint="One flag per observation, False where it is missing.",
        )
    proposal = resolve_proposal(proposal, where)
    check_proposal(model, proposal, auxiliary, where)
    ess_threshold = check_fraction(ess_threshold, "ess_threshold", where=where)
    check_callable(resample_fn, "resample_fn", where=where)
    check_callable(
        summary_fn,
        "summary_fn",
        where=where,
        hint="Pass (particles, log_weights) -> pytree of arrays, or None.",
        optional=True,
    )
    particle = jax.eval_shape(lambda: model.sample_initial(key))
    check_observation(model, one, particle, where, stacked=num_steps)
    return proposal, num_particles, ess_threshold
