"""Bayesian inverse planning: what an agent wants, how rational it is, how much it
plans, inferred from what it does.

Exact enumeration over goals x rationality x budget with filtering after every step
(:func:`infer_goals`, :func:`goal_posterior`), boundary checks that name impossible
steps (:func:`check_trajectories`), and reward-weight inference with numpyro's NUTS
(:func:`infer_reward_weights`).
"""

from pinfer.inverse.checks import check_trajectories
from pinfer.inverse.exact import (
    FilterResult,
    InverseResult,
    action_log_likelihoods,
    filter_log_likelihoods,
    goal_posterior,
    infer_goals,
)
from pinfer.inverse.hypotheses import goal_log_policies
from pinfer.inverse.reward import (
    RewardPosterior,
    infer_reward_weights,
    linear_reward_model,
    reward_log_likelihood,
)

__all__ = [
    "FilterResult",
    "InverseResult",
    "RewardPosterior",
    "action_log_likelihoods",
    "check_trajectories",
    "filter_log_likelihoods",
    "goal_log_policies",
    "goal_posterior",
    "infer_goals",
    "infer_reward_weights",
    "linear_reward_model",
    "reward_log_likelihood",
]
