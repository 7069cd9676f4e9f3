"""Bad inputs of exact inverse planning, reward inference and the utterance channel
(``pinfer.inverse`` without the particle planner)."""

import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.cases import RESULT, Case, Exempt, NotApplicable, na
from pinfer import inverse as inv
from pinfer.planning import TabularMDP

NAN, INF = float("nan"), float("inf")
# States 0-1-2 on a line, actions left / right; goals at both ends.
LINE = TabularMDP(
    np.eye(3)[np.array([[0, 1], [0, 2], [1, 2]])], np.zeros((3, 2)), np.zeros(3, bool)
)
# State 2 of WALLED is cut off: no other state enters it.
WALLED = TabularMDP(
    np.eye(3)[np.array([[0, 1], [0, 1], [2, 2]])], np.zeros((3, 2)), np.zeros(3, bool)
)
GOALS, BETAS = jnp.array([0, 2]), jnp.array([1.0])
STATES, ACTIONS, MASK = jnp.array([1, 2]), jnp.array([1]), jnp.array([True])
LOG_PI = jnp.log(jnp.full((2, 3, 2), 0.5))  # [H, S, A]
LOG_PI5 = LOG_PI.reshape(2, 1, 1, 3, 2)  # [G, B, K, S, A]
MEANING = jnp.array([[1.0, 0.0], [1.0, 1.0]])  # [U, G]
SPEAKER = inv.literal_speaker(MEANING)  # [G, U]
FEATURES = jnp.ones((3, 2, 1))
INT_ONLY = "integer indices hold no NaN (a float array is the dtype case)"
BOOL_ONLY = "a bool mask: every value is valid (another dtype is the dtype case)"


def _scalar(arg, call, bad, shown):
    """A real scalar: a vector, a bool, an out-of-range value, a NaN."""
    return [
        Case(arg, "shape", lambda: call(jnp.ones(2)), match=(arg, "(2,)")),
        Case(arg, "dtype", lambda: call(True), match=(arg, "bool")),
        Case(arg, "range", lambda: call(bad), match=(arg, shown)),
        Case(arg, "nan", lambda: call(NAN), match=(arg, "nan")),
    ]


def _indices(arg, call, good, bad_value, shape_bad, shape_shown, what=None):
    """An integer index array: a wrong shape, floats, an index out of range."""
    out = np.array(good)
    out.flat[-1] = bad_value
    return [
        Case(arg, "shape", lambda: call(shape_bad), match=(arg, shape_shown)),
        Case(
            arg,
            "dtype",
            lambda: call(jnp.asarray(good, jnp.float32)),
            match=(arg, "float32"),
        ),
        Case(arg, "range", lambda: call(jnp.asarray(out)), match=(arg, str(bad_value))),
        NotApplicable(arg, "nan", INT_ONLY),
    ]


def _mask(arg, call, good, shape_bad, shape_shown):
    return [
        Case(arg, "shape", lambda: call(shape_bad), match=(arg, shape_shown)),
        Case(
            arg,
            "dtype",
            lambda: call(jnp.asarray(good, jnp.float32)),
            match=(arg, "float32"),
        ),
        *na(arg, BOOL_ONLY, ("range", "nan")),
    ]


def _log_values(arg, call, good, shape_bad, shape_shown, bad=INF):
    """Log-probabilities or log-weights: a wrong shape, ints, an entry ``bad`` out
    of range (+inf for a log-prior, a positive one for log-probabilities), a NaN."""
    out, with_nan = np.array(good, np.float32), np.array(good, np.float32)
    out.flat[0], with_nan.flat[0] = bad, NAN
    return [
        Case(arg, "shape", lambda: call(shape_bad), match=(arg, shape_shown)),
        Case(
            arg,
            "dtype",
            lambda: call(jnp.zeros(jnp.shape(good), int)),
            match=(arg, "int32"),
        ),
        Case(arg, "range", lambda: call(jnp.asarray(out)), match=(arg, str(bad))),
        Case(arg, "nan", lambda: call(jnp.asarray(with_nan)), match=(arg, "nan")),
    ]


