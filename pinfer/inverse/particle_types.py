"""The data of online particle inverse planning: particles, prior, history.

Plain NamedTuples (pytrees), shared by the model and moves
(:mod:`pinfer.inverse.particle_moves`), the running tables
(:mod:`pinfer.inverse.particle_tables`) and the filter
(:mod:`pinfer.inverse.particle`).
"""

from collections.abc import Callable
from typing import NamedTuple

from pinfer.types import Array, Bool, Float, Int, PRNGKey, Scalar

__all__ = [
    "History",
    "InverseParticles",
    "MoveFn",
    "ParticleInverseInfo",
    "ParticleInverseResult",
    "ParticleInverseState",
    "ParticlePrior",
]


class InverseParticles(NamedTuple):
    """A population of hypotheses; every leaf has a leading particle axis ``N``.

    Attributes:
        goal: ``[N]`` int32 goal index in ``[0, G)``.
        budget: ``[N]`` int32 budget index in ``[0, K)``.
        log_beta: ``[N]`` log rationality.
    """

    goal: Int[Array, " N"]
    budget: Int[Array, " N"]
    log_beta: Float[Array, " N"]


class ParticlePrior(NamedTuple):
    """Prior ``p(g) p(k) Normal(log beta; log_beta_loc, log_beta_scale)``.

    Attributes:
        log_goal: ``[G]`` log-prior over goals (need not be normalised).
        log_budget: ``[K]`` log-prior over budgets (need not be normalised).
        log_beta_loc: mean of ``log beta``.
        log_beta_scale: standard deviation of ``log beta`` (``> 0``).
    """

    log_goal: Float[Array, " G"]
    log_budget: Float[Array, " K"]
    log_beta_loc: Scalar
    log_beta_scale: Scalar


class History(NamedTuple):
    """What a rejuvenation move reads: the observed steps and their running tables.

    The filter builds it from its state at no cost (nothing is gathered or rescored);
    :func:`history_tables` builds it from scratch.

    Attributes:
        q_tables: ``[G, K, S, A]`` Q-values (:func:`goal_q_tables`).
        states: ``[T]`` observed states (entries where ``mask`` is False unused).
        actions: ``[T]`` observed actions.
        mask: ``[T]`` True for steps already observed.
        log_beta_grid: ``[B]`` increasing grid of ``log beta``.
        log_lik_table: ``[G, K, B]`` log-likelihood of the observed steps under each
            (goal, budget) at each grid value of beta.
        log_lik_slope: ``[G, K, B]`` its derivative in ``log beta``.
    """

    q_tables: Float[Array, "G K S A"]
    states: Int[Array, " T"]
    actions: Int[Array, " T"]
    mask: Bool[Array, " T"]
    log_beta_grid: Float[Array, " B"]
    log_lik_table: Float[Array, "G K B"]
    log_lik_slope: Float[Array, "G K B"]


MoveFn = Callable[
    [PRNGKey, InverseParticles, History, ParticlePrior],
    tuple[InverseParticles, Scalar],
]


class ParticleInverseState(NamedTuple):
    """Weighted particles, the history and its running tables.

    Attributes:
        particles: :class:`InverseParticles` with leading axis ``N``.
        log_weights: ``[N]`` normalised log-weights.
        states: ``[T_max]`` observed states (entries ``>= num_observed`` unused).
        actions: ``[T_max]`` observed actions.
        num_observed: number of steps seen so far (int32 scalar).
        log_evidence: ``log p(a_0..a_{t-1} | s_0..s_{t-1})`` estimate; ``-inf``
            from an action no hypothesis allows, NaN from an out-of-range input.
        log_beta_grid: ``[B]`` grid of ``log beta`` of the tables.
        log_lik_table: ``[G, K, B]`` log-likelihood of the observed steps under
            each (goal, budget) at each grid value.
        log_lik_slope: ``[G, K, B]`` its derivative in ``log beta``.
        failed_step: the first step the state could not absorb (an action every
            particle rules out, an out-of-range state or action, or a step past
            ``max_steps``), or -1; from then on the state is held.
    """

    particles: InverseParticles
    log_weights: Float[Array, " N"]
    states: Int[Array, " T"]
    actions: Int[Array, " T"]
    num_observed: Int[Array, ""]
    log_evidence: Scalar
    log_beta_grid: Float[Array, " B"]
    log_lik_table: Float[Array, "G K B"]
    log_lik_slope: Float[Array, "G K B"]
    failed_step: Int[Array, ""]


class ParticleInverseInfo(NamedTuple):
    """Diagnostics of one step.

    Attributes:
        ess: effective sample size after reweighting, before any resampling.
        log_evidence_increment: ``log Z_t``.
        resampled: whether the step resampled and rejuvenated.
        move_rates: ``[len(moves)]`` mean acceptance (or change) rate of each move
            over the repeats; 0 when the step did not rejuvenate.
    """

    ess: Scalar
    log_evidence_increment: Scalar
    resampled: Bool[Array, ""]
    move_rates: Float[Array, " M"]


class ParticleInverseResult(NamedTuple):
    """Per-step posterior estimates of :func:`run_particle_inverse`.

    Attributes:
        goal_posterior: ``[T + 1, G]`` weighted goal counts (row 0: the prior draw).
        budget_posterior: ``[T + 1, K]`` weighted budget counts.
        beta_mean: ``[T + 1]`` posterior mean of beta.
        ess: ``[T + 1]`` ESS after each step's reweighting (``N`` at row 0).
        log_evidence: ``[T + 1]`` log-evidence estimate of the first ``t`` steps.
        resampled: ``[T]`` whether step ``t`` resampled (False on padding).
        final_state: the :class:`ParticleInverseState` after the last step.
        failed_step: the first step that failed, or -1 (see
            :class:`ParticleInverseState`). After an action every particle rules
            out the rows are held and ``log_evidence`` is ``-inf``; after an
            out-of-range state or action (possible only inside ``jit``, where
            values are not checked) every later row is NaN.
    """

    goal_posterior: Float[Array, "T1 G"]
    budget_posterior: Float[Array, "T1 K"]
    beta_mean: Float[Array, " T1"]
    ess: Float[Array, " T1"]
    log_evidence: Float[Array, " T1"]
    resampled: Bool[Array, " T"]
    final_state: ParticleInverseState
    failed_step: Int[Array, ""]
