"""ASCII gridworld layouts: parsing, validation and a few ready-made maps.

A layout is a block of text, one character per cell, one line per row::

    #.....G
    S.##..#
    ...#..G

Legend (``LEGEND``)::

    #        wall
    .        free floor
    S        start cell of the agent (exactly one)
    G        goal cell (a gem); goals are numbered 0, 1, ... in reading order
             (left to right, then top to bottom), and goal ``g`` is drawn in
             colour ``g`` of the gem palette
    r b y p  a key of colour red, blue, yellow, purple (picked up on entry)
    R B Y P  a door of colour red, blue, yellow, purple: passable only while a key
             of the same colour is held (keys are never used up)

Leading and trailing blank lines and the whitespace around each row are ignored, so
layouts can be written as indented triple-quoted strings. A layout needs no goal (a
world without goals has ``num_goals = 0``). Parsing checks, and reports with the row
and column: a missing or repeated start, an unknown character, rows of different
lengths, and goals that cannot be reached from the start (breadth-first search over
cells and held keys)::

    frontier = {(start, no keys)}
    while frontier: expand each (cell, keys) by the four moves, entering a door
                    only with its key and adding the key of a key cell
    unreachable = goals whose cell is never expanded
"""

import textwrap
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pinfer.validation import check_type

__all__ = [
    "DOOR_CHARS",
    "KEY_CHARS",
    "KEY_COLORS",
    "LAYOUTS",
    "LEGEND",
    "Layout",
    "parse_layout",
    "reachable_cells",
]

KEY_COLORS = ("red", "blue", "yellow", "purple")
KEY_CHARS = "rbyp"
DOOR_CHARS = "RBYP"
LEGEND = (
    "'#' wall, '.' floor, 'S' start (exactly one), 'G' goal, "
    "'r'/'b'/'y'/'p' key of colour red/blue/yellow/purple, "
    "'R'/'B'/'Y'/'P' door of that colour"
)

LAYOUTS = {
    # Three gems; the two on the right share the corridor through the middle.
    "gems": """
        G...#...
        ....#..G
        ..#.....
        S.#..#..
        ..#..#.G
    """,
    # A red key opens the red door in front of two gems; one gem is free.
    "doors_keys_gems": """
        G..#...G
        .#.R.#..
        .#.#.#..
        S#r#....
        ...#..#G
    """,
}


@dataclass(frozen=True)
class Layout:
    """A parsed layout (NumPy arrays; ``gridworld`` turns it into JAX parameters).

    Attributes:
        walls: ``[H, W]`` bool, True on walls.
        door_color: ``[H, W]`` int, the colour index of a door, -1 elsewhere.
        key_color: ``[H, W]`` int, the colour index of a key, -1 elsewhere.
        start: ``(row, col)`` of the start cell.
        goals: ``(row, col)`` of each goal, in reading order (goal ``g`` is
            ``goals[g]``).
    """

    walls: np.ndarray
    door_color: np.ndarray
    key_color: np.ndarray
    start: tuple[int, int]
    goals: tuple[tuple[int, int], ...]

    def __post_init__(self):
        where = "Layout"
        walls = np.asarray(self.walls)
        if walls.dtype != np.bool_ or walls.ndim != 2 or 0 in walls.shape:
            raise ValueError(
                f"{where}: `walls` must be a non-empty [H, W] bool array, got shape "
                f"{walls.shape} and dtype {walls.dtype}."
            )
        for name in ("door_color", "key_color"):
            colors = np.asarray(getattr(self, name))
            if colors.shape != walls.shape or colors.dtype.kind not in "iu":
                raise ValueError(
                    f"{where}: `{name}` must be an int array of the walls' shape "
                    f"{walls.shape}, got shape {colors.shape} and dtype {colors.dtype}."
                )
            bad = (colors < -1) | (colors >= len(KEY_COLORS))
            if bad.any():
                raise ValueError(
                    f"{where}: `{name}` holds {colors[bad][0]}, which is not a colour; "
                    f"colours are -1 (none) or 0..{len(KEY_COLORS) - 1}."
                )
        self._check_cell("start", self.start, walls)
        for g, goal in enumerate(self.goals):
            self._check_cell(f"goals[{g}]", goal, walls)
        if len(set(self.goals)) != len(self.goals):
            raise ValueError(
                f"{where}: `goals` repeats a cell ({list(self.goals)}); each goal "
                "needs a cell of its own."
            )

    @staticmethod
    def _check_cell(name: str, cell, walls: np.ndarray) -> None:
        ok = isinstance(cell, tuple) and len(cell) == 2
        ok = ok and all(isinstance(i, (int, np.integer)) for i in cell)
        if ok and not (0 <= cell[0] < walls.shape[0] and 0 <= cell[1] < walls.shape[1]):
            ok = False
        if not ok or walls[cell]:
            raise ValueError(
                f"Layout: `{name}` must be a (row, col) of a free cell of the "
                f"{walls.shape[0]}x{walls.shape[1]} grid, got {cell!r}"
                + (" (a wall)" if ok else "")
                + "."
            )

    @property
    def height(self) -> int:
        return self.walls.shape[0]

    @property
    def width(self) -> int:
        return self.walls.shape[1]

    @property
    def num_colors(self) -> int:
        """``1 + `` the largest key or door colour index, 0 without keys and doors."""
        used = np.concatenate([self.door_color.ravel(), self.key_color.ravel()])
        return int(used.max()) + 1 if used.size and used.max() >= 0 else 0


