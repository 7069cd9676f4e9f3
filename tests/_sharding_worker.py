"""Multi-device checks for pinfer.sharding, run by tests/test_sharding.py.

Runs in its own process with ``XLA_FLAGS=--xla_force_host_platform_device_count=8``
(set by the caller, or here if missing, before jax is imported) and prints one JSON
report on the last line of stdout. It measures; the assertions live in the test file.
"""

import json
import os
import sys

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import re  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from pinfer import sharding  # noqa: E402
from pinfer.models.linear_gaussian import (  # noqa: E402
    kalman_filter,
    random_linear_gaussian,
    simulate,
)
from pinfer.smc import resampling  # noqa: E402
from pinfer.smc.particle_filter import particle_filter  # noqa: E402
from pinfer.smc.tempered import tempered_smc  # noqa: E402

RESAMPLERS = ("multinomial", "stratified", "systematic", "residual")
NUM_SEEDS = 128  # replicate runs per arm of each two-sample comparison
NUM_PARTICLES = 256


def check_resampling(mesh):
    """Same key and weights: indices on eight devices equal those on one."""
    n = 1024
    weights = {
        "uniform": jnp.zeros(n),
        "gaussian": 2.0 * jax.random.normal(jax.random.key(11), (n,)),
        "peaked": 20.0 * jax.random.normal(jax.random.key(12), (n,)),
    }
    out = {}
    for name in RESAMPLERS:
        fn = getattr(resampling, name)

        def draw(key, log_weights, fn=fn):
            return fn(key, log_weights, n)

        one = jax.jit(draw)
        many = sharding.sharded(draw, mesh, n)
        cases = []
        for label, log_w in weights.items():
            for seed in range(3):
                key = jax.random.key(seed)
                ref = one(key, log_w)
                got = many(key, sharding.shard_particles(log_w, mesh))
                cases.append(
                    {
                        "weights": label,
                        "seed": seed,
                        "equal": bool(np.array_equal(ref, got)),
                        "num_devices": len(got.sharding.device_set),
                    }
                )
        out[name] = cases
    return out


def layout(compiled, result, num_particles, dim):
    """Where the particles live: the result's sharding and the compiled loop carry.

    ``split_carry``: some ``while`` loop of the compiled program carries a per-device
    block ``[N / D, dim]`` of the particles; ``full_carry``: some loop carries all
    ``[N, dim]`` (the layout a replicated run would have).
    """
    loops = [line for line in compiled.as_text().splitlines() if " while(" in line]
    num_devices = len(jax.devices())
    block = re.compile(rf"f(32|64)\[{num_particles // num_devices},{dim}\]")
    full = re.compile(rf"f(32|64)\[{num_particles},{dim}\]")
    particles = result.particles
    return {
        "particles_devices": particles.sharding.num_devices,
        "particles_shard_shape": list(particles.sharding.shard_shape(particles.shape)),
        "log_weights_devices": result.log_weights.sharding.num_devices,
        "split_carry": any(block.search(line) for line in loops),
        "full_carry": any(full.search(line) for line in loops),
    }


def compare(run_one, run_many, seeds_one, seeds_many):
    """Two independent arms (different seeds) and one paired arm (same seeds).

    ``run_*(seed) -> (log_evidence, num_steps)``; the report keeps every paired
    difference and the most steps a paired run took (for the rounding bound).
    """
    one = [float(run_one(seed)[0]) for seed in seeds_one]
    many = [run_many(seed) for seed in seeds_many]
    paired = [float(run_one(seed)[0]) for seed in seeds_many]
    diff = np.abs(np.asarray([float(z) for z, _ in many]) - np.asarray(paired))
    return {
        "one_device": one,
        "sharded": [float(z) for z, _ in many],
        "paired_abs_diff": diff.tolist(),
        "num_steps": max(int(steps) for _, steps in many),
    }


