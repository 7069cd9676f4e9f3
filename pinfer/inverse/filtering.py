"""Filtering observed steps through a table of hypotheses: the exact posterior.

Every hypothesis ``h`` fixes a log-policy ``log pi_h [S, A]``, so the likelihood of a
trajectory is a lookup, and the posterior after every step is a cumulative sum:

    loglik[t, h]        = log pi_h(a_t | s_t)           (0 on padded steps)
    log_joint[t, h]     = log prior(h) + sum_{tau < t} loglik[tau, h]   # prefix sum
    log_evidence[t]     = logsumexp_h log_joint[t, h]
    log_posterior[t, h] = log_joint[t, h] - log_evidence[t]

Row ``t`` is the belief after ``t`` observed steps (row 0 is the prior). The prefix
sum is a parallel scan (:func:`pinfer.linalg.cumsum`; XLA lowers ``jnp.cumsum`` to a
slow reduce-window on CPU). Internally the hypothesis axis comes first, so that under
``vmap`` the normalising ``logsumexp`` reduces over a major axis.

Impossible observations: a step whose probability is zero under every hypothesis
makes the evidence ``-inf`` from that step on. The posterior is then not defined by
Bayes' rule; pinfer keeps it at the last posterior with finite evidence (the belief
just before the impossible step), so nothing is ever NaN.

Bad values: concrete inputs are checked before tracing (an index outside the table,
a NaN log-likelihood or log-prior raises, naming the argument, the step and the
value). Traced inputs cannot be checked; an index outside the table then scores
``-inf`` (an impossible step) and ``failed_step`` in the result says where.
"""

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from pinfer.linalg import cumsum
from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import (
    check_array,
    check_finite,
    check_indices,
    check_range,
    concrete,
)

__all__ = [
    "FilterResult",
    "action_log_likelihoods",
    "filter_log_likelihoods",
    "goal_posterior",
]


class FilterResult(NamedTuple):
    """Posterior over a flat list of hypotheses after every step.

    Attributes:
        log_posterior: ``[T + 1, H]``; row ``t`` is the log-posterior after ``t``
            steps (row 0 the normalised prior). Each row's ``logsumexp`` is 0.
        log_evidence: ``[T + 1]``; ``log p(observations of steps < t)``, 0 at
            ``t = 0``, ``-inf`` from the first impossible step on (NaN from a NaN
            log-likelihood on).
        failed_step: int32 scalar, ``-1`` when every input was valid, else the
            first step with an index outside the table (:func:`goal_posterior`) or
            a NaN / ``+inf`` log-likelihood (:func:`filter_log_likelihoods`); only
            set for traced inputs (concrete ones raise instead).
    """

    log_posterior: Float[Array, "T1 H"]
    log_evidence: Float[Array, "T1"]
    failed_step: Int[Array, ""]


def first_step(bad: Bool[Array, "T"]) -> Int[Array, ""]:
    """The first True entry of ``bad``, or -1 (int32)."""
    return jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)


def out_of_range(indices: Array, size: int) -> Bool[Array, "..."]:
    return (indices < 0) | (indices >= size)


def check_log_prior(log_prior, name: str, shape, where: str) -> Array:
    """Shape and dtype always; values (finite or -inf, not all -inf) if concrete."""
    hint = "Pass log-prior weights (need not be normalised; -inf excludes one)."
    log_prior = check_array(
        log_prior, name, where=where, shape=shape, dtype="float", hint=hint
    )
    check_finite(log_prior, name, where=where, allow_neg_inf=True, hint=hint)
    values = concrete(log_prior)
    if values is not None and values.size and np.all(np.isneginf(values)):
        raise ValueError(
            f"{where}: `{name}` must give some hypothesis positive weight, got -inf "
            "everywhere. Use zeros for a uniform prior."
        )
    return log_prior


def check_log_table(
    table, name: str, where: str, shape=None, ndim=None, hint: str = ""
) -> Array:
    """A table of log-probabilities: float always; finite or -inf and <= 0 when
    concrete."""
    table = check_array(
        table, name, where=where, dtype="float", ndim=ndim, shape=shape, hint=hint
    )
    check_finite(table, name, where=where, allow_neg_inf=True)
    check_range(table, name, where=where, high=0.0, hint="It holds log-probabilities.")
    return table


