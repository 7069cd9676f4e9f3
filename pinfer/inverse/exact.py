"""Exact Bayesian inverse planning: the posterior over goals, rationality and budget.

Bayesian inverse planning (Baker, Saxe and Tenenbaum, 2009, "Action understanding as
inverse planning") inverts a model of a planning agent. Every hypothesis
``h = (goal g, rationality beta, budget k)`` fixes a Boltzmann policy, so the
likelihood of any trajectory is a lookup in one table of log-policies, and the
posterior after every step of a trajectory (filtering, :mod:`.filtering`) is a
cumulative sum:

    Q[g, k]             = value_iteration(goal_reward(mdp, g), discount, sweeps)
                          (for budgets: one budget_limited_planning scan gives all k)
    log_policies[h]     = log_softmax(beta * Q[g, k])             # [H, S, A]
    loglik[t, h]        = log pi_h(a_t | s_t) + log T(s_{t+1} | s_t, a_t)
                          (0 on padded steps, mask[t] = False)
    log_joint[t, h]     = log prior(h) + sum_{tau < t} loglik[tau, h]   # prefix sum
    log_posterior[t, h] = log_joint[t, h] - logsumexp_h log_joint[t, h]

Many trajectories: the planning runs once, and the filter runs over chunks of
``batch_size`` trajectories (``lax.map`` over ``vmap``-ed chunks), so the working
memory grows with ``batch_size``, not with the number of trajectories. A batch
returns the goal posterior after every step and the joint posterior after the last
step; the joint after every step (``[N, T + 1, G, B, K]``) only on request.

The cost of a step belongs to the world: the MDP's reward (a GridWorld's
``step_reward``, -1 by default) is what each step costs the agent; ``step_cost`` is
an extra cost the agent adds on top (0 by default).

Impossible observations: a move the world forbids (e.g. through a wall) makes the
evidence ``-inf``; the posterior is kept at the belief before it (never NaN).
Concrete inputs are checked before tracing (:func:`pinfer.inverse.check_trajectories`
names the trajectory, step and move); inside the user's ``jit`` the result's
``failed_step`` gives the first step with an index out of range or a forbidden move.
"""

from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import logsumexp

from pinfer.agents import check_trajectories
from pinfer.inverse.checks import check_goals, reachable_states, warn_indistinguishable
from pinfer.inverse.filtering import (
    FilterResult,
    action_log_likelihoods,
    check_log_prior,
    filter_hypotheses,
    filter_log_likelihoods,
    first_step,
    goal_posterior,
    step_log_likelihoods,
)
from pinfer.inverse.hypotheses import (
    check_planner_options,
    check_planning,
    guard_traced,
    plan_log_policies,
)
from pinfer.planning import TabularMDP, max_value
from pinfer.planning.mdp import move_probability
from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import (
    check_array,
    check_flag,
    check_static_int,
    concrete,
    is_traced,
)

__all__ = [
    "FilterResult",
    "InverseResult",
    "action_log_likelihoods",
    "filter_log_likelihoods",
    "goal_posterior",
    "infer_goals",
]

DEFAULT_BATCH_SIZE = 128
"""Trajectories filtered at once by a batched :func:`infer_goals` call."""


class InverseResult(NamedTuple):
    """Result of :func:`infer_goals` (leading ``N`` only for a batch).

    Attributes:
        log_posterior: ``[(N,) T + 1, G, B, K]`` joint log-posterior over goal,
            beta and budget after ``t = 0..T`` steps; ``None`` for a batch unless
            ``joint_history=True``.
        log_goal_posterior: ``[(N,) T + 1, G]`` log-posterior of the goal alone
            (``logsumexp`` of the joint over beta and budget).
        log_evidence: ``[(N,) T + 1]`` log marginal likelihood of the first ``t``
            steps.
        log_final_posterior: ``[(N,) G, B, K]`` the joint log-posterior after the
            last step (padded steps change nothing).
        failed_step: ``[(N,)]`` int32, ``-1`` when the inputs were valid, else the
            first step with a state or action index out of range or a move the
            world forbids (only for traced inputs: concrete ones raise).
    """

    log_posterior: Float[Array, "*N T1 G B K"] | None
    log_goal_posterior: Float[Array, "*N T1 G"]
    log_evidence: Float[Array, "*N T1"]
    log_final_posterior: Float[Array, "*N G B K"]
    failed_step: Int[Array, "*N"]


