"""The NumPy grid-world oracle shared by the planning, agent and inverse tests.

Independent of ``pinfer.envs`` on purpose: these tests check pinfer's planners and
inverse planners against a transition table built here by hand.
"""

import numpy as np

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right


def grid_transition(height, width, walls=None, slip=0.0, dtype=np.float64):
    """``[S, A, S]`` moves on a ``height x width`` grid, ``S = height * width``.

    The intended move happens with probability ``1 - slip``, otherwise a uniform one
    of the four (possibly the intended one again). Edges and wall cells block a move
    (the agent stays); a wall cell never moves. State ``row * width + col``.

    Args:
        walls: optional ``[height, width]`` bool array.
        slip: probability of a uniformly random move.
    """
    walls = np.zeros((height, width), bool) if walls is None else np.asarray(walls)
    num_states = height * width
    transition = np.zeros((num_states, len(MOVES), num_states), dtype)
    for r in range(height):
        for c in range(width):
            for action in range(len(MOVES)):
                for move, (dr, dc) in enumerate(MOVES):
                    r2, c2 = r + dr, c + dc
                    inside = 0 <= r2 < height and 0 <= c2 < width
                    if not inside or walls[r2, c2] or walls[r, c]:
                        r2, c2 = r, c
                    weight = (1 - slip) * (action == move) + slip / len(MOVES)
                    transition[r * width + c, action, r2 * width + c2] += weight
    return transition