def _log_table(arg, call, good, shape_bad, shape_shown):
    return _log_values(arg, call, good, shape_bad, shape_shown, bad=3.0)


_log_prior = _log_values


# --- exact inverse planning -------------------------------------------------------


def _infer(**changes):
    args = dict(
        mdp=LINE,
        goal_states=GOALS,
        betas=BETAS,
        discount=0.9,
        states=STATES,
        actions=ACTIONS,
        mask=MASK,
        goal_value=5.0,
    )
    args.update(changes)
    return inv.infer_goals(**args)


def _infer_jit(**changes):
    """The same call inside the user's jit: value errors become ``failed_step``."""
    return jax.jit(lambda s, a: _infer(states=s, actions=a))(
        changes.get("states", STATES), changes.get("actions", ACTIONS)
    )


def _plan(**changes):
    args = dict(mdp=LINE, goal_states=GOALS, betas=BETAS, discount=0.9)
    args.update(changes)
    return inv.goal_log_policies(**args)


def _planning_cases(call, **walled):
    """The arguments ``infer_goals`` and ``goal_log_policies`` share."""
    return [
        Case(
            "mdp",
            "type",
            lambda: call(mdp="a GridWorld"),
            match=("mdp", "TabularMDP", "str"),
        ),
        *_indices(
            "goal_states", lambda g: call(goal_states=g), GOALS, 3, jnp.array(2), "()"
        ),
        Case(
            "goal_states",
            "value",  # state 2 of WALLED cannot be entered (a wall)
            lambda: call(mdp=WALLED, goal_states=jnp.array([0, 2]), **walled),
            match=("goal_states", "2", "no other state can enter"),
        ),
        Case(
            "betas",
            "shape",
            lambda: call(betas=jnp.ones((1, 1))),
            match=("betas", "(1, 1)"),
        ),
        Case(
            "betas",
            "dtype",
            lambda: call(betas=jnp.array([True])),
            match=("betas", "bool"),
        ),
        Case(
            "betas",
            "range",
            lambda: call(betas=jnp.array([-1.0])),
            match=("betas", "-1.0"),
        ),
        Case(
            "betas", "nan", lambda: call(betas=jnp.array([NAN])), match=("betas", "nan")
        ),
        *_scalar("discount", lambda d: call(discount=d), 1.5, "1.5"),
        *_scalar("goal_value", lambda v: call(goal_value=v), INF, "inf"),
        *_scalar("step_cost", lambda c: call(step_cost=c), -1.0, "-1.0"),
        *na("value_fn", "a function, not an array: a non-callable is the type case"),
        Case("value_fn", "type", lambda: call(value_fn=3), match=("value_fn", "3")),
        Case(
            "budgets",
            "value",
            lambda: call(budgets=(2, -1)),
            match=("budgets[1]", "-1"),
        ),
    ]


_INFER = [
    *_planning_cases(_infer, states=jnp.array([1, 0]), actions=jnp.array([0])),
    *_indices(
        "states", lambda s: _infer(states=s), STATES, 7, jnp.array([1, 2, 2]), "[1]"
    ),
    Case(
        "states",
        "move",
        lambda: _infer(states=jnp.array([0, 2])),
        match=("step 0", "state 0 to state 2", "mdp.transition"),
    ),
    Case(
        "states",
        "traced",
        lambda: _infer_jit(states=jnp.array([1, 9])),
        flag=lambda r: int(r.failed_step) == 0,
    ),
    *_indices(
        "actions",
        lambda a: _infer(actions=a),
        ACTIONS,
        7,
        jnp.ones((1, 1, 1), int),
        "shape (1, 1, 1)",
    ),
    Case(
        "actions",
        "empty",
        lambda: _infer(states=STATES[:1], actions=ACTIONS[:0], mask=MASK[:0]),
        match=("actions", "(0,)"),
    ),
    Case(
        "actions",
        "traced",
        lambda: _infer_jit(actions=jnp.array([-1])),
        flag=lambda r: int(r.failed_step) == 0,
    ),
    *_mask("mask", lambda m: _infer(mask=m), MASK, jnp.ones(2, bool), "[2]"),
    *_log_prior(
        "log_prior",
        lambda p: _infer(log_prior=p),
        jnp.zeros((2, 1, 1)),
        jnp.zeros(2),
        "[2]",
    ),
    Case(
        "batch_size", "value", lambda: _infer(batch_size=0), match=("batch_size", "0")
    ),
]