def check_steps(states, actions, mask, num_states, num_actions, where: str):
    """Shapes and dtypes of one trajectory's ``states [T]``, ``actions [T]``,
    ``mask [T]`` (always) and their index ranges (when concrete)."""
    actions = check_array(actions, "actions", where=where, ndim=1, dtype="int")
    steps = actions.shape[0]
    states = check_array(states, "states", where=where, shape=(steps,), dtype="int")
    mask = check_array(mask, "mask", where=where, shape=(steps,), dtype="bool")
    axes = ("step",)
    check_indices(
        states, "states", num_states, where=where, mask=mask, axes=axes, what="state"
    )
    check_indices(
        actions,
        "actions",
        num_actions,
        where=where,
        mask=mask,
        axes=axes,
        what="action",
    )
    return states, actions, mask


def step_log_likelihoods(log_policies, states, actions, mask):
    """``[H, T]`` (hypothesis-major, the layout the filter works in), and ``[T]``
    True where an observed step's index is outside the table (it scores -inf)."""
    num_states, num_actions = log_policies.shape[-2:]
    values = log_policies.at[:, states, actions].get(
        mode="fill", fill_value=-jnp.inf, wrap_negative_indices=False
    )
    bad = mask & (out_of_range(states, num_states) | out_of_range(actions, num_actions))
    return jnp.where(mask, values, 0.0), bad


def action_log_likelihoods(
    log_policies: Float[Array, "H S A"],
    states: Int[Array, "T"],
    actions: Int[Array, "T"],
    mask: Bool[Array, "T"],
) -> Float[Array, "T H"]:
    """``log pi_h(a_t | s_t)`` for every step and hypothesis, 0 on padded steps.

    Concrete states and actions outside the table raise; traced ones score
    ``-inf`` (an impossible step; :func:`goal_posterior` reports where).

    Args:
        log_policies: ``[H, S, A]`` log-policy of each hypothesis.
        states: ``[T]`` state of each step (padded entries may hold anything).
        actions: ``[T]`` action taken at each step.
        mask: ``[T]`` True for observed steps, False for padding.

    Returns:
        ``[T, H]`` log-likelihoods; add other evidence channels to it and pass it
        to :func:`filter_log_likelihoods`.

    Example:
        >>> log_pi = jnp.log(jnp.array([[[0.9, 0.1]], [[0.5, 0.5]]]))  # H=2, S=1
        >>> jnp.exp(action_log_likelihoods(log_pi, jnp.array([0, 0]),
        ...                                jnp.array([0, 1]), jnp.array([True, False])))
        Array([[0.9, 0.5],
               [1. , 1. ]], dtype=float32)
    """
    where = "action_log_likelihoods"
    log_policies = check_log_table(log_policies, "log_policies", where, ndim=3)
    states, actions, mask = check_steps(
        states, actions, mask, *log_policies.shape[1:], where
    )
    return step_log_likelihoods(log_policies, states, actions, mask)[0].T


def filter_hypotheses(log_prior, log_likelihoods):
    """``[H], [H, T] -> (log_posterior [H, T + 1], log_evidence [T + 1])``."""
    norm = logsumexp(log_prior)
    # A NaN prior stays NaN (never a plausible posterior); all -inf stays -inf.
    log_prior = jnp.where(jnp.isneginf(norm), -jnp.inf, log_prior - norm)
    cumulative = cumsum(log_likelihoods, axis=1)
    start = jnp.zeros_like(cumulative[:, :1])
    log_joint = log_prior[:, None] + jnp.concatenate([start, cumulative], axis=1)
    log_evidence = logsumexp(log_joint, axis=0)
    finite = jnp.isfinite(log_evidence)
    # -inf - (-inf) would be NaN: subtract only finite evidence.
    log_posterior = log_joint - jnp.where(finite, log_evidence, 0.0)
    # Once all hypotheses are impossible they stay so: the finite rows are a
    # prefix, and every later row holds the last finite one (a masked sum, which
    # is cheaper under vmap than a gather).
    last = jnp.sum(finite) - 1
    is_last = jnp.arange(log_evidence.shape[0]) == last
    held = jnp.sum(jnp.where(is_last, log_posterior, 0.0), axis=1, keepdims=True)
    never = jnp.where(jnp.isnan(log_prior), jnp.nan, -jnp.inf)[:, None]
    held = jnp.where(last >= 0, held, never)
    return jnp.where(finite, log_posterior, held), log_evidence


