"""Latent inference budgets: recover how much simulated agents plan, from what they do.

After "Modeling Boundedly Rational Agents with Latent Inference Budgets" (Jacob, Gupta
and Andreas, ICLR 2024). A population of budget-limited agents (L-IBM: budget ``k`` =
``k`` sweeps of value iteration, then a Boltzmann read-out at rationality ``beta``)
acts in three 8x8 gridworlds with three candidate goals each. Each agent has a goal,
a ``beta`` and a budget ``k`` in ``0..K``; an agent farther than ``k`` steps from its
goal sees no reward and walks at random, so budgets show in where behaviour turns
from random to directed. Episodes start in random free cells (so every agent passes
through the distances where budgets differ)::

    for each agent i (vmap): layout l_i, goal g_i, beta_i, budget k_i
        train episodes, test episodes ~ rollout(BudgetAgent, goal_reward(world, g_i))
    log_pi_budget[l, g, b, k] = goal_log_policies(world_l, goals, betas, budgets=0..K)
    log_pi_full[l, g, b]      = goal_log_policies(world_l, goals, betas)  # full VI
    for each model M and agent i:
        loglik_M[i, h]   = sum over train steps log_pi_M[l_i, h](a_t | s_t)
        post_M[i, h]     = softmax_h(loglik_M[i, h])        # uniform prior on the grid
        heldout_M[i]     = logsumexp_h(log post_M[i, h] + test loglik_M[i, h]) / #test
    MAP budget of agent i = argmax_k sum_{g, b} post_budget[i, g, b, k]

Goal, ``beta`` and budget are inferred jointly (the goal is not given). The claims
checked: the MAP budget is within 1 of the truth for >= 70 % of the agents with >= 20
training actions, and the budget model predicts held-out actions better than a
Boltzmann model that plans fully (mean posterior-predictive log-likelihood per action).

Run: ``python -m experiments.latent_budgets --out DIR [--quick] [--seed N]``.
Writes ``latent_budgets.md`` / ``.csv`` (per agent: layout, goal, true / MAP budget,
held-out log-likelihoods; a summary on top) and ``latent_budgets.png`` (confusion
matrix of true vs MAP budget; held-out log-likelihood of both models per agent).
Exits with status 1 when a claim fails in the full run; ``--quick`` does not test
the claims (it says so). The world charges 1 per step and the goal pays
``goal_value``; no extra ``step_cost`` is added.
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
from pinfer.inverse import action_log_likelihoods, goal_log_policies


class Config(NamedTuple):
    """Sizes and constants of one run (``FULL`` or ``QUICK``)."""

    num_agents: int
    num_train_episodes: int
    num_test_episodes: int
    episode_steps: int
    max_budget: int
    true_betas: tuple[float, ...]
    beta_grid: tuple[float, ...]
    goal_value: float = 10.0
    discount: float = 0.95
    full_planning_sweeps: int = 60
    min_actions: int = 20
    min_recovery: float = 0.7
    tests_claims: bool = True


FULL = Config(300, 6, 4, 20, 7, (2.0, 4.0), (0.5, 1.0, 2.0, 4.0, 8.0))
QUICK = Config(12, 2, 1, 12, 3, (3.0,), (1.0, 3.0), tests_claims=False)


class Population(NamedTuple):
    """Ground truth of the simulated agents, each ``[N]``."""

    layout: jax.Array
    goal: jax.Array
    beta: jax.Array
    budget: jax.Array


def sample_population(key, cfg: Config, num_layouts: int, num_goals: int):
    """Layouts in turn; goal, ``beta`` and budget uniform (budgets in ``0..K``)."""
    key_goal, key_beta, key_budget = jax.random.split(key, 3)
    n = cfg.num_agents
    return Population(
        layout=jnp.arange(n) % num_layouts,
        goal=jax.random.randint(key_goal, (n,), 0, num_goals),
        beta=jnp.asarray(cfg.true_betas)[
            jax.random.randint(key_beta, (n,), 0, len(cfg.true_betas))
        ],
        budget=jax.random.randint(key_budget, (n,), 0, cfg.max_budget + 1),
    )


@functools.partial(jax.jit, static_argnums=(1, 4))
def simulate(key, cfg: Config, worlds: Worlds, truth: Population, num_episodes: int):
    """``Trajectory`` with leaves ``[N, E, ...]``: each agent's episodes."""
    agent = BudgetAgent(max_budget=cfg.max_budget)

    def episode(key, layout, goal, beta, budget):
        world = jax.tree.map(lambda leaf: leaf[layout], worlds.mdp)
        goal_state = worlds.goals[layout, goal]
        reward = StateGoal(goal_state, cfg.goal_value)
        params = BudgetParams(world, reward, beta, cfg.discount, budget)
        env_params = TabularEnvParams(
            reward.apply(world), worlds.initial[layout], cfg.episode_steps
        )
        return rollout(key, agent, params, TabularEnv(), env_params, cfg.episode_steps)

    keys = jax.random.split(key, (cfg.num_agents, num_episodes))
    per_agent = jax.vmap(episode, in_axes=(0, None, None, None, None))
    return jax.vmap(per_agent)(keys, *truth)


