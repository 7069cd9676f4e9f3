"""Rollouts that report: ``summary_fn`` sees every step (agent info and state,
environment info and state), its stacked output equals the same quantity computed
afterwards from the whole history, masked steps give zeros, and the scan keeps
only the trajectory and the summary (memory O(summary), checked on the jaxpr)."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
from agents_helpers import ReportingAgent, StickyAgent, open_grid

from pinfer.agents import (
    BoltzmannAgent,
    PlannerParams,
    RolloutResult,
    RolloutStep,
    StateGoal,
    Trajectory,
    make_tabular_env,
    rollout,
    step_log_likelihoods,
)
from pinfer.envs import make_gridworld

NUM_STEPS = 16
ROLLOUT = jax.jit(rollout, static_argnames=("num_steps", "summary_fn"))


def _grid_problem(max_steps=None):
    params = PlannerParams(open_grid(3, 4), StateGoal(11, 5.0, 1.0), 1.0, 0.95)
    env, env_params = make_tabular_env(
        params.reward.apply(params.world), 0, max_steps=max_steps
    )
    return params, env, env_params


def _learning_summary(step: RolloutStep):
    return {
        "t": step.t,
        "log_prob": step.agent_info.log_prob,
        "belief": step.agent_state,
        "time": step.env_state.time,
        "next_obs": step.next_obs,
        "active": step.active,
    }


def test_summaries_equal_the_history_computed_afterwards():
    """A learning agent: log-probabilities equal the likelihood scan's, the state
    after each step is what ``update`` makes of the trajectory, the environment's
    clock counts the steps; every leaf is 0 on masked steps."""
    _, env, env_params = _grid_problem()
    agent, stickiness = StickyAgent(), jnp.float32(2.0)
    traces = collections.Counter()

    def summary_fn(step):
        traces["summary"] += 1
        return _learning_summary(step)

    keys = jax.random.split(jax.random.key(1), 6)
    results = jax.vmap(
        lambda key: ROLLOUT(
            key, agent, stickiness, env, env_params, NUM_STEPS, summary_fn=summary_fn
        )
    )(keys)
    assert isinstance(results, RolloutResult) and traces["summary"] == 1
    plain = jax.vmap(ROLLOUT, in_axes=(0, None, None, None, None, None))(
        keys, agent, stickiness, env, env_params, NUM_STEPS
    )
    assert isinstance(plain, Trajectory)
    for a, b in zip(
        jax.tree.leaves(plain), jax.tree.leaves(results.trajectory), strict=True
    ):
        np.testing.assert_array_equal(a, b)  # the same trajectory, bit for bit
    traj, got = results.trajectory, results.summaries
    mask = np.asarray(traj.mask)
    assert 0 < mask.sum() < mask.size  # some episodes ended: masked steps exist
    scored = jax.vmap(step_log_likelihoods, in_axes=(None, None, 0))(
        agent, stickiness, traj
    )
    # One log_softmax of the same inputs on both sides, read at the same action.
    np.testing.assert_array_equal(got["log_prob"], scored)
    steps = np.broadcast_to(np.arange(NUM_STEPS), mask.shape)
    expected = {
        "t": np.where(mask, steps, 0),
        "belief": np.where(mask, traj.actions, 0),  # StickyAgent remembers a_t
        "time": np.where(mask, steps + 1, 0),
        "next_obs": np.where(mask, np.asarray(traj.obs)[:, 1:], 0),
        "active": mask,
    }
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
        assert got[name].shape == mask.shape


def test_agent_extras_and_env_info_are_recorded():
    """``AgentInfo.extras`` and a GridWorld's ``StepInfo`` (the action executed
    after a slip, whether it slipped) come back per step."""
    env, env_params = make_gridworld("S..#\n.#..\n...G", slip=0.3, max_steps=30)
    world = env.tabular_mdp(env_params)
    agent = ReportingAgent(8)
    params = PlannerParams(world, StateGoal(11, 10.0), 2.0, 1.0)
    result = ROLLOUT(
        jax.random.key(2),
        agent,
        params,
        env,
        env_params,
        NUM_STEPS,
        summary_fn=lambda s: (s.agent_info, s.env_info),
    )
    traj, (info, env_info) = result
    mask = np.asarray(traj.mask)
    length = int(mask.sum())
    state = agent.init(jax.random.key(0), params)
    obs = np.asarray(traj.obs)[:length]
    log_policy = np.asarray(state.log_policy, np.float64)[obs]
    entropy = -np.sum(np.exp(log_policy) * log_policy, axis=-1)
    # Same A-term sum in float32 against float64: A roundings of |p log p| <= 1.
    np.testing.assert_allclose(
        info.extras["entropy"][:length], entropy, rtol=0, atol=8 * 2**-24 * 4
    )
    np.testing.assert_array_equal(info.extras["entropy"][length:], 0.0)
    np.testing.assert_array_equal(
        info.extras["q_values"][:length], np.asarray(state.q_values)[obs]
    )
    taken, slipped = np.asarray(env_info.action), np.asarray(env_info.slipped)
    actions = np.asarray(traj.actions)
    np.testing.assert_array_equal(
        taken[:length][~slipped[:length]], actions[:length][~slipped[:length]]
    )
    successor = np.asarray(env.successor_table(env_params))
    np.testing.assert_array_equal(
        successor[obs, taken[:length]], np.asarray(traj.obs)[1 : length + 1]
    )
    assert slipped[:length].any()  # slip 0.3 over the steps: seen at this key
    np.testing.assert_array_equal(taken[length:], 0)


def _scan_outputs(fn, *args):
    """``(carried, stacked)`` output shapes of the one length-``T`` scan in ``fn``:
    stacked outputs lead with ``T`` (16, unlike any state size here)."""
    found = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "scan" and eqn.params["length"] == NUM_STEPS:
                found.append(eqn)
            for value in eqn.params.values():
                for sub in value if isinstance(value, (list, tuple)) else [value]:
                    if isinstance(sub, jax.extend.core.ClosedJaxpr):
                        walk(sub.jaxpr)
                    elif isinstance(sub, jax.extend.core.Jaxpr):
                        walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    assert len(found) == 1
    shapes = [tuple(v.aval.shape) for v in found[0].outvars]
    stacked = sorted(s for s in shapes if s[:1] == (NUM_STEPS,))
    return sorted(s for s in shapes if s[:1] != (NUM_STEPS,)), stacked


def test_the_scan_keeps_only_the_trajectory_and_the_summary():
    params, env, env_params = _grid_problem()
    agent = BoltzmannAgent(4)  # its state: two [S, A] tables

    def run(key, summary_fn=None):
        return rollout(
            key, agent, params, env, env_params, NUM_STEPS, summary_fn=summary_fn
        )

    key = jax.random.key(0)
    carry, stacked = _scan_outputs(run, key)
    assert stacked == [(NUM_STEPS,)] * 4  # obs, action, reward, mask
    carry2, stacked2 = _scan_outputs(
        lambda k: run(k, lambda s: s.agent_info.log_prob), key
    )
    assert carry2 == carry  # the summary adds nothing to the carry
    assert stacked2 == [(NUM_STEPS,)] * 5
    _, stacked3 = _scan_outputs(lambda k: run(k, lambda s: s.agent_state), key)
    assert stacked3[-1] == (NUM_STEPS, 12, 4)  # the state, stacked only on request
