"""from_gymnasium: the extracted model equals Gymnasium's P, and stepping Gymnasium's
own environments agrees with the model (exactly, or by a chi-square test)."""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from tolerances import rounding_atol, rounding_rtol

from pinfer.envs import from_gymnasium, initial_distribution, make_gridworld

TOY_TEXT = {
    "frozenlake4-slippery": ("FrozenLake-v1", {}),
    "frozenlake4": ("FrozenLake-v1", {"is_slippery": False}),
    "frozenlake8-slippery": ("FrozenLake8x8-v1", {}),
    "frozenlake8": ("FrozenLake8x8-v1", {"is_slippery": False}),
    "cliffwalking": ("CliffWalking-v1", {}),
    "cliffwalking-slippery": ("CliffWalkingSlippery-v1", {}),
    "taxi": ("Taxi-v4", {}),
    "taxi-rainy": ("Taxi-v4", {"is_rainy": True}),
}
DETERMINISTIC = ["frozenlake4", "frozenlake8", "cliffwalking", "taxi"]
SLIPPERY = ["frozenlake4-slippery", "frozenlake8-slippery", "cliffwalking-slippery"]


def make(name):
    env_id, kwargs = TOY_TEXT[name]
    return gymnasium.make(env_id, **kwargs)


def rebuild_from_p(env):
    """The model straight from the documented meaning of P, entry by entry."""
    table = env.unwrapped.P
    rows, rewards, terminated_into = {}, {}, set()
    for s, by_action in table.items():
        for a, entries in by_action.items():
            row = {}
            for prob, s2, r, done in entries:
                row[s2] = row.get(s2, 0.0) + prob
                rewards[s, a] = rewards.get((s, a), 0.0) + prob * r
                if done:
                    terminated_into.add(s2)
            rows[s, a] = row
    return rows, rewards, terminated_into


def expected_terminal(name, env):
    base = env.unwrapped
    if name.startswith("frozenlake"):
        return set(np.flatnonzero(np.isin(base.desc.ravel(), [b"H", b"G"])))
    if name.startswith("cliffwalking"):
        return {47}
    return {base.encode(*base.locs[d], d, d) for d in range(4)}


@pytest.fixture(scope="module", params=sorted(TOY_TEXT))
def case(request):
    env = make(request.param)
    return request.param, env, from_gymnasium(env), from_gymnasium(env, absorbing=False)


def test_model_equals_gymnasium_p(case):
    name, env, mdp, raw = case
    rows, rewards, terminated_into = rebuild_from_p(env)
    num_states, num_actions = env.observation_space.n, env.action_space.n
    transition = np.zeros((num_states, num_actions, num_states))
    reward = np.zeros((num_states, num_actions))
    for (s, a), row in rows.items():
        transition[s, a, list(row)] = list(row.values())
        reward[s, a] = rewards[s, a]
    # Both sum P's entries in float64 in the same order; pinfer then rounds once to
    # the default float (float32): one rounding of values <= 1 (and of the rewards).
    np.testing.assert_allclose(raw.transition, transition, atol=rounding_atol(1, 1.0))
    np.testing.assert_allclose(raw.reward, reward, rtol=rounding_rtol(1))
    terminal = np.asarray(mdp.terminal)
    assert set(np.flatnonzero(terminal)) == terminated_into
    assert terminated_into == expected_terminal(name, env)
    np.testing.assert_array_equal(raw.terminal, terminal)
    # Terminal rows become zero-reward self-loops; the others are P's rows.
    eye = np.broadcast_to(np.eye(num_states)[:, None, :], transition.shape)
    np.testing.assert_array_equal(
        mdp.transition, np.where(terminal[:, None, None], eye, raw.transition)
    )
    np.testing.assert_array_equal(
        mdp.reward, np.where(terminal[:, None], 0.0, raw.reward)
    )


def reachable_predecessors_of_terminals(mdp, p0):
    """(s, a) pairs, s reachable and not terminal, that move into a terminal state."""
    transition, terminal = np.asarray(mdp.transition) > 0, np.asarray(mdp.terminal)
    seen = p0 > 0
    while True:
        step = transition[seen & ~terminal].any(axis=(0, 1)) | seen
        if (step == seen).all():
            break
        seen = step
    into = transition[:, :, terminal].any(-1) & (seen & ~terminal)[:, None]
    return list(zip(*np.nonzero(into), strict=True))


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_envs_step_exactly_like_the_model(name):
    env, rng = make(name), np.random.default_rng(0)
    mdp = from_gymnasium(env)
    transition, reward = np.asarray(mdp.transition), np.asarray(mdp.reward)
    terminal = np.asarray(mdp.terminal)
    s, _ = env.reset(seed=0)
    assert initial_distribution(env)[s] > 0
    for _ in range(3000):
        a = int(rng.integers(env.action_space.n))
        s2, r, terminated, truncated, _ = env.step(a)
        assert transition[s, a, s2] == 1.0, (name, s, a, s2)
        assert reward[s, a] == r and terminal[s2] == terminated
        s = env.reset()[0] if terminated or truncated else s2
    # Random walks rarely end a Taxi or CliffWalking episode: step Gymnasium from
    # every reachable state that the model says can terminate.
    pairs = reachable_predecessors_of_terminals(
        mdp, np.asarray(initial_distribution(env))
    )
    assert pairs
    for s, a in pairs:
        env.reset(seed=0)
        env.unwrapped.s = int(s)
        s2, r, terminated, _, _ = env.step(int(a))
        assert transition[s, a, s2] == 1.0 and terminal[s2] and terminated
        assert reward[s, a] == r


