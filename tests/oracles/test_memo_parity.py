"""Exact goal inference equals memo-lang on the same model, in float64, every step.

The model (``benchmarks/inverse_problem.py``): an 8 x 8 grid with walls, three
goals, a Boltzmann agent with beta = 2 on the Q-values of ``NUM_SWEEPS`` sweeps of
value iteration with discount 0.95, a step cost of 1 (the world charges nothing, so
the agent's ``step_cost`` is a reward of -1 per step, charged once) and a goal
worth 10. memo (``benchmarks/memo_gridworld.py``) computes Q by its own
recursion and the goal posterior by its observer's recursion over the steps; pinfer
by ``infer_goals``. memo runs in a subprocess with ``JAX_ENABLE_X64=1``: its models
live at module scope and it installs process-wide hooks (``sys.excepthook``,
``warnings.showwarning``) on import. Trajectories come from a Boltzmann agent with a
random goal, stop at that goal and are padded to a common length.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info < (3, 12):
    pytest.skip(
        "memo-lang needs Python >= 3.12 (its models use PEP 695 syntax)",
        allow_module_level=True,
    )
pytest.importorskip("memo", reason="memo-lang (the test extra) is not installed")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from tolerances import rounding_atol  # noqa: E402

from benchmarks import inverse_problem as problem  # noqa: E402
from benchmarks.bench_inverse import handwritten_goal_inference  # noqa: E402
from pinfer.inverse import infer_goals  # noqa: E402
from pinfer.planning import goal_reward, value_iteration  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NUM_SWEEPS, NUM_TRAJECTORIES, MAX_STEPS = 30, 8, 20


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    states, actions, mask, goals = problem.sample_trajectories(
        seed=3, num=NUM_TRAJECTORIES, num_steps=MAX_STEPS, num_sweeps=NUM_SWEEPS
    )
    folder = tmp_path_factory.mktemp("memo")
    inputs, outputs = folder / "trajectories.npz", folder / "posteriors.npz"
    np.savez(inputs, states=states, actions=actions, lengths=mask.sum(axis=1))
    env = dict(os.environ, JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    command = [sys.executable, "-m", "benchmarks.memo_gridworld", str(inputs)]
    command += [str(outputs), "--num-sweeps", str(NUM_SWEEPS)]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    memo = np.load(outputs)
    with jax.enable_x64(True):
        mdp = problem.pinfer_mdp(jnp.float64)
        run = jax.jit(
            jax.vmap(
                lambda s, a, m: infer_goals(
                    mdp,
                    jnp.array(problem.GOAL_STATES),
                    jnp.array([problem.BETA]),
                    problem.DISCOUNT,
                    s,
                    a,
                    m,
                    num_iterations=NUM_SWEEPS,
                    goal_value=problem.GOAL_VALUE,
                    step_cost=problem.STEP_COST,
                )
            )
        )
        result = run(jnp.asarray(states), jnp.asarray(actions), jnp.asarray(mask))
        handwritten = handwritten_goal_inference(
            mdp.transition,
            jnp.array(problem.GOAL_STATES),
            jnp.asarray(problem.BETA),
            jnp.asarray(states),
            jnp.asarray(actions),
            jnp.asarray(mask),
            num_sweeps=NUM_SWEEPS,
        )
        q_values = [
            value_iteration(
                goal_reward(mdp, g, problem.GOAL_VALUE, problem.STEP_COST),
                problem.DISCOUNT,
                NUM_SWEEPS,
            ).q_values
            for g in problem.GOAL_STATES
        ]
    return dict(
        memo=memo["posteriors"],
        memo_q=memo["q_values"],
        pinfer=np.exp(np.asarray(result.log_goal_posterior)),
        handwritten=np.exp(np.asarray(handwritten)),
        pinfer_dtype=result.log_goal_posterior.dtype,
        pinfer_q=np.stack([np.asarray(q) for q in q_values], axis=-1),
        lengths=mask.sum(axis=1),
        goals=goals,
    )


def _posterior_atol(parity) -> float:
    """Float64 rounding of the sweeps, the steps and the G-goal normalisation, on
    log-policy terms of size up to beta * |Q|."""
    num_ops = NUM_SWEEPS + MAX_STEPS + len(problem.GOAL_STATES)
    scale = problem.BETA * np.abs(parity["pinfer_q"]).max()
    return rounding_atol(num_ops, scale, np.float64)


def test_q_values_agree(parity):
    assert parity["memo_q"].dtype == np.float64
    # NUM_SWEEPS Bellman sweeps, each an expectation over the S states, in float64.
    num_states = parity["pinfer_q"].shape[0]
    scale = np.abs(parity["pinfer_q"]).max()
    atol = rounding_atol(NUM_SWEEPS * num_states, scale, np.float64)
    np.testing.assert_allclose(parity["memo_q"], parity["pinfer_q"], rtol=0, atol=atol)


def test_goal_posteriors_agree_at_every_step(parity):
    assert parity["pinfer_dtype"] == jnp.float64
    atol = _posterior_atol(parity)
    for n, length in enumerate(parity["lengths"]):
        memo, pinfer = parity["memo"][n, : length + 1], parity["pinfer"][n]
        np.testing.assert_allclose(pinfer[: length + 1], memo, rtol=0, atol=atol)
        # Padded steps keep the final posterior.
        np.testing.assert_array_equal(
            pinfer[length:], np.broadcast_to(pinfer[length], pinfer[length:].shape)
        )
    # Not vacuous: trajectories of several steps, and posteriors that learn.
    assert parity["lengths"].max() >= 8 and parity["lengths"].min() >= 1
    final = parity["pinfer"][np.arange(NUM_TRAJECTORIES), -1, parity["goals"]]
    assert np.median(final) > 0.9


def test_benchmark_handwritten_version_agrees(parity):
    """The benchmark's yardstick computes the same posteriors (float64)."""
    np.testing.assert_allclose(
        parity["handwritten"], parity["pinfer"], rtol=0, atol=_posterior_atol(parity)
    )
