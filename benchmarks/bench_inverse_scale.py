"""Exact goal × β × budget inference at scale: planning and filtering, time and memory.

Two problems. **Budgets** (the first table): a 64 × 64 grid (random walls on 15 % of
the cells; cells cut off from the largest open region are walled in, so every goal
is reachable), 16 goal cells, a β grid of two values (1 and 4) and budgets
``k = 1..10`` (L-IBM, Jacob, Gupta and Andreas, 2024): ``H = 16 × 2 × 10 = 320``
hypotheses, each a Boltzmann log-policy table ``[S, A] = [4096, 4]``. The world
charges 1 per step (``make_gridworld``'s ``step_reward = -1``: the world owns the
cost of a step, and the agent adds no extra ``step_cost``), the agent gets 10 on
entering its goal (which ends its episode) and discounts by 0.95; other goals are
ordinary cells. 10,000 trajectories are simulated (one ``vmap``-ed ``lax.scan``)
from agents with a uniformly drawn hypothesis, starting 5-25 moves from their goal,
observed for 30-50 steps (uniform) or until they reach the goal; they are padded to
``T = 50`` with a mask.

Stages (each row one configuration):

* **plan, dense**: ``pinfer.inverse.goal_log_policies`` on the world's
  ``TabularMDP`` built inside ``jit`` (so without a successor table: dense
  ``transition [S, A, S]``, 268 MB in float32, and Bellman expectations over it):
  one ``budget_limited_planning`` scan of 10 sweeps per goal, ``vmap`` over goals,
  read out at every budget and β. Output ``[16, 2, 10, S, A]``.
* **plan, successor table**: the same call on the same world built from concrete
  arrays, where ``TabularMDP`` finds the successor table of the deterministic moves
  and the planners gather ``V[successors]`` instead. ``max |Δ|`` is its largest
  difference of a log-probability from the dense planner's.
* **filter, vmap** / **filter, lax.map**: the posterior over goals after every step
  of all 10,000 trajectories from the planned table: ``pinfer.inverse.goal_posterior``
  over the 320 hypotheses per trajectory, marginalised to the goal
  (``logsumexp`` over β and budget), output ``[N, T + 1, G]``; either one ``vmap``
  over all trajectories or ``lax.map(..., batch_size=200)`` (chunks of 200
  ``vmap``-ed trajectories) to bound the working memory.
* **plan + filter, infer_goals**: the end-to-end public call on the batch,
  ``infer_goals(mdp, goals, betas, 0.95, states [N, T + 1], actions [N, T], mask
  [N, T], budgets=range(1, 11))`` (so the transition term ``log T(s' | s, a)``
  enters too) with its default ``batch_size``: planning once, the filter in chunks,
  inside the same ``jit``.

Timing: each configuration runs in a fresh subprocess. Its inputs are built first
(untimed), then the function is compiled (``jit(f).lower(*args).compile()``, the
"compile s" column), called once untimed, and timed over ``runs`` calls with
``block_until_ready``; the table gives the median and the range.

Peak memory: XLA on CPU reports no allocator statistics
(``jax.devices()[0].memory_stats()`` is ``None``) and ``tracemalloc`` does not see
XLA's buffers, so each configuration's own process measures its resident set: after
its inputs are built it resets the kernel's high-water mark (writing ``5`` to
``/proc/self/clear_refs``), then compiles and runs, and reports
``peak RSS - RSS before`` ("peak ΔRSS": compiler, temporaries and outputs, not the
inputs; where the reset is not available the column is the process peak since start,
and the note says so). XLA's own static plan of the compiled program
(``compiled.memory_analysis()``) is given beside it: the inputs ("args MB"), the
outputs and the temporaries it allocates ("temp MB"). On a GPU,
``memory_stats()["peak_bytes_in_use"]`` is reported instead of ΔRSS. Quick mode
(16 × 16 grid, 4 goals, budgets 1-3, 200 trajectories) runs every configuration in
one process, so its memory figures are only indicative.

**Batches at scale** (the second table, :mod:`benchmarks.inverse_batch`): 64 goals
× 4 β values, ``T = 50``, 10,000 trajectories, the public batched ``infer_goals`` end
to end at two batch sizes, each in a fresh subprocess whose whole peak resident
memory (Python, jax, the world, the data, compilation, the result) is reported against
the 1 GB target.
"""

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from functools import partial

