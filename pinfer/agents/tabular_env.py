"""An environment that samples a :class:`TabularMDP`: simulate agents in any model.

Planners and inverse planners work on a ``TabularMDP`` (from a pinfer environment's
``tabular_mdp(params)``, from ``pinfer.envs.from_gymnasium``, or built by hand). To
simulate behaviour in such a model without the environment that produced it,
``TabularEnv`` steps the model itself, gymnax-style::

    reset:  s_0 ~ initial
    step:   if terminal[s]: stay in s, reward 0                 (absorbing)
            else: s' ~ transition[s, a, :],  reward = reward[s, a]
            terminated = terminal[s'];  truncated = time >= max_steps

The observation is the state index, as for tabular pinfer environments. Rewards are
the model's expected rewards (a tabular MDP stores no reward noise).
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from pinfer.planning import TabularMDP
from pinfer.types import Array, Bool, Float, Int, PRNGKey
from pinfer.validation import (
    check_array,
    check_indices,
    check_key,
    check_range,
    check_static_int,
    check_type,
    error_unless,
    traced_in_range,
)

__all__ = ["TabularEnv", "TabularEnvParams", "TabularEnvState", "make_tabular_env"]

_NO_LIMIT = 2**31 - 1


class TabularEnvParams(eqx.Module):
    """The model to sample and how episodes start and stop (all dynamic leaves).

    Attributes:
        mdp: the ``TabularMDP``.
        initial: ``[S]`` probabilities of the initial state.
        max_steps: ``[]`` int32 steps before ``truncated`` (default: no limit).
    """

    mdp: TabularMDP
    initial: Float[Array, "S"] = eqx.field(converter=jnp.asarray)
    max_steps: Int[Array, ""] = eqx.field(converter=jnp.asarray, default=_NO_LIMIT)

    def __check_init__(self):
        where = "TabularEnvParams"
        check_type(self.mdp, "mdp", TabularMDP, where=where)
        num_states = self.mdp.transition.shape[-1]
        check_array(
            self.initial,
            "initial",
            where=where,
            shape=(num_states,),
            dtype="float",
            hint="Initial-state probabilities, one per state of the MDP.",
        )
        check_range(self.initial, "initial", where=where, low=0.0, high=1.0)
        check_array(self.max_steps, "max_steps", where=where, ndim=0, dtype="int")
        check_range(self.max_steps, "max_steps", where=where, low=1)


class TabularEnvState(NamedTuple):
    """The current ``state`` index and the ``time`` (steps taken)."""

    state: Int[Array, ""]
    time: Int[Array, ""]


class TabularEnv(eqx.Module):
    """Samples a ``TabularMDP`` (see the module docstring); no static fields.

    Example:
        >>> env, params = make_tabular_env(TabularMDP(
        ...     jnp.eye(2)[jnp.array([[0, 1], [1, 1]])], jnp.ones((2, 2)),
        ...     jnp.array([False, True])), start=0)
        >>> obs, state = env.reset(jax.random.key(0), params)
        >>> obs, state, reward, terminated, truncated, info = env.step(
        ...     jax.random.key(1), state, 1, params)
        >>> int(obs), float(reward), bool(terminated)
        (1, 1.0, True)
    """

    def reset(
        self, key: PRNGKey, params: TabularEnvParams
    ) -> tuple[Int[Array, ""], TabularEnvState]:
        """Draw ``s_0 ~ initial``: ``(obs, state)`` with ``obs = s_0``.

        Example:
            >>> env, params = make_tabular_env(TabularMDP(jnp.ones((3, 1, 3)) / 3,
            ...     jnp.zeros((3, 1)), jnp.zeros(3, bool)), start=2)
            >>> int(env.reset(jax.random.key(0), params)[0])
            2
        """
        check_key(key, where="TabularEnv.reset")
        start = jax.random.categorical(key, jnp.log(params.initial)).astype(jnp.int32)
        return start, TabularEnvState(start, jnp.zeros((), jnp.int32))

    def step(
        self,
        key: PRNGKey,
        state: TabularEnvState,
        action: Int[Array, ""],
        params: TabularEnvParams,
    ) -> tuple[
        Int[Array, ""],
        TabularEnvState,
        Float[Array, ""],
        Bool[Array, ""],
        Bool[Array, ""],
        dict,
    ]:
        """One transition: ``(obs, state, reward, terminated, truncated, {})``.

        ``action`` must be an integer in ``0..A-1`` (and ``state.state`` a state in
        ``0..S-1``): a concrete one outside raises a ``ValueError``, a traced one
        (inside jit) an ``eqx.error_if``; never a clipped index.

        Example:
            >>> env, params = make_tabular_env(TabularMDP(
            ...     jnp.eye(2)[jnp.array([[1], [1]])], jnp.ones((2, 1)),
            ...     jnp.array([False, True])), start=1)
            >>> _, state = env.reset(jax.random.key(0), params)
            >>> float(env.step(jax.random.key(1), state, 0, params)[2])  # absorbing
            0.0
        """
        where = "TabularEnv.step"
        check_key(key, where=where)
        check_type(state, "state", TabularEnvState, where=where)
        mdp = params.mdp
        num_states, num_actions = mdp.transition.shape[0], mdp.transition.shape[1]
        action = check_array(action, "action", where=where, ndim=0, dtype="int")
        current = check_array(state.state, "state.state", where=where, ndim=0)
        check_indices(action, "action", num_actions, where=where, what="action")
        check_indices(current, "state.state", num_states, where=where, what="state")
        check_array(state.time, "state.time", where=where, ndim=0, dtype="int")
        check_range(state.time, "state.time", where=where, low=0)
        current = error_unless(
            current,
            [
                (
                    traced_in_range(action, low=0, high=num_actions - 1),
                    "action",
                    f"an action in 0..{num_actions - 1}",
                ),
                (
                    traced_in_range(current, low=0, high=num_states - 1),
                    "state.state",
                    f"a state in 0..{num_states - 1}",
                ),
            ],
            where=where,
        )
        was_terminal = mdp.terminal[current]
        sampled = jax.random.categorical(key, jnp.log(mdp.transition[current, action]))
        next_state = jnp.where(was_terminal, current, sampled).astype(jnp.int32)
        reward = mdp.reward[current, action]
        reward = jnp.where(was_terminal, jnp.zeros_like(reward), reward)
        time = state.time + 1
        terminated = mdp.terminal[next_state]
        truncated = time >= params.max_steps
        new_state = TabularEnvState(next_state, time)
        return next_state, new_state, reward, terminated, truncated, {}


def make_tabular_env(
    mdp: TabularMDP,
    start: int | Float[Array, "S"],
    max_steps: int | None = None,
) -> tuple[TabularEnv, TabularEnvParams]:
    """A :class:`TabularEnv` and its parameters for ``mdp``.

    Args:
        mdp: the model to sample.
        start: the start state index, or ``[S]`` initial-state probabilities.
        max_steps: truncate after this many steps (default: never).

    Returns:
        ``(env, params)``.

    Example:
        >>> env, params = make_tabular_env(TabularMDP(jnp.ones((2, 1, 2)) / 2,
        ...     jnp.zeros((2, 1)), jnp.zeros(2, bool)), start=jnp.array([0.5, 0.5]))
        >>> params.initial.tolist()
        [0.5, 0.5]
    """
    where = "make_tabular_env"
    check_type(
        mdp,
        "mdp",
        TabularMDP,
        where=where,
        hint="For a pinfer environment, env.tabular_mdp(env_params).",
    )
    num_states = mdp.transition.shape[-1]
    start = check_array(start, "start", where=where, ndim=(0, 1), dtype="number")
    if start.ndim == 0:
        check_indices(start, "start", num_states, where=where, what="state")
        initial = jax.nn.one_hot(start, num_states, dtype=mdp.transition.dtype)
    else:
        initial = start.astype(mdp.transition.dtype)
        check_array(initial, "start", where=where, shape=(num_states,))
        check_range(initial, "start", where=where, low=0.0, high=1.0)
        total = float(jnp.sum(initial))
        if abs(total - 1.0) > 1e-5:
            raise ValueError(
                f"{where}: `start` probabilities must sum to 1, got {total:.6g}."
            )
    if max_steps is not None:
        check_static_int(max_steps, "max_steps", 1, where=where)
    limit = _NO_LIMIT if max_steps is None else max_steps
    return TabularEnv(), TabularEnvParams(mdp, initial, jnp.asarray(limit, jnp.int32))
