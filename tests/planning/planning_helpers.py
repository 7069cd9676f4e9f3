"""Helpers shared by the planning tests: random MDPs, small grid worlds (NumPy), and
tolerances of planners derived from float rounding."""

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from grid_oracle import MOVES, grid_transition
from tolerances import rounding_atol

from pinfer.planning import TabularMDP


def random_mdp_arrays(seed, num_states, num_actions, terminal_fraction=0.25):
    """Dirichlet(0.5) transition rows, N(0, 1) rewards, some terminal states (not 0)."""
    rng = np.random.default_rng(seed)
    transition = rng.dirichlet(np.full(num_states, 0.5), size=(num_states, num_actions))
    reward = rng.normal(size=(num_states, num_actions))
    terminal = rng.random(num_states) < terminal_fraction
    terminal[0] = False
    return transition, reward, terminal


def random_deterministic_arrays(seed, num_states, num_actions, terminal_fraction=0.25):
    """One-hot transition rows to uniformly drawn next states, N(0, 1) rewards, some
    terminal states (not 0); returns ``(transition, reward, terminal, successors)``."""
    rng = np.random.default_rng(seed)
    successors = rng.integers(0, num_states, size=(num_states, num_actions))
    transition = np.eye(num_states)[successors]
    reward = rng.normal(size=(num_states, num_actions))
    terminal = rng.random(num_states) < terminal_fraction
    terminal[0] = False
    return transition, reward, terminal, successors


def to_mdp(arrays, dtype=jnp.float32) -> TabularMDP:
    transition, reward, terminal = arrays[:3]
    return TabularMDP(
        jnp.asarray(transition, dtype),
        jnp.asarray(reward, dtype),
        jnp.asarray(terminal),
    )


def dense(mdp: TabularMDP) -> TabularMDP:
    """The same MDP without ``successors``: planners use the dense expectation."""
    return eqx.tree_at(lambda m: m.successors, mdp, None, is_leaf=lambda x: x is None)


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


def sweep_atol(num_sweeps, num_states, num_actions, scale, dtype=np.float32):
    """Bound on the difference of two evaluation orders of ``num_sweeps`` Bellman
    sweeps whose terms are at most ``scale`` in magnitude.

    One sweep rounds ``num_states`` products and their sum, adds the reward, scales
    by the discount and reduces over ``num_actions`` (a max, or a logsumexp of as
    many terms): at most ``num_states + num_actions + 4`` dependent roundings. An
    error made in one sweep passes through the later ones multiplied by the discount
    (<= 1; max and logsumexp are 1-Lipschitz), so errors of the sweeps add up.
    """
    return rounding_atol(num_sweeps * (num_states + num_actions + 4), scale, dtype)


def value_scale(reward, num_sweeps, beta=None, num_actions=1):
    """A bound on every |value| of ``num_sweeps`` sweeps: each sweep adds at most the
    largest |reward| (and ``log(A) / beta`` for a soft backup)."""
    per_sweep = float(np.max(np.abs(reward)))
    if beta is not None:
        per_sweep += math.log(num_actions) / beta
    return num_sweeps * per_sweep


def policy_atol(q_atol, beta, q_scale, num_actions, dtype=np.float32):
    """Bound on two ``log_softmax(beta * Q)`` whose Q differ by at most ``q_atol``.

    ``log_softmax`` is 2-Lipschitz in the sup norm (the value minus a logsumexp), so
    a Q error moves it by ``2 * beta * q_atol``; its own rounding is that of
    ``num_actions + 3`` operations on terms of size ``beta * q_scale + log(A)``.
    """
    own = rounding_atol(num_actions + 3, beta * q_scale + math.log(num_actions), dtype)
    return 2 * beta * q_atol + own
