"""Exact goal inference: pinfer against memo-lang and a hand-written JAX version.

The problem (``benchmarks/inverse_problem.py``, the model of the memo parity test):
an 8 x 8 grid with walls, 3 goals, a Boltzmann agent with beta = 2 on the Q-values of
40 sweeps of value iteration (discount 0.95, 10 at the goal, -1 per step: a world
that charges nothing and the agent's extra ``step_cost`` of 1).
Trajectories have 20 steps each (agents keep acting after their goal, so every
trajectory is full length); every implementation returns the goal posterior after
every step (``[N, 21, 3]``), in float32:

* **pinfer**: ``jax.jit(jax.vmap(pinfer.inverse.infer_goals))`` over the
  trajectories, the layout passed as an argument (planning runs once per call).
  It includes the transition term ``log T(s' | s, a)`` and the guard that keeps the
  posterior defined after an impossible step.
* **hand-written**: ``handwritten_goal_inference`` below, one ``jax.jit`` of the
  same computation (value iteration per goal, log-softmax, gather, cumulative sum,
  normalise), without input checks or the impossible-step guard: the yardstick.
* **memo-lang** (``benchmarks/memo_gridworld.py``): Q by memo's recursion over sweeps
  (cached after the first call, so its planning is free in the timed runs), the
  posterior by the observer's recursion over steps, called for every step of every
  trajectory from Python (``T (T + 1) / 2 = 210`` memo steps per trajectory). The
  row "memo-lang, final step only" asks memo only for the posterior after step 20
  (one recursion, 20 memo steps): memo's best case, not the same output.

Timing: each implementation is compiled first (pinfer and hand-written:
``jit(...).lower(...).compile()``; memo: its first call on one trajectory, which
traces and compiles its models and computes Q), then timed over interleaved rounds
(rotating order, ``block_until_ready``); the table gives the median and range. A
JAX call shorter than 50 ms is repeated within each run and timed per call (the note
gives the count), so that sub-millisecond times are not timer noise. memo
loops over trajectories in Python, so its time is linear in their number: above
``memo_max`` trajectories it is timed on the first ``memo_max`` and scaled up (the
note says so). ``max |Δp|`` is the largest difference of a posterior probability
from pinfer's over the trajectories that implementation ran.
"""

import statistics
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import logsumexp

from benchmarks import inverse_problem as problem
from pinfer.inverse import infer_goals

__all__ = ["TITLE", "handwritten_goal_inference", "notes", "run", "to_markdown"]

TITLE = "Exact goal inference (8 × 8 grid, 3 goals, 20 steps)"
NUM_STEPS, NUM_SWEEPS = 20, 40
FULL = {"sizes": (1, 100, 1_000), "rounds": 5, "memo_max": 100}
QUICK = {"sizes": (1, 10), "rounds": 2, "memo_max": 5}
PINFER, HANDWRITTEN = "pinfer", "hand-written JAX"
MEMO, MEMO_FINAL = "memo-lang", "memo-lang, final step only"
MIN_SAMPLE_S = 0.05  # JAX runs shorter than this are repeated within one sample


@partial(jax.jit, static_argnames="num_sweeps")
def handwritten_goal_inference(
    transition, goal_states, beta, states, actions, mask, num_sweeps=NUM_SWEEPS
):
    """Goal posteriors ``[N, T + 1, G]`` of ``N`` trajectories in one ``jit``."""
    num_states = transition.shape[0]

    def plan(goal):
        is_goal = jnp.arange(num_states) == goal
        reward = problem.GOAL_VALUE * transition[:, :, goal] - problem.STEP_COST

        def sweep(values, _):
            q = reward + problem.DISCOUNT * transition @ values
            q = jnp.where(is_goal[:, None], 0.0, q)
            return q.max(axis=1), None

        values, _ = lax.scan(sweep, jnp.zeros(num_states), length=num_sweeps - 1)
        q = reward + problem.DISCOUNT * transition @ values
        return jax.nn.log_softmax(beta * jnp.where(is_goal[:, None], 0.0, q), axis=-1)

    log_policies = jax.vmap(plan)(goal_states)  # [G, S, A]
    here, there = states[:, :-1], states[:, 1:]
    step = log_policies[:, here, actions] + jnp.log(transition[here, actions, there])
    step = jnp.where(mask, step, 0.0)  # [G, N, T]
    start = jnp.zeros_like(step[..., :1])
    log_joint = jnp.concatenate([start, jnp.cumsum(step, axis=-1)], axis=-1)
    log_joint = log_joint - jnp.log(goal_states.shape[0])
    log_posterior = log_joint - logsumexp(log_joint, axis=0)
    return jnp.moveaxis(log_posterior, 0, -1)


