"""GridWorld: the exact model against a NumPy reference, step against the model."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from tolerances import rounding_atol

from pinfer.envs import (
    LAYOUTS,
    GridWorld,
    make_gridworld,
    make_gridworld_batch,
    parse_layout,
)
from pinfer.planning import validate_mdp

KEYS_DOORS = """
    S.rR.G
    ##.#..
    b.B..G
"""
DELTAS = [(-1, 0), (1, 0), (0, -1), (0, 1), (0, 0)]


def env_fn(name):
    """Jit a GridWorld method with the (leafless) env as a pytree argument, so
    every env of one static configuration shares one compilation."""
    return jax.jit(lambda env, *args: getattr(env, name)(*args))


STEP = env_fn("step")
RESET = env_fn("reset")
MDP = env_fn("tabular_mdp")
STEP_ALL = jax.jit(
    lambda env, keys, states, actions, params: jax.vmap(
        env.step, in_axes=(0, 0, 0, None)
    )(keys, states, actions, params)
)


def reference_mdp(text, slip, step_reward, allow_stay, goals_terminal=True):
    """The model written out cell by cell in plain Python."""
    layout = parse_layout(text)
    height, width, colors = layout.height, layout.width, layout.num_colors
    num_cells, num_actions = height * width, 5 if allow_stay else 4
    num_states = num_cells * 2**colors
    goals = {r * width + c for r, c in layout.goals}
    transition = np.zeros((num_states, num_actions, num_states))
    reward = np.full((num_states, num_actions), step_reward)
    terminal = np.zeros(num_states, dtype=bool)

    def successor(cell, inv, action):
        if goals_terminal and cell in goals:
            return cell, inv
        r, c = divmod(cell, width)
        r2, c2 = r + DELTAS[action][0], c + DELTAS[action][1]
        if not (0 <= r2 < height and 0 <= c2 < width) or layout.walls[r2, c2]:
            return cell, inv
        door = layout.door_color[r2, c2]
        if door >= 0 and not (inv >> door) & 1:
            return cell, inv
        key = layout.key_color[r2, c2]
        return r2 * width + c2, inv | (1 << key) if key >= 0 else inv

    for inv in range(2**colors):
        for cell in range(num_cells):
            s = inv * num_cells + cell
            terminal[s] = goals_terminal and cell in goals
            if terminal[s]:
                reward[s] = 0.0
            for a in range(num_actions):
                c2, i2 = successor(cell, inv, a)
                transition[s, a, i2 * num_cells + c2] += 1 - slip
                for b in range(num_actions):
                    c2, i2 = successor(cell, inv, b)
                    transition[s, a, i2 * num_cells + c2] += slip / num_actions
    return transition, reward, terminal


@pytest.mark.parametrize(
    ("text", "slip", "allow_stay", "goals_terminal"),
    [
        (LAYOUTS["gems"], 0.0, False, True),
        (LAYOUTS["gems"], 0.3, True, False),
        (LAYOUTS["doors_keys_gems"], 0.1, False, True),
        (KEYS_DOORS, 0.25, True, True),
    ],
    ids=["gems", "gems-slip-stay-nonterminal", "doors-keys-gems", "two-colours"],
)
def test_tabular_mdp_equals_reference(text, slip, allow_stay, goals_terminal):
    env, params = make_gridworld(
        text,
        slip=slip,
        step_reward=-0.5,
        allow_stay=allow_stay,
        goals_terminal=goals_terminal,
    )
    mdp = validate_mdp(MDP(env, params))
    transition, reward, terminal = reference_mdp(
        text, slip, -0.5, allow_stay, goals_terminal
    )
    assert mdp.transition.shape == transition.shape
    # Entries <= 1 built in float32 from a mean over A actions, a product and a sum
    # (A + 3 roundings) plus the rounding of slip itself, against float64.
    atol = rounding_atol(num_ops=env.num_actions + 4, scale=1.0)
    np.testing.assert_allclose(mdp.transition, transition, atol=atol)
    np.testing.assert_allclose(mdp.reward, reward)
    np.testing.assert_array_equal(mdp.terminal, terminal)


def all_pairs(env):
    states = env.state_from_index(
        jnp.repeat(jnp.arange(env.num_states), env.num_actions)
    )
    actions = jnp.tile(jnp.arange(env.num_actions), env.num_states)
    return states, actions


@pytest.mark.parametrize(
    "text", [LAYOUTS["doors_keys_gems"], KEYS_DOORS], ids=["doors-keys-gems", "two"]
)
def test_step_agrees_with_model_exactly_without_slip(text):
    env, params = make_gridworld(text, step_reward=-1.0)
    mdp = MDP(env, params)
    states, actions = all_pairs(env)
    keys = jax.random.split(jax.random.key(0), actions.shape[0])
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    obs, new, reward, terminated, _, info = jax.jit(step)(keys, states, actions, params)
    s = env.state_index(states)
    row = mdp.transition[s, actions]
    np.testing.assert_array_equal(row[jnp.arange(s.shape[0]), obs], 1.0)
    np.testing.assert_array_equal(obs, env.state_index(new))
    np.testing.assert_array_equal(reward, mdp.reward[s, actions])
    np.testing.assert_array_equal(terminated, mdp.terminal[obs])
    np.testing.assert_array_equal(info.goal >= 0, mdp.terminal[obs])
    assert not info.slipped.any()


def test_random_rollout_follows_the_model():
    """Sampling the model along a rollout of `step` under random actions."""
    env, params = make_gridworld(KEYS_DOORS, allow_stay=True, max_steps=1000)
    mdp = MDP(env, params)

    def body(state, key):
        key_action, key_step = jax.random.split(key)
        action = jax.random.randint(key_action, (), 0, env.num_actions)
        obs, new, *_ = env.step(key_step, state, action, params)
        return new, (env.state_index(state), action, obs)

    _, start = env.reset(jax.random.key(0), params)
    keys = jax.random.split(jax.random.key(1), 400)
    _, (s, a, s2) = jax.jit(lambda st: jax.lax.scan(body, st, keys))(start)
    np.testing.assert_array_equal(mdp.transition[s, a, s2], 1.0)
    assert len(np.unique(s)) > 5  # it wandered


def test_slip_frequencies_match_the_model():
    """Chi-square of next-state counts from `step` against the model's rows."""
    env, params = make_gridworld(KEYS_DOORS, slip=0.4)
    mdp = MDP(env, params)
    num_draws = 2000
    stat, dof = 0.0, 0
    for index, action in [(1, 3), (8, 0), (16, 1), (6 * 3 + 10, 2)]:
        state = env.state_from_index(jnp.full(num_draws, index))
        keys = jax.random.split(jax.random.key(index), num_draws)
        obs = STEP_ALL(env, keys, state, jnp.full(num_draws, action), params)[0]
        probs = np.asarray(mdp.transition[index, action], dtype=np.float64)
        counts = np.bincount(np.asarray(obs), minlength=env.num_states)
        support = probs > 0
        assert counts[~support].sum() == 0
        expected = num_draws * probs[support]
        stat += ((counts[support] - expected) ** 2 / expected).sum()
        dof += support.sum() - 1
    assert dof >= 8
    assert stats.chi2.sf(stat, dof) > 1e-3


