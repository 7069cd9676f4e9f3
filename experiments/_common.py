"""Shared plumbing of the experiment scripts: arguments, output folder, tables, figures.

Every experiment is ``python -m experiments.<name> --out DIR [--quick]`` and writes,
under ``DIR``, a table (``<stem>.md`` and ``<stem>.csv``) and a figure
(``<stem>.png``). ``--quick`` runs a tiny version (used by the smoke tests), too
small to test the experiment's claims: it says so and exits 0, while a full run
exits 1 when a claim fails (``claims_exit_status``).

The worlds charge every step (``make_gridworld``'s ``step_reward``: the world owns
the cost of a step); an agent's goal adds its value on arrival, with no extra
``step_cost`` on top.
"""

import argparse
import csv
import pathlib
import sys
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # scripts and tests run without a display

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from pinfer.envs import make_gridworld_batch  # noqa: E402
from pinfer.planning import TabularMDP  # noqa: E402

__all__ = [
    "LAYOUTS",
    "Worlds",
    "build_worlds",
    "claims_exit_status",
    "format_value",
    "markdown_table",
    "parse_args",
    "prepare_output",
    "save_figure",
    "write_table",
]

Row = Mapping[str, object]

NOT_TESTED = "claims: not tested in --quick mode"
# The world's reward of every step: its cost, which the agents pay.
STEP_REWARD = -1.0

# Three 8x8 layouts with three goals each (the goals far from the start and from
# one another, so that budgets and goals show in behaviour).
LAYOUTS = (
    """
    G......G
    ........
    ..##.#..
    ..#..#..
    ..#.S...
    ....##..
    .#......
    .#.....G
    """,
    """
    G.......
    .###....
    ...#..#.
    .S.#..#G
    ...#..#.
    ..##....
    ........
    ...G....
    """,
    """
    ...G....
    .#....#.
    .#.##.#.
    .#....#.
    S..##...
    .....#..
    .###.#..
    G......G
    """,
)


class Worlds(NamedTuple):
    """The layouts as tabular worlds: ``mdp`` (leading axis ``L``), ``goals``
    ``[L, G]`` goal states, ``initial`` ``[L, S]`` start distribution."""

    mdp: TabularMDP
    goals: jax.Array
    initial: jax.Array


def build_worlds(
    layouts: Sequence[str] = LAYOUTS, random_start: bool = False
) -> Worlds:
    """Tabular worlds that charge ``-STEP_REWARD`` a step, without goal rewards or
    goal terminals (goals are the agent's).

    Episodes start in the layout's ``S`` cell, or with ``random_start`` in a uniformly
    drawn free cell that is not a goal.
    """
    env, params = make_gridworld_batch(
        list(layouts), step_reward=STEP_REWARD, goals_terminal=False
    )
    if not bool(jnp.all(params.goal_valid)):
        raise ValueError("every layout of this experiment needs the same goal count.")

    @jax.jit
    def tabulate(params):
        mdp = jax.vmap(env.tabular_mdp)(params)
        if random_start:
            free = ~params.walls.reshape(len(layouts), -1)
            is_goal = jax.vmap(lambda p: env.goal_state_mask(p).any(0))(params)
            starts = (free & ~is_goal).astype(mdp.transition.dtype)
            initial = starts / starts.sum(axis=1, keepdims=True)
        else:
            initial = jax.nn.one_hot(
                params.start, env.num_states, dtype=mdp.transition.dtype
            )
        return mdp, initial

    mdp, initial = tabulate(params)
    return Worlds(mdp, params.goal_cells, initial)


def claims_exit_status(ok: bool, quick: bool, failed: str) -> int:
    """Say what became of the claims and return the script's exit status.

    A quick run is too small to test them: it prints that they were not tested and
    returns 0. A full run prints ``claims: hold`` and returns 0, or prints
    ``CLAIM FAILED: <failed>`` on stderr and returns 1.

    Example:
        >>> claims_exit_status(False, quick=True, failed="recovery below 70 %")
        claims: not tested in --quick mode
        0
    """
    if quick:
        print(NOT_TESTED)
        return 0
    if ok:
        print("claims: hold")
        return 0
    print(f"CLAIM FAILED: {failed}", file=sys.stderr)
    return 1


def parse_args(
    description: str, default_out: str, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """The common command line: ``--out DIR``, ``--quick`` and ``--seed``.

    Example:
        >>> parse_args("demo", "experiments/results/demo", ["--quick"]).quick
        True
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--out",
        default=default_out,
        help=f"folder for the table and the figure (default: {default_out})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny version (smoke test, seconds)"
    )
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed (default 0)")
    return parser.parse_args(argv)


def prepare_output(out: str | pathlib.Path) -> pathlib.Path:
    """Create ``out`` (and its parents) if needed and return it as a ``Path``.

    Raises:
        NotADirectoryError: ``out`` exists and is a file.
    """
    path = pathlib.Path(out)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"--out must be a folder for the results, but {str(path)!r} is a file; "
            "pass a folder name."
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def format_value(value: object, digits: int = 3) -> str:
    """A compact string for tables: floats to ``digits`` significant decimals.

    Example:
        >>> format_value(0.123456), format_value(7), format_value("x")
        ('0.123', '7', 'x')
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: Sequence[Row]) -> str:
    """A GitHub markdown table of ``rows`` (dicts sharing the first row's keys).

    Example:
        >>> print(markdown_table([{"a": 1, "b": 0.5}]))
        | a | b |
        |---|---|
        | 1 | 0.500 |
    """
    if not rows:
        raise ValueError("markdown_table needs at least one row, got none.")
    keys = list(rows[0])
    lines = [
        "| " + " | ".join(keys) + " |",
        "|" + "|".join("---" for _ in keys) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(format_value(row[k]) for k in keys) + " |")
    return "\n".join(lines)


def write_table(
    rows: Sequence[Row],
    out: pathlib.Path,
    stem: str,
    title: str,
    notes: str = "",
    extra_sections: Mapping[str, Sequence[Row]] | None = None,
) -> str:
    """Write ``rows`` to ``out/<stem>.csv`` and ``out/<stem>.md``; return the markdown.

    ``extra_sections`` (heading -> rows) are appended to the markdown only (for
    example a summary under a per-agent table).
    """
    if not rows:
        raise ValueError(f"write_table({stem!r}) got no rows to write.")
    with open(out / f"{stem}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    parts = [f"# {title}", ""]
    if notes:
        parts += [notes, ""]
    for heading, section in (extra_sections or {}).items():
        parts += [f"## {heading}", "", markdown_table(section), ""]
    parts += [markdown_table(rows), ""]
    text = "\n".join(parts)
    (out / f"{stem}.md").write_text(text)
    return text


def save_figure(fig: "plt.Figure", out: pathlib.Path, stem: str) -> pathlib.Path:
    """Save ``fig`` as ``out/<stem>.png`` (150 dpi) and close it."""
    path = out / f"{stem}.png"
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path