def check_particle_filter(mesh):
    """Bootstrap-filter log-evidence, 8 devices vs 1, on a 2-d linear-Gaussian SSM."""
    n, dx, num_steps = NUM_PARTICLES, 2, 50
    model = random_linear_gaussian(jax.random.key(0), dx, 1)
    _, ys = simulate(jax.random.key(1), model, num_steps)

    def fn(key, model, ys):
        return particle_filter(key, model, ys, n)

    one = jax.jit(fn)
    args = (jax.random.key(0), model, ys)
    compiled = sharding.sharded(fn, mesh, n).lower(*args).compile()
    out = layout(compiled, compiled(*args), n, dx)
    out.update(
        compare(
            lambda s: (one(jax.random.key(s), model, ys).log_evidence, num_steps),
            lambda s: (compiled(jax.random.key(s), model, ys).log_evidence, num_steps),
            range(NUM_SEEDS),
            range(NUM_SEEDS, 2 * NUM_SEEDS),
        )
    )
    out["exact"] = float(kalman_filter(model, ys).log_likelihood)
    return out


def check_tempered(mesh):
    """Tempered-SMC log-evidence, 8 devices vs 1, on a conjugate Gaussian model.

    Prior ``x ~ N(0, I_2)``, ten observations ``y_j ~ N(x, 0.5^2 I_2)``; the exact
    evidence factorises over the two coordinates (``y[:, d] ~ N(0, s^2 I + 1 1^T)``).
    """
    n, dim, sigma = NUM_PARTICLES, 2, 0.5
    data = 1.0 + sigma * jax.random.normal(jax.random.key(5), (10, dim))

    def log_prior(x):
        return -0.5 * x @ x - 0.5 * dim * jnp.log(2 * jnp.pi)

    def log_likelihood(x):
        z = (data - x) / sigma
        return jnp.sum(-0.5 * z**2 - jnp.log(sigma) - 0.5 * jnp.log(2 * jnp.pi))

    def fn(key, initial):
        return tempered_smc(key, log_prior, log_likelihood, initial, num_mcmc_steps=5)

    def draw(seed):
        key_run, key_init = jax.random.split(jax.random.key(seed))
        return key_run, jax.random.normal(key_init, (n, dim))

    one = jax.jit(fn)
    args = draw(0)
    args = (args[0], sharding.shard_particles(args[1], mesh))
    compiled = sharding.sharded(fn, mesh, n).lower(*args).compile()
    out = layout(compiled, compiled(*args), n, dim)

    def run_many(seed):
        key, initial = draw(seed)
        result = compiled(key, sharding.shard_particles(initial, mesh))
        return result.log_evidence, result.num_steps

    def run_one(seed):
        result = one(*draw(seed))
        return result.log_evidence, result.num_steps

    out.update(
        compare(
            run_one,
            run_many,
            range(NUM_SEEDS),
            range(NUM_SEEDS, 2 * NUM_SEEDS),
        )
    )
    cov = sigma**2 * np.eye(data.shape[0]) + 1.0
    _, logdet = np.linalg.slogdet(cov)
    y = np.asarray(data, np.float64)
    quad = np.einsum("id,ij,jd->", y, np.linalg.inv(cov), y)
    out["exact"] = float(
        -0.5 * quad - 0.5 * dim * (logdet + data.shape[0] * np.log(2 * np.pi))
    )
    return out


def check_layout(mesh):
    """The rule of ``sharded``: the first axis of length N is split, others whole."""
    n = 64

    def fn(x, y):
        history = jnp.stack([x, 2.0 * x, 3.0 * x])  # [3, N, 2]
        return history, x.sum(0) + y  # [3, N, 2] and [2]

    history, total = sharding.sharded(fn, mesh, n)(jnp.ones((n, 2)), jnp.ones(2))
    return {
        "history_spec": [str(axis) for axis in history.sharding.spec],
        "history_shard_shape": list(history.sharding.shard_shape(history.shape)),
        "total_replicated": bool(total.sharding.is_fully_replicated),
        "history_sum": float(history.sum()),
    }


def check_errors(mesh):
    out = {}
    try:
        sharding.shard_particles({"x": jnp.zeros((100, 2))}, mesh)
    except ValueError as err:
        out["shard_particles"] = str(err)
    try:
        sharding.sharded(lambda x: x, mesh, 100)
    except ValueError as err:
        out["sharded"] = str(err)
    return out


CHECKS = {
    "resampling": check_resampling,
    "errors": check_errors,
    "layout": check_layout,
    "particle_filter": check_particle_filter,
    "tempered": check_tempered,
}


def main(sections):
    """Run the named checks (all when none are named); print one JSON line."""
    mesh = sharding.particle_mesh()
    report = {"num_devices": len(jax.devices())}
    for name in sections or CHECKS:
        report[name] = CHECKS[name](mesh)
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
