"""Batched exact goal inference at scale: ``infer_goals`` time and peak memory.

The configuration of the scale target: a 64 × 64 grid (random walls on 15 % of the
cells, cells cut off from the largest open region walled in), 64 goal cells, four β
values (0.5, 1, 2, 4) and full value iteration (``K = 1``): ``H = 256`` hypotheses.
The world owns the cost of a step (``make_gridworld``'s ``step_reward = -1``; the
agent adds no extra ``step_cost``); the goal is worth 10 and ends the agent's
episode; discount 0.95. 10,000 trajectories of Boltzmann agents with a uniformly
drawn (goal, β), starting 5-25 moves from their goal, observed for 30-50 steps or
until they reach it, padded to ``T = 50``.

Each batch size runs in a fresh subprocess that builds the world
(``jax.jit(env.tabular_mdp)``, then ``TabularMDP(...)`` on the concrete arrays,
which finds the successor table of the deterministic moves; the dense
``[S, A, S]`` table, 268 MB in float32, is held as a user holds it) and loads the
trajectories, then calls the public ``infer_goals(mdp, goals, betas, 0.95, states
[N, T + 1], actions [N, T], mask [N, T], batch_size=b)`` end to end (boundary
checks, planning once, filtering in chunks of ``b`` trajectories). The first call
includes compilation; the others are timed warm. Peak memory is the subprocess's
own peak resident set (``VmHWM``: everything it ever held: Python, jax, the world,
the data, compilation, the result). Its ``ru_maxrss`` is given beside it: Linux
keeps ``ru_maxrss`` across ``exec``, so a child's value is at least its parent's
peak (the parent here only spawns, but under ``benchmarks.run`` it has run other
benchmarks); where they differ, ``VmHWM`` is the child's own. The result of a batch
is the goal posterior after every step ``[N, T + 1, G]`` (130 MB here), the joint
after the last step and the evidence; the joint after every step
(``[N, T + 1, G, B, K]``, 522 MB) is not kept unless asked for.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["FULL", "QUICK", "prepare", "run", "to_markdown", "worker"]

FULL = {
    "size": 64,
    "num_goals": 64,
    "betas": (0.5, 1.0, 2.0, 4.0),
    "num_trajectories": 10_000,
    "lengths": (30, 50),
    "distances": (5, 25),
    "batch_sizes": (128, 1024),
    "runs": 2,
}
QUICK = {
    "size": 16,
    "num_goals": 8,
    "betas": (1.0, 4.0),
    "num_trajectories": 300,
    "lengths": (10, 20),
    "distances": (3, 12),
    "batch_sizes": (32, 128),
    "runs": 2,
}
DISCOUNT, GOAL_VALUE, SEED = 0.95, 10.0, 0
LIMIT_MB = 1024


def _world(layout: str):
    import jax

    from pinfer.envs import make_gridworld
    from pinfer.planning import TabularMDP

    env, params = make_gridworld(layout, goals_terminal=False)
    built = jax.jit(env.tabular_mdp)(params)  # one fused table, no eager copies
    mdp = TabularMDP(built.transition, built.reward, built.terminal)
    return env, params, mdp


def prepare(config: dict, folder: str) -> str:
    """Simulate the trajectories once; write them and the layout to an ``.npz``."""
    import jax.numpy as jnp

    from benchmarks.bench_inverse_scale import _simulate, random_layout
    from pinfer.inverse import goal_log_policies

    layout = random_layout(config["size"], config["num_goals"], SEED)
    env, params, mdp = _world(layout)
    goals = params.goal_cells
    log_policies = goal_log_policies(
        mdp, goals, jnp.asarray(config["betas"]), DISCOUNT, goal_value=GOAL_VALUE
    )
    free = ~np.asarray(params.walls).ravel()
    states, actions, mask, hyp = _simulate(
        config, np.asarray(mdp.successors), free, np.asarray(goals), log_policies
    )
    path = os.path.join(folder, "trajectories.npz")
    np.savez(
        path,
        layout=np.array(layout),
        states=np.asarray(states),
        actions=np.asarray(actions),
        mask=np.asarray(mask),
        hyp=hyp,
    )
    return path


def _maxrss_mb() -> float:
    scale = 2**20 if sys.platform == "darwin" else 2**10  # bytes there, KiB here
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _hwm_mb() -> float | None:
    """This process's own peak RSS (``VmHWM``, reset by ``exec``), if readable."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def worker(path: str, batch_size: int, quick: bool) -> dict:
    """Build the world, load the data, call ``infer_goals``; time and peak memory."""
    import jax
    import jax.numpy as jnp

    from pinfer.inverse import infer_goals

    jax.config.update("jax_enable_compilation_cache", False)
    config = QUICK if quick else FULL
    data = np.load(path)
    _, params, mdp = _world(str(data["layout"]))
    goals, betas = params.goal_cells, jnp.asarray(config["betas"])
    states, actions, mask = (
        jnp.asarray(data[k]) for k in ("states", "actions", "mask")
    )
    jax.block_until_ready((mdp, states, actions, mask))
    before = _hwm_mb() or _maxrss_mb()

    def call():
        start = time.perf_counter()
        result = infer_goals(
            mdp,
            goals,
            betas,
            DISCOUNT,
            states,
            actions,
            mask,
            goal_value=GOAL_VALUE,
            batch_size=batch_size,
        )
        jax.block_until_ready(result)
        return result, time.perf_counter() - start

    result, first_s = call()
    final = np.asarray(result.log_goal_posterior[:, -1])
    finite = bool(np.isfinite(final).all()) and int(result.failed_step.max()) == -1
    shape = list(result.log_goal_posterior.shape)
    del result
    times = []
    for _ in range(config["runs"]):
        result, seconds = call()
        times.append(seconds)
        del result
    peak, maxrss = _hwm_mb(), _maxrss_mb()
    hyp, mask_np = data["hyp"], data["mask"]
    correct = final.argmax(axis=1) == hyp[:, 0]
    last = data["states"][np.arange(len(hyp)), mask_np.sum(axis=1)]
    reached = last == np.asarray(goals)[hyp[:, 0]]
    return {
        "batch_size": batch_size,
        "first_s": first_s,
        "times": times,
        "peak_mb": maxrss if peak is None else peak,
        "maxrss_mb": maxrss,
        "before_mb": before,
        "output_shape": shape,
        "finite": finite,
        "map_goal_correct": float(correct.mean()),
        "reached_goal": float(reached.mean()),
        "mean_steps": float(mask_np.sum(axis=1).mean()),
    }


