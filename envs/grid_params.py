"""The grid world's parameters, state and step diagnostics.

``GridParams`` holds one layout and its physics as dynamic leaves (a batch of layouts
of one grid size is the same module with a leading axis on every leaf). It checks
itself when built::

    shapes and dtypes      always (also inside jit: they are static)
    values                 when concrete: colours in -1..3, start and goals inside
                           the grid and off the walls, padding goals -1, goals
                           distinct, slip in [0, 1], step_reward finite,
                           max_steps >= 1

so a ``GridWorld`` never steps through a layout that cannot exist (the checks live
in ``pinfer.envs.grid_checks``). ``params_from_layout`` builds the parameters of a
parsed or ASCII layout for a world of a given size.
"""

from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp

from pinfer.envs.grid_checks import check_grid_params, check_physics
from pinfer.envs.layouts import Layout, parse_layout
from pinfer.types import Array, Bool, Float, Int
from pinfer.validation import check_type

__all__ = ["GridParams", "GridState", "StepInfo", "params_from_layout"]


class GridParams(eqx.Module):
    """One layout and its physics, all dynamic leaves (vmap over a batch of layouts).

    Built by ``GridWorld.make_params`` or ``make_gridworld``; built by hand, it is
    checked (see the module docstring). Every leaf may carry the same leading batch
    axes (``make_gridworld_batch``).

    Attributes:
        walls: ``[H, W]`` bool.
        door_color: ``[H, W]`` int32, door colour index or -1.
        key_color: ``[H, W]`` int32, key colour index or -1.
        start: ``[]`` int32 start cell (``row * W + col``).
        goal_cells: ``[G]`` int32 goal cells; padding entries are -1.
        goal_valid: ``[G]`` bool, False on padding (layouts with fewer goals).
        slip: ``[]`` probability that the action is replaced by a uniform one.
        step_reward: ``[]`` reward of every step: the world's cost of a step when
            negative (see ``GridWorld``).
        max_steps: ``[]`` int32 episode length before truncation.
        goals_terminal: ``[]`` bool, whether reaching a goal ends the episode.

    Example:
        >>> env, params = make_gridworld("S.G")
        >>> GridParams(**{**vars(params), "start": jnp.int32(5)})
        Traceback (most recent call last):
        ...
        ValueError: GridParams: `start` holds 5, which is not a cell in 0..2.
    """

    walls: Bool[Array, "H W"] = eqx.field(converter=jnp.asarray)
    door_color: Int[Array, "H W"] = eqx.field(converter=jnp.asarray)
    key_color: Int[Array, "H W"] = eqx.field(converter=jnp.asarray)
    start: Int[Array, ""] = eqx.field(converter=jnp.asarray)
    goal_cells: Int[Array, "G"] = eqx.field(converter=jnp.asarray)
    goal_valid: Bool[Array, "G"] = eqx.field(converter=jnp.asarray)
    slip: Float[Array, ""] = eqx.field(converter=jnp.asarray)
    step_reward: Float[Array, ""] = eqx.field(converter=jnp.asarray)
    max_steps: Int[Array, ""] = eqx.field(converter=jnp.asarray)
    goals_terminal: Bool[Array, ""] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        check_grid_params(self)


class GridState(NamedTuple):
    """Where the agent is: ``cell`` (``row * W + col``), ``inventory`` (bit ``c`` set
    while a key of colour ``c`` is held) and ``time`` (steps taken).

    Example:
        >>> GridState(jnp.int32(0), jnp.int32(0), jnp.int32(0)).cell.tolist()
        0
    """

    cell: Int[Array, ""]
    inventory: Int[Array, ""]
    time: Int[Array, ""]


class StepInfo(NamedTuple):
    """Diagnostics of one step: the ``action`` executed (after a slip), whether it
    ``slipped``, and the ``goal`` index at the new cell (-1 if none).

    Example:
        >>> env, params = make_gridworld("S.G")
        >>> _, state = env.reset(jax.random.key(0), params)
        >>> env.step(jax.random.key(1), state, 3, params)[-1].goal.tolist()
        -1
    """

    action: Int[Array, ""]
    slipped: Bool[Array, ""]
    goal: Int[Array, ""]


def params_from_layout(
    env,
    layout: "str | Layout",
    *,
    slip: float = 0.0,
    step_reward: float = -1.0,
    max_steps: int = 100,
    goals_terminal: bool = True,
    check_reachable: bool = True,
    where: str = "GridWorld.make_params",
) -> GridParams:
    """``GridParams`` of ``layout`` for ``env`` (a ``GridWorld``); see
    ``GridWorld.make_params``, which calls it.

    Example:
        >>> env = GridWorld(height=1, width=3, num_goals=1)
        >>> params_from_layout(env, "S.G").goal_cells.tolist()
        [2]
    """
    check_type(layout, "layout", (str, Layout), where=where)
    check_physics(slip, step_reward, max_steps, goals_terminal, where)
    if isinstance(layout, str):
        layout = parse_layout(layout, check_reachable=check_reachable)
    shape, goals = (layout.height, layout.width), len(layout.goals)
    if shape != (env.height, env.width):
        raise ValueError(
            f"{where}: the layout is {shape[0]}x{shape[1]} but this GridWorld is "
            f"{env.height}x{env.width}; make one GridWorld per grid size (pad "
            "smaller layouts with '#')."
        )
    if goals > env.num_goals or layout.num_colors > env.num_colors:
        raise ValueError(
            f"{where}: the layout has {goals} goals and {layout.num_colors} key "
            f"colours; this GridWorld holds at most {env.num_goals} and "
            f"{env.num_colors}. Build the env with make_gridworld_batch over all "
            "layouts."
        )
    cells = [r * env.width + c for r, c in layout.goals]
    padding = env.num_goals - goals
    float_dtype = jnp.zeros(()).dtype
    return GridParams(
        walls=jnp.asarray(layout.walls),
        door_color=jnp.asarray(layout.door_color, dtype=jnp.int32),
        key_color=jnp.asarray(layout.key_color, dtype=jnp.int32),
        start=jnp.asarray(layout.start[0] * env.width + layout.start[1], jnp.int32),
        goal_cells=jnp.asarray(cells + [-1] * padding, dtype=jnp.int32),
        goal_valid=jnp.asarray([True] * goals + [False] * padding, dtype=bool),
        slip=jnp.asarray(slip, dtype=float_dtype),
        step_reward=jnp.asarray(step_reward, dtype=float_dtype),
        max_steps=jnp.asarray(max_steps, dtype=jnp.int32),
        goals_terminal=jnp.asarray(goals_terminal),
    )