def test_keys_open_doors_of_their_colour_and_are_kept():
    env, params = make_gridworld(KEYS_DOORS, max_steps=50)
    _, state = RESET(env, jax.random.key(0), params)
    key = jax.random.key(1)
    right, left, down, up = 3, 2, 1, 0

    def walk(state, actions):
        for action in actions:
            obs, state, *_ = STEP(env, key, state, action, params)
        return state

    state = walk(state, [right])
    assert int(state.cell) == 1 and int(state.inventory) == 0
    state = walk(state, [right])  # picks up the red key
    assert int(state.cell) == 2 and int(state.inventory) == 1
    state = walk(state, [right, right])  # through the red door
    assert int(state.cell) == 4
    state = walk(state, [left, left, right, right])  # the key is kept
    assert int(state.cell) == 4 and int(state.inventory) == 1
    # The blue door at (2, 2) stays shut: its key (2, 0) is not held.
    state = walk(state, [down, down, left, left])
    assert tuple(env.position_of(env.state_index(state)).tolist()) == (2, 3)
    # Without the key, the red door is a wall.
    _, state = RESET(env, jax.random.key(0), params)
    state = state._replace(cell=jnp.int32(2))  # on the key cell, holding nothing
    state = walk(state, [right])
    assert int(state.cell) == 2 and int(state.inventory) == 0
    state = walk(state, [down, up])  # re-entering the key cell picks the key up
    assert int(state.inventory) == 1 and int(walk(state, [right]).cell) == 3


def test_goal_terminates_then_absorbs_and_time_truncates():
    env, params = make_gridworld("S.G", max_steps=3)
    _, state = RESET(env, jax.random.key(0), params)
    out = STEP(env, jax.random.key(1), state, 3, params)
    assert not out[3] and not out[4] and int(out[5].goal) == -1
    out = STEP(env, jax.random.key(1), out[1], 3, params)
    assert bool(out[3]) and int(out[5].goal) == 0 and float(out[2]) == -1.0
    out = STEP(env, jax.random.key(1), out[1], 2, params)  # absorbing, no reward
    assert int(out[0]) == 2 and float(out[2]) == 0.0 and bool(out[3]) and bool(out[4])
    env, params = make_gridworld("S.G", goals_terminal=False)
    _, state = RESET(env, jax.random.key(0), params)
    for _ in range(2):
        obs, state, reward, terminated, *_ = STEP(
            env, jax.random.key(1), state, 3, params
        )
    assert int(obs) == 2 and not terminated and not MDP(env, params).terminal.any()


