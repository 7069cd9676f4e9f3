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
from planning_helpers import random_mdp_arrays, sweep_atol, to_mdp, value_scale
from tolerances import rounding_atol, rounding_rtol

from pinfer.planning import (
    ConvergedVIResult,
    TabularMDP,
    VIResult,
    boltzmann_policy,
    finite_horizon_value_iteration,
    greedy_policy,
    soft_value,
    soft_value_iteration,
    value_iteration,
    value_iteration_until_converged,
)

SIZES = [(1, 1), (6, 3), (13, 4)]
DTYPES = [jnp.float32, jnp.float64]


def vi_atol(arrays, num_sweeps, dtype, beta=None):
    """JAX in ``dtype`` against the float64 loops: the sweep bound of ``dtype`` (the
    loops' own float64 rounding is far below it)."""
    _, reward, _ = arrays
    num_states, num_actions = reward.shape
    scale = value_scale(reward, num_sweeps, beta, num_actions)
    return sweep_atol(num_sweeps, num_states, num_actions, scale, dtype)


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
        assert int(result.num_iterations) == num_iterations
    atol = vi_atol(arrays, num_iterations, dtype)
    np.testing.assert_allclose(result.values, ref_v, rtol=0, atol=atol)
    np.testing.assert_allclose(result.q_values, ref_q, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_soft_value_iteration_matches_numpy(dtype, beta):
    arrays = random_mdp_arrays(7, 9, 3)
    ref_v, ref_q = np_value_iteration(*arrays, 0.9, 20, beta=beta)
    with x64_context(dtype):
        result = SOFT_VI(to_mdp(arrays, dtype), 0.9, beta, num_iterations=20)
    atol = vi_atol(arrays, 20, dtype, beta)
    np.testing.assert_allclose(result.values, ref_v, rtol=0, atol=atol)
    np.testing.assert_allclose(result.q_values, ref_q, rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("discount", [1.0, 0.8])
def test_finite_horizon_is_time_indexed_value_iteration(dtype, discount):
    arrays = random_mdp_arrays(3, 8, 3)
    horizon = 5
    with x64_context(dtype):
        mdp = to_mdp(arrays, dtype)
        q = FINITE(mdp, horizon=horizon, discount=discount)
        assert q.shape == (horizon, 8, 3)
        atol = vi_atol(arrays, horizon, dtype)
        for t in range(horizon):
            _, ref_q = np_value_iteration(*arrays, discount, horizon - t)
            np.testing.assert_allclose(q[t], ref_q, rtol=0, atol=atol)
            vi_q = VI(mdp, discount, num_iterations=horizon - t).q_values
            np.testing.assert_allclose(q[t], vi_q, rtol=0, atol=atol)
    # The last step is Q = R: the reward itself, rounded to the dtype.
    np.testing.assert_allclose(
        q[-1],
        np.where(arrays[2][:, None], 0, arrays[1]),
        rtol=rounding_rtol(1, dtype=dtype),
    )


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
        # A contraction by 0.9 stopped at residual tol is within tol * 0.9 / 0.1 of
        # its fixed point (the 400-sweep reference is within 0.9**400 * 10 ~ 1e-17).
        bound = tol * 0.9 / (1 - 0.9)
        np.testing.assert_allclose(result.values, fixed_v, rtol=0, atol=bound)
        # Q = R + 0.9 * E[V]: 0.9 times that error.
        np.testing.assert_allclose(result.q_values, fixed_q, rtol=0, atol=0.9 * bound)
        # The same number of sweeps of the scan version: the same operations in the
        # same order, equal up to rounding.
        count = int(result.num_iterations)
        scan = VI(mdp, 0.9, num_iterations=count)
        np.testing.assert_allclose(
            result.values, scan.values, rtol=0, atol=vi_atol(arrays, count, jnp.float64)
        )
        # Soft backups through value_fn, and the same loop through value_iteration.
        soft_fn = functools.partial(soft_value, beta=2.0)
        soft = CONVERGED(mdp, 0.9, tol, max_iterations=2000, value_fn=soft_fn)
        soft_v, _ = np_value_iteration(*arrays, 0.9, 400, beta=2.0)
        np.testing.assert_allclose(soft.values, soft_v, rtol=0, atol=bound)
        same = VI(mdp, 0.9, num_iterations=2000, value_fn=soft_fn, tol=tol)
        assert int(same.num_iterations) == int(soft.num_iterations)
        assert bool(same.converged) and bool(soft.converged)
        count = int(soft.num_iterations)  # the same sweeps: equal up to rounding
        soft_atol = vi_atol(arrays, count, jnp.float64, beta=2.0)
        np.testing.assert_allclose(same.values, soft.values, rtol=0, atol=soft_atol)


def test_until_converged_reports_hitting_the_cap():
    mdp = to_mdp(random_mdp_arrays(11, 10, 3))
    result = CONVERGED(mdp, 0.99, 1e-9, max_iterations=3)
    assert not bool(result.converged) and int(result.num_iterations) == 3
    fixed = VI(mdp, 0.99, num_iterations=3)
    assert float(result.residual) > 1e-9 and not bool(fixed.converged)
    atol = vi_atol(random_mdp_arrays(11, 10, 3), 3, jnp.float32)  # the same 3 sweeps
    for a, b in zip(result[:2], fixed[:2], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


def test_a_fixed_count_reports_whether_the_values_settled():
    """A chain settles after its length: the residual of later sweeps is exactly 0."""
    chain = TabularMDP(
        jnp.eye(4)[jnp.array([[1], [2], [3], [3]])],
        jnp.ones((4, 1)),
        jnp.array([False, False, False, True]),
    )
    short, settled = value_iteration(chain, 0.9, 2), value_iteration(chain, 0.9, 5)
    assert not bool(short.converged) and float(short.residual) > 0
    assert bool(settled.converged) and float(settled.residual) == 0.0
    early = value_iteration(chain, 0.9, 50, tol=0.0)
    assert int(early.num_iterations) == 4 and bool(early.converged)
    # The same first four sweeps (the fifth changes nothing): equal up to rounding.
    atol = sweep_atol(5, 4, 1, 5 * 1.0)
    np.testing.assert_allclose(early.values, settled.values, rtol=0, atol=atol)


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
            # Plus the float64 rounding of the two runs.
            slack = 2 * vi_atol(arrays, num_iterations, jnp.float64, beta)
            assert gap.min() >= -slack and gap.max() <= bound + slack
            gaps.append(gap.max())
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False))


def test_boltzmann_and_greedy_policies():
    q = jnp.array([[1.0, 2.0, 0.5], [3.0, 3.0, -1.0], [0.0, 0.0, 0.0]])
    beta = 1.7
    logits = beta * np.asarray(q, np.float64)
    ref = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    # log_softmax: A + 3 roundings of terms up to beta * max|Q| + log A.
    atol = rounding_atol(3 + 3, beta * 3.0 + math.log(3))
    np.testing.assert_allclose(boltzmann_policy(q, beta), ref, rtol=0, atol=atol)
    np.testing.assert_allclose(
        boltzmann_policy(q, 0.0), np.full((3, 3), -np.log(3)), rtol=rounding_rtol(6)
    )
    # Huge beta * Q neither overflows nor loses normalisation: after the max is
    # subtracted (exactly, the products are whole numbers) the terms are <= log A.
    sharp = boltzmann_policy(q * 1e3, 50.0)
    assert np.all(np.isfinite(sharp[:, :2]))
    normalised = rounding_atol(3 + 3, math.log(3))
    np.testing.assert_allclose(
        jax.nn.logsumexp(sharp, axis=1), 0.0, rtol=0, atol=normalised
    )
    np.testing.assert_allclose(
        jnp.exp(sharp), jnp.exp(greedy_policy(q)), rtol=0, atol=normalised
    )
    greedy = np.exp(np.asarray(greedy_policy(q)))
    # exp(-log(#ties)): two roundings.
    np.testing.assert_allclose(greedy[1], [0.5, 0.5, 0.0], rtol=rounding_rtol(2))
    np.testing.assert_allclose(
        greedy[2], [1 / 3] * 3, rtol=rounding_rtol(2)
    )  # exp(-log 3)
    near = np.exp(np.asarray(greedy_policy(jnp.array([[1.0, 1.0 - 1e-3]]), atol=1e-2)))
    np.testing.assert_allclose(near, [[0.5, 0.5]], rtol=rounding_rtol(2))
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
        # Against finite differences, at check_grads' own float64 tolerances.
        check_grads(fn, args, order=1, modes=["rev", "fwd"])
        # Reverse and forward mode in beta: two orders of the same derivative.
        grad_beta = jax.grad(fn, argnums=1)(*args)
        _, tangent = jax.jvp(lambda b: fn(reward, b, 0.85), (1.3,), (1.0,))
        # 15 sweeps of 7 states and 3 actions, then a policy: terms below the
        # derivative's own size times the sweep count.
        atol = sweep_atol(16, 7, 3, 16 * float(jnp.abs(grad_beta)), np.float64)
        np.testing.assert_allclose(grad_beta, tangent, rtol=0, atol=atol)
        assert float(jnp.abs(grad_beta)) > 1e3 * atol  # beta matters


def test_jvp_through_the_while_loop():
    arrays = random_mdp_arrays(4, 6, 2)
    with jax.enable_x64(True):
        mdp = to_mdp(arrays, jnp.float64)

        def converged(discount):
            result = value_iteration(mdp, discount, 3000, tol=1e-12)
            return result.values, result.num_iterations

        (_, count), (tangent, _) = jax.jvp(converged, (0.9,), (1.0,))
        count = int(count)

        def scanned(discount):  # the same sweeps as the loop, in a scan
            return value_iteration(mdp, discount, count).values

        # dV/d(discount) <= max|R| / (1 - discount)**2: the terms' size.
        scale = float(np.abs(arrays[1]).max()) / (1 - 0.9) ** 2
        atol = sweep_atol(count, 6, 2, scale, np.float64)
        np.testing.assert_allclose(tangent, jax.jacfwd(scanned)(0.9), rtol=0, atol=atol)


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
