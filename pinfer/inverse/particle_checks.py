"""Boundary checks of online particle inverse planning, run once per public call.

Concrete inputs are checked on the host before tracing; traced ones only for shape
and dtype (their values are reported by the kernel's ``failed_step``). Messages
follow :mod:`pinfer.validation`: function, argument, value, fix.
"""

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from pinfer.inverse.particle_types import History, InverseParticles, ParticlePrior
from pinfer.validation import (
    check_array,
    check_callable,
    check_finite,
    check_fraction,
    check_indices,
    check_key,
    check_scalar,
    check_static_int,
    check_type,
    concrete,
    is_traced,
)

Q_HINT = (
    "q_tables is [G, K, S, A] (goals x budgets x states x actions), from "
    "goal_q_tables; jax.vmap over layouts for a batch."
)
TRAJECTORY_HINT = (
    "One trajectory: states [T] or [T + 1], actions [T], mask [T]; jax.vmap over "
    "trajectories for a batch."
)


def check_prior(prior, num_goals: int, num_budgets: int, where: str) -> None:
    """``prior`` is a :class:`ParticlePrior` over ``G`` goals and ``K`` budgets."""
    check_type(
        prior,
        "prior",
        ParticlePrior,
        where=where,
        hint="Make one with uniform_prior(G, K) or ParticlePrior(...).",
    )
    for name, size in (("log_goal", num_goals), ("log_budget", num_budgets)):
        value = getattr(prior, name)
        arg = f"prior.{name}"
        check_array(
            value,
            arg,
            where=where,
            shape=(size,),
            dtype="float",
            hint=f"One log-prior entry per {name[4:]}, as in q_tables [G, K, S, A].",
        )
        check_finite(value, arg, where=where, allow_neg_inf=True)
        array = concrete(value)
        if array is not None and np.isneginf(array).all():
            raise ValueError(
                f"{where}: `{arg}` must give some {name[4:]} a finite log-prior, got "
                "-inf everywhere."
            )
    check_scalar(prior.log_beta_loc, "prior.log_beta_loc", where=where)
    check_scalar(
        prior.log_beta_scale,
        "prior.log_beta_scale",
        where=where,
        low=0.0,
        low_open=True,
        hint="It is the standard deviation of log beta.",
    )


def check_q_tables(q_tables, where: str, name: str = "q_tables") -> tuple[int, ...]:
    """``q_tables [G, K, S, A]``: float, finite or -inf; returns the shape."""
    q_tables = check_array(
        q_tables, name, where=where, ndim=4, dtype="float", hint=Q_HINT
    )
    check_finite(
        q_tables,
        name,
        where=where,
        allow_neg_inf=True,
        axes=("goal", "budget", "state", "action"),
        hint="-inf marks an impossible action; NaN or +inf is a planning error.",
    )
    return tuple(q_tables.shape)


def check_model(q_tables, prior, where: str, name: str = "q_tables") -> tuple[int, ...]:
    """``q_tables [G, K, S, A]`` and a prior that matches it; returns the shape."""
    shape = check_q_tables(q_tables, where, name)
    check_prior(prior, shape[0], shape[1], where)
    return shape


def check_log_beta_grid(log_beta_grid, where: str, name: str = "log_beta_grid") -> None:
    """A 1-D, finite, strictly increasing grid of at least two values."""
    grid = check_array(
        log_beta_grid,
        name,
        where=where,
        ndim=1,
        dtype="float",
        hint="An increasing grid of log beta, e.g. jnp.linspace(-3.0, 3.0, 17).",
    )
    if grid.shape[0] < 2:
        raise ValueError(
            f"{where}: `{name}` must hold at least 2 values, got shape "
            f"{tuple(grid.shape)}."
        )
    check_finite(grid, name, where=where)
    values = concrete(grid)
    if values is not None and not np.all(np.diff(values) > 0):
        at = int(np.argmax(np.diff(values) <= 0)) + 1
        raise ValueError(
            f"{where}: `{name}` must be strictly increasing, got "
            f"{values[at]} after {values[at - 1]} at position {at}. Sort it."
        )


def check_options(
    ess_threshold, resample_fn, moves: Sequence, num_moves: int, where: str
) -> int:
    """The resampling rule and the rejuvenation moves; returns ``num_moves``."""
    check_fraction(ess_threshold, "ess_threshold", where=where)
    check_callable(resample_fn, "resample_fn", where=where)
    check_type(
        moves,
        "moves",
        (tuple, list),
        where=where,
        hint="A tuple of moves, e.g. (gibbs_goal_budget_move, log_beta_rwm_move); "
        "() for plain resampling.",
    )
    for i, move in enumerate(moves):
        check_callable(move, f"moves[{i}]", where=where)
    return check_static_int(num_moves, "num_moves", 0, where=where)


