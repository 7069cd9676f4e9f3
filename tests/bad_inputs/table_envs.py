"""Bad inputs of ``pinfer.envs``: the grid world, its parameters and layouts, the
Gymnasium adapters and readers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.cases import RESULT, Case, Exempt, NotApplicable
from pinfer import envs

# A 2x2 world: start at cell 0, a wall at cell 1, the goal at cell 3.
TEXT = "S#\n.G"
ENV, PARAMS = envs.make_gridworld(TEXT)
_, STATE = ENV.reset(jax.random.key(0), PARAMS)
KEY = jax.random.key(1)
GOOD = {name: getattr(PARAMS, name) for name in envs.GridParams.__dataclass_fields__}


def params_with(**fields):
    return lambda: envs.GridParams(**GOOD | fields)


def step_with(action=0, key=KEY, **state):
    return lambda: ENV.step(key, STATE._replace(**state), action, PARAMS)


def _field_cases(name, shape, dtype, range_=None, nan=None, why=None):
    """The four kinds for one GridParams field: ``(value, match)`` pairs, or a
    reason (``why``) for the kinds that cannot occur."""
    cases = [
        Case(name, "shape", params_with(**{name: shape[0]}), (name, shape[1])),
        Case(name, "dtype", params_with(**{name: dtype[0]}), (name, dtype[1])),
    ]
    for kind, bad in (("range", range_), ("nan", nan)):
        if bad is None:
            cases.append(NotApplicable(name, kind, why[kind]))
        else:
            cases.append(
                Case(name, kind, params_with(**{name: bad[0]}), (name, bad[1]))
            )
    return cases


_BOOL = {"range": "a bool has no range", "nan": "a bool cannot be NaN"}
_INT_NAN = {"nan": "an integer array cannot hold NaN"}
_SCALAR_SHAPE = (jnp.zeros(2, jnp.int32), "[2]")

GRID_PARAMS = [
    *_field_cases(
        "walls",
        (jnp.zeros(4, bool), "(4,)"),
        (jnp.zeros((2, 2), jnp.int32), "int32"),
        why=_BOOL,
    ),
    *_field_cases(
        "door_color",
        (jnp.full((3, 3), -1), "[3, 3]"),
        (jnp.full((2, 2), -1.0), "float32"),
        range_=(jnp.full((2, 2), 7), "7"),
        why=_INT_NAN,
    ),
    *_field_cases(
        "key_color",
        (jnp.full((2,), -1), "[2]"),
        (jnp.full((2, 2), -1.0), "float32"),
        range_=(jnp.full((2, 2), -2), "-2"),
        why=_INT_NAN,
    ),
    *_field_cases(
        "start",
        _SCALAR_SHAPE,
        (jnp.float32(0), "float32"),
        range_=(jnp.int32(9), "9"),
        why=_INT_NAN,
    ),
    Case("start", "value", params_with(start=jnp.int32(1)), ("start", "1", "wall")),
    *_field_cases(
        "goal_cells",
        (jnp.array([[3]]), "[1, 1]"),
        (jnp.array([3.0]), "float32"),
        range_=(jnp.array([4]), "4"),
        why=_INT_NAN,
    ),
    Case(
        "goal_cells",
        "value",
        params_with(goal_cells=jnp.array([1])),
        ("goal_cells", "[1]", "wall"),
    ),
    *_field_cases(
        "goal_valid",
        (jnp.array([True, True]), "[2]"),
        (jnp.array([1]), "int32"),
        why=_BOOL,
    ),
    *_field_cases(
        "slip",
        (jnp.zeros(2), "[2]"),
        (jnp.int32(0), "int32"),
        range_=(jnp.float32(1.5), "1.5"),
        nan=(jnp.float32(jnp.nan), "nan"),
    ),
    *_field_cases(
        "step_reward",
        (jnp.zeros(2), "[2]"),
        (jnp.int32(-1), "int32"),
        nan=(jnp.float32(jnp.nan), "nan"),
        why={"range": "any finite real is a reward (negative: the world's cost)"},
    ),
    *_field_cases(
        "max_steps",
        _SCALAR_SHAPE,
        (jnp.float32(10), "float32"),
        range_=(jnp.int32(0), "0"),
        why=_INT_NAN,
    ),
    *_field_cases(
        "goals_terminal",
        (jnp.ones(2, bool), "[2]"),
        (jnp.float32(1), "float32"),
        why=_BOOL,
    ),
]

# GridState is a NamedTuple that reset and step build; GridWorld.step is where a
# bad one is caught, so its cases step with it.
GRID_STATE = [
    Case("cell", "shape", step_with(cell=jnp.array([0, 2])), ("state.cell", "(2,)")),
    Case("cell", "dtype", step_with(cell=jnp.float32(0)), ("state.cell", "float32")),
    Case("cell", "range", step_with(cell=jnp.int32(4)), ("state.cell", "4")),
    NotApplicable("cell", "nan", "an integer cannot be NaN"),
    Case(
        "inventory",
        "shape",
        step_with(inventory=jnp.zeros(3, jnp.int32)),
        ("state.inventory", "(3,)"),
    ),
    Case(
        "inventory",
        "dtype",
        step_with(inventory=jnp.float32(0)),
        ("state.inventory", "float32"),
    ),
    Case(
        "inventory",
        "range",
        step_with(inventory=jnp.int32(1)),
        ("state.inventory", "1"),
    ),
    NotApplicable("inventory", "nan", "an integer cannot be NaN"),
    Case(
        "time", "shape", step_with(time=jnp.zeros(2, jnp.int32)), ("state.time", "(2,)")
    ),
    Case("time", "dtype", step_with(time=jnp.float32(0)), ("state.time", "float32")),
    Case("time", "range", step_with(time=jnp.int32(-1)), ("state.time", "-1")),
    NotApplicable("time", "nan", "an integer cannot be NaN"),
]


def _jitted_step(action):
    step = eqx.filter_jit(ENV.step)
    return lambda: jax.block_until_ready(step(KEY, STATE, jnp.int32(action), PARAMS))


GRID_WORLD = [
    Case("action", "range", step_with(action=4), ("action", "4", "0..3")),
    Case("action", "range", step_with(action=-1), ("action", "-1")),
    Case("action", "dtype", step_with(action=1.0), ("action", "float32")),
    Case("action", "shape", step_with(action=jnp.array([0, 1])), ("action", "(2,)")),
    Case("action", "jit", _jitted_step(4), ("action", "0..3")),
    Case("key", "key", step_with(key=0), ("key", "0")),
    Case(
        "key",
        "key",
        lambda: ENV.reset(None, PARAMS),
        ("GridWorld.reset", "key", "None"),
    ),
    Case("state", "type", lambda: ENV.step(KEY, 0, 0, PARAMS), ("state", "int")),
    Case(
        "params",
        "shape",
        lambda: ENV.step(KEY, STATE, 0, envs.make_gridworld("S.G")[1]),
        ("params.walls", "[1, 3]"),
    ),
    Case(
        "height",
        "range",
        lambda: envs.GridWorld(height=0, width=2, num_goals=1),
        ("height", "0"),
    ),
    Case(
        "num_goals",
        "range",
        lambda: envs.GridWorld(height=1, width=2, num_goals=-1),
        ("num_goals", "-1"),
    ),
    Case(
        "num_colors",
        "range",
        lambda: envs.GridWorld(height=1, width=2, num_goals=1, num_colors=5),
        ("num_colors", "5"),
    ),
    Case(
        "width",
        "type",
        lambda: envs.GridWorld(height=1, width=2.0, num_goals=1),
        ("width", "2.0"),
    ),
]

LAYOUT = envs.parse_layout(TEXT)


def layout_with(**fields):
    good = {
        "walls": LAYOUT.walls,
        "door_color": LAYOUT.door_color,
        "key_color": LAYOUT.key_color,
        "start": LAYOUT.start,
        "goals": LAYOUT.goals,
    }
    return lambda: envs.Layout(**good | fields)


ENTRIES = {
    "pinfer.envs.AbstractEnvironment": Exempt(
        "an abstract base class; its subclasses (GridWorld) check their inputs"
    ),
    "pinfer.envs.GridParams": GRID_PARAMS,
    "pinfer.envs.GridState": GRID_STATE,
    "pinfer.envs.StepInfo": RESULT,
    "pinfer.envs.GridWorld": GRID_WORLD,
    "pinfer.envs.Layout": [
        Case(
            "walls",
            "dtype",
            layout_with(walls=np.zeros((2, 2), int)),
            ("walls", "int64"),
        ),
        Case(
            "door_color",
            "range",
            layout_with(door_color=np.full((2, 2), 9)),
            ("door_color", "9"),
        ),
        Case("start", "value", layout_with(start=(0, 1)), ("start", "(0, 1)", "wall")),
        Case("goals", "range", layout_with(goals=((5, 0),)), ("goals[0]", "(5, 0)")),
        Case(
            "goals", "value", layout_with(goals=((1, 1), (1, 1))), ("goals", "repeats")
        ),
    ],
    "pinfer.envs.GymnasiumEnv": [
        Case(
            "env", "type", lambda: envs.GymnasiumEnv(object(), None), ("env", "object")
        ),
        Case(
            "params",
            "type",
            lambda: envs.GymnasiumEnv(ENV, {"walls": 0}),
            ("params", "dict"),
        ),
        Case(
            "render_mode",
            "value",
            lambda: envs.GymnasiumEnv(ENV, PARAMS, render_mode="human"),
            ("render_mode", "'human'"),
        ),
        Case("action", "range", lambda: _gym_step(7), ("action", "7", "0..3")),
        Case("action", "dtype", lambda: _gym_step(1.5), ("action", "1.5")),
    ],
    "pinfer.envs.GridWorldGymEnv": [
        Case(
            "slip",
            "range",
            lambda: envs.GridWorldGymEnv(layout=TEXT, slip=1.5),
            ("slip", "1.5"),
        ),
        Case(
            "layout",
            "type",
            lambda: envs.GridWorldGymEnv(layout=5),
            ("layout", "int"),
        ),
        Case(
            "render_mode",
            "value",
            lambda: envs.GridWorldGymEnv(layout=TEXT, render_mode="human"),
            ("render_mode", "'human'"),
        ),
    ],
    "pinfer.envs.from_gymnasium": [
        Case("env", "type", lambda: envs.from_gymnasium(object()), ("env", "object")),
        Case("env", "type", lambda: envs.from_gymnasium(ENV), ("env", "GridWorld")),
        Case(
            "absorbing",
            "type",
            lambda: envs.from_gymnasium(envs.GridWorldGymEnv(), absorbing="yes"),
            ("absorbing", "'yes'"),
        ),
    ],
    "pinfer.envs.initial_distribution": [
        Case("env", "type", lambda: envs.initial_distribution(3), ("env", "int")),
    ],
    "pinfer.envs.make_gridworld": [
        Case(
            "slip",
            "range",
            lambda: envs.make_gridworld(TEXT, slip=1.5),
            ("slip", "1.5"),
        ),
        Case(
            "slip",
            "nan",
            lambda: envs.make_gridworld(TEXT, slip=float("nan")),
            ("slip", "nan"),
        ),
        Case(
            "step_reward",
            "nan",
            lambda: envs.make_gridworld(TEXT, step_reward=float("inf")),
            ("step_reward", "inf"),
        ),
        Case(
            "max_steps",
            "range",
            lambda: envs.make_gridworld(TEXT, max_steps=0),
            ("max_steps", "0"),
        ),
        Case("layout", "type", lambda: envs.make_gridworld(3), ("layout", "int")),
        Case(
            "allow_stay",
            "type",
            lambda: envs.make_gridworld(TEXT, allow_stay="yes"),
            ("allow_stay", "'yes'"),
        ),
        Case(
            "goals_terminal",
            "type",
            lambda: envs.make_gridworld(TEXT, goals_terminal=None),
            ("goals_terminal", "None"),
        ),
    ],
    "pinfer.envs.make_gridworld_batch": [
        Case(
            "layouts",
            "type",
            lambda: envs.make_gridworld_batch(TEXT),
            ("layouts", "str"),
        ),
        Case(
            "layouts", "value", lambda: envs.make_gridworld_batch([]), ("layouts", "[]")
        ),
        Case(
            "layouts",
            "shape",
            lambda: envs.make_gridworld_batch([TEXT, "S.G"]),
            ("layouts", "one grid size", "(1, 3)", "(2, 2)"),
        ),
        Case(
            "slip",
            "range",
            lambda: envs.make_gridworld_batch([TEXT], slip=-0.5),
            ("slip", "-0.5"),
        ),
    ],
    "pinfer.envs.parse_layout": [
        Case("text", "type", lambda: envs.parse_layout(7), ("text", "int")),
        Case("text", "value", lambda: envs.parse_layout("S.x"), ("'x'", "column 2")),
        Case(
            "check_reachable",
            "type",
            lambda: envs.parse_layout(TEXT, check_reachable="no"),
            ("check_reachable", "'no'"),
        ),
    ],
    "pinfer.envs.reachable_cells": [
        Case("layout", "type", lambda: envs.reachable_cells(TEXT), ("layout", "str")),
    ],
    "pinfer.envs.register_envs": Exempt("takes no input"),
    "pinfer.envs.render_grid": [
        Case("cell", "range", lambda: envs.render_grid(PARAMS, cell=9), ("cell", "9")),
        Case(
            "cell_size",
            "range",
            lambda: envs.render_grid(PARAMS, cell_size=2),
            ("cell_size", "2"),
        ),
        Case(
            "inventory",
            "range",
            lambda: envs.render_grid(PARAMS, inventory=-1),
            ("inventory", "-1"),
        ),
        Case("params", "type", lambda: envs.render_grid(None), ("params", "NoneType")),
    ],
}


def _gym_step(action):
    env = envs.GymnasiumEnv(ENV, PARAMS)
    env.reset(seed=0)
    return env.step(action)