def _infer_one(log_policies, log_prior, mdp, states, actions, mask, joint_history):
    """One trajectory through the planned table ``[G, B, K, S, A]``."""
    grid = log_policies.shape[:3]
    num_steps = actions.shape[0]
    flat = log_policies.reshape(-1, *log_policies.shape[3:])
    log_likelihoods, bad = step_log_likelihoods(flat, states[:num_steps], actions, mask)
    if states.shape[0] == num_steps + 1:
        probs = move_probability(mdp, states[:-1], actions, states[1:])
        possible = probs > 0  # False for a next state out of range too
        # Double where: log(0) on a padded step must not reach the gradient.
        log_moves = jnp.where(
            possible, jnp.log(jnp.where(possible, probs, 1.0)), -jnp.inf
        )
        log_likelihoods = log_likelihoods + jnp.where(mask, log_moves, 0.0)
        bad = bad | (mask & ~possible)
    log_posterior, log_evidence = filter_hypotheses(
        jnp.ravel(log_prior), log_likelihoods
    )  # [H, T + 1]
    joint = log_posterior.reshape(*grid, num_steps + 1)
    if grid[1] * grid[2] == 1:  # one beta, one budget: nothing to marginalise
        log_goal = joint[:, 0, 0]
    else:
        log_goal = logsumexp(joint, axis=(1, 2))
    history = jnp.moveaxis(joint, -1, 0) if joint_history else None
    return InverseResult(
        history, log_goal.T, log_evidence, joint[..., -1], first_step(bad)
    )


_infer_single = jax.jit(_infer_one, static_argnames="joint_history")


@partial(jax.jit, static_argnames=("joint_history", "batch_size"))
def _infer_batch(
    log_policies, log_prior, mdp, states, actions, mask, joint_history, batch_size
):
    one = partial(_infer_one, log_policies, log_prior, mdp, joint_history=joint_history)
    if batch_size is None or batch_size >= actions.shape[0]:
        return jax.vmap(one)(states, actions, mask)
    return map_chunks(jax.vmap(one), (states, actions, mask), batch_size)


