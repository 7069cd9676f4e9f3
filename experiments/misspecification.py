"""Misspecification: goal inference with a Boltzmann model when the agent plans less,
or discounts more, than the model assumes.

After "Quantifying the Sensitivity of Inverse Reinforcement Learning to
Misspecification" (Skalse and Abate, ICLR 2024): an observer infers an agent's goal
with the standard Bayesian inverse-planning model (Boltzmann-rational, full planning,
discount 0.95, ``beta`` on a grid and marginalised), while the agents are generated
by a different planner. Two sweeps, each from the well-specified case outward:

    budget sweep:   agents plan k = K_ref, ..., 0 sweeps (L-IBM), discount 0.95
                    x-axis: budget deficit K_ref - k
    discount sweep: agents plan fully with discount gamma = 0.95, ..., 0.2
                    x-axis: discount gap 0.95 - gamma
    for each condition c, agent i (vmap): layout, goal g_i ~ uniform, start at 'S'
        trajectory ~ rollout(BudgetAgent(k_c, gamma_c, beta_true), goal g_i)
        post_t(g) = goal posterior after t steps     (pinfer.inverse.goal_posterior)
                    under the assumed model, and under the true model (k_c, gamma_c)
        error_i   = 1 - mean_{t=1..T_i} post_t(g_i)     (time-averaged)
        map_err_i = [argmax_g post_{T_i}(g) != g_i]    (after the whole trajectory)

The well-specified observer (same grid over goals and ``beta``, the agents' own budget
and discount) separates the cost of misspecification from the fact that a
low-budget or myopic agent's behaviour says less about its goal.

The claims checked (``claims_hold``): in each sweep the assumed model's error grows
by more than 4 standard errors from the well-specified end to the largest
misspecification, and at the well-specified end it agrees with the well-specified
observer within 4 standard errors. The worlds charge 1 per step and the goal pays
``goal_value``; no extra ``step_cost`` is added.

Run: ``python -m experiments.misspecification --out DIR [--quick] [--seed N]``.
Writes ``misspecification.md`` / ``.csv`` (one row per condition) and
``misspecification.png`` (error against budget deficit and against discount gap).
Exits with status 1 when a claim fails in the full run; ``--quick`` does not test
the claims (it says so).
"""

import functools
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from experiments._common import (
    Worlds,
    build_worlds,
    claims_exit_status,
    parse_args,
    prepare_output,
    save_figure,
    write_table,
)
from pinfer.agents import (
    BudgetAgent,
    BudgetParams,
    StateGoal,
    TabularEnv,
    TabularEnvParams,
    rollout,
)
from pinfer.inverse import goal_log_policies, goal_posterior
from pinfer.planning import boltzmann_policy, budget_limited_planning, goal_reward


class Config(NamedTuple):
    """Sizes and constants of one run (``FULL`` or ``QUICK``)."""

    agents_per_condition: int
    num_steps: int
    budgets: tuple[int, ...]
    discounts: tuple[float, ...]
    true_beta: float = 2.0
    beta_grid: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    model_discount: float = 0.95
    goal_value: float = 10.0
    full_planning_sweeps: int = 60
    tests_claims: bool = True


FULL = Config(
    600,
    30,
    (12, 10, 8, 6, 5, 4, 3, 2, 1, 0),
    (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2),
)
QUICK = Config(
    12, 12, (12, 4, 0), (0.95, 0.5), beta_grid=(1.0, 4.0), tests_claims=False
)
# The error columns printed (and tabulated) for each condition.
PRINTED_ERRORS = (
    "error_assumed",
    "error_true_model",
    "map_error_assumed",
    "map_error_true_model",
)


class Conditions(NamedTuple):
    """One entry per condition: the sweep it belongs to, the agents' budget and
    discount, and its x-coordinate (budget deficit or discount gap)."""

    sweep: tuple[str, ...]
    budget: jax.Array
    discount: jax.Array
    x: tuple[float, ...]


def conditions(cfg: Config) -> Conditions:
    """Budget sweep at the model's discount, then discount sweep at full planning
    (``budget = full_planning_sweeps``)."""
    reference = max(cfg.budgets)
    full = cfg.full_planning_sweeps
    sweep = ("budget",) * len(cfg.budgets) + ("discount",) * len(cfg.discounts)
    budget = list(cfg.budgets) + [full] * len(cfg.discounts)
    discount = [cfg.model_discount] * len(cfg.budgets) + list(cfg.discounts)
    x = [float(reference - k) for k in cfg.budgets]
    x += [round(cfg.model_discount - g, 4) for g in cfg.discounts]
    return Conditions(
        sweep, jnp.asarray(budget), jnp.asarray(discount, jnp.float32), tuple(x)
    )


