"""Locating the first step of observed trajectories that nothing can explain.

The machinery behind :func:`pinfer.agents.check_trajectories` (which
:func:`pinfer.inverse.infer_goals` calls under its own name). Every step
``(s_t, a_t, s_t+1)`` with ``mask[t]`` is checked for, in this order of precedence:

    index        s_t, a_t or s_t+1 outside the world's (or table's) index range
    transition   P(s_t+1 | s_t, a_t) = 0 in the world (e.g. a move through a wall)
    policy       log_policies[..., s_t, a_t] = -inf for every hypothesis
    agent        log pi(a_t | s_t) = -inf (or NaN) under the agent

and the first offending step of the first offending trajectory becomes an
:class:`ImpossibleStepError` naming the trajectory, step, state, action and next
state. Host-side: the arrays must be concrete.
"""

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.agents.base import Trajectory
from pinfer.agents.loop import step_log_likelihoods
from pinfer.planning import TabularMDP
from pinfer.planning.mdp import move_probability
from pinfer.validation import check_array, check_finite, check_type, is_traced

KINDS = ("index", "transition", "policy", "agent")
_NONE = np.iinfo(np.int32).max


class ImpossibleStepError(ValueError):
    """An observed step has probability 0 under the model (or is not a step at all).

    Attributes:
        trajectory: index in the batch (None for a single trajectory).
        step: the step index ``t``.
        state: ``s_t``; ``action``: ``a_t``; ``next_state``: ``s_t+1`` (None when
            only ``T`` states were given).
        kind: ``"index"`` (a state or action outside its range), ``"transition"``
            (the world cannot move from ``state`` to ``next_state`` with
            ``action``), ``"policy"`` (no hypothesis takes ``action``) or
            ``"action"`` (the agent never takes it).
    """

    def __init__(self, message, *, trajectory, step, state, action, next_state, kind):
        super().__init__(message)
        self.trajectory = trajectory
        self.step = step
        self.state = state
        self.action = action
        self.next_state = next_state
        self.kind = kind


ImpossibleStepError.__module__ = "pinfer.agents"


class Steps(NamedTuple):
    """Observed steps with a leading batch axis, and how the user named them."""

    obs: object  # [N, T + 1, ...] (or [N, T] tabular states without next states)
    actions: np.ndarray  # [N, T]
    mask: np.ndarray  # [N, T] bool
    single: bool
    names: tuple[str, str, str]  # states, actions, mask


def as_steps(trajectories, where: str, tabular: bool) -> Steps:
    """Validate the shapes and dtypes of a ``Trajectory`` or a tuple of arrays."""
    if isinstance(trajectories, Trajectory):
        obs, actions, mask = trajectories.obs, trajectories.actions, trajectories.mask
        names = ("trajectories.obs", "trajectories.actions", "trajectories.mask")
    elif isinstance(trajectories, (tuple, list)) and len(trajectories) in (2, 3):
        obs, actions = trajectories[0], trajectories[1]
        mask = trajectories[2] if len(trajectories) == 3 else None
        names = ("states", "actions", "mask")
    else:
        raise TypeError(
            f"{where}: `trajectories` must be a Trajectory (see pad_trajectories) or "
            f"a tuple (states, actions) or (states, actions, mask), got "
            f"{type(trajectories).__name__}."
        )
    if is_traced((obs, actions, mask)):
        raise TypeError(
            f"{where} checks concrete arrays, on the host, got traced ones (inside "
            "jit or vmap). Call it on the data before the jitted code; inside jit use "
            "first_impossible_step / first_impossible_transition."
        )
    hint = "Pass [T] for one trajectory or [N, T] for a batch."
    actions = check_array(actions, names[1], where=where, ndim=(1, 2), dtype="int")
    actions = np.asarray(actions)
    if mask is None:
        mask = np.ones(actions.shape, bool)
    mask = check_array(mask, names[2], where=where, shape=actions.shape, dtype="bool")
    lead, num_steps = actions.shape[:-1], actions.shape[-1]
    if tabular:
        obs = np.asarray(check_array(obs, names[0], where=where, dtype="int"))
        lengths = (
            (num_steps + 1,)
            if isinstance(trajectories, Trajectory)
            else (
                num_steps + 1,
                num_steps,
            )
        )
        if obs.shape not in tuple((*lead, n) for n in lengths):
            raise ValueError(
                f"{where}: `{names[0]}` must have shape [{', '.join(['N'] * len(lead))}"
                f"{', ' if lead else ''}T + 1] = {[*lead, num_steps + 1]} (the visited "
                f"states, the last one where the last action led) to match "
                f"`{names[1]}` {list(actions.shape)}, got {list(obs.shape)}. {hint}"
            )
    else:
        obs = jax.tree.map(np.asarray, obs)
        for leaf in jax.tree.leaves(obs):
            if jnp.shape(leaf)[: len(lead) + 1] != (*lead, num_steps + 1):
                raise ValueError(
                    f"{where}: {num_steps} actions need {num_steps + 1} observations "
                    f"(one before each action and one after the last), got "
                    f"`{names[0]}` of shape {jnp.shape(leaf)}."
                )
    single = not lead
    if single:
        obs = jax.tree.map(lambda leaf: leaf[None], obs)
        actions, mask = actions[None], np.asarray(mask)[None]
    return Steps(obs, actions, np.asarray(mask), single, names)


