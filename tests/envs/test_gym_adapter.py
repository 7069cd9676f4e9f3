"""Gymnasium adapter and registration: check_env on every registered id, one-line
make, idempotent registration, reproducible seeding, parity with the pure env."""

import importlib
import subprocess
import sys

import gymnasium
import jax
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pinfer.envs
from pinfer.envs import ENV_IDS, GymnasiumEnv, make_gridworld, register_envs
from pinfer.envs import registration as registration_module


@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
def test_check_env_passes_for_every_registered_env(env_id, render_mode):
    # pytest turns every warning into an error, so this is also "warning-free".
    env = gymnasium.make(env_id, render_mode=render_mode)
    check_env(env.unwrapped)
    env.close()


def test_make_in_one_line_from_a_fresh_interpreter():
    code = (
        "import gymnasium, warnings; warnings.simplefilter('error');"
        "env = gymnasium.make('pinfer.envs:pinfer/GridWorld-v0',"
        " render_mode='rgb_array');"
        "obs, info = env.reset(seed=0); env.step(0); print(obs, env.render().shape)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "24"


def test_registration_is_idempotent():
    before = {k: v for k, v in gymnasium.registry.items() if k.startswith("pinfer/")}
    assert set(before) == set(ENV_IDS)
    assert register_envs() == []
    importlib.reload(registration_module)  # warnings are errors here
    importlib.reload(pinfer.envs)
    assert registration_module.register_envs() == []
    after = {k for k in gymnasium.registry if k.startswith("pinfer/")}
    assert after == set(before)


def rollout(env, seed, num_steps=30):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    observations = [obs]
    for _ in range(num_steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        observations.append(obs)
        if terminated or truncated:
            observations.append(env.reset()[0])
    return observations


def test_seeding_makes_episodes_reproducible():
    env = gymnasium.make("pinfer/GridWorldSlippery-v0", slip=0.5)
    assert rollout(env, 7) == rollout(env, 7)
    assert rollout(env, 7) != rollout(env, 8)


def test_adapter_agrees_with_the_pure_environment():
    text = "S..#G\n..r.R\n....G"
    env, params = make_gridworld(text, slip=0.3, max_steps=40)
    gym_env = GymnasiumEnv(env, params)
    step = jax.jit(env.step)
    obs, _ = gym_env.reset(seed=3)
    _, state = env.reset(jax.random.key(0), params)
    assert obs == int(env.state_index(state))
    actions = np.random.default_rng(0).integers(0, 4, size=40)
    for action in actions:
        # Replay the adapter's own key: the two must take identical steps.
        key = jax.random.split(gym_env._key)[1]
        expect = step(key, state, int(action), params)
        got = gym_env.step(action)
        state = expect[1]
        assert got[0] == int(expect[0]) and got[1] == float(expect[2])
        assert got[2] == bool(expect[3]) and got[3] == bool(expect[4])
        assert got[4] == {k: v.item() for k, v in expect[5]._asdict().items()}
        if got[2] or got[3]:
            break


def test_spaces_render_and_misuse():
    env = gymnasium.make("pinfer/DoorsKeysGems-v0", render_mode="rgb_array")
    assert env.observation_space == gymnasium.spaces.Discrete(80)
    assert env.action_space == gymnasium.spaces.Discrete(4)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (5 * 24, 8 * 24, 3)
    with pytest.raises(gymnasium.error.ResetNeeded):
        gymnasium.make("pinfer/GridWorld-v0").unwrapped.step(0)
    with pytest.raises(ValueError, match="not in the action space"):
        env.unwrapped.step(7)
    with pytest.raises(ValueError, match="render_mode='human' is not supported"):
        GymnasiumEnv(*make_gridworld("S.G"), render_mode="human")
    with pytest.raises(TypeError, match="AbstractEnvironment"):
        GymnasiumEnv(object(), None)
    custom = gymnasium.make("pinfer/GridWorld-v0", layout="S.G", allow_stay=True)
    assert custom.action_space.n == 5 and custom.observation_space.n == 3


@pytest.mark.parametrize("action", [7, -1, 1.5, "up", None])
def test_adapter_names_a_bad_action(action):
    env = GymnasiumEnv(*make_gridworld("S.G"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=rf"GymnasiumEnv.step: `action` .*{action!r}"):
        env.step(action)
    with pytest.raises(ValueError, match=r"0\.\.3 \(up, down, left, right\)"):
        env.step(action)