# --- filters ----------------------------------------------------------------------


def _steps_cases(fn, *before, after=()):
    """states / actions / mask of one trajectory ``[T]`` for a filter ``fn``."""

    def call(states=STATES[:1], actions=ACTIONS, mask=MASK):
        return fn(*before, states, actions, mask, *after)

    return [
        *_indices("states", lambda s: call(states=s), STATES[:1], 3, STATES, "[2]"),
        *_indices(
            "actions",
            lambda a: call(actions=a),
            ACTIONS,
            2,
            jnp.ones((1, 1), int),
            "(1, 1)",
        ),
        *_mask("mask", lambda m: call(mask=m), MASK, jnp.ones(2, bool), "[2]"),
    ]


_ACTION_LL = [
    *_log_table(
        "log_policies",
        lambda t: inv.action_log_likelihoods(t, STATES[:1], ACTIONS, MASK),
        LOG_PI,
        LOG_PI[0],
        "(3, 2)",
    ),
    *_steps_cases(inv.action_log_likelihoods, LOG_PI),
]

_GOAL_POSTERIOR = [
    *_log_table(
        "log_policies",
        lambda t: inv.goal_posterior(t, jnp.zeros(2), STATES[:1], ACTIONS, MASK),
        LOG_PI,
        LOG_PI[0],
        "(3, 2)",
    ),
    *_log_prior(
        "log_prior",
        lambda p: inv.goal_posterior(LOG_PI, p, STATES[:1], ACTIONS, MASK),
        jnp.zeros(2),
        jnp.zeros(3),
        "[3]",
    ),
    *_steps_cases(inv.goal_posterior, LOG_PI, jnp.zeros(2)),
    Case(
        "states",
        "traced",
        lambda: jax.jit(inv.goal_posterior)(
            LOG_PI, jnp.zeros(2), jnp.array([5]), ACTIONS, MASK
        ),
        flag=lambda r: int(r.failed_step) == 0,
    ),
]

_TABLE = jnp.log(jnp.full((2, 2), 0.5))  # [T, H]
_FILTER = [
    *_log_prior(
        "log_prior",
        lambda p: inv.filter_log_likelihoods(p, _TABLE),
        jnp.zeros(2),
        jnp.zeros(3),
        "[3]",
    ),
    Case(
        "log_likelihoods",
        "shape",
        lambda: inv.filter_log_likelihoods(jnp.zeros(2), _TABLE[0]),
        match=("log_likelihoods", "(2,)"),
    ),
    Case(
        "log_likelihoods",
        "dtype",
        lambda: inv.filter_log_likelihoods(jnp.zeros(2), jnp.zeros((2, 2), int)),
        match=("log_likelihoods", "int32"),
    ),
    Case(
        "log_likelihoods",
        "range",
        lambda: inv.filter_log_likelihoods(jnp.zeros(2), _TABLE.at[1, 0].set(INF)),
        match=("log_likelihoods", "inf", "step 1"),
    ),
    Case(
        "log_likelihoods",
        "nan",
        lambda: inv.filter_log_likelihoods(jnp.zeros(2), _TABLE.at[1, 0].set(NAN)),
        match=("log_likelihoods", "nan", "step 1"),
    ),
    Case(
        "log_likelihoods",
        "traced",
        lambda: jax.jit(inv.filter_log_likelihoods)(
            jnp.zeros(2), _TABLE.at[1, 0].set(NAN)
        ),
        flag=lambda r: int(r.failed_step) == 1,
    ),
]

# --- reward inference -------------------------------------------------------------


