"""Goals from actions and words: speaker models as one more evidence channel.

Zhi-Xuan, Ying, Mansinghka and Tenenbaum (2024), "Inferring the Goals of
Communicating Agents from Actions and Instructions": an agent that acts towards a
goal may also say something ("get the red key"), and an observer inverts a model of
both. Utterances come from a small templated vocabulary whose meaning is a table
``meaning[u, g]`` (truth of utterance ``u`` of goal ``g``, in ``[0, 1]``). Two
speakers, both ``[G, U]`` tables of ``log P(u | g)``:

    literal:    P(u | g) = (1 - eps) * meaning[u, g] / sum_u' meaning[u', g] + eps / U
    listener:   log L0(g | u) = log meaning[u, g] + log prior(g) - log Z(u)
    pragmatic:  P(u | g) = (1 - eps) * softmax_u(alpha * (log L0(g | u) - cost(u)))
                           + eps / U                      (RSA, Frank & Goodman 2012)

Utterances false of ``g`` get probability ``eps / U`` in both speakers (also at
``alpha = 0``, the limit ``alpha -> 0+``; a goal of which nothing is true speaks
uniformly). The evidence channels are additive log-likelihoods on the hypothesis
grid ``h = (g, b, k)`` of :mod:`pinfer.inverse.exact`, flattened goal-major::

    loglik[t, h] = log pi_h(a_t | s_t)                      action_log_likelihoods
                 + spoken[t] * log P(u_t | g(h))            utterance_evidence
    posterior    = filter_log_likelihoods(log prior, loglik)

so an utterance at step ``t`` enters the posterior rows ``t + 1, ...`` together
with the action of that step. Everything is jittable, log space, with ``alpha``,
``eps``, the costs and the meaning table dynamic.
"""

import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.inverse.exact import InverseResult
from pinfer.inverse.filtering import (
    check_log_prior,
    check_steps,
    filter_hypotheses,
    first_step,
    step_log_likelihoods,
)
from pinfer.inverse.utterance_checks import (
    check_epsilon,
    check_log_table,
    check_meaning,
    check_num_hypotheses,
    check_speaker,
    check_utterances,
    gather_utterances,
    utterance_out_of_range,
)
from pinfer.inverse.vocabulary import Vocabulary, templated_vocabulary
from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import check_array, check_finite, check_scalar

__all__ = [
    "Vocabulary",
    "communicative_goal_posterior",
    "literal_listener",
    "literal_speaker",
    "pragmatic_speaker",
    "templated_vocabulary",
    "utterance_evidence",
    "utterance_log_likelihood",
]


def _log_meaning(meaning):
    meaning = jnp.asarray(meaning)
    return jnp.where(
        meaning > 0, jnp.log(jnp.where(meaning > 0, meaning, 1.0)), -jnp.inf
    )


def _normalise_rows(scores):
    """``log_softmax`` over the last axis; a row of ``-inf`` becomes uniform."""
    norm = logsumexp(scores, axis=-1, keepdims=True)
    uniform = -jnp.log(scores.shape[-1]) * jnp.ones_like(scores)
    return jnp.where(jnp.isfinite(norm), scores - norm, uniform)


def _add_noise(log_probs, epsilon):
    """``log((1 - eps) * p + eps / U)``, exact at ``eps = 0``."""
    epsilon = jnp.asarray(epsilon, log_probs.dtype)
    signal = jnp.log1p(-epsilon) + log_probs
    noise = (jnp.log(epsilon) - jnp.log(log_probs.shape[-1])) * jnp.ones_like(signal)
    # logaddexp(-inf, -inf) has a NaN gradient (eps = 0, a false utterance).
    never = jnp.isneginf(signal) & jnp.isneginf(noise)
    mixed = jnp.logaddexp(jnp.where(never, 0.0, signal), jnp.where(never, 0.0, noise))
    return jnp.where(never, -jnp.inf, mixed)


