"""Value iteration, soft value iteration and policies against plain NumPy loops.

The references below are written with explicit Python loops over states, actions and
next states, independent of the vectorised JAX code. Random MDPs have Dirichlet
transition rows, Gaussian rewards and a few terminal states.
"""

import collections
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from planning_helpers import random_mdp_arrays, to_mdp

from pinfer.planning import (
    ConvergedVIResult,
    TabularMDP,
    VIResult,
    boltzmann_policy,
    finite_horizon_value_iteration,
    greedy_policy,
    soft_value,
    soft_value_iteration,
    validate_mdp,
    value_iteration,
    value_iteration_until_converged,
)

SIZES = [(1, 1), (6, 3), (13, 4)]
DTYPES = [jnp.float32, jnp.float64]
# float32: each sweep adds a few ulps of |V| (|V| <= ~10 here).
TOL = {
    jnp.float32: dict(rtol=1e-5, atol=5e-5),
    jnp.float64: dict(rtol=1e-11, atol=1e-11),
}


def np_value_iteration(
    transition, reward, terminal, discount, num_iterations, beta=None
):
    """Plain-loop (soft if ``beta``) value iteration; returns the last (V, Q)."""
    num_states, num_actions = reward.shape
    values = [0.0] * num_states
    for _ in range(num_iterations):
        q = np.zeros((num_states, num_actions))
        for s in range(num_states):
            if terminal[s]:
                continue
            for a in range(num_actions):
                future = 0.0
                for s2 in range(num_states):
                    if not terminal[s2]:
                        future += transition[s, a, s2] * values[s2]
                q[s, a] = reward[s, a] + discount * future
        values = [0.0] * num_states
        for s in range(num_states):
            if terminal[s]:
                continue
            if beta is None:
                values[s] = max(q[s])
            else:
                top = max(beta * q[s])
                total = sum(math.exp(beta * q[s, a] - top) for a in range(num_actions))
                values[s] = (top + math.log(total)) / beta
    return np.array(values), q


def x64_context(dtype):
    return jax.enable_x64(dtype == jnp.float64)