def _rows(text: str | Sequence[str]) -> list[str]:
    check_type(
        text,
        "text",
        (str, list, tuple),
        where="parse_layout",
        hint=f"Pass the layout as a string, one row per line: {LEGEND}.",
    )
    if not isinstance(text, str):
        for row in text:
            check_type(row, "text", str, where="parse_layout", hint="Rows are strings.")
        text = "\n".join(text)
    rows = [line.strip() for line in textwrap.dedent(text).strip().splitlines()]
    if not rows:
        raise ValueError(f"The layout is empty. Write one row per line: {LEGEND}.")
    for i, row in enumerate(rows):
        if not row:
            raise ValueError(
                f"Row {i} of the layout is blank; remove blank lines inside a layout."
            )
        if len(row) != len(rows[0]):
            raise ValueError(
                f"The layout is ragged: row {i} has {len(row)} cells but row 0 has "
                f"{len(rows[0])} ({row!r} vs {rows[0]!r}). Every row must have the "
                "same length; pad short rows with '#' or '.'."
            )
    return rows


def parse_layout(text: str | Sequence[str], check_reachable: bool = True) -> Layout:
    """Parse an ASCII layout (see the module docstring for the legend).

    Args:
        text: the layout, rows separated by newlines (or a sequence of rows).
        check_reachable: raise if some goal cannot be reached from the start.

    Returns:
        The parsed ``Layout``.

    Raises:
        ValueError: on a missing or repeated start, an unknown character, ragged
            rows, or (with ``check_reachable``) an unreachable goal; the message
            gives the row and column.
        TypeError: ``text`` is not a string or a sequence of strings.

    Example:
        >>> layout = parse_layout("S.#G\\n..#.\\n....")
        >>> layout.start, layout.goals
        ((0, 0), ((0, 3),))
    """
    check_type(check_reachable, "check_reachable", bool, where="parse_layout")
    rows = _rows(text)
    height, width = len(rows), len(rows[0])
    walls = np.zeros((height, width), dtype=bool)
    door_color = np.full((height, width), -1, dtype=np.int32)
    key_color = np.full((height, width), -1, dtype=np.int32)
    starts, goals = [], []
    for r, row in enumerate(rows):
        for c, char in enumerate(row):
            if char == "#":
                walls[r, c] = True
            elif char == "S":
                starts.append((r, c))
            elif char == "G":
                goals.append((r, c))
            elif char in KEY_CHARS:
                key_color[r, c] = KEY_CHARS.index(char)
            elif char in DOOR_CHARS:
                door_color[r, c] = DOOR_CHARS.index(char)
            elif char != ".":
                raise ValueError(
                    f"Unknown character {char!r} at row {r}, column {c} of the "
                    f"layout. Legend: {LEGEND}."
                )
    if len(starts) != 1:
        found = "no start" if not starts else f"{len(starts)} starts at {starts}"
        raise ValueError(
            f"A layout needs exactly one start 'S', found {found}. Legend: {LEGEND}."
        )
    layout = Layout(walls, door_color, key_color, starts[0], tuple(goals))
    if check_reachable:
        _check_goals_reachable(layout)
    return layout


def reachable_cells(layout: Layout) -> np.ndarray:
    """``[H, W]`` bool: cells the agent can reach from the start (keys and doors
    included), by breadth-first search over ``(cell, keys held)``.

    Example:
        >>> reachable_cells(parse_layout("S#G\\n..."))[0].tolist()
        [True, False, True]
    """
    check_type(
        layout, "layout", Layout, where="reachable_cells", hint="Use parse_layout."
    )
    height, width = layout.walls.shape
    seen = {(layout.start, 0)}
    frontier = deque(seen)
    reached = np.zeros((height, width), dtype=bool)
    while frontier:
        (r, c), held = frontier.popleft()
        reached[r, c] = True
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            r2, c2 = r + dr, c + dc
            if not (0 <= r2 < height and 0 <= c2 < width) or layout.walls[r2, c2]:
                continue
            door = layout.door_color[r2, c2]
            if door >= 0 and not held >> door & 1:
                continue
            key = layout.key_color[r2, c2]
            node = ((r2, c2), held | (1 << key) if key >= 0 else held)
            if node not in seen:
                seen.add(node)
                frontier.append(node)
    return reached


def _check_goals_reachable(layout: Layout) -> None:
    reached = reachable_cells(layout)
    missing = [g for g, cell in enumerate(layout.goals) if not reached[cell]]
    if not missing:
        return
    where = ", ".join(f"goal {g} at (row, col) {layout.goals[g]}" for g in missing)
    lead = (
        "No goal is reachable"
        if len(missing) == len(layout.goals)
        else "Some goals are unreachable"
    )
    raise ValueError(
        f"{lead} from the start at (row, col) {layout.start}: {where} "
        "(walls, or doors whose key cannot be reached, block every path). Open a "
        "path, move the goal, or pass check_reachable=False to allow it."
    )
