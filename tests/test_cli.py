"""Tests of the `pinfer` command line."""

import subprocess
import sys

import pytest

from pinfer.cli import build_parser, main


def test_help_explains_the_command_and_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "probabilistic inference" in out
    assert "demo" in out
    assert "examples:" in out


def test_demo_help_describes_what_it_does(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "Kalman" in out and "--num-particles" in out


def test_no_subcommand_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "subcommands" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_bad_particle_count_is_refused_with_the_value(capsys, value):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["demo", "--num-particles", value])
    assert exc.value.code == 2
    assert value in capsys.readouterr().err


def test_demo_runs_and_writes_its_figure(tmp_path, capsys):
    code = main(
        [
            "demo",
            "--out",
            str(tmp_path),
            "--num-particles",
            "300",
            "--num-steps",
            "30",
            "--quiet",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "exact Kalman filter" in out
    assert "P(goal | moves)" in out
    for name in ["tracking_filter.png", "goal_inference.png"]:
        figure = tmp_path / name
        assert figure.exists() and figure.stat().st_size > 10_000
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_python_dash_m_pinfer_runs():
    done = subprocess.run(
        [sys.executable, "-m", "pinfer", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pinfer ")


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "figures.png"
    a_file.write_text("not a folder")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(a_file), "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--out" in err and str(a_file) in err and "folder" in err
