"""Bad inputs of observed trajectories (``pinfer.agents`` building, padding and
checking them; ``check_trajectories`` is also ``pinfer.inverse.check_trajectories``)."""

import jax.numpy as jnp
import numpy as np

from bad_inputs.cases import Case, Exempt
from pinfer import agents as ag
from pinfer.planning import TabularMDP

NAN = float("nan")
# States 0-1-2 on a line, actions left / right.
LINE = TabularMDP(
    np.eye(3)[np.array([[0, 1], [0, 2], [1, 2]])], np.zeros((3, 2)), np.zeros(3, bool)
)
GOOD = ag.make_trajectory([0, 1, 2], [1, 1])
AGENT = ag.RandomAgent(2)
LOG_PI = jnp.log(jnp.full((2, 3, 2), 0.5))


def _check(data=GOOD, **options):
    return ag.check_trajectories(data, **{"world": LINE, **options})


def _log_policies(table):
    return _check(world=None, log_policies=table)


_CHECK = [
    Case(
        "trajectories",
        "type",
        lambda: _check(GOOD.actions),
        match=("trajectories", "Array"),
    ),
    Case(
        "trajectories",
        "shape",
        lambda: _check((jnp.array([0]), GOOD.actions)),
        match=("states", "[1]", "[3]"),
    ),
    Case(
        "trajectories",
        "dtype",
        lambda: _check((GOOD.obs * 1.0, GOOD.actions)),
        match=("states", "float32"),
    ),
    Case(
        "trajectories",
        "range",
        lambda: _check((GOOD.obs, jnp.array([1, 5]))),
        match=("actions", "5", "step 1"),
    ),
    Case(
        "trajectories",
        "move",
        lambda: _check((jnp.array([0, 2]), jnp.array([1]))),
        match=("step 0", "state 0 to state 2", "world.transition"),
    ),
    Case(
        "trajectories",
        "agent",
        lambda: _check(world=None, agent=ag.RandomAgent(1), agent_params=None),
        match=("step 0", "action 1", "probability 0"),
    ),
    Case(
        "world",
        "type",
        lambda: _check(world="a GridWorld"),
        match=("world", "TabularMDP", "str"),
    ),
    Case(
        "log_policies",
        "shape",
        lambda: _check(log_policies=LOG_PI[:, :2]),
        match=("log_policies", "[2, 2, 2]"),
    ),
    Case(
        "log_policies",
        "dtype",
        lambda: _log_policies(jnp.zeros((2, 3, 2), int)),
        match=("log_policies", "int32"),
    ),
    Case(
        "log_policies",
        "range",
        lambda: _log_policies(LOG_PI.at[0, 0, 0].set(3.0)),
        match=("log_policies", "3.0"),
    ),
    Case(
        "log_policies",
        "nan",
        lambda: _log_policies(LOG_PI.at[0, 0, 0].set(NAN)),
        match=("log_policies", "nan"),
    ),
]

ENTRIES = {
    "pinfer.agents.ImpossibleStepError": Exempt(
        "an exception class that pinfer raises; not an input"
    ),
    "pinfer.agents.check_trajectories": _CHECK,
    "pinfer.agents.first_impossible_step": [
        Case(
            "trajectory",
            "type",
            lambda: ag.first_impossible_step(AGENT, None, (GOOD.obs, GOOD.actions)),
            match=("Trajectory", "tuple"),
        ),
        Case(
            "trajectory",
            "shape",
            lambda: ag.first_impossible_step(
                AGENT, None, ag.pad_trajectories([([0, 1], [1])])
            ),
            match=("one trajectory", "(1, 1)"),
        ),
    ],
    "pinfer.agents.first_impossible_transition": [
        Case(
            "world",
            "type",
            lambda: ag.first_impossible_transition("a GridWorld", GOOD),
            match=("world", "TabularMDP", "str"),
        ),
        Case(
            "trajectory",
            "dtype",
            lambda: ag.first_impossible_transition(
                LINE, GOOD._replace(obs=GOOD.obs * 1.0)
            ),
            match=("trajectory.obs", "float32"),
        ),
    ],
    "pinfer.agents.make_trajectory": [
        Case(
            "actions",
            "dtype",
            lambda: ag.make_trajectory([0, 1], [1.5]),
            match=("actions", "float64"),
        ),
        Case(
            "actions",
            "range",
            lambda: ag.make_trajectory([0, 1], [-1]),
            match=("action", "-1", "step 0"),
        ),
        Case(
            "actions",
            "shape",
            lambda: ag.make_trajectory([0, 1], [[1]]),
            match=("actions", "(1, 1)"),
        ),
        Case(
            "states",
            "shape",
            lambda: ag.make_trajectory([0], [1]),
            match=("states", "(1,)"),
        ),
        Case(
            "states",
            "nan",
            lambda: ag.make_trajectory([[0.0], [NAN]], [1]),
            match=("states", "nan", "step 1"),
        ),
        Case(
            "rewards",
            "nan",
            lambda: ag.make_trajectory([0, 1, 2], [1, 1], [0.0, NAN]),
            match=("rewards", "nan", "step 1"),
        ),
        Case(
            "num_steps",
            "value",
            lambda: ag.make_trajectory([0, 1], [1], None, 0),
            match=("num_steps=0", "1 actions"),
        ),
    ],
    "pinfer.agents.pad_trajectories": [
        Case(
            "trajectories",
            "value",
            lambda: ag.pad_trajectories([]),
            match=("trajectories", "[]"),
        ),
        Case(
            "trajectories",
            "type",
            lambda: ag.pad_trajectories([np.arange(3)]),
            match=("trajectory 0", "ndarray"),
        ),
        Case(
            "trajectories",
            "shape",
            lambda: ag.pad_trajectories([([0, 1], [1]), ([0], [1])]),
            match=("trajectory 1", "2 states", "(1,)"),
        ),
        Case(
            "num_steps",
            "value",
            lambda: ag.pad_trajectories([([0, 1], [1])], 0),
            match=("num_steps=0", "1 actions"),
        ),
    ],
}
