"""The package as a newcomer meets it: layout, editable install, built wheel."""

import os
import pathlib
import subprocess
import sys
import sysconfig
import tomllib
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_top_level_layout_of_the_project_card():
    for name in [
        "pyproject.toml",
        "pinfer",
        "envs",
        "models",
        "experiments",
        "tests",
        "benchmarks",
        "Makefile",
        "README.md",
        "BENCHMARKS.md",
        ".ci/run",
    ]:
        assert (ROOT / name).exists(), f"{name} is missing from the project root"


def _declared_packages() -> set[str]:
    return set(PYPROJECT["tool"]["setuptools"]["packages"])


def test_every_subpackage_is_declared_in_pyproject():
    """A new subpackage missing from pyproject would vanish from the wheel."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    found = set()
    for name, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    missing = found - _declared_packages()
    assert not missing, f"add these to [tool.setuptools] packages: {sorted(missing)}"


def test_editable_install_maps_envs_and_models_under_pinfer(tmp_path):
    code = (
        "import pinfer, pinfer.envs, pinfer.models, pathlib;"
        "print(pathlib.Path(pinfer.envs.__file__).parent.name,"
        " pathlib.Path(pinfer.models.__file__).parent.name)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["envs", "models"]
    # Nothing generic lands at the top level of site-packages.
    done = subprocess.run(
        [sys.executable, "-c", "import models"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out)]
    # First with the venv's setuptools; if it lacks them, an isolated build.
    for extra, timeout in ((["--no-build-isolation"], 300), ([], 600)):
        done = subprocess.run(
            [*base, *extra, str(ROOT)], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode == 0 or "No module named" not in done.stderr:
            break
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("pinfer-*.whl")
    return path


def test_wheel_ships_envs_and_models_as_pinfer_subpackages(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "pinfer/envs/__init__.py" in names
    assert "pinfer/models/__init__.py" in names
    assert not any(n.startswith(("envs/", "models/", "tests/")) for n in names)


def test_wheel_imports_in_a_clean_venv(wheel, tmp_path):
    """Unpack the wheel into a fresh venv that sees only the dependencies."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys._base_executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Dependencies come from the test venv by path (its .pth files, the editable
    # install's finder among them, are not processed for a path added this way).
    deps = sysconfig.get_paths()["purelib"]
    pathlib.Path(site, "deps.pth").write_text(deps + "\n")
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import pinfer, pinfer.envs, pinfer.models, pinfer.smc;print(pinfer.__file__)"
    )
    done = subprocess.run(
        [str(py), "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(site)
    done = subprocess.run(
        [str(py), "-m", "pinfer", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
