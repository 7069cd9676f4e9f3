"""Demo: infer which gem an agent is heading for, from its moves alone.

A Boltzmann-rational agent (beta = 2, discount 0.95) walks towards one of three gems.
The world charges every step (``make_gridworld``'s default ``step_reward = -1``: the
world owns the cost of a step) and the agent's gem is worth 10 on arrival; no extra
``step_cost`` is added on top. After every move, exact Bayesian inverse
planning (``pinfer.inverse.infer_goals``) updates the posterior over the gems, jointly
with the agent's rationality on a grid and marginalised over it. The figure shows the
path on the grid and the goal posterior over time.

The demo is part of the ``pinfer`` command, so it may use ``pinfer.envs`` (the library
kernels never do).
"""

from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["GoalReport", "run_goal_inference"]

LAYOUT = """
G.....#...
.####.#.#.
......#.#G
.#.##...#.
.#..#.#...
S#..#.#.#.
...##...#G
"""
BETA, DISCOUNT, GOAL_VALUE = 2.0, 0.95, 10.0
BETA_GRID = (0.5, 1.0, 2.0, 4.0)


class GoalReport(NamedTuple):
    """What the goal-inference demo measured."""

    true_goal: int
    final_posterior: np.ndarray
    num_steps: int
    figure: Path


# Posteriors of goals the moves cannot yet tell apart are equal, so their lines
# coincide: each goal gets its own line style and a hollow marker of its own size
# (drawn largest first), so coinciding points show as nested markers and every line
# stays visible; the true goal is drawn last, on top.
_STYLES = (("--", "s", 11), (":", "o", 8), ("-.", "^", 6), ("--", "D", 4))


def _plot_posterior(ax, posterior, colors, true_goal):
    steps = np.arange(posterior.shape[0])
    others = [g for g in range(posterior.shape[1]) if g != true_goal]
    for rank, g in enumerate(others + [true_goal]):
        line, marker, size = _STYLES[rank % len(_STYLES)]
        if g == true_goal:
            line, marker, size = "-", "o", 3.5
        ax.plot(
            steps,
            posterior[:, g],
            line,
            color=colors[g],
            lw=2.2 if g == true_goal else 1.8,
            marker=marker,
            ms=size,
            mfc=colors[g] if g == true_goal else "none",
            mew=1.5,
            zorder=2 + rank,
            label=f"gem {g}" + (" (true)" if g == true_goal else ""),
        )


def _plot(path, image, cell_size, cells, width, posterior, colors, true_goal):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax0, ax1) = plt.subplots(
        1,
        2,
        figsize=(12, 4.5),
        constrained_layout=True,
        gridspec_kw={"width_ratios": [1.1, 1]},
    )
    ax0.imshow(image)
    rows, cols = np.divmod(cells, width)
    ax0.plot((cols + 0.5) * cell_size, (rows + 0.5) * cell_size, "w-", lw=3)
    ax0.plot((cols + 0.5) * cell_size, (rows + 0.5) * cell_size, "k.-", lw=1.2)
    ax0.plot(
        (cols[0] + 0.5) * cell_size,
        (rows[0] + 0.5) * cell_size,
        "ko",
        ms=10,
        mfc="white",
        label="start",
    )
    ax0.set_title(f"the agent's path (true goal: gem {true_goal})")
    ax0.set_axis_off()
    _plot_posterior(ax1, posterior, colors, true_goal)
    ax1.set(
        xlabel="moves observed",
        ylabel="P(goal | moves)",
        ylim=(-0.02, 1.02),
        title="goal posterior (exact inverse planning, beta marginalised)",
    )
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.legend(loc="upper left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_goal_inference(
    out_dir: Path, seed: int, true_goal: int = 2, num_steps: int = 30
) -> GoalReport:
    """Simulate an agent, infer its goal after every move, write ``goal_inference.png``.

    Example:
        >>> run_goal_inference(Path("demo_output"), seed=0)  # doctest: +SKIP
    """
    from pinfer.agents import BoltzmannAgent, PlannerParams, StateGoal, rollout
    from pinfer.envs import make_gridworld, render_grid
    from pinfer.envs.render import GEM_COLORS
    from pinfer.inverse import infer_goals

    env, params = make_gridworld(LAYOUT, goals_terminal=False, max_steps=num_steps)
    world = env.tabular_mdp(params)
    goal_states = params.goal_cells
    agent = BoltzmannAgent(num_iterations=60)
    agent_params = PlannerParams(
        world,
        StateGoal(goal_states[true_goal], jnp.float32(GOAL_VALUE)),
        jnp.float32(BETA),
        jnp.float32(DISCOUNT),
    )
    traj = rollout(jax.random.key(seed), agent, agent_params, env, params, num_steps)
    # The agent's episode ends on its gem; the rest of the trajectory is padding.
    reached = np.asarray(traj.obs)[1:] == int(goal_states[true_goal])
    mask = np.asarray(traj.mask) & (np.cumsum(reached) - reached == 0)
    result = infer_goals(
        world,
        goal_states,
        jnp.array(BETA_GRID),
        DISCOUNT,
        traj.obs,
        traj.actions,
        jnp.asarray(mask),
        num_iterations=60,
        goal_value=GOAL_VALUE,
    )
    length = int(mask.sum())
    posterior = np.exp(np.asarray(result.log_goal_posterior))[: length + 1]
    cells = np.asarray(traj.obs)[: length + 1]
    cell_size = 32
    image = render_grid(params, cell=None, cell_size=cell_size)
    colors = [np.asarray(c) / 255.0 for c in GEM_COLORS[: posterior.shape[1]]]
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / "goal_inference.png"
    _plot(figure, image, cell_size, cells, env.width, posterior, colors, true_goal)
    return GoalReport(true_goal, posterior[-1], length, figure)
