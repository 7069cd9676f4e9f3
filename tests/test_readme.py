"""The README's examples run as written and print what they promise."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_names_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text


def test_readme_has_the_filter_and_the_inverse_planning_example():
    assert len(BLOCKS) == 2
    for code in BLOCKS:
        assert len(code.strip().splitlines()) <= 20


@pytest.mark.parametrize(
    "index, expected",
    [(0, ("pinfer log-evidence", "exact  log-evidence")), (1, ("after 0 moves",))],
    ids=["filter", "inverse"],
)
def test_readme_example_runs(capsys, index, expected):
    exec(compile(BLOCKS[index], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert all(text in out for text in expected)
    if index == 1:
        # The agent heads for gem 1: after its last move the posterior says so.
        rows = [line for line in out.splitlines() if line.startswith("after")]
        last = rows[-1].split("=")[1].strip(" []").split()
        assert len(rows) >= 3 and max(range(4), key=lambda g: float(last[g])) == 1
