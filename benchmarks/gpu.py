"""GPU throughput of the particle filter: pinfer next to the hand-written filter.

Run on a machine with a GPU (``python -m benchmarks.gpu --out DIR``). The problem is
the benchmark's linear-Gaussian model (dx=4, dy=2, T=500), resampling systematically
at every step. Two shapes, as in the issue:

    one filter at N = 1e6 particles
    a vmapped batch of 64 filters at N = 1e5 particles each

Reported: median seconds of 5 runs after compilation, compile seconds, particle-steps
per second (N * T * batch / seconds), and the fraction of a memory-bandwidth floor:
each particle-step must at least read its parent state and write its new state
(2 * dx * 4 bytes), write and read its log-weight, cumulative weight and ancestor
index (3 * 2 * 4 bytes): 56 bytes in float32. The floor is that traffic at the
device's measured copy bandwidth (a large on-device array copy).
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.bench_filter import jax_noise_model
from benchmarks.handwritten_filter import (
    build_filter,
    kalman_log_evidence,
    make_problem,
    systematic_scatter,
    systematic_searchsorted,
    to_jax,
)

BYTES_PER_PARTICLE_STEP = 2 * 4 * 4 + 3 * 2 * 4


def copy_bandwidth() -> float:
    """Bytes per second of an on-device copy of a 4 GiB float32 array (read + write)."""
    x = jnp.ones((1 << 30,), jnp.float32)
    f = jax.jit(lambda a: a * 1.0001)
    f(x).block_until_ready()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        f(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * x.nbytes / statistics.median(times)


def _time(fn, args, repeats=5):
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(*args))
    times, outs = [], []
    for seed in range(repeats):
        key = jax.random.split(args[0], repeats)[seed]
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(key, *args[1:]))
        times.append(time.perf_counter() - start)
        outs.append(out)
    return statistics.median(times), compile_s, outs


def inverse_throughput(quick: bool = False) -> list[dict]:
    """Exact goal inference on the 8x8 benchmark problem: trajectories per second."""
    from benchmarks import inverse_problem as problem
    from benchmarks.bench_inverse import (
        NUM_STEPS,
        NUM_SWEEPS,
        _pinfer_fn,
        handwritten_goal_inference,
    )

    num = 10**3 if quick else 10**5
    states, actions, mask, _ = problem.sample_trajectories(
        seed=0,
        num=1000,
        num_steps=NUM_STEPS,
        num_sweeps=NUM_SWEEPS,
        stop_at_goal=False,
    )
    reps = num // 1000
    data = tuple(jnp.asarray(np.tile(a, (reps, 1))) for a in (states, actions, mask))
    mdp = problem.pinfer_mdp()
    goals = jnp.array(problem.GOAL_STATES)
    rows = []
    for name, fn, args in (
        (
            "pinfer infer_goals (vmapped)",
            jax.jit(_pinfer_fn),
            (mdp, goals, jnp.array([problem.BETA]), *data),
        ),
        (
            "hand-written single jit",
            handwritten_goal_inference,
            (mdp.transition, goals, jnp.asarray(problem.BETA), *data),
        ),
    ):
        start = time.perf_counter()
        compiled = fn.lower(*args).compile()
        compile_s = time.perf_counter() - start
        jax.block_until_ready(compiled(*args))
        times = []
        for _ in range(5):
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        row = dict(
            name=name,
            num_trajectories=num,
            num_steps=NUM_STEPS,
            median_s=seconds,
            compile_s=compile_s,
            trajectories_per_s=num / seconds,
        )
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def filter_problem(num_steps: int):
    """``(model, ys, arrays, exact)``: the benchmark problem for pinfer (float32
    ``LinearGaussianSSM`` and observations), for the hand-written filter (``to_jax``)
    and its exact float64 log-evidence."""
    from pinfer.models.linear_gaussian import LinearGaussianSSM

    problem = make_problem(0, num_steps)
    f32 = jnp.float32
    names = ("m0", "P0", "F", "Q", "G", "R")
    model = LinearGaussianSSM(*(jnp.asarray(getattr(problem, n), f32) for n in names))
    ys = jnp.asarray(problem.ys, f32)
    return model, ys, to_jax(problem), kalman_log_evidence(problem)


def filter_variants(model, ys, arrays, n: int, batch: int) -> list[tuple]:
    """``[(name, jitted fn(key) -> log Z, key implementation)]`` for one shape.

    ``batch == 1`` is one filter of ``n`` particles; otherwise ``batch`` vmapped
    filters (one key each, split from the given key).
    """
    from pinfer.smc import particle_filter, systematic

    def batched(one):
        if batch == 1:
            return jax.jit(one)
        return jax.jit(lambda key: jax.vmap(one)(jax.random.split(key, batch)))

    def pinfer_fn(threshold, the_model=model):
        return batched(
            lambda key: (
                particle_filter(
                    key,
                    the_model,
                    ys,
                    n,
                    resample_fn=systematic,
                    ess_threshold=threshold,
                ).log_evidence
            )
        )

    def hand_fn(resample_fn):
        run = build_filter(n, resample_fn, flat_normals=True)
        return batched(lambda key: run(key, arrays))

    return [
        (
            "hand-written (searchsorted)",
            hand_fn(systematic_searchsorted),
            "threefry2x32",
        ),
        ("hand-written (scatter)", hand_fn(systematic_scatter), "threefry2x32"),
        ("pinfer, resample every step", pinfer_fn(1.0), "threefry2x32"),
        (
            "pinfer, resample every step, jax.random.normal noise",
            pinfer_fn(1.0, jax_noise_model(model)),
            "threefry2x32",
        ),
        ("pinfer, resample every step, rbg key", pinfer_fn(1.0), "rbg"),
        ("pinfer, ESS < 0.5", pinfer_fn(0.5), "threefry2x32"),
    ]


def main(out: Path, quick: bool = False) -> list[dict]:
    num_steps = 100 if quick else 500
    model, ys, arrays, exact = filter_problem(num_steps)
    bandwidth = copy_bandwidth()
    floor = bandwidth / BYTES_PER_PARTICLE_STEP
    rows = []
    shapes = [(10**4, 1), (10**5, 4)] if quick else [(10**6, 1), (10**5, 64)]
    for n, batch in shapes:
        variants = filter_variants(model, ys, arrays, n, batch)
        for name, fn, impl in variants:
            key = jax.random.key(1, impl=impl)
            seconds, compile_s, outs = _time(fn, (key,))
            log_z = np.concatenate([np.atleast_1d(np.asarray(o)) for o in outs])
            rate = n * batch * num_steps / seconds
            row = dict(
                name=name,
                num_particles=n,
                batch=batch,
                num_steps=num_steps,
                median_s=seconds,
                compile_s=compile_s,
                particle_steps_per_s=rate,
                floor_fraction=rate / floor,
                log_z_error_mean=float(np.mean(log_z - exact)),
                log_z_error_sd=float(np.std(log_z - exact)),
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
    meta = dict(
        device=str(jax.devices()[0]),
        jax=jax.__version__,
        copy_bandwidth_gb_s=bandwidth / 1e9,
        floor_particle_steps_per_s=floor,
    )
    print(json.dumps(meta), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    result = dict(meta=meta, rows=rows, inverse=inverse_throughput(quick))
    (out / "gpu_benchmarks.json").write_text(json.dumps(result, indent=1))
    return rows


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def to_markdown(result: dict) -> str:
    """The GPU section of BENCHMARKS.md from a saved JSON result."""
    meta = result["meta"]
    lines = [
        "<!-- bench:gpu -->",
        "## GPU throughput (particle filter; exact goal inference)",
        "",
        f"Device {meta['device']}, jax {meta['jax']}; measured copy bandwidth "
        f"{meta['copy_bandwidth_gb_s']:.0f} GB/s, so the floor of "
        f"{BYTES_PER_PARTICLE_STEP} bytes per particle-step is "
        f"{meta['floor_particle_steps_per_s']:.3g} particle-steps/s. Produced by "
        "`python -m benchmarks.gpu` (set-up in its docstring); float32, threefry keys "
        "unless named, systematic resampling at every step unless named, median of 5 "
        "runs after compilation.",
        "",
        *([meta["note"], ""] if meta.get("note") else []),
        "| N × batch | implementation | median s | compile s | particle-steps/s "
        "| fraction of floor | log Z error (mean ± sd) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['num_particles']:,} × {r['batch']} | {r['name']} | "
            f"{r['median_s']:.4g} | {_seconds(r['compile_s'])} | "
            f"{r['particle_steps_per_s']:.3g} | {r['floor_fraction']:.3f} | "
            f"{r['log_z_error_mean']:+.3f} ± {r['log_z_error_sd']:.3f} |"
        )
    inverse = result.get("inverse") or []
    if inverse:
        lines += [
            "",
            "| exact goal inference | trajectories | median s | compile s "
            "| trajectories/s |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in inverse:
            lines.append(
                f"| {r['name']} | {r['num_trajectories']:,} | {r['median_s']:.4g} | "
                f"{r['compile_s']:.2f} | {r['trajectories_per_s']:.3g} |"
            )
    lines.append("<!-- /bench:gpu -->")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, for a smoke test"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="render a saved gpu_benchmarks.json into BENCHMARKS.md and exit",
    )
    parser.add_argument(
        "--only-inverse", action="store_true", help="only the goal-inference part"
    )
    args = parser.parse_args()
    if args.report is not None:
        from benchmarks.run import write_sections

        write_sections({"gpu": to_markdown(json.loads(args.report.read_text()))})
    elif args.only_inverse:
        args.out.mkdir(parents=True, exist_ok=True)
        rows = inverse_throughput(args.quick)
        (args.out / "gpu_inverse.json").write_text(json.dumps(rows, indent=1))
    else:
        main(args.out, args.quick)
