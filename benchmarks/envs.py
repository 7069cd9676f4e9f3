"""Virtual environments for anchors whose pins clash with pinfer's own environment.

smcx 2.1.0 pins ``jax<0.11`` and ``particles`` 0.4 declares ``numpy<2``, so each runs in
a virtualenv of its own under ``.bench-envs/<name>`` (git-ignored), created from the
package registry on first use:

    python -m venv .bench-envs/<name>;  pip install <packages>;  python -c <check>
    write .bench-envs/<name>/.ready with the spec it was built from

The set-up is idempotent: an environment whose ``.ready`` matches the spec and whose
import check passes is reused as it is; otherwise it is rebuilt from nothing. A failed
set-up raises :class:`EnvError` with pip's last lines, so that the benchmark can skip
that anchor and say why, instead of crashing the whole run.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = ["ENV_SPECS", "EnvError", "EnvSpec", "ensure_env", "env_root"]


class EnvSpec(NamedTuple):
    """What one anchor environment needs.

    Attributes:
        name: folder name under ``.bench-envs``.
        installs: ``pip install`` argument lists, run in order.
        check: Python code the environment must run (imports and versions).
    """

    name: str
    installs: tuple[tuple[str, ...], ...]
    check: str


class EnvError(RuntimeError):
    """An anchor environment could not be created; the message says why."""


ENV_SPECS = {
    "smcx": EnvSpec(
        "smcx",
        (("smcx==2.1.0",),),
        "import jax, smcx; print(smcx.__version__, jax.__version__)",
    ),
    # particles declares numpy<2 and scikit-learn, but the modules the filter uses
    # import only numpy, scipy, numba and joblib (sklearn: binary_smc only), so it is
    # installed without its declared dependencies, next to what it really imports.
    "particles": EnvSpec(
        "particles",
        (("numpy>=2", "scipy", "numba", "joblib"), ("--no-deps", "particles==0.4")),
        "import numpy, numba, particles, particles.kalman; "
        "print(numpy.__version__, numba.__version__)",
    ),
}


def env_root() -> Path:
    """``.bench-envs`` at the repository root (next to ``benchmarks/``)."""
    return Path(__file__).resolve().parent.parent / ".bench-envs"


def _python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _run(cmd: list[str], what: str, timeout: float) -> str:
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EnvError(f"{what}: {error}") from error
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise EnvError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc.stdout.strip()


def ensure_env(spec: EnvSpec, *, timeout: float = 1200.0, log=print) -> Path:
    """Create (or reuse) the virtualenv for ``spec``; return its Python interpreter.

    Args:
        spec: one of :data:`ENV_SPECS`.
        timeout: seconds allowed for each pip call.
        log: where progress lines go.

    Returns:
        Path of the environment's ``python``.

    Raises:
        EnvError: venv creation, a pip install or the import check failed.

    Example:
        >>> python = ensure_env(ENV_SPECS["particles"])  # doctest: +SKIP
    """
    path = env_root() / spec.name
    python = _python(path)
    marker = path / ".ready"
    wanted = json.dumps({"installs": spec.installs, "python": sys.version})
    if marker.exists() and marker.read_text() == wanted and python.exists():
        try:
            _run([str(python), "-c", spec.check], f"{spec.name} import check", 300)
            return python
        except EnvError as error:
            log(
                f"[envs] {spec.name}: existing environment broken ({error}); rebuilding"
            )
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"[envs] creating {path} (once; later runs reuse it)")
    _run([sys.executable, "-m", "venv", str(path)], "python -m venv", 300)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for args in spec.installs:
        log(f"[envs] {spec.name}: pip install {' '.join(args)}")
        _run(pip + list(args), f"pip install {' '.join(args)}", timeout)
    versions = _run([str(python), "-c", spec.check], f"{spec.name} import check", 300)
    log(f"[envs] {spec.name} ready: {versions}")
    marker.write_text(wanted)
    return python