def simulate(key, cfg: Config, worlds: Worlds, budget, discount):
    """One condition: layouts in turn, uniform goals; returns ``(goal [N], layout
    [N], Trajectory [N, T])``."""
    n = cfg.agents_per_condition
    num_layouts, num_goals = worlds.goals.shape
    key_goal, key_roll = jax.random.split(key)
    layout = jnp.arange(n) % num_layouts
    goal = jax.random.randint(key_goal, (n,), 0, num_goals)
    agent = BudgetAgent(max_budget=cfg.full_planning_sweeps)

    def one(key, layout, goal):
        world = jax.tree.map(lambda leaf: leaf[layout], worlds.mdp)
        reward = StateGoal(worlds.goals[layout, goal], cfg.goal_value)
        params = BudgetParams(world, reward, cfg.true_beta, discount, budget)
        env_params = TabularEnvParams(
            reward.apply(world), worlds.initial[layout], cfg.num_steps
        )
        return rollout(key, agent, params, TabularEnv(), env_params, cfg.num_steps)

    keys = jax.random.split(key_roll, n)
    return goal, layout, jax.vmap(one)(keys, layout, goal)


def true_model_tables(cfg: Config, worlds: Worlds, budget, discount):
    """``[L, G * B, S, A]`` log-policies of the well-specified observer: the agents'
    own budget and discount, ``beta`` on the grid."""
    betas = jnp.asarray(cfg.beta_grid)

    def per_goal(mdp, goal):
        agent_mdp = goal_reward(mdp, goal, cfg.goal_value)
        planned = budget_limited_planning(
            agent_mdp, discount, 1.0, cfg.full_planning_sweeps
        )
        q_values = planned.q_values[budget]
        return boltzmann_policy(q_values[None], betas[:, None, None])

    def per_layout(mdp, goals):
        tables = jax.vmap(per_goal, in_axes=(None, 0))(mdp, goals)
        return tables.reshape(-1, *tables.shape[-2:])

    return jax.vmap(per_layout)(worlds.mdp, worlds.goals)


@functools.partial(jax.jit, static_argnums=0)
def assumed_model_tables(cfg: Config, worlds: Worlds):
    """``[L, G * B, S, A]``: Boltzmann, full planning at the model's discount."""

    def per_layout(mdp, goals):
        tables = goal_log_policies(
            mdp,
            goals,
            jnp.asarray(cfg.beta_grid),
            cfg.model_discount,
            num_iterations=cfg.full_planning_sweeps,
            goal_value=cfg.goal_value,
        )
        return tables.reshape(-1, *tables.shape[-2:])

    return jax.vmap(per_layout)(worlds.mdp, worlds.goals)


