"""Chopin's ``particles`` bootstrap filter on the benchmark problem, as a timing worker.

Runs inside the ``particles`` virtualenv (``benchmarks/envs.py``: particles 0.4 declares
numpy<2), so it imports only particles and numpy. Usage::

    .bench-envs/particles/bin/python benchmarks/anchor_particles.py problem.npz

Same line protocol as ``anchor_smcx.py`` (``compile`` is a no-op here: NumPy has
nothing to compile, numba's resampler is warmed by one tiny run). The model is
``particles.kalman.MVLinearGauss`` (``x_0 ~ N(mu0, cov0)`` is the state ``y_0``
observes, so ``mu0, cov0`` are the benchmark's first-state law), the Feynman-Kac model
``state_space_models.Bootstrap``, and ``SMC(resampling="systematic", ESSrmin=1)``:
particles resamples when ``ESS < ESSrmin * N``, i.e. whenever the weights are not all
equal, which is every step here (the worker reports the fraction of steps resampled).
Seeds go to NumPy's global generator, which particles draws from.
"""

import json
import sys
import time
from importlib.metadata import version

import numpy as np
import particles
from particles import kalman
from particles import state_space_models as ssms


def build(problem):
    """The ``MVLinearGauss`` model and observations of the benchmark problem."""
    model = kalman.MVLinearGauss(
        F=problem["F"],
        G=problem["G"],
        covX=problem["Q"],
        covY=problem["R"],
        mu0=problem["m1"],
        cov0=problem["P1"],
    )
    return model, problem["ys"]


def run_once(model, ys, num_particles, seed):
    """One filter run; returns ``(seconds, log_evidence, fraction_resampled)``."""
    np.random.seed(seed)
    fk = ssms.Bootstrap(ssm=model, data=ys)
    alg = particles.SMC(
        fk=fk, N=num_particles, resampling="systematic", ESSrmin=1.0, verbose=False
    )
    start = time.perf_counter()
    alg.run()
    seconds = time.perf_counter() - start
    flags = alg.summaries.rs_flags[1:]
    return seconds, float(alg.logLt), float(np.mean(flags)) if flags else 1.0


def main(path):
    problem = dict(np.load(path))
    model, ys = build(problem)
    # particles.__version__ still says 0.3alpha in the 0.4 wheel; ask the installer.
    versions = {"particles": version("particles"), "numpy": np.__version__}
    print(json.dumps({"ready": True, "versions": versions}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "quit":
            break
        try:
            if request["cmd"] == "compile":
                start = time.perf_counter()
                run_once(model, ys[:5], 10, 0)  # warms numba's jitted resampler
                reply = {"compile_s": time.perf_counter() - start}
            else:
                n, seed = int(request["num_particles"]), int(request["seed"])
                seconds, log_z, fraction = run_once(model, ys, n, seed)
                reply = {"seconds": seconds, "log_evidence": log_z}
                reply["fraction_resampled"] = fraction
        except Exception as error:  # reported to the caller, which skips the row
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
