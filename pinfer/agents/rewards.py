"""What a tabular agent wants: goals and reward weights as agent parameters.

The world (an environment's ``tabular_mdp(params)``) says how states change; a reward
specification turns it into the MDP the agent plans in. Each specification is a
pytree of dynamic leaves with one method, ``apply(world) -> TabularMDP``:

    WorldReward()                           plan in the world's own reward
    StateGoal(goal_state, value, cost)      one terminal goal state (goal_reward)
    GoalValues(goal_values, is_goal, cost)  several goal states (multi_goal_reward)
    LinearReward(features, weights)         world reward + features @ weights

Because the specification is part of the agent's ``params``, goals, goal values,
step costs and reward weights can be vmapped (a stack of goal hypotheses, as in
Baker, Saxe and Tenenbaum, 2009, "Action understanding as inverse planning"),
differentiated and fitted like ``beta``. ``step_cost`` is a positive cost charged for
every action taken from a non-terminal state (see :mod:`pinfer.planning.goals`).
"""

import abc

import equinox as eqx
import jax.numpy as jnp

from pinfer.planning import (
    TabularMDP,
    goal_reward,
    linear_reward,
    multi_goal_reward,
    with_reward,
)
from pinfer.types import Array, Bool, Float, Int

__all__ = [
    "AbstractReward",
    "GoalValues",
    "LinearReward",
    "StateGoal",
    "WorldReward",
]


class AbstractReward(eqx.Module):
    """A reward specification: ``apply(world)`` is the MDP the agent plans in.

    Example:
        >>> world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                    jnp.zeros(2, bool))
        >>> isinstance(WorldReward(), AbstractReward)
        True
    """

    @abc.abstractmethod
    def apply(self, world: TabularMDP) -> TabularMDP:
        """The agent's MDP: ``world`` with this reward (and its goals terminal)."""


class WorldReward(AbstractReward):
    """Plan in the world's own reward (no goals added).

    Example:
        >>> world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.ones((2, 1)),
        ...                    jnp.zeros(2, bool))
        >>> WorldReward().apply(world) is world
        True
    """

    def apply(self, world: TabularMDP) -> TabularMDP:
        return world


class StateGoal(AbstractReward):
    """One goal state: entering it pays ``goal_value`` and ends the episode.

    Attributes:
        goal_state: ``[]`` int32 index of the goal state (a leading batch axis is
            fine for ``vmap``; the same holds for every field of every spec).
        goal_value: ``[]`` reward for entering the goal.
        step_cost: ``[]`` cost ``>= 0`` of each action from a non-terminal state.

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> StateGoal(2, 5.0, 1.0).apply(line).reward[1].tolist()
        [-1.0, 4.0]
    """

    goal_state: Int[Array, ""] = eqx.field(converter=jnp.asarray)
    goal_value: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=1.0)
    step_cost: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=0.0)

    def __check_init__(self):
        if not jnp.issubdtype(self.goal_state.dtype, jnp.integer):
            raise TypeError(
                "StateGoal.goal_state must be an integer state index, got dtype "
                f"{self.goal_state.dtype}. For a value per state use GoalValues."
            )

    def apply(self, world: TabularMDP) -> TabularMDP:
        return goal_reward(world, self.goal_state, self.goal_value, self.step_cost)


class GoalValues(AbstractReward):
    """Several goal states, each terminal and worth ``goal_values[s]`` on arrival.

    Attributes:
        goal_values: ``[S]`` value of entering each goal state (ignored elsewhere).
        is_goal: ``[S]`` bool mask of goal states.
        step_cost: ``[]`` cost ``>= 0`` of each action from a non-terminal state.

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> goals = GoalValues(jnp.array([2.0, 0.0, 5.0]),
        ...                    jnp.array([True, False, True]))
        >>> goals.apply(line).reward[1].tolist()
        [2.0, 5.0]
    """

    goal_values: Float[Array, "S"] = eqx.field(converter=jnp.asarray)
    is_goal: Bool[Array, "S"] = eqx.field(converter=jnp.asarray)
    step_cost: Float[Array, ""] = eqx.field(converter=jnp.asarray, default=0.0)

    def __check_init__(self):
        if self.goal_values.ndim < 1 or self.is_goal.shape != self.goal_values.shape:
            raise ValueError(
                "GoalValues needs goal_values [S] and is_goal [S] of one shape, got "
                f"{self.goal_values.shape} and {self.is_goal.shape}."
            )
        if self.is_goal.dtype != jnp.bool_:
            raise TypeError(
                f"GoalValues.is_goal must be a bool mask, got dtype "
                f"{self.is_goal.dtype}."
            )

    def apply(self, world: TabularMDP) -> TabularMDP:
        return multi_goal_reward(world, self.goal_values, self.is_goal, self.step_cost)


class LinearReward(AbstractReward):
    """Reward weights over features: ``reward = world.reward + features @ weights``.

    Attributes:
        features: ``[S, A, F]`` state-action features (for features of the state
            reached, :func:`pinfer.planning.arrival_features`).
        weights: ``[F]`` reward weights, the agent parameter to infer.

    Example:
        >>> world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.ones((2, 1)),
        ...                    jnp.zeros(2, bool))
        >>> spec = LinearReward(jnp.ones((2, 1, 2)), jnp.array([0.5, -2.0]))
        >>> spec.apply(world).reward[:, 0].tolist()
        [-0.5, -0.5]
    """

    features: Float[Array, "S A F"] = eqx.field(converter=jnp.asarray)
    weights: Float[Array, "F"] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        if (
            self.features.ndim < 3
            or self.weights.shape[-1:] != self.features.shape[-1:]
        ):
            raise ValueError(
                "LinearReward needs features [S, A, F] and weights [F] with the same "
                f"F, got features {self.features.shape} and weights "
                f"{self.weights.shape}."
            )

    def apply(self, world: TabularMDP) -> TabularMDP:
        if self.features.shape[:2] != world.reward.shape:
            raise ValueError(
                f"LinearReward.features has shape {self.features.shape}, but the "
                f"world has [S, A] = {list(world.reward.shape)}; build the features "
                "from the same world."
            )
        reward = world.reward + linear_reward(self.features, self.weights)
        return with_reward(world, reward)
