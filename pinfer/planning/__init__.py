"""Planning over tabular MDPs: value iteration, soft value iteration, Boltzmann
policies, budget-limited planners, and agent goals / reward weights on top of a
world's MDP. Deterministic worlds (``TabularMDP.successors``) plan by gathers instead
of dense expectations."""

from pinfer.planning.budget import BudgetResult, budget_limited_planning
from pinfer.planning.expectation import expected_next
from pinfer.planning.goals import (
    arrival_features,
    goal_reward,
    linear_reward,
    multi_goal_reward,
    with_reward,
)
from pinfer.planning.mdp import TabularMDP, validate_mdp
from pinfer.planning.soft import (
    boltzmann_policy,
    greedy_policy,
    soft_value,
    soft_value_iteration,
)
from pinfer.planning.value_iteration import (
    ConvergedVIResult,
    VIResult,
    bellman_q,
    finite_horizon_value_iteration,
    max_value,
    value_iteration,
    value_iteration_until_converged,
)

__all__ = [
    "BudgetResult",
    "ConvergedVIResult",
    "TabularMDP",
    "VIResult",
    "arrival_features",
    "bellman_q",
    "boltzmann_policy",
    "budget_limited_planning",
    "expected_next",
    "finite_horizon_value_iteration",
    "goal_reward",
    "greedy_policy",
    "linear_reward",
    "max_value",
    "multi_goal_reward",
    "soft_value",
    "soft_value_iteration",
    "validate_mdp",
    "value_iteration",
    "value_iteration_until_converged",
    "with_reward",
]
