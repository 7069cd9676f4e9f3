"""Online particle inverse planning on a hypothesis space too large to enumerate.

The world: a 32 x 32 grid with ~10 % random walls (cells cut off from the largest open
region are walled too), deterministic moves up / down / left / right, 64 candidate
goal cells drawn at random. The agent model is the one of
:func:`pinfer.inverse.run_particle_inverse`: goal ``g`` (64), planning budget ``k``
(20 budgets, ``0, 3, ..., 57`` sweeps of hard-max value iteration; discount 0.95,
10 at the goal; the world's reward is 0, so ``step_cost = 1``, the extra cost on top of
it, is the whole cost of a step) and a continuous rationality ``beta``, with
``log beta ~ Normal(0, 0.75)`` and uniform goals and budgets, acting by
``softmax(beta Q[g, k, s])``. The Q-tables (``[64, 20, 1024, 4]``) are planned once
with :func:`pinfer.inverse.goal_q_tables`.

Data: 16 agents with ``(g, k, log beta)`` drawn from the prior and a random open
start cell act for 40 steps each (agents keep acting after reaching their goal).

* **particles**: ``jax.jit`` of :func:`pinfer.inverse.run_particle_inverse`
  mapped over the trajectories (``lax.map``, one at a time) with N = 200 and
  N = 1,000 particles (default moves: a (goal, budget) move proposed from the
  filter's running ``[G, K, B]`` log-likelihood tables at each particle's beta and
  Metropolis-corrected, then random-walk Metropolis on ``log beta``; resampling at
  ESS < N / 2; the default 17-value grid of ``log beta``).
* **exact, coarse beta grid** (the feasible reference): ``jax.vmap`` of
  :func:`pinfer.inverse.goal_posterior` over 64 goals x 20 budgets x 8 values of
  ``log beta`` (equally spaced over ``loc +- 2.5 scale``, carrying the prior's
  normal weights) = 10,240 hypotheses. It discretises beta, so it is an accuracy
  reference, not the exact posterior of the continuous model.

Enumerating a fine beta grid (200 values: 256,000 hypotheses) is extrapolated from the
measured coarse run (memory and time are linear in the number of hypotheses); the
memory of the per-step posteriors is given for 100 trajectories.

Timing: compile time is ``jit(...).lower(...).compile()``; the time per trajectory is
the median over 3 runs (N = 1,000: one run) of the whole batch
(``block_until_ready``) divided by the number of trajectories.
Accuracy is read off the posterior after the last step, averaged over the agents:
the posterior mass on the true goal, how often the most
probable goal is the true one (MAP goal), how often the most probable budget is
within one budget step (+-3 sweeps) of the true one, and the mean absolute error of
``log E[beta]`` against the true ``log beta``. ``TV to coarse`` is the mean total
variation distance between the particle and the coarse-grid goal posteriors.

**Cost against trajectory length** (second table): one agent's trajectory of 200
steps (two agents, as above) cut to its first ``T`` = 10, 25, 50, 100, 200 steps, each
filtered with N = 200 particles by ``jax.jit`` of ``run_particle_inverse`` (one
compile per ``T``); the time per step is the median over 3 runs (the rescoring
reference: 2) of the whole trajectory divided by ``T``. *before*: the same driver
with the (goal, budget) move as it was before the running tables
(``benchmarks/particle_rescoring.py``: an exact Gibbs draw that rescores all
``G × K`` pairs against the whole history for every particle, ``O(N G K T A)`` per
resampling step; the state's history has room for ``T`` steps, so every resampling
step of a longer trajectory costs more); *after*: the default moves, whose
resampling step costs ``O(N G K)`` for the proposals plus ``O(N T A)`` for the exact
corrections, and whose every step adds ``O(G K B A)`` to the tables.
"""

import functools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.particle_problem import (
    LOG_BETA_LOC,
    LOG_BETA_SCALE,
    agents,
    coarse_posterior,
    random_world,
)
from benchmarks.particle_rescoring import RESCORING_MOVES
from pinfer.inverse import (
    gibbs_goal_budget_move,
    goal_q_tables,
    log_beta_rwm_move,
    run_particle_inverse,
    uniform_prior,
)

__all__ = ["TITLE", "notes", "run", "to_markdown"]

TITLE = "Online particle inverse planning (32 × 32 grid, 64 goals × 20 budgets × β)"
FULL = {
    "size": 32,
    "goals": 64,
    "budgets": tuple(range(0, 60, 3)),
    "steps": 40,
    "trajectories": 16,
    "particles": ((200, 3), (1_000, 1)),  # (N, timed runs)
    "grid": 8,
    "rounds": 3,
    "lengths": (10, 25, 50, 100, 200),
    "scaling": {"particles": 200, "trajectories": 2, "rounds": (2, 3)},
}
QUICK = {
    "size": 8,
    "goals": 6,
    "budgets": (0, 2, 4, 6),
    "steps": 10,
    "trajectories": 8,
    "particles": ((50, 2),),
    "grid": 4,
    "rounds": 2,
    "lengths": (5, 10),
    "scaling": {"particles": 50, "trajectories": 2, "rounds": (1, 1)},
}
FINE_GRID = 200
DEFAULT_MOVES = (gibbs_goal_budget_move, log_beta_rwm_move)
DISCOUNT, GOAL_VALUE, STEP_COST = 0.95, 10.0, 1.0


