"""Helpers shared by the agent tests: small worlds (NumPy-built) and an agent that
learns, to check the order of ``log_action_prob`` and ``update``."""

import equinox as eqx
import jax
import jax.numpy as jnp
from grid_oracle import MOVES, grid_transition

from pinfer.agents import AbstractPolicyAgent
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
