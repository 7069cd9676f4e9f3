"""Bayesian inverse planning: what an agent wants, how rational it is, how much it
plans, inferred from what it does.

Exact enumeration over goals x rationality x budget with filtering after every step
(:func:`infer_goals`, :func:`goal_posterior`), boundary checks that name impossible
steps (:func:`check_trajectories`), and reward-weight inference with numpyro's NUTS
(:func:`infer_reward_weights`); utterances are a second evidence channel through
literal and RSA speaker models (:func:`communicative_goal_posterior`).
Online particle inference over goals, budgets and continuous rationality, with
resample-move rejuvenation, is :func:`run_particle_inverse`.
"""

from pinfer.inverse.checks import IndistinguishableHypothesesWarning, check_trajectories
from pinfer.inverse.exact import (
    FilterResult,
    InverseResult,
    action_log_likelihoods,
    filter_log_likelihoods,
    goal_posterior,
    infer_goals,
)
from pinfer.inverse.hypotheses import goal_log_policies
from pinfer.inverse.particle import (
    ParticleInverseInfo,
    ParticleInverseResult,
    ParticleInverseState,
    particle_inverse_init,
    particle_inverse_step,
    particle_posterior_samples,
    run_particle_inverse,
)
from pinfer.inverse.particle_moves import (
    History,
    InverseParticles,
    ParticlePrior,
    gibbs_goal_budget_move,
    goal_q_tables,
    history_tables,
    log_beta_rwm_move,
    uniform_prior,
)
from pinfer.inverse.reward import (
    RewardPosterior,
    infer_reward_weights,
    linear_reward_model,
    reward_log_likelihood,
)
from pinfer.inverse.utterances import (
    Vocabulary,
    communicative_goal_posterior,
    literal_listener,
    literal_speaker,
    pragmatic_speaker,
    templated_vocabulary,
    utterance_evidence,
    utterance_log_likelihood,
)

__all__ = [
    "FilterResult",
    "History",
    "IndistinguishableHypothesesWarning",
    "InverseParticles",
    "InverseResult",
    "ParticleInverseInfo",
    "ParticleInverseResult",
    "ParticleInverseState",
    "ParticlePrior",
    "RewardPosterior",
    "Vocabulary",
    "action_log_likelihoods",
    "check_trajectories",
    "communicative_goal_posterior",
    "filter_log_likelihoods",
    "gibbs_goal_budget_move",
    "goal_log_policies",
    "goal_posterior",
    "goal_q_tables",
    "history_tables",
    "infer_goals",
    "infer_reward_weights",
    "linear_reward_model",
    "log_beta_rwm_move",
    "particle_inverse_init",
    "particle_inverse_step",
    "particle_posterior_samples",
    "literal_listener",
    "literal_speaker",
    "pragmatic_speaker",
    "reward_log_likelihood",
    "run_particle_inverse",
    "templated_vocabulary",
    "uniform_prior",
    "utterance_evidence",
    "utterance_log_likelihood",
]