def _particles_batch(
    keys, q_tables, states, actions, mask, prior, num_particles, moves=DEFAULT_MOVES
):
    """``run_particle_inverse`` over trajectories, ``lax.map`` one at a time.

    Under ``vmap`` (also ``lax.map``'s ``batch_size``, even 1) the resampling
    ``lax.cond`` runs both branches, and every step would pay for the
    rejuvenation moves (the rescoring reference's ``[trajectories, N, G, K, T, A]``
    intermediate included); a plain ``lax.map`` keeps them to the steps that
    resample.
    """

    def one(xs):
        key, s, a, m = xs
        return run_particle_inverse(
            key, q_tables, s, a, m, prior, num_particles=num_particles, moves=moves
        )

    return jax.lax.map(one, (keys, states, actions, mask))


def _timed(compiled, args, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _compile(fn, args):
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def _accuracy(goal_post, budget_post, beta_mean, truth):
    goal, budget, log_beta = truth
    goal_post, budget_post = np.asarray(goal_post), np.asarray(budget_post)
    rows = np.arange(goal.shape[0])
    return {
        "p(true goal)": float(goal_post[rows, goal].mean()),
        "MAP goal": float((goal_post.argmax(-1) == goal).mean()),
        "budget ±1": float((np.abs(budget_post.argmax(-1) - budget) <= 1).mean()),
        "log β abs. err": float(
            np.abs(np.log(np.asarray(beta_mean)) - log_beta).mean()
        ),
    }


def run(quick: bool) -> list[dict]:
    """Rows: the coarse exact reference, one row per particle count, then one
    ``"table": "scaling"`` row per trajectory length."""
    cfg = QUICK if quick else FULL
    rng = np.random.default_rng(0)
    mdp, free, target = random_world(rng, cfg["size"])
    goals = rng.choice(free, cfg["goals"], replace=False)
    q_tables = goal_q_tables(
        mdp,
        jnp.asarray(goals),
        DISCOUNT,
        budgets=cfg["budgets"],
        goal_value=GOAL_VALUE,
        step_cost=STEP_COST,
    )
    num_goals, num_budgets = q_tables.shape[:2]
    prior = uniform_prior(num_goals, num_budgets, LOG_BETA_LOC, LOG_BETA_SCALE)
    n = cfg["trajectories"]
    truth, states, actions = agents(rng, q_tables, target, free, n, cfg["steps"])
    mask = jnp.ones(states.shape, bool)

    hypotheses = num_goals * num_budgets * cfg["grid"]
    exact_fn = functools.partial(coarse_posterior, num_grid=cfg["grid"])
    args = (q_tables, prior, states, actions, mask)
    compiled, compile_s = _compile(exact_fn, args)
    run_s, (exact_goal, exact_budget, exact_beta) = _timed(
        compiled, args, cfg["rounds"]
    )
    table_mb = hypotheses * q_tables[0, 0].size * 4 / 2**20
    rows = [
        {
            "method": f"exact, {cfg['grid']}-value β grid",
            "hypotheses / particles": hypotheses,
            "compile (s)": compile_s,
            "ms / trajectory": 1e3 * run_s / n,
            **_accuracy(exact_goal, exact_budget, exact_beta, truth),
            "TV to coarse": 0.0,
            "policy table (MiB)": table_mb,
        }
    ]
    for num_particles, rounds in cfg["particles"]:
        particle_fn = functools.partial(_particles_batch, num_particles=num_particles)
        keys = jax.random.split(jax.random.key(num_particles), n)
        args = (keys, q_tables, states, actions, mask, prior)
        compiled, compile_s = _compile(particle_fn, args)
        run_s, result = _timed(compiled, args, rounds)
        goal_post = result.goal_posterior[:, -1]
        tv = 0.5 * np.abs(np.asarray(goal_post) - np.asarray(exact_goal)).sum(-1)
        rows.append(
            {
                "method": f"particles, N = {num_particles:,}",
                "hypotheses / particles": num_particles,
                "compile (s)": compile_s,
                "ms / trajectory": 1e3 * run_s / n,
                **_accuracy(
                    goal_post,
                    result.budget_posterior[:, -1],
                    result.beta_mean[:, -1],
                    truth,
                ),
                "TV to coarse": float(tv.mean()),
                "resampled steps": float(np.asarray(result.resampled).mean()),
            }
        )
    scale = FINE_GRID / cfg["grid"]
    rows[0]["fine grid"] = {
        "hypotheses": num_goals * num_budgets * FINE_GRID,
        "table_gib": table_mb * scale / 1024,
        "posteriors_gib": 100 * (cfg["steps"] + 1) * hypotheses * scale * 4 / 2**30,
        "ms_per_traj": rows[0]["ms / trajectory"] * scale,
        "states": q_tables.shape[2],
        "trajectories": 100,
        "scale": scale,
    }
    return rows + _scaling_rows(rng, cfg, q_tables, prior, target, free)


def _scaling_rows(rng, cfg, q_tables, prior, target, free) -> list[dict]:
    """ms per step of trajectories cut to each length, before and after."""
    setting = cfg["scaling"]
    num, num_particles = setting["trajectories"], setting["particles"]
    _, states, actions = agents(rng, q_tables, target, free, num, max(cfg["lengths"]))
    keys = jax.random.split(jax.random.key(1), num)
    rows = []
    for length in cfg["lengths"]:
        row = {"table": "scaling", "steps": length, "particles": num_particles}
        data = (states[:, :length], actions[:, :length], jnp.ones((num, length), bool))
        for label, moves, rounds in (
            ("before", RESCORING_MOVES, setting["rounds"][0]),
            ("after", DEFAULT_MOVES, setting["rounds"][1]),
        ):
            particle_fn = functools.partial(
                _particles_batch, num_particles=num_particles, moves=moves
            )
            args = (keys, q_tables, *data, prior)
            compiled, _ = _compile(particle_fn, args)
            jax.block_until_ready(compiled(*args))  # warm-up
            run_s, result = _timed(compiled, args, rounds)
            row[f"{label} ms / step"] = 1e3 * run_s / (num * length)
            row[f"{label} resampled"] = float(np.asarray(result.resampled).mean())
        rows.append(row)
    return rows


def _accuracy_table(rows: list[dict]) -> str:
    cols = [
        "method",
        "hypotheses / particles",
        "compile (s)",
        "ms / trajectory",
        "p(true goal)",
        "MAP goal",
        "budget ±1",
        "log β abs. err",
        "TV to coarse",
    ]
    fmt = {
        "hypotheses / particles": "{:,}",
        "compile (s)": "{:.1f}",
        "ms / trajectory": "{:.1f}",
    }
    lines = ["| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 1)]
    for row in rows:
        cells = [
            fmt.get(c, "{:.3f}").format(row[c]) if c != "method" else row[c]
            for c in cols
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _scaling_table(rows: list[dict]) -> str:
    lines = [
        "| steps T | before: ms / step | after: ms / step | before / after "
        "| resampled steps (before, after) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        before, after = row["before ms / step"], row["after ms / step"]
        lines.append(
            f"| {row['steps']} | {before:.2f} | {after:.2f} | {before / after:.1f} "
            f"| {100 * row['before resampled']:.0f} %, "
            f"{100 * row['after resampled']:.0f} % |"
        )
    return "\n".join(lines)


def _split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    scaling = [r for r in rows if r.get("table") == "scaling"]
    return [r for r in rows if r.get("table") != "scaling"], scaling


def to_markdown(rows: list[dict]) -> str:
    """The accuracy table (one row per method), then the cost against ``T``."""
    accuracy, scaling = _split(rows)
    text = _accuracy_table(accuracy)
    if scaling:
        text += (
            "\n\nCost against trajectory length (N = "
            f"{scaling[0]['particles']} particles):\n\n" + _scaling_table(scaling)
        )
    return text


def notes(rows: list[dict]) -> str:
    """The enumeration estimate, the resampling rates and the cost."""
    rows, scaling = _split(rows)
    fine = rows[0]["fine grid"]
    resampled = ", ".join(
        f"{r['method']}: {100 * r['resampled steps']:.0f} %" for r in rows[1:]
    )
    text = (
        f"Enumerating a {FINE_GRID}-value β grid means {fine['hypotheses']:,} "
        f"hypotheses: the log-policy table alone is {fine['table_gib']:.1f} GiB "
        f"({fine['hypotheses']:,} × {fine['states']:,} states × 4 actions, float32) "
        f"and the per-step posteriors of {fine['trajectories']} trajectories another "
        f"{fine['posteriors_gib']:.1f} GiB; at the measured coarse-grid rate it "
        f"would take about {fine['ms_per_traj'] / 1e3:.1f} s per trajectory (linear "
        f"extrapolation, {fine['scale']:.0f}× the coarse run), if the memory were "
        "there. The particle filter keeps only "
        "the `[G, K, S, A]` Q-table, the `[G, K, B]` running tables and N "
        f"particles; β stays continuous. Steps that resampled and rejuvenated: "
        f"{resampled}. At the largest N the particle filter takes "
        f"{rows[-1]['ms / trajectory'] / rows[0]['ms / trajectory']:.1f}× the "
        "coarse enumeration's time per trajectory."
    )
    if scaling:
        first, last = scaling[0], scaling[-1]
        text += (
            "\n\nCost: before the running tables, every resampling step's Gibbs "
            "move scored all G × K (goal, budget) pairs for every particle against "
            f"the whole history, O(N G K T A): {first['before ms / step']:.2f} ms "
            f"per step at T = {first['steps']}, {last['before ms / step']:.2f} ms at "
            f"T = {last['steps']}. With the tables: {first['after ms / step']:.2f} "
            f"and {last['after ms / step']:.2f} ms "
            f"({last['before ms / step'] / last['after ms / step']:.0f}× faster at "
            "the longest)."
        )
    return text
