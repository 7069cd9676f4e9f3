"""Speaker models and utterances as an evidence channel, against NumPy Bayes.

The oracles are written here with loops and NumPy: the literal and RSA speakers from
their definitions, the posterior from a direct product of prior, action
probabilities and speaker probability for every prefix of a trajectory.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from docstring_examples import assert_examples_run
from tolerances import rounding_atol

import pinfer.inverse.utterances
import pinfer.inverse.vocabulary
from pinfer.inverse import (
    communicative_goal_posterior,
    literal_listener,
    literal_speaker,
    pragmatic_speaker,
    templated_vocabulary,
    utterance_evidence,
    utterance_log_likelihood,
)

NUM_GOALS, NUM_UTTERANCES = 4, 5
DTYPES = (jnp.float32, jnp.float64)
# The speakers: a listener normalised over G goals, a softmax over U utterances of
# alpha * (log L0 - cost) with alpha <= 4, |log L0| <= log G and costs < 1: terms of
# size up to SPEAKER_SCALE, about U + G + 4 roundings in a row.
SPEAKER_OPS = NUM_UTTERANCES + NUM_GOALS + 4
SPEAKER_SCALE = 4.0 * (np.log(NUM_GOALS) + 1.0)
TOL = {
    dtype: rounding_atol(SPEAKER_OPS, SPEAKER_SCALE, dtype)
    for dtype in (jnp.float32, jnp.float64)
}


def random_meaning(rng):
    """Random 0/1 meanings with a null utterance true of every goal."""
    meaning = (rng.random((NUM_UTTERANCES, NUM_GOALS)) < 0.5).astype(float)
    meaning[-1] = 1.0
    return meaning


def np_literal(meaning, eps):
    """``P(u | g)`` as ``[G, U]``, from the definition."""
    out = np.zeros(meaning.shape[::-1])
    for g in range(meaning.shape[1]):
        out[g] = (1 - eps) * meaning[:, g] / meaning[:, g].sum() + eps / len(meaning)
    return out


def np_rsa(meaning, prior, alpha, cost, eps):
    listener = meaning * prior[None, :]
    totals = listener.sum(axis=1, keepdims=True)  # 0 for an utterance true of none
    listener = listener / np.where(totals > 0, totals, 1.0)  # [U, G]
    out = np.zeros(meaning.shape[::-1])
    for g in range(meaning.shape[1]):
        for u in range(meaning.shape[0]):
            if listener[u, g] > 0:
                out[g, u] = np.exp(alpha * (np.log(listener[u, g]) - cost[u]))
        out[g] = (1 - eps) * out[g] / out[g].sum() + eps / len(meaning)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_speakers_match_definitions_and_normalise(dtype):
    rng = np.random.default_rng(0)
    with jax.enable_x64(dtype == jnp.float64):
        for _ in range(5):
            meaning = random_meaning(rng)
            prior = rng.dirichlet(np.ones(NUM_GOALS))
            cost = rng.random(NUM_UTTERANCES)
            alpha, eps = rng.uniform(0.1, 4.0), rng.choice([0.0, 0.1])
            m, lp = jnp.asarray(meaning, dtype), jnp.log(jnp.asarray(prior, dtype))
            lit = literal_speaker(m, eps)
            rsa = pragmatic_speaker(m, lp, alpha, jnp.asarray(cost, dtype), eps)
            for table in (lit, rsa):
                assert table.dtype == dtype
                sums = jax.scipy.special.logsumexp(table, axis=1)
                np.testing.assert_allclose(sums, 0.0, atol=TOL[dtype])
            np.testing.assert_allclose(
                np.exp(lit), np_literal(meaning, eps), atol=TOL[dtype]
            )
            np.testing.assert_allclose(
                np.exp(rsa), np_rsa(meaning, prior, alpha, cost, eps), atol=TOL[dtype]
            )


def test_goal_with_no_true_utterance_speaks_uniformly_and_nothing_is_nan():
    meaning = jnp.array([[1.0, 0.0], [1.0, 0.0]])  # nothing is true of goal 1
    for table in (
        literal_speaker(meaning),
        pragmatic_speaker(meaning, jnp.zeros(2), 0.0),
        pragmatic_speaker(meaning, jnp.zeros(2), 3.0),
    ):
        # Uniform over two utterances within the rounding of a normalisation.
        np.testing.assert_allclose(
            np.exp(table[1]), [0.5, 0.5], atol=rounding_atol(4, 1.0)
        )
        assert not jnp.any(jnp.isnan(table))
    listener = literal_listener(jnp.array([[0.0, 0.0], [1.0, 1.0]]), jnp.zeros(2))
    assert jnp.all(listener[0] == -jnp.inf) and not jnp.any(jnp.isnan(listener))


def test_rsa_at_large_alpha_picks_the_most_informative_utterance():
    # gem names single out one goal, the key two, the null all three.
    vocab = templated_vocabulary(["red", "blue", "green"], [[], ["red"], ["red"]])
    assert vocab.utterances == (
        "get the red gem",
        "get the blue gem",
        "get the green gem",
        "get the red key",
        "(says nothing)",
    )
    probs = jnp.exp(pragmatic_speaker(vocab.meaning, jnp.zeros(3), 50.0))
    # exp(-50 log 2) ~ 1e-15 off a one-hot: the rest is rounding of probabilities.
    atol = rounding_atol(SPEAKER_OPS, 1.0)
    np.testing.assert_allclose(probs, np.eye(3, 5), atol=atol)
    # Without gem names the key beats the null for the goals behind the door.
    keys_only = templated_vocabulary(
        ["red", "blue", "green"], [[], ["red"], ["red"]], include_gems=False
    )
    probs = jnp.exp(pragmatic_speaker(keys_only.meaning, jnp.zeros(3), 50.0))
    np.testing.assert_allclose(probs, [[0, 1], [1, 0], [1, 0]], atol=atol)
    # alpha = 0 (and the literal speaker) is uniform over the true utterances.
    np.testing.assert_allclose(
        jnp.exp(pragmatic_speaker(keys_only.meaning, jnp.zeros(3), 0.0)),
        jnp.exp(literal_speaker(keys_only.meaning)),
        atol=atol,
    )


def test_literal_posterior_equals_bayes():
    rng = np.random.default_rng(1)
    meaning = random_meaning(rng)
    prior = rng.dirichlet(np.ones(NUM_GOALS))
    speaker = literal_speaker(jnp.asarray(meaning), 0.05)
    uninformative = jnp.zeros((NUM_GOALS, 1, 1, 1, 2)) - jnp.log(2.0)
    for u in range(NUM_UTTERANCES):
        result = communicative_goal_posterior(
            uninformative,
            jnp.log(jnp.asarray(prior))[:, None, None],
            jnp.zeros(1, int),
            jnp.zeros(1, int),
            jnp.ones(1, bool),
            speaker,
            jnp.array([u]),
            jnp.ones(1, bool),
        )
        joint = prior * np_literal(meaning, 0.05)[:, u]
        # Probabilities from a filter over G goals of log-terms up to |log(eps/U)|.
        scale = -np.log(0.05 / NUM_UTTERANCES)
        np.testing.assert_allclose(
            np.exp(result.log_goal_posterior[1]),
            joint / joint.sum(),
            atol=rounding_atol(SPEAKER_OPS + NUM_GOALS, scale),
        )
        np.testing.assert_allclose(
            utterance_log_likelihood(speaker, u),
            np.log(np_literal(meaning, 0.05)[:, u]),
            atol=rounding_atol(SPEAKER_OPS, scale),
        )


_posterior = jax.jit(communicative_goal_posterior)


@pytest.mark.parametrize("dtype", DTYPES)
def test_combined_channels_equal_brute_force_product(dtype):
    rng = np.random.default_rng(2)
    num_b, num_k, num_s, num_a, num_t = 2, 3, 5, 3, 6
    with jax.enable_x64(dtype == jnp.float64):
        logits = rng.normal(size=(NUM_GOALS, num_b, num_k, num_s, num_a))
        log_pi = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        log_prior = np.log(rng.dirichlet(np.ones(NUM_GOALS * num_b * num_k)))
        log_prior = log_prior.reshape(NUM_GOALS, num_b, num_k)
        meaning = random_meaning(rng)
        speaker = np.log(np_rsa(meaning, np.ones(NUM_GOALS), 1.5, np.zeros(5), 0.1))
        states = rng.integers(0, num_s, num_t)
        actions = rng.integers(0, num_a, num_t)
        mask = np.array([True] * 4 + [False] * 2)
        utterances = rng.integers(0, NUM_UTTERANCES, num_t)
        spoken = np.array([False, True, False, True, False, False])
        result = _posterior(
            *(jnp.asarray(x, dtype) for x in (log_pi, log_prior)),
            states,
            actions,
            mask,
            jnp.asarray(speaker, dtype),
            utterances,
            spoken,
        )
        assert result.log_posterior.dtype == dtype
        for t in range(num_t + 1):
            joint = np.zeros((NUM_GOALS, num_b, num_k))
            for g, b, k in itertools.product(
                range(NUM_GOALS), range(num_b), range(num_k)
            ):
                p = np.exp(log_prior[g, b, k])
                for tau in range(t):
                    if mask[tau]:
                        p *= np.exp(log_pi[g, b, k, states[tau], actions[tau]])
                    if spoken[tau]:
                        p *= np.exp(speaker[g, utterances[tau]])
                joint[g, b, k] = p
            # The filter adds up to 2 t log-terms (action and speaker, each of
            # size |log p| <= scale) and normalises over H hypotheses.
            scale = max(np.abs(log_pi).max(), np.abs(speaker).max())
            atol = rounding_atol(2 * num_t + log_prior.size, scale, dtype)
            np.testing.assert_allclose(
                np.exp(result.log_posterior[t]), joint / joint.sum(), atol=atol
            )
            np.testing.assert_allclose(
                result.log_evidence[t], np.log(joint.sum()), atol=2 * num_t * atol
            )
            np.testing.assert_allclose(
                np.exp(result.log_goal_posterior[t]),
                joint.sum((1, 2)) / joint.sum(),
                atol=atol,
            )


def test_utterance_true_of_one_goal_pins_the_posterior():
    vocab = templated_vocabulary(
        ["red", "blue", "green"], [[], ["red"], ["blue"]], include_gems=False
    )
    speaker = literal_speaker(vocab.meaning)  # epsilon 0: false means impossible
    log_pi = jnp.log(jax.random.dirichlet(jax.random.key(0), jnp.ones(2), (3, 2, 1, 4)))
    result = communicative_goal_posterior(
        log_pi,
        None,
        jnp.array([1, 2, 3]),
        jnp.array([0, 1, 0]),
        jnp.ones(3, bool),
        speaker,
        jnp.full(3, vocab.index("get the blue key")),
        jnp.array([False, True, False]),
    )
    goal = np.exp(result.log_goal_posterior)
    assert goal[1].max() < 0.99  # one action alone does not decide
    np.testing.assert_array_equal(goal[2:, :2], 0)  # ruled out: exactly zero
    # One goal left: 1 up to the rounding of normalising over H (differs on a GPU).
    atol = rounding_atol(log_pi.shape[0] * log_pi.shape[1], 1.0)
    np.testing.assert_allclose(goal[2:, 2], 1, rtol=0, atol=atol)
    assert not np.any(np.isnan(result.log_posterior))


def test_evidence_table_layout_and_bad_input():
    speaker = jnp.log(jnp.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]))
    table = utterance_evidence(speaker, jnp.array([1, 0]), jnp.array([True, True]), 6)
    np.testing.assert_allclose(
        jnp.exp(table), [[0.8, 0.8, 0.4, 0.4, 0.5, 0.5], [0.2, 0.2, 0.6, 0.6, 0.5, 0.5]]
    )
    with pytest.raises(ValueError, match="not a multiple of the 3 goals"):
        utterance_evidence(speaker, jnp.array([0]), jnp.array([True]), 4)
    with pytest.raises(ValueError, match="Unknown utterance 'hello'"):
        templated_vocabulary(["red"]).index("hello")
    with pytest.raises(ValueError, match="one gem colour and one list of keys"):
        templated_vocabulary(["red", "blue"], [["red"]])
    with pytest.raises(
        ValueError,
        match=r"`speaker_log_probs` must have shape .*"
        "the same G = 2 as `log_policies`",
    ):
        communicative_goal_posterior(
            jnp.zeros((2, 1, 1, 3, 2)), None, jnp.zeros(1, int), jnp.zeros(1, int),
            jnp.ones(1, bool), speaker, jnp.zeros(1, int), jnp.ones(1, bool),
        )  # fmt: skip


def test_alpha_is_dynamic_and_differentiable():
    meaning = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    traces = []

    @jax.jit
    def log_prob(alpha):
        traces.append(None)
        return pragmatic_speaker(meaning, jnp.zeros(3), alpha)[0, 0]

    values = [log_prob(jnp.float32(a)) for a in (0.5, 1.0, 2.0)]
    assert len(traces) == 1 and values[0] < values[1] < values[2]
    grad = jax.grad(log_prob)(1.0)
    assert jnp.isfinite(grad) and grad > 0


@pytest.mark.parametrize("module", ["utterances", "vocabulary"])
def test_doctests(module):
    assert_examples_run(getattr(pinfer.inverse, module))


def test_experiment_smoke(tmp_path):
    from experiments import communicating_agents

    code = communicating_agents.main(
        ["--quick", "--steps", "20", "--out", str(tmp_path)]
    )
    assert code == 0
    for name in ("communicating_agents.csv", "communicating_agents.md",
                 "communicating_agents.png"):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0
