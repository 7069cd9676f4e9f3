"""Streaming particle filter: one observation at a time, and the proposals it uses.

    model = model.prepare()                                # parameter-only work, once
    state = pf_init(key_init, model, num_particles)        # x_0^i ~ mu, w^i = 1/N
    for t, y_t in enumerate(observations):
        state, info = pf_step(key_t, state, model, y_t)    # one smc_step
    state.log_evidence                                      # log Z_hat(y_{0:t})

:func:`pf_step` wraps a model and a :class:`Proposal` into the population-level
functions of :func:`pinfer.smc.base.smc_step`: it vmaps the model's one-particle
methods over the particle axis. A proposal is a pair of one-particle functions::

    bootstrap:  x_t ~ f_t(. | x_{t-1}),        log G = log g_t(y_t | x_t)
    guided:     x_t ~ q_t(. | x_{t-1}, y_t),   log G = log g_t + log f_t - log q_t

(Gordon, Salmond and Smith, 1993; Doucet, Godsill and Andrieu, 2000). With
``auxiliary=True`` ancestors are chosen with the model's ``log_lookahead`` (Pitt and
Shephard, 1999). :func:`pinfer.smc.particle_filter` is a ``lax.scan`` over
:func:`pf_step`.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.smc.base import SMCInfo, SMCState, smc_step
from pinfer.smc.resampling import systematic
from pinfer.types import Array, ArrayTree, Bool, Float, Int, PRNGKey, Scalar

__all__ = [
    "Proposal",
    "bootstrap_proposal",
    "guided_proposal",
    "ParticleFilterState",
    "pf_init",
    "pf_step",
    "resolve_proposal",
]


class Proposal(NamedTuple):
    """A proposal: how to move one particle and weigh the move.

    Attributes:
        sample_fn: ``(key, model, x_prev, y, t) -> x``.
        log_weight_fn: ``(model, x, x_prev, y, t) -> scalar`` incremental log-weight.
        required: model methods the proposal needs (checked before tracing).
    """

    sample_fn: Callable
    log_weight_fn: Callable
    required: tuple[str, ...] = ()


def _bootstrap_sample(key, model, x_prev, y, t):
    return model.sample_transition(key, x_prev, t)


def _bootstrap_log_weight(model, x, x_prev, y, t):
    return model.log_observation(x, y, t)


def _guided_sample(key, model, x_prev, y, t):
    return model.sample_proposal(key, x_prev, y, t)


def _guided_log_weight(model, x, x_prev, y, t):
    return (
        model.log_observation(x, y, t)
        + model.log_transition(x, x_prev, t)
        - model.log_proposal(x, x_prev, y, t)
    )


bootstrap_proposal = Proposal(_bootstrap_sample, _bootstrap_log_weight)
"""Propose from the transition ``f_t``; weight by the likelihood ``g_t``."""

guided_proposal = Proposal(
    _guided_sample,
    _guided_log_weight,
    ("sample_proposal", "log_proposal", "log_transition"),
)
"""Propose from the model's ``sample_proposal``; weight by ``g f / q``."""

_PROPOSALS = {"bootstrap": bootstrap_proposal, "guided": guided_proposal}


def resolve_proposal(proposal: Proposal | str) -> Proposal:
    """Map a proposal name to its :class:`Proposal` (once, before tracing).

    Example:
        >>> resolve_proposal("bootstrap") is bootstrap_proposal
        True
    """
    if isinstance(proposal, str):
        if proposal not in _PROPOSALS:
            raise ValueError(
                f"unknown proposal {proposal!r}; choose one of {sorted(_PROPOSALS)} "
                "or pass a pinfer.smc.Proposal."
            )
        return _PROPOSALS[proposal]
    if not isinstance(proposal, Proposal):
        raise TypeError(
            f"proposal must be a pinfer.smc.Proposal or a name, got {proposal!r}."
        )
    return proposal


class ParticleFilterState(NamedTuple):
    """State of a streaming particle filter.

    Attributes:
        particles: pytree with leading axis ``N``.
        log_weights: ``[N]`` normalised log-weights.
        log_evidence: ``log Z_hat`` of the observations processed so far.
        t: int32 index of the next observation.
    """

    particles: ArrayTree
    log_weights: Float[Array, " num_particles"]
    log_evidence: Scalar
    t: Int[Array, ""]


def pf_init(key: PRNGKey, model: Any, num_particles: int) -> ParticleFilterState:
    """Draw ``N`` initial particles from ``model.sample_initial`` with equal weights.

    Args:
        key: PRNG key.
        model: a state-space model (see :mod:`pinfer.smc.ssm`).
        num_particles: ``N`` (a Python int).

    Returns:
        A :class:`ParticleFilterState` at ``t = 0`` with ``log_evidence = 0``.

    Example:
        >>> state = pf_init(jax.random.key(0), model, 1000)  # doctest: +SKIP
    """
    particles = _sample_initial_batch(model, key, num_particles)
    dtype = jnp.result_type(float)
    log_weights = jnp.full((num_particles,), -np.log(num_particles), dtype)
    return ParticleFilterState(
        particles, log_weights, jnp.zeros((), dtype), jnp.zeros((), jnp.int32)
    )


