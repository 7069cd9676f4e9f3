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

from pinfer.smc._checks import (
    check_model,
    check_observation,
    implements_or_has,
)
from pinfer.smc.base import SMCInfo, SMCState, smc_kernel
from pinfer.smc.resampling import systematic
from pinfer.types import Array, ArrayTree, Bool, Float, Int, PRNGKey, Scalar
from pinfer.validation import (
    check_array,
    check_callable,
    check_fraction,
    check_key,
    check_static_int,
    check_type,
)

__all__ = [
    "Proposal",
    "bootstrap_proposal",
    "guided_proposal",
    "ParticleFilterState",
    "pf_init",
    "pf_step",
    "resolve_proposal",
    "check_proposal",
    "init_state",
    "step",
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


def resolve_proposal(proposal: Proposal | str, where: str = "pf_step") -> Proposal:
    """Map a proposal name to its :class:`Proposal` (once, before tracing).

    Example:
        >>> resolve_proposal("bootstrap") is bootstrap_proposal
        True
    """
    if isinstance(proposal, str):
        if proposal not in _PROPOSALS:
            raise ValueError(
                f"{where}: `proposal` must be one of {sorted(_PROPOSALS)} or a "
                f"pinfer.smc.Proposal, got {proposal!r}."
            )
        return _PROPOSALS[proposal]
    if not isinstance(proposal, Proposal):
        raise TypeError(
            f"{where}: `proposal` must be a pinfer.smc.Proposal or one of "
            f"{sorted(_PROPOSALS)}, got {proposal!r}."
        )
    return proposal


_REQUIRED = ("sample_initial", "sample_transition", "log_observation")
_STATE_HINT = "Start from pf_init(key, model, num_particles)."


def check_proposal(model: Any, proposal: Proposal, auxiliary: bool, where: str):
    """Raise when the model lacks a method the proposal or ``auxiliary`` needs."""
    needed = proposal.required + (("log_lookahead",) if auxiliary else ())
    missing = [name for name in needed if not implements_or_has(model, name)]
    if missing:
        raise ValueError(
            f"{where}: {type(model).__name__} does not implement {missing}, needed by "
            "the chosen `proposal` / `auxiliary=True`. Implement them or use the "
            "bootstrap proposal with auxiliary=False."
        )


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

    Raises:
        TypeError / ValueError: for a key that is not a PRNG key, a
            ``num_particles`` that is not a positive int, or a model without the
            methods of :class:`~pinfer.smc.ssm.AbstractStateSpaceModel`.

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> state = pf_init(jax.random.key(1), model, 1000)
        >>> state.particles.shape, int(state.t)
        ((1000, 4), 0)
    """
    check_key(key, where="pf_init")
    num_particles = check_static_int(num_particles, "num_particles", 1, where="pf_init")
    check_model(model, "pf_init", _REQUIRED)
    return init_state(key, model, num_particles)


def init_state(key: PRNGKey, model: Any, num_particles: int) -> ParticleFilterState:
    """:func:`pf_init` without its checks (the drivers check once)."""
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
        ess_threshold: resample when ``ESS / N < ess_threshold``, a fraction in
            ``[0, 1]`` (``0`` never resamples, ``1`` at every step).
        auxiliary: choose ancestors with ``model.log_lookahead`` (auxiliary filter).
        score_correction: see the module docstring (gradients only).

    Returns:
        ``(new_state, info)`` with ``info`` an :class:`~pinfer.smc.base.SMCInfo`;
        ``info.log_evidence_increment`` is NaN after a NaN (or ``+inf``)
        log-likelihood and ``-inf`` when every weight is zero (see
        :func:`~pinfer.smc.particle_filter`).

    Raises:
        TypeError / ValueError: before tracing, for a bad key, a state that is not
            a :class:`ParticleFilterState`, an observation that does not fit the
            model, an ``ess_threshold`` outside ``[0, 1]``, an ``observed`` that is
            not a bool scalar, or a proposal the model cannot provide.

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian
        >>> from pinfer.smc import simulate
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2).prepare()
        >>> _, observations = simulate(jax.random.key(1), model, 5)
        >>> state = pf_init(jax.random.key(2), model, 1000)
        >>> step_fn = eqx.filter_jit(pf_step)  # compiled once, reused every step
        >>> for key, y in zip(jax.random.split(jax.random.key(3), 5), observations):
        ...     state, info = step_fn(key, state, model, y)
        >>> int(state.t), bool(jnp.isfinite(state.log_evidence))
        (5, True)
    """
    where = "pf_step"
    check_key(key, where=where)
    check_type(state, "state", ParticleFilterState, where=where, hint=_STATE_HINT)
    check_model(model, where, _REQUIRED)
    proposal = resolve_proposal(proposal, where)
    check_proposal(model, proposal, auxiliary, where)
    if not isinstance(observed, bool):
        check_array(observed, "observed", where=where, ndim=0, dtype="bool")
    ess_threshold = check_fraction(ess_threshold, "ess_threshold", where=where)
    check_callable(resample_fn, "resample_fn", where=where)
    particle = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(jnp.shape(leaf)[1:], jnp.result_type(leaf)),
        state.particles,
    )
    one = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(jnp.shape(leaf), jnp.result_type(leaf)),
        observation,
    )
    check_observation(model, one, particle, where)
    return step(
        key,
        state,
        model,
        observation,
        observed=observed,
        proposal=proposal,
        resample_fn=resample_fn,
        ess_threshold=ess_threshold,
        auxiliary=auxiliary,
        score_correction=score_correction,
    )


def step(
    key: PRNGKey,
    state: ParticleFilterState,
    model: Any,
    observation: ArrayTree,
    *,
    observed: bool | Bool[Array, ""],
    proposal: Proposal,
    resample_fn: Callable,
    ess_threshold: float | Scalar,
    auxiliary: bool,
    score_correction: bool,
) -> tuple[ParticleFilterState, SMCInfo]:
    """:func:`pf_step` without its checks (the filter's scan calls it per step)."""
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

    smc_state, info = smc_kernel(
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