def check_trajectory(
    states, actions, mask, num_states: int, num_actions: int, where, prefix=""
):
    """One padded trajectory; returns ``(states, actions, mask)`` as arrays.

    ``prefix`` goes before the argument names in messages (``"history."``).
    """
    states_name, actions_name, mask_name = (
        f"{prefix}{name}" for name in ("states", "actions", "mask")
    )
    actions = check_array(
        actions, actions_name, where=where, ndim=1, dtype="int", hint=TRAJECTORY_HINT
    )
    num_steps = actions.shape[0]
    if num_steps == 0:
        raise ValueError(
            f"{where}: `{actions_name}` must hold at least one step, got shape (0,). "
            "With nothing observed the posterior is the prior: draw from it with "
            "particle_inverse_init."
        )
    mask = check_array(
        mask,
        mask_name,
        where=where,
        shape=(num_steps,),
        dtype="bool",
        hint=TRAJECTORY_HINT,
    )
    states = check_array(states, states_name, where=where, dtype="int")
    if tuple(states.shape) not in ((num_steps,), (num_steps + 1,)):
        raise ValueError(
            f"{where}: `{states_name}` must have shape [{num_steps}] or "
            f"[{num_steps + 1}] for {num_steps} actions, got {list(states.shape)}. "
            + TRAJECTORY_HINT
        )
    check_indices(
        actions,
        actions_name,
        num_actions,
        where=where,
        mask=mask,
        axes=("step",),
        what="action",
    )
    check_indices(
        states if is_traced(states) else states[:num_steps],
        states_name,
        num_states,
        where=where,
        mask=mask,
        axes=("step",),
        what="state",
    )
    return states, actions, mask


def check_particles(particles, num_goals: int, num_budgets: int, where: str) -> None:
    """An :class:`InverseParticles` population with indices in range."""
    check_type(particles, "particles", InverseParticles, where=where)
    for name, dtype in (("goal", "int"), ("budget", "int"), ("log_beta", "float")):
        value = getattr(particles, name)
        check_array(value, f"particles.{name}", where=where, ndim=1, dtype=dtype)
    shapes = [list(jnp.shape(leaf)) for leaf in particles]
    if shapes[0] != shapes[1] or shapes[0] != shapes[2]:
        raise ValueError(
            f"{where}: `particles.goal`, `particles.budget` and `particles.log_beta` "
            f"must have one shape [N], got {shapes[0]}, {shapes[1]} and {shapes[2]}."
        )
    for name, size in (("goal", num_goals), ("budget", num_budgets)):
        check_indices(
            getattr(particles, name),
            f"particles.{name}",
            size,
            where=where,
            axes=("particle",),
        )
    check_finite(
        particles.log_beta, "particles.log_beta", where=where, axes=("particle",)
    )


def check_history(history, prior, where: str) -> tuple[int, int]:
    """A :class:`History` whose parts agree; returns ``(G, K)``."""
    check_type(
        history,
        "history",
        History,
        where=where,
        hint="Build it with history_tables(q_tables, states, actions, mask, grid).",
    )
    num_goals, num_budgets, num_states, num_actions = check_model(
        history.q_tables, prior, where, "history.q_tables"
    )
    check_log_beta_grid(history.log_beta_grid, where, "history.log_beta_grid")
    table_shape = (num_goals, num_budgets, jnp.shape(history.log_beta_grid)[0])
    for name in ("log_lik_table", "log_lik_slope"):
        value = getattr(history, name)
        arg = f"history.{name}"
        check_array(value, arg, where=where, shape=table_shape, dtype="float")
        check_finite(value, arg, where=where, allow_neg_inf=name == "log_lik_table")
    check_trajectory(
        history.states,
        history.actions,
        history.mask,
        num_states,
        num_actions,
        where,
        prefix="history.",
    )
    return num_goals, num_budgets


def check_move(key, particles, history, prior, where: str) -> None:
    """The arguments of a rejuvenation move (called directly, or at trace time)."""
    check_key(key, where=where)
    num_goals, num_budgets = check_history(history, prior, where)
    check_particles(particles, num_goals, num_budgets, where)