def _reward_cases(fn, *lead, weights=True, **fixed):
    """Every argument of the reward likelihood (``lead``: arguments before mdp)."""
    base = dict(
        mdp=LINE,
        features=FEATURES,
        states=STATES[:1],
        actions=ACTIONS,
        mask=MASK,
        beta=1.0,
        discount=0.5,
        num_iterations=3,
        **fixed,
    )
    if weights:
        base["weights"] = jnp.zeros(1)

    def call(**changes):
        return fn(*lead, **{**base, **changes})

    cases = [
        Case(
            "mdp", "type", lambda: call(mdp="a GridWorld"), match=("mdp", "TabularMDP")
        ),
        Case(
            "features",
            "shape",
            lambda: call(features=jnp.ones((3, 1))),
            match=("features", "[3, 1]"),
        ),
        Case(
            "features",
            "dtype",
            lambda: call(features=FEATURES > 0),
            match=("features", "bool"),
        ),
        Case(
            "features",
            "range",
            lambda: call(features=FEATURES.at[0, 0, 0].set(INF)),
            match=("features", "inf"),
        ),
        Case(
            "features",
            "nan",
            lambda: call(features=FEATURES.at[0, 0, 0].set(NAN)),
            match=("features", "nan"),
        ),
        *_indices(
            "states", lambda s: call(states=s), STATES[:1], 3, jnp.zeros(3, int), "[3]"
        ),
        *_indices(
            "actions", lambda a: call(actions=a), ACTIONS, 2, jnp.int32(1), "shape ()"
        ),
        *_mask("mask", lambda m: call(mask=m), MASK, jnp.ones(2, bool), "[2]"),
        *_scalar("beta", lambda b: call(beta=b), 0.0, "0.0"),
        *_scalar("discount", lambda d: call(discount=d), 1.5, "1.5"),
    ]
    if weights:
        cases += [
            Case(
                "weights",
                "shape",
                lambda: call(weights=jnp.zeros(2)),
                match=("weights", "[2]"),
            ),
            Case(
                "weights",
                "dtype",
                lambda: call(weights=jnp.zeros(1, int)),
                match=("weights", "int32"),
            ),
            Case(
                "weights",
                "range",
                lambda: call(weights=jnp.array([INF])),
                match=("weights", "inf"),
            ),
            Case(
                "weights",
                "nan",
                lambda: call(weights=jnp.array([NAN])),
                match=("weights", "nan"),
            ),
        ]
    else:
        cases += _scalar("prior_scale", lambda p: call(prior_scale=p), 0.0, "0.0")
    return cases


_KEY = jax.random.key(0)

# --- utterances -------------------------------------------------------------------


def _meaning_cases(call):
    return [
        Case("meaning", "shape", lambda: call(MEANING[0]), match=("meaning", "(2,)")),
        Case("meaning", "dtype", lambda: call(MEANING > 0), match=("meaning", "bool")),
        Case(
            "meaning",
            "range",
            lambda: call(MEANING.at[0, 1].set(2.0)),
            match=("meaning", "2.0"),
        ),
        Case(
            "meaning",
            "nan",
            lambda: call(MEANING.at[0, 1].set(NAN)),
            match=("meaning", "nan"),
        ),
    ]


def _speaker_cases(call, shape_bad=SPEAKER[0], shape_shown="(2,)"):
    return _log_table("speaker_log_probs", call, SPEAKER, shape_bad, shape_shown)


def _communicative(**changes):
    args = dict(
        log_policies=LOG_PI5,
        log_prior=None,
        states=STATES[:1],
        actions=ACTIONS,
        mask=MASK,
        speaker_log_probs=SPEAKER,
        utterances=jnp.array([0]),
        spoken=MASK,
    )
    args.update(changes)
    return inv.communicative_goal_posterior(**args)