def _first(bad: np.ndarray) -> np.ndarray:
    """First True step per trajectory (``_NONE`` where none)."""
    return np.where(bad.any(axis=1), np.argmax(bad, axis=1), _NONE)


def _index_problems(steps: Steps, num_states, num_actions) -> np.ndarray:
    states, actions, mask = steps.obs, steps.actions, steps.mask
    bad = actions < 0
    if num_actions is not None:
        bad |= actions >= num_actions
    if num_states is not None:
        here = states[:, : actions.shape[1]]
        bad |= (here < 0) | (here >= num_states)
        if states.shape[1] > actions.shape[1]:
            there = states[:, 1:]
            bad |= (there < 0) | (there >= num_states)
    return mask & bad


@jax.jit
def _move_probabilities(world, states, actions, next_states):
    return move_probability(world, states, actions, next_states)


@jax.jit
def _allowed(log_policies):
    flat = log_policies.reshape(-1, *log_policies.shape[-2:])
    return jnp.any(flat > -jnp.inf, axis=0)


_agent_first = jax.jit(
    jax.vmap(
        lambda agent, params, traj, agent_state: _first_agent(
            agent, params, traj, agent_state
        ),
        in_axes=(None, None, 0, None),
    )
)


def _first_agent(agent, agent_params, trajectory, agent_state):
    log_probs = step_log_likelihoods(agent, agent_params, trajectory, agent_state)
    bad = trajectory.mask & ~(log_probs > -jnp.inf)
    return jnp.where(jnp.any(bad), jnp.argmax(bad), -1).astype(jnp.int32)


def _check_log_policies(log_policies, where: str, num_states, num_actions):
    table = check_array(log_policies, "log_policies", where=where, dtype="float")
    if table.ndim < 2 or (
        num_states is not None and tuple(table.shape[-2:]) != (num_states, num_actions)
    ):
        want = (
            "[..., S, A]"
            if num_states is None
            else (
                f"[..., S, A] = [..., {num_states}, {num_actions}] to match the world"
            )
        )
        raise ValueError(
            f"{where}: `log_policies` must have shape {want}, got {list(table.shape)}."
        )
    check_finite(table, "log_policies", where=where, allow_neg_inf=True)
    top = float(jnp.max(table))
    if top > 0:
        raise ValueError(
            f"{where}: `log_policies` must hold log-probabilities (<= 0), got {top}. "
            "Pass log-policies (e.g. from goal_log_policies), not Q-values."
        )
    return table


def find_problems(
    steps: Steps,
    *,
    world=None,
    agent=None,
    agent_params=None,
    agent_state=None,
    log_policies=None,
    num_states=None,
    num_actions=None,
    where: str = "check_trajectories",
) -> dict[str, np.ndarray]:
    """``{kind: first bad step of each trajectory}`` (``_NONE`` where none)."""
    if world is not None:
        check_type(world, "world", TabularMDP, where=where)
        num_states, num_actions = world.num_states, world.num_actions
    if log_policies is not None:
        with jax.ensure_compile_time_eval():
            log_policies = _check_log_policies(
                log_policies, where, num_states, num_actions
            )
        num_states, num_actions = log_policies.shape[-2:]
    firsts = {kind: np.full(steps.actions.shape[0], _NONE) for kind in KINDS}
    if steps.actions.shape[1] == 0:
        return firsts
    firsts["index"] = _first(_index_problems(steps, num_states, num_actions))
    tabular = world is not None or log_policies is not None
    if tabular:
        size = np.int64(num_states)
        here = np.clip(steps.obs[:, : steps.actions.shape[1]], 0, size - 1)
        taken = np.clip(steps.actions, 0, num_actions - 1)
    if world is not None and steps.obs.shape[1] > steps.actions.shape[1]:
        # Concrete inputs are computed on now, also inside a user's ``jit``
        # (data captured from outside it).
        with jax.ensure_compile_time_eval():
            probs = _move_probabilities(world, here, taken, steps.obs[:, 1:])
        firsts["transition"] = _first(steps.mask & ~(np.asarray(probs) > 0))
    if log_policies is not None:
        with jax.ensure_compile_time_eval():
            allowed = np.asarray(_allowed(log_policies))
        firsts["policy"] = _first(steps.mask & ~allowed[here, taken])
    if agent is not None:
        batch = Trajectory(
            jax.tree.map(jnp.asarray, steps.obs),
            jnp.asarray(steps.actions),
            jnp.zeros(steps.actions.shape),
            jnp.asarray(steps.mask),
        )
        found = np.asarray(_agent_first(agent, agent_params, batch, agent_state))
        firsts["agent"] = np.where(found >= 0, found, _NONE)
    return firsts


