"""The agent contract: pure ``init`` / ``act`` / ``update`` / ``log_action_prob``.

An agent is an ``eqx.Module`` that holds only static structure (sizes, sweep counts);
everything a user may vmap, differentiate or fit (goals, reward weights, rationality
``beta``, lapse rate, budget, the world model it plans in) lives in ``params``::

    agent_state = agent.init(key, params)                       # plan, set beliefs
    action, agent_state, info = agent.act(key, agent_state, obs, params)
    agent_state = agent.update(agent_state, obs, action, reward, next_obs, params)
    log_p = agent.log_action_prob(agent_state, obs, action, params)

``act`` samples from exactly the distribution that ``log_action_prob`` scores, so one
agent both simulates behaviour and scores observed behaviour. The likelihood of an
observed trajectory is one ``lax.scan`` of ``log_action_prob`` then ``update``
(:func:`pinfer.agents.trajectory_log_likelihood`): anything that the next decision
depends on must be changed by ``update``, not by ``act``, for the two to agree.

:class:`AbstractPolicyAgent` derives ``act`` and ``log_action_prob`` from one method,
``log_policy(agent_state, obs, params) -> [A]``, so a new agent only says what its
action distribution is. Observed data travel as a :class:`Trajectory` whose ``mask``
marks the steps that happened (rollouts after termination, padding of shorter
trajectories). Design after gymnax's environment contract (Lange, 2022) and
blackjax's ``init`` / ``step`` pairs.
"""

import abc
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from pinfer.types import Array, ArrayTree, Bool, Float, Int, PRNGKey
from pinfer.validation import check_array, check_key

__all__ = ["AbstractAgent", "AbstractPolicyAgent", "AgentInfo", "Trajectory"]

AgentState = Any


class AgentInfo(NamedTuple):
    """Diagnostics of one decision (``rollout``'s ``summary_fn`` can record them).

    Attributes:
        log_prob: log-probability of the chosen action under the agent's policy
            (equals ``log_action_prob`` of that action).
        extras: agent-specific diagnostics, a pytree of arrays of fixed shapes (an
            active-inference agent's expected free energies, a bandit agent's
            posterior means); ``None`` by default, so ``AgentInfo(log_prob)`` is
            complete.

    Example:
        >>> info = AgentInfo(jnp.log(0.5), extras={"entropy": jnp.log(2.0)})
        >>> AgentInfo(jnp.log(0.5)).extras is None, info.extras["entropy"].shape
        (True, ())
    """

    log_prob: Float[Array, ""]
    extras: ArrayTree = None


class Trajectory(NamedTuple):
    """A (possibly padded) trajectory of ``T`` decisions; batch with a leading axis.

    Attributes:
        obs: ``[T + 1, ...]`` observations (for tabular agents, state indices);
            ``obs[t]`` is seen before ``actions[t]``, ``obs[T]`` after the last one.
        actions: ``[T]`` int32 actions.
        rewards: ``[T]`` rewards (zeros where none were recorded).
        mask: ``[T]`` bool, True for steps that happened; False after the episode
            ended or on padding. Masked steps add nothing to a likelihood.
    """

    obs: ArrayTree
    actions: Int[Array, "T"]
    rewards: Float[Array, "T"]
    mask: Bool[Array, "T"]

    @property
    def num_steps(self) -> int:
        """The padded length ``T`` (the size of the last axis of ``actions``)."""
        return self.actions.shape[-1]

    @property
    def lengths(self) -> Int[Array, "..."]:
        """Number of steps that happened, ``mask.sum(-1)``."""
        return jnp.sum(self.mask, axis=-1)