def pf_step(
    key: PRNGKey,
    state: ParticleFilterState,
    model: Any,
    observation: ArrayTree,
    *,
    observed: bool | Bool[Array, ""] = True,
    proposal: Proposal | str = bootstrap_proposal,
    resample_fn: Callable = systematic,
    ess_threshold: float | Scalar = 0.5,
    auxiliary: bool = False,
    score_correction: bool = False,
) -> tuple[ParticleFilterState, SMCInfo]:
    """Process one observation: the streaming form of :func:`particle_filter`.

    Args:
        key: PRNG key for this step.
        state: from :func:`pf_init` or the previous ``pf_step``.
        model: the state-space model; call ``model.prepare()`` once before the
            first step (:meth:`~pinfer.smc.ssm.AbstractStateSpaceModel.prepare`)
            rather than letting every step redo its parameter-only work.
        observation: ``y_t``, one observation (shape ``model.observation_shape``).
        observed: ``False`` (or a traced False) skips the reweighting: the particles
            move with the transition and the evidence does not change.
        proposal: a :class:`Proposal` (``bootstrap_proposal``, ``guided_proposal``)
            or its name ``"bootstrap"`` / ``"guided"``.
        resample_fn: resampling scheme, e.g. :func:`pinfer.smc.systematic`.
        ess_threshold: resample when ``ESS / N`` falls below it.
        auxiliary: choose ancestors with ``model.log_lookahead`` (auxiliary filter).
        score_correction: see the module docstring (gradients only).

    Returns:
        ``(new_state, info)`` with ``info`` an :class:`~pinfer.smc.base.SMCInfo`.

    Example:
        >>> model = model.prepare()  # doctest: +SKIP
        >>> state = pf_init(key_init, model, 1000)  # doctest: +SKIP
        >>> for y, k in zip(observations, jax.random.split(key_steps, T)):
        ...     state, info = jax.jit(pf_step)(k, state, model, y)  # doctest: +SKIP
    """
    proposal = resolve_proposal(proposal)
    t = state.t
    static_observed = isinstance(observed, bool)
    if static_observed and not observed:
        proposal, auxiliary = Proposal(_bootstrap_sample, _zero_log_weight), False
    elif not static_observed:
        observation = jax.tree.map(
            lambda y: jnp.where(observed, y, jnp.zeros_like(y)), observation
        )

    def sample_one(k, x_prev):
        return proposal.sample_fn(k, model, x_prev, observation, t)

    def weight_one(x, x_prev):
        return proposal.log_weight_fn(model, x, x_prev, observation, t)

    def propose_fn(key, parents):
        def blind():
            return _sample_transition_batch(model, key, parents, t)

        if proposal.sample_fn is _bootstrap_sample:
            return blind()

        def guided():
            keys = jax.random.split(key, state.log_weights.shape[0])
            return jax.vmap(sample_one)(keys, parents)

        if static_observed:
            return guided()
        return jax.lax.cond(observed, guided, blind)

    def log_weight_fn(particles, parents):
        def weigh():
            return jax.vmap(weight_one)(particles, parents)

        if static_observed:
            return weigh()
        zeros = jnp.zeros(state.log_weights.shape, state.log_weights.dtype)
        return jax.lax.cond(
            observed, lambda: weigh().astype(zeros.dtype), lambda: zeros
        )

    lookahead_fn = None
    if auxiliary:

        def lookahead_fn(particles):
            eta = jax.vmap(lambda x: model.log_lookahead(x, observation, t))(particles)
            return eta if static_observed else jnp.where(observed, eta, 0.0)

    smc_state, info = smc_step(
        key,
        SMCState(state.particles, state.log_weights),
        propose_fn,
        log_weight_fn,
        resample_fn,
        ess_threshold,
        log_lookahead_fn=lookahead_fn,
        score_correction=score_correction,
    )
    new_state = ParticleFilterState(
        smc_state.particles,
        smc_state.log_weights,
        state.log_evidence + info.log_evidence_increment,
        t + 1,
    )
    return new_state, info


def _sample_initial_batch(model: Any, key: PRNGKey, num_particles: int) -> ArrayTree:
    batch = getattr(model, "sample_initial_batch", None)
    if batch is not None:
        return batch(key, num_particles)
    return jax.vmap(model.sample_initial)(jax.random.split(key, num_particles))


def _sample_transition_batch(model: Any, key: PRNGKey, parents, t) -> ArrayTree:
    """The model's population hook, or one key per particle and ``vmap``."""
    batch = getattr(model, "sample_transition_batch", None)
    if batch is not None:
        return batch(key, parents, t)
    num_particles = jax.tree.leaves(parents)[0].shape[0]
    keys = jax.random.split(key, num_particles)
    return jax.vmap(lambda k, x: model.sample_transition(k, x, t))(keys, parents)


def _zero_log_weight(model, x, x_prev, y, t):
    return jnp.zeros((), jnp.result_type(float))
