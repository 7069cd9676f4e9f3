"""Observed trajectories: building, padding, and finding steps a model cannot explain.

Recorded behaviour comes as ``T + 1`` states and ``T`` actions per trajectory, with
different ``T``. :func:`pad_trajectories` stacks them into one :class:`Trajectory`
with a leading batch axis, padded to a common length, with ``mask`` False on the
padding (padded states repeat the last state, padded actions are 0), so a batch is
one ``vmap`` of :func:`pinfer.agents.trajectory_log_likelihood` and its value is the
sum of the unpadded likelihoods.

A trajectory the model gives probability zero has log-likelihood ``-inf``, never
NaN. Impossible steps are located, per trajectory, by jittable functions:

    first_impossible_step:        mask[t] and log pi(a_t | s_t) = -inf (or NaN)
    first_impossible_transition:  mask[t] and transition[s_t, a_t, s_t+1] = 0

and :func:`check_trajectories` (the one host-side check, also exported by
:mod:`pinfer.inverse`) checks a ``Trajectory`` or arrays ``(states, actions, mask)``
against a world, an agent and/or a table of log-policies, and turns the first
impossible step into an :class:`ImpossibleStepError` that names the trajectory,
step, state, action and next state ("trajectory 3, step 7: action 'up' (0) from
state 12 has probability 0 under the model").
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.agents._step_checks import (
    ImpossibleStepError,
    as_steps,
    find_problems,
    raise_first,
)
from pinfer.agents.base import AbstractAgent, AgentState, Trajectory
from pinfer.agents.loop import _check_single, step_log_likelihoods
from pinfer.planning import TabularMDP
from pinfer.planning.mdp import move_probability
from pinfer.types import Array, ArrayTree, Float, Int
from pinfer.validation import check_array, check_finite, check_type

__all__ = [
    "ImpossibleStepError",
    "check_trajectories",
    "first_impossible_step",
    "first_impossible_transition",
    "make_trajectory",
    "pad_trajectories",
]


def _arrays(states, actions, rewards, where: str):
    states, actions = np.asarray(states), np.asarray(actions)
    if actions.ndim != 1:
        raise ValueError(
            f"{where}: actions must be a 1-D sequence of action indices, got shape "
            f"{actions.shape}."
        )
    if actions.size and not np.issubdtype(actions.dtype, np.integer):
        raise TypeError(
            f"{where}: actions must be integers, got dtype {actions.dtype}. Map "
            "action names to indices (e.g. with ACTION_NAMES.index) or cast with "
            ".astype(int)."
        )
    if states.ndim < 1 or states.shape[0] != actions.shape[0] + 1:
        raise ValueError(
            f"{where}: {actions.shape[0]} actions need {actions.shape[0] + 1} states "
            f"(the state before each action and the one after the last), got states "
            f"of shape {states.shape}. Append the final state, or drop the last action "
            "if it is unknown."
        )
    if np.any(actions < 0):
        step = int(np.argmax(actions < 0))
        raise ValueError(f"{where}: action {actions[step]} at step {step} is negative.")
    if np.issubdtype(states.dtype, np.integer) and np.any(states < 0):
        step = int(np.argmax(np.reshape(states < 0, (states.shape[0], -1)).any(-1)))
        raise ValueError(f"{where}: state index at step {step} is negative.")
    if np.issubdtype(states.dtype, np.inexact):
        check_finite(
            states,
            "states",
            where=where,
            axes=("step",) + ("entry",) * (states.ndim - 1),
        )
    if rewards is None:
        rewards = np.zeros(actions.shape)
    rewards = np.asarray(rewards)
    check_finite(rewards, "rewards", where=where, axes=("step",))
    if rewards.shape != actions.shape:
        raise ValueError(
            f"{where}: rewards must have one entry per action, shape "
            f"{actions.shape}, got {rewards.shape}."
        )
    return states, actions, rewards


def _padded(states, actions, rewards, num_steps: int):
    length = actions.shape[0]
    extra = num_steps - length
    states = np.concatenate([states, np.repeat(states[-1:], extra, axis=0)])
    actions = np.concatenate([actions, np.zeros(extra, actions.dtype)])
    rewards = np.concatenate([rewards, np.zeros(extra, rewards.dtype)])
    mask = np.arange(num_steps) < length
    return states, actions, rewards, mask


def _to_jax(states, actions, rewards, mask) -> Trajectory:
    float_dtype = jnp.zeros(()).dtype
    state_dtype = jnp.int32 if np.issubdtype(states.dtype, np.integer) else float_dtype
    return Trajectory(
        jnp.asarray(states, dtype=state_dtype),
        jnp.asarray(actions, dtype=jnp.int32),
        jnp.asarray(rewards, dtype=float_dtype),
        jnp.asarray(mask),
    )


def make_trajectory(
    states: ArrayTree,
    actions: ArrayTree,
    rewards: ArrayTree | None = None,
    num_steps: int | None = None,
) -> Trajectory:
    """One observed trajectory as a :class:`Trajectory`, optionally padded.

    Args:
        states: ``[T + 1, ...]`` states (or observations) visited.
        actions: ``[T]`` integer actions.
        rewards: ``[T]`` rewards (default zeros; only learning agents read them).
        num_steps: pad to this length ``>= T`` (default ``T``).

    Returns:
        ``Trajectory(obs [num_steps + 1], actions [num_steps], rewards, mask)``
        with int32 states and actions.

    Example:
        >>> make_trajectory([4, 5, 6], [3, 3], num_steps=3).mask
        Array([ True,  True, False], dtype=bool)
    """
    states, actions, rewards = _arrays(states, actions, rewards, "make_trajectory")
    length = actions.shape[0]
    num_steps = length if num_steps is None else num_steps
    if num_steps < length:
        raise ValueError(
            f"make_trajectory: num_steps={num_steps} is shorter than the trajectory "
            f"({length} actions); pass num_steps >= {length} or None."
        )
    return _to_jax(*_padded(states, actions, rewards, num_steps))


def pad_trajectories(
    trajectories: Sequence[tuple], num_steps: int | None = None
) -> Trajectory:
    """Stack trajectories of different lengths into one padded, masked batch.

    Args:
        trajectories: ``N`` tuples ``(states [T_i + 1, ...], actions [T_i])`` or
            ``(states, actions, rewards [T_i])``; states of one shape and kind.
        num_steps: the padded length (default ``max_i T_i``); fix it to reuse one
            compiled likelihood across batches.

    Returns:
        ``Trajectory`` with ``obs [N, T + 1, ...]``, ``actions [N, T]``,
        ``rewards [N, T]`` and ``mask [N, T]`` (True on the ``T_i`` real steps).

    Example:
        >>> batch = pad_trajectories([([0, 1, 2], [3, 3]), ([5, 4], [2])])
        >>> batch.obs.tolist(), batch.mask.tolist()
        ([[0, 1, 2], [5, 4, 4]], [[True, True], [True, False]])
    """
    if isinstance(trajectories, Trajectory) or not len(trajectories):
        shown = "a Trajectory" if isinstance(trajectories, Trajectory) else "[]"
        raise ValueError(
            "pad_trajectories: `trajectories` must be a non-empty sequence of "
            "(states, actions) or (states, actions, rewards) tuples, one per "
            f"trajectory, got {shown}."
        )
    items = []
    for index, item in enumerate(trajectories):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(
                f"trajectory {index}: expected a (states, actions) or (states, "
                f"actions, rewards) tuple, got {type(item).__name__}."
            )
        rewards = item[2] if len(item) == 3 else None
        items.append(_arrays(item[0], item[1], rewards, f"trajectory {index}"))
    first = items[0][0]
    for index, (states, _, _) in enumerate(items):
        same_kind = np.issubdtype(states.dtype, np.integer) == np.issubdtype(
            first.dtype, np.integer
        )
        if states.shape[1:] != first.shape[1:] or not same_kind:
            raise ValueError(
                f"trajectory {index}: states of shape {states.shape[1:]} and dtype "
                f"{states.dtype} per step do not match trajectory 0 "
                f"({first.shape[1:]}, {first.dtype}); all trajectories must record "
                "states the same way."
            )
    longest = max(actions.shape[0] for _, actions, _ in items)
    num_steps = longest if num_steps is None else num_steps
    if num_steps < longest:
        raise ValueError(
            f"pad_trajectories: num_steps={num_steps} is shorter than the longest "
            f"trajectory ({longest} actions); pass num_steps >= {longest} or None."
        )
    padded = [_padded(*item, num_steps) for item in items]
    return _to_jax(*(np.stack(parts) for parts in zip(*padded, strict=True)))


def first_impossible_step(
    agent: AbstractAgent,
    agent_params: ArrayTree,
    trajectory: Trajectory,
    agent_state: AgentState | None = None,
) -> Int[Array, ""]:
    """The first real step whose action has probability 0 (or NaN) under the agent.

    Jittable; ``vmap`` over a batch with ``in_axes=(None, None, 0)``.

    Returns:
        int32 step index, or -1 if every real step is possible.

    Example:
        >>> traj = make_trajectory([0, 1, 1], [1, 7])  # action 7 does not exist
        >>> int(first_impossible_step(RandomAgent(2), None, traj))
        1
    """
    log_probs = step_log_likelihoods(agent, agent_params, trajectory, agent_state)
    bad = trajectory.mask & ~(log_probs > -jnp.inf)
    return jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)


def first_impossible_transition(
    world: TabularMDP, trajectory: Trajectory
) -> Int[Array, ""]:
    """The first real step whose move ``s_t -> s_t+1`` under ``a_t`` has
    probability 0 in ``world`` (or an index out of range; states are tabular).

    Jittable; ``vmap`` over a batch with ``in_axes=(None, 0)``.

    Returns:
        int32 step index, or -1 if every recorded move is possible.

    Example:
        >>> world = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                    jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> int(first_impossible_transition(world, make_trajectory([0, 1, 0],
        ...                                                        [1, 1])))
        1
    """
    where = "first_impossible_transition"
    check_type(world, "world", TabularMDP, where=where)
    _check_single(trajectory, where)
    states = check_array(
        trajectory.obs,
        "trajectory.obs",
        where=where,
        dtype="int",
        hint="The world's state indices.",
    )
    probs = move_probability(world, states[:-1], trajectory.actions, states[1:])
    bad = trajectory.mask & ~(probs > 0)
    return jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)


_step_log_likelihoods = jax.jit(step_log_likelihoods)


def check_trajectories(
    trajectories: Trajectory | tuple,
    *,
    world: TabularMDP | None = None,
    agent: AbstractAgent | None = None,
    agent_params: ArrayTree = None,
    agent_state: AgentState | None = None,
    log_policies: Float[Array, "... S A"] | None = None,
    action_names: Sequence[str] | None = None,
    where: str = "check_trajectories",
    world_name: str = "world",
) -> None:
    """Raise :class:`ImpossibleStepError` at the first step nothing can explain.

    Checks every real step (``mask`` True) of one trajectory or a padded batch:

    * indices: actions ``>= 0`` and, given ``world`` or ``log_policies``, states
      and actions inside their ranges;
    * ``world``: the recorded move ``s_t -> s_t+1`` has probability > 0 (not
      through a wall);
    * ``log_policies`` ``[..., S, A]``: some hypothesis takes the action;
    * ``agent`` (with ``agent_params``, ``agent_state``): the agent gives the
      action a probability that is neither 0 nor NaN.

    Host-side: call it on the data at a boundary (before fitting or inference),
    not inside ``jit``; :func:`first_impossible_step` and
    :func:`first_impossible_transition` are the jittable counterparts.
    :func:`pinfer.inverse.infer_goals` runs it on concrete inputs itself.

    Args:
        trajectories: a :class:`Trajectory` (one, or a padded batch with a leading
            axis), or a tuple ``(states, actions)`` / ``(states, actions, mask)``
            of arrays: states ``[T + 1]`` (or ``[T]``: no move checks), actions and
            mask ``[T]``; or ``[N, T + 1]``, ``[N, T]`` for a batch.
        world: the world's ``TabularMDP``: index ranges and recorded moves.
        agent: an agent whose action probabilities are checked.
        agent_params: the agent's parameters (shared by all trajectories).
        agent_state: the agent state before the first step (default
            ``agent.init``; see :func:`pinfer.agents.step_log_likelihoods`).
        log_policies: ``[..., S, A]`` log-policies of a set of hypotheses (e.g.
            from :func:`pinfer.inverse.goal_log_policies`).
        action_names: names of the actions for the message (e.g. ``ACTION_NAMES``).
        where: the function named at the head of every message; a public function
            that checks its data on the caller's behalf passes its own name
            (``infer_goals`` does).
        world_name: the name the messages give ``world`` (that caller's name for
            its argument, e.g. ``"mdp"``).

    Raises:
        ImpossibleStepError: (a ``ValueError``) naming the trajectory, step, state,
            action and next state of the first impossible step, and how many
            trajectories have one.
        TypeError, ValueError: for arrays of the wrong shape or dtype.

    Example:
        >>> world = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                    jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> check_trajectories((jnp.array([0, 1, 2]), jnp.array([1, 1])), world=world)
        >>> batch = pad_trajectories([([0, 1], [1]), ([0, 2], [1])])
        >>> check_trajectories(batch, world=world, action_names=("left", "right"))
        Traceback (most recent call last):
        ...
        pinfer.agents.ImpossibleStepError: check_trajectories: trajectory 1, step 0: the move from state 0 to state 2 with action 'right' (1) has probability 0 in the world model (`world.transition[0, 1, 2]` = 0), e.g. a move through a wall. Fix the data or its state numbering, or set the step's mask to False. (1 of 2 trajectories have an impossible step.)
        >>> check_trajectories(batch, agent=RandomAgent(1), agent_params=None)
        Traceback (most recent call last):
        ...
        pinfer.agents.ImpossibleStepError: check_trajectories: trajectory 0, step 0: action 1 from state 0 has probability 0 under the model (log-probability -inf). (2 of 2 trajectories have an impossible step.)
    """  # noqa: E501
    tabular = world is not None or log_policies is not None
    steps = as_steps(trajectories, where, tabular)
    firsts = find_problems(
        steps,
        world=world,
        agent=agent,
        agent_params=agent_params,
        agent_state=agent_state,
        log_policies=log_policies,
        where=where,
    )
    sizes = _sizes(world, log_policies)

    def log_probs(n):
        one = Trajectory(
            jax.tree.map(lambda leaf: jnp.asarray(leaf[n]), steps.obs),
            jnp.asarray(steps.actions[n]),
            jnp.zeros(steps.actions.shape[1]),
            jnp.asarray(steps.mask[n]),
        )
        return np.asarray(_step_log_likelihoods(agent, agent_params, one, agent_state))

    raise_first(
        steps,
        firsts,
        where=where,
        world_name=world_name,
        action_names=action_names,
        num_states=sizes[0],
        num_actions=sizes[1],
        log_prob_fn=log_probs,
    )


def _sizes(world, log_policies) -> tuple[int | None, int | None]:
    if world is not None:
        return world.num_states, world.num_actions
    if log_policies is not None:
        return tuple(jnp.shape(log_policies)[-2:])
    return None, None
