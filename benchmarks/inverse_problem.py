"""The goal-inference problem shared by the memo-lang oracle and benchmark.

An 8 x 8 grid with walls (``LAYOUT``), moves up / down / left / right (a move into
a wall or off the grid stays put), three candidate goals, and an agent that pays
``STEP_COST`` per step, gets ``GOAL_VALUE`` on entering its goal (which ends its
episode), discounts by ``DISCOUNT`` and acts Boltzmann-rationally with ``BETA`` on
the Q-values of value iteration. The world itself charges nothing (its reward is
0), so the agent's extra ``step_cost`` is the whole cost of a step: a reward of -1
per step, charged once (pinfer's convention: the world owns the cost of a step and
``step_cost`` is added on top of it). NumPy only (no memo import), so
tests can build the problem without loading memo.
"""

import jax.numpy as jnp
import numpy as np

from pinfer.inverse import goal_log_policies
from pinfer.planning import TabularMDP

__all__ = [
    "ACTIONS",
    "BETA",
    "DISCOUNT",
    "GOAL_STATES",
    "GOAL_VALUE",
    "LAYOUT",
    "STEP_COST",
    "pinfer_mdp",
    "sample_trajectories",
    "transition_table",
]

LAYOUT = """
........
.##..#..
.#...#..
.#.###..
........
..#..##.
..#.....
........
"""
HEIGHT = WIDTH = 8
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))
ACTIONS = ("up", "down", "left", "right")
GOAL_STATES = (0 * WIDTH + 7, 7 * WIDTH + 0, 6 * WIDTH + 6)
BETA, DISCOUNT, STEP_COST, GOAL_VALUE = 2.0, 0.95, 1.0, 10.0


def walls() -> np.ndarray:
    """``[HEIGHT, WIDTH]`` bool, True on walls."""
    rows = [row.strip() for row in LAYOUT.strip().splitlines()]
    return np.array([[c == "#" for c in row] for row in rows])


def transition_table() -> np.ndarray:
    """``[S, A, S]`` deterministic moves; wall cells are never entered (self-loops)."""
    wall = walls()
    table = np.zeros((HEIGHT * WIDTH, len(MOVES), HEIGHT * WIDTH))
    for r in range(HEIGHT):
        for c in range(WIDTH):
            for a, (dr, dc) in enumerate(MOVES):
                r2, c2 = r + dr, c + dc
                blocked = not (0 <= r2 < HEIGHT and 0 <= c2 < WIDTH)
                if blocked or wall[r2, c2] or wall[r, c]:
                    r2, c2 = r, c
                table[r * WIDTH + c, a, r2 * WIDTH + c2] = 1.0
    return table


def pinfer_mdp(dtype=None) -> TabularMDP:
    """The world as a pinfer ``TabularMDP`` (goals are added per hypothesis)."""
    transition = jnp.asarray(transition_table(), dtype)
    num_states = transition.shape[0]
    return TabularMDP(
        transition,
        jnp.zeros((num_states, len(MOVES)), transition.dtype),
        jnp.zeros(num_states, bool),
    )


def sample_trajectories(
    seed: int, num: int, num_steps: int, num_sweeps: int, stop_at_goal: bool = True
):
    """Trajectories of the Boltzmann agent from random free starts and goals.

    Returns NumPy ``states [num, num_steps + 1]``, ``actions [num, num_steps]``,
    ``mask [num, num_steps]`` and ``goals [num]`` (indices into ``GOAL_STATES``).
    With ``stop_at_goal`` an agent stops on reaching its goal (the rest is padding,
    ``mask`` False); otherwise it keeps acting (uniformly: its Q is 0 there).
    """
    log_policies = np.asarray(
        goal_log_policies(
            pinfer_mdp(),
            jnp.array(GOAL_STATES),
            jnp.array([BETA]),
            DISCOUNT,
            num_iterations=num_sweeps,
            goal_value=GOAL_VALUE,
            step_cost=STEP_COST,
        )[:, 0, 0],
        np.float64,
    )
    policies = np.exp(log_policies)
    policies /= policies.sum(axis=-1, keepdims=True)
    table = transition_table()
    free = np.flatnonzero(~walls().ravel())
    rng = np.random.default_rng(seed)
    states = np.zeros((num, num_steps + 1), np.int32)
    actions = np.zeros((num, num_steps), np.int32)
    mask = np.zeros((num, num_steps), bool)
    goals = rng.integers(len(GOAL_STATES), size=num)
    for n in range(num):
        goal_state = GOAL_STATES[goals[n]]
        states[n, 0] = rng.choice(free[free != goal_state])
        for t in range(num_steps):
            s = states[n, t]
            if stop_at_goal and s == goal_state:
                states[n, t + 1 :] = s  # padding
                break
            actions[n, t] = rng.choice(len(MOVES), p=policies[goals[n], s])
            states[n, t + 1] = np.argmax(table[s, actions[n, t]])
            mask[n, t] = True
    return states, actions, mask, goals
