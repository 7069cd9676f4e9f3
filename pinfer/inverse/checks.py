"""Boundary checks of inverse planning: observed steps, goals and hypotheses.

The inference kernels stay lean; what can be checked on concrete inputs is checked
once, on the host, before tracing:

    world       one TabularMDP (not a batch of layouts)
    steps       check_trajectories (from pinfer.agents, re-exported here): indices
                in range, no move the world forbids (e.g. through a wall)
    goals       each candidate goal can be entered from another state (it is not a
                wall) and can be reached from where each trajectory starts, moving
                only through non-terminal states (a terminal state ends the episode)
    hypotheses  goals whose log-policies agree (up to float rounding) at every
                (beta, budget) on every state the agent can reach cannot be told
                apart by any data: their posterior ratio stays at the prior ratio.
                A warning (IndistinguishableHypothesesWarning) lists them.

Reachability is a breadth-first search on the graph ``s -> s'`` of moves with
positive probability out of non-terminal states (``scipy.sparse.csgraph``), built
from the world's ``successors`` table when it has one, else from ``transition``.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.agents import check_trajectories
from pinfer.planning import TabularMDP
from pinfer.types import Array
from pinfer.validation import (
    check_array,
    check_indices,
    check_type,
    concrete,
    is_traced,
)

__all__ = ["IndistinguishableHypothesesWarning", "check_trajectories"]

# Two log-probabilities are "equal" when they differ by at most this many float
# epsilons of their magnitude: the rounding of one planning run, not a difference
# any amount of data could resolve.
_EQUAL_EPS = 8


class IndistinguishableHypothesesWarning(UserWarning):
    """Some goals of an inverse-planning grid predict the same behaviour everywhere
    the agent can go, so no data can separate them (their posterior ratio stays at
    the prior ratio). Typical causes: ``goal_value=0`` in a world where every goal
    cell is terminal (``make_gridworld``'s ``goals_terminal=True``), a duplicated
    goal, or only ``beta = 0`` / budget 0 in the grid.

    Example:
        >>> import warnings
        >>> from pinfer.inverse import infer_goals
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     _ = infer_goals(line, jnp.array([0, 2]), jnp.array([0.0]), 0.9,
        ...                     jnp.array([1, 2]), jnp.array([1]), jnp.array([True]))
        >>> caught[0].category.__name__
        'IndistinguishableHypothesesWarning'
        >>> "goal 0 (state 0) and goal 1 (state 2)" in str(caught[0].message)
        True
    """


@jax.jit
def _adjacency(transition):
    return jnp.any(transition > 0, axis=1)


def move_graph(mdp: TabularMDP, extra_sources=None):
    """CSR graph of moves ``s -> s'`` (``s != s'``) out of non-terminal states.

    With ``extra_sources``, one more node (index ``S``) has an edge to each of them
    (a single search then starts from all of them).
    """
    from scipy import sparse

    num_states = mdp.num_states
    successors = getattr(mdp, "successors", None)
    if successors is not None:
        table = np.asarray(successors)
        rows = np.repeat(np.arange(num_states), table.shape[1])
        cols = table.ravel()
    else:
        rows, cols = np.nonzero(np.asarray(_adjacency(mdp.transition)))
    keep = (rows != cols) & ~np.asarray(mdp.terminal)[rows]
    rows, cols = rows[keep], cols[keep]
    size = num_states
    if extra_sources is not None:
        sources = np.unique(np.asarray(extra_sources))
        rows = np.concatenate([rows, np.full(sources.size, num_states)])
        cols = np.concatenate([cols, sources])
        size += 1
    data = np.ones(rows.size, bool)
    return sparse.csr_matrix((data, (rows, cols)), shape=(size, size))


def reachable_states(mdp: TabularMDP, starts) -> np.ndarray:
    """``[S]`` bool: states reachable from any of ``starts`` (starts included)."""
    from scipy.sparse import csgraph

    graph = move_graph(mdp, extra_sources=starts)
    order = csgraph.breadth_first_order(
        graph, mdp.num_states, directed=True, return_predecessors=False
    )
    reached = np.zeros(mdp.num_states + 1, bool)
    reached[order] = True
    return reached[:-1]


def check_world(mdp, where: str) -> TabularMDP:
    """``mdp`` is one :class:`TabularMDP` (not an environment, not a batch)."""
    check_type(
        mdp,
        "mdp",
        TabularMDP,
        where=where,
        hint="A world's model, e.g. env.tabular_mdp(params).",
    )
    if jnp.ndim(mdp.transition) != 3:
        raise ValueError(
            f"{where}: `mdp` must be one world with transition [S, A, S], got shape "
            f"{tuple(jnp.shape(mdp.transition))}. jax.vmap over layouts for a batch."
        )
    return mdp


def check_world_goals(mdp, goal_states, *, where: str) -> Array:
    """The world and its candidate goals ``[G]``: integer states, at least one, in
    range and (when concrete) each enterable from another state; returns them."""
    check_world(mdp, where)
    goal_states = check_array(
        goal_states,
        "goal_states",
        where=where,
        ndim=1,
        dtype="int",
        hint="One state index per candidate goal.",
    )
    if goal_states.shape[0] == 0:
        raise ValueError(
            f"{where}: `goal_states` must hold at least one goal, got shape (0,); "
            "without a goal the agent has nothing to plan for."
        )
    check_indices(goal_states, "goal_states", mdp.num_states, where=where, what="state")
    if concrete(goal_states) is not None and not is_traced(mdp):
        check_goals(mdp, goal_states, where=where)  # none on a wall
    return goal_states


def check_goals(mdp: TabularMDP, goal_states, starts=None, *, where: str) -> None:
    """Raise a ``ValueError`` for a goal no other state can enter, or one not
    reachable from a trajectory's start (concrete inputs; ``starts`` maps the
    trajectory index to its first observed state, or is None)."""
    from scipy.sparse import csgraph

    goals = np.asarray(goal_states)
    graph = move_graph(mdp)
    entered = np.asarray(graph.sum(axis=0)).ravel() > 0
    for position, goal in enumerate(goals):
        if not entered[goal]:
            raise ValueError(
                f"{where}: `goal_states` holds {goal} at position {position}, a state "
                "no other state can enter (a wall, or a cell cut off from the rest "
                "of the world): no agent could walk to it. Remove it from the "
                "candidate goals."
            )
    if starts is None:
        return
    starts = np.asarray(starts)
    terminal = np.asarray(mdp.terminal)
    reversed_graph = graph.T.tocsr()
    for position, goal in enumerate(goals):
        order = csgraph.breadth_first_order(
            reversed_graph, int(goal), directed=True, return_predecessors=False
        )
        can_reach = np.zeros(mdp.num_states, bool)
        can_reach[order] = True
        stuck = ~can_reach[starts] & ~terminal[starts]
        if stuck.any():
            trajectory = int(np.argmax(stuck))
            raise ValueError(
                f"{where}: `goal_states` holds {goal} at position {position}, "
                f"which cannot be reached from state {starts[trajectory]}, where "
                f"trajectory {trajectory} starts (walls, or terminal states, are in "
                f"the way; {int(stuck.sum())} trajectories start where it cannot be "
                "reached). Remove the goal, or those trajectories."
            )


def warn_indistinguishable(
    log_policies, goal_states, reachable=None, *, where: str
) -> None:
    """Warn when two goals have the same log-policies at every (beta, budget) on
    every ``reachable`` state (``[S]`` bool; None: all states)."""
    table = np.asarray(log_policies)  # [G, B, K, S, A]
    if reachable is not None and not np.any(reachable):
        return  # no step observed: nothing to tell goals apart on
    if reachable is not None:
        table = table[:, :, :, np.asarray(reachable)]
    table = table.reshape(table.shape[0], -1)
    finite = np.isfinite(table)
    scale = 1.0 + (np.abs(table[finite]).max() if finite.any() else 0.0)
    tolerance = _EQUAL_EPS * np.finfo(table.dtype).eps * scale
    # -inf entries (an action a policy never takes) equal only -inf.
    table = np.where(finite, table, -1e30)
    goals = np.asarray(goal_states)
    pairs = []
    for g in range(table.shape[0] - 1):
        close = np.abs(table[g + 1 :] - table[g]).max(axis=1) <= tolerance
        pairs += [(g, h) for h in g + 1 + np.flatnonzero(close)]
    if not pairs:
        return
    shown = "; ".join(
        f"goal {g} (state {goals[g]}) and goal {h} (state {goals[h]})"
        for g, h in pairs[:8]
    )
    more = f" and {len(pairs) - 8} more pairs" if len(pairs) > 8 else ""
    warnings.warn(
        f"{where}: {len(pairs)} pair(s) of goals predict the same actions at every "
        f"beta and budget on every reachable state, so no data can tell them apart "
        f"(their posterior ratio stays at the prior ratio): {shown}{more}. Causes: "
        "goal_value=0 while the world makes every goal cell terminal "
        "(make_gridworld's goals_terminal=True), a duplicated goal, or only beta 0 "
        "or budget 0.",
        IndistinguishableHypothesesWarning,
        stacklevel=3,
    )
