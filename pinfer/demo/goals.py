"""Demo: infer which gem an agent is heading for, from its moves alone.

A Boltzmann-rational agent (beta = 2, discount 0.95, a cost of 1 per step, 10 for its
gem) walks towards one of three gems. After every move, exact Bayesian inverse
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
BETA, DISCOUNT, GOAL_VALUE, STEP_COST = 2.0, 0.95, 10.0, 1.0
BETA_GRID = (0.5, 1.0, 2.0, 4.0)


class GoalReport(NamedTuple):
    """What the goal-inference demo measured."""

    true_goal: int
    final_posterior: np.ndarray
    num_steps: int
    figure: Path


def _plot(path, image, cell_size, cells, width, posterior, colors, true_goal):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    steps = np.arange(posterior.shape[0])
    for g in range(posterior.shape[1]):
        style = "-" if g == true_goal else "--"
        ax1.plot(
            steps,
            posterior[:, g],
            style,
            color=colors[g],
            lw=2,
            label=f"gem {g}" + (" (true)" if g == true_goal else ""),
        )
    ax1.set(
        xlabel="moves observed",
        ylabel="P(goal | moves)",
        ylim=(-0.02, 1.02),
        title="goal posterior (exact inverse planning, beta marginalised)",
    )
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

    env, params = make_gridworld(
        LAYOUT, step_reward=0.0, goals_terminal=False, max_steps=num_steps
    )
    world = env.tabular_mdp(params)
    goal_states = params.goal_cells
    agent = BoltzmannAgent(num_iterations=60)
    agent_params = PlannerParams(
        world,
        StateGoal(
            goal_states[true_goal], jnp.float32(GOAL_VALUE), jnp.float32(STEP_COST)
        ),
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
        step_cost=STEP_COST,
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
