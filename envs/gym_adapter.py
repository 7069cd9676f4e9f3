"""A thin ``gymnasium.Env`` around any pinfer environment.

The adapter holds one ``(env, params)`` pair, the current state and a JAX key, and
calls the jitted pure functions::

    reset(seed)  ->  np_random seeded by Gymnasium; key <- 64 random bits of np_random
                     obs, state = env.reset(key_reset, params)
    step(action) ->  key, key_step = split(key)
                     obs, state, ... = env.step(key_step, state, action, params)

so ``reset(seed=s)`` makes the whole episode reproducible, as Gymnasium's checker
requires. Outputs are converted to Python scalars (``int`` observations for a
``Discrete`` space, ``float`` rewards, ``bool`` flags) and ``info`` to a ``dict``.
``GridWorldGymEnv`` builds the pair from a layout; it is what ``pinfer/GridWorld-v0``
makes.
"""

from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from pinfer.envs.base import AbstractEnvironment
from pinfer.envs.builders import make_gridworld
from pinfer.envs.layouts import LAYOUTS, Layout
from pinfer.types import ArrayTree
from pinfer.validation import check_type

__all__ = ["GridWorldGymEnv", "GymnasiumEnv"]


def _to_python(tree: Any) -> Any:
    if hasattr(tree, "_asdict"):
        return {name: _to_python(value) for name, value in tree._asdict().items()}
    if isinstance(tree, dict):
        return {name: _to_python(value) for name, value in tree.items()}
    value = np.asarray(tree)
    return value.item() if value.ndim == 0 else value


class GymnasiumEnv(gymnasium.Env):
    """Gymnasium view of a pinfer environment (no auto-reset, like Gymnasium's own).

    Args:
        env: a pinfer environment (``AbstractEnvironment``).
        params: one (unbatched) parameter pytree of ``env``.
        render_mode: ``None`` or ``"rgb_array"``.

    Example:
        >>> env, params = make_gridworld("S..G")
        >>> gym_env = GymnasiumEnv(env, params, render_mode="rgb_array")
        >>> obs, info = gym_env.reset(seed=0)
        >>> gym_env.step(3)[:4]
        (1, -1.0, False, False)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        env: AbstractEnvironment,
        params: ArrayTree,
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"GymnasiumEnv: render_mode={render_mode!r} is not supported; choose "
                f"one of {self.metadata['render_modes']} or None."
            )
        check_type(
            env,
            "env",
            AbstractEnvironment,
            where="GymnasiumEnv",
            hint="It wraps a pinfer environment such as GridWorld.",
        )
        env.check_params(params, "GymnasiumEnv")
        self.env = env
        self.params = params
        self.render_mode = render_mode
        self.observation_space = env.observation_space(params)
        self.action_space = env.action_space(params)
        self._reset_fn = jax.jit(env.reset)
        self._step_fn = jax.jit(env.step)
        self._key = None
        self._state = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        bits = self.np_random.integers(0, 2**32, size=2, dtype=np.uint32)
        self._key, key_reset = jax.random.split(jax.random.wrap_key_data(bits))
        obs, self._state = self._reset_fn(key_reset, self.params)
        return _to_python(obs), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise gymnasium.error.ResetNeeded(
                "Call reset() before step() on a pinfer Gymnasium environment."
            )
        if isinstance(action, (bool, np.bool_)) or not self.action_space.contains(
            action
        ):
            names = getattr(self.env, "action_names", None)
            shown = f" ({', '.join(names)})" if names else ""
            raise ValueError(
                f"GymnasiumEnv.step: `action` must be an action in "
                f"0..{self.action_space.n - 1}{shown}, got {action!r}; it is not in "
                f"the action space {self.action_space}."
            )
        self._key, key_step = jax.random.split(self._key)
        action = jnp.asarray(int(action), dtype=jnp.int32)
        obs, self._state, reward, terminated, truncated, info = self._step_fn(
            key_step, self._state, action, self.params
        )
        return (
            _to_python(obs),
            float(reward),
            bool(terminated),
            bool(truncated),
            _to_python(info),
        )

    def render(self) -> np.ndarray | None:
        """The current state as an RGB ``uint8`` image (``render_mode="rgb_array"``);
        None without a render mode."""
        if self.render_mode is None or self._state is None:
            return None
        return self.env.render(self._state, self.params)


class GridWorldGymEnv(GymnasiumEnv):
    """``pinfer/GridWorld-v0``: a ``GridWorld`` built from an ASCII layout.

    Args:
        render_mode: ``None`` or ``"rgb_array"``.
        layout: ASCII layout (legend in ``pinfer.envs.layouts``); by default
            ``LAYOUTS["gems"]``.
        slip, step_reward, max_steps, goals_terminal, allow_stay: see
            ``make_gridworld``.

    Example:
        >>> import gymnasium
        >>> env = gymnasium.make("pinfer.envs:pinfer/GridWorld-v0", slip=0.1)
        >>> obs, info = env.reset(seed=0)
    """

    def __init__(
        self,
        render_mode: str | None = None,
        layout: str | Layout = LAYOUTS["gems"],
        slip: float = 0.0,
        step_reward: float = -1.0,
        max_steps: int = 100,
        goals_terminal: bool = True,
        allow_stay: bool = False,
    ):
        env, params = make_gridworld(
            layout,
            slip=slip,
            step_reward=step_reward,
            max_steps=max_steps,
            goals_terminal=goals_terminal,
            allow_stay=allow_stay,
        )
        super().__init__(env, params, render_mode=render_mode)