def test_batch_of_layouts_and_keys_is_one_vmap():
    layouts = [
        LAYOUTS["doors_keys_gems"],
        LAYOUTS["gems"],
        LAYOUTS["gems"].replace("S.#..#..", "..#..#.S"),
    ]
    env, batch = make_gridworld_batch(layouts, slip=0.2)
    assert env.num_goals == 3 and env.num_colors == 1
    assert batch.walls.shape == (3, 5, 8) and batch.goal_cells.shape == (3, 3)
    mdps = jax.jit(jax.vmap(env.tabular_mdp))(batch)
    keys = jax.random.split(jax.random.key(3), 3)
    obs0, states = jax.vmap(env.reset)(keys, batch)
    actions = jnp.array([1, 3, 2])
    out = jax.jit(jax.vmap(env.step))(keys, states, actions, batch)
    for i, text in enumerate(layouts):
        one = env.make_params(text, slip=0.2)
        np.testing.assert_array_equal(mdps.transition[i], MDP(env, one).transition)
        obs, state = RESET(env, keys[i], one)
        single = STEP(env, keys[i], state, actions[i], one)
        assert int(obs0[i]) == int(obs) and int(out[0][i]) == int(single[0])
    # Padding: the batch env tracks one key colour, so every layout has 80 states.
    assert mdps.transition.shape == (3, 80, 4, 80)


def test_step_compiles_once_per_shape():
    traces = []

    @jax.jit
    def step(key, state, action, params):
        traces.append(None)
        return env.step(key, state, action, params)

    env, first = make_gridworld(LAYOUTS["gems"])
    second = env.make_params(LAYOUTS["gems"].replace("G...#", "....#"), slip=0.5)
    for params in (first, second, first):
        _, state = RESET(env, jax.random.key(0), params)
        step(jax.random.key(0), state, 1, params)
    assert len(traces) == 1


def test_indexing_helpers_round_trip():
    env = GridWorld(height=3, width=6, num_goals=2, num_colors=2)
    index = jnp.arange(env.num_states)
    state = env.state_from_index(index)
    np.testing.assert_array_equal(env.state_index(state), index)
    rows, cols = env.position_of(index).T
    np.testing.assert_array_equal(rows * 6 + cols, index % 18)
    assert env.num_states == 18 * 4
    _, params = make_gridworld(KEYS_DOORS)
    mask = env.goal_state_mask(params)
    assert mask.shape == (2, 72) and mask.sum() == 8
    np.testing.assert_array_equal(jnp.nonzero(mask[0])[0] % 18, 5)


def test_model_is_differentiable_in_slip_and_step_reward():
    env, params = make_gridworld(KEYS_DOORS, slip=0.2, step_reward=-0.5)

    def loss(params):
        mdp = env.tabular_mdp(params)
        return mdp.transition[1, 3, 20] + 2 * mdp.reward[1, 3]

    grads = eqx.filter_jit(eqx.filter_grad(loss))(params)
    # transition[1, 3, 20] = (1 - slip) + slip / 4, so d/dslip = -1 + 4 / 16: a sum
    # of one-hot entries over a power-of-two count, exact in float32 (as is 2.0).
    np.testing.assert_array_equal(grads.slip, -0.75)
    np.testing.assert_array_equal(grads.step_reward, 2.0)


def test_float64_model_and_rewards():
    with jax.enable_x64(True):
        env, params = make_gridworld(KEYS_DOORS, slip=0.1, step_reward=-0.1)
        mdp = env.tabular_mdp(params)
        assert mdp.transition.dtype == jnp.float64 and mdp.reward.dtype == jnp.float64
        # Rows of S entries <= 1, each from A + 4 roundings, summed in float64.
        ops = env.num_states + env.num_actions + 4
        atol = rounding_atol(num_ops=ops, scale=1.0, dtype=np.float64)
        np.testing.assert_allclose(mdp.transition.sum(-1), 1.0, atol=atol)
        _, state = env.reset(jax.random.key(0), params)
        reward = env.step(jax.random.key(0), state, 0, params)[2]
        assert reward.dtype == jnp.float64


def test_bad_parameters_raise():
    env, _ = make_gridworld("S.G")
    with pytest.raises(ValueError, match="layout is 2x3 but this GridWorld is 1x3"):
        env.make_params("S.G\n...")
    with pytest.raises(ValueError, match="at most 1 and 0"):
        env.make_params("SGG")
    with pytest.raises(ValueError, match="one grid size"):
        make_gridworld_batch(["S.G", "S.G\n..."])
