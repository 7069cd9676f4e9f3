"""Helpers shared by the planning tests: random MDPs and small grid worlds (NumPy)."""

import jax.numpy as jnp
import numpy as np
from grid_oracle import MOVES, grid_transition

from pinfer.planning import TabularMDP


def random_mdp_arrays(seed, num_states, num_actions, terminal_fraction=0.25):
    """Dirichlet(0.5) transition rows, N(0, 1) rewards, some terminal states (not 0)."""
    rng = np.random.default_rng(seed)
    transition = rng.dirichlet(np.full(num_states, 0.5), size=(num_states, num_actions))
    reward = rng.normal(size=(num_states, num_actions))
    terminal = rng.random(num_states) < terminal_fraction
    terminal[0] = False
    return transition, reward, terminal


def to_mdp(arrays, dtype=jnp.float32) -> TabularMDP:
    transition, reward, terminal = arrays
    return TabularMDP(
        jnp.asarray(transition, dtype),
        jnp.asarray(reward, dtype),
        jnp.asarray(terminal),
    )


def grid_world(height, width):
    """Open grid, deterministic moves up/down/left/right (bumping a wall stays put)."""
    num_states = height * width
    transition = grid_transition(height, width)
    return transition, np.zeros((num_states, len(MOVES))), np.zeros(num_states, bool)


def grid_distance(height, width, goal):
    """Manhattan distance of every state of :func:`grid_world` to state ``goal``."""
    rows, cols = np.divmod(np.arange(height * width), width)
    goal_row, goal_col = divmod(goal, width)
    return np.abs(rows - goal_row) + np.abs(cols - goal_col)
