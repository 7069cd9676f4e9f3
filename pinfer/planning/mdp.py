"""The tabular MDP: plain data shared by environments, planners and inverse planners.

    transition[s, a, s'] = P(s' | s, a)      rows sum to one
    reward[s, a]         = E[r | s, a]        expected reward of taking a in s
    terminal[s]          = True where an episode ends (absorbing, no further reward)
    successors[s, a]     = the one s' with P(s' | s, a) = 1   (deterministic worlds)

The world owns the cost of a step: ``reward`` holds what each step costs the agent
(a ``GridWorld``'s ``step_reward``, -1 by default). Goals and reward weights are
*agent* parameters, not part of the world: a planner adds them on top of ``reward``
(a goal bonus, features x weights, and an optional *extra* ``step_cost`` the agent
adds on top of the world's, default 0). Environments produce a ``TabularMDP`` with
``tabular_mdp(params)``; nothing here imports them.

When every row of ``transition`` is one-hot, the planners replace the Bellman
expectation ``sum_s' T[s, a, s'] V[s']`` (``S`` multiply-adds per entry) by the
gather ``V[successors[s, a]]`` (one read): the same numbers, an order of magnitude
faster on grid worlds. The constructor finds ``successors`` itself from a concrete
table; see :class:`TabularMDP`.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import (
    check_array,
    check_finite,
    check_indices,
    check_range,
    check_scalar,
    check_type,
    concrete,
)

__all__ = ["TabularMDP", "validate_mdp"]

_AXES = ("state", "action", "next state")
_CHUNK = 1 << 22  # entries of the table scanned at once (bounds the temporaries)


class TabularMDP(eqx.Module):
    """A finite MDP as arrays (a pytree: batch layouts with ``vmap``).

    Attributes:
        transition: ``[S, A, S]`` float transition probabilities.
        reward: ``[S, A]`` expected immediate reward (the world's cost of a step
            included, e.g. -1 per move).
        terminal: ``[S]`` bool, absorbing states where the episode ends.
        successors: ``[S, A]`` int next state of each move when every row of
            ``transition`` is one-hot, else ``None``. Planners then gather
            ``V[successors]`` instead of summing over ``transition``.

    ``TabularMDP(transition, reward, terminal)`` checks shapes and dtypes (also on
    traced arrays). On concrete arrays it also checks the values (finite rewards,
    rows in ``[0, 1]`` summing to one) and fills ``successors`` when every row is
    one-hot. Built from traced arrays (inside ``jit`` or ``vmap``) ``successors``
    stays ``None`` unless given: pass ``successors=`` to keep the fast planner
    there. MDPs derived from this one (:func:`pinfer.planning.goal_reward`,
    :func:`~pinfer.planning.with_reward`, ``eqx.tree_at`` on ``reward``) keep
    ``successors``. If you replace ``transition`` with ``eqx.tree_at``, replace
    ``successors`` with it (or build a new ``TabularMDP``). Derivatives with respect
    to ``transition`` are exact either way. Whether ``successors`` is set is part
    of the pytree's structure: a jitted function traces once for each, and stacking
    MDPs (``jax.tree.map`` of ``jnp.stack``) needs all of them with, or all without,
    ``successors``. To drop it (plan densely): ``eqx.tree_at(lambda m:
    m.successors, mdp, None, is_leaf=lambda x: x is None)``.

    Example:
        >>> mdp = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                  jnp.array([False, True]))
        >>> mdp.num_states, mdp.num_actions, mdp.successors is None
        (2, 1, True)
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> line.successors.tolist()  # deterministic: found from the one-hot rows
        [[0, 1], [0, 2], [1, 2]]
    """

    transition: Float[Array, "S A S"]
    reward: Float[Array, "S A"]
    terminal: Bool[Array, "S"]
    successors: Int[Array, "S A"] | None

    def __init__(self, transition, reward, terminal, successors=None):
        where = "TabularMDP"
        given = transition  # its values as given go into error messages
        transition = check_array(
            transition,
            "transition",
            where=where,
            ndim=3,
            dtype="float",
            hint="Index it as transition[state, action, next_state].",
        )
        num_states, num_actions, num_next = transition.shape
        if num_next != num_states or num_states == 0 or num_actions == 0:
            raise ValueError(
                f"{where}: `transition` must have shape [S, A, S] with S, A >= 1, got "
                f"{list(transition.shape)}. Index it as "
                "transition[state, action, next_state]."
            )
        reward = check_array(
            reward,
            "reward",
            where=where,
            shape=(num_states, num_actions),
            dtype="number",
            hint=f"One expected reward per state and action, to match transition "
            f"{list(transition.shape)}.",
        )
        terminal = check_array(
            terminal,
            "terminal",
            where=where,
            shape=(num_states,),
            dtype="bool",
            hint="One flag per state, True where an episode ends.",
        )
        check_finite(reward, "reward", where=where, axes=("state", "action"))
        if successors is not None:
            successors = _check_successors(successors, num_states, num_actions, where)
        table = concrete(given)
        if table is not None:
            found = _scan_transition(table, _row_atol(table.dtype), where)
            successors = _agree(found, successors, table, where)
        self.transition = transition
        self.reward = reward
        self.terminal = terminal
        self.successors = successors

    @property
    def num_states(self) -> int:
        return self.transition.shape[-1]

    @property
    def num_actions(self) -> int:
        return self.transition.shape[-2]


def _check_successors(successors, num_states, num_actions, where):
    successors = check_array(
        successors,
        "successors",
        where=where,
        shape=(num_states, num_actions),
        dtype="int",
        hint="successors[state, action] is the next state of a deterministic move.",
    )
    check_indices(
        successors,
        "successors",
        num_states,
        where=where,
        axes=("state", "action"),
        what="state",
    )
    return successors


def _row_atol(dtype) -> float:
    # Rows built in low precision (float16) sum to one only to a few eps.
    return max(1e-5, 8 * float(np.finfo(dtype).eps))


def _scan_transition(table: np.ndarray, atol: float, where: str) -> np.ndarray | None:
    """Check a concrete ``[S, A, S]`` table; its successors if every row is one-hot.

    Raises a ``ValueError`` at the first NaN, the first entry outside ``[0, 1]`` or
    the first row whose sum is off one by more than ``atol``. Scans the table in
    chunks of states (host memory stays bounded for large worlds).
    """
    num_states = table.shape[0]
    step = max(1, _CHUNK // max(1, table[0].size))
    successors = np.empty(table.shape[:2], np.int32)
    deterministic = True
    for start in range(0, num_states, step):
        block = table[start : start + step]
        low, high = block.min(), block.max()  # NaN propagates into both
        sums = block.sum(axis=-1)
        if not (low >= 0 and high <= 1) or np.any(np.abs(sums - 1) > atol):
            _raise_bad_table(table, atol, where)
        if deterministic:
            best = block.argmax(axis=-1)
            at_best = np.take_along_axis(block, best[..., None], axis=-1)[..., 0]
            deterministic = bool(
                np.all(at_best == 1) and np.all(np.count_nonzero(block, axis=-1) == 1)
            )
            successors[start : start + step] = best
    return successors if deterministic else None


def _raise_bad_table(table: np.ndarray, atol: float, where: str) -> None:
    check_finite(table, "transition", where=where, axes=_AXES)
    check_range(
        table,
        "transition",
        where=where,
        low=0.0,
        high=1.0,
        axes=_AXES,
        hint="Transition probabilities lie in [0, 1].",
    )
    sums = table.sum(axis=-1, dtype=np.float64)
    bad = np.argwhere(np.abs(sums - 1.0) > atol)
    s, a = bad[0]
    raise ValueError(
        f"{where}: `transition` rows must sum to 1, got {sums[s, a]:.6g} at state "
        f"{s}, action {a} ({len(bad)} rows are off). Normalise each row over next "
        "states."
    )


def _agree(found, given, table, where: str):
    """The successors to keep: the ones found, checked against the ones given."""
    if given is None:
        return None if found is None else jnp.asarray(found)
    given_host = concrete(given)
    if found is None:
        ones = np.count_nonzero(table, axis=-1) != 1
        s, a = np.argwhere(ones | (table.max(axis=-1) != 1))[0]
        raise ValueError(
            f"{where}: `successors` is given but the move from state {s} with action "
            f"{a} is not deterministic (transition[{s}, {a}] is not one-hot). Pass "
            "successors only for worlds whose every move has one outcome."
        )
    if given_host is not None and not np.array_equal(given_host, found):
        s, a = np.argwhere(given_host != found)[0]
        raise ValueError(
            f"{where}: `successors` holds {given_host[s, a]} at state {s}, action {a}, "
            f"but transition[{s}, {a}] moves to state {found[s, a]}. Leave "
            "successors out: it is found from the table."
        )
    return given


def validate_mdp(mdp: TabularMDP, atol: Float[Array, ""] | float = 1e-5) -> TabularMDP:
    """Check (eagerly, on concrete arrays) that ``mdp`` is a proper stochastic MDP.

    The constructor runs the same checks on concrete arrays; call this at a boundary
    for an MDP built inside ``jit`` or assembled leaf by leaf (``eqx.tree_at``), or
    with a tolerance of your own. Raises a ``ValueError`` naming the first offending
    entry when ``transition`` has NaNs or entries outside ``[0, 1]``, a row does not
    sum to one within ``atol``, rewards are not finite, or ``successors`` does not
    match ``transition``. Returns ``mdp`` unchanged so it can be chained.

    Args:
        mdp: one ``TabularMDP`` of concrete arrays.
        atol: tolerance ``>= 0`` on each row's sum.

    Returns:
        ``mdp``.

    Example:
        >>> validate_mdp(TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                         jnp.array([False, True]))).num_states
        2
    """
    where = "validate_mdp"
    check_type(mdp, "mdp", TabularMDP, where=where)
    check_scalar(atol, "atol", where=where, low=0.0, high=np.inf, high_open=True)
    table = concrete(mdp.transition)
    if table is None or concrete(mdp.reward) is None:
        raise ValueError(
            f"{where}: `mdp` must hold concrete arrays, got traced ones (inside jit "
            "or vmap). Validate the MDP before the transformation."
        )
    if table.ndim != 3:
        raise ValueError(
            f"{where}: `mdp` must be one MDP, got a batch with transition shape "
            f"{table.shape}; validate each layout separately (e.g. a Python loop "
            "over the batch)."
        )
    found = _scan_transition(table, float(atol), where)
    check_finite(mdp.reward, "mdp.reward", where=where, axes=("state", "action"))
    if mdp.successors is not None:
        _agree(found, mdp.successors, table, where)
    return mdp


def move_probability(mdp: TabularMDP, states, actions, next_states) -> Array:
    """``P(s' | s, a)`` for arrays of moves (broadcast together); 0 where an index
    is out of range.

    A gather from ``mdp.transition`` (differentiable in it), never a wrap-around
    or a clipped index: the kernel-side test of a recorded move (used by the
    trajectory checks of :mod:`pinfer.agents` and by :mod:`pinfer.inverse`).

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> move_probability(line, jnp.array([0, 0, 0]), jnp.array([1, 1, 5]),
        ...                  jnp.array([1, 2, 1]))
        Array([1., 0., 0.], dtype=float32)
    """
    return mdp.transition.at[states, actions, next_states].get(
        mode="fill", fill_value=0.0, wrap_negative_indices=False
    )