def _pinfer_fn(mdp, goal_states, betas, states, actions, mask):
    def one(s, a, m):
        return infer_goals(
            mdp,
            goal_states,
            betas,
            problem.DISCOUNT,
            s,
            a,
            m,
            num_iterations=NUM_SWEEPS,
            goal_value=problem.GOAL_VALUE,
            step_cost=problem.STEP_COST,
        ).log_goal_posterior

    return jax.vmap(one)(states, actions, mask)


def _timed(fn):
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, out


def _jax_impls(num):
    """Compiled pinfer and hand-written functions and their compile times."""
    states, actions, mask, _ = problem.sample_trajectories(
        seed=num,
        num=num,
        num_steps=NUM_STEPS,
        num_sweeps=NUM_SWEEPS,
        stop_at_goal=False,
    )
    mdp = problem.pinfer_mdp()
    goals = jnp.array(problem.GOAL_STATES)
    data = tuple(map(jnp.asarray, (states, actions, mask)))
    pinfer_args = (mdp, goals, jnp.array([problem.BETA]), *data)
    hand_args = (mdp.transition, goals, jnp.asarray(problem.BETA), *data)
    impls, compile_s = {}, {}
    for name, fn, args in (
        (PINFER, jax.jit(_pinfer_fn), pinfer_args),
        (HANDWRITTEN, handwritten_goal_inference, hand_args),
    ):
        seconds, compiled = _timed(lambda fn=fn, args=args: fn.lower(*args).compile())
        compile_s[name] = seconds
        call = partial(compiled, *args)
        seconds, _ = _timed(call)  # untimed warm-up
        impls[name] = _repeated(call, max(1, min(1000, int(MIN_SAMPLE_S / seconds))))
    return impls, compile_s, (states, actions)


def _repeated(call, repeats):
    """``call`` run ``repeats`` times per sample; the sample is the time per call."""

    def sample():
        start = time.perf_counter()
        for _ in range(repeats):
            out = jax.block_until_ready(call())
        return (time.perf_counter() - start) / repeats, out

    sample.repeats = repeats
    return sample


def _memo_impls(states, actions, memo_max):
    from benchmarks import memo_gridworld

    subset = min(len(states), memo_max)
    sub_states = [jnp.asarray(s) for s in states[:subset]]
    sub_actions = [jnp.asarray(a) for a in actions[:subset]]

    def every_step():
        return np.stack(
            [
                memo_gridworld.memo_posteriors(s, a, NUM_STEPS, NUM_SWEEPS)
                for s, a in zip(sub_states, sub_actions, strict=True)
            ]
        )

    def final_step():
        return np.stack(
            [
                memo_gridworld.memo_final_posterior(s, a, NUM_STEPS, NUM_SWEEPS)
                for s, a in zip(sub_states, sub_actions, strict=True)
            ]
        )

    return {MEMO: every_step, MEMO_FINAL: final_step}, subset


def _memo_compile_s() -> float:
    """memo's first call on one trajectory (traces, compiles, computes Q)."""
    from benchmarks import memo_gridworld

    states, actions, _, _ = problem.sample_trajectories(
        seed=0, num=1, num_steps=NUM_STEPS, num_sweeps=NUM_SWEEPS, stop_at_goal=False
    )
    seconds, _ = _timed(
        lambda: memo_gridworld.memo_posteriors(
            states[0], actions[0], NUM_STEPS, NUM_SWEEPS
        )
    )
    return seconds


