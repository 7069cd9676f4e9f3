"""Worlds without goals: no placeholder 'G' needed, and every part of the env works
with ``num_goals = 0``."""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.utils.env_checker import check_env

from pinfer.envs import (
    GridWorld,
    GridWorldGymEnv,
    from_gymnasium,
    make_gridworld,
    make_gridworld_batch,
    parse_layout,
    render_grid,
)

OPEN = "S..\n.#."


def test_a_layout_needs_no_goal():
    layout = parse_layout(OPEN)
    assert layout.goals == () and layout.start == (0, 0)


def test_a_goal_free_world_steps_and_has_a_model():
    env, params = make_gridworld(OPEN, max_steps=3)
    assert env.num_goals == 0 and params.goal_cells.shape == (0,)
    obs, state = env.reset(jax.random.key(0), params)
    out = jax.jit(env.step)(jax.random.key(1), state, 3, params)
    assert int(out[0]) == 1 and float(out[2]) == -1.0 and not bool(out[3])
    assert int(out[5].goal) == -1
    mdp = jax.jit(env.tabular_mdp)(params)
    assert not mdp.terminal.any() and bool(jnp.all(mdp.reward == -1.0))
    np.testing.assert_array_equal(mdp.transition.sum(-1), 1.0)
    assert env.goal_state_mask(params).shape == (0, env.num_states)
    assert render_grid(params, cell=0, cell_size=8).shape == (16, 24, 3)
    assert GridWorld(height=2, width=3, num_goals=0).num_states == 6


def test_goal_free_layouts_batch_with_others():
    env, batch = make_gridworld_batch([OPEN, "S.G\n.#."])
    assert env.num_goals == 1
    assert batch.goal_valid.tolist() == [[False], [True]]
    masks = jax.vmap(env.goal_state_mask)(batch)
    assert int(masks[0].sum()) == 0 and int(masks[1].sum()) == 1


def test_a_goal_free_world_passes_gymnasiums_checker():
    wrapped = gymnasium.make(
        "pinfer/GridWorld-v0", layout=OPEN, render_mode="rgb_array"
    )
    assert isinstance(wrapped.unwrapped, GridWorldGymEnv)
    check_env(wrapped.unwrapped)
    env, params = make_gridworld(OPEN)
    np.testing.assert_array_equal(
        from_gymnasium(wrapped).transition, env.tabular_mdp(params).transition
    )
