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
differentiated and fitted like ``beta``.

Who pays for a step: the *world* owns the cost of a step. It is part of the MDP's
own reward (a ``GridWorld`` pays ``-1`` a step by default, ``step_reward``), and every
specification here keeps it. ``step_cost`` is an *extra* cost ``>= 0`` on top, charged
for every action taken from a non-terminal state (see :mod:`pinfer.planning.goals`):
leave it at 0 unless the agent is more (or differently) averse to effort than the
world's reward says. In a default grid world, ``step_cost=1`` makes a step cost 2.

Concrete fields are checked when a specification is built (dtypes, ranks, NaN,
``step_cost >= 0``) and against the world in ``apply`` (sizes, the goal's index);
a traced goal index out of range raises through ``eqx.error_if`` in ``apply``.
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
from pinfer.validation import (
    check_array,
    check_finite,
    check_indices,
    check_range,
    check_type,
    error_unless,
    traced_in_range,
)

__all__ = [
    "AbstractReward",
    "GoalValues",
    "LinearReward",
    "StateGoal",
    "WorldReward",
]


def _check_world(world, where: str) -> None:
    check_type(
        world,
        "world",
        TabularMDP,
        where=f"{where}.apply",
        hint="An environment is not a model: pass env.tabular_mdp(env_params).",
    )


def _check_scalars(spec, names: tuple[str, ...], where: str) -> None:
    for name in names:
        check_array(
            getattr(spec, name),
            name,
            where=f"{where}.apply",
            ndim=0,
            hint="apply plans for one agent; vmap over a batch of specifications.",
        )


def _check_value(value, name: str, where: str) -> None:
    check_array(value, name, where=where, dtype="number")
    check_finite(value, name, where=where)


def _check_step_cost(step_cost, where: str) -> None:
    _check_value(step_cost, "step_cost", where)
    check_range(
        step_cost,
        "step_cost",
        where=where,
        low=0.0,
        hint="It is an extra cost on top of the world's own step reward (which "
        "already charges a step, e.g. -1 in a GridWorld); 0 adds none.",
    )


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
        _check_world(world, "WorldReward")
        return world


class StateGoal(AbstractReward):
    """One goal state: entering it pays ``goal_value`` and ends the episode.

    Attributes:
        goal_state: ``[]`` int32 index of the goal state (a leading batch axis is
            fine for ``vmap``; the same holds for every field of every spec).
        goal_value: ``[]`` reward for entering the goal (finite).
        step_cost: ``[]`` extra cost ``>= 0`` of each action from a non-terminal
            state, on top of the world's own step reward (see the module
            docstring: the world owns the cost of a step).

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
        where = "StateGoal"
        check_array(
            self.goal_state,
            "goal_state",
            where=where,
            dtype="int",
            hint="A goal is a state index; for a value per state use GoalValues.",
        )
        check_range(self.goal_state, "goal_state", where=where, low=0)
        _check_value(self.goal_value, "goal_value", where)
        _check_step_cost(self.step_cost, where)

    def apply(self, world: TabularMDP) -> TabularMDP:
        _check_world(world, "StateGoal")
        _check_scalars(self, ("goal_state", "goal_value", "step_cost"), "StateGoal")
        num_states = world.num_states
        check_indices(
            self.goal_state, "goal_state", num_states, where="StateGoal", what="state"
        )
        mdp = goal_reward(world, self.goal_state, self.goal_value, self.step_cost)
        ok = traced_in_range(self.goal_state, low=0, high=num_states - 1)
        reward = error_unless(
            mdp.reward,
            [(ok, "goal_state", f"a state in 0..{num_states - 1}")],
            where="StateGoal",
            hint="Planning would have no goal.",
        )
        return with_reward(mdp, reward)


class GoalValues(AbstractReward):
    """Several goal states, each terminal and worth ``goal_values[s]`` on arrival.

    Attributes:
        goal_values: ``[S]`` value of entering each goal state (ignored elsewhere;
            finite).
        is_goal: ``[S]`` bool mask of goal states.
        step_cost: ``[]`` extra cost ``>= 0`` of each action from a non-terminal
            state, on top of the world's own step reward.

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
        where = "GoalValues"
        check_array(self.goal_values, "goal_values", where=where, dtype="number")
        check_array(self.is_goal, "is_goal", where=where, dtype="bool")
        if self.goal_values.ndim < 1 or self.is_goal.shape != self.goal_values.shape:
            raise ValueError(
                f"{where}: `goal_values` [S] and `is_goal` [S] must have one shape, "
                f"got {list(self.goal_values.shape)} and {list(self.is_goal.shape)}."
            )
        _check_value(self.goal_values, "goal_values", where)
        _check_step_cost(self.step_cost, where)

    def apply(self, world: TabularMDP) -> TabularMDP:
        _check_world(world, "GoalValues")
        _check_scalars(self, ("step_cost",), "GoalValues")
        for name in ("goal_values", "is_goal"):
            check_array(
                getattr(self, name),
                name,
                where="GoalValues.apply",
                shape=(world.num_states,),
                hint="One entry per state of the world.",
            )
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
        where = "LinearReward"
        check_array(self.features, "features", where=where, dtype="number")
        check_array(self.weights, "weights", where=where, dtype="number")
        if (
            self.features.ndim < 3
            or self.weights.ndim < 1
            or self.weights.shape[-1:] != self.features.shape[-1:]
        ):
            raise ValueError(
                f"{where}: `features` [S, A, F] and `weights` [F] need the same F, "
                f"got features {list(self.features.shape)} and weights "
                f"{list(self.weights.shape)}."
            )
        _check_value(self.features, "features", where)
        _check_value(self.weights, "weights", where)

    def apply(self, world: TabularMDP) -> TabularMDP:
        _check_world(world, "LinearReward")
        check_array(self.weights, "weights", where="LinearReward.apply", ndim=1)
        if self.features.shape != world.reward.shape + self.weights.shape:
            raise ValueError(
                f"LinearReward.features has shape {self.features.shape}, but the "
                f"world has [S, A] = {list(world.reward.shape)}; build the features "
                "from the same world."
            )
        reward = world.reward + linear_reward(self.features, self.weights)
        return with_reward(world, reward)
