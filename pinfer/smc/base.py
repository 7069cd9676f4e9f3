"""A generic Feynman-Kac SMC step: (adaptive) resampling, proposal, reweighting.

One step moves a weighted particle population ``(x^i, w^i)`` (normalised weights)
forward, with optional auxiliary (look-ahead) first-stage weights ``eta``::

    v^i     = w^i * eta(x^i)                   # first-stage weights (eta = 1: none)
    if ESS(v) / N < ess_threshold:                    # decided inside jit
        a^j ~ resample_fn(v),  pre^j = (sum_i v^i) / (N * eta(x^{a^j}))
    else:
        a^j = j,               pre^j = w^j
    x'^j    ~ propose_fn(x^{a^j})
    G^j     = log_weight_fn(x'^j, x^{a^j})            # incremental log-weight
    log Z_t = logsumexp(log pre + G)                  # log-evidence increment
    w'^j    = exp(log pre^j + G^j - log Z_t)

``sum_j pre^j`` has expectation 1, so ``Z_t`` is an unbiased increment of the evidence
(Del Moral, 2004; Pitt and Shephard, 1999, for the auxiliary weights; the ESS rule is
from Kong, Liu and Wong, 1994). Shapes are static: both branches of the resampling
decision are valid programs, selected with ``lax.cond`` (a Python-number threshold
``>= 1`` or ``<= 0`` resolves the decision when tracing: always / never resample).

Gradients flow through the particles and the weights but not through the discrete
ancestor indices. With ``score_correction=True`` a resampled particle also carries
the score of its ancestor's weight, ``log v^a - stop_gradient(log v^a)`` (zero in
value), which makes the gradient of ``Z`` unbiased (Scibior and Wood, 2021).

If every weight is zero (``log Z_t = -inf``) or a log-weight is NaN or ``+inf``
(``log Z_t`` NaN: pinfer's one NaN policy treats an invalid log-weight as a broken
model, never as a weight) the new weights are set uniform so that the state stays
finite, and ``log Z_t`` reports the failure.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.types import Array, ArrayTree, Bool, Float, Int, PRNGKey, Scalar
from pinfer.validation import check_callable, check_fraction, check_key, check_type

__all__ = [
    "SMCState",
    "SMCInfo",
    "init",
    "smc_kernel",
    "smc_step",
    "normalize_log_weights",
]


class SMCState(NamedTuple):
    """A weighted particle population.

    Attributes:
        particles: pytree, every leaf with a leading particle axis ``N``.
        log_weights: ``[N]`` normalised log-weights (``logsumexp == 0``).
    """

    particles: ArrayTree
    log_weights: Float[Array, " num_particles"]


class SMCInfo(NamedTuple):
    """Diagnostics of one SMC step.

    Attributes:
        ancestors: ``[N]`` int32 index of each new particle's parent (``arange(N)``
            when the step did not resample).
        log_evidence_increment: ``log Z_t``; ``-inf`` when every weight is zero,
            NaN when a log-weight is NaN or ``+inf``.
        ess: effective sample size of the new weights, in ``[1, N]``.
        resampled: whether the step resampled.
    """

    ancestors: Int[Array, " num_particles"]
    log_evidence_increment: Scalar
    ess: Scalar
    resampled: Bool[Array, ""]


def init(
    particles: ArrayTree, log_weights: Float[Array, " num_particles"] | None = None
) -> SMCState:
    """An :class:`SMCState` with uniform (or the given, normalised) log-weights.

    Args:
        particles: pytree whose leaves have a leading particle axis ``N``.
        log_weights: optional ``[N]`` unnormalised log-weights.

    Returns:
        The state, with log-weights normalised.

    Example:
        >>> state = init(jnp.zeros((100, 2)))
        >>> state.log_weights.shape
        (100,)
    """
    num_particles = jax.tree.leaves(particles)[0].shape[0]
    if log_weights is None:
        dtype = jnp.result_type(float)
        log_weights = jnp.full((num_particles,), -jnp.log(num_particles), dtype)
    log_weights, _ = normalize_log_weights(log_weights)
    return SMCState(particles, log_weights)


def normalize_log_weights(
    log_weights: Float[Array, " num_particles"],
) -> tuple[Float[Array, " num_particles"], Scalar]:
    """``(log_w - logsumexp(log_w), logsumexp(log_w))``; uniform when all are ``-inf``.

    The returned normaliser is ``-inf`` (or NaN) in that case, so the caller sees the
    failure while the weights stay finite.

    Example:
        >>> log_w, log_z = normalize_log_weights(jnp.log(jnp.array([1.0, 3.0])))
    """
    log_z = logsumexp(log_weights)
    uniform = jnp.full_like(log_weights, -jnp.log(log_weights.shape[0]))
    return jnp.where(jnp.isfinite(log_z), log_weights - log_z, uniform), log_z


def _ess(normalised_log_weights: Array) -> Scalar:
    return 1.0 / jnp.sum(jnp.exp(2.0 * normalised_log_weights))


def _take(tree: ArrayTree, indices: Array) -> ArrayTree:
    return jax.tree.map(lambda leaf: leaf[indices], tree)


def smc_step(
    key: PRNGKey,
    state: SMCState,
    propose_fn: Callable[[PRNGKey, ArrayTree], ArrayTree],
    log_weight_fn: Callable[[ArrayTree, ArrayTree], Float[Array, " num_particles"]],
    resample_fn: Callable,
    ess_threshold: float | Scalar = 0.5,
    *,
    log_lookahead_fn: Callable[[ArrayTree], Float[Array, " num_particles"]]
    | None = None,
    score_correction: bool = False,
) -> tuple[SMCState, SMCInfo]:
    """One SMC step: resample if the ESS is low, propose, reweight.

    ``propose_fn``, ``log_weight_fn`` and ``log_lookahead_fn`` act on the whole
    population (every leaf has a leading axis ``N``); build them with ``jax.vmap``
    over a one-particle function.

    Args:
        key: PRNG key.
        state: current population; ``log_weights`` normalised.
        propose_fn: ``(key, particles) -> new particles``; it splits ``key`` per
            particle (``jax.random.split(key, N)`` and ``vmap``) or draws the whole
            population's noise in one call.
        log_weight_fn: ``(new_particles, parents) -> [N]`` incremental log-weights.
        resample_fn: ``(key, log_weights, num_samples) -> [N] int32``, e.g.
            :func:`pinfer.smc.systematic`.
        ess_threshold: resample when ``ESS / N < ess_threshold``, a fraction in
            ``[0, 1]``: the Python numbers ``1`` (always resample) and ``0`` (never)
            are resolved when tracing.
        log_lookahead_fn: optional ``particles -> [N]`` auxiliary log-weights
            ``log eta`` used to choose ancestors (auxiliary particle filter).
        score_correction: keep the score of the resampled weights in the gradient
            (Scibior and Wood, 2021); the forward values are unchanged.

    Returns:
        ``(new_state, info)``; ``info.log_evidence_increment`` is ``log Z_t``.

    Raises:
        TypeError / ValueError: for a bad key, a state that is not an
            :class:`SMCState`, functions that are not callable, or an
            ``ess_threshold`` outside ``[0, 1]`` (checked when concrete; a traced
            one stops the run through ``eqx.error_if``).

    Example:
        >>> from pinfer.smc import systematic
        >>> state = init(jnp.zeros((64, 1)))
        >>> propose = lambda key, x: x + jax.random.normal(key, x.shape)
        >>> log_weight = lambda x, parents: -0.5 * x[:, 0] ** 2
        >>> state, info = smc_step(
        ...     jax.random.key(0), state, propose, log_weight, systematic
        ... )
    """
    where = "smc_step"
    check_key(key, where=where)
    check_type(state, "state", SMCState, where=where, hint="Build it with init().")
    for name, fn in (
        ("propose_fn", propose_fn),
        ("log_weight_fn", log_weight_fn),
        ("resample_fn", resample_fn),
    ):
        check_callable(fn, name, where=where)
    check_callable(log_lookahead_fn, "log_lookahead_fn", where=where, optional=True)
    ess_threshold = check_fraction(ess_threshold, "ess_threshold", where=where)
    return smc_kernel(
        key,
        state,
        propose_fn,
        log_weight_fn,
        resample_fn,
        ess_threshold,
        log_lookahead_fn=log_lookahead_fn,
        score_correction=score_correction,
    )


def smc_kernel(
    key: PRNGKey,
    state: SMCState,
    propose_fn: Callable,
    log_weight_fn: Callable,
    resample_fn: Callable,
    ess_threshold: float | Scalar,
    *,
    log_lookahead_fn: Callable | None = None,
    score_correction: bool = False,
) -> tuple[SMCState, SMCInfo]:
    """:func:`smc_step` without its boundary checks (called at every step)."""
    key_resample, key_propose = jax.random.split(key)
    log_w = state.log_weights
    num_particles = log_w.shape[0]
    log_n = jnp.log(jnp.asarray(num_particles, log_w.dtype))
    if log_lookahead_fn is None:
        log_first = log_w
    else:
        log_first, _ = normalize_log_weights(log_w + log_lookahead_fn(state.particles))

    def resample(_):
        idx = resample_fn(key_resample, log_first, num_particles)
        log_pre = jnp.full_like(log_w, -log_n)
        if log_lookahead_fn is not None:
            # w^a / v^a = sum(v) / eta(x^a): undo the look-ahead in the weights.
            log_pre = log_pre + log_w[idx] - log_first[idx]
        if score_correction:
            score = log_first[idx] - jax.lax.stop_gradient(log_first[idx])
            log_pre = log_pre + score  # exactly zero in value
        return idx.astype(jnp.int32), _take(state.particles, idx), log_pre

    def keep(_):
        return jnp.arange(num_particles, dtype=jnp.int32), state.particles, log_w

    if isinstance(ess_threshold, (int, float)) and ess_threshold >= 1:
        do_resample = jnp.array(True)
        ancestors, parents, log_pre = resample(None)
    elif isinstance(ess_threshold, (int, float)) and ess_threshold <= 0:
        do_resample = jnp.array(False)
        ancestors, parents, log_pre = keep(None)
    else:
        do_resample = _ess(log_first) < ess_threshold * num_particles
        # lax.cond skips the resampling and the gather when the ESS is high; on CPU
        # (N = 1e4, T = 500) it beat computing both branches and selecting.
        ancestors, parents, log_pre = jax.lax.cond(do_resample, resample, keep, None)

    particles = propose_fn(key_propose, parents)
    new_log_w, log_increment = normalize_log_weights(
        log_pre + log_weight_fn(particles, parents)
    )
    # A +inf log-weight is as invalid as a NaN one (the NaN policy).
    log_increment = jnp.where(log_increment == jnp.inf, jnp.nan, log_increment)
    info = SMCInfo(ancestors, log_increment, _ess(new_log_w), do_resample)
    return SMCState(particles, new_log_w), info