import numpy as np

from benchmarks import inverse_batch

__all__ = ["TITLE", "notes", "run", "to_markdown"]

TITLE = (
    "Exact inverse planning at scale (64 × 64 grid, 10,000 trajectories: 16 goals × "
    "2 β × 10 budgets; 64 goals × 4 β in batches)"
)
FULL = {
    "size": 64,
    "num_goals": 16,
    "budgets": tuple(range(1, 11)),
    "num_trajectories": 10_000,
    "lengths": (30, 50),
    "distances": (5, 25),
    "batch_size": 200,
    "runs": 3,
}
QUICK = {
    "size": 16,
    "num_goals": 4,
    "budgets": (1, 2, 3),
    "num_trajectories": 200,
    "lengths": (10, 20),
    "distances": (3, 12),
    "batch_size": 50,
    "runs": 3,
}
BETAS = (1.0, 4.0)
DISCOUNT, GOAL_VALUE, WALL_FRACTION, SEED = 0.95, 10.0, 0.15, 0
MIN_SAMPLE_S = 0.05
TASKS = (
    ("plan", "dense (goal_log_policies)"),
    ("plan", "successor table (goal_log_policies)"),
    ("filter", "goal_posterior, vmap"),
    ("filter", "goal_posterior, lax.map"),
    ("plan + filter", "infer_goals, batch"),
)


# --- the problem ----------------------------------------------------------------


def random_layout(size: int, num_goals: int, seed: int) -> str:
    """An ASCII ``size x size`` layout: random walls, goals in one open region."""
    rng = np.random.default_rng(seed)
    walls = rng.random((size, size)) < WALL_FRACTION
    free = np.flatnonzero(~walls.ravel())
    region = _component(walls, int(free[rng.integers(len(free))]))
    cells = np.flatnonzero(region.ravel())
    chosen = rng.choice(cells, size=num_goals + 1, replace=False)
    grid = np.where(region, ".", "#").astype("<U1")
    grid.ravel()[chosen[:-1]] = "G"
    grid.ravel()[chosen[-1]] = "S"
    return "\n".join("".join(row) for row in grid)


def _component(walls: np.ndarray, start: int) -> np.ndarray:
    """Cells connected to ``start`` (in the largest region if it is small)."""
    size = walls.shape[1]
    best = np.zeros_like(walls)
    seen = walls.copy()
    for origin in [start, *np.flatnonzero(~walls.ravel())]:
        if seen.ravel()[origin]:
            continue
        region = np.zeros_like(walls)
        frontier = deque([origin])
        seen.ravel()[origin] = region.ravel()[origin] = True
        while frontier:
            r, c = divmod(frontier.popleft(), size)
            for r2, c2 in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= r2 < walls.shape[0] and 0 <= c2 < size and not seen[r2, c2]:
                    seen[r2, c2] = region[r2, c2] = True
                    frontier.append(r2 * size + c2)
        if region.sum() > best.sum():
            best = region
        if best.sum() * 2 > (~walls).sum():
            break
    return best


def _distances(successors: np.ndarray, goal: int) -> np.ndarray:
    """Moves from every state to ``goal`` (BFS backwards; ``inf`` if unreachable)."""
    num_states = successors.shape[0]
    dist = np.full(num_states, np.inf)
    dist[goal] = 0
    predecessors = [[] for _ in range(num_states)]
    for s, nexts in enumerate(successors):
        for s2 in set(nexts.tolist()) - {s}:
            predecessors[s2].append(s)
    frontier = deque([goal])
    while frontier:
        s = frontier.popleft()
        for p in predecessors[s]:
            if dist[p] == np.inf:
                dist[p] = dist[s] + 1
                frontier.append(p)
    return dist


