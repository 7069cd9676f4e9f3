"""Agent goals and reward weights on top of a world's :class:`TabularMDP`.

The world (an environment's ``tabular_mdp(params)``) says how states change and what
each step costs; what an agent wants is an *agent* parameter. These helpers build
the MDP an agent plans in:

    goal_reward:        reward'(s, a) = reward(s, a) + g * P(goal | s, a) - step_cost
                        terminal'     = terminal | (s == goal)
    multi_goal_reward:  the same with a value g_i for each goal state i
    linear_reward:      reward(s, a) = sum_f features(s, a, f) * weights(f)
    arrival_features:   features(s, a, f) = sum_s' T(s, a, s') phi(s', f)

The world owns the cost of a step: ``reward`` already holds what each step costs the
agent (a ``GridWorld``'s ``step_reward``, -1 by default). ``step_cost`` is an *extra*
cost the agent adds on top of it (default 0): on a default ``GridWorld``
``step_cost=0`` pays -1 a step and ``step_cost=1`` pays -2. It is charged for every
action taken from a non-terminal state, the last one included. The goal bonus is
paid on the transition into a goal (in expectation over ``transition``) and a goal
ends the episode, so with discount 1 and deterministic moves an agent ``d`` steps
from a goal worth ``g``, in a world whose steps pay ``r``, has value
``g + d * (r - step_cost)``. Goal states, goal values, step costs and weights may
all be traced, so a stack of goal hypotheses is one ``vmap`` (as in Bayesian inverse
planning, Baker, Saxe and Tenenbaum, 2009). The derived MDP keeps the world's
``successors`` (the fast planner of deterministic worlds).
"""

import equinox as eqx
import jax.numpy as jnp
from jax import lax

from pinfer.planning._checks import check_mdp
from pinfer.planning.expectation import _expected_next
from pinfer.planning.mdp import TabularMDP
from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import (
    all_of,
    check_array,
    check_finite,
    check_indices,
    check_scalar,
    nan_unless,
    traced_in_range,
)

__all__ = [
    "goal_reward",
    "multi_goal_reward",
    "linear_reward",
    "arrival_features",
    "with_reward",
]

STEP_COST_HINT = (
    "step_cost is an extra cost the agent adds to every step, on top of the world's "
    "own step reward (already in mdp.reward, e.g. a GridWorld's step_reward of -1); "
    "a negative one would pay the agent for wandering. Change the world's step "
    "reward in the world itself (make_gridworld(step_reward=...)) or with "
    "with_reward."
)


def _check_step_cost(step_cost, where: str):
    return check_scalar(
        step_cost,
        "step_cost",
        where=where,
        low=0.0,
        high=float("inf"),
        high_open=True,
        hint=STEP_COST_HINT,
    )


def _derive(mdp: TabularMDP, reward, terminal=None) -> TabularMDP:
    """A new agent MDP on the same world: transitions and successors kept."""
    if terminal is None:
        return eqx.tree_at(lambda m: m.reward, mdp, reward)
    return eqx.tree_at(lambda m: (m.reward, m.terminal), mdp, (reward, terminal))


def _multi_goal(mdp, goal_values, is_goal, step_cost, ok) -> TabularMDP:
    terminal = mdp.terminal | is_goal
    bonus = _expected_next(mdp, jnp.where(is_goal, goal_values, 0.0)) - step_cost
    reward = mdp.reward + jnp.where(terminal[:, None], 0.0, bonus)
    return _derive(mdp, nan_unless(ok, reward), terminal)


def _step_cost_ok(step_cost):
    return traced_in_range(step_cost, low=0.0, high=float("inf"), high_open=True)


def _finite(value):
    return traced_in_range(
        value, low=-float("inf"), high=float("inf"), low_open=True, high_open=True
    )


def multi_goal_reward(
    mdp: TabularMDP,
    goal_values: Float[Array, "S"],
    is_goal: Bool[Array, "S"],
    step_cost: Float[Array, ""] | float = 0.0,
) -> TabularMDP:
    """Make every state with ``is_goal`` a terminal goal worth ``goal_values[s]``.

    Args:
        mdp: the world (its ``reward`` holds the world's own cost of a step).
        goal_values: ``[S]`` finite value paid on arrival at each goal (ignored
            elsewhere).
        is_goal: ``[S]`` bool mask of goal states.
        step_cost: extra cost ``>= 0`` the agent adds to each action from a
            non-terminal state, on top of the world's step reward (default 0).

    Returns:
        A ``TabularMDP`` with the same transitions (and ``successors``), goals
        added to ``terminal``, and ``reward + goal_values[s'] * P(s' | s, a) -
        step_cost`` on non-terminal rows. Inside ``jit``, a traced non-finite goal
        value or negative ``step_cost`` gives NaN rewards.

    Example:
        >>> world = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                    jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> mdp = multi_goal_reward(world, jnp.array([5.0, 0.0, 2.0]),
        ...                         jnp.array([True, False, True]), 1.0)
        >>> mdp.reward[1], mdp.terminal
        (Array([4., 1.], dtype=float32), Array([ True, False,  True], dtype=bool))
    """
    where = "multi_goal_reward"
    check_mdp(mdp, where)
    shape = (mdp.num_states,)
    goal_values = check_array(
        goal_values, "goal_values", where=where, shape=shape, dtype="number"
    )
    is_goal = check_array(
        is_goal,
        "is_goal",
        where=where,
        shape=shape,
        dtype="bool",
        hint="It marks the goal states, one flag per state.",
    )
    check_finite(goal_values, "goal_values", where=where, axes=("state",))
    _check_step_cost(step_cost, where)
    ok = all_of(_finite(goal_values), _step_cost_ok(step_cost))
    return _multi_goal(mdp, goal_values, is_goal, step_cost, ok)


