"""Reward-weight inference: the likelihood against NumPy, and recovery with NUTS.

A Boltzmann agent with known linear reward weights (soft value iteration written
here in NumPy) walks a small open grid; NUTS on pinfer's numpyro model must cover
the true weights within four posterior standard deviations.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from grid_oracle import MOVES, grid_transition
from tolerances import rounding_atol

from pinfer.inverse import (
    infer_reward_weights,
    reward_log_likelihood,
)
from pinfer.planning import TabularMDP, arrival_features

SIDE = 4
BETA, DISCOUNT, SWEEPS = 1.0, 0.8, 30
TRUE_WEIGHTS = np.array([1.5, -1.0, 1.0])
NUM_TRAJECTORIES, NUM_STEPS = 40, 10


def open_grid():
    return grid_transition(SIDE, SIDE)


def state_features():
    """Top-left corner, bottom-right corner, and the row (a gradient)."""
    rows, cols = np.divmod(np.arange(SIDE * SIDE), SIDE)
    top_left = (rows + cols <= 1).astype(float)
    bottom_right = (rows + cols >= 2 * SIDE - 3).astype(float)
    return np.stack([top_left, bottom_right, rows / (SIDE - 1)], axis=1)


def numpy_log_policy(transition, features, weights):
    reward = features @ weights
    values = np.zeros(transition.shape[0])
    for _ in range(SWEEPS):
        q = reward + DISCOUNT * transition @ values
        top = q.max(axis=1)
        values = top + np.log(np.exp(BETA * (q - top[:, None])).sum(axis=1)) / BETA
    logits = BETA * q
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


@pytest.fixture(scope="module")
def data():
    transition = open_grid()
    features = np.einsum("sat,tf->saf", transition, state_features())
    log_policy = numpy_log_policy(transition, features, TRUE_WEIGHTS)
    rng = np.random.default_rng(0)
    states = np.zeros((NUM_TRAJECTORIES, NUM_STEPS), int)
    actions = np.zeros((NUM_TRAJECTORIES, NUM_STEPS), int)
    for n in range(NUM_TRAJECTORIES):
        s = rng.integers(SIDE * SIDE)
        for t in range(NUM_STEPS):
            a = rng.choice(len(MOVES), p=np.exp(log_policy[s]))
            states[n, t], actions[n, t] = s, a
            s = int(np.argmax(transition[s, a]))
    mask = np.ones(actions.shape, bool)
    mask[::3, NUM_STEPS // 2 :] = False  # some shorter trajectories
    return transition, features, states, actions, mask


def test_likelihood_equals_numpy(data):
    transition, features, states, actions, mask = data
    weights = np.array([0.3, -0.7, 2.0])
    log_policy = numpy_log_policy(transition, features, weights)
    expected = np.sum(np.where(mask, log_policy[states, actions], 0.0))
    with jax.enable_x64(True):
        mdp = TabularMDP(
            jnp.asarray(transition),
            jnp.zeros(transition.shape[:2]),
            jnp.zeros(SIDE * SIDE, bool),
        )
        # arrival_features is pinfer's own construction of the same features.
        pinfer_features = arrival_features(mdp, jnp.asarray(state_features()))
        # An expectation over the S next states of terms <= 1, in float64.
        atol = rounding_atol(SIDE * SIDE, 1.0, np.float64)
        np.testing.assert_allclose(pinfer_features, features, rtol=0, atol=atol)
        value = reward_log_likelihood(
            mdp,
            pinfer_features,
            jnp.asarray(states),
            jnp.asarray(actions),
            jnp.asarray(mask),
            jnp.asarray(weights),
            BETA,
            DISCOUNT,
            SWEEPS,
        )
    # Soft value iteration: SWEEPS sweeps of an expectation over S states and a
    # logsumexp over A actions; then a sum over the observed steps, whose total
    # bounds every term.
    num_ops = SWEEPS * (SIDE * SIDE + len(MOVES)) + int(mask.sum())
    atol = rounding_atol(num_ops, abs(expected), np.float64)
    np.testing.assert_allclose(float(value), expected, rtol=0, atol=atol)


def test_nuts_recovers_the_weights(data):
    transition, features, states, actions, mask = data
    mdp = TabularMDP(
        jnp.asarray(transition, jnp.float32),
        jnp.zeros(transition.shape[:2]),
        jnp.zeros(SIDE * SIDE, bool),
    )
    posterior = infer_reward_weights(
        jax.random.key(0),
        mdp,
        jnp.asarray(features, jnp.float32),
        jnp.asarray(states),
        jnp.asarray(actions),
        jnp.asarray(mask),
        BETA,
        DISCOUNT,
        SWEEPS,
        prior_scale=3.0,
        num_warmup=300,
        num_samples=400,
    )
    draws = np.asarray(posterior.weights).reshape(-1, TRUE_WEIGHTS.size)
    assert draws.shape == (400, 3)
    mean, sd = draws.mean(axis=0), draws.std(axis=0)
    # A sanity check of the sampler (1 % of the draws), not a tolerance.
    assert int(posterior.num_divergent) <= 4
    assert np.all(np.abs(mean - TRUE_WEIGHTS) < 4 * sd), (mean, sd)
    # The data must be informative for the check to mean anything (prior sd 3).
    assert np.all(sd < 0.6), sd


def test_bad_inputs_are_named_not_clipped(data):
    transition, features, states, actions, mask = data
    mdp = TabularMDP(
        jnp.asarray(transition, jnp.float32),
        jnp.zeros(transition.shape[:2]),
        jnp.zeros(SIDE * SIDE, bool),
    )
    features = jnp.asarray(features, jnp.float32)
    weights = jnp.asarray(TRUE_WEIGHTS, jnp.float32)
    bad = np.array(actions)
    bad[2, 3] = 7  # before: scored like action 3 (a clipped index)
    args = (mdp, features, states[:3], bad[:3], mask[:3], weights)
    with pytest.raises(ValueError, match=r"`actions` holds 7 at trajectory 2, step 3"):
        reward_log_likelihood(*args, BETA, DISCOUNT, SWEEPS)
    traced = jax.jit(reward_log_likelihood, static_argnums=8)
    assert np.isneginf(traced(*args, BETA, DISCOUNT, SWEEPS))  # impossible, flagged
    good = (mdp, features, states[:3], actions[:3], mask[:3], weights)
    with pytest.raises(ValueError, match=r"`beta` must be > 0.0, got 0.0"):
        reward_log_likelihood(*good, 0.0, DISCOUNT, SWEEPS)
    with pytest.raises(ValueError, match=r"`features` must be finite, got nan"):
        reward_log_likelihood(
            mdp, features.at[0, 1, 2].set(jnp.nan), *good[2:], BETA, DISCOUNT, SWEEPS
        )
    with pytest.raises(TypeError, match="`key` must be a JAX PRNG key, got 0"):
        infer_reward_weights(0, *good[:5], BETA, DISCOUNT, SWEEPS)
