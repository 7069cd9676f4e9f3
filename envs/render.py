"""RGB rendering of grid worlds for figures and Gymnasium's ``rgb_array`` mode.

Each cell is a ``cell_size x cell_size`` block painted with shape masks::

    floor  light grey with a thin grid line        wall   dark grey
    goal g a diamond in GEM_COLORS[g]              key    a ring and shaft in its colour
    door   a filled block in its colour (a frame only while its key is held)
    agent  a dark disc

Plain NumPy (no plotting library), so an image can be saved with any tool or shown with
``matplotlib.pyplot.imshow``.
"""

import numpy as np

from pinfer.validation import check_indices, check_static_int

__all__ = ["GEM_COLORS", "KEY_RGB", "render_grid"]

GEM_COLORS = (
    (228, 26, 28),
    (55, 126, 184),
    (77, 175, 74),
    (152, 78, 163),
    (255, 127, 0),
    (166, 86, 40),
    (247, 129, 191),
    (0, 170, 170),
)
KEY_RGB = ((214, 39, 40), (31, 119, 180), (230, 190, 0), (148, 103, 189))
_FLOOR = (245, 245, 240)
_GRID = (210, 210, 205)
_WALL = (60, 60, 66)
_AGENT = (25, 25, 25)


def _masks(cell_size: int) -> dict[str, np.ndarray]:
    centre = (np.arange(cell_size) + 0.5) / cell_size - 0.5
    v, u = np.meshgrid(centre, centre, indexing="ij")
    ring = np.hypot(u + 0.18, v)
    return {
        "grid": (np.arange(cell_size)[:, None] == 0) | (np.arange(cell_size) == 0),
        "diamond": np.abs(u) + np.abs(v) <= 0.34,
        "key": ((ring >= 0.07) & (ring <= 0.16))
        | ((u >= -0.03) & (u <= 0.36) & (np.abs(v) <= 0.045))
        | ((u >= 0.22) & (u <= 0.3) & (v >= 0) & (v <= 0.16)),
        "frame": np.maximum(np.abs(u), np.abs(v)) >= 0.36,
        "panel": np.maximum(np.abs(u), np.abs(v)) <= 0.3,
        "disc": np.hypot(u, v) <= 0.27,
    }


def render_grid(params, cell=None, inventory=0, cell_size: int = 24) -> np.ndarray:
    """Draw one grid world layout, with the agent on ``cell`` if given.

    Args:
        params: one (unbatched) ``GridParams``.
        cell: the agent's cell (``row * W + col``), or None to leave it out.
        inventory: held keys as a bit mask (bit ``c`` for colour ``c``); doors of
            held colours are drawn open and those keys are not drawn on the floor.
        cell_size: pixels per cell (>= 4).

    Returns:
        ``uint8`` array ``[H * cell_size, W * cell_size, 3]``.

    Example:
        >>> env, params = make_gridworld("S.G")
        >>> render_grid(params, cell=0).shape
        (24, 72, 3)
    """
    where = "render_grid"
    walls = getattr(params, "walls", None)
    if walls is None:
        raise TypeError(
            f"{where}: `params` must be a GridParams, got {type(params).__name__}."
        )
    walls = np.asarray(walls)
    if walls.ndim != 2:
        raise ValueError(
            f"{where}: `params` must hold one layout (it draws one), got walls of "
            f"shape {walls.shape}; pick one with jax.tree.map(lambda x: x[i], params)."
        )
    cell_size = check_static_int(cell_size, "cell_size", 4, where=where)
    height, width = walls.shape
    if cell is not None:
        check_indices(cell, "cell", height * width, where=where, what="cell")
    check_indices(inventory, "inventory", 1 << 4, where=where, what="key bit mask")
    doors, keys = np.asarray(params.door_color), np.asarray(params.key_color)
    inventory = int(inventory)
    masks = _masks(cell_size)
    image = np.empty((height * cell_size, width * cell_size, 3), dtype=np.uint8)

    def block(r: int, c: int) -> np.ndarray:
        return image[
            r * cell_size : (r + 1) * cell_size, c * cell_size : (c + 1) * cell_size
        ]

    for r in range(height):
        for c in range(width):
            tile = block(r, c)
            tile[:] = _WALL if walls[r, c] else _FLOOR
            tile[masks["grid"]] = _GRID
            if doors[r, c] >= 0:
                colour = KEY_RGB[doors[r, c]]
                is_open = inventory >> int(doors[r, c]) & 1
                tile[masks["frame"] if is_open else ~masks["grid"]] = colour
                if not is_open:
                    tile[masks["panel"]] = tuple(int(0.7 * x) for x in colour)
            if keys[r, c] >= 0 and not inventory >> int(keys[r, c]) & 1:
                tile[masks["key"]] = KEY_RGB[keys[r, c]]
    goal_cells, valid = np.asarray(params.goal_cells), np.asarray(params.goal_valid)
    for g, (goal, ok) in enumerate(zip(goal_cells, valid, strict=True)):
        if ok:
            tile = block(*divmod(int(goal), width))
            tile[masks["diamond"]] = GEM_COLORS[g % len(GEM_COLORS)]
    if cell is not None:
        block(*divmod(int(cell), width))[masks["disc"]] = _AGENT
    return image
