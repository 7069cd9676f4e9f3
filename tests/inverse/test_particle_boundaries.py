"""What online particle inverse planning does with bad inputs.

Concrete inputs are checked before tracing and raise an error naming the function,
the argument, the step and the value; inside a user's ``jit``, out-of-range states
and actions set ``failed_step`` and the estimates from that step on are NaN, never a
plausible number.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinfer.inverse import (
    goal_q_tables,
    particle_inverse_init,
    particle_inverse_step,
    particle_posterior_samples,
    run_particle_inverse,
    uniform_prior,
)
from pinfer.planning import TabularMDP

NUM_STATES, NUM_ACTIONS = 3, 2
LINE = TabularMDP(  # states 0-1-2 on a line, actions left / right
    jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
    jnp.zeros((3, 2)),
    jnp.zeros(3, bool),
)


@pytest.fixture(scope="module")
def problem():
    q_tables = goal_q_tables(LINE, jnp.array([0, 2]), 0.9, budgets=(1, 3))
    prior = uniform_prior(2, 2)
    states = jnp.array([0, 1, 2, 1])
    actions = jnp.array([1, 1, 0, 1])
    return q_tables, prior, states, actions, jnp.ones(4, bool)


def _run(problem, **changes):
    q_tables, prior, states, actions, mask = problem
    args = {
        "key": jax.random.key(0),
        "q_tables": q_tables,
        "states": states,
        "actions": actions,
        "mask": mask,
        "prior": prior,
    } | changes
    return run_particle_inverse(**args, num_particles=16)


@pytest.mark.parametrize("bad", [7, -1])
def test_out_of_range_action_raises_with_step_and_value(problem, bad):
    actions = problem[3].at[2].set(bad)
    with pytest.raises(ValueError, match=rf"`actions` holds {bad} at step 2") as info:
        _run(problem, actions=actions)
    assert "run_particle_inverse" in str(info.value)


def test_out_of_range_state_raises_and_padding_is_not_checked(problem):
    with pytest.raises(ValueError, match=r"`states` holds 9 at step 1"):
        _run(problem, states=problem[2].at[1].set(9))
    mask = problem[4].at[3].set(False)
    padded = _run(problem, actions=problem[3].at[3].set(7), mask=mask)
    assert int(padded.failed_step) == -1


def test_out_of_range_inside_jit_sets_failed_step(problem):
    q_tables, prior, states, actions, mask = problem
    run = jax.jit(functools.partial(run_particle_inverse, num_particles=16))
    good = run(jax.random.key(0), q_tables, states, actions, mask, prior)
    assert int(good.failed_step) == -1
    bad = run(jax.random.key(0), q_tables, states, actions.at[2].set(7), mask, prior)
    assert int(bad.failed_step) == 2
    # Rows 0..2 are the posterior after 0..2 good steps; from step 2 on, NaN.
    np.testing.assert_array_equal(bad.goal_posterior[:3], good.goal_posterior[:3])
    assert np.isnan(np.asarray(bad.goal_posterior[3:])).all()
    assert np.isnan(np.asarray(bad.beta_mean[3:])).all()
    assert np.isnan(np.asarray(bad.log_evidence[3:])).all()
    wrapped = run(
        jax.random.key(0), q_tables, states.at[1].set(-1), actions, mask, prior
    )
    assert int(wrapped.failed_step) == 1


def test_streaming_step_checks_indices_and_capacity(problem):
    q_tables, prior = problem[:2]
    state = particle_inverse_init(jax.random.key(0), q_tables, 8, 2, prior)
    with pytest.raises(ValueError, match=r"particle_inverse_step: `action` holds 5"):
        particle_inverse_step(jax.random.key(1), state, 0, 5, q_tables, prior)
    with pytest.raises(ValueError, match=r"`state_index` holds 3"):
        particle_inverse_step(jax.random.key(1), state, 3, 0, q_tables, prior)
    step = jax.jit(particle_inverse_step)
    for _ in range(2):
        state, _ = step(jax.random.key(1), state, 0, 1, q_tables, prior)
    with pytest.raises(ValueError, match=r"`max_steps` = 2"):
        particle_inverse_step(jax.random.key(1), state, 1, 1, q_tables, prior)
    full, _ = step(jax.random.key(1), state, 1, 1, q_tables, prior)
    assert int(full.failed_step) == 2
    fresh = particle_inverse_init(jax.random.key(0), q_tables, 8, 2, prior)
    flagged, _ = step(jax.random.key(1), fresh, 0, 9, q_tables, prior)
    assert int(flagged.failed_step) == 0 and np.isnan(float(flagged.log_evidence))


def test_empty_trajectory_raises_a_clear_error(problem):
    empty = jnp.zeros(0, jnp.int32)
    with pytest.raises(ValueError, match=r"`actions` must hold at least one step"):
        _run(problem, states=empty, actions=empty, mask=jnp.zeros(0, bool))


def test_goal_q_tables_checks_goals(problem):
    with pytest.raises(ValueError, match=r"goal_q_tables: `goal_states` holds 5 at"):
        goal_q_tables(LINE, jnp.array([0, 5]), 0.9)
    with pytest.raises(ValueError, match=r"`goal_states` must hold at least one goal"):
        goal_q_tables(LINE, jnp.zeros(0, jnp.int32), 0.9)
    with pytest.raises(ValueError, match=r"`discount` must be in \[0.0, 1.0\]"):
        goal_q_tables(LINE, jnp.array([0, 2]), 1.5)
    with pytest.raises(ValueError, match=r"`step_cost` must be >= 0.0, got -1.0"):
        goal_q_tables(LINE, jnp.array([0, 2]), 0.9, step_cost=-1.0)


def test_keys_thresholds_and_dtypes_are_checked(problem):
    q_tables, prior = problem[:2]
    with pytest.raises(TypeError, match=r"run_particle_inverse: `key` must be a JAX"):
        _run(problem, key=0)
    with pytest.raises(TypeError, match=r"particle_inverse_init: `key`"):
        particle_inverse_init(1, q_tables, 8, 2, prior)
    state = particle_inverse_init(jax.random.key(0), q_tables, 8, 2, prior)
    with pytest.raises(TypeError, match=r"particle_posterior_samples: `key`"):
        particle_posterior_samples(None, state, 4)
    with pytest.raises(ValueError, match=r"`ess_threshold` must be a fraction"):
        run_particle_inverse(
            jax.random.key(0), *problem[:1], *problem[2:], problem[1],
            num_particles=8, ess_threshold=1.5,
        )  # fmt: skip
    with pytest.raises(TypeError, match=r"`actions` must be integer"):
        _run(problem, actions=problem[3].astype(jnp.float32))
    with pytest.raises(TypeError, match=r"`mask` must be bool"):
        _run(problem, mask=jnp.ones(4))
    with pytest.raises(ValueError, match=r"`q_tables` must be finite or -inf"):
        _run(problem, q_tables=q_tables.at[0, 0, 1, 1].set(jnp.nan))