def _problem(config):
    """World (dense and with successors), goals, planned table and trajectories."""
    import jax
    import jax.numpy as jnp

    from pinfer.envs import make_gridworld
    from pinfer.inverse import goal_log_policies
    from pinfer.planning import TabularMDP

    layout = random_layout(config["size"], config["num_goals"], SEED)
    env, params = make_gridworld(layout, goals_terminal=False)
    dense = jax.jit(env.tabular_mdp)(params)  # built under jit: no successor table
    mdp = TabularMDP(dense.transition, dense.reward, dense.terminal)  # finds it
    goals = params.goal_cells
    betas = jnp.asarray(BETAS)
    log_policies = jax.jit(
        partial(goal_log_policies, budgets=config["budgets"], goal_value=GOAL_VALUE)
    )(dense, goals, betas, DISCOUNT)
    free = ~np.asarray(params.walls).ravel()
    data = _simulate(
        config, np.asarray(mdp.successors), free, np.asarray(goals), log_policies
    )
    return dense, mdp, goals, betas, log_policies, data


def _simulate(config, successors, free, goals, log_policies):
    """``states [N, T + 1], actions [N, T], mask [N, T], hypotheses [N, 3]``."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    rng = np.random.default_rng(SEED + 1)
    num, (lo, hi) = config["num_trajectories"], config["lengths"]
    shape = log_policies.shape[:3]
    hyp = np.stack([rng.integers(n, size=num) for n in shape], axis=1)
    starts = np.zeros(num, np.int32)
    near, far = config["distances"]
    for g, goal in enumerate(goals):
        dist = np.where(free, _distances(successors, int(goal)), np.inf)
        candidates = np.flatnonzero((dist >= near) & (dist <= far))
        if not candidates.size:
            candidates = np.flatnonzero(np.isfinite(dist) & (dist > 0))
        chosen = hyp[:, 0] == g
        starts[chosen] = rng.choice(candidates, size=chosen.sum())
    lengths = rng.integers(lo, hi + 1, size=num)
    succ, goal_states = jnp.asarray(successors), jnp.asarray(goals)

    def one(key, h, start, length):
        table = log_policies[h[0], h[1], h[2]]

        def step(carry, key_t):
            s, done, t = carry
            a = jax.random.categorical(key_t, table[s])
            active = ~done & (t < length)
            s_next = jnp.where(active, succ[s, a], s)
            done = done | (s_next == goal_states[h[0]])
            return (s_next, done, t + 1), (s, a, active)

        init = (start, start == goal_states[h[0]], 0)
        (last, _, _), (s, a, m) = lax.scan(step, init, jax.random.split(key, hi))
        return jnp.append(s, last), a, m

    keys = jax.random.split(jax.random.key(SEED), num)
    states, actions, mask = jax.jit(jax.vmap(one))(
        keys, jnp.asarray(hyp), jnp.asarray(starts), jnp.asarray(lengths)
    )
    return states, actions, mask, hyp


# --- the measured functions -----------------------------------------------------


def _goal_filter(log_policies, states, actions, mask, batch_size=None):
    import jax
    from jax import lax
    from jax.scipy.special import logsumexp

    from pinfer.inverse import goal_posterior

    num_goals, num_states, num_actions = (log_policies.shape[i] for i in (0, 3, 4))
    flat = log_policies.reshape(-1, num_states, num_actions)
    log_prior = jax.numpy.zeros(flat.shape[0], flat.dtype)

    def one(xs):
        s, a, m = xs
        log_post = goal_posterior(flat, log_prior, s[:-1], a, m).log_posterior
        return logsumexp(log_post.reshape(s.shape[0], num_goals, -1), axis=-1)

    if batch_size is None:
        return jax.vmap(one)((states, actions, mask))
    return lax.map(one, (states, actions, mask), batch_size=batch_size)


def _infer_goals_batch(mdp, goals, betas, states, actions, mask, budgets):
    from pinfer.inverse import infer_goals

    return infer_goals(
        mdp,
        goals,
        betas,
        DISCOUNT,
        states,
        actions,
        mask,
        budgets=budgets,
        goal_value=GOAL_VALUE,
    ).log_goal_posterior


def _task(index, config, problem):
    """``(function, args)`` of configuration ``index`` of ``TASKS``."""
    dense, mdp, goals, betas, log_policies, (states, actions, mask, _) = problem
    budgets = config["budgets"]
    plan_kwargs = {"budgets": budgets, "goal_value": GOAL_VALUE}
    from pinfer.inverse import goal_log_policies

    data = (states, actions, mask)
    plan = partial(goal_log_policies, **plan_kwargs)
    return [
        (plan, (dense, goals, betas, DISCOUNT)),
        (plan, (mdp, goals, betas, DISCOUNT)),
        (_goal_filter, (log_policies, *data)),
        (partial(_goal_filter, batch_size=config["batch_size"]), (log_policies, *data)),
        (partial(_infer_goals_batch, budgets=budgets), (mdp, goals, betas, *data)),
    ][index]


# --- the worker (one configuration per process) ---------------------------------


def _rss_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def worker(index: int, quick: bool, problem=None) -> dict:
    """Build the problem, then compile, run and measure configuration ``index``."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    config = QUICK if quick else FULL
    problem = _problem(config) if problem is None else problem
    fn, args = _task(index, config, problem)
    jax.block_until_ready((problem, args))
    gc.collect()
    device = jax.devices()[0]
    before = _rss_mb("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    # Calls shorter than MIN_SAMPLE_S are repeated within a run and timed per call.
    repeats = max(1, min(100, int(MIN_SAMPLE_S / (time.perf_counter() - start))))
    times = []
    for _ in range(config["runs"]):
        start = time.perf_counter()
        for _ in range(repeats):
            out = jax.block_until_ready(compiled(*args))
        times.append((time.perf_counter() - start) / repeats)
    stats = device.memory_stats() or {}
    peak = _rss_mb("VmHWM")
    result = {"times": times, "repeats": repeats, "compile_s": compile_s}
    result["rss_reset"] = reset
    if "peak_bytes_in_use" in stats:
        result["peak_mb"], result["peak_method"] = (
            stats["peak_bytes_in_use"] / 2**20,
            ("device peak_bytes_in_use"),
        )
    elif peak is not None and before is not None:
        result["peak_mb"] = peak - before if reset else peak
        result["peak_method"] = "ΔRSS" if reset else "process peak RSS"
    analysis = compiled.memory_analysis()
    for name in ("argument", "output", "temp"):
        value = getattr(analysis, f"{name}_size_in_bytes", None)
        result[f"xla_{name}_mb"] = None if value is None else value / 2**20
    result |= _accuracy(index, config, problem, out)
    return result


def _accuracy(index, config, problem, out) -> dict:
    """Planner agreement (plan rows) or final-MAP-goal accuracy (filter rows)."""
    goals, log_policies, (states, _, mask, hyp) = problem[2], problem[4], problem[5]
    if TASKS[index][0] == "plan":
        diff = np.abs(np.asarray(out) - np.asarray(log_policies))
        return {"max_abs_diff": float(np.nanmax(np.where(np.isinf(diff), 0, diff)))}
    correct = np.asarray(out)[:, -1].argmax(axis=1) == hyp[:, 0]
    mask, states = np.asarray(mask), np.asarray(states)
    last = states[np.arange(len(states)), mask.sum(axis=1)]
    reached = last == np.asarray(goals)[hyp[:, 0]]
    return {
        "map_goal_correct": float(correct.mean()),
        "reached_goal": float(reached.mean()),
        "map_correct_if_reached": float(correct[reached].mean())
        if reached.any()
        else None,
        "mean_steps": float(mask.sum(axis=1).mean()),
        "finite": bool(np.isfinite(np.asarray(out)).all()),
    }


def _spawn(index: int, quick: bool) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_inverse_scale", str(index)]
    command += ["--quick"] if quick else []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"configuration {TASKS[index]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[dict]:
    config = QUICK if quick else FULL
    num_hyp = config["num_goals"] * len(BETAS) * len(config["budgets"])
    rows = []
    # Quick mode runs in this process (one shared problem; memory only indicative).
    problem = _problem(config) if quick else None
    for index, (stage, implementation) in enumerate(TASKS):
        result = worker(index, quick, problem) if quick else _spawn(index, quick)
        result.pop("repeats")
        times = result.pop("times")
        rows.append(
            {
                "stage": stage,
                "implementation": implementation,
                "grid": f"{config['size']} × {config['size']}",
                "num_hypotheses": num_hyp,
                "num_trajectories": 0
                if stage == "plan"
                else config["num_trajectories"],
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "runs": len(times),
                **result,
            }
        )
    return rows + [{"stage": "batch", **row} for row in inverse_batch.run(quick)]


def _mb(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def to_markdown(rows: list[dict]) -> str:
    """The budget stages, one line per configuration, then the batch sizes."""
    batches = [r for r in rows if r["stage"] == "batch"]
    rows = [r for r in rows if r["stage"] != "batch"]
    lines = [
        "| stage | implementation | trajectories | median s | range s | compile s "
        "| peak MB | XLA args MB | XLA out MB | XLA temp MB | check |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "max_abs_diff" in r:
            check = f"max abs Δ log π vs dense {r['max_abs_diff']:.1e}"
        else:
            if_reached = r["map_correct_if_reached"]
            check = (
                f"final MAP goal correct {100 * r['map_goal_correct']:.0f} % (of "
                f"the {100 * r['reached_goal']:.0f} % that reached their goal: "
                f"{'–' if if_reached is None else f'{100 * if_reached:.0f}'} %); "
                f"{r['mean_steps']:.1f} observed steps on average"
            )
        lines.append(
            f"| {r['stage']} | {r['implementation']} | {r['num_trajectories']:,} | "
            f"{r['median_s']:.3g} | {r['min_s']:.3g}–{r['max_s']:.3g} | "
            f"{r['compile_s']:.2f} | {_mb(r.get('peak_mb'))} | "
            f"{_mb(r['xla_argument_mb'])} | {_mb(r['xla_output_mb'])} | "
            f"{_mb(r['xla_temp_mb'])} | {check} |"
        )
    if batches:
        first = batches[0]
        lines += [
            "",
            f"Batched ``infer_goals`` on the {first['grid']} grid, "
            f"{first['num_hypotheses']} hypotheses ({first['num_goals']} goals × "
            f"{first['num_betas']} β), each batch size in a fresh subprocess:",
            "",
            inverse_batch.to_markdown(batches),
        ]
    return "\n".join(lines)


def notes(rows: list[dict]) -> str:
    """Ratios, throughput and the memory method."""
    by = {r["implementation"]: r for r in rows if r["stage"] != "batch"}
    dense, succ = by[TASKS[0][1]], by[TASKS[1][1]]
    vmapped, mapped, e2e = by[TASKS[2][1]], by[TASKS[3][1]], by[TASKS[4][1]]
    num = vmapped["num_trajectories"]
    methods = sorted(
        {r.get("peak_method", "not measured") for r in rows if r["stage"] != "batch"}
    )
    return "\n".join(
        [
            f"- Planning all {dense['num_hypotheses']} log-policy tables: dense "
            f"{dense['median_s']:.3g} s, successor table {succ['median_s']:.3g} s "
            f"(dense / successor = {dense['median_s'] / succ['median_s']:.1f}).",
            f"- Filtering {num:,} trajectories: {num / vmapped['median_s']:,.0f} "
            f"trajectories/s in one vmap (peak {_mb(vmapped.get('peak_mb'))} MB), "
            f"{num / mapped['median_s']:,.0f} trajectories/s in lax.map chunks (peak "
            f"{_mb(mapped.get('peak_mb'))} MB); end to end with infer_goals "
            f"{e2e['median_s']:.3g} s.",
            f"- Peak memory column: {', '.join(methods)} (see the set-up).",
            *[
                f"- Batched infer_goals at batch_size {r['batch_size']:,}: "
                f"{r['num_trajectories'] / r['median_s']:,.0f} trajectories/s warm; "
                f"peak RSS {r['peak_mb']:,.0f} MB."
                for r in rows
                if r["stage"] == "batch"
            ],
        ]
    )


if __name__ == "__main__":
    index = int(sys.argv[1])
    print(json.dumps(worker(index, quick="--quick" in sys.argv[2:])))
