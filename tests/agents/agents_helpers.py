"""Helpers shared by the agent tests: small worlds (NumPy-built) and an agent that
learns, to check the order of ``log_action_prob`` and ``update``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from pinfer.agents import AbstractPolicyAgent
from pinfer.planning import TabularMDP, greedy_policy

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right


def open_grid(height, width, dtype=jnp.float32, slip=0.0) -> TabularMDP:
    """Open grid with moves up/down/left/right (bumping the edge stays put); with
    ``slip`` the move is replaced by a uniform one."""
    num_states = height * width
    transition = np.zeros((num_states, len(MOVES), num_states))
    for row in range(height):
        for col in range(width):
            for action, (dr, dc) in enumerate(MOVES):
                r2 = min(max(row + dr, 0), height - 1)
                c2 = min(max(col + dc, 0), width - 1)
                transition[row * width + col, action, r2 * width + c2] = 1.0
    transition = (1 - slip) * transition + slip * transition.mean(1, keepdims=True)
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
