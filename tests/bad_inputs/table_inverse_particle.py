"""Bad inputs of online particle inverse planning (``pinfer.inverse``'s particle
filter, its model, moves and tables).

The model is tiny (2 goals x 2 budgets on a 3-state line, 2 actions, 4 steps); every
concrete case raises before anything is traced. Two cases run inside ``jit``, where
an out-of-range action must set ``failed_step`` instead.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.builders import bad, with_entry
from bad_inputs.cases import RESULT, Case, Exempt, NotApplicable, na
from pinfer import inverse as inv
from pinfer.planning import TabularMDP

NAN, INF = float("nan"), float("inf")
KEY = jax.random.key(0)
LINE = TabularMDP(  # states 0-1-2 on a line, actions left / right
    np.eye(3)[np.array([[0, 1], [0, 2], [1, 2]])], np.zeros((3, 2)), np.zeros(3, bool)
)
GOALS = jnp.array([0, 2])
# Made by hand (no planning at import): [G, K, S, A] = [2, 2, 3, 2].
Q = jnp.asarray(np.random.default_rng(0).normal(size=(2, 2, 3, 2)), jnp.float32)
PRIOR = inv.uniform_prior(2, 2)
STATES, ACTIONS, MASK = (
    jnp.array([0, 1, 2, 1]),
    jnp.array([1, 1, 0, 1]),
    jnp.ones(4, bool),
)
GRID = jnp.linspace(-2.0, 2.0, 5)
_TABLE = jnp.zeros((2, 2, 5))
HISTORY = inv.History(Q, STATES, ACTIONS, MASK, GRID, _TABLE, _TABLE)
PARTICLES = inv.InverseParticles(
    jnp.array([0, 1, 1]), jnp.array([0, 1, 0]), jnp.zeros(3)
)


@functools.cache
def _state():
    return inv.particle_inverse_init(KEY, Q, 8, 4, PRIOR)


INT_ONLY = "integer indices hold no NaN (a float array is the dtype case)"
BOOL_ONLY = "a bool mask: every value is valid (another dtype is the dtype case)"
MOVES_NA = "a tuple of move functions, not an array (a non-function is the type case)"


def _ints(arg, call, good, bad_value, shape_bad, shape_shown):
    """An index array (or scalar): a wrong shape, floats, one index out of range."""
    out = bad_value if np.ndim(good) == 0 else with_entry(good, -1, bad_value)
    return [
        bad(arg, "shape", call, shape_bad, match=(shape_shown,)),
        bad(arg, "dtype", call, jnp.asarray(good, jnp.float32), match=("float32",)),
        bad(arg, "range", call, jnp.asarray(out), match=(str(bad_value),)),
        NotApplicable(arg, "nan", INT_ONLY),
    ]


def _mask(arg, call, shape_bad, shape_shown):
    return [
        bad(arg, "shape", call, shape_bad, match=(shape_shown,)),
        bad(arg, "dtype", call, jnp.ones(4), match=("float32",)),
        *na(arg, BOOL_ONLY, ("range", "nan")),
    ]


def _floats(arg, call, good, shape_bad, shape_shown, bad_value, shown=None):
    """A float array: a wrong shape, ints, ``bad_value`` out of range, a NaN."""
    index = (0,) * np.ndim(good)
    return [
        bad(arg, "shape", call, shape_bad, match=(shape_shown,)),
        bad(arg, "dtype", call, jnp.zeros(np.shape(good), int), match=("int32",)),
        bad(
            arg,
            "range",
            call,
            jnp.asarray(with_entry(good, index, bad_value), jnp.float32),
            match=(shown or str(bad_value),),
        ),
        bad(
            arg,
            "nan",
            call,
            jnp.asarray(with_entry(good, index, NAN), jnp.float32),
            match=("nan",),
        ),
    ]


def _scalar(arg, call, bad_value, shown):
    """A real scalar: a vector, a bool, an out-of-range value, a NaN."""
    return [
        bad(arg, "shape", call, jnp.ones(2), match=("(2,)",)),
        bad(arg, "dtype", call, True, match=("bool",)),
        bad(arg, "range", call, bad_value, match=(shown,)),
        bad(arg, "nan", call, NAN, match=("nan",)),
    ]


def _q_tables(call):
    """Q-values: any real or -inf is valid; +inf and NaN are not."""
    return _floats("q_tables", call, Q, Q[0], "(2, 3, 2)", INF, "inf")


def _grid(call):
    unsorted = jnp.array([0.0, 1.0, 0.5])
    return [
        bad("log_beta_grid", "shape", call, GRID[None], match=("(1, 5)",)),
        bad("log_beta_grid", "dtype", call, jnp.arange(5), match=("int32",)),
        bad("log_beta_grid", "range", call, unsorted, match=("increasing", "0.5")),
        bad("log_beta_grid", "nan", call, GRID.at[1].set(NAN), match=("nan",)),
    ]


def _threshold(call):
    return _scalar("ess_threshold", call, 1.5, "1.5")


# --- the driver and the streaming API ----------------------------------------------


def _run(**changes):
    args = dict(
        key=KEY,
        q_tables=Q,
        states=STATES,
        actions=ACTIONS,
        mask=MASK,
        prior=PRIOR,
        num_particles=8,
    )
    return inv.run_particle_inverse(**(args | changes))


def _with(fn, name):
    return lambda value: fn(**{name: value})


@functools.cache
def _run_jit():
    return jax.jit(lambda actions: _run(actions=actions))


def _step(**changes):
    args = dict(
        key=KEY, state=_state(), state_index=0, action=1, q_tables=Q, prior=PRIOR
    )
    return inv.particle_inverse_step(**(args | changes))


def _samples(**changes):
    args = dict(key=KEY, state=_state(), num_samples=4)
    return inv.particle_posterior_samples(**(args | changes))


def _init(**changes):
    args = dict(key=KEY, q_tables=Q, num_particles=8, max_steps=4, prior=PRIOR)
    return inv.particle_inverse_init(**(args | changes))


def _prior(**changes):
    """A hand-built prior, checked where it is used (here: particle_inverse_init)."""
    fields = PRIOR._asdict() | changes
    return _init(prior=inv.ParticlePrior(**fields))


def _gibbs(**changes):
    args = dict(key=KEY, particles=PARTICLES, history=HISTORY, prior=PRIOR)
    return inv.gibbs_goal_budget_move(**(args | changes))


def _particles(**changes):
    return _gibbs(particles=PARTICLES._replace(**changes))


def _history(**changes):
    return _gibbs(history=HISTORY._replace(**changes))


def _tables(**changes):
    args = dict(
        q_tables=Q, states=STATES, actions=ACTIONS, mask=MASK, log_beta_grid=GRID
    )
    return inv.history_tables(**(args | changes))


def _plan(**changes):
    args = dict(mdp=LINE, goal_states=GOALS, discount=0.9, budgets=(1, 3))
    return inv.goal_q_tables(**(args | changes))


ENTRIES = {
    "pinfer.inverse.run_particle_inverse": [
        bad("key", "key", _run, key=0, match=("got 0",)),
        *_q_tables(_with(_run, "q_tables")),
        *_ints("states", _with(_run, "states"), STATES, 9, STATES[:3], "[3]"),
        *_ints("actions", _with(_run, "actions"), ACTIONS, 7, ACTIONS[None], "(1, 4)"),
        bad("actions", "empty", _run, actions=ACTIONS[:0], match=("one step",)),
        Case(
            "actions",
            "traced",
            lambda: _run_jit()(ACTIONS.at[2].set(-1)),
            flag=lambda result: int(result.failed_step) == 2,
        ),
        *_mask("mask", _with(_run, "mask"), MASK[:3], "[3]"),
        bad("prior", "type", _run, prior=(0.0, 1.0), match=("tuple",)),
        bad("num_particles", "value", _run, num_particles=0, match=("got 0",)),
        bad("moves", "type", _run, moves=(len, 3), match=("moves[1]", "3")),
        *na("moves", MOVES_NA),
        bad("num_moves", "value", _run, num_moves=-1, match=("-1",)),
        *_threshold(_with(_run, "ess_threshold")),
        *_grid(_with(_run, "log_beta_grid")),
    ],
    "pinfer.inverse.particle_inverse_init": [
        bad("key", "key", _init, key=None, match=("None",)),
        *_q_tables(_with(_init, "q_tables")),
        bad("max_steps", "value", _init, max_steps=0, match=("got 0",)),
        *_grid(_with(_init, "log_beta_grid")),
    ],
    "pinfer.inverse.particle_inverse_step": [
        bad("key", "key", _step, key=1, match=("got 1",)),
        bad("state", "type", _step, state=PRIOR, match=("ParticlePrior",)),
        *_ints(
            "state_index", _with(_step, "state_index"), 0, 3, jnp.zeros(2, int), "(2,)"
        ),
        *_ints("action", _with(_step, "action"), 1, 5, jnp.zeros(2, int), "(2,)"),
        Case(
            "action",
            "traced",
            lambda: jax.jit(lambda a: _step(action=a))(5)[0],
            flag=lambda state: int(state.failed_step) == 0,
        ),
        *_q_tables(_with(_step, "q_tables")),
        *_threshold(_with(_step, "ess_threshold")),
        bad("moves", "type", _step, moves=[None], match=("moves[0]", "None")),
        *na("moves", MOVES_NA),
    ],
    "pinfer.inverse.particle_posterior_samples": [
        bad("key", "key", _samples, key=0, match=("got 0",)),
        bad("state", "type", _samples, state=PARTICLES, match=("InverseParticles",)),
        bad("num_samples", "value", _samples, num_samples=0, match=("got 0",)),
        bad(
            "resample_fn",
            "type",
            _samples,
            resample_fn="systematic",
            match=("'systematic'",),
        ),  # fmt: skip
        Case(
            "state",
            "value",
            lambda: _samples(
                state=_state()._replace(
                    log_evidence=jnp.float32(NAN), failed_step=jnp.int32(2)
                )
            ),
            match=("state", "failed at step 2"),
        ),
    ],
    "pinfer.inverse.goal_q_tables": [
        bad("mdp", "type", _plan, mdp=LINE.transition, match=("TabularMDP",)),
        *_ints(
            "goal_states", _with(_plan, "goal_states"), GOALS, 5, GOALS[None], "(1, 2)"
        ),
        bad("goal_states", "empty", _plan, goal_states=GOALS[:0], match=("one goal",)),
        *_scalar("discount", _with(_plan, "discount"), 1.5, "1.5"),
        *_scalar("goal_value", _with(_plan, "goal_value"), INF, "inf"),
        *_scalar("step_cost", _with(_plan, "step_cost"), -1.0, "-1.0"),
        bad("budgets", "value", _plan, budgets=(1, -2), match=("-2",)),
    ],
    "pinfer.inverse.history_tables": [
        *_q_tables(_with(_tables, "q_tables")),
        *_ints("states", _with(_tables, "states"), STATES, 3, STATES[:3], "[3]"),
        *_ints(
            "actions", _with(_tables, "actions"), ACTIONS, 2, ACTIONS[None], "(1, 4)"
        ),
        *_mask("mask", _with(_tables, "mask"), MASK[:3], "[3]"),
        *_grid(_with(_tables, "log_beta_grid")),
    ],
    "pinfer.inverse.uniform_prior": [
        bad("num_goals", "value", inv.uniform_prior, 0, 2, match=("got 0",)),
        bad("num_budgets", "type", inv.uniform_prior, 2, 1.5, match=("1.5",)),
        *_scalar("log_beta_loc", lambda v: inv.uniform_prior(2, 2, v), INF, "inf"),
        *_scalar(
            "log_beta_scale", lambda v: inv.uniform_prior(2, 2, 0.0, v), 0.0, "0.0"
        ),
    ],
    "pinfer.inverse.ParticlePrior": [
        *_floats(
            "log_goal",
            _with(_prior, "log_goal"),
            PRIOR.log_goal,
            jnp.zeros(3),
            "[3]",
            INF,
            "inf",
        ),
        *_floats(
            "log_budget",
            _with(_prior, "log_budget"),
            PRIOR.log_budget,
            jnp.zeros(1),
            "[1]",
            INF,
            "inf",
        ),
        bad(
            "log_goal",
            "value",
            _prior,
            log_goal=jnp.full(2, -INF),
            match=("-inf everywhere",),
        ),
        *_scalar("log_beta_loc", _with(_prior, "log_beta_loc"), INF, "inf"),
        *_scalar("log_beta_scale", _with(_prior, "log_beta_scale"), -1.0, "-1.0"),
    ],
    "pinfer.inverse.gibbs_goal_budget_move": [
        bad("key", "key", _gibbs, key=0, match=("got 0",)),
        bad("particles", "type", _gibbs, particles=(0, 0, 0.0), match=("tuple",)),
        bad("history", "type", _gibbs, history=Q, match=("ArrayImpl",)),
        bad(
            "prior",
            "shape",
            _gibbs,
            prior=inv.uniform_prior(3, 2),
            match=("[2]", "[3]"),
        ),
    ],
    "pinfer.inverse.log_beta_rwm_move": [
        bad(
            "key",
            "key",
            inv.log_beta_rwm_move,
            0,
            PARTICLES,
            HISTORY,
            PRIOR,
            match=("got 0",),
        ),
        bad(
            "particles",
            "range",
            inv.log_beta_rwm_move,
            KEY,
            PARTICLES._replace(goal=jnp.array([0, 2, 0])),
            HISTORY,
            PRIOR,
            match=("particles.goal", "2"),
        ),  # fmt: skip
    ],
    "pinfer.inverse.InverseParticles": [
        *_ints(
            "goal",
            _with(_particles, "goal"),
            PARTICLES.goal,
            2,
            PARTICLES.goal[:2],
            "[2]",
        ),
        *_ints(
            "budget",
            _with(_particles, "budget"),
            PARTICLES.budget,
            -1,
            PARTICLES.budget[None],
            "(1, 3)",
        ),
        *_floats(
            "log_beta",
            _with(_particles, "log_beta"),
            PARTICLES.log_beta,
            jnp.zeros(2),
            "[2]",
            INF,
            "inf",
        ),
    ],
    "pinfer.inverse.History": [
        *_q_tables(_with(_history, "q_tables")),
        *_ints("states", _with(_history, "states"), STATES, 3, STATES[:3], "[3]"),
        *_ints(
            "actions", _with(_history, "actions"), ACTIONS, 2, ACTIONS[None], "(1, 4)"
        ),
        *_mask("mask", _with(_history, "mask"), MASK[:3], "[3]"),
        *_grid(_with(_history, "log_beta_grid")),
        *_floats(
            "log_lik_table",
            _with(_history, "log_lik_table"),
            _TABLE,
            _TABLE[0],
            "[2, 5]",
            INF,
            "inf",
        ),
        *_floats(
            "log_lik_slope",
            _with(_history, "log_lik_slope"),
            _TABLE,
            _TABLE[..., 1:],
            "[2, 2, 4]",
            -INF,
            "-inf",
        ),
    ],
    "pinfer.inverse.ParticleInverseState": Exempt(
        "the filter's state: made by particle_inverse_init and returned by "
        "particle_inverse_step, which checks its type and that its tables match "
        "q_tables; users pass it back, they do not build it"
    ),
    "pinfer.inverse.ParticleInverseInfo": RESULT,
    "pinfer.inverse.ParticleInverseResult": RESULT,
}