def _flat(tables):
    """``[G, B, K, S, A] -> [G * B * K, S, A]`` (hypotheses in that order)."""
    return tables.reshape(-1, *tables.shape[-2:])


@functools.partial(jax.jit, static_argnums=0)
def model_tables(cfg: Config, worlds: Worlds):
    """Flat log-policy tables ``[L, H, S, A]`` of the budget and the full model,
    ``H = G * B * (K + 1)`` and ``G * B``."""
    betas = jnp.asarray(cfg.beta_grid)
    budgets = tuple(range(cfg.max_budget + 1))

    def tables(mdp, goals):
        budget = goal_log_policies(
            mdp, goals, betas, cfg.discount, budgets=budgets, goal_value=cfg.goal_value
        )
        full = goal_log_policies(
            mdp,
            goals,
            betas,
            cfg.discount,
            num_iterations=cfg.full_planning_sweeps,
            goal_value=cfg.goal_value,
        )
        return _flat(budget), _flat(full)

    return jax.vmap(tables)(worlds.mdp, worlds.goals)


def episodes_log_likelihood(log_policies, trajectories):
    """``[H]``: summed log-likelihood of one agent's ``[E, T]`` episodes."""

    def one(obs, actions, mask):
        return action_log_likelihoods(log_policies, obs[:-1], actions, mask).sum(0)

    per_episode = jax.vmap(one)(
        trajectories.obs, trajectories.actions, trajectories.mask
    )
    return per_episode.sum(0)


@jax.jit
def fit(tables, layout, train, test):
    """Per agent: log-posterior ``[N, H]`` from ``train`` and the posterior-predictive
    log-likelihood ``[N]`` of ``test``."""

    def one(layout, train, test):
        log_policies = tables[layout]
        train_ll = episodes_log_likelihood(log_policies, train)
        test_ll = episodes_log_likelihood(log_policies, test)
        log_post = train_ll - logsumexp(train_ll)
        return log_post, logsumexp(log_post + test_ll)

    return jax.vmap(one)(layout, train, test)


def summarise(cfg, truth, train, test, fits):
    """Per-agent rows, the summary and the arrays the figure needs (NumPy)."""
    (budget_post, budget_heldout), (full_post, full_heldout) = fits
    num_betas = len(cfg.beta_grid)
    grid = budget_post.reshape(cfg.num_agents, -1, num_betas, cfg.max_budget + 1)
    budget_marginal = np.asarray(logsumexp(grid, axis=(1, 2)))
    map_budget = budget_marginal.argmax(1)
    true_budget = np.asarray(truth.budget)
    train_actions = np.asarray(train.mask.sum((1, 2)))
    test_actions = np.asarray(test.mask.sum((1, 2)))
    per_action = lambda x: np.asarray(x) / np.maximum(test_actions, 1)  # noqa: E731
    budget_ll, full_ll = per_action(budget_heldout), per_action(full_heldout)
    within = np.abs(map_budget - true_budget) <= 1
    eligible = train_actions >= cfg.min_actions
    rows = [
        {
            "agent": i,
            "layout": int(truth.layout[i]),
            "goal": int(truth.goal[i]),
            "beta": float(truth.beta[i]),
            "true_budget": int(true_budget[i]),
            "map_budget": int(map_budget[i]),
            "within_1": bool(within[i]),
            "train_actions": int(train_actions[i]),
            "test_actions": int(test_actions[i]),
            "heldout_ll_budget": float(budget_ll[i]),
            "heldout_ll_full": float(full_ll[i]),
        }
        for i in range(cfg.num_agents)
    ]
    diff = (budget_ll - full_ll)[test_actions > 0]
    summary = {
        "agents": cfg.num_agents,
        "agents_with_enough_actions": int(eligible.sum()),
        "recovery_within_1": float(within[eligible].mean()),
        "exact_recovery": float((map_budget == true_budget)[eligible].mean()),
        "heldout_ll_budget": float(budget_ll[test_actions > 0].mean()),
        "heldout_ll_full": float(full_ll[test_actions > 0].mean()),
        "ll_difference": float(diff.mean()),
        "ll_difference_se": float(diff.std(ddof=1) / np.sqrt(diff.size)),
        "budget_model_better_frac": float((diff > 0).mean()),
    }
    return rows, summary, (true_budget, map_budget, budget_ll, full_ll, eligible)