def goal_errors(tables, num_goals: int, goal, layout, trajectories):
    """Per agent: ``1 - mean_t P(true goal | first t steps)`` and whether the MAP
    goal after the whole trajectory is wrong."""

    def one(goal, layout, obs, actions, mask):
        log_policies = tables[layout]
        prior = jnp.zeros(log_policies.shape[0], log_policies.dtype)
        result = goal_posterior(log_policies, prior, obs[:-1], actions, mask)
        post = logsumexp(
            result.log_posterior.reshape(-1, num_goals, prior.size // num_goals), axis=2
        )
        on_goal = jnp.exp(post[1:, goal])
        mean_on_goal = jnp.sum(jnp.where(mask, on_goal, 0.0)) / jnp.maximum(
            mask.sum(), 1
        )
        return 1.0 - mean_on_goal, jnp.argmax(post[-1]) != goal

    return jax.vmap(one)(
        goal, layout, trajectories.obs, trajectories.actions, trajectories.mask
    )


def _condition_fn(cfg: Config, worlds: Worlds, assumed):
    num_goals = worlds.goals.shape[1]

    @jax.jit
    def run_condition(key, budget, discount):
        goal, layout, trajectories = simulate(key, cfg, worlds, budget, discount)
        correct = true_model_tables(cfg, worlds, budget, discount)
        misspecified = goal_errors(assumed, num_goals, goal, layout, trajectories)
        specified = goal_errors(correct, num_goals, goal, layout, trajectories)
        return misspecified, specified, trajectories.mask.sum(1)

    return run_condition


def _mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def claims_hold(rows: list[dict]) -> bool:
    """The claims: in each sweep the assumed model's error at the largest
    misspecification exceeds its error at none by more than 4 standard errors, and
    at none the assumed and the well-specified observer agree within 4 standard
    errors."""
    ok = True
    for sweep in ("budget", "discount"):
        part = sorted(
            (r for r in rows if r["sweep"] == sweep),
            key=lambda r: r["misspecification"],
        )
        well, worst = part[0], part[-1]
        se = np.hypot(well["error_assumed_se"], worst["error_assumed_se"])
        ok &= bool(worst["error_assumed"] - well["error_assumed"] > 4 * se)
        se0 = np.hypot(well["error_assumed_se"], well["error_true_model_se"])
        ok &= bool(abs(well["error_assumed"] - well["error_true_model"]) < 4 * se0)
    return ok


def run(cfg: Config, out, seed: int = 0) -> tuple[list[dict], bool]:
    """Simulate every condition, infer goals, write the table and the figure; return
    the rows and whether the claims hold (``claims_hold``)."""
    out = prepare_output(out)
    start = time.perf_counter()
    worlds = build_worlds()
    assumed = assumed_model_tables(cfg, worlds)
    run_condition = _condition_fn(cfg, worlds, assumed)
    conds = conditions(cfg)
    keys = jax.random.split(jax.random.key(seed), len(conds.x))
    rows = []
    for c in range(len(conds.x)):
        (mis_err, mis_map), (spec_err, spec_map), lengths = run_condition(
            keys[c], conds.budget[c], conds.discount[c]
        )
        mis, mis_se = _mean_se(mis_err)
        spec, spec_se = _mean_se(spec_err)
        rows.append(
            {
                "sweep": conds.sweep[c],
                "budget": int(conds.budget[c]),
                "discount": round(float(conds.discount[c]), 4),
                "misspecification": conds.x[c],
                "error_assumed": mis,
                "error_assumed_se": mis_se,
                "error_true_model": spec,
                "error_true_model_se": spec_se,
                "map_error_assumed": float(np.mean(mis_map)),
                "map_error_true_model": float(np.mean(spec_map)),
                "mean_steps": float(np.mean(lengths)),
            }
        )
    seconds = time.perf_counter() - start
    notes = (
        f"{cfg.agents_per_condition} agents per condition (3 layouts, 3 goals, start "
        f"at S, beta = {cfg.true_beta}, at most {cfg.num_steps} steps). Assumed "
        f"model: Boltzmann, full planning, discount {cfg.model_discount}, beta grid "
        f"{list(cfg.beta_grid)} marginalised, uniform goal prior. error = 1 - "
        "posterior on the true goal averaged over the steps of a trajectory; "
        "map_error = fraction of agents whose MAP goal after the whole trajectory is "
        "wrong. *_true_model: the same inference with the agents' own budget and "
        f"discount. misspecification = budget deficit (budget sweep, reference "
        f"budget {max(cfg.budgets)}) or discount gap (discount sweep). "
        f"Runtime {seconds:.1f} s."
    )
    ok = claims_hold(rows)
    notes += (
        " Claims (the assumed model's error grows by > 4 se from no to the largest "
        "misspecification in each sweep; at none it agrees with the well-specified "
        "observer within 4 se): "
        + (("hold" if ok else "FAIL") if cfg.tests_claims else "not tested (--quick)")
        + "."
    )
    write_table(rows, out, "misspecification", "Misspecification", notes)
    make_figure(rows, out)
    return rows, ok


def make_figure(rows, out):
    """Error against misspecification, both observers, both error measures.

    The two observers often agree, so their points are dodged sideways by 1 % of
    the axis and drawn with different markers and line styles (the assumed model's
    hollow markers larger): no curve hides another.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True, layout="constrained")
    labels = {"budget": "budget deficit (sweeps)", "discount": "discount gap"}
    models = (
        ("assumed", "assumed model (full planning, discount 0.95)", "o", 8, "C0", -1),
        ("true_model", "true model (well specified)", "s", 5, "C2", 1),
    )
    for ax, sweep in zip(axes, ("budget", "discount"), strict=True):
        part = [r for r in rows if r["sweep"] == sweep]
        part.sort(key=lambda r: r["misspecification"])
        x = np.array([r["misspecification"] for r in part], dtype=float)
        dodge = 0.01 * max(float(np.ptp(x)), 1e-9)
        for key, label, marker, size, color, side in models:
            shifted = x + side * dodge
            ax.errorbar(
                shifted,
                [r[f"error_{key}"] for r in part],
                yerr=[2 * r[f"error_{key}_se"] for r in part],
                fmt=marker + ("-" if side < 0 else "--"),
                ms=size,
                mfc="none" if side < 0 else color,
                mew=1.5,
                color=color,
                capsize=2,
                label=f"{label}: 1 - mean P(true goal)",
            )
            ax.plot(
                shifted,
                [r[f"map_error_{key}"] for r in part],
                marker + (":" if side < 0 else "-."),
                ms=size,
                mfc="none" if side < 0 else color,
                mew=1.2,
                color=color,
                alpha=0.6,
                label=f"{label}: MAP goal wrong at the end",
            )
        ax.set(xlabel=labels[sweep], title=f"{sweep} sweep", ylim=(-0.02, 1.02))
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("goal-inference error")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=7)
    return save_figure(fig, out, "misspecification")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(
        "Goal inference under a misspecified (full-planning Boltzmann) model.",
        "experiments/results/misspecification",
        argv,
    )
    cfg = QUICK if args.quick else FULL
    rows, ok = run(cfg, args.out, args.seed)
    columns = ("sweep", "budget", "discount", *PRINTED_ERRORS, "mean_steps")
    print(" ".join(f"{c:>20}" for c in columns))
    for row in rows:
        print(" ".join(f"{_fmt(row[c]):>20}" for c in columns))
    print(f"results in {args.out}")
    return claims_exit_status(ok, args.quick, "see the notes of the table")


def _fmt(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