def map_chunks(fn, xs, batch_size: int):
    """``fn`` (batched) over chunks of ``batch_size`` along the leading axis of
    ``xs``, written into one preallocated output.

    Unlike ``lax.map(..., batch_size=b)``, which concatenates the remainder's
    results to the others (a second copy of the whole output), the last chunk is
    shifted back to end at ``N`` and recomputes a few rows, so the output exists
    once and the working memory is one chunk's. Needs ``N >= batch_size``.
    """
    num = jax.tree.leaves(xs)[0].shape[0]
    num_chunks = -(-num // batch_size)

    def chunk(start):
        return jax.tree.map(
            lambda x: lax.dynamic_slice_in_dim(x, start, batch_size), xs
        )

    shapes = jax.eval_shape(lambda: fn(*chunk(0)))
    out = jax.tree.map(lambda s: jnp.zeros((num, *s.shape[1:]), s.dtype), shapes)

    def body(i, out):
        start = jnp.minimum(i * batch_size, num - batch_size)
        result = fn(*chunk(start))
        return jax.tree.map(
            lambda o, r: lax.dynamic_update_slice_in_dim(o, r, start, 0), out, result
        )

    return lax.fori_loop(0, num_chunks, body, out)


def _first_states(states, mask):
    """The state at each trajectory's first observed step (host, ``[N, ...]``)."""
    states, mask = np.atleast_2d(states), np.atleast_2d(mask)
    observed = mask.any(axis=1)
    first = np.argmax(mask, axis=1)
    return states[np.arange(states.shape[0]), first][observed]


def infer_goals(
    mdp: TabularMDP,
    goal_states: Int[Array, "G"],
    betas: Float[Array, "B"],
    discount: Float[Array, ""] | float,
    states: Int[Array, "*N T1"],
    actions: Int[Array, "*N T"],
    mask: Bool[Array, "*N T"],
    log_prior: Float[Array, "G B K"] | None = None,
    *,
    budgets: Sequence[int] | None = None,
    num_iterations: int = 100,
    goal_value: Float[Array, ""] | float = 1.0,
    step_cost: Float[Array, ""] | float = 0.0,
    value_fn: Callable = max_value,
    batch_size: int | None = DEFAULT_BATCH_SIZE,
    joint_history: bool | None = None,
) -> InverseResult:
    """Exact posterior over goal, beta and budget after every step of trajectories.

    Plans every hypothesis once with :func:`goal_log_policies`, then filters each
    trajectory with :func:`filter_log_likelihoods`. When ``states`` holds ``T + 1``
    visited states, ``log T(s_{t+1} | s_t, a_t)`` enters the evidence too.

    One trajectory (``actions [T]``) or a batch (``actions [N, T]``): a batch is
    filtered in chunks of ``batch_size`` trajectories (``lax.map`` over ``vmap``-ed
    chunks), so memory grows with ``batch_size``, not ``N``. ``jax.vmap`` over
    single trajectories also works (the planning runs once).

    Checks: concrete inputs are checked before tracing, and a bad one raises an
    error naming the argument, the trajectory, the step and the value: indices out
    of range, a move the world forbids (through :func:`check_trajectories`), a goal
    on a wall or unreachable from where a trajectory starts, a NaN or all ``-inf``
    ``log_prior``, a negative beta, an empty trajectory. Goals that no data can
    tell apart (equal log-policies on every reachable state, e.g. ``goal_value=0``
    in a world where every goal cell is terminal) give an
    :class:`IndistinguishableHypothesesWarning`. Inside the user's ``jit``, shape
    errors still raise at trace time; an index out of range or a forbidden move
    scores ``-inf`` and sets ``failed_step``; a NaN ``log_prior`` gives a NaN
    posterior; a bad goal or beta raises at run time (``eqx.error_if``).

    The cost of a step belongs to the world: ``mdp.reward`` (a GridWorld's
    ``step_reward``, -1 by default) is what each step costs; ``step_cost`` is an
    *extra* cost on top of it (a default GridWorld with ``step_cost=1`` pays 2 per
    step).

    Args:
        mdp: the world (one layout; vmap over layouts of one size).
        goal_states: ``[G]`` candidate goal states.
        betas: ``[B]`` grid of rationality values ``>= 0``.
        discount: scalar in ``[0, 1]``.
        states: ``[T + 1]`` (or ``[N, T + 1]``) visited states; ``[T]`` (``[N,
            T]``): no transition term.
        actions: ``[T]`` (or ``[N, T]``) actions; padded entries may hold anything.
        mask: like ``actions``, True for observed steps, False for padding.
        log_prior: ``[G, B, K]`` log-prior over the grid (need not be
            normalised); None for uniform.
        budgets: static planning budgets (``K = len(budgets)``), or None for
            ``num_iterations`` sweeps of value iteration (``K = 1``).
        num_iterations: value-iteration sweeps without budgets (static).
        goal_value: reward on arriving at the goal.
        step_cost: extra cost ``>= 0`` of every step, on top of ``mdp.reward``.
        value_fn: ``[S, A] -> [S]`` backup of the planner (default: hard max).
        batch_size: trajectories filtered at once in a batch (static); None: all
            in one ``vmap`` (fastest, memory grows with ``N``).
        joint_history: keep the joint posterior after every step; default True
            for one trajectory, False for a batch (``[N, T + 1, G, B, K]`` can be
            large: 10,000 trajectories of 50 steps over 256 hypotheses are 522 MB).

    Returns:
        ``InverseResult(log_posterior, log_goal_posterior, log_evidence,
        log_final_posterior, failed_step)`` (see :class:`InverseResult`).

    Example:
        >>> line = TabularMDP(  # states 0-1-2-3-4 on a line, actions left / right
        ...     jnp.eye(5)[jnp.array([[0, 1], [0, 2], [1, 3], [2, 4], [3, 4]])],
        ...     jnp.zeros((5, 2)), jnp.zeros(5, bool))
        >>> result = infer_goals(line, jnp.array([0, 4]), jnp.array([1.0, 4.0]),
        ...                      0.9, jnp.array([2, 3, 4]), jnp.array([1, 1]),
        ...                      jnp.array([True, True]), goal_value=10.0)
        >>> jnp.round(100 * jnp.exp(result.log_goal_posterior))  # two steps right
        Array([[50., 50.],
               [ 8., 92.],
               [ 2., 98.]], dtype=float32)
        >>> batch = infer_goals(line, jnp.array([0, 4]), jnp.array([1.0, 4.0]), 0.9,
        ...                     jnp.array([[2, 3, 4], [2, 1, 0]]),
        ...                     jnp.array([[1, 1], [0, 0]]), jnp.ones((2, 2), bool),
        ...                     goal_value=10.0)
        >>> jnp.round(100 * jnp.exp(batch.log_goal_posterior[:, -1]))
        Array([[ 2., 98.],
               [98.,  2.]], dtype=float32)
    """
    where = "infer_goals"
    budgets, num_iterations = check_planner_options(
        budgets, num_iterations, value_fn, where
    )
    if batch_size is not None:
        batch_size = check_static_int(batch_size, "batch_size", 1, where=where)
    joint_history = check_flag(
        joint_history, "joint_history", where=where, allow_none=True, static=True
    )
    goal_states, betas = check_planning(
        mdp, goal_states, betas, discount, goal_value, step_cost, where
    )
    states, actions, mask, single, checked = _check_trajectories(
        mdp, states, actions, mask, where
    )
    grid = (
        goal_states.shape[0],
        betas.shape[0],
        1 if budgets is None else len(budgets),
    )
    if log_prior is None:
        log_prior = jnp.zeros(grid, jnp.result_type(float))
    log_prior = check_log_prior(log_prior, "log_prior", grid, where)
    if checked and concrete(goal_states) is not None and not is_traced(mdp):
        check_goals(mdp, goal_states, _first_states(states, mask), where=where)
    goal_states, betas = guard_traced(mdp, goal_states, betas, where)
    log_policies = plan_log_policies(
        mdp,
        goal_states,
        betas.astype(jnp.result_type(float)),
        discount,
        goal_value,
        step_cost,
        budgets=budgets,
        num_iterations=num_iterations,
        value_fn=value_fn,
    )
    if not is_traced(log_policies):
        reachable = None
        if checked and not is_traced(mdp):
            reachable = reachable_states(mdp, _first_states(states, mask))
        warn_indistinguishable(log_policies, goal_states, reachable, where=where)
    history = single if joint_history is None else joint_history
    if single:
        return _infer_single(
            log_policies, log_prior, mdp, states, actions, mask, joint_history=history
        )
    return _infer_batch(
        log_policies, log_prior, mdp, states, actions, mask, history, batch_size
    )


def _check_trajectories(mdp, states, actions, mask, where):
    """Shapes (always) and steps (concrete): ``(states, actions, mask, single,
    checked)`` as arrays, with ``checked`` True when the values were checked."""
    actions = check_array(
        actions,
        "actions",
        where=where,
        ndim=(1, 2),
        dtype="int",
        hint="[T] for one trajectory, [N, T] for a batch.",
    )
    if actions.shape[-1] == 0:
        raise ValueError(
            f"{where}: `actions` must hold at least one step, got shape "
            f"{tuple(actions.shape)} (an empty trajectory). The posterior before any "
            "step is the prior."
        )
    lead, num_steps = actions.shape[:-1], actions.shape[-1]
    mask = check_array(mask, "mask", where=where, shape=actions.shape, dtype="bool")
    states = check_array(states, "states", where=where, dtype="int")
    if states.shape not in ((*lead, num_steps + 1), (*lead, num_steps)):
        raise ValueError(
            f"{where}: `states` must have shape {[*lead, num_steps + 1]} (the visited "
            f"states, the last one where the last action led) or {[*lead, num_steps]}"
            f" (no transition term) for `actions` of shape {list(actions.shape)}, "
            f"got {list(states.shape)}."
        )
    checked = not is_traced((states, actions, mask))
    data = (states, actions, mask)
    if checked and not is_traced(mdp):
        check_trajectories(data, world=mdp, where=where, world_name="mdp")
    elif checked:
        # A traced world (vmap over layouts): only its shapes are known, so the
        # index ranges are checked, through a table that allows every action.
        allow_all = np.zeros((mdp.num_states, mdp.num_actions), np.float32)
        check_trajectories(data, log_policies=allow_all, where=where)
    return states, actions, mask, not lead, checked
