"""Agents: the ``init`` / ``act`` / ``update`` / ``log_action_prob`` contract, the
rollout driver (with an optional per-step ``summary_fn`` that records agent and
environment diagnostics online), and the likelihood of observed (padded, masked)
trajectories.

Agents hold only static structure; goals, reward weights, rationality ``beta``,
lapse rate, budget and the world model they plan in are ``params`` (vmap, grad, fit).
"""

from pinfer.agents.base import (
    AbstractAgent,
    AbstractPolicyAgent,
    AgentInfo,
    Trajectory,
)
from pinfer.agents.lapse import LapseAgent, LapseParams, RandomAgent
from pinfer.agents.loop import step_log_likelihoods, trajectory_log_likelihood
from pinfer.agents.rewards import (
    AbstractReward,
    GoalValues,
    LinearReward,
    StateGoal,
    WorldReward,
)
from pinfer.agents.rollouts import RolloutResult, RolloutStep, rollout
from pinfer.agents.tabular import (
    BoltzmannAgent,
    BudgetAgent,
    BudgetParams,
    BudgetState,
    PlannerParams,
    PolicyState,
)
from pinfer.agents.tabular_env import (
    TabularEnv,
    TabularEnvParams,
    TabularEnvState,
    make_tabular_env,
)
from pinfer.agents.trajectories import (
    ImpossibleStepError,
    check_trajectories,
    first_impossible_step,
    first_impossible_transition,
    make_trajectory,
    pad_trajectories,
)

__all__ = [
    "AbstractAgent",
    "AbstractPolicyAgent",
    "AbstractReward",
    "AgentInfo",
    "BoltzmannAgent",
    "BudgetAgent",
    "BudgetParams",
    "BudgetState",
    "GoalValues",
    "ImpossibleStepError",
    "LapseAgent",
    "LapseParams",
    "LinearReward",
    "PlannerParams",
    "PolicyState",
    "RandomAgent",
    "RolloutResult",
    "RolloutStep",
    "StateGoal",
    "TabularEnv",
    "TabularEnvParams",
    "TabularEnvState",
    "Trajectory",
    "WorldReward",
    "check_trajectories",
    "first_impossible_step",
    "first_impossible_transition",
    "make_tabular_env",
    "make_trajectory",
    "pad_trajectories",
    "rollout",
    "step_log_likelihoods",
    "trajectory_log_likelihood",
]
