"""Bad inputs of ``pinfer.agents`` (agents, their params, reward specifications, the
tabular environment, the rollout and the likelihoods). Trajectory helpers
(``make_trajectory``, ``check_trajectories`` ...) have their own table."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.cases import RESULT, Case, Exempt, NotApplicable, na
from pinfer.agents import (
    BoltzmannAgent,
    BudgetAgent,
    BudgetParams,
    GoalValues,
    LapseAgent,
    LapseParams,
    LinearReward,
    PlannerParams,
    RandomAgent,
    StateGoal,
    TabularEnvParams,
    TabularEnvState,
    Trajectory,
    WorldReward,
    make_tabular_env,
    rollout,
    step_log_likelihoods,
    trajectory_log_likelihood,
)
from pinfer.planning import TabularMDP

KEY = jax.random.key(0)
NAN = float("nan")
# A line of three states, actions left / right; state 2 is terminal.
LINE = TabularMDP(
    jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
    jnp.zeros((3, 2)),
    jnp.array([False, False, True]),
)
GOAL = StateGoal(2, 1.0)
AGENT = BoltzmannAgent(2)


def _params(beta=1.0, discount=0.9, world=LINE, reward=GOAL):
    return PlannerParams(world, reward, beta, discount)


def _budget(budget=1, beta=1.0, discount=0.9):
    return BudgetParams(LINE, GOAL, beta, discount, budget)


def _env():
    return make_tabular_env(LINE, start=0)


def _step(state=None, action=1):
    env, env_params = _env()
    if state is None:
        state = TabularEnvState(jnp.int32(0), jnp.int32(0))
    return env.step(KEY, state, action, env_params)


def _traj(**fields):
    """A two-step trajectory on the line with one field replaced."""
    good = dict(
        obs=jnp.array([0, 1, 2]),
        actions=jnp.array([1, 1]),
        rewards=jnp.zeros(2),
        mask=jnp.array([True, True]),
    )
    good.update(fields)
    return Trajectory(**good)


def _score(**fields):
    return trajectory_log_likelihood(AGENT, _params(), _traj(**fields))


def _scalar_cases(make) -> list[Case]:
    """The four kinds for ``beta`` and ``discount`` of a params constructor."""
    bad = {
        "shape": (jnp.ones(2), "(2,)"),
        "dtype": (True, "bool"),
        "nan": (NAN, "nan"),
    }
    cases = []
    for arg, out_of_range in (("beta", -0.5), ("discount", 1.5)):
        values = {**bad, "range": (out_of_range, str(out_of_range))}
        for kind, (value, shown) in values.items():
            call = (lambda a, v: lambda: make(**{a: v}))(arg, value)
            cases.append(Case(arg, kind, call, match=(arg, shown)))
    return cases


def _plan_budget(budget):
    return BudgetAgent(2).init(KEY, _budget(budget=budget))


def _isneginf(value) -> bool:
    return bool(np.isneginf(np.asarray(value)))


_ANY_REAL = "any real value is valid"
_INTEGER = "an integer cannot be NaN"
_BOOL = "a bool cannot be out of range or NaN"

ENTRIES = {
    "pinfer.agents.AbstractAgent": Exempt("an abstract base class (the contract)"),
    "pinfer.agents.AbstractPolicyAgent": Exempt("an abstract base class"),
    "pinfer.agents.AbstractReward": Exempt("an abstract base class"),
    "pinfer.agents.AgentInfo": RESULT,
    "pinfer.agents.RolloutResult": RESULT,
    "pinfer.agents.RolloutStep": Exempt(
        "what rollout hands to summary_fn; not an input a user builds"
    ),
    "pinfer.agents.PolicyState": Exempt("the plan BoltzmannAgent.init returns"),
    "pinfer.agents.BudgetState": Exempt("the plans BudgetAgent.init returns"),
    "pinfer.agents.rollout": [
        Case(
            "key",
            "key",
            lambda: rollout(0, AGENT, _params(), *_env(), 3),
            match=("key", "0"),
        ),
        Case(
            "key",
            "shape",
            lambda: rollout(jax.random.split(KEY), AGENT, _params(), *_env(), 3),
            match=("key", "(2,)"),
        ),
        Case(
            "agent",
            "type",
            lambda: rollout(KEY, _params(), AGENT, *_env(), 3),
            match=("agent", "PlannerParams"),
        ),
        Case(
            "env",
            "type",
            lambda: rollout(KEY, AGENT, _params(), LINE, _env()[1], 3),
            match=("env", "TabularMDP", "make_tabular_env"),
        ),
        Case(
            "num_steps",
            "value",
            lambda: rollout(KEY, AGENT, _params(), *_env(), 0),
            match=("num_steps", "0"),
        ),
        Case(
            "num_steps",
            "type",
            lambda: rollout(KEY, AGENT, _params(), *_env(), 2.5),
            match=("num_steps", "2.5"),
        ),
        Case(
            "summary_fn",
            "type",
            lambda: rollout(KEY, AGENT, _params(), *_env(), 3, summary_fn=3),
            match=("summary_fn", "3"),
        ),
    ],
    "pinfer.agents.trajectory_log_likelihood": [
        Case(
            "trajectory",
            "type",
            lambda: trajectory_log_likelihood(AGENT, _params(), ([0, 1], [1])),
            match=("trajectory", "tuple"),
        ),
        Case(
            "agent",
            "type",
            lambda: trajectory_log_likelihood(_params(), AGENT, _traj()),
            match=("agent", "PlannerParams"),
        ),
        Case(
            "trajectory",
            "shape",
            lambda: _score(actions=jnp.array([[1], [1]])),
            match=("actions", "(2, 1)"),
        ),
        Case(
            "trajectory",
            "dtype",
            lambda: _score(actions=jnp.array([1.0, 1.5])),
            match=("trajectory.actions", "float32"),
        ),
        # An action the agent cannot take scores -inf, as documented (never clipped).
        Case(
            "trajectory",
            "range",
            lambda: _score(actions=jnp.array([1, 7])),
            flag=_isneginf,
        ),
        Case(
            "trajectory",
            "nan",
            lambda: _score(rewards=jnp.array([0.0, NAN])),
            match=("trajectory.rewards", "nan", "step 1"),
        ),
    ],
    "pinfer.agents.step_log_likelihoods": [
        Case(
            "trajectory",
            "shape",
            lambda: step_log_likelihoods(
                AGENT, _params(), _traj(mask=jnp.ones(3, bool))
            ),
            match=("trajectory.mask", "[3]"),
        ),
        Case(
            "trajectory",
            "dtype",
            lambda: step_log_likelihoods(
                AGENT, _params(), _traj(mask=jnp.array([1, 1]))
            ),
            match=("trajectory.mask", "int32"),
        ),
        Case(
            "agent",
            "type",
            lambda: step_log_likelihoods(object(), _params(), _traj()),
            match=("agent", "object"),
        ),
    ],
    "pinfer.agents.Trajectory": [
        # A NamedTuple (no constructor checks): its fields are checked where it is
        # used, by the likelihoods.
        Case(
            "actions",
            "shape",
            lambda: _score(actions=jnp.array([[1], [1]])),
            match=("actions", "(2, 1)"),
        ),
        Case(
            "actions",
            "dtype",
            lambda: _score(actions=jnp.array([1.0, 1.0])),
            match=("trajectory.actions", "float32"),
        ),
        Case(
            "actions",
            "range",
            lambda: _score(actions=jnp.array([-1, 1])),
            flag=_isneginf,
        ),
        NotApplicable("actions", "nan", _INTEGER),
        Case(
            "rewards",
            "shape",
            lambda: _score(rewards=jnp.zeros(3)),
            match=("trajectory.rewards", "[3]"),
        ),
        Case(
            "rewards",
            "dtype",
            lambda: _score(rewards=jnp.array([True, False])),
            match=("trajectory.rewards", "bool"),
        ),
        NotApplicable("rewards", "range", _ANY_REAL),
        Case(
            "rewards",
            "nan",
            lambda: _score(rewards=jnp.array([NAN, 0.0])),
            match=("trajectory.rewards", "nan"),
        ),
        Case(
            "mask",
            "shape",
            lambda: _score(mask=jnp.ones(1, bool)),
            match=("trajectory.mask", "[1]"),
        ),
        Case(
            "mask",
            "dtype",
            lambda: _score(mask=jnp.array([1.0, 1.0])),
            match=("trajectory.mask", "float32"),
        ),
        *na("mask", _BOOL, ("range", "nan")),
    ],
    "pinfer.agents.PlannerParams": [
        Case(
            "world",
            "type",
            lambda: _params(world=LINE.transition),
            match=("world", "TabularMDP", "ArrayImpl"),
        ),
        Case("reward", "type", lambda: _params(reward=2), match=("reward", "int")),
        *_scalar_cases(_params),
    ],
    "pinfer.agents.BudgetParams": [
        *_scalar_cases(_budget),
        Case(
            "budget",
            "shape",
            lambda: _budget(budget=jnp.array([1, 2])),
            match=("budget", "(2,)"),
        ),
        Case(
            "budget", "dtype", lambda: _budget(budget=1.5), match=("budget", "float32")
        ),
        Case("budget", "range", lambda: _budget(budget=-2), match=("budget", "-2")),
        NotApplicable("budget", "nan", _INTEGER),
    ],
    "pinfer.agents.BoltzmannAgent": [
        Case(
            "num_iterations",
            "value",
            lambda: BoltzmannAgent(0),
            match=("num_iterations", "0"),
        ),
        Case(
            "num_iterations",
            "type",
            lambda: BoltzmannAgent(2.5),
            match=("num_iterations", "2.5"),
        ),
        Case("key", "key", lambda: AGENT.init(0, _params()), match=("key", "0")),
        Case(
            "params",
            "type",
            lambda: AGENT.init(KEY, LINE),
            match=("params", "TabularMDP"),
        ),
        Case(
            "obs",
            "dtype",
            lambda: AGENT.log_action_prob(AGENT.init(KEY, _params()), 1.0, 0, None),
            match=("obs", "float32"),
        ),
        Case(
            "action",
            "dtype",
            lambda: AGENT.log_action_prob(AGENT.init(KEY, _params()), 0, 1.0, None),
            match=("action", "float32"),
        ),
        Case(
            "beta",
            "range",
            lambda: eqx.filter_jit(lambda b: AGENT.init(KEY, _params(beta=b)))(-1.0),
            match=("beta", ">= 0"),
        ),
        Case(
            "beta",
            "soft",
            lambda: BoltzmannAgent(2, soft=True).init(KEY, _params(beta=0.0)),
            match=("beta", "0.0"),
        ),
    ],
    "pinfer.agents.BudgetAgent": [
        Case(
            "max_budget", "value", lambda: BudgetAgent(-1), match=("max_budget", "-1")
        ),
        Case(
            "max_budget", "type", lambda: BudgetAgent(1.5), match=("max_budget", "1.5")
        ),
        Case(
            "budget",
            "range",
            lambda: BudgetAgent(2).init(KEY, _budget(budget=3)),
            match=("budget", "3", "0..2"),
        ),
        Case(
            "budget",
            "range-jit",
            lambda: eqx.filter_jit(
                lambda b: BudgetAgent(2).init(KEY, _budget(budget=b))
            )(5),
            match=("budget", "0..2"),
        ),
        Case(
            "key",
            "key",
            lambda: BudgetAgent(2).init(None, _budget()),
            match=("key", "None"),
        ),
    ],
    "pinfer.agents.LapseParams": [
        Case(
            "epsilon",
            "shape",
            lambda: LapseParams(None, jnp.array([0.1, 0.2])),
            match=("epsilon", "(2,)"),
        ),
        Case(
            "epsilon", "dtype", lambda: LapseParams(None, 1), match=("epsilon", "int32")
        ),
        Case(
            "epsilon", "range", lambda: LapseParams(None, 1.5), match=("epsilon", "1.5")
        ),
        Case(
            "epsilon", "nan", lambda: LapseParams(None, NAN), match=("epsilon", "nan")
        ),
    ],
    "pinfer.agents.LapseAgent": [
        Case("agent", "type", lambda: LapseAgent(object()), match=("agent", "object")),
        Case(
            "epsilon",
            "range-jit",
            lambda: eqx.filter_jit(
                lambda e: LapseAgent(RandomAgent(2)).log_policy(
                    None, 0, LapseParams(None, e)
                )
            )(-0.5),
            match=("epsilon", "[0, 1]"),
        ),
        Case(
            "key",
            "key",
            lambda: LapseAgent(RandomAgent(2)).init(1, LapseParams(None, 0.1)),
            match=("key", "1"),
        ),
    ],
    "pinfer.agents.RandomAgent": [
        Case(
            "num_actions", "value", lambda: RandomAgent(0), match=("num_actions", "0")
        ),
        Case(
            "num_actions",
            "type",
            lambda: RandomAgent(1.5),
            match=("num_actions", "1.5"),
        ),
        Case("key", "key", lambda: RandomAgent(2).init(7, None), match=("key", "7")),
        Case(
            "key",
            "key-act",
            lambda: RandomAgent(2).act(7, None, 0, None),
            match=("key", "7"),
        ),
    ],
    "pinfer.agents.StateGoal": [
        Case(
            "goal_state",
            "shape",
            lambda: StateGoal(jnp.array([2, 1])).apply(LINE),
            match=("goal_state", "(2,)"),
        ),
        Case(
            "goal_state",
            "dtype",
            lambda: StateGoal(2.0),
            match=("goal_state", "float32"),
        ),
        Case(
            "goal_state",
            "range",
            lambda: StateGoal(5).apply(LINE),
            match=("goal_state", "5", "0..2"),
        ),
        NotApplicable("goal_state", "nan", _INTEGER),
        Case(
            "goal_value",
            "shape",
            lambda: StateGoal(2, jnp.ones(3)).apply(LINE),
            match=("goal_value", "(3,)"),
        ),
        Case(
            "goal_value",
            "dtype",
            lambda: StateGoal(2, True),
            match=("goal_value", "bool"),
        ),
        NotApplicable("goal_value", "range", _ANY_REAL),
        Case(
            "goal_value", "nan", lambda: StateGoal(2, NAN), match=("goal_value", "nan")
        ),
        Case(
            "step_cost",
            "shape",
            lambda: StateGoal(2, 1.0, jnp.ones(2)).apply(LINE),
            match=("step_cost", "(2,)"),
        ),
        Case(
            "step_cost",
            "dtype",
            lambda: StateGoal(2, 1.0, True),
            match=("step_cost", "bool"),
        ),
        Case(
            "step_cost",
            "range",
            lambda: StateGoal(2, 1.0, -1.0),
            match=("step_cost", "-1.0"),
        ),
        Case(
            "step_cost",
            "nan",
            lambda: StateGoal(2, 1.0, NAN),
            match=("step_cost", "nan"),
        ),
        Case(
            "world",
            "type",
            lambda: StateGoal(2).apply(_env()[0]),
            match=("world", "TabularEnv"),
        ),
    ],
    "pinfer.agents.GoalValues": [
        Case(
            "goal_values",
            "shape",
            lambda: GoalValues(jnp.ones(2), jnp.ones(3, bool)),
            match=("goal_values", "[2]"),
        ),
        Case(
            "goal_values",
            "dtype",
            lambda: GoalValues(jnp.ones(3, bool), jnp.ones(3, bool)),
            match=("goal_values", "bool"),
        ),
        NotApplicable("goal_values", "range", _ANY_REAL),
        Case(
            "goal_values",
            "nan",
            lambda: GoalValues(jnp.array([0.0, NAN, 1.0]), jnp.ones(3, bool)),
            match=("goal_values", "nan", "position 1"),
        ),
        Case(
            "is_goal",
            "shape",
            lambda: GoalValues(jnp.ones(3), jnp.ones(4, bool)),
            match=("is_goal", "[4]"),
        ),
        Case(
            "is_goal",
            "dtype",
            lambda: GoalValues(jnp.ones(3), jnp.ones(3)),
            match=("is_goal", "float32"),
        ),
        *na("is_goal", _BOOL, ("range", "nan")),
        Case(
            "step_cost",
            "shape",
            lambda: GoalValues(jnp.ones(3), jnp.ones(3, bool), jnp.ones(2)).apply(LINE),
            match=("step_cost", "(2,)"),
        ),
        Case(
            "step_cost",
            "dtype",
            lambda: GoalValues(jnp.ones(3), jnp.ones(3, bool), True),
            match=("step_cost", "bool"),
        ),
        Case(
            "step_cost",
            "range",
            lambda: GoalValues(jnp.ones(3), jnp.ones(3, bool), -2.0),
            match=("step_cost", "-2.0"),
        ),
        Case(
            "step_cost",
            "nan",
            lambda: GoalValues(jnp.ones(3), jnp.ones(3, bool), NAN),
            match=("step_cost", "nan"),
        ),
        Case(
            "goal_values",
            "world",
            lambda: GoalValues(jnp.ones(4), jnp.ones(4, bool)).apply(LINE),
            match=("goal_values", "[4]"),
        ),
    ],
    "pinfer.agents.LinearReward": [
        Case(
            "features",
            "shape",
            lambda: LinearReward(jnp.ones((3, 2)), jnp.ones(2)),
            match=("features", "[3, 2]"),
        ),
        Case(
            "features",
            "dtype",
            lambda: LinearReward(jnp.ones((3, 2, 1), bool), jnp.ones(1)),
            match=("features", "bool"),
        ),
        NotApplicable("features", "range", _ANY_REAL),
        Case(
            "features",
            "nan",
            lambda: LinearReward(jnp.full((3, 2, 1), NAN), jnp.ones(1)),
            match=("features", "nan"),
        ),
        Case(
            "weights",
            "shape",
            lambda: LinearReward(jnp.ones((3, 2, 2)), jnp.ones(3)),
            match=("weights", "[3]"),
        ),
        Case(
            "weights",
            "dtype",
            lambda: LinearReward(jnp.ones((3, 2, 1)), jnp.ones(1, bool)),
            match=("weights", "bool"),
        ),
        NotApplicable("weights", "range", _ANY_REAL),
        Case(
            "weights",
            "nan",
            lambda: LinearReward(jnp.ones((3, 2, 1)), jnp.array([NAN])),
            match=("weights", "nan"),
        ),
    ],
    "pinfer.agents.WorldReward": [
        Case(
            "world",
            "type",
            lambda: WorldReward().apply(_env()[1]),
            match=("world", "TabularEnvParams"),
        ),
    ],
    "pinfer.agents.TabularEnvParams": [
        Case(
            "mdp",
            "type",
            lambda: TabularEnvParams(_env()[1], jnp.ones(3) / 3),
            match=("mdp", "TabularEnvParams"),
        ),
        Case(
            "initial",
            "shape",
            lambda: TabularEnvParams(LINE, jnp.ones(2) / 2),
            match=("initial", "[2]"),
        ),
        Case(
            "initial",
            "dtype",
            lambda: TabularEnvParams(LINE, jnp.array([1, 0, 0])),
            match=("initial", "int32"),
        ),
        Case(
            "initial",
            "range",
            lambda: TabularEnvParams(LINE, jnp.array([1.5, -0.5, 0.0])),
            match=("initial", "1.5"),
        ),
        Case(
            "initial",
            "nan",
            lambda: TabularEnvParams(LINE, jnp.array([NAN, 0.5, 0.5])),
            match=("initial", "nan"),
        ),
        Case(
            "max_steps",
            "shape",
            lambda: TabularEnvParams(LINE, jnp.ones(3) / 3, jnp.array([3, 4])),
            match=("max_steps", "(2,)"),
        ),
        Case(
            "max_steps",
            "dtype",
            lambda: TabularEnvParams(LINE, jnp.ones(3) / 3, 2.5),
            match=("max_steps", "float32"),
        ),
        Case(
            "max_steps",
            "range",
            lambda: TabularEnvParams(LINE, jnp.ones(3) / 3, 0),
            match=("max_steps", "0"),
        ),
        NotApplicable("max_steps", "nan", _INTEGER),
    ],
    "pinfer.agents.TabularEnvState": [
        # A NamedTuple that reset and step return; TabularEnv.step checks it.
        Case(
            "state",
            "shape",
            lambda: _step(TabularEnvState(jnp.array([0, 1]), jnp.int32(0))),
            match=("state.state", "(2,)"),
        ),
        Case(
            "state",
            "dtype",
            lambda: _step(TabularEnvState(jnp.float32(0), jnp.int32(0))),
            match=("state.state", "float32"),
        ),
        Case(
            "state",
            "range",
            lambda: _step(TabularEnvState(jnp.int32(3), jnp.int32(0))),
            match=("state.state", "3", "0..2"),
        ),
        NotApplicable("state", "nan", _INTEGER),
        Case(
            "time",
            "shape",
            lambda: _step(TabularEnvState(jnp.int32(0), jnp.zeros(2, jnp.int32))),
            match=("state.time", "(2,)"),
        ),
        Case(
            "time",
            "dtype",
            lambda: _step(TabularEnvState(jnp.int32(0), jnp.float32(0))),
            match=("state.time", "float32"),
        ),
        Case(
            "time",
            "range",
            lambda: _step(TabularEnvState(jnp.int32(0), jnp.int32(-1))),
            match=("state.time", "-1"),
        ),
        NotApplicable("time", "nan", _INTEGER),
    ],
    "pinfer.agents.TabularEnv": [
        Case("key", "key", lambda: _env()[0].reset(5, _env()[1]), match=("key", "5")),
        Case("action", "range", lambda: _step(action=2), match=("action", "2", "0..1")),
        Case("action", "dtype", lambda: _step(action=1.0), match=("action", "float32")),
        Case(
            "action",
            "range-jit",
            lambda: eqx.filter_jit(lambda a: _step(action=a))(-1),
            match=("action", "0..1"),
        ),
        Case("state", "type", lambda: _step(state=(0, 0)), match=("state", "tuple")),
    ],
    "pinfer.agents.make_tabular_env": [
        Case(
            "mdp",
            "type",
            lambda: make_tabular_env(_env()[1], 0),
            match=("mdp", "TabularEnvParams"),
        ),
        Case(
            "start",
            "shape",
            lambda: make_tabular_env(LINE, jnp.ones(2) / 2),
            match=("start", "[2]"),
        ),
        Case(
            "start",
            "dtype",
            lambda: make_tabular_env(LINE, 1.0),
            match=("start", "float32"),
        ),
        Case(
            "start",
            "range",
            lambda: make_tabular_env(LINE, 3),
            match=("start", "3", "0..2"),
        ),
        Case(
            "start",
            "nan",
            lambda: make_tabular_env(LINE, jnp.array([NAN, 0.5, 0.5])),
            match=("start", "nan"),
        ),
        Case(
            "start",
            "sum",
            lambda: make_tabular_env(LINE, jnp.array([0.5, 0.2, 0.2])),
            match=("start", "0.9"),
        ),
        Case(
            "max_steps",
            "value",
            lambda: make_tabular_env(LINE, 0, max_steps=0),
            match=("max_steps", "0"),
        ),
    ],
}
