"""Boundary checks of the grid world: its parameters, its settings, a step's input.

Shapes and dtypes are checked always (also on traced values, at trace time); values
when they are concrete. A step's action and state that are traced are checked by
``error_unless`` (one ``eqx.branched_error_if``: one predicate, one message per
argument), so a bad action inside ``jit`` fails loudly instead of returning a state.
"""

import jax.numpy as jnp
import numpy as np

from pinfer.validation import (
    check_array,
    check_finite,
    check_flag,
    check_indices,
    check_range,
    check_scalar,
    check_static_int,
    check_type,
    concrete,
    error_unless,
    traced_in_range,
)

__all__ = [
    "check_grid_params",
    "check_params_for",
    "check_physics",
    "checked_step_inputs",
]

NUM_KEY_COLORS = 4


def check_physics(slip, step_reward, max_steps, goals_terminal, where: str) -> None:
    """The scalar settings of a layout, named in ``where``'s message.

    Example:
        >>> check_physics(0.1, -1.0, 50, "yes", "make_gridworld")
        Traceback (most recent call last):
        ...
        TypeError: make_gridworld: `goals_terminal` must be True or False, got \
'yes' of type str.
    """
    check_scalar(
        slip,
        "slip",
        where=where,
        low=0.0,
        high=1.0,
        hint="It is the probability that an action is replaced by a random one.",
    )
    check_scalar(step_reward, "step_reward", where=where)
    check_static_int(max_steps, "max_steps", 1, where=where)
    check_flag(goals_terminal, "goals_terminal", where=where)


