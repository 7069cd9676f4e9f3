"""Agent goals and reward weights on top of a world's :class:`TabularMDP`.

The world (an environment's ``tabular_mdp(params)``) says how states change; what an
agent wants is an *agent* parameter. These helpers build the MDP an agent plans in:

    goal_reward:        reward'(s, a) = reward(s, a) + g * P(goal | s, a) - step_cost
                        terminal'     = terminal | (s == goal)
    multi_goal_reward:  the same with a value g_i for each goal state i
    linear_reward:      reward(s, a) = sum_f features(s, a, f) * weights(f)
    arrival_features:   features(s, a, f) = sum_s' T(s, a, s') phi(s', f)

The goal bonus is paid on the transition into a goal (in expectation over
``transition``), a goal ends the episode, and ``step_cost`` is charged for every
action taken from a non-terminal state, the last one included: with discount 1 and
deterministic moves an agent ``d`` steps from a goal worth ``g`` has value
``g - d * step_cost``. Goal states, goal values, step costs and weights may all be
traced, so a stack of goal hypotheses is one ``vmap`` (as in Bayesian inverse planning,
Baker, Saxe and Tenenbaum, 2009).
"""

import jax
import jax.numpy as jnp
from jax import lax

from pinfer.planning.mdp import TabularMDP
from pinfer.planning.value_iteration import _concrete_scalar
from pinfer.types import Array, Bool, Float, Int

__all__ = [
    "goal_reward",
    "multi_goal_reward",
    "linear_reward",
    "arrival_features",
    "with_reward",
]


def _check_step_cost(step_cost) -> None:
    value = _concrete_scalar(step_cost)
    if value is not None and value < 0:
        raise ValueError(
            f"step_cost is a cost and is subtracted from the reward of every step; "
            f"got {value} < 0, which would pay the agent for wandering. For a reward "
            f"of {value} per step pass step_cost={-value}."
        )


def _expected_next(mdp: TabularMDP, per_state: Array) -> Array:
    return jnp.einsum(
        "sat,t...->sa...", mdp.transition, per_state, precision=lax.Precision.HIGHEST
    )


def multi_goal_reward(
    mdp: TabularMDP,
    goal_values: Float[Array, "S"],
    is_goal: Bool[Array, "S"],
    step_cost: Float[Array, ""] | float = 0.0,
) -> TabularMDP:
    """Make every state with ``is_goal`` a terminal goal worth ``goal_values[s]``.

    Args:
        mdp: the world.
        goal_values: ``[S]`` value paid on arrival at each goal (ignored elsewhere).
        is_goal: ``[S]`` bool mask of goal states.
        step_cost: cost ``>= 0`` of each action from a non-terminal state.

    Returns:
        A ``TabularMDP`` with the same transitions, goals added to ``terminal``, and
        ``reward + goal_values[s'] * P(s' | s, a) - step_cost`` on non-terminal rows.

    Example:
        >>> world = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                    jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> mdp = multi_goal_reward(world, jnp.array([5.0, 0.0, 2.0]),
        ...                         jnp.array([True, False, True]), 1.0)
        >>> mdp.reward[1], mdp.terminal
        (Array([4., 1.], dtype=float32), Array([ True, False,  True], dtype=bool))
    """
    goal_values = jnp.asarray(goal_values)
    is_goal = jnp.asarray(is_goal)
    num_states = mdp.num_states
    for name, array in (("goal_values", goal_values), ("is_goal", is_goal)):
        if array.shape != (num_states,):
            raise ValueError(
                f"{name} must have shape [S] = [{num_states}] (one entry per state), "
                f"got {array.shape}."
            )
    if is_goal.dtype != jnp.bool_:
        raise TypeError(f"is_goal must be a bool mask, got dtype {is_goal.dtype}.")
    _check_step_cost(step_cost)
    terminal = mdp.terminal | is_goal
    bonus = _expected_next(mdp, jnp.where(is_goal, goal_values, 0.0)) - step_cost
    reward = mdp.reward + jnp.where(terminal[:, None], 0.0, bonus)
    return TabularMDP(mdp.transition, reward, terminal)


