"""The agent–environment loop: one episode as a single ``lax.scan``.

``rollout`` runs an agent in a gymnax-style environment (``reset(key, params)``,
``step(key, state, action, params)``)::

    obs, env_state = env.reset(key_reset, env_params)
    agent_state    = agent.init(key_init, agent_params)
    for t in 0..T-1:                                           # lax.scan, static T
        action, agent_state', agent_info = agent.act(key_act, agent_state, obs, ...)
        obs', env_state', reward, terminated, truncated, env_info = env.step(...)
        agent_state' = agent.update(agent_state', obs, action, reward, obs', ...)
        mask[t] = not done;  keep everything frozen once done
        summary[t] = summary_fn(RolloutStep(...)) if mask[t] else 0   # optional
        done = done or terminated or truncated

so shapes stay static after the episode ends; a population is a ``vmap`` over keys
and parameters. The scan stacks only the trajectory and what ``summary_fn`` returns
(the agent's beliefs, its ``AgentInfo``, the environment's latent state ...), so
memory is ``O(T * (|obs| + |summary|))`` whatever the agent and environment hold;
every agent family (planners, learners, active inference, bandits) reports through
the same driver.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from pinfer.agents.base import AbstractAgent, AgentInfo, AgentState, Trajectory
from pinfer.planning import TabularMDP
from pinfer.types import Array, ArrayTree, Bool, Float, Int, PRNGKey
from pinfer.validation import (
    check_callable,
    check_key,
    check_protocol,
    check_static_int,
)

__all__ = ["RolloutResult", "RolloutStep", "rollout"]


class RolloutStep(NamedTuple):
    """One decision of a rollout, as ``summary_fn`` sees it.

    Attributes:
        t: ``[]`` int32 index of the step (0-based).
        obs: the observation the agent acted on.
        action: ``[]`` int32 action taken.
        reward: ``[]`` reward the environment paid.
        next_obs: the observation after the step.
        terminated, truncated: ``[]`` bool flags of the environment's step.
        agent_info: the :class:`AgentInfo` of the decision (``log_prob`` and the
            agent's ``extras``).
        env_info: the ``info`` the environment's ``step`` returned (latent state,
            e.g. bandit arm means or a slip).
        agent_state: the agent's state after ``act`` and ``update`` (its beliefs
            after seeing ``next_obs``).
        env_state: the environment's state after the step.
        active: ``[]`` bool, whether the step happened (False after the episode
            ended; the summary of such a step is replaced by zeros).
    """

    t: Int[Array, ""]
    obs: ArrayTree
    action: Int[Array, ""]
    reward: Float[Array, ""]
    next_obs: ArrayTree
    terminated: Bool[Array, ""]
    truncated: Bool[Array, ""]
    agent_info: AgentInfo
    env_info: Any
    agent_state: AgentState
    env_state: Any
    active: Bool[Array, ""]


class RolloutResult(NamedTuple):
    """What :func:`rollout` returns when given a ``summary_fn``.

    Attributes:
        trajectory: the :class:`Trajectory` (``obs [T + 1]``, ``actions [T]``,
            ``rewards [T]``, ``mask [T]``), as without ``summary_fn``.
        summaries: ``summary_fn`` of each step, stacked: every leaf ``[T, ...]``;
            zeros (False) on masked steps.
    """

    trajectory: Trajectory
    summaries: ArrayTree


def _select(flag: Array, new: ArrayTree, old: ArrayTree) -> ArrayTree:
    return jax.tree.map(lambda n, o: jnp.where(flag, n, o), new, old)


def _zeros_unless(flag: Array, tree: ArrayTree) -> ArrayTree:
    return jax.tree.map(lambda x: jnp.where(flag, x, jnp.zeros_like(x)), tree)


def _check_agent(agent, where: str, methods=("init", "act", "update")) -> None:
    check_protocol(
        agent,
        "agent",
        methods,
        where=where,
        what="an agent",
        hint="Pass an AbstractAgent (e.g. BoltzmannAgent); arguments go (key, agent, "
        "agent_params, ...).",
    )


def rollout(
    key: PRNGKey,
    agent: AbstractAgent,
    agent_params: ArrayTree,
    env,
    env_params: ArrayTree,
    num_steps: int,
    *,
    summary_fn: Callable[[RolloutStep], ArrayTree] | None = None,
) -> Trajectory | RolloutResult:
    """Run ``agent`` in ``env`` for ``num_steps`` decisions (one ``lax.scan``).

    After ``terminated`` or ``truncated`` the environment, the agent and the
    observation are frozen, actions and rewards are 0 and ``mask`` is False, so
    every trajectory of a batch has the same shape. Jit it with ``num_steps`` (and
    ``summary_fn``) static (``jax.jit(rollout, static_argnames=("num_steps",
    "summary_fn"))``); the agent and the environment hold only static structure,
    so they may be passed through ``jit`` as arguments.

    ``summary_fn(step: RolloutStep) -> pytree`` reports on every step online: what
    it returns is stacked along a leading ``[T]`` axis, and nothing else of the
    agent's or the environment's state is kept, so memory grows with the summary,
    not with the state. ``summary_fn=lambda s: (s.agent_info, s.env_info)`` records
    each decision's :class:`AgentInfo` and each step's environment ``info``;
    ``lambda s: s.agent_state`` the agent's beliefs after every step.

    Args:
        key: PRNG key (split for the reset, the agent's init and every step).
        agent: an :class:`AbstractAgent`.
        agent_params: the agent's parameters (goals, ``beta``, ...).
        env: a gymnax-style environment with ``reset`` and ``step`` (for a bare
            ``TabularMDP``, :func:`make_tabular_env`).
        env_params: the environment's parameters.
        num_steps: number of decisions ``T >= 1`` (static).
        summary_fn: optional pure function of a :class:`RolloutStep`, returning a
            pytree of arrays of fixed shapes (static under ``jit``).

    Returns:
        Without ``summary_fn``: ``Trajectory(obs [T + 1, ...], actions [T],
        rewards [T], mask [T])``. With it: ``RolloutResult(trajectory,
        summaries)``, every leaf of ``summaries`` ``[T, ...]`` and zero on masked
        steps.

    Example:
        >>> env, env_params = make_tabular_env(TabularMDP(
        ...     jnp.eye(3)[jnp.array([[0, 1], [0, 2], [2, 2]])], jnp.zeros((3, 2)),
        ...     jnp.array([False, False, True])), start=0)
        >>> traj = rollout(jax.random.key(0), RandomAgent(2), None, env,
        ...                env_params, num_steps=50)
        >>> bool(traj.obs[-1] == 2), bool(traj.mask[-1])  # reached 2, then stopped
        (True, False)
        >>> result = rollout(jax.random.key(0), RandomAgent(2), None, env,
        ...                  env_params, 50, summary_fn=lambda s: s.agent_info)
        >>> result.summaries.log_prob.shape, float(result.summaries.log_prob[0])
        ((50,), -0.6931471824645996)
    """
    where = "rollout"
    check_key(key, where=where)
    _check_agent(agent, where)
    hint = (
        "A TabularMDP is a model, not an environment: make_tabular_env(mdp, "
        "start) gives an environment that samples it."
        if isinstance(env, TabularMDP)
        else "Arguments go (key, agent, agent_params, env, env_params, num_steps)."
    )
    check_protocol(
        env, "env", ("reset", "step"), where=where, what="an environment", hint=hint
    )
    num_steps = check_static_int(num_steps, "num_steps", 1, where=where)
    check_callable(
        summary_fn,
        "summary_fn",
        where=where,
        hint="Pass a function of a RolloutStep, e.g. lambda s: s.agent_info.",
        optional=True,
    )
    key_reset, key_init, key_steps = jax.random.split(key, 3)
    obs, env_state = env.reset(key_reset, env_params)
    agent_state = agent.init(key_init, agent_params)

    def body(carry, x):
        obs, env_state, agent_state, done = carry
        t, key_t = x
        key_act, key_env = jax.random.split(key_t)
        action, next_agent_state, agent_info = agent.act(
            key_act, agent_state, obs, agent_params
        )
        next_obs, next_env_state, reward, terminated, truncated, env_info = env.step(
            key_env, env_state, action, env_params
        )
        next_agent_state = agent.update(
            next_agent_state, obs, action, reward, next_obs, agent_params
        )
        active = jnp.logical_not(done)
        carry = (
            _select(active, next_obs, obs),
            _select(active, next_env_state, env_state),
            _select(active, next_agent_state, agent_state),
            done | terminated | truncated,
        )
        action = jnp.where(active, action, 0).astype(jnp.int32)
        reward = jnp.where(active, reward, jnp.zeros_like(reward))
        out = (carry[0], action, reward, active)
        if summary_fn is not None:
            step = RolloutStep(
                t,
                obs,
                action,
                reward,
                next_obs,
                terminated,
                truncated,
                agent_info,
                env_info,
                next_agent_state,
                next_env_state,
                active,
            )
            out = out + (_zeros_unless(active, summary_fn(step)),)
        return carry, out

    init = (obs, env_state, agent_state, jnp.zeros((), bool))
    xs = (
        jnp.arange(num_steps, dtype=jnp.int32),
        jax.random.split(key_steps, num_steps),
    )
    _, (next_obs, actions, rewards, mask, *summaries) = lax.scan(body, init, xs)
    all_obs = jax.tree.map(
        lambda first, rest: jnp.concatenate([jnp.asarray(first)[None], rest]),
        obs,
        next_obs,
    )
    trajectory = Trajectory(all_obs, actions, rewards, mask)
    if summary_fn is None:
        return trajectory
    return RolloutResult(trajectory, summaries[0])