class AbstractAgent(eqx.Module):
    """The agent contract (see the module docstring). Params always come last.

    Subclasses implement ``init``, ``act`` and ``log_action_prob``; ``update``
    defaults to returning the state unchanged (planners that do not learn).

    Example:
        >>> agent = RandomAgent(num_actions=4)
        >>> state = agent.init(jax.random.key(0), None)
        >>> float(agent.log_action_prob(state, 0, 2, None))  # log(1 / 4)
        -1.3862943649291992
    """

    @abc.abstractmethod
    def init(self, key: PRNGKey, params: ArrayTree) -> AgentState:
        """The agent's state before the first decision (plan here, once)."""

    @abc.abstractmethod
    def act(
        self, key: PRNGKey, agent_state: AgentState, obs: ArrayTree, params: ArrayTree
    ) -> tuple[Int[Array, ""], AgentState, AgentInfo]:
        """Sample an action: ``(action, agent_state, AgentInfo)``."""

    def update(
        self,
        agent_state: AgentState,
        obs: ArrayTree,
        action: Int[Array, ""],
        reward: Float[Array, ""],
        next_obs: ArrayTree,
        params: ArrayTree,
    ) -> AgentState:
        """Learn from one transition; planners return ``agent_state`` unchanged."""
        del obs, action, reward, next_obs, params
        return agent_state

    @abc.abstractmethod
    def log_action_prob(
        self,
        agent_state: AgentState,
        obs: ArrayTree,
        action: Int[Array, ""],
        params: ArrayTree,
    ) -> Float[Array, ""]:
        """``log pi(action | obs)``; ``-inf`` for actions the agent never takes."""


class AbstractPolicyAgent(AbstractAgent):
    """An agent given by its action distribution ``log_policy(state, obs) -> [A]``.

    ``act`` draws ``jax.random.categorical`` from ``log_policy`` and leaves the state
    unchanged; ``log_action_prob`` reads the same vector. Actions outside
    ``0..A-1`` get log-probability ``-inf`` (never a silently clipped index), so an
    impossible observed action shows up as such in a likelihood.

    Example:
        >>> agent = RandomAgent(num_actions=3)
        >>> action, _, info = agent.act(jax.random.key(0), None, 0, None)
        >>> bool(jnp.isclose(info.log_prob, -jnp.log(3.0)))
        True
    """

    @abc.abstractmethod
    def log_policy(
        self, agent_state: AgentState, obs: ArrayTree, params: ArrayTree
    ) -> Float[Array, "A"]:
        """``[A]`` log-probabilities of every action at ``obs`` (logsumexp 0)."""

    def act(
        self, key: PRNGKey, agent_state: AgentState, obs: ArrayTree, params: ArrayTree
    ) -> tuple[Int[Array, ""], AgentState, AgentInfo]:
        """Sample ``action ~ exp(log_policy(agent_state, obs, params))``.

        Returns:
            ``(action, agent_state, AgentInfo(log_prob))`` with ``action`` int32.

        Example:
            >>> agent = RandomAgent(num_actions=2)
            >>> int(agent.act(jax.random.key(1), None, 0, None)[0]) in (0, 1)
            True
        """
        check_key(key, where=f"{type(self).__name__}.act")
        log_probs = self.log_policy(agent_state, obs, params)
        action = jax.random.categorical(key, log_probs).astype(jnp.int32)
        return action, agent_state, AgentInfo(log_probs[action])

    def log_action_prob(
        self,
        agent_state: AgentState,
        obs: ArrayTree,
        action: Int[Array, ""],
        params: ArrayTree,
    ) -> Float[Array, ""]:
        """``log_policy(agent_state, obs, params)[action]``, ``-inf`` off range.

        ``action`` must be an integer (a float action is an error, never rounded).

        Example:
            >>> agent = RandomAgent(num_actions=2)
            >>> float(agent.log_action_prob(None, 0, 5, None))
            -inf
        """
        action = check_array(
            action,
            "action",
            where=f"{type(self).__name__}.log_action_prob",
            dtype="int",
            hint="Actions are indices 0..A-1.",
        )
        log_probs = self.log_policy(agent_state, obs, params)
        return _lookup(log_probs, action)


def _lookup(table: Array, index: Array) -> Array:
    """``table[index]`` along the first axis, ``-inf`` where ``index`` is off range."""
    return table.at[index].get(
        mode="fill", fill_value=-jnp.inf, wrap_negative_indices=False
    )