def _max_abs_diff(name, outputs):
    """Largest |Δp| of a posterior probability from pinfer's."""
    reference = np.exp(np.asarray(outputs[PINFER], np.float64))
    out = np.asarray(outputs[name], np.float64)
    if name in (PINFER, HANDWRITTEN):  # log-probabilities
        out = np.exp(out)
    if name == MEMO_FINAL:
        reference = reference[:, -1]
    return float(np.abs(out - reference[: len(out)]).max())


def run(quick: bool) -> list[dict]:
    config = QUICK if quick else FULL
    memo_compile_s = _memo_compile_s()
    rows = []
    for num in config["sizes"]:
        impls, compile_s, (states, actions) = _jax_impls(num)
        memo_impls, subset = _memo_impls(states, actions, config["memo_max"])
        impls |= memo_impls
        compile_s |= {MEMO: memo_compile_s, MEMO_FINAL: memo_compile_s}
        names = list(impls)
        times = {name: [] for name in names}
        outputs = {}
        for r in range(config["rounds"]):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                if hasattr(impls[name], "repeats"):
                    seconds, outputs[name] = impls[name]()
                else:
                    seconds, outputs[name] = _timed(impls[name])
                times[name].append(seconds)
        scale = num / subset
        for name in names:
            memo = name in memo_impls
            factor = scale if memo else 1.0
            repeats = getattr(impls[name], "repeats", 1)
            note = f"{repeats} calls per run" if repeats > 1 else ""
            if memo and subset < num:
                note = (
                    f"timed on {subset} of {num:,} trajectories, × {scale:g} "
                    "(linear: memo loops over trajectories in Python)"
                )
            rows.append(
                {
                    "num_trajectories": num,
                    "implementation": name,
                    "median_s": statistics.median(times[name]) * factor,
                    "min_s": min(times[name]) * factor,
                    "max_s": max(times[name]) * factor,
                    "compile_s": compile_s[name],
                    "runs": len(times[name]),
                    "max_abs_diff": _max_abs_diff(name, outputs),
                    "note": note,
                }
            )
        pinfer_median = rows[-len(names)]["median_s"]
        for row in rows[-len(names) :]:
            row["ratio_to_pinfer"] = row["median_s"] / pinfer_median
    return rows


def to_markdown(rows: list[dict]) -> str:
    """One line per (number of trajectories, implementation)."""
    lines = [
        "| trajectories | implementation | median s | range s | × pinfer | compile s "
        "| max abs Δp | runs | note |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['num_trajectories']:,} | {r['implementation']} | "
            f"{r['median_s']:.4g} | {r['min_s']:.3g}–{r['max_s']:.3g} | "
            f"{r['ratio_to_pinfer']:.3g} | {r['compile_s']:.2f} | "
            f"{r['max_abs_diff']:.1e} | {r['runs']} | {r['note']} |"
        )
    return "\n".join(lines)


def notes(rows: list[dict]) -> str:
    """The targets: ≥ 100× faster than memo at the largest size, ≤ 1.5× hand-written."""
    largest = max(r["num_trajectories"] for r in rows)
    at = {r["implementation"]: r for r in rows if r["num_trajectories"] == largest}
    memo = at[MEMO]["ratio_to_pinfer"]
    hand = 1.0 / at[HANDWRITTEN]["ratio_to_pinfer"]
    lines = [
        f"At {largest:,} trajectories: memo-lang / pinfer = {memo:,.0f} "
        f"(target ≥ 100: {'met' if memo >= 100 else 'not met'}); memo-lang final "
        f"step only / pinfer = {at[MEMO_FINAL]['ratio_to_pinfer']:,.0f}; "
        f"pinfer / hand-written = {hand:.2f} (target ≤ 1.5: "
        f"{'met' if hand <= 1.5 else 'not met'}).",
    ]
    for num in sorted({r["num_trajectories"] for r in rows}):
        by = {r["implementation"]: r for r in rows if r["num_trajectories"] == num}
        lines.append(
            f"- {num:,} trajectories: pinfer / hand-written = "
            f"{1.0 / by[HANDWRITTEN]['ratio_to_pinfer']:.2f}, memo-lang / pinfer = "
            f"{by[MEMO]['ratio_to_pinfer']:,.0f}"
        )
    return "\n".join(lines)
