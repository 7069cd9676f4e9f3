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

**Failures.** If every weight is zero at step ``k`` the result has ``log_evidence =
-inf`` and ``failed_step = k``; the weights restart uniform so nothing becomes NaN.
A NaN log-likelihood gives a NaN ``log_evidence``; with ``checked=True`` it raises an
error naming the first step where it happened (``eqx.error_if``; costs one flag per
step).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from pinfer.base import check_key
from pinfer.linalg import weighted_sum
from pinfer.progress import progress_scan
from pinfer.smc.resampling import systematic
from pinfer.smc.ssm import implements, prepared
from pinfer.smc.streaming import (
    Proposal,
    bootstrap_proposal,
    pf_init,
    pf_step,
    resolve_proposal,
)
from pinfer.types import Array, ArrayTree, Bool, Float, Int, PRNGKey, Scalar

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
        failed_step: first step whose weights were all zero, or ``-1``.
    """

    log_evidence: Scalar
    filtering_mean: ArrayTree
    ess: Float[Array, " T"]
    resampled: Bool[Array, " T"]
    log_weights: Array
    particles: ArrayTree
    ancestors: Int[Array, "T num_particles"] | None
    failed_step: Int[Array, ""]


class _StepOutput(NamedTuple):
    filtering_mean: ArrayTree
    ess: Array
    resampled: Array
    particles: ArrayTree = None
    log_weights: Array = None
    ancestors: Array = None
    is_nan: Array = None


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
    checked: bool = False,
    progress: bool = False,
) -> ParticleFilterResult:
    """Run a particle filter over ``T`` observations (one ``lax.scan``).

    Jittable as a whole (mark ``num_particles``, ``resample_fn``, ``proposal``,
    ``auxiliary``, ``score_correction``, ``keep_history``, ``checked`` and
    ``progress`` static) and vmappable over keys, observations and model parameters
    (the model's arrays are dynamic leaves). Memory is ``O(N + T)`` unless
    ``keep_history=True`` (``O(N T)``).

    Args:
        key: PRNG key (``jax.random.key``).
        model: a state-space model (:class:`~pinfer.smc.ssm.AbstractStateSpaceModel`).
        observations: ``[T, *model.observation_shape]`` (or a pytree with leading
            axis ``T``); ``observations[t]`` observes the state after ``t + 1``
            transitions.
        num_particles: ``N``, a positive Python int.
        resample_fn: resampling scheme ``(key, log_weights, N) -> [N] int32``.
        ess_threshold: resample when ``ESS / N < ess_threshold`` (``1`` always
            resamples, ``0`` never).
        mask: optional ``[T]`` bool, ``False`` where the observation is missing
            (its value is then ignored, NaN included).
        proposal: :data:`bootstrap_proposal` (default), :data:`guided_proposal`
            (needs the model's ``sample_proposal``, ``log_proposal`` and
            ``log_transition``), any :class:`Proposal`, or the name
            ``"bootstrap"`` / ``"guided"``.
        auxiliary: auxiliary particle filter with ``model.log_lookahead``.
        score_correction: unbiased-gradient variant (see the module docstring).
        keep_history: keep ``[T, N, ...]`` particles, log-weights and ancestors.
        checked: raise an error naming the first step with a NaN log-likelihood.
        progress: draw a progress bar (host callback each step).

    Returns:
        A :class:`ParticleFilterResult`.

    Raises:
        ValueError / TypeError: before tracing, for observations whose shape
            disagrees with the model, a bad ``num_particles``, ``mask`` or key, or
            a proposal the model cannot provide.

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian, simulate
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> _, ys = simulate(jax.random.key(1), model, 100)
        >>> result = particle_filter(jax.random.key(2), model, ys, 1000)
        >>> result.filtering_mean.shape
        (100, 4)
    """
    proposal = _check_inputs(
        key, model, observations, num_particles, mask, proposal, auxiliary
    )
    num_steps = jax.tree.leaves(observations)[0].shape[0]
    model = prepared(model)  # parameter-only work once, not at every step
    key_init, key_steps = jax.random.split(key)
    state = pf_init(key_init, model, num_particles)
    xs = (jax.random.split(key_steps, num_steps), observations, mask)

    def body(carry, x):
        state, failed_step = carry
        step_key, y, observed = x
        new_state, info = pf_step(
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
            (failed_step < 0) & (log_z == -jnp.inf), state.t, failed_step
        )
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
        if checked:
            out = out._replace(is_nan=jnp.isnan(log_z))
        return (new_state, failed_step), out

    init = (state, jnp.array(-1, jnp.int32))
    (state, failed_step), out = progress_scan(
        body, init, xs, length=num_steps, progress=progress, desc="particle filter"
    )
    log_evidence = state.log_evidence
    if checked and num_steps > 0:
        log_evidence = eqx.branched_error_if(
            log_evidence,
            jnp.any(out.is_nan),
            jnp.argmax(out.is_nan),
            [
                f"particle_filter: NaN log-likelihood (incremental log-weight) at step "
                f"{t} (observations[{t}]). Check the model's log_observation / "
                "proposal for that observation and the current parameters."
                for t in range(num_steps)
            ],
        )
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
    )


def _check_inputs(key, model, observations, num_particles, mask, proposal, auxiliary):
    check_key(key)
    if isinstance(num_particles, bool) or not isinstance(
        num_particles, (int, np.integer)
    ):
        raise TypeError(
            f"num_particles must be a positive Python int, got {num_particles!r} "
            f"({type(num_particles).__name__}). Under jax.jit, mark it static: "
            'jax.jit(particle_filter, static_argnames=("num_particles", ...)).'
        )
    if num_particles <= 0:
        raise ValueError(
            f"num_particles must be positive, got {num_particles}; use e.g. 1000."
        )
    for name in ("sample_initial", "sample_transition", "log_observation"):
        if not callable(getattr(model, name, None)):
            raise TypeError(
                f"model of type {type(model).__name__} has no `{name}` method; a "
                "model must implement pinfer.smc.AbstractStateSpaceModel."
            )
    leaves = jax.tree.leaves(observations)
    if not leaves or any(jnp.ndim(leaf) == 0 for leaf in leaves):
        raise ValueError(
            "observations must be an array (or pytree of arrays) with a leading time "
            f"axis T, got {observations!r}."
        )
    num_steps = leaves[0].shape[0]
    if any(leaf.shape[0] != num_steps for leaf in leaves):
        raise ValueError(
            "every leaf of observations needs the same leading time axis, got shapes "
            f"{[leaf.shape for leaf in leaves]}."
        )
    expected = getattr(model, "observation_shape", None)
    if expected is not None and len(leaves) == 1:
        seen = tuple(leaves[0].shape[1:])
        if seen != tuple(expected):
            raise ValueError(
                f"observations have shape {tuple(leaves[0].shape)}, i.e. one "
                f"observation of shape {seen}, but {type(model).__name__} expects one "
                f"observation of shape {tuple(expected)} (model.observation_shape). "
                f"Pass observations of shape ({num_steps}, "
                f"{', '.join(map(str, expected))}) with time on the first axis"
                + (
                    "; for scalar observations add a trailing axis: y[:, None]."
                    if seen == () and tuple(expected) == (1,)
                    else "."
                )
            )
    if mask is not None and (
        jnp.shape(mask) != (num_steps,) or jnp.result_type(mask) != jnp.bool_
    ):
        raise ValueError(
            f"mask must be a bool array of shape ({num_steps},) (one flag per "
            f"observation, False = missing), got shape {jnp.shape(mask)} and dtype "
            f"{jnp.result_type(mask)}."
        )
    proposal = resolve_proposal(proposal)
    needed = proposal.required + (("log_lookahead",) if auxiliary else ())
    missing = [name for name in needed if not implements(model, name)]
    if missing:
        raise ValueError(
            f"{type(model).__name__} does not implement {missing}, needed by the "
            "chosen proposal / auxiliary=True. Implement them or use the bootstrap "
            "proposal with auxiliary=False."
        )
    return proposal