def _python(*args: str, quick: bool) -> str:
    """Run ``python -m benchmarks.inverse_batch *args`` in a fresh process and return
    its last line of output. ``ru_maxrss`` survives ``exec``, so the parent stays
    small: it spawns the data preparation as well as the measurements."""
    command = [sys.executable, "-m", "benchmarks.inverse_batch", *args]
    command += ["--quick"] if quick else []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"inverse_batch {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


def run(quick: bool) -> list[dict]:
    """One row per batch size, each measured in a fresh subprocess."""
    config = QUICK if quick else FULL
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = _python("--prepare", folder, quick=quick)
        for batch_size in config["batch_sizes"]:
            row = json.loads(_python(path, str(batch_size), quick=quick))
            times = row.pop("times")
            row |= {
                "grid": f"{config['size']} × {config['size']}",
                "num_goals": config["num_goals"],
                "num_betas": len(config["betas"]),
                "num_hypotheses": config["num_goals"] * len(config["betas"]),
                "num_trajectories": config["num_trajectories"],
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
            }
            rows.append(row)
    return rows


def to_markdown(rows: list[dict]) -> str:
    """One line per batch size."""
    lines = [
        "| batch_size | trajectories | hypotheses | first call s | warm s (range) "
        "| peak RSS MB | ru_maxrss MB | before the call MB | output | check |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        verdict = "≤" if r["peak_mb"] <= LIMIT_MB else ">"
        lines.append(
            f"| {r['batch_size']:,} | {r['num_trajectories']:,} | "
            f"{r['num_hypotheses']} | {r['first_s']:.3g} | {r['median_s']:.3g} "
            f"({r['min_s']:.3g}–{r['max_s']:.3g}) | {r['peak_mb']:,.0f} "
            f"({verdict} {LIMIT_MB:,}) | {r['maxrss_mb']:,.0f} | "
            f"{r['before_mb']:,.0f} | "
            f"goal posterior {r['output_shape']} | final MAP goal correct "
            f"{100 * r['map_goal_correct']:.0f} % (reached goal "
            f"{100 * r['reached_goal']:.0f} %, {r['mean_steps']:.1f} steps); "
            f"{'finite' if r['finite'] else 'NOT FINITE'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    if sys.argv[1] == "--prepare":
        print(prepare(QUICK if quick else FULL, sys.argv[2]))
    else:
        print(json.dumps(worker(sys.argv[1], int(sys.argv[2]), quick)))