VI = jax.jit(value_iteration, static_argnames=("num_iterations", "value_fn"))
SOFT_VI = jax.jit(soft_value_iteration, static_argnames="num_iterations")
FINITE = jax.jit(finite_horizon_value_iteration, static_argnames=("horizon",))
CONVERGED = jax.jit(
    value_iteration_until_converged, static_argnames=("max_iterations", "value_fn")
)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("discount,num_iterations", [(0.9, 25), (1.0, 6)])
def test_value_iteration_matches_numpy(size, dtype, discount, num_iterations):
    arrays = random_mdp_arrays(sum(size), *size)
    ref_v, ref_q = np_value_iteration(*arrays, discount, num_iterations)
    with x64_context(dtype):
        result = VI(to_mdp(arrays, dtype), discount, num_iterations=num_iterations)
        assert isinstance(result, VIResult)
        assert result.q_values.dtype == dtype
    np.testing.assert_allclose(result.values, ref_v, **TOL[dtype])
    np.testing.assert_allclose(result.q_values, ref_q, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_soft_value_iteration_matches_numpy(dtype, beta):
    arrays = random_mdp_arrays(7, 9, 3)
    ref_v, ref_q = np_value_iteration(*arrays, 0.9, 20, beta=beta)
    with x64_context(dtype):
        result = SOFT_VI(to_mdp(arrays, dtype), 0.9, beta, num_iterations=20)
    np.testing.assert_allclose(result.values, ref_v, **TOL[dtype])
    np.testing.assert_allclose(result.q_values, ref_q, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("discount", [1.0, 0.8])
def test_finite_horizon_is_time_indexed_value_iteration(dtype, discount):
    arrays = random_mdp_arrays(3, 8, 3)
    horizon = 5
    with x64_context(dtype):
        mdp = to_mdp(arrays, dtype)
        q = FINITE(mdp, horizon=horizon, discount=discount)
        assert q.shape == (horizon, 8, 3)
        for t in range(horizon):
            _, ref_q = np_value_iteration(*arrays, discount, horizon - t)
            np.testing.assert_allclose(q[t], ref_q, **TOL[dtype])
            vi_q = VI(mdp, discount, num_iterations=horizon - t).q_values
            np.testing.assert_allclose(q[t], vi_q, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(q[-1], np.where(arrays[2][:, None], 0, arrays[1]), 1e-6)


def test_until_converged_reaches_the_fixed_point():
    arrays = random_mdp_arrays(11, 10, 3)
    with jax.enable_x64(True):
        mdp = to_mdp(arrays, jnp.float64)
        tol = 1e-10
        result = CONVERGED(mdp, 0.9, tol, max_iterations=2000)
        assert isinstance(result, ConvergedVIResult)
        assert bool(result.converged) and float(result.residual) <= tol
        assert 10 < int(result.num_iterations) < 2000
        fixed_v, fixed_q = np_value_iteration(*arrays, 0.9, 400)
        np.testing.assert_allclose(result.values, fixed_v, atol=10 * tol)
        np.testing.assert_allclose(result.q_values, fixed_q, atol=10 * tol)
        # The same number of sweeps of the scan version gives the same numbers.
        scan = VI(mdp, 0.9, num_iterations=int(result.num_iterations))
        np.testing.assert_allclose(result.values, scan.values, rtol=1e-13)
        # Soft backups through value_fn.
        soft_fn = functools.partial(soft_value, beta=2.0)
        soft = CONVERGED(mdp, 0.9, tol, max_iterations=2000, value_fn=soft_fn)
        soft_v, _ = np_value_iteration(*arrays, 0.9, 400, beta=2.0)
        np.testing.assert_allclose(soft.values, soft_v, atol=10 * tol)


def test_until_converged_reports_hitting_the_cap():
    mdp = to_mdp(random_mdp_arrays(11, 10, 3))
    result = CONVERGED(mdp, 0.99, 1e-9, max_iterations=3)
    assert not bool(result.converged) and int(result.num_iterations) == 3
    np.testing.assert_allclose(result.values, VI(mdp, 0.99, num_iterations=3).values)


def test_soft_approaches_hard_as_beta_grows():
    arrays = random_mdp_arrays(5, 12, 4)
    num_iterations, discount = 30, 0.9
    with jax.enable_x64(True):
        mdp = to_mdp(arrays, jnp.float64)
        hard = VI(mdp, discount, num_iterations=num_iterations).values
        gaps = []
        for beta in [1.0, 10.0, 100.0, 1000.0]:
            soft = SOFT_VI(mdp, discount, beta, num_iterations=num_iterations).values
            gap = np.asarray(soft - hard)
            # Each soft backup exceeds the max by at most log(A) / beta.
            bound = math.log(4) / beta * (1 - discount**num_iterations) / (1 - discount)
            assert gap.min() >= -1e-12 and gap.max() <= bound + 1e-12
            gaps.append(gap.max())
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False))
    assert gaps[-1] < 1e-2


def test_boltzmann_and_greedy_policies():
    q = jnp.array([[1.0, 2.0, 0.5], [3.0, 3.0, -1.0], [0.0, 0.0, 0.0]])
    beta = 1.7
    logits = beta * np.asarray(q, np.float64)
    ref = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(boltzmann_policy(q, beta), ref, rtol=1e-6)
    np.testing.assert_allclose(boltzmann_policy(q, 0.0), np.full((3, 3), -np.log(3)))
    # Huge beta * Q neither overflows nor loses normalisation.
    sharp = boltzmann_policy(q * 1e3, 50.0)
    assert np.all(np.isfinite(sharp[:, :2]))
    np.testing.assert_allclose(jax.nn.logsumexp(sharp, axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(jnp.exp(sharp), jnp.exp(greedy_policy(q)), atol=1e-6)
    greedy = np.exp(np.asarray(greedy_policy(q)))
    np.testing.assert_allclose(greedy[1], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(greedy[2], [1 / 3] * 3, rtol=1e-6)
    near = np.exp(np.asarray(greedy_policy(jnp.array([[1.0, 1.0 - 1e-3]]), atol=1e-2)))
    np.testing.assert_allclose(near, [[0.5, 0.5]])
    assert np.all(np.asarray(jax.grad(lambda x: greedy_policy(x)[0, 1])(q)) == 0.0)


def _policy_log_likelihood(reward, beta, discount, transition, terminal, soft):
    """Log-probability of a fixed set of (state, action) pairs under the policy."""
    mdp = TabularMDP(transition, reward, terminal)
    if soft:
        q = soft_value_iteration(mdp, discount, beta, 15).q_values
    else:
        q = value_iteration(mdp, discount, 15).q_values
    log_pi = boltzmann_policy(q, beta)
    states, actions = jnp.array([0, 1, 2, 3, 4, 0]), jnp.array([1, 0, 2, 2, 1, 0])
    return jnp.sum(log_pi[states, actions])


@pytest.mark.parametrize("soft", [True, False], ids=["soft", "hard"])
def test_gradients_match_finite_differences(soft):
    transition, reward, terminal = random_mdp_arrays(2, 7, 3)
    with jax.enable_x64(True):
        transition, reward = jnp.asarray(transition), jnp.asarray(reward)
        fn = jax.jit(
            functools.partial(
                _policy_log_likelihood,
                transition=transition,
                terminal=terminal,
                soft=soft,
            )
        )
        args = (reward, jnp.float64(1.3), jnp.float64(0.85))
        check_grads(fn, args, order=1, modes=["rev", "fwd"], atol=1e-6, rtol=1e-6)
        # And an explicit central difference in beta.
        grad_beta = jax.grad(fn, argnums=1)(*args)
        h = 1e-5
        numeric = (fn(reward, 1.3 + h, 0.85) - fn(reward, 1.3 - h, 0.85)) / (2 * h)
        np.testing.assert_allclose(grad_beta, numeric, rtol=1e-6)
        assert float(jnp.abs(grad_beta)) > 1e-3


def test_jvp_through_the_while_loop():
    arrays = random_mdp_arrays(4, 6, 2)
    with jax.enable_x64(True):
        mdp = to_mdp(arrays, jnp.float64)

        def converged(discount):
            return value_iteration_until_converged(mdp, discount, 1e-12, 3000).values

        def scanned(discount):
            return value_iteration(mdp, discount, 400).values

        _, tangent = jax.jvp(converged, (0.9,), (1.0,))
        np.testing.assert_allclose(tangent, jax.jacfwd(scanned)(0.9), atol=1e-8)


def test_compiles_once_per_shape():
    traces = collections.Counter()

    @jax.jit
    def plan(mdp, discount, beta):
        traces["plan"] += 1
        hard = value_iteration(mdp, discount, 10)
        soft = soft_value_iteration(mdp, discount, beta, 10)
        finite = finite_horizon_value_iteration(mdp, 4, discount)
        conv = value_iteration_until_converged(mdp, discount, 1e-4, 50)
        return hard, boltzmann_policy(soft.q_values, beta), finite, conv

    for seed, discount, beta in [(0, 0.9, 1.0), (1, 0.5, 3.0), (2, 1.0, 0.1)]:
        out = plan(to_mdp(random_mdp_arrays(seed, 5, 2)), discount, beta)
        assert np.all(np.isfinite(out[1]))
    assert traces["plan"] == 1


def test_float32_world_with_float64_parameters():
    with jax.enable_x64(True):
        mdp = to_mdp(random_mdp_arrays(0, 5, 2), jnp.float32)
        result = soft_value_iteration(mdp, jnp.float64(0.9), jnp.float64(2.0), 5)
        assert result.values.dtype == jnp.float64
        finite = finite_horizon_value_iteration(mdp, 3, jnp.float64(0.9))
        assert finite.dtype == jnp.float64


# ---- bad input ---------------------------------------------------------------------


def test_validate_mdp_rejects_bad_tables():
    transition, reward, terminal = random_mdp_arrays(0, 4, 2)
    validate_mdp(to_mdp((transition, reward, terminal)))
    off = transition.copy()
    off[2, 1] *= 0.9
    with pytest.raises(ValueError, match=r"transition\[2, 1, :\] sums to 0.9"):
        validate_mdp(to_mdp((off, reward, terminal)))
    negative = transition.copy()
    negative[1, 0, :2] = [-0.2, negative[1, 0, 0] + negative[1, 0, 1] + 0.2]
    with pytest.raises(ValueError, match=r"transition\[1, 0, 0\] = -0.2 is negative"):
        validate_mdp(to_mdp((negative, reward, terminal)))
    bad_reward = reward.copy()
    bad_reward[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"reward\[3, 1\] = nan is not finite"):
        validate_mdp(to_mdp((transition, bad_reward, terminal)))
    with pytest.raises(ValueError, match=r"reward must have shape \[S, A\] = \[4, 2\]"):
        to_mdp((transition, reward[:, :1], terminal))
    with pytest.raises(ValueError, match=r"terminal must have shape \[S\] = \[4\]"):
        to_mdp((transition, reward, terminal[:3]))
    with pytest.raises(ValueError, match=r"transition must have shape \[S, A, S\]"):
        to_mdp((transition[:, :, :3], reward, terminal))


@pytest.mark.parametrize("count", [0, -3])
def test_nonpositive_counts_are_rejected(count):
    mdp = to_mdp(random_mdp_arrays(0, 3, 2))
    with pytest.raises(ValueError, match=f"`num_iterations` must be an int >= 1, got {count}"):
        value_iteration(mdp, 0.9, count)
    with pytest.raises(ValueError, match=f"`num_iterations` must be an int >= 1, got {count}"):
        soft_value_iteration(mdp, 0.9, 1.0, count)
    with pytest.raises(ValueError, match=f"`horizon` must be an int >= 1, got {count}"):
        finite_horizon_value_iteration(mdp, count)
    with pytest.raises(ValueError, match=f"`max_iterations` must be an int >= 1, got {count}"):
        value_iteration_until_converged(mdp, 0.9, max_iterations=count)


def test_non_static_counts_are_rejected():
    mdp = to_mdp(random_mdp_arrays(0, 3, 2))
    with pytest.raises(TypeError, match="`num_iterations` must be a static Python int"):
        value_iteration(mdp, 0.9, 2.5)
    with pytest.raises(TypeError, match="`num_iterations` must be a static Python int"):
        jax.jit(lambda n: value_iteration(mdp, 0.9, n))(3)


@pytest.mark.parametrize("discount", [1.5, -0.1, np.float64(2.0)])
def test_discount_outside_unit_interval_is_rejected(discount):
    mdp = to_mdp(random_mdp_arrays(0, 3, 2))
    match = r"discount must lie in \[0, 1\], got"
    with pytest.raises(ValueError, match=match):
        value_iteration(mdp, discount, 3)
    with pytest.raises(ValueError, match=match):
        finite_horizon_value_iteration(mdp, 3, discount)
    with pytest.raises(ValueError, match=match):
        value_iteration_until_converged(mdp, discount)


@pytest.mark.parametrize("beta", [0.0, -1.0])
def test_nonpositive_beta_is_rejected_by_soft_backups(beta):
    mdp = to_mdp(random_mdp_arrays(0, 3, 2))
    with pytest.raises(ValueError, match="beta must be > 0 for a soft value"):
        soft_value_iteration(mdp, 0.9, beta, 3)