def literal_speaker(
    meaning: Float[Array, "U G"], epsilon: Float[Array, ""] | float = 0.0
) -> Float[Array, "G U"]:
    """``log P(u | g)``: uniform over the utterances true of ``g``, plus noise.

    Args:
        meaning: ``[U, G]`` truth values in ``[0, 1]`` (e.g. ``Vocabulary.meaning``).
        epsilon: probability in ``[0, 1)`` of a uniformly random utterance.

    Returns:
        ``[G, U]`` log-probabilities; each row's ``logsumexp`` is 0.

    Example:
        >>> meaning = jnp.array([[1.0, 0.0], [1.0, 1.0]])  # u0 only true of g0
        >>> jnp.exp(literal_speaker(meaning))
        Array([[0.5, 0.5],
               [0. , 1. ]], dtype=float32)
    """
    meaning = check_meaning(meaning, "literal_speaker")
    check_epsilon(epsilon, "literal_speaker")
    return _add_noise(_normalise_rows(_log_meaning(meaning).T), epsilon)


def literal_listener(
    meaning: Float[Array, "U G"], log_prior: Float[Array, "G"]
) -> Float[Array, "U G"]:
    """``log L0(g | u)``: the prior restricted to the goals ``u`` is true of.

    An utterance true of no goal gets a row of ``-inf``.

    Args:
        meaning: ``[U, G]`` truth values in ``[0, 1]``.
        log_prior: ``[G]`` log-prior over goals (need not be normalised).

    Returns:
        ``[U, G]`` log-probabilities.

    Example:
        >>> meaning = jnp.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
        >>> jnp.exp(literal_listener(meaning, jnp.zeros(3))).round(3)
        Array([[0.5  , 0.   , 0.5  ],
               [0.333, 0.333, 0.333]], dtype=float32)
    """
    meaning = check_meaning(meaning, "literal_listener")
    log_prior = check_log_prior(
        log_prior, "log_prior", meaning.shape[1:], "literal_listener"
    )
    scores = _log_meaning(meaning) + log_prior
    norm = logsumexp(scores, axis=-1, keepdims=True)
    return jnp.where(jnp.isfinite(norm), scores - norm, -jnp.inf)


def pragmatic_speaker(
    meaning: Float[Array, "U G"],
    log_prior: Float[Array, "G"],
    alpha: Float[Array, ""] | float,
    cost: Float[Array, "U"] | None = None,
    epsilon: Float[Array, ""] | float = 0.0,
) -> Float[Array, "G U"]:
    """RSA speaker ``S1(u | g) ∝ exp(alpha * (log L0(g | u) - cost(u)))``.

    Utterances false of ``g`` (``L0(g | u) = 0``) are never chosen except by the
    ``epsilon`` noise; ``alpha -> infinity`` picks the true utterance that best
    identifies ``g`` net of its cost. Differentiable in ``alpha`` and ``cost``.

    Args:
        meaning: ``[U, G]`` truth values in ``[0, 1]``.
        log_prior: ``[G]`` the listener's log-prior over goals.
        alpha: speaker rationality ``>= 0``.
        cost: ``[U]`` utterance costs (None: all 0).
        epsilon: probability in ``[0, 1)`` of a uniformly random utterance.

    Returns:
        ``[G, U]`` log-probabilities; each row's ``logsumexp`` is 0.

    Example:
        >>> meaning = jnp.array([[1.0, 0.0], [1.0, 1.0]])  # u0 names g0, u1 both
        >>> jnp.exp(pragmatic_speaker(meaning, jnp.zeros(2), 1.0)).round(4)
        Array([[0.6667, 0.3333],
               [0.    , 1.    ]], dtype=float32)
    """
    where = "pragmatic_speaker"
    meaning = check_meaning(meaning, where)
    check_scalar(
        alpha,
        "alpha",
        where=where,
        low=0.0,
        hint="alpha is the speaker's rationality; 0 is a literal speaker.",
    )
    check_epsilon(epsilon, where)
    log_prior = check_log_prior(log_prior, "log_prior", meaning.shape[1:], where)
    if cost is None:
        cost = jnp.zeros(meaning.shape[0], jnp.result_type(float))
    cost = check_array(
        cost,
        "cost",
        where=where,
        dtype="number",
        shape=meaning.shape[:1],
        hint="One cost per utterance.",
    )
    check_finite(cost, "cost", where=where)
    log_listener = literal_listener(meaning, log_prior)  # [U, G]
    true = jnp.isfinite(log_listener)
    # Zero the -inf entries before scaling: alpha * -inf has a NaN gradient.
    utility = jnp.where(true, log_listener, 0.0) - jnp.asarray(cost)[:, None]
    scores = jnp.where(true, alpha * utility, -jnp.inf)
    return _add_noise(_normalise_rows(scores.T), epsilon)