_COMMUNICATIVE = [
    *_log_table(
        "log_policies",
        lambda t: _communicative(log_policies=t),
        LOG_PI5,
        LOG_PI,
        "(2, 3, 2)",
    ),
    *_log_prior(
        "log_prior",
        lambda p: _communicative(log_prior=p),
        jnp.zeros((2, 1, 1)),
        jnp.zeros(2),
        "[2]",
    ),
    *_indices(
        "states", lambda s: _communicative(states=s), STATES[:1], 3, STATES, "[2]"
    ),
    *_indices(
        "actions",
        lambda a: _communicative(actions=a),
        ACTIONS,
        2,
        jnp.ones((1, 1), int),
        "(1, 1)",
    ),
    *_mask("mask", lambda m: _communicative(mask=m), MASK, jnp.ones(2, bool), "[2]"),
    *_speaker_cases(
        lambda t: _communicative(speaker_log_probs=t), jnp.zeros((3, 2)), "[3, 2]"
    ),
    *_indices(
        "utterances",
        lambda u: _communicative(utterances=u),
        jnp.array([0]),
        5,
        jnp.array([0, 0]),
        "[2]",
    ),
    *_mask(
        "spoken", lambda m: _communicative(spoken=m), MASK, jnp.ones(2, bool), "[2]"
    ),
    Case(
        "utterances",
        "traced",
        lambda: jax.jit(lambda u: _communicative(utterances=u))(jnp.array([5])),
        flag=lambda r: int(r.failed_step) == 0,
    ),
]

_EVIDENCE = [
    *_speaker_cases(lambda t: inv.utterance_evidence(t, jnp.array([0]), MASK, 2)),
    *_indices(
        "utterances",
        lambda u: inv.utterance_evidence(SPEAKER, u, MASK, 2),
        jnp.array([0]),
        4,
        jnp.array(0),
        "()",
    ),
    *_mask(
        "spoken",
        lambda m: inv.utterance_evidence(SPEAKER, jnp.array([0]), m, 2),
        MASK,
        jnp.ones(2, bool),
        "[2]",
    ),
    Case(
        "num_hypotheses",
        "value",
        lambda: inv.utterance_evidence(SPEAKER, jnp.array([0]), MASK, 3),
        match=("num_hypotheses", "3"),
    ),
]

_UTTERANCE_LL = [
    *_speaker_cases(lambda t: inv.utterance_log_likelihood(t, 0)),
    *_indices(
        "utterance",
        lambda u: inv.utterance_log_likelihood(SPEAKER, u),
        jnp.array(0),
        2,
        jnp.array([0]),
        "[1]",
    ),
    Case(
        "spoken",
        "shape",
        lambda: inv.utterance_log_likelihood(SPEAKER, 0, jnp.array([True])),
        match=("spoken", "[1]"),
    ),
    Case(
        "spoken",
        "dtype",
        lambda: inv.utterance_log_likelihood(SPEAKER, 0, 1.0),
        match=("spoken", "float"),
    ),
    *na("spoken", BOOL_ONLY, ("range", "nan")),
]

