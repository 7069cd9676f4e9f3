"""The environment contract: gymnax-style, pure, with parameters as a pytree.

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action,
                                                               params)

An environment object holds only static configuration (shapes, counts) and is an
``eqx.Module`` whose fields are all static, so ``jax.jit(env.step)`` traces once per
shape. Everything a user may batch, vary or fit over (a layout, a slip probability)
lives in ``params``, a pytree: a batch of layouts of one shape is one ``vmap``.

There is no auto-reset inside ``step``: the caller decides what to do when
``terminated`` or ``truncated`` is True (a rollout that should continue calls
``reset`` and selects with ``jnp.where``). ``terminated`` (the MDP reached a terminal
state) and ``truncated`` (a time limit) are kept apart, as in Gymnasium.

Tabular environments also expose their exact model, ``tabular_mdp(params) ->
TabularMDP``, with ``obs`` equal to the row of that model's state.
(Design after gymnax, Lange 2022, ``gymnax/environments/environment.py``.)
"""

import abc
from typing import Any

import equinox as eqx
import gymnasium
import numpy as np

from pinfer.types import Array, ArrayTree, Bool, Float, PRNGKey

__all__ = ["AbstractEnvironment"]


class AbstractEnvironment(eqx.Module):
    """Base of pinfer environments: pure ``reset`` and ``step``; static config only.

    Subclasses implement ``reset``, ``step``, ``num_actions``, ``observation_space``
    and ``render``. ``GymnasiumEnv`` turns any of them into a ``gymnasium.Env``.

    Example:
        >>> env, params = make_gridworld("S.G")
        >>> isinstance(env, AbstractEnvironment)
        True
    """

    @abc.abstractmethod
    def reset(self, key: PRNGKey, params: ArrayTree) -> tuple[Array, Any]:
        """Start an episode: ``(obs, state)``."""

    @abc.abstractmethod
    def step(
        self, key: PRNGKey, state: Any, action: Array, params: ArrayTree
    ) -> tuple[Array, Any, Float[Array, ""], Bool[Array, ""], Bool[Array, ""], Any]:
        """One transition: ``(obs, state, reward, terminated, truncated, info)``."""

    @property
    @abc.abstractmethod
    def num_actions(self) -> int:
        """Number of discrete actions ``A`` (actions are ``0 .. A-1``)."""

    @abc.abstractmethod
    def observation_space(self, params: ArrayTree) -> gymnasium.spaces.Space:
        """The Gymnasium space of one observation."""

    def action_space(self, params: ArrayTree) -> gymnasium.spaces.Space:
        """The Gymnasium space of one action: ``Discrete(num_actions)``."""
        return gymnasium.spaces.Discrete(self.num_actions)

    @abc.abstractmethod
    def render(self, state: Any, params: ArrayTree) -> np.ndarray:
        """An RGB image ``[height, width, 3]`` (uint8) of ``state``."""

    def check_params(self, params: ArrayTree, where: str = "") -> None:
        """Raise unless ``params`` fits this environment (the default accepts
        anything; environments with a parameter type override it)."""
