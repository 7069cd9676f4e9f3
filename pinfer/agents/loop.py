"""The agent–environment loop and the likelihood of observed behaviour.

``rollout`` runs one episode as a single ``lax.scan`` over a gymnax-style
environment (``reset(key, params)``, ``step(key, state, action, params)``)::

    obs, env_state = env.reset(key_reset, env_params)
    agent_state    = agent.init(key_init, agent_params)
    for t in 0..T-1:                                           # lax.scan, static T
        action, agent_state', _ = agent.act(key_act, agent_state, obs, agent_params)
        obs', env_state', reward, terminated, truncated, _ = env.step(...)
        agent_state' = agent.update(agent_state', obs, action, reward, obs', ...)
        mask[t] = not done;  keep everything frozen once done
        done = done or terminated or truncated

so shapes stay static after the episode ends; a population is a ``vmap`` over keys
and parameters. The log-likelihood of an observed trajectory (Baker, Saxe and
Tenenbaum, 2009) is the matching scan over the data::

    agent_state = agent.init(key0, agent_params)
    for t:  log_p[t] = mask[t] * agent.log_action_prob(agent_state, obs[t], a[t])
            agent_state = agent.update(agent_state, obs[t], a[t], r[t], obs[t + 1])
    log_likelihood = sum_t log_p[t]

It works unchanged for planners (``update`` is the identity), learners and
belief-based agents, and is differentiable in every leaf of ``agent_params``.
"""

import jax
import jax.numpy as jnp
from jax import lax

from pinfer.agents.base import AbstractAgent, AgentState, Trajectory
from pinfer.types import Array, ArrayTree, Float, PRNGKey
from pinfer.validation import check_static_int

__all__ = ["rollout", "step_log_likelihoods", "trajectory_log_likelihood"]

# ``init`` of a planner ignores its key; a likelihood has no randomness to spend.
_LIKELIHOOD_SEED = 0


def _select(flag: Array, new: ArrayTree, old: ArrayTree) -> ArrayTree:
    return jax.tree.map(lambda n, o: jnp.where(flag, n, o), new, old)