def filter_log_likelihoods(
    log_prior: Float[Array, "H"], log_likelihoods: Float[Array, "T H"]
) -> FilterResult:
    """The posterior after every step from per-step log-likelihoods (a cumsum).

    ``log_prior`` need not be normalised (``-inf`` excludes a hypothesis). Once
    every hypothesis has probability zero the evidence is ``-inf`` and the
    posterior stays at the last row with finite evidence (see the module docstring).
    Concrete NaN or ``+inf`` entries raise; traced ones set ``failed_step``.

    Args:
        log_prior: ``[H]`` log-prior weights.
        log_likelihoods: ``[T, H]`` log-likelihood of each step under each
            hypothesis (already 0 on padded steps; ``-inf`` for impossible).

    Returns:
        ``FilterResult(log_posterior [T + 1, H], log_evidence [T + 1],
        failed_step)``.

    Example:
        >>> result = filter_log_likelihoods(
        ...     jnp.zeros(2), jnp.log(jnp.array([[0.9, 0.3], [0.0, 0.0]])))
        >>> jnp.round(100 * jnp.exp(result.log_posterior))  # step 1 keeps row 1
        Array([[50., 50.],
               [75., 25.],
               [75., 25.]], dtype=float32)
        >>> result.log_evidence[2], result.failed_step
        (Array(-inf, dtype=float32), Array(-1, dtype=int32))
    """
    where = "filter_log_likelihoods"
    log_likelihoods = check_array(
        log_likelihoods, "log_likelihoods", where=where, ndim=2, dtype="float"
    )
    log_prior = check_log_prior(
        log_prior, "log_prior", (log_likelihoods.shape[1],), where
    )
    check_finite(
        log_likelihoods,
        "log_likelihoods",
        where=where,
        allow_neg_inf=True,
        axes=("step", "hypothesis"),
    )
    invalid = jnp.any(jnp.isnan(log_likelihoods) | (log_likelihoods == jnp.inf), 1)
    log_posterior, log_evidence = filter_hypotheses(log_prior, log_likelihoods.T)
    return FilterResult(log_posterior.T, log_evidence, first_step(invalid))


def goal_posterior(
    log_policies: Float[Array, "H S A"],
    log_prior: Float[Array, "H"],
    states: Int[Array, "T"],
    actions: Int[Array, "T"],
    mask: Bool[Array, "T"],
) -> FilterResult:
    """Filter a trajectory's state-action steps through a table of log-policies.

    Args:
        log_policies: ``[H, S, A]`` log-policy of each hypothesis (any agent whose
            action probabilities depend on the state only: Boltzmann, greedy with
            ``-inf`` entries, lapse mixtures).
        log_prior: ``[H]`` log-prior weights (need not be normalised).
        states: ``[T]`` state of each step.
        actions: ``[T]`` action of each step.
        mask: ``[T]`` True for observed steps, False for padding.

    Returns:
        ``FilterResult(log_posterior [T + 1, H], log_evidence [T + 1],
        failed_step)``; ``failed_step`` is the first step with a (traced) index
        outside the table, which scores as impossible.

    Example:
        >>> log_pi = jnp.log(jnp.array([[[0.8, 0.2]], [[0.2, 0.8]]]))
        >>> result = goal_posterior(log_pi, jnp.zeros(2), jnp.zeros(2, int),
        ...                         jnp.array([0, 0]), jnp.array([True, True]))
        >>> jnp.round(100 * jnp.exp(result.log_posterior[:, 0]))  # 16 / 17 = 94 %
        Array([50., 80., 94.], dtype=float32)
    """
    where = "goal_posterior"
    log_policies = check_log_table(log_policies, "log_policies", where, ndim=3)
    log_prior = check_log_prior(log_prior, "log_prior", log_policies.shape[:1], where)
    states, actions, mask = check_steps(
        states, actions, mask, *log_policies.shape[1:], where
    )
    log_likelihoods, bad = step_log_likelihoods(log_policies, states, actions, mask)
    log_posterior, log_evidence = filter_hypotheses(log_prior, log_likelihoods)
    return FilterResult(log_posterior.T, log_evidence, first_step(bad))
