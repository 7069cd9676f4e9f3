"""Bad inputs to the grid world: named errors for concrete values, loud failures
under jit, never a plausible state."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinfer.envs import GridParams, GridState, GridWorld, make_gridworld, parse_layout

# Under jax.jit the runtime error arrives as a ValueError or JaxRuntimeError (a
# RuntimeError) around the message; under eqx.filter_jit as EquinoxRuntimeError.
RUNTIME_ERRORS = (ValueError, RuntimeError, eqx.EquinoxRuntimeError)


@pytest.fixture(scope="module")
def world():
    env, params = make_gridworld("S..\n.#G")
    _, state = env.reset(jax.random.key(0), params)
    return env, params, state


@pytest.mark.parametrize("action", [4, -1, 7, np.int64(4), jnp.int32(5)])
def test_step_refuses_an_action_outside_the_range(world, action):
    env, params, state = world
    with pytest.raises(ValueError, match=rf"`action`.*{int(action)}.*0\.\.3"):
        env.step(jax.random.key(1), state, action, params)


def test_stay_is_an_action_only_where_allowed():
    env, params = make_gridworld("S.G", allow_stay=True)
    _, state = env.reset(jax.random.key(0), params)
    assert int(env.step(jax.random.key(1), state, 4, params)[0]) == 0
    with pytest.raises(ValueError, match=r"`action`.*5.*0\.\.4"):
        env.step(jax.random.key(1), state, 5, params)


def test_step_refuses_float_and_batched_actions(world):
    env, params, state = world
    with pytest.raises(TypeError, match="`action`.*float"):
        env.step(jax.random.key(1), state, 1.0, params)
    with pytest.raises(ValueError, match="`action`.*shape"):
        env.step(jax.random.key(1), state, jnp.array([0, 1]), params)


def test_step_under_jit_fails_loudly_on_a_bad_action(world):
    env, params, state = world
    step = jax.jit(env.step)
    assert int(step(jax.random.key(1), state, 3, params)[0]) == 1
    for action in (4, -1):
        with pytest.raises(RUNTIME_ERRORS, match="action"):
            jax.block_until_ready(step(jax.random.key(1), state, action, params))
    # One bad action in a vmapped batch is enough.
    keys = jax.random.split(jax.random.key(2), 3)
    states = jax.tree.map(lambda x: jnp.stack([x] * 3), state)
    batch = eqx.filter_jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    with pytest.raises(eqx.EquinoxRuntimeError, match="action"):
        jax.block_until_ready(batch(keys, states, jnp.array([0, 9, 1]), params))


def test_step_refuses_a_state_that_is_not_in_the_world(world):
    env, params, state = world
    with pytest.raises(ValueError, match="`state.cell`.*17"):
        env.step(jax.random.key(1), state._replace(cell=jnp.int32(17)), 0, params)
    with pytest.raises(ValueError, match="`state.inventory`.*1"):
        env.step(jax.random.key(1), state._replace(inventory=jnp.int32(1)), 0, params)
    with pytest.raises(ValueError, match="`state.time`.*-1"):
        env.step(jax.random.key(1), state._replace(time=jnp.int32(-1)), 0, params)
    with pytest.raises(TypeError, match="`state.time`.*float"):
        env.step(jax.random.key(1), state._replace(time=jnp.float32(0)), 0, params)
    with pytest.raises(TypeError, match="`state`.*GridState"):
        env.step(jax.random.key(1), 0, 0, params)
    step = jax.jit(env.step)
    with pytest.raises(RUNTIME_ERRORS, match="cell"):
        jax.block_until_ready(
            step(jax.random.key(1), state._replace(cell=jnp.int32(-3)), 0, params)
        )


@pytest.mark.parametrize("method", ["reset", "step"])
@pytest.mark.parametrize("key", [0, None, 1.5])
def test_reset_and_step_check_their_key(world, method, key):
    env, params, state = world
    args = (params,) if method == "reset" else (state, 0, params)
    with pytest.raises(TypeError, match=rf"GridWorld.{method}: `key`.*jax.random.key"):
        getattr(env, method)(key, *args)


def test_reset_and_step_check_their_params(world):
    env, params, state = world
    with pytest.raises(TypeError, match="`params`.*GridParams"):
        env.reset(jax.random.key(0), {"walls": params.walls})
    other, other_params = make_gridworld("S.G")
    with pytest.raises(ValueError, match=r"`params.walls`.*\[2, 3\].*\[1, 3\]"):
        env.step(jax.random.key(0), state, 0, other_params)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"slip": 1.5}, ValueError, r"`slip`.*\[0.0, 1.0\].*1.5"),
        ({"slip": -0.1}, ValueError, r"`slip`.*-0.1"),
        ({"slip": float("nan")}, ValueError, r"`slip`.*nan"),
        ({"step_reward": float("nan")}, ValueError, r"`step_reward`.*nan"),
        ({"step_reward": float("inf")}, ValueError, r"`step_reward`.*inf"),
        ({"max_steps": 0}, ValueError, r"`max_steps`.*>= 1.*0"),
        ({"max_steps": 2.5}, TypeError, r"`max_steps`.*2.5"),
        ({"goals_terminal": "yes"}, TypeError, r"`goals_terminal`.*'yes'"),
        ({"allow_stay": 1.0}, TypeError, r"`allow_stay`.*1.0"),
    ],
)
def test_make_gridworld_names_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_gridworld("S.G", **kwargs)


def test_make_params_names_bad_parameters():
    env = GridWorld(height=1, width=3, num_goals=1)
    with pytest.raises(ValueError, match=r"GridWorld.make_params: `slip`.*2.0"):
        env.make_params("S.G", slip=2.0)
    with pytest.raises(TypeError, match=r"`layout`.*str or Layout.*int"):
        env.make_params(3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"height": 0}, ValueError, r"`height`.*>= 1.*0"),
        ({"width": 2.0}, TypeError, r"`width`.*2.0"),
        ({"num_goals": -1}, ValueError, r"`num_goals`.*>= 0.*-1"),
        ({"num_colors": 5}, ValueError, r"`num_colors`.*0\.\.4.*5"),
        ({"allow_stay": "no"}, TypeError, r"`allow_stay`.*'no'"),
    ],
)
def test_gridworld_names_bad_configuration(kwargs, error, match):
    config = {"height": 2, "width": 2, "num_goals": 1} | kwargs
    with pytest.raises(error, match=match):
        GridWorld(**config)


def good_fields():
    _, params = make_gridworld("S..\n.#G")
    return {name: getattr(params, name) for name in GridParams.__dataclass_fields__}


@pytest.mark.parametrize(
    ("field", "value", "error", "match"),
    [
        ("walls", jnp.zeros((2, 3), jnp.int32), TypeError, "`walls`.*bool"),
        ("walls", jnp.zeros(6, bool), ValueError, "`walls`.*dimension"),
        ("door_color", jnp.zeros((3, 3), jnp.int32), ValueError, r"`door_color`.*3"),
        ("door_color", jnp.full((2, 3), 7), ValueError, "`door_color`.*7"),
        ("key_color", jnp.full((2, 3), 0.0), TypeError, "`key_color`.*float"),
        ("start", jnp.int32(4), ValueError, "`start`.*4.*wall"),
        ("start", jnp.int32(6), ValueError, r"`start`.*6.*0\.\.5"),
        ("start", jnp.array([0, 1]), ValueError, "`start`.*shape"),
        ("goal_cells", jnp.array([9]), ValueError, r"`goal_cells`.*9.*0\.\.5"),
        ("goal_cells", jnp.array([4]), ValueError, r"`goal_cells`.*4.*wall"),
        ("goal_cells", jnp.array([5, 2]), ValueError, r"`goal_valid`.*\[2\].*\[1\]"),
        ("goal_cells", jnp.array([5.0]), TypeError, "`goal_cells`.*float"),
        ("goal_valid", jnp.array([1]), TypeError, "`goal_valid`.*bool"),
        ("slip", jnp.float32(jnp.nan), ValueError, r"`slip`.*nan"),
        ("slip", jnp.float32(-1.0), ValueError, r"`slip`.*-1.0"),
        ("slip", jnp.int32(0), TypeError, "`slip`.*floating"),
        ("step_reward", jnp.float32(jnp.inf), ValueError, "`step_reward`.*inf"),
        ("max_steps", jnp.int32(0), ValueError, "`max_steps`.*0"),
        ("goals_terminal", jnp.float32(1.0), TypeError, "`goals_terminal`.*bool"),
    ],
)
def test_grid_params_name_bad_fields(field, value, error, match):
    fields = good_fields() | {field: value}
    with pytest.raises(error, match=match):
        GridParams(**fields)


def test_grid_params_built_inside_jit_check_shapes_only():
    fields = good_fields()

    @jax.jit
    def build(slip):
        return GridParams(**fields | {"slip": slip}).slip

    assert float(build(0.25)) == 0.25


def test_padding_goals_may_hold_minus_one_only():
    fields = good_fields()
    padded = fields | {
        "goal_cells": jnp.array([5, -1]),
        "goal_valid": jnp.array([True, False]),
    }
    assert GridParams(**padded).goal_cells.tolist() == [5, -1]
    with pytest.raises(ValueError, match="`goal_cells`.*-2"):
        GridParams(**padded | {"goal_cells": jnp.array([5, -2])})


def test_parse_layout_names_what_it_was_given():
    with pytest.raises(TypeError, match="`text`.*int"):
        parse_layout(7)
    with pytest.raises(TypeError, match="`check_reachable`.*'no'"):
        parse_layout("S.G", check_reachable="no")


def test_step_on_a_good_state_is_unchanged_by_the_checks(world):
    env, params, state = world
    obs, new, reward, terminated, truncated, info = env.step(
        jax.random.key(1), state, 1, params
    )
    assert int(obs) == 3 and float(reward) == -1.0 and isinstance(new, GridState)
    assert not bool(terminated) and not bool(truncated) and int(info.goal) == -1


def test_the_model_checks_its_params(world):
    env, _, _ = world
    _, other = make_gridworld("S.G")
    for method in ("tabular_mdp", "goal_state_mask", "successor_table"):
        with pytest.raises(ValueError, match=r"`params.walls`.*\[2, 3\]"):
            getattr(env, method)(other)