def rollout(
    key: PRNGKey,
    agent: AbstractAgent,
    agent_params: ArrayTree,
    env,
    env_params: ArrayTree,
    num_steps: int,
) -> Trajectory:
    """Run ``agent`` in ``env`` for ``num_steps`` decisions (one ``lax.scan``).

    After ``terminated`` or ``truncated`` the environment, the agent and the
    observation are frozen, actions and rewards are 0 and ``mask`` is False, so
    every trajectory of a batch has the same shape. Jit it with ``num_steps``
    static (``jax.jit(rollout, static_argnums=5)``); the agent and the environment
    hold only static structure, so they may be passed through ``jit`` as arguments.

    Args:
        key: PRNG key (split for the reset, the agent's init and every step).
        agent: an :class:`AbstractAgent`.
        agent_params: the agent's parameters (goals, ``beta``, ...).
        env: a gymnax-style environment with ``reset`` and ``step``.
        env_params: the environment's parameters.
        num_steps: number of decisions ``T >= 1`` (static).

    Returns:
        ``Trajectory(obs [T + 1, ...], actions [T], rewards [T], mask [T])``.

    Example:
        >>> env, env_params = make_tabular_env(TabularMDP(
        ...     jnp.eye(3)[jnp.array([[0, 1], [0, 2], [2, 2]])], jnp.zeros((3, 2)),
        ...     jnp.array([False, False, True])), start=0)
        >>> traj = rollout(jax.random.key(0), RandomAgent(2), None, env,
        ...                env_params, num_steps=50)
        >>> bool(traj.obs[-1] == 2), bool(traj.mask[-1])  # reached 2, then stopped
        (True, False)
    """
    num_steps = check_static_int(num_steps, "num_steps", 1)
    key_reset, key_init, key_steps = jax.random.split(key, 3)
    obs, env_state = env.reset(key_reset, env_params)
    agent_state = agent.init(key_init, agent_params)

    def body(carry, key_t):
        obs, env_state, agent_state, done = carry
        key_act, key_env = jax.random.split(key_t)
        action, next_agent_state, _ = agent.act(key_act, agent_state, obs, agent_params)
        next_obs, next_env_state, reward, terminated, truncated, _ = env.step(
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
        return carry, (carry[0], action, reward, active)

    init = (obs, env_state, agent_state, jnp.zeros((), bool))
    keys = jax.random.split(key_steps, num_steps)
    _, (next_obs, actions, rewards, mask) = lax.scan(body, init, keys)
    all_obs = jax.tree.map(
        lambda first, rest: jnp.concatenate([jnp.asarray(first)[None], rest]),
        obs,
        next_obs,
    )
    return Trajectory(all_obs, actions, rewards, mask)


def _check_single(trajectory: Trajectory, name: str) -> int:
    if not isinstance(trajectory, Trajectory):
        raise TypeError(
            f"{name} takes a Trajectory (see pad_trajectories), got "
            f"{type(trajectory).__name__}."
        )
    actions = jnp.asarray(trajectory.actions)
    if actions.ndim != 1:
        raise ValueError(
            f"{name} scores one trajectory, got actions of shape {actions.shape}. "
            f"For a batch use jax.vmap({name}, in_axes=(None, None, 0))."
        )
    num_steps = actions.shape[0]
    for leaf in jax.tree.leaves(trajectory.obs):
        if jnp.shape(leaf)[:1] != (num_steps + 1,):
            raise ValueError(
                f"{name}: {num_steps} actions need {num_steps + 1} observations "
                f"(one before each action and one after the last), got obs of "
                f"shape {jnp.shape(leaf)}."
            )
    for field in ("rewards", "mask"):
        shape = jnp.shape(getattr(trajectory, field))
        if shape != (num_steps,):
            raise ValueError(
                f"{name}: trajectory.{field} must have shape [{num_steps}] like the "
                f"actions, got {shape}."
            )
    return num_steps


def step_log_likelihoods(
    agent: AbstractAgent,
    agent_params: ArrayTree,
    trajectory: Trajectory,
    agent_state: AgentState | None = None,
) -> Float[Array, "T"]:
    """Per-step ``log pi(a_t | obs_t)`` along one trajectory, 0 on masked steps.

    One ``lax.scan`` of ``agent.log_action_prob`` then ``agent.update`` (the agent
    state is frozen on masked steps). An observed action the model never takes
    gives ``-inf`` at its step (find it with
    :func:`pinfer.agents.first_impossible_step`).

    Args:
        agent: an :class:`AbstractAgent`.
        agent_params: its parameters (differentiable leaves).
        trajectory: one ``Trajectory`` (``actions [T]``; vmap for a batch).
        agent_state: the state before the first step; default
            ``agent.init(jax.random.key(0), agent_params)`` (pass one for agents
            whose ``init`` is random).

    Returns:
        ``[T]`` log-probabilities; their cumulative sum is the log-likelihood after
        each step.

    Example:
        >>> traj = make_trajectory([0, 1, 1], [1, 0], num_steps=3)
        >>> step_log_likelihoods(RandomAgent(2), None, traj)
        Array([-0.6931472, -0.6931472,  0.       ], dtype=float32)
    """
    _check_single(trajectory, "step_log_likelihoods")
    if agent_state is None:
        agent_state = agent.init(jax.random.key(_LIKELIHOOD_SEED), agent_params)
    obs = trajectory.obs
    xs = (
        jax.tree.map(lambda leaf: leaf[:-1], obs),
        trajectory.actions,
        trajectory.rewards,
        jax.tree.map(lambda leaf: leaf[1:], obs),
        trajectory.mask,
    )

    def body(agent_state, x):
        obs_t, action, reward, next_obs, active = x
        log_p = agent.log_action_prob(agent_state, obs_t, action, agent_params)
        next_state = agent.update(
            agent_state, obs_t, action, reward, next_obs, agent_params
        )
        return _select(active, next_state, agent_state), jnp.where(
            active, log_p, jnp.zeros_like(log_p)
        )

    _, log_probs = lax.scan(body, agent_state, xs)
    return log_probs


def trajectory_log_likelihood(
    agent: AbstractAgent,
    agent_params: ArrayTree,
    trajectory: Trajectory,
    agent_state: AgentState | None = None,
) -> Float[Array, ""]:
    """``sum_t mask[t] * log pi(a_t | obs_t)`` of one trajectory.

    Args:
        agent, agent_params, trajectory, agent_state: as in
            :func:`step_log_likelihoods`.

    Returns:
        Scalar log-likelihood (``-inf`` if an observed action is impossible under
        the model). Differentiable in ``agent_params`` (e.g. ``jax.grad`` with
        respect to ``beta``); for a batch of padded trajectories
        ``jax.vmap(trajectory_log_likelihood, in_axes=(None, None, 0))``.

    Example:
        >>> traj = make_trajectory([0, 1, 1], [1, 0])
        >>> trajectory_log_likelihood(RandomAgent(2), None, traj) / jnp.log(0.5)
        Array(2., dtype=float32)
    """
    _check_single(trajectory, "trajectory_log_likelihood")
    return jnp.sum(step_log_likelihoods(agent, agent_params, trajectory, agent_state))
