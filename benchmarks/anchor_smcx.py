"""smcx's bootstrap particle filter on the benchmark problem, as a timing worker.

Runs inside the smcx virtualenv (``benchmarks/envs.py``: smcx 2.1.0 pins jax<0.11),
so it imports only smcx, jax and numpy. Usage::

    .bench-envs/smcx/bin/python benchmarks/anchor_smcx.py problem.npz

The worker prints one JSON line ``{"ready": ..., "versions": ...}``, then answers one
JSON line per request read from stdin, so that the caller can interleave its runs with
other implementations:

    {"cmd": "compile", "num_particles": N}  -> {"compile_s": s}
    {"cmd": "run", "num_particles": N, "seed": k} -> {"seconds": s, "log_evidence": z}
    {"cmd": "quit"}

The filter is ``smcx.bootstrap_filter`` with ``smcx.systematic`` resampling and
``resampling_threshold=2.0`` (smcx resamples when ``ESS < threshold * N``; values above
one force it at every step), ``store_history=False``, jitted as a whole. The model
callbacks are the same arithmetic as the hand-written filter (a precomputed inverse
Cholesky factor of ``R``); smcx vmaps the one-particle transition over per-particle
keys.
"""

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import smcx


def build(problem, num_particles):
    """A jitted ``key, ys -> log-evidence`` for ``num_particles``."""
    f32 = jnp.float32
    m1, P1c = jnp.asarray(problem["m1"], f32), jnp.asarray(problem["P1_chol"], f32)
    F, Qc = jnp.asarray(problem["F"], f32), jnp.asarray(problem["Q_chol"], f32)
    G, Rci = jnp.asarray(problem["G"], f32), jnp.asarray(problem["R_chol_inv"], f32)
    dy = G.shape[0]
    log_norm = -0.5 * dy * np.log(2 * np.pi) + float(np.sum(np.log(np.diag(Rci))))

    def sample_initial(key, n):
        return m1 + jax.random.normal(key, (n, m1.shape[0])) @ P1c.T

    def sample_transition(key, x):
        return F @ x + Qc @ jax.random.normal(key, x.shape)

    def log_observation(y, x):
        white = Rci @ (y - G @ x)
        return log_norm - 0.5 * white @ white

    @jax.jit
    def run(key, ys):
        result = smcx.bootstrap_filter(
            key,
            sample_initial,
            sample_transition,
            log_observation,
            ys,
            num_particles,
            resampling_fn=smcx.systematic,
            resampling_threshold=2.0,
            store_history=False,
        )
        return result.marginal_loglik

    return run


def main(path):
    problem = dict(np.load(path))
    ys = jnp.asarray(problem["ys"], jnp.float32)
    versions = {"smcx": smcx.__version__, "jax": jax.__version__}
    print(json.dumps({"ready": True, "versions": versions}), flush=True)
    compiled = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "quit":
            break
        n = int(request["num_particles"])
        try:
            if request["cmd"] == "compile":
                start = time.perf_counter()
                key = jax.random.key(0)
                compiled[n] = build(problem, n).lower(key, ys).compile()
                reply = {"compile_s": time.perf_counter() - start}
            else:
                key = jax.random.key(int(request["seed"]))
                start = time.perf_counter()
                value = compiled[n](key, ys).block_until_ready()
                reply = {"seconds": time.perf_counter() - start}
                reply["log_evidence"] = float(value)
        except Exception as error:  # reported to the caller, which skips the row
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
