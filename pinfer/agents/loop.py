"""The agent–environment loop and the likelihood of observed behaviour.

``rollout`` runs one episode as a single ``lax.scan`` over a gymnax-style
environment (``reset(key, params)``, ``step(key, state, action, params)``)::

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
memory is ``O(T * (|obs| + |summary|))`` whatever the agent and environment hold.
The log-likelihood of an observed trajectory (Baker, Saxe and Tenenbaum, 2009) is
the matching scan over the data::

    agent_state = agent.init(key0, agent_params)
    for t:  log_p[t] = mask[t] * agent.log_action_prob(agent_state, obs[t], a[t])
            agent_state = agent.update(agent_state, obs[t], a[t], r[t], obs[t + 1])
    log_likelihood = sum_t log_p[t]

It works unchanged for planners (``update`` is the identity), learners and
belief-based agents, and is differentiable in every leaf of ``agent_params``. A
masked step adds exactly 0 to the value *and* to the gradient, whatever the agent
computes there: its inputs are passed through ``jnp.where(mask[t], x,
stop_gradient(x))``, so a padding action of probability 0 (``log 0``, whose
derivative times the zero cotangent is NaN) cannot reach the gradient.
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
    check_array,
    check_callable,
    check_finite,
    check_key,
    check_static_int,
    check_type,
)

__all__ = [
    "RolloutResult",
    "RolloutStep",
    "rollout",
    "step_log_likelihoods",
    "trajectory_log_likelihood",
]

# ``init`` of a planner ignores its key; a likelihood has no randomness to spend.
_LIKELIHOOD_SEED = 0


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


def _check_contract(value, name: str, methods: tuple[str, ...], where: str, hint: str):
    """A ``TypeError`` naming ``name`` unless ``value`` has every one of ``methods``."""
    missing = [m for m in methods if not callable(getattr(value, m, None))]
    if missing:
        kind = "an agent" if name == "agent" else "an environment"
        raise TypeError(
            f"{where}: `{name}` must be {kind} with "
            + ", ".join(f"`{m}`" for m in methods)
            + f" methods, got {type(value).__name__} (no `{missing[0]}`). {hint}"
        )


def _check_agent(agent, where: str, methods=("init", "act", "update")) -> None:
    _check_contract(
        agent,
        "agent",
        methods,
        where,
        "Pass an AbstractAgent (e.g. BoltzmannAgent); arguments go (key, agent, "
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
    _check_contract(env, "env", ("reset", "step"), where, hint)
    num_steps = check_static_int(num_steps, "num_steps", 1, where=where)
    if summary_fn is not None:
        check_callable(
            summary_fn,
            "summary_fn",
            where=where,
            hint="Pass a function of a RolloutStep, e.g. lambda s: s.agent_info.",
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


def _check_single(trajectory: Trajectory, name: str) -> int:
    """Check one (unbatched) trajectory's type, shapes and dtypes; return ``T``."""
    check_type(
        trajectory,
        "trajectory",
        Trajectory,
        where=name,
        hint="Build one with make_trajectory or pad_trajectories.",
    )
    actions = check_array(trajectory.actions, "trajectory.actions", where=name)
    if actions.ndim != 1:
        raise ValueError(
            f"{name} scores one trajectory, got actions of shape {actions.shape}. "
            f"For a batch use jax.vmap({name}, in_axes=(None, None, 0))."
        )
    check_array(actions, "trajectory.actions", where=name, dtype="int")
    num_steps = actions.shape[0]
    for leaf in jax.tree.leaves(trajectory.obs):
        if jnp.shape(leaf)[:1] != (num_steps + 1,):
            raise ValueError(
                f"{name}: {num_steps} actions need {num_steps + 1} observations "
                f"(one before each action and one after the last), got obs of "
                f"shape {jnp.shape(leaf)}."
            )
    for field, dtype in (("rewards", "number"), ("mask", "bool")):
        check_array(
            getattr(trajectory, field),
            f"trajectory.{field}",
            where=name,
            shape=(num_steps,),
            dtype=dtype,
            hint=f"One entry per action ({num_steps}).",
        )
    return num_steps


def _guard(active: Array, tree: ArrayTree) -> ArrayTree:
    def guard(leaf):
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            return leaf
        return jnp.where(active, leaf, lax.stop_gradient(leaf))

    return jax.tree.map(guard, tree)


# Recomputed in the backward pass: a scan then keeps the scalar ``active`` per step,
# not ``active`` broadcast to the shape of every leaf (which made gradients of a
# tabular agent's likelihood 5-8x slower instead of about 1.8x).
_checkpointed_guard = jax.checkpoint(
    _guard, prevent_cse=False, policy=jax.checkpoint_policies.nothing_saveable
)


def _no_gradient_unless(active: Array, tree: ArrayTree) -> ArrayTree:
    """``tree`` with no derivative flowing through its float leaves where not
    ``active``: ``where(active, x, stop_gradient(x))``, the double-``where`` guard
    (values unchanged). A masked step's ``0 * inf`` (a padding action of
    probability 0) then never reaches a gradient, in reverse or forward mode."""
    return _checkpointed_guard(active, tree)


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
    :func:`pinfer.agents.first_impossible_step`). A masked step contributes exactly
    0 to the value and to the gradient in ``agent_params`` (also when its padding
    action has probability 0 under the agent).

    Args:
        agent: an :class:`AbstractAgent`.
        agent_params: its parameters (differentiable leaves).
        trajectory: one ``Trajectory`` (``actions [T]`` integer, ``mask [T]`` bool;
            vmap for a batch).
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
    where = "step_log_likelihoods"
    _check_agent(agent, where, ("init", "log_action_prob", "update"))
    _check_single(trajectory, where)
    check_finite(
        trajectory.rewards,
        "trajectory.rewards",
        where=where,
        axes=("step",),
        hint="A learning agent would carry the NaN into every later step.",
    )
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
        state, params, obs_t, reward, next_obs = _no_gradient_unless(
            active, (agent_state, agent_params, obs_t, reward, next_obs)
        )
        log_p = agent.log_action_prob(state, obs_t, action, params)
        next_state = agent.update(state, obs_t, action, reward, next_obs, params)
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