def make_figure(cfg, arrays, out):
    import matplotlib.pyplot as plt

    true_budget, map_budget, budget_ll, full_ll, eligible = arrays
    size = cfg.max_budget + 1
    confusion = np.zeros((size, size))
    np.add.at(confusion, (true_budget[eligible], map_budget[eligible]), 1)
    rates = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    image = left.imshow(rates, cmap="Blues", vmin=0, vmax=1, origin="lower")
    for (t, m), count in np.ndenumerate(confusion):
        if count:
            left.text(m, t, int(count), ha="center", va="center", fontsize=7)
    left.set(
        xlabel="MAP budget",
        ylabel="true budget",
        title="Budget recovery",
        xticks=range(size),
        yticks=range(size),
    )
    fig.colorbar(image, ax=left, label="fraction of agents (row)")
    # One colour per budget (integers); hollow-edged, translucent points so that
    # agents with (nearly) equal log-likelihoods stay visible.
    scatter = right.scatter(
        full_ll,
        budget_ll,
        c=true_budget,
        cmap=plt.get_cmap("viridis", size),
        s=18,
        vmin=-0.5,
        vmax=size - 0.5,
        alpha=0.75,
        edgecolors="black",
        linewidths=0.4,
    )
    low, high = min(full_ll.min(), budget_ll.min()), max(full_ll.max(), budget_ll.max())
    right.plot([low, high], [low, high], color="grey", lw=1, ls="--")
    right.set(
        xlabel="Boltzmann (full planning)",
        ylabel="budget model (L-IBM)",
        title="Held-out log-likelihood per action",
    )
    fig.colorbar(scatter, ax=right, label="true budget", ticks=range(size))
    return save_figure(fig, out, "latent_budgets")


def run(cfg: Config, out, seed: int = 0) -> tuple[dict, bool]:
    """Simulate, fit both models, write the table and the figure; return the summary
    and whether both claims hold."""
    out = prepare_output(out)
    start = time.perf_counter()
    key_pop, key_episodes = jax.random.split(jax.random.key(seed))
    worlds = build_worlds(random_start=True)
    num_layouts, num_goals = worlds.goals.shape
    truth = sample_population(key_pop, cfg, num_layouts, num_goals)
    num_train = cfg.num_train_episodes
    episodes = simulate(
        key_episodes, cfg, worlds, truth, num_train + cfg.num_test_episodes
    )
    train = jax.tree.map(lambda leaf: leaf[:, :num_train], episodes)
    test = jax.tree.map(lambda leaf: leaf[:, num_train:], episodes)
    budget_tables, full_tables = model_tables(cfg, worlds)
    fits = (
        fit(budget_tables, truth.layout, train, test),
        fit(full_tables, truth.layout, train, test),
    )
    rows, summary, arrays = summarise(cfg, truth, train, test, fits)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    recovered = summary["recovery_within_1"] >= cfg.min_recovery
    better = summary["ll_difference"] > 0
    ok = bool(recovered and better)
    summary["claims"] = ("hold" if ok else "FAIL") if cfg.tests_claims else "not tested"
    notes = (
        f"{cfg.num_agents} budget-limited agents (budgets 0..{cfg.max_budget}, beta "
        f"in {list(cfg.true_betas)}) in {num_layouts} layouts with {num_goals} goals; "
        f"{cfg.num_train_episodes} training and {cfg.num_test_episodes} test episodes "
        f"of at most {cfg.episode_steps} steps each. Goal, beta (grid "
        f"{list(cfg.beta_grid)}) and budget inferred jointly by exact enumeration. "
        f"Claims: MAP budget within 1 of the truth for >= {cfg.min_recovery:.0%} of "
        f"the agents with >= {cfg.min_actions} training actions; the budget model's "
        "held-out log-likelihood per action higher than full-planning Boltzmann's."
    )
    write_table(
        rows,
        out,
        "latent_budgets",
        "Latent inference budgets",
        notes,
        {"Summary": [summary]},
    )
    make_figure(cfg, arrays, out)
    return summary, ok


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(
        "Recover latent planning budgets of simulated agents (L-IBM).",
        "experiments/results/latent_budgets",
        argv,
    )
    cfg = QUICK if args.quick else FULL
    summary, ok = run(cfg, args.out, args.seed)
    for name, value in summary.items():
        if name != "claims":
            print(f"{name:>28}: {value}")
    print(f"results in {args.out}")
    return claims_exit_status(ok, args.quick, "see the summary above")


if __name__ == "__main__":
    sys.exit(main())