def _show(value) -> str:
    value = np.asarray(value)
    return str(value.item()) if value.ndim == 0 else str(value.tolist())


def describe_action(action: int, action_names: Sequence[str] | None) -> str:
    if action_names is None:
        return f"action {action}"
    if 0 <= action < len(action_names):
        return f"action {action_names[action]!r} ({action})"
    return f"action {action} (outside 0..{len(action_names) - 1})"


def _index_message(steps, n, t, position, num_states, num_actions) -> str:
    states, actions = steps.obs[n], steps.actions[n]
    entries = [(steps.names[0], states[t], "state", num_states, t)]
    entries.append((steps.names[1], actions[t], "action", num_actions, t))
    if states.shape[0] > actions.shape[0]:
        entries.append((steps.names[0], states[t + 1], "state", num_states, t + 1))
    for name, value, what, size, at in entries:
        if value < 0 or (size is not None and value >= size):
            rule = (
                "a negative index"
                if size is None
                else f"not {what_a(what)} in 0..{size - 1}"
            )
            at_position = position if at == t else f"{position} (its next state)"
            return f"`{name}` holds {value} at {at_position}, which is {rule}."
    raise AssertionError("no index problem at the reported step")


def what_a(what: str) -> str:
    return f"{'an' if what[0] in 'aeiou' else 'a'} {what}"


def raise_first(
    steps: Steps,
    firsts: dict[str, np.ndarray],
    *,
    where: str | None = None,
    world_name: str = "world",
    action_names: Sequence[str] | None = None,
    num_states=None,
    num_actions=None,
    log_prob_fn=None,
) -> None:
    """Raise an :class:`ImpossibleStepError` for the first problem, if any.

    ``log_prob_fn(n)`` gives the agent's per-step log-probabilities of trajectory
    ``n`` (to tell -inf from NaN).
    """
    stacked = np.stack([firsts[kind] for kind in KINDS])  # [kinds, N]
    first = stacked.min(axis=0)
    bad = first < _NONE
    if not bad.any():
        return
    n = int(np.argmax(bad))
    t = int(first[n])
    kind = KINDS[int(np.argmax(stacked[:, n] == t))]
    position = f"step {t}" if steps.single else f"trajectory {n}, step {t}"
    action = int(steps.actions[n, t])
    state = jax.tree.map(lambda leaf: leaf[n, t], steps.obs)
    has_next = all(
        leaf.shape[1] > steps.actions.shape[1] for leaf in jax.tree.leaves(steps.obs)
    )
    next_state = (
        jax.tree.map(lambda leaf: leaf[n, t + 1], steps.obs) if has_next else None
    )
    move = describe_action(action, action_names)
    if kind == "index":
        problem = _index_message(steps, n, t, position, num_states, num_actions)
        problem += " Fix the data, or set the step's mask to False for padding."
    elif kind == "transition":
        s, s2 = _show(state), _show(next_state)
        problem = (
            f"{position}: the move from state {s} to state {s2} with {move} has "
            f"probability 0 in the world model (`{world_name}.transition[{s}, "
            f"{action}, {s2}]` = 0), e.g. a move through a wall. Fix the data or its "
            "state numbering, or set the step's mask to False."
        )
    elif kind == "policy":
        problem = (
            f"{position}: {move} in state {_show(state)} has probability 0 under "
            "every hypothesis of `log_policies`. No hypothesis explains it: widen "
            "the hypothesis space (e.g. a lapse rate) or mask the step out."
        )
    else:
        nan = log_prob_fn is not None and np.isnan(log_prob_fn(n)[t])
        problem = (
            f"{position}: {move} from state {_show(state)} has log-probability NaN "
            "under the model: check the model's parameters and rewards for inf or "
            "NaN."
            if nan
            else f"{position}: {move} from state {_show(state)} has probability 0 "
            "under the model (log-probability -inf)."
        )
    message = (f"{where}: " if where else "") + problem
    if not steps.single:
        message += (
            f" ({int(bad.sum())} of {bad.size} trajectories have an impossible step.)"
        )
    raise ImpossibleStepError(
        message,
        trajectory=None if steps.single else n,
        step=t,
        state=state,
        action=action,
        next_state=next_state,
        kind="action" if kind == "agent" else kind,
    )