def utterance_log_likelihood(
    speaker_log_probs: Float[Array, "G U"],
    utterance: Int[Array, ""] | int,
    spoken: Bool[Array, ""] | bool = True,
) -> Float[Array, "G"]:
    """``log P(u | g)`` of one utterance for every goal (0 when nothing was said).

    Args:
        speaker_log_probs: ``[G, U]`` speaker model (``literal_speaker``, ...).
        utterance: index of the utterance heard.
        spoken: False when no utterance was observed (the row is 0: no evidence).

    Returns:
        ``[G]`` log-likelihoods, to add at the step the utterance was heard.

    Example:
        >>> speaker = literal_speaker(jnp.array([[1.0, 0.0], [1.0, 1.0]]))
        >>> jnp.exp(utterance_log_likelihood(speaker, 0))
        Array([0.5, 0. ], dtype=float32)
    """
    where = "utterance_log_likelihood"
    speaker_log_probs = check_speaker(speaker_log_probs, where)
    utterance, spoken = check_utterances(
        utterance, spoken, speaker_log_probs.shape[1], where, shape=()
    )
    return jnp.where(spoken, gather_utterances(speaker_log_probs, utterance), 0.0)


def utterance_evidence(
    speaker_log_probs: Float[Array, "G U"],
    utterances: Int[Array, "T"],
    spoken: Bool[Array, "T"],
    num_hypotheses: int,
) -> Float[Array, "T H"]:
    """``[T, H]`` log-likelihood table of the utterances on the hypothesis grid.

    Hypotheses are the goal-major flattening of ``[G, B, K]`` (as in
    :func:`pinfer.inverse.infer_goals`), so goal ``g`` covers the
    ``H // G`` consecutive columns ``g * H // G, ...``. Add the table to
    :func:`pinfer.inverse.action_log_likelihoods` and filter the sum.

    Args:
        speaker_log_probs: ``[G, U]`` speaker model.
        utterances: ``[T]`` utterance heard at each step (any index where silent).
        spoken: ``[T]`` True where an utterance was heard.
        num_hypotheses: ``H``, a multiple of ``G`` (static).

    Returns:
        ``[T, H]`` log-likelihoods (0 at silent steps).

    Example:
        >>> speaker = literal_speaker(jnp.array([[1.0, 0.0], [1.0, 1.0]]))
        >>> table = utterance_evidence(speaker, jnp.array([0, 0]),
        ...                            jnp.array([True, False]), 4)
        >>> jnp.exp(table)
        Array([[0.5, 0.5, 0. , 0. ],
               [1. , 1. , 1. , 1. ]], dtype=float32)
    """
    where = "utterance_evidence"
    speaker_log_probs = check_speaker(speaker_log_probs, where)
    num_goals, num_utterances = speaker_log_probs.shape
    num_hypotheses = check_num_hypotheses(num_hypotheses, num_goals, where)
    utterances = check_array(utterances, "utterances", where=where, ndim=1, dtype="int")
    utterances, spoken = check_utterances(
        utterances, spoken, num_utterances, where, shape=utterances.shape
    )
    return _evidence(speaker_log_probs, utterances, spoken, num_hypotheses)