def goal_reward(
    mdp: TabularMDP,
    goal_state: Int[Array, ""] | int,
    goal_value: Float[Array, ""] | float = 1.0,
    step_cost: Float[Array, ""] | float = 0.0,
) -> TabularMDP:
    """Make ``goal_state`` a terminal goal that pays ``goal_value`` on arrival.

    Args:
        mdp: the world.
        goal_state: index of the goal state (may be traced: ``vmap`` over goals).
        goal_value: reward for entering the goal.
        step_cost: cost ``>= 0`` of each action from a non-terminal state.

    Returns:
        The agent's ``TabularMDP`` (see :func:`multi_goal_reward`).

    Example:
        >>> line = TabularMDP(  # states 0-1-2-3 on a line, actions left / right
        ...     jnp.eye(4)[jnp.array([[0, 1], [0, 2], [1, 3], [2, 3]])],
        ...     jnp.zeros((4, 2)), jnp.zeros(4, bool))
        >>> from pinfer.planning import value_iteration
        >>> value_iteration(goal_reward(line, 3, 10.0, 1.0), 1.0, 5).values
        Array([7., 8., 9., 0.], dtype=float32)
    """
    if not isinstance(goal_state, jax.core.Tracer) and jnp.ndim(goal_state) == 0:
        index = int(goal_state)
        if not 0 <= index < mdp.num_states:
            raise ValueError(
                f"goal_state must be a state index in [0, {mdp.num_states}), got "
                f"{index}."
            )
    is_goal = jnp.arange(mdp.num_states) == goal_state
    goal_values = jnp.where(is_goal, goal_value, 0.0)
    return multi_goal_reward(mdp, goal_values, is_goal, step_cost)


def linear_reward(
    features: Float[Array, "S A F"], weights: Float[Array, "F"]
) -> Float[Array, "S A"]:
    """Reward linear in features: ``reward[s, a] = features[s, a] @ weights``.

    Args:
        features: ``[S, A, F]`` features of each state-action pair (see
            :func:`arrival_features` for features of the state reached).
        weights: ``[F]`` reward weights (an agent parameter; may be traced).

    Returns:
        ``[S, A]`` rewards; use :func:`with_reward` to plan with them.

    Example:
        >>> linear_reward(jnp.ones((2, 3, 2)), jnp.array([1.0, -3.0]))[0]
        Array([-2., -2., -2.], dtype=float32)
    """
    features, weights = jnp.asarray(features), jnp.asarray(weights)
    if features.ndim != 3 or weights.shape != features.shape[-1:]:
        raise ValueError(
            f"linear_reward needs features [S, A, F] and weights [F] with the same F; "
            f"got features {features.shape} and weights {weights.shape}."
        )
    return jnp.einsum("saf,f->sa", features, weights, precision=lax.Precision.HIGHEST)


def arrival_features(
    mdp: TabularMDP, state_features: Float[Array, "S F"]
) -> Float[Array, "S A F"]:
    """Expected features of the next state: ``sum_s' T(s, a, s') phi(s', f)``.

    Args:
        mdp: the world.
        state_features: ``[S, F]`` features ``phi`` of each state.

    Returns:
        ``[S, A, F]`` state-action features for :func:`linear_reward`.

    Example:
        >>> world = TabularMDP(jnp.eye(2)[jnp.array([[0, 1], [0, 1]])],
        ...                    jnp.zeros((2, 2)), jnp.zeros(2, bool))
        >>> arrival_features(world, jnp.array([[1.0], [2.0]]))[:, :, 0]
        Array([[1., 2.],
               [1., 2.]], dtype=float32)
    """
    state_features = jnp.asarray(state_features)
    if state_features.ndim != 2 or state_features.shape[0] != mdp.num_states:
        raise ValueError(
            f"state_features must have shape [S, F] with S = {mdp.num_states}, got "
            f"{state_features.shape}."
        )
    return _expected_next(mdp, state_features)


def with_reward(mdp: TabularMDP, reward: Float[Array, "S A"]) -> TabularMDP:
    """The same world with ``reward`` in place of ``mdp.reward``.

    Example:
        >>> world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                    jnp.zeros(2, bool))
        >>> with_reward(world, jnp.ones((2, 1))).reward[:, 0]
        Array([1., 1.], dtype=float32)
    """
    return TabularMDP(mdp.transition, reward, mdp.terminal)
