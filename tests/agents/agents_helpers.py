"""Helpers shared by the agent tests: small worlds (NumPy-built) and an agent that
learns, to check the order of ``log_action_prob`` and ``update``."""

import equinox as eqx
import jax
import jax.numpy as jnp
from grid_oracle import MOVES, grid_transition

from pinfer.agents import AbstractAgent, AbstractPolicyAgent, AgentInfo, BoltzmannAgent
from pinfer.planning import TabularMDP, greedy_policy


def open_grid(height, width, dtype=jnp.float32, slip=0.0) -> TabularMDP:
    """Open grid with moves up/down/left/right (bumping the edge stays put); with
    ``slip`` the move is replaced by a uniform one."""
    num_states = height * width
    transition = grid_transition(height, width, slip=slip)
    return TabularMDP(
        jnp.asarray(transition, dtype),
        jnp.zeros((num_states, len(MOVES)), dtype),
        jnp.zeros(num_states, bool),
    )


class GreedyAgent(AbstractPolicyAgent):
    """Uniform over the actions that maximise ``params`` (an [S, A] Q table): gives
    actions exactly zero probability."""

    def init(self, key, params):
        return None

    def log_policy(self, agent_state, obs, params):
        return greedy_policy(params)[obs]


class StickyAgent(AbstractPolicyAgent):
    """Repeats its last action with weight ``exp(params)``: a state that ``update``
    changes, so a likelihood that skipped or misordered ``update`` would differ."""

    num_actions: int = eqx.field(static=True, default=4)

    def init(self, key, params):
        return jnp.int32(-1)

    def log_policy(self, agent_state, obs, params):
        bonus = jnp.where(jnp.arange(self.num_actions) == agent_state, params, 0.0)
        return jax.nn.log_softmax(bonus)

    def update(self, agent_state, obs, action, reward, next_obs, params):
        return jnp.asarray(action, jnp.int32)


class NeverZeroAgent(AbstractAgent):
    """Never takes action 0, the action padded steps carry: ``pi(a) ~ exp(params * a
    + state)`` over ``a >= 1``, scored as ``log(pi[a])`` (a log of a probability, as
    a naive agent writes it), so ``log pi(0) = -inf`` and its gradient is
    ``0 * inf``. ``update`` adds ``log pi(a) / 10`` to the state through the same
    log: a masked step that let gradient through either method would give NaN."""

    num_actions: int = eqx.field(static=True, default=4)

    def _probs(self, agent_state, params):
        allowed = jnp.arange(self.num_actions) > 0
        logits = params * jnp.arange(self.num_actions) + agent_state
        weights = jnp.where(allowed, jnp.exp(logits - jnp.max(logits)), 0.0)
        return weights / jnp.sum(weights)

    def init(self, key, params):
        return jnp.zeros((), jnp.result_type(float))

    def act(self, key, agent_state, obs, params):
        log_probs = jnp.log(self._probs(agent_state, params))
        action = jax.random.categorical(key, log_probs).astype(jnp.int32)
        return action, agent_state, AgentInfo(log_probs[action])

    def log_action_prob(self, agent_state, obs, action, params):
        return jnp.log(self._probs(agent_state, params)[action])

    def update(self, agent_state, obs, action, reward, next_obs, params):
        return agent_state + self.log_action_prob(agent_state, obs, action, params) / 10


class ReportingAgent(BoltzmannAgent):
    """A Boltzmann agent whose ``AgentInfo.extras`` report the entropy of its
    policy and the Q-values at the state it acted in (agent-specific diagnostics)."""

    def act(self, key, agent_state, obs, params):
        action, agent_state, info = super().act(key, agent_state, obs, params)
        log_probs = self.log_policy(agent_state, obs, params)
        entropy = -jnp.sum(jnp.exp(log_probs) * log_probs)
        extras = {"entropy": entropy, "q_values": agent_state.q_values[obs]}
        return action, agent_state, info._replace(extras=extras)