ENTRIES = {
    "pinfer.inverse.FilterResult": RESULT,
    "pinfer.inverse.InverseResult": RESULT,
    "pinfer.inverse.RewardPosterior": RESULT,
    "pinfer.inverse.IndistinguishableHypothesesWarning": Exempt(
        "a warning class that pinfer raises; not an input"
    ),
    "pinfer.inverse.infer_goals": _INFER,
    "pinfer.inverse.goal_log_policies": _planning_cases(_plan),
    "pinfer.inverse.action_log_likelihoods": _ACTION_LL,
    "pinfer.inverse.goal_posterior": _GOAL_POSTERIOR,
    "pinfer.inverse.filter_log_likelihoods": _FILTER,
    "pinfer.inverse.reward_log_likelihood": _reward_cases(inv.reward_log_likelihood),
    "pinfer.inverse.linear_reward_model": _reward_cases(
        inv.linear_reward_model, weights=False, prior_scale=1.0
    ),
    "pinfer.inverse.infer_reward_weights": [
        Case(
            "key",
            "key",
            lambda: inv.infer_reward_weights(
                0, LINE, FEATURES, STATES[:1], ACTIONS, MASK, 1.0, 0.5, 3
            ),
            match=("key", "0"),
        ),
        *_reward_cases(
            inv.infer_reward_weights,
            _KEY,
            weights=False,
            prior_scale=1.0,
            num_warmup=0,
            num_samples=0,
        ),
    ],
    "pinfer.inverse.Vocabulary": [
        *_meaning_cases(lambda m: inv.Vocabulary(("a", "b"), m, jnp.zeros(2))),
        Case(
            "cost",
            "shape",
            lambda: inv.Vocabulary(("a", "b"), MEANING, jnp.zeros(3)),
            match=("cost", "[3]"),
        ),
        Case(
            "cost",
            "dtype",
            lambda: inv.Vocabulary(("a", "b"), MEANING, jnp.zeros(2, bool)),
            match=("cost", "bool"),
        ),
        Case(
            "cost",
            "range",
            lambda: inv.Vocabulary(("a", "b"), MEANING, jnp.array([0.0, INF])),
            match=("cost", "inf"),
        ),
        Case(
            "cost",
            "nan",
            lambda: inv.Vocabulary(("a", "b"), MEANING, jnp.array([0.0, NAN])),
            match=("cost", "nan"),
        ),
        Case(
            "utterances",
            "value",
            lambda: inv.Vocabulary(("a",), MEANING, jnp.zeros(2)),
            match=("utterances", "1 names"),
        ),
    ],
    "pinfer.inverse.templated_vocabulary": [
        Case(
            "goal_keys",
            "value",
            lambda: inv.templated_vocabulary(["red", "blue"], [["red"]]),
            match=("2 gem colours", "1 key lists"),
        ),
    ],
    "pinfer.inverse.literal_speaker": [
        *_meaning_cases(inv.literal_speaker),
        *_scalar("epsilon", lambda e: inv.literal_speaker(MEANING, e), 1.0, "1.0"),
    ],
    "pinfer.inverse.literal_listener": [
        *_meaning_cases(lambda m: inv.literal_listener(m, jnp.zeros(2))),
        *_log_prior(
            "log_prior",
            lambda p: inv.literal_listener(MEANING, p),
            jnp.zeros(2),
            jnp.zeros(3),
            "[3]",
        ),
    ],
    "pinfer.inverse.pragmatic_speaker": [
        *_meaning_cases(lambda m: inv.pragmatic_speaker(m, jnp.zeros(2), 1.0)),
        *_log_prior(
            "log_prior",
            lambda p: inv.pragmatic_speaker(MEANING, p, 1.0),
            jnp.zeros(2),
            jnp.zeros(3),
            "[3]",
        ),
        *_scalar(
            "alpha",
            lambda a: inv.pragmatic_speaker(MEANING, jnp.zeros(2), a),
            -1.0,
            "-1.0",
        ),
        Case(
            "cost",
            "shape",
            lambda: inv.pragmatic_speaker(MEANING, jnp.zeros(2), 1.0, jnp.zeros(3)),
            match=("cost", "[3]"),
        ),
        Case(
            "cost",
            "dtype",
            lambda: inv.pragmatic_speaker(
                MEANING, jnp.zeros(2), 1.0, jnp.zeros(2, bool)
            ),
            match=("cost", "bool"),
        ),
        Case(
            "cost",
            "range",
            lambda: inv.pragmatic_speaker(
                MEANING, jnp.zeros(2), 1.0, jnp.array([0.0, INF])
            ),
            match=("cost", "inf"),
        ),
        Case(
            "cost",
            "nan",
            lambda: inv.pragmatic_speaker(
                MEANING, jnp.zeros(2), 1.0, jnp.array([0.0, NAN])
            ),
            match=("cost", "nan"),
        ),
        *_scalar(
            "epsilon",
            lambda e: inv.pragmatic_speaker(MEANING, jnp.zeros(2), 1.0, None, e),
            -0.5,
            "-0.5",
        ),
    ],
    "pinfer.inverse.utterance_log_likelihood": _UTTERANCE_LL,
    "pinfer.inverse.utterance_evidence": _EVIDENCE,
    "pinfer.inverse.communicative_goal_posterior": _COMMUNICATIVE,
}