def _on_walls(walls: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``walls[..., cell]`` for cells ``[..., K]`` (batch axes leading)."""
    flat = walls.reshape(*walls.shape[:-2], -1)
    index = np.clip(cells, 0, flat.shape[-1] - 1)
    return np.take_along_axis(flat, index.reshape(*flat.shape[:-1], -1), -1).reshape(
        cells.shape
    )


def check_grid_params(params, where: str = "GridParams") -> None:
    """Shapes and dtypes of every field (also traced), values when concrete."""
    walls = check_array(params.walls, "walls", where=where, dtype="bool")
    if walls.ndim < 2:
        check_array(walls, "walls", where=where, ndim=2, hint="[H, W] cells.")
    batch = walls.shape[:-2]
    for name in ("door_color", "key_color"):
        check_array(
            getattr(params, name), name, where=where, dtype="int", shape=walls.shape
        )
    cells = check_array(params.goal_cells, "goal_cells", where=where, dtype="int")
    check_array(
        cells, "goal_cells", where=where, shape=(*batch, None), hint="[G] cells."
    )
    check_array(
        params.goal_valid,
        "goal_valid",
        where=where,
        dtype="bool",
        shape=cells.shape,
        hint="One flag per entry of `goal_cells`.",
    )
    kinds = {
        "start": "int",
        "slip": "float",
        "step_reward": "float",
        "max_steps": "int",
        "goals_terminal": "bool",
    }
    for name, kind in kinds.items():
        check_array(getattr(params, name), name, where=where, dtype=kind, shape=batch)
    _check_values(params, where)


def _check_values(params, where: str) -> None:
    leaves = [concrete(leaf) for leaf in vars(params).values()]
    if any(leaf is None for leaf in leaves):
        return  # built inside jit: values are the kernel's business
    walls = np.asarray(params.walls)
    num_cells = walls.shape[-1] * walls.shape[-2]
    for name in ("door_color", "key_color"):
        check_range(
            getattr(params, name),
            name,
            where=where,
            low=-1,
            high=NUM_KEY_COLORS - 1,
            hint="Colours are -1 (none) or 0..3 (red, blue, yellow, purple).",
        )
    start = np.asarray(params.start)
    check_indices(start, "start", num_cells, where=where, what="cell")
    if _on_walls(walls, start[..., None]).any():
        raise ValueError(
            f"{where}: `start` holds {start.tolist()}, a cell on a wall. Start on "
            "a free cell."
        )
    _check_goals(params, walls, num_cells, where)
    check_range(params.slip, "slip", where=where, low=0.0, high=1.0)
    check_finite(params.step_reward, "step_reward", where=where)
    check_range(params.max_steps, "max_steps", where=where, low=1)


def _check_goals(params, walls: np.ndarray, num_cells: int, where: str) -> None:
    cells, valid = np.asarray(params.goal_cells), np.asarray(params.goal_valid)
    check_indices(cells, "goal_cells", num_cells, where=where, mask=valid)
    if (cells[~valid] != -1).any():
        raise ValueError(
            f"{where}: `goal_cells` holds {cells[~valid].tolist()} where "
            "`goal_valid` is False; padding entries must be -1."
        )
    on_wall = _on_walls(walls, cells) & valid
    if on_wall.any():
        raise ValueError(
            f"{where}: `goal_cells` holds {cells[on_wall].tolist()}, cell(s) on a "
            "wall, which the agent can never reach. Move the goal to a free cell."
        )
    flat_cells = cells.reshape(int(np.prod(cells.shape[:-1])), cells.shape[-1])
    for row, ok in zip(flat_cells, valid.reshape(flat_cells.shape), strict=True):
        used = row[ok]
        if np.unique(used).size != used.size:
            raise ValueError(
                f"{where}: `goal_cells` holds the cell(s) "
                f"{sorted({int(c) for c in used if (used == c).sum() > 1})} more "
                "than once; each goal needs a cell of its own."
            )


def check_params_for(env, params, params_type: type, where: str) -> None:
    """Raise unless ``params`` is one unbatched ``params_type`` of ``env``'s size
    (shapes only: free inside ``jit``)."""
    check_type(params, "params", params_type, where=where)
    hint = (
        "Make the params with this GridWorld's make_params, and vmap over a batch "
        "of them."
    )
    check_array(
        params.walls,
        "params.walls",
        where=where,
        shape=(env.height, env.width),
        hint=hint,
    )
    check_array(
        params.goal_cells,
        "params.goal_cells",
        where=where,
        shape=(env.num_goals,),
        hint=hint,
    )


def checked_step_inputs(env, state, action, state_type: type, where: str):
    """``action`` of ``env.step`` as an int32 scalar, refused with the state when
    outside the world: now if concrete, through ``error_unless`` when traced."""
    check_type(state, "state", state_type, where=where, hint="Use reset or step.")
    names = ", ".join(env.action_names)
    action = check_array(
        action,
        "action",
        where=where,
        ndim=0,
        dtype="int",
        hint=f"One action in 0..{env.num_actions - 1} ({names}); vmap for many.",
    )
    last_inventory = (1 << env.num_colors) - 1
    # name -> (value, number of valid values or None (time: only >= 0), rule)
    sizes = {
        "action": (
            action,
            env.num_actions,
            f"an action in 0..{env.num_actions - 1} ({names})",
        ),
        "state.cell": (state.cell, env.num_cells, f"a cell in 0..{env.num_cells - 1}"),
        "state.inventory": (
            state.inventory,
            last_inventory + 1,
            f"an inventory in 0..{last_inventory}",
        ),
        "state.time": (state.time, None, ">= 0"),
    }
    checks = []
    for name, (value, size, rule) in sizes.items():
        check_array(value, name, where=where, ndim=0, dtype="int")
        if size is None:
            check_range(value, name, where=where, low=0)
        else:
            what = "action" if name == "action" else name.split(".")[-1]
            check_indices(value, name, size, where=where, what=what)
        high = None if size is None else size - 1
        checks.append((traced_in_range(value, low=0, high=high), name, rule))
    action = error_unless(
        action, checks, where=where, hint="No state is returned for it."
    )
    return action.astype(jnp.int32)
