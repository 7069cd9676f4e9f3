"""The particle-filter benchmark's anchors (smcx, ``particles``) as subprocess workers.

Each anchor runs in a virtualenv of its own (``benchmarks/envs.py``) and answers JSON
lines on stdin/stdout (``benchmarks/anchor_*.py``), so that its runs interleave with
pinfer's in one timing loop. The problem travels as an ``.npz`` file.
"""

import json
import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmarks import envs
from benchmarks.handwritten_filter import LGProblem, first_state_law

__all__ = ["ANCHOR_ENV", "Impl", "Skipped", "anchor", "save_problem"]

_ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
_ONE_BLAS_THREAD |= {"MKL_NUM_THREADS": "1"}
# Extra environment and a table note per anchor. particles' small [N, 4] @ [4, 4]
# products run 6-10x slower with OpenBLAS's default threads than with one thread
# when the two cores are shared with other work, so it gets its faster setting.
ANCHOR_ENV = {
    "smcx": ({}, "float32; resampling_threshold=2 (every step)"),
    "particles": (_ONE_BLAS_THREAD, "NumPy float64, 1 BLAS thread; compile = numba"),
}


class Impl(NamedTuple):
    """One implementation: ``prepare(N) -> compile seconds``, then timed runs.

    ``run(N, seed) -> (seconds, log_evidence)``; both raise on failure.
    """

    name: str
    prepare: Callable[[int], float]
    run: Callable[[int, int], tuple[float, float]]
    note: str = ""


class Skipped(NamedTuple):
    name: str
    reason: str


class _Worker:
    """An anchor running in its own environment, answering JSON lines (see anchor_*)."""

    def __init__(
        self, name: str, python: Path, script: Path, problem_path: Path, env: dict
    ):
        self.name = name
        self.stderr = tempfile.TemporaryFile(mode="w+")
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("JAX_COMP")
        } | env
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(
            [str(python), str(script), str(problem_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.versions = self._reply(300)["versions"]

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _reply(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            message = f"{self.name} worker gave no answer in {timeout:.0f} s"
            raise RuntimeError(message) from None
        if line is None:
            self.stderr.seek(0)
            tail = " | ".join(self.stderr.read().strip().splitlines()[-3:])
            raise RuntimeError(f"{self.name} worker exited: {tail}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def request(self, timeout: float = 1800, **message) -> dict:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return self._reply(timeout)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


def anchor(name: str, problem_path: Path, log) -> tuple[Impl | Skipped, _Worker | None]:
    script = Path(__file__).resolve().parent / f"anchor_{name}.py"
    env, note = ANCHOR_ENV[name]
    try:
        python = envs.ensure_env(envs.ENV_SPECS[name], log=log)
        worker = _Worker(name, python, script, problem_path, env)
    except (envs.EnvError, RuntimeError, OSError) as error:
        return Skipped(name, f"environment set-up failed: {error}"), None
    label = " ".join(f"{k} {v}" for k, v in worker.versions.items())

    def prepare(n):
        seconds = worker.request(cmd="compile", num_particles=n)["compile_s"]
        worker.request(cmd="run", num_particles=n, seed=0)  # untimed warm-up run
        return seconds

    def run(n, seed):
        reply = worker.request(cmd="run", num_particles=n, seed=seed)
        return reply["seconds"], reply["log_evidence"]

    return Impl(f"{name} ({label})", prepare, run, note), worker


def save_problem(problem: LGProblem, folder: Path) -> Path:
    m1, P1 = first_state_law(problem)
    chol = np.linalg.cholesky
    path = folder / "problem.npz"
    np.savez(
        path,
        m1=m1,
        P1=P1,
        P1_chol=chol(P1),
        F=problem.F,
        Q=problem.Q,
        Q_chol=chol(problem.Q),
        G=problem.G,
        R=problem.R,
        R_chol_inv=np.linalg.inv(chol(problem.R)),
        ys=problem.ys,
    )
    return path
