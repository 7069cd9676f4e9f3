"""Boundary checks for observed trajectories before exact inverse planning.

The inference kernels stay lean: an impossible step only turns the evidence to
``-inf`` (see :mod:`pinfer.inverse.exact`). Data loaded from experiments should be
checked once, eagerly, so that a bad step is reported where it is, not discovered as
a flat posterior later:

    for every trajectory n and observed step t (mask[n, t]):
        s, a, s' = states[n, t], actions[n, t], states[n, t + 1]
        s, a, s' must be valid indices
        transition[s, a, s'] > 0                      # e.g. not through a wall
        max_h log_policies[h, s, a] > -inf            # some hypothesis allows a

The first offending step is reported with its trajectory, step and move. Each step
is checked on its own: steps that are each allowed by some hypothesis but by no
single hypothesis together pass here and show up as ``log_evidence = -inf`` in the
kernel.
"""

from collections.abc import Sequence

import numpy as np

from pinfer.planning import TabularMDP
from pinfer.types import Array, Bool, Float, Int

__all__ = ["check_trajectories"]


def _as_batch(states, actions, mask):
    states, actions = np.asarray(states), np.asarray(actions)
    if actions.ndim == 1:
        states, actions = states[None], actions[None]
        mask = None if mask is None else np.asarray(mask)[None]
    if actions.ndim != 2:
        raise ValueError(
            f"actions must have shape [T] (one trajectory) or [N, T] (a batch), got "
            f"{actions.shape}."
        )
    num, steps = actions.shape
    if states.shape not in ((num, steps), (num, steps + 1)):
        raise ValueError(
            f"states must have shape [N, T + 1] = [{num}, {steps + 1}] (visited "
            f"states) or [N, T] = [{num}, {steps}] to match actions {actions.shape}, "
            f"got {states.shape}."
        )
    mask = np.ones(actions.shape, bool) if mask is None else np.asarray(mask)
    if mask.shape != actions.shape:
        raise ValueError(
            f"mask must have the shape of actions {actions.shape}, got {mask.shape}."
        )
    return states, actions, mask.astype(bool)


def _describe(action: int, action_names: Sequence[str] | None) -> str:
    if action_names is None:
        return f"action {action}"
    return f"action {action} ({action_names[action]!r})"


def _raise_first(bad: np.ndarray, what: str, moves: list[str], fix: str) -> None:
    where = np.argwhere(bad)
    n, t = where[0]
    more = f" ({len(where) - 1} more such steps)" if len(where) > 1 else ""
    raise ValueError(
        f"trajectory {n}, step {t}: {moves[0]} {what}{more}. {fix}"
        + (f" Next ones: {'; '.join(moves[1:4])}." if len(moves) > 1 else "")
    )


def _check_indices(states, actions, mask, num_states, num_actions) -> None:
    for name, values, size in (
        ("state", states[:, : actions.shape[1]], num_states),
        ("action", actions, num_actions),
    ):
        bad = mask & ((values < 0) | (values >= size))
        if bad.any():
            n, t = np.argwhere(bad)[0]
            raise ValueError(
                f"trajectory {n}, step {t}: {name} {values[n, t]} is not a {name} "
                f"index in [0, {size}). Fix the data, or set mask[{n}, {t}] = False "
                "for padding."
            )
    if states.shape[1] > actions.shape[1]:
        next_states = states[:, 1:]
        bad = mask & ((next_states < 0) | (next_states >= num_states))
        if bad.any():
            n, t = np.argwhere(bad)[0]
            raise ValueError(
                f"trajectory {n}, step {t}: the next state {next_states[n, t]} is "
                f"not a state index in [0, {num_states})."
            )


def check_trajectories(
    mdp: TabularMDP,
    states: Int[Array, "N T1"],
    actions: Int[Array, "N T"],
    mask: Bool[Array, "N T"] | None = None,
    log_policies: Float[Array, "... S A"] | None = None,
    action_names: Sequence[str] | None = None,
) -> None:
    """Raise a ``ValueError`` naming the first impossible step of any trajectory.

    Eager (NumPy); call it once on loaded data, not inside ``jit``. A step is
    impossible when its indices are out of range, when the transition model gives
    the observed move probability zero (for example a move through a wall), or
    when every hypothesis in ``log_policies`` gives the action probability zero.

    Args:
        mdp: the world (one layout; loop over layouts for a batch).
        states: ``[N, T + 1]`` visited states (or ``[N, T]``: transitions are not
            checked); a single trajectory ``[T + 1]`` works too.
        actions: ``[N, T]`` (or ``[T]``) actions.
        mask: ``[N, T]`` True for observed steps (default: all observed).
        log_policies: optional ``[..., S, A]`` log-policies of the hypotheses
            (e.g. from :func:`pinfer.inverse.goal_log_policies`).
        action_names: optional names of the actions, used in the message.

    Raises:
        ValueError: naming the trajectory, the step, the state, the action and the
            next state of the first impossible step, and how many there are.

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> check_trajectories(line, jnp.array([[0, 1, 2]]), jnp.array([[1, 1]]))
        >>> check_trajectories(line, jnp.array([[0, 2]]), jnp.array([[1]]),
        ...                    action_names=["left", "right"])
        Traceback (most recent call last):
        ...
        ValueError: trajectory 0, step 0: the move from state 0 by action 1 \
('right') to state 2 has probability 0 under the transition model (for example a \
move through a wall). Fix the data or its state numbering, or set the step's mask \
to False.
    """
    states, actions, mask = _as_batch(states, actions, mask)
    transition = np.asarray(mdp.transition)
    if transition.ndim != 3:
        raise ValueError(
            f"check_trajectories takes one MDP (transition [S, A, S]), got transition "
            f"{transition.shape}; check each layout's trajectories separately."
        )
    num_states, num_actions = transition.shape[:2]
    _check_indices(states, actions, mask, num_states, num_actions)
    here = np.where(mask, states[:, : actions.shape[1]], 0)
    taken = np.where(mask, actions, 0)
    if states.shape[1] > actions.shape[1]:
        there = np.where(mask, states[:, 1:], 0)
        bad = mask & (transition[here, taken, there] <= 0)
        if bad.any():
            moves = [
                f"the move from state {here[n, t]} by "
                f"{_describe(taken[n, t], action_names)} to state {there[n, t]}"
                for n, t in np.argwhere(bad)
            ]
            _raise_first(
                bad,
                "has probability 0 under the transition model (for example a move "
                "through a wall)",
                moves,
                "Fix the data or its state numbering, or set the step's mask to False.",
            )
    if log_policies is not None:
        log_policies = np.asarray(log_policies)
        if log_policies.shape[-2:] != (num_states, num_actions):
            raise ValueError(
                f"log_policies must end in [S, A] = [{num_states}, {num_actions}] "
                f"to match the MDP, got {log_policies.shape}."
            )
        flat = log_policies.reshape(-1, num_states, num_actions)
        allowed = (flat > -np.inf).any(axis=0)
        bad = mask & ~allowed[here, taken]
        if bad.any():
            moves = [
                f"{_describe(taken[n, t], action_names)} in state {here[n, t]}"
                for n, t in np.argwhere(bad)
            ]
            _raise_first(
                bad,
                "has probability 0 under every hypothesis",
                moves,
                "No hypothesis explains it: widen the hypothesis space (e.g. a "
                "lapse rate) or mask the step out.",
            )
