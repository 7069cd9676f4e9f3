"""ASCII layouts: the legend, and clear errors for bad layouts."""

import numpy as np
import pytest

from pinfer.envs import LAYOUTS, parse_layout, reachable_cells


def test_legend_is_parsed_cell_by_cell():
    layout = parse_layout(
        """
        #S.rR
        G.#bG
        """
    )
    assert (layout.height, layout.width) == (2, 5)
    assert layout.start == (0, 1)
    assert layout.goals == ((1, 0), (1, 4))  # reading order
    np.testing.assert_array_equal(
        layout.walls,
        [[True, False, False, False, False], [False] * 2 + [True] + [False] * 2],
    )
    assert layout.key_color[0, 3] == 0 and layout.key_color[1, 3] == 1
    assert layout.door_color[0, 4] == 0
    assert (layout.door_color >= 0).sum() == 1 and (layout.key_color >= 0).sum() == 2
    assert layout.num_colors == 2


def test_sequence_of_rows_and_builtin_layouts():
    assert parse_layout(["S.", ".G"]).goals == ((1, 1),)
    for text in LAYOUTS.values():
        layout = parse_layout(text)
        assert reachable_cells(layout)[tuple(zip(*layout.goals, strict=True))].all()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("..G\n...", "exactly one start 'S', found no start"),
        ("S.G\n..S", "found 2 starts"),
        ("S.G\n.x.", r"Unknown character 'x' at row 1, column 1"),
        ("S.G\n..", "ragged: row 1 has 2 cells but row 0 has 3"),
        ("", "empty"),
        ("S.G\n\n...", "Row 1 of the layout is blank"),
    ],
)
def test_bad_layouts_raise_clear_errors(text, match):
    with pytest.raises(ValueError, match=match):
        parse_layout(text)


def test_unreachable_goal_is_named():
    with pytest.raises(
        ValueError, match=r"Some goals are unreachable.*goal 1 at \(row, col\) \(0, 4\)"
    ):
        parse_layout("S.G#G")


def test_no_reachable_goal():
    with pytest.raises(ValueError, match="No goal is reachable from the start"):
        parse_layout("S#G\n##G")
    # Allowed on request.
    assert parse_layout("S#G", check_reachable=False).goals == ((0, 2),)


def test_doors_need_a_reachable_key_of_their_colour():
    parse_layout("SrRG")  # red key, red door: fine
    with pytest.raises(ValueError, match="goal 0"):
        parse_layout("SbRG")  # blue key cannot open the red door
    with pytest.raises(ValueError, match="No goal is reachable"):
        parse_layout("SRrG")  # the key lies behind its own door
    # A key reached by a detour opens a door on the direct path.
    layout = parse_layout(
        """
        S.R.G
        #####
        """.replace("#####", ".r###")
    )
    assert reachable_cells(layout)[0, 4]
