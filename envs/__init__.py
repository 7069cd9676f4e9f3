"""pinfer.envs: functional JAX environments with Gymnasium adapters.

Shipped as ``pinfer.envs`` (the top-level ``envs/`` folder is mapped by setuptools).
Environments are gymnax-style and pure: ``reset(key, params)`` and
``step(key, state, action, params)``; tabular ones expose ``tabular_mdp(params)``.
This is the only part of pinfer that imports Gymnasium.

Importing this package registers ``pinfer/GridWorld-v0`` (and the other ids in
``ENV_IDS``) with Gymnasium, so
``gymnasium.make("pinfer.envs:pinfer/GridWorld-v0")`` works in one line.
``from_gymnasium`` reads Gymnasium's toy-text environments, and pinfer's own as
``gymnasium.make`` returns them (wrappers included), into a ``TabularMDP``.
"""

from pinfer.envs.base import AbstractEnvironment
from pinfer.envs.builders import make_gridworld, make_gridworld_batch
from pinfer.envs.gridworld import (
    ACTION_NAMES,
    GridParams,
    GridState,
    GridWorld,
    StepInfo,
)
from pinfer.envs.gym_adapter import GridWorldGymEnv, GymnasiumEnv
from pinfer.envs.layouts import (
    KEY_COLORS,
    LAYOUTS,
    LEGEND,
    Layout,
    parse_layout,
    reachable_cells,
)
from pinfer.envs.registration import ENV_IDS, register_envs
from pinfer.envs.render import GEM_COLORS, KEY_RGB, render_grid
from pinfer.envs.toy_text import from_gymnasium, initial_distribution

register_envs()

__all__ = [
    "ACTION_NAMES",
    "ENV_IDS",
    "GEM_COLORS",
    "KEY_COLORS",
    "KEY_RGB",
    "LAYOUTS",
    "LEGEND",
    "AbstractEnvironment",
    "GridParams",
    "GridState",
    "GridWorld",
    "GridWorldGymEnv",
    "GymnasiumEnv",
    "Layout",
    "StepInfo",
    "from_gymnasium",
    "initial_distribution",
    "make_gridworld",
    "make_gridworld_batch",
    "parse_layout",
    "reachable_cells",
    "register_envs",
    "render_grid",
]
