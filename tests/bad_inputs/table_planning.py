"""Bad inputs of ``pinfer.planning``: MDPs, planners, policies, goals."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from bad_inputs.cases import RESULT, Case, NotApplicable, na
from pinfer import planning as pl

NAN, INF = float("nan"), float("inf")
MOVES = np.array([[0, 1], [0, 2], [1, 2]])  # states 0-1-2 on a line, left / right
T = np.eye(3)[MOVES]
R = np.zeros((3, 2))
TERMINAL = np.array([False, False, True])
LINE = pl.TabularMDP(T, R, TERMINAL)
Q = jnp.array([[1.0, 2.0], [0.0, -1.0]])
NOT_AN_MDP = "a GridWorld"  # anything that is not a TabularMDP


def _scalar(arg, call, bad, shown):
    """The four kinds for a real scalar: ``call(value)`` calls with ``arg = value``;
    ``bad`` is out of range and shows as ``shown``."""
    return [
        Case(arg, "shape", lambda: call(jnp.ones(2)), match=(arg, "(2,)")),
        Case(arg, "dtype", lambda: call(True), match=(arg, "bool")),
        Case(arg, "range", lambda: call(bad), match=(arg, shown)),
        Case(arg, "nan", lambda: call(NAN), match=(arg, "nan")),
    ]


def _array(arg, call, good, shape_bad, shape_shown):
    """The four kinds for a real array ``good``: a wrong shape, a bool dtype, an
    infinite entry (range) and a NaN entry."""
    with_inf = np.array(good, np.float64)
    with_inf.flat[0] = INF
    with_nan = np.array(good, np.float64)
    with_nan.flat[0] = NAN
    return [
        Case(arg, "shape", lambda: call(shape_bad), match=(arg, shape_shown)),
        Case(
            arg, "dtype", lambda: call(np.asarray(good) > 0), match=(arg, "dtype bool")
        ),
        Case(arg, "range", lambda: call(with_inf), match=(arg, "inf")),
        Case(arg, "nan", lambda: call(with_nan), match=(arg, "nan")),
    ]


def _mdp_type(fn, *args, **kwargs):
    return Case(
        "mdp",
        "type",
        lambda: fn(NOT_AN_MDP, *args, **kwargs),
        match=("mdp", "TabularMDP", "str"),
    )


def _discount(fn, *before, **kwargs):
    return _scalar("discount", lambda d: fn(LINE, *before, d, **kwargs), 1.5, "1.5")


def _value_fn(fn, *args):
    """``value_fn`` is a function ``[S, A] -> [S]`` (its annotation names arrays):
    a non-callable is the one bad input."""
    return [
        Case(
            "value_fn",
            "type",
            lambda: fn(LINE, *args, value_fn=3),
            match=("value_fn", "3"),
        ),
        *na("value_fn", "a function, not an array: a non-callable is the type case"),
    ]


def _beta_of_q(fn, positive):
    return [
        *_array(
            "q_values",
            lambda q: fn(q, 1.0),
            Q,
            jnp.float32(1.0),
            "scalar",
        ),
        Case(
            "beta",
            "shape",
            lambda: fn(Q, jnp.ones(2)),
            match=("beta", "(2,)"),
        ),
        Case("beta", "dtype", lambda: fn(Q, True), match=("beta", "bool")),
        Case(
            "beta",
            "range",
            lambda: fn(Q, 0.0 if positive else -1.0),
            match=("beta", "0.0" if positive else "-1.0"),
        ),
        Case("beta", "nan", lambda: fn(Q, NAN), match=("beta", "nan")),
    ]


def _tabular(**changes):
    args = dict(transition=T, reward=R, terminal=TERMINAL)
    args.update(changes)
    return pl.TabularMDP(**args)


_NEGATIVE = T.copy()
_NEGATIVE[0, 0, :2] = [-0.5, 1.5]
_STALE = eqx.tree_at(lambda m: m.successors, LINE, jnp.zeros((3, 2), jnp.int32))

ENTRIES = {
    "pinfer.planning.BudgetResult": RESULT,
    "pinfer.planning.ConvergedVIResult": RESULT,
    "pinfer.planning.VIResult": RESULT,
    "pinfer.planning.TabularMDP": [
        Case(
            "transition",
            "shape",
            lambda: _tabular(transition=T[:, :, :2]),
            match=("transition", "[3, 2, 2]"),
        ),
        Case(
            "transition",
            "dtype",
            lambda: _tabular(transition=T.astype(int)),
            match=("transition", "int"),
        ),
        Case(
            "transition",
            "range",
            lambda: _tabular(transition=_NEGATIVE),
            match=("transition", "-0.5", "state 0, action 0"),
        ),
        Case(
            "transition",
            "nan",
            lambda: _tabular(transition=np.where(T == 1, NAN, T)),
            match=("transition", "nan"),
        ),
        Case(
            "reward",
            "shape",
            lambda: _tabular(reward=R[:2]),
            match=("reward", "[2, 2]"),
        ),
        Case(
            "reward",
            "dtype",
            lambda: _tabular(reward=R > 0),
            match=("reward", "bool"),
        ),
        Case(
            "reward",
            "range",
            lambda: _tabular(reward=np.full((3, 2), -INF)),
            match=("reward", "-inf"),
        ),
        Case(
            "reward",
            "nan",
            lambda: _tabular(reward=np.full((3, 2), NAN)),
            match=("reward", "nan"),
        ),
        Case(
            "terminal",
            "shape",
            lambda: _tabular(terminal=TERMINAL[:2]),
            match=("terminal", "[2]"),
        ),
        Case(
            "terminal",
            "dtype",
            lambda: _tabular(terminal=TERMINAL * 1.0),
            match=("terminal", "float"),
        ),
        *na("terminal", "a bool mask: every value is valid", ("range", "nan")),
        Case(
            "successors",
            "shape",
            lambda: _tabular(successors=MOVES[:, :1]),
            match=("successors", "[3, 1]"),
        ),
        Case(
            "successors",
            "dtype",
            lambda: _tabular(successors=MOVES * 1.0),
            match=("successors", "float"),
        ),
        Case(
            "successors",
            "range",
            lambda: _tabular(successors=MOVES + 5),
            match=("successors", "5"),
        ),
        NotApplicable(
            "successors", "nan", "integer indices hold no NaN (floats: a dtype error)"
        ),
        Case(
            "successors",
            "value",
            lambda: _tabular(successors=MOVES[::-1]),
            match=("successors", "holds 1 at state 0, action 0"),
        ),
    ],
    "pinfer.planning.validate_mdp": [
        *_scalar("atol", lambda a: pl.validate_mdp(LINE, a), -1.0, "-1.0"),
        _mdp_type(pl.validate_mdp),
        Case(
            "mdp",
            "value",
            lambda: pl.validate_mdp(_STALE),
            match=("successors", "holds 0 at state 0, action 1"),
        ),
    ],
    "pinfer.planning.expected_next": [
        *_array(
            "per_state",
            lambda v: pl.expected_next(LINE, v),
            np.ones((3, 2)),
            np.ones((2, 2)),
            "[2, 2]",
        ),
        _mdp_type(pl.expected_next, np.ones(3)),
    ],
    "pinfer.planning.bellman_q": [
        *_array(
            "values",
            lambda v: pl.bellman_q(LINE, v, 0.9),
            np.ones(3),
            np.ones(2),
            "[2]",
        ),
        *_scalar("discount", lambda d: pl.bellman_q(LINE, np.ones(3), d), -0.5, "-0.5"),
        _mdp_type(pl.bellman_q, np.ones(3), 0.9),
    ],
    "pinfer.planning.max_value": _array(
        "q_values", pl.max_value, Q, jnp.float32(1.0), "scalar"
    ),
    "pinfer.planning.value_iteration": [
        *_discount(pl.value_iteration, num_iterations=3),
        *_scalar(
            "tol", lambda t: pl.value_iteration(LINE, 0.9, 3, tol=t), -1.0, "-1.0"
        ),
        _mdp_type(pl.value_iteration, 0.9, 3),
        *_value_fn(pl.value_iteration, 0.9, 3),
        Case(
            "num_iterations",
            "value",
            lambda: pl.value_iteration(LINE, 0.9, 0),
            match=("num_iterations", "0"),
        ),
    ],
    "pinfer.planning.finite_horizon_value_iteration": [
        *_scalar(
            "discount",
            lambda d: pl.finite_horizon_value_iteration(LINE, 3, d),
            2.0,
            "2.0",
        ),
        _mdp_type(pl.finite_horizon_value_iteration, 3),
        *_value_fn(pl.finite_horizon_value_iteration, 3),
        Case(
            "horizon",
            "value",
            lambda: pl.finite_horizon_value_iteration(LINE, -1),
            match=("horizon", "-1"),
        ),
    ],
    "pinfer.planning.value_iteration_until_converged": [
        *_discount(pl.value_iteration_until_converged),
        *_scalar(
            "tol",
            lambda t: pl.value_iteration_until_converged(LINE, 0.9, t),
            -1e-3,
            "-0.001",
        ),
        _mdp_type(pl.value_iteration_until_converged, 0.9),
        *_value_fn(pl.value_iteration_until_converged, 0.9),
        Case(
            "max_iterations",
            "value",
            lambda: pl.value_iteration_until_converged(LINE, 0.9, max_iterations=0),
            match=("max_iterations", "0"),
        ),
    ],
    "pinfer.planning.soft_value": _beta_of_q(pl.soft_value, positive=True),
    "pinfer.planning.boltzmann_policy": _beta_of_q(pl.boltzmann_policy, positive=False),
    "pinfer.planning.greedy_policy": [
        *_array("q_values", pl.greedy_policy, Q, jnp.float32(1.0), "scalar"),
        *_scalar("atol", lambda a: pl.greedy_policy(Q, a), -1.0, "-1.0"),
    ],
    "pinfer.planning.soft_value_iteration": [
        *_discount(pl.soft_value_iteration, beta=1.0, num_iterations=3),
        *_scalar(
            "beta", lambda b: pl.soft_value_iteration(LINE, 0.9, b, 3), -2.0, "-2.0"
        ),
        _mdp_type(pl.soft_value_iteration, 0.9, 1.0, 3),
    ],
    "pinfer.planning.budget_limited_planning": [
        *_discount(pl.budget_limited_planning, beta=1.0, max_budget=2),
        *_scalar(
            "beta",
            lambda b: pl.budget_limited_planning(LINE, 0.9, b, 2),
            -1.0,
            "-1.0",
        ),
        _mdp_type(pl.budget_limited_planning, 0.9, 1.0, 2),
        *_value_fn(pl.budget_limited_planning, 0.9, 1.0, 2),
        Case(
            "max_budget",
            "value",
            lambda: pl.budget_limited_planning(LINE, 0.9, 1.0, -1),
            match=("max_budget", "-1"),
        ),
    ],
    "pinfer.planning.goal_reward": [
        Case(
            "goal_state",
            "shape",
            lambda: pl.goal_reward(LINE, jnp.array([1, 2])),
            match=("goal_state", "(2,)"),
        ),
        Case(
            "goal_state",
            "dtype",
            lambda: pl.goal_reward(LINE, 1.0),
            match=("goal_state", "float32", "1.0"),
        ),
        Case(
            "goal_state",
            "range",
            lambda: pl.goal_reward(LINE, 7),
            match=("goal_state", "7"),
        ),
        NotApplicable(
            "goal_state", "nan", "an integer index holds no NaN (floats: a dtype error)"
        ),
        Case(
            "goal_value",
            "shape",
            lambda: pl.goal_reward(LINE, 2, jnp.ones(2)),
            match=("goal_value", "(2,)"),
        ),
        Case(
            "goal_value",
            "dtype",
            lambda: pl.goal_reward(LINE, 2, True),
            match=("goal_value", "bool"),
        ),
        Case(
            "goal_value",
            "range",
            lambda: pl.goal_reward(LINE, 2, INF),
            match=("goal_value", "inf"),
        ),
        Case(
            "goal_value",
            "nan",
            lambda: pl.goal_reward(LINE, 2, NAN),
            match=("goal_value", "nan"),
        ),
        *_scalar("step_cost", lambda c: pl.goal_reward(LINE, 2, 1.0, c), -1.0, "-1.0"),
        _mdp_type(pl.goal_reward, 2),
    ],
    "pinfer.planning.multi_goal_reward": [
        *_array(
            "goal_values",
            lambda v: pl.multi_goal_reward(LINE, v, TERMINAL),
            np.ones(3),
            np.ones(2),
            "[2]",
        ),
        Case(
            "is_goal",
            "shape",
            lambda: pl.multi_goal_reward(LINE, np.ones(3), TERMINAL[:2]),
            match=("is_goal", "[2]"),
        ),
        Case(
            "is_goal",
            "dtype",
            lambda: pl.multi_goal_reward(LINE, np.ones(3), TERMINAL * 1.0),
            match=("is_goal", "float"),
        ),
        *na("is_goal", "a bool mask: every value is valid", ("range", "nan")),
        *_scalar(
            "step_cost",
            lambda c: pl.multi_goal_reward(LINE, np.ones(3), TERMINAL, c),
            -1.0,
            "-1.0",
        ),
        _mdp_type(pl.multi_goal_reward, np.ones(3), TERMINAL),
    ],
    "pinfer.planning.linear_reward": [
        *_array(
            "features",
            lambda f: pl.linear_reward(f, np.ones(2)),
            np.ones((3, 2, 2)),
            np.ones((3, 2)),
            "(3, 2)",
        ),
        *_array(
            "weights",
            lambda w: pl.linear_reward(np.ones((3, 2, 2)), w),
            np.ones(2),
            np.ones(3),
            "[3]",
        ),
    ],
    "pinfer.planning.arrival_features": [
        *_array(
            "state_features",
            lambda f: pl.arrival_features(LINE, f),
            np.ones((3, 2)),
            np.ones((2, 2)),
            "[2, 2]",
        ),
        _mdp_type(pl.arrival_features, np.ones((3, 2))),
    ],
    "pinfer.planning.with_reward": [
        *_array(
            "reward",
            lambda r: pl.with_reward(LINE, r),
            R,
            np.ones((3, 3)),
            "[3, 3]",
        ),
        _mdp_type(pl.with_reward, R),
    ],
}