def goal_reward(
    mdp: TabularMDP,
    goal_state: Int[Array, ""] | int,
    goal_value: Float[Array, ""] | float = 1.0,
    step_cost: Float[Array, ""] | float = 0.0,
) -> TabularMDP:
    """Make ``goal_state`` a terminal goal that pays ``goal_value`` on arrival.

    Args:
        mdp: the world (its ``reward`` holds the world's own cost of a step).
        goal_state: index of the goal state (may be traced: ``vmap`` over goals).
        goal_value: finite reward for entering the goal.
        step_cost: extra cost ``>= 0`` the agent adds to each step, on top of the
            world's step reward (default 0; 1 on a default ``GridWorld`` pays -2 a
            step).

    Returns:
        The agent's ``TabularMDP`` (see :func:`multi_goal_reward`). Inside ``jit``,
        a traced ``goal_state`` outside ``0..S-1``, non-finite ``goal_value`` or
        negative ``step_cost`` gives NaN rewards (a goal nowhere is not planned).

    Example:
        >>> line = TabularMDP(  # states 0-1-2-3 on a line, actions left / right
        ...     jnp.eye(4)[jnp.array([[0, 1], [0, 2], [1, 3], [2, 3]])],
        ...     jnp.zeros((4, 2)), jnp.zeros(4, bool))
        >>> from pinfer.planning import value_iteration
        >>> value_iteration(goal_reward(line, 3, 10.0, 1.0), 1.0, 5).values
        Array([7., 8., 9., 0.], dtype=float32)
    """
    where = "goal_reward"
    check_mdp(mdp, where)
    goal_state = check_array(goal_state, "goal_state", where=where, ndim=0, dtype="int")
    check_indices(goal_state, "goal_state", mdp.num_states, where=where, what="state")
    check_scalar(goal_value, "goal_value", where=where)
    _check_step_cost(step_cost, where)
    is_goal = jnp.arange(mdp.num_states) == goal_state
    goal_values = jnp.where(is_goal, goal_value, 0.0)
    ok = all_of(
        traced_in_range(goal_state, low=0, high=mdp.num_states - 1),
        _finite(goal_value),
        _step_cost_ok(step_cost),
    )
    return _multi_goal(mdp, goal_values, is_goal, step_cost, ok)


def linear_reward(
    features: Float[Array, "S A F"], weights: Float[Array, "F"]
) -> Float[Array, "S A"]:
    """Reward linear in features: ``reward[s, a] = features[s, a] @ weights``.

    Args:
        features: ``[S, A, F]`` finite features of each state-action pair (see
            :func:`arrival_features` for features of the state reached).
        weights: ``[F]`` finite reward weights (an agent parameter; may be traced).

    Returns:
        ``[S, A]`` rewards; use :func:`with_reward` to plan with them.

    Example:
        >>> linear_reward(jnp.ones((2, 3, 2)), jnp.array([1.0, -3.0]))[0]
        Array([-2., -2., -2.], dtype=float32)
    """
    where = "linear_reward"
    features = check_array(
        features,
        "features",
        where=where,
        ndim=3,
        dtype="number",
        hint="Index it as features[state, action, feature].",
    )
    weights = check_array(
        weights,
        "weights",
        where=where,
        shape=features.shape[-1:],
        dtype="number",
        hint=f"One weight per feature, to match features {list(features.shape)}.",
    )
    check_finite(features, "features", where=where, axes=("state", "action", "feature"))
    check_finite(weights, "weights", where=where, axes=("feature",))
    return jnp.einsum("saf,f->sa", features, weights, precision=lax.Precision.HIGHEST)


def arrival_features(
    mdp: TabularMDP, state_features: Float[Array, "S F"]
) -> Float[Array, "S A F"]:
    """Expected features of the next state: ``sum_s' T(s, a, s') phi(s', f)``.

    A gather on a deterministic world (``mdp.successors`` set).

    Args:
        mdp: the world.
        state_features: ``[S, F]`` finite features ``phi`` of each state.

    Returns:
        ``[S, A, F]`` state-action features for :func:`linear_reward`.

    Example:
        >>> world = TabularMDP(jnp.eye(2)[jnp.array([[0, 1], [0, 1]])],
        ...                    jnp.zeros((2, 2)), jnp.zeros(2, bool))
        >>> arrival_features(world, jnp.array([[1.0], [2.0]]))[:, :, 0]
        Array([[1., 2.],
               [1., 2.]], dtype=float32)
    """
    where = "arrival_features"
    check_mdp(mdp, where)
    state_features = check_array(
        state_features,
        "state_features",
        where=where,
        shape=(mdp.num_states, None),
        dtype="number",
        hint="Index it as state_features[state, feature].",
    )
    check_finite(
        state_features, "state_features", where=where, axes=("state", "feature")
    )
    return _expected_next(mdp, state_features)


def with_reward(mdp: TabularMDP, reward: Float[Array, "S A"]) -> TabularMDP:
    """The same world with ``reward`` in place of ``mdp.reward`` (``successors``
    kept).

    Args:
        mdp: the world.
        reward: ``[S, A]`` finite rewards.

    Returns:
        A ``TabularMDP`` with the new reward.

    Example:
        >>> world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                    jnp.zeros(2, bool))
        >>> with_reward(world, jnp.ones((2, 1))).reward[:, 0]
        Array([1., 1.], dtype=float32)
    """
    where = "with_reward"
    check_mdp(mdp, where)
    reward = check_array(
        reward,
        "reward",
        where=where,
        shape=(mdp.num_states, mdp.num_actions),
        dtype="number",
        hint="Index it as reward[state, action].",
    )
    check_finite(reward, "reward", where=where, axes=("state", "action"))
    return _derive(mdp, reward)
