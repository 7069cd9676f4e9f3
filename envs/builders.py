"""Building GridWorlds from ASCII layouts: one layout, or a batch of one grid size."""

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from pinfer.envs.grid_checks import check_physics
from pinfer.envs.gridworld import GridParams, GridWorld
from pinfer.envs.layouts import Layout, parse_layout
from pinfer.validation import check_flag, check_type

__all__ = ["make_gridworld", "make_gridworld_batch"]


def _env_for(layouts: Sequence[Layout], allow_stay: bool) -> GridWorld:
    sizes = {(layout.height, layout.width) for layout in layouts}
    if len(sizes) != 1:
        raise ValueError(
            f"make_gridworld_batch: `layouts` must have one grid size, got "
            f"{sorted(sizes)}. Pad the smaller layouts with '#' rows and columns."
        )
    ((height, width),) = sizes
    return GridWorld(
        height=height,
        width=width,
        num_goals=max(len(layout.goals) for layout in layouts),
        num_colors=max(layout.num_colors for layout in layouts),
        allow_stay=allow_stay,
    )


def make_gridworld(
    layout: str | Layout,
    *,
    slip: float = 0.0,
    step_reward: float = -1.0,
    max_steps: int = 100,
    goals_terminal: bool = True,
    allow_stay: bool = False,
    check_reachable: bool = True,
) -> tuple[GridWorld, GridParams]:
    """A ``GridWorld`` and its ``GridParams`` from one ASCII layout.

    The world owns the cost of a step: ``step_reward`` (-1 by default) is what each
    step costs the agent. Goal rewards are the agent's (``pinfer.planning.goal_reward``,
    ``pinfer.agents.StateGoal``); their ``step_cost``, and that of the inverse
    planners, is an extra cost on top (default 0): leave it at 0 to plan with the
    world's cost alone, since ``step_cost=1`` here pays -2 a step.

    Args:
        layout: ASCII layout (legend in ``pinfer.envs.layouts``) or a ``Layout``;
            it may have no goal.
        slip, step_reward, max_steps, goals_terminal, check_reachable: see
            ``GridWorld.make_params``.
        allow_stay: add the action ``4 = stay``.

    Returns:
        ``(env, params)``.

    Example:
        >>> env, params = make_gridworld("#...G\\nS.#..")
        >>> env.num_states, env.num_actions
        (10, 4)
    """
    where = "make_gridworld"
    check_type(layout, "layout", (str, Layout), where=where)
    check_physics(slip, step_reward, max_steps, goals_terminal, where)
    check_flag(allow_stay, "allow_stay", where=where)
    if isinstance(layout, str):
        layout = parse_layout(layout, check_reachable=check_reachable)
    env = _env_for([layout], allow_stay)
    return env, env.make_params(
        layout,
        slip=slip,
        step_reward=step_reward,
        max_steps=max_steps,
        goals_terminal=goals_terminal,
    )


def make_gridworld_batch(
    layouts: Sequence[str | Layout], *, allow_stay: bool = False, **kwargs
) -> tuple[GridWorld, GridParams]:
    """One ``GridWorld`` and a batch of ``GridParams`` (leading axis ``B``) for
    layouts of one grid size; goals and key colours are padded to the largest.

    Args:
        layouts: ``B`` layouts of the same height and width.
        allow_stay: add the action ``4 = stay``.
        **kwargs: ``slip``, ``step_reward``, ``max_steps``, ``goals_terminal``,
            ``check_reachable`` for every layout (change one entry later with
            ``eqx.tree_at``).

    Returns:
        ``(env, params)`` where every leaf of ``params`` has a leading axis ``B``;
        ``jax.vmap(env.step, in_axes=(0, 0, 0, 0))`` runs all layouts at once.

    Example:
        >>> env, params = make_gridworld_batch(["S.G.", "SG.G"])
        >>> params.goal_valid.tolist()
        [[True, False], [True, True]]
    """
    where = "make_gridworld_batch"
    check_type(
        layouts,
        "layouts",
        (list, tuple),
        where=where,
        hint="Pass a list of layouts; for one layout use make_gridworld.",
    )
    check_flag(allow_stay, "allow_stay", where=where)
    check = kwargs.pop("check_reachable", True)
    for index, layout in enumerate(layouts):
        check_type(layout, f"layouts[{index}]", (str, Layout), where=where)
    parsed = [
        parse_layout(layout, check_reachable=check)
        if isinstance(layout, str)
        else layout
        for layout in layouts
    ]
    if not parsed:
        raise ValueError(f"{where}: `layouts` must hold at least one layout, got [].")
    env = _env_for(parsed, allow_stay)
    batch = [env.make_params(layout, **kwargs) for layout in parsed]
    return env, jax.tree.map(lambda *leaves: jnp.stack(leaves), *batch)