def _evidence(speaker_log_probs, utterances, spoken, num_hypotheses):
    per_step = gather_utterances(speaker_log_probs, utterances)  # [T, G]
    per_step = jnp.where(spoken[:, None], per_step, 0.0)
    num_goals = speaker_log_probs.shape[0]
    return jnp.repeat(per_step, num_hypotheses // num_goals, axis=1)


def communicative_goal_posterior(
    log_policies: Float[Array, "G B K S A"],
    log_prior: Float[Array, "G B K"] | None,
    states: Int[Array, "T"],
    actions: Int[Array, "T"],
    mask: Bool[Array, "T"],
    speaker_log_probs: Float[Array, "G U"],
    utterances: Int[Array, "T"],
    spoken: Bool[Array, "T"],
) -> InverseResult:
    """Posterior over ``(goal, beta, budget)`` from actions and utterances.

    The two channels are added (``action_log_likelihoods + utterance_evidence``)
    and filtered with :func:`pinfer.inverse.filter_log_likelihoods`. Row ``t + 1``
    has seen the actions and utterances of steps ``0..t``. Vmap over episodes.

    Args:
        log_policies: ``[G, B, K, S, A]`` from
            :func:`pinfer.inverse.goal_log_policies` (or any table of that shape).
        log_prior: ``[G, B, K]`` log-prior (need not be normalised); None: uniform.
        states: ``[T]`` state of each step.
        actions: ``[T]`` action of each step.
        mask: ``[T]`` True for observed actions.
        speaker_log_probs: ``[G, U]`` speaker model.
        utterances: ``[T]`` utterance index at each step.
        spoken: ``[T]`` True where an utterance was heard (silent steps add 0).

    Returns:
        ``InverseResult(log_posterior [T + 1, G, B, K], log_goal_posterior
        [T + 1, G], log_evidence [T + 1], log_final_posterior [G, B, K],
        failed_step)``; ``failed_step`` is the first step with a (traced) state,
        action or spoken utterance index out of range (it scores as impossible).

    Example:
        >>> log_pi = jnp.log(jnp.full((2, 1, 1, 1, 2), 0.5))  # actions say nothing
        >>> speaker = literal_speaker(jnp.array([[1.0, 0.0], [1.0, 1.0]]))
        >>> result = communicative_goal_posterior(
        ...     log_pi, None, jnp.zeros(2, int), jnp.zeros(2, int),
        ...     jnp.array([True, True]), speaker, jnp.array([0, 0]),
        ...     jnp.array([True, False]))
        >>> jnp.exp(result.log_goal_posterior)  # "u0" is only true of goal 0
        Array([[0.5, 0.5],
               [1. , 0. ],
               [1. , 0. ]], dtype=float32)
    """
    where = "communicative_goal_posterior"
    log_policies = check_log_table(log_policies, "log_policies", where, ndim=5)
    grid = log_policies.shape[:3]
    speaker_log_probs = check_speaker(speaker_log_probs, where, num_goals=grid[0])
    if log_prior is None:
        log_prior = jnp.zeros(grid, log_policies.dtype)
    log_prior = check_log_prior(log_prior, "log_prior", grid, where)
    num_hypotheses = grid[0] * grid[1] * grid[2]
    flat = log_policies.reshape(num_hypotheses, *log_policies.shape[3:])
    states, actions, mask = check_steps(states, actions, mask, *flat.shape[1:], where)
    utterances, spoken = check_utterances(
        utterances, spoken, speaker_log_probs.shape[1], where, shape=actions.shape
    )
    log_likelihoods, bad = step_log_likelihoods(flat, states, actions, mask)
    log_likelihoods = log_likelihoods.T + _evidence(
        speaker_log_probs, utterances, spoken, num_hypotheses
    )
    bad = bad | utterance_out_of_range(utterances, spoken, speaker_log_probs.shape[1])
    log_posterior, log_evidence = filter_hypotheses(
        jnp.ravel(log_prior), log_likelihoods.T
    )
    log_posterior = log_posterior.T.reshape(-1, *grid)
    return InverseResult(
        log_posterior,
        logsumexp(log_posterior, axis=(2, 3)),
        log_evidence,
        log_posterior[-1],
        first_step(bad),
    )