@pytest.mark.parametrize("name", SLIPPERY)
def test_slippery_envs_match_the_model_by_chi_square(name):
    """Next-state counts from Gymnasium's step against the model's probabilities,
    pooled over every (state, action) visited at least 30 times."""
    env, rng = make(name), np.random.default_rng(1)
    mdp = from_gymnasium(env)
    transition = np.asarray(mdp.transition, dtype=np.float64)
    counts = np.zeros_like(transition)
    s, _ = env.reset(seed=1)
    for _ in range(20_000):
        a = int(rng.integers(env.action_space.n))
        s2, _, terminated, truncated, _ = env.step(a)
        counts[s, a, s2] += 1
        s = env.reset()[0] if terminated or truncated else s2
    visits = counts.sum(-1)
    assert np.all(counts[transition == 0] == 0)  # nothing outside the support
    stat, dof = 0.0, 0
    for s, a in zip(*np.nonzero(visits >= 30), strict=True):
        support = transition[s, a] > 0
        expected = visits[s, a] * transition[s, a, support]
        stat += ((counts[s, a, support] - expected) ** 2 / expected).sum()
        dof += support.sum() - 1
    assert dof >= 20
    assert stats.chi2.sf(stat, dof) > 1e-3


def test_float64_and_initial_distribution():
    with jax.enable_x64(True):
        mdp = from_gymnasium(make("frozenlake4-slippery"))
        assert mdp.transition.dtype == jnp.float64
        # Rows of 16 entries, each a float64 sum of up to 3 probabilities.
        atol = rounding_atol(num_ops=16 + 3, scale=1.0, dtype=np.float64)
        np.testing.assert_allclose(mdp.transition.sum(-1), 1.0, atol=atol)
    p0 = initial_distribution(make("taxi"))
    assert p0.shape == (500,) and (p0 > 0).sum() == 300
    # 500 float32 entries (each one rounding of 1/300 or 0) summed.
    assert abs(float(np.sum(p0)) - 1.0) <= rounding_atol(num_ops=500 + 1, scale=1.0)


def test_unsupported_environments_raise():
    with pytest.raises(TypeError, match="transition table `P`"):
        from_gymnasium(gymnasium.make("Blackjack-v1"))
    with pytest.raises(ValueError, match="fickle_passenger"):
        from_gymnasium(gymnasium.make("Taxi-v4", fickle_passenger=True))
    with pytest.raises(TypeError, match="Discrete observation and action spaces"):
        from_gymnasium(
            type(
                "Boxed",
                (),
                {
                    "P": {},
                    "observation_space": gymnasium.spaces.Box(0, 1),
                    "action_space": gymnasium.spaces.Discrete(2),
                },
            )()
        )
    with pytest.raises(TypeError, match="initial_state_distrib"):
        initial_distribution(gymnasium.make("Blackjack-v1"))


def test_termination_that_is_not_a_state_property_is_rejected():
    class Ambiguous(gymnasium.Env):
        observation_space = gymnasium.spaces.Discrete(2)
        action_space = gymnasium.spaces.Discrete(2)
        initial_state_distrib = np.array([1.0, 0.0])
        # Action 0 enters state 1 and ends the episode, action 1 enters it and goes on.
        P = {
            0: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, False)]},
            1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]},
        }

    with pytest.raises(ValueError, match="not from reachable state 0 with action 1"):
        from_gymnasium(Ambiguous())


def assert_same_model(mdp, expected):
    for name in ("transition", "reward", "terminal"):
        np.testing.assert_array_equal(getattr(mdp, name), getattr(expected, name))


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("pinfer.envs:pinfer/GridWorld-v0", {}),
        ("pinfer/GridWorldSlippery-v0", {"max_steps": 7}),
        ("pinfer/DoorsKeysGems-v0", {"allow_stay": True}),
    ],
)
def test_pinfer_environments_give_their_exact_model(env_id, kwargs):
    """``gymnasium.make`` wraps pinfer's own environments; ``from_gymnasium`` unwraps
    them and returns the very model of the pure environment."""
    wrapped = gymnasium.make(env_id, **kwargs)
    assert wrapped is not wrapped.unwrapped  # Gymnasium's wrappers are in the way
    base = wrapped.unwrapped
    expected = base.env.tabular_mdp(base.params)
    for env in (wrapped, gymnasium.wrappers.RecordEpisodeStatistics(wrapped)):
        assert_same_model(from_gymnasium(env), expected)
    start = int(base.params.start)
    p0 = initial_distribution(wrapped)
    assert p0.shape == (base.env.num_states,) and float(p0[start]) == 1.0
    assert float(p0.sum()) == 1.0


def test_wrapped_toy_text_environments_are_read_through_their_wrappers():
    inner = gymnasium.make("FrozenLake-v1", is_slippery=False)
    wrapped = gymnasium.wrappers.RecordEpisodeStatistics(inner)
    assert_same_model(from_gymnasium(wrapped), from_gymnasium(inner))


def test_unreadable_environments_are_named_with_what_is_accepted():
    with pytest.raises(TypeError, match=r"CartPoleEnv.*FrozenLake.*pinfer"):
        from_gymnasium(gymnasium.make("CartPole-v1"))
    env, params = make_gridworld("S.G")
    with pytest.raises(TypeError, match=r"GridWorld.*env.tabular_mdp\(params\)"):
        from_gymnasium(env)
    with pytest.raises(TypeError, match="`absorbing`.*'yes'"):
        from_gymnasium(gymnasium.make("FrozenLake-v1"), absorbing="yes")
    with pytest.raises(TypeError, match=r"int.*FrozenLake"):
        initial_distribution(3)
