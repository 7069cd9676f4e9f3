"""Gymnasium environments as a ``TabularMDP``: toy-text ones from their ``P`` tables,
pinfer's own from their exact model.

FrozenLake, CliffWalking and Taxi (Taxi-v4 in Gymnasium >= 1.3; v3 is deprecated)
publish their exact dynamics as ``env.unwrapped.P``::

    P[s][a] = [(prob, next_state, reward, terminated), ...]

and this module turns that table into arrays::

    transition[s, a, s'] = sum of prob over entries of P[s][a] with next_state s'
    reward[s, a]         = sum of prob * reward over entries of P[s][a]
    terminal[s']         = some entry anywhere has terminated=True and next state s'

Termination in ``P`` belongs to a *transition*, whereas ``TabularMDP.terminal`` belongs
to a state, so the conversion checks that the two agree where it matters: no state
reachable from the initial distribution may enter a terminal state through a
transition that does *not* terminate (``ValueError`` otherwise). With
``absorbing=True`` (the default) every terminal row becomes a zero-reward self-loop,
as ``TabularMDP`` promises; this changes only rows that Gymnasium never uses, because
its episode has ended (FrozenLake's goal and holes are already absorbing; CliffWalking's
goal and Taxi's delivered-passenger states are not). ``absorbing=False`` keeps every row
exactly as in ``P``.

pinfer's own environments, as ``gymnasium.make("pinfer.envs:pinfer/GridWorld-v0")``
returns them (a ``GymnasiumEnv`` inside Gymnasium's wrappers), are unwrapped and give
the model of the pure environment, ``env.tabular_mdp(params)``, exactly.
"""

from collections import deque

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from pinfer.envs.base import AbstractEnvironment
from pinfer.envs.gridworld import GridWorld
from pinfer.envs.gym_adapter import GymnasiumEnv
from pinfer.planning import TabularMDP, validate_mdp
from pinfer.types import Array, Float
from pinfer.validation import check_type

__all__ = ["from_gymnasium", "initial_distribution"]


_ACCEPTED = (
    "it reads Gymnasium's toy-text environments, whose model is a transition table "
    "`P` (FrozenLake, CliffWalking, Taxi), and pinfer's own environments "
    "(gymnasium.make('pinfer.envs:pinfer/GridWorld-v0'), a GymnasiumEnv), wrappers "
    "included"
)


def _base(env, where: str):
    """The innermost environment, refusing pinfer's pure environments with the fix."""
    if isinstance(env, AbstractEnvironment):
        raise TypeError(
            f"{where}: `env` is pinfer's pure {type(env).__name__}, not a Gymnasium "
            "environment; its model is env.tabular_mdp(params)."
        )
    return getattr(env, "unwrapped", env)


def _pinfer_tabular(base) -> GymnasiumEnv | None:
    """``base`` when it is pinfer's adapter around an environment with a model."""
    if isinstance(base, GymnasiumEnv) and hasattr(base.env, "tabular_mdp"):
        return base
    return None


def _tables(base) -> tuple[dict, int, int, np.ndarray]:
    table = getattr(base, "P", None)
    if not isinstance(table, dict):
        raise TypeError(
            f"from_gymnasium: cannot read `env`, a {type(base).__name__}, which has "
            f"no transition table `P`: {_ACCEPTED}."
        )
    if getattr(base, "fickle_passenger", False):
        raise ValueError(
            "Taxi with fickle_passenger=True changes the destination outside its `P` "
            "table, so `P` is not its model; make it with fickle_passenger=False."
        )
    spaces = (base.observation_space, base.action_space)
    if not all(isinstance(space, gymnasium.spaces.Discrete) for space in spaces):
        raise TypeError(
            "from_gymnasium needs Discrete observation and action spaces, got "
            f"{spaces[0]} and {spaces[1]}."
        )
    num_states, num_actions = int(spaces[0].n), int(spaces[1].n)
    start = getattr(base, "initial_state_distrib", np.ones(num_states))
    return table, num_states, num_actions, np.asarray(start)


def _reachable(start: np.ndarray, table: dict, num_actions: int) -> np.ndarray:
    # Breadth-first search through transitions that do not terminate.
    seen = np.zeros(len(start), dtype=bool)
    frontier = deque(np.flatnonzero(start > 0).tolist())
    seen[list(frontier)] = True
    while frontier:
        s = frontier.popleft()
        for a in range(num_actions):
            for prob, s2, _, terminated in table[s][a]:
                if prob > 0 and not terminated and not seen[s2]:
                    seen[s2] = True
                    frontier.append(int(s2))
    return seen


def initial_distribution(env) -> Float[Array, "S"]:
    """``[S]`` start-state distribution of a toy-text environment or of pinfer's
    ``GridWorld`` (which starts on its start cell, holding no keys).

    Example:
        >>> import gymnasium
        >>> p0 = initial_distribution(gymnasium.make("CliffWalking-v1"))
        >>> int(p0.argmax())
        36
    """
    base = _base(env, "initial_distribution")
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    pinfer_env = _pinfer_tabular(base)
    if pinfer_env is not None and isinstance(pinfer_env.env, GridWorld):
        _, state = pinfer_env.env.reset(jax.random.key(0), pinfer_env.params)
        index = pinfer_env.env.state_index(state)
        return jax.nn.one_hot(index, pinfer_env.env.num_states, dtype=dtype)
    start = getattr(base, "initial_state_distrib", None)
    if start is None:
        raise TypeError(
            f"initial_distribution: `env`, a {type(base).__name__}, has no "
            "`initial_state_distrib`; it reads Gymnasium's toy-text environments "
            "(FrozenLake, CliffWalking, Taxi) and pinfer's GridWorld, wrappers "
            "included."
        )
    return jnp.asarray(np.asarray(start, dtype=dtype))


def from_gymnasium(env, absorbing: bool = True) -> TabularMDP:
    """The exact ``TabularMDP`` of a Gymnasium toy-text environment.

    Args:
        env: ``gymnasium.make("FrozenLake-v1")`` and friends, or one of pinfer's
            environments as Gymnasium makes it
            (``gymnasium.make("pinfer.envs:pinfer/GridWorld-v0")``, a
            ``GymnasiumEnv``); wrappers are looked through with ``env.unwrapped``.
        absorbing: make terminal states zero-reward self-loops (see the module
            docstring); False keeps ``P``'s rows. pinfer's environments are
            absorbing in their own steps, so both give their model.

    Returns:
        ``TabularMDP`` with ``transition [S, A, S]``, ``reward [S, A]`` (expected
        reward) and ``terminal [S]``, states and actions numbered as in Gymnasium.

    Raises:
        TypeError: the environment has no ``P`` table and is not pinfer's.
        ValueError: ``P`` is not a model (fickle Taxi), is not stochastic, or lets a
            reachable state enter a terminal state without terminating.

    Example:
        >>> import gymnasium
        >>> mdp = from_gymnasium(gymnasium.make("FrozenLake-v1", is_slippery=False))
        >>> mdp.transition.shape, int(mdp.terminal.sum())
        ((16, 4, 16), 5)
        >>> grid = from_gymnasium(gymnasium.make("pinfer.envs:pinfer/GridWorld-v0"))
        >>> grid.transition.shape
        (40, 4, 40)
    """
    check_type(absorbing, "absorbing", bool, where="from_gymnasium")
    base = _base(env, "from_gymnasium")
    pinfer_env = _pinfer_tabular(base)
    if pinfer_env is not None:
        return pinfer_env.env.tabular_mdp(pinfer_env.params)
    table, num_states, num_actions, start = _tables(base)
    transition = np.zeros((num_states, num_actions, num_states))
    reward = np.zeros((num_states, num_actions))
    terminal = np.zeros(num_states, dtype=bool)
    for s in range(num_states):
        for a in range(num_actions):
            for prob, s2, r, terminated in table[s][a]:
                transition[s, a, s2] += prob
                reward[s, a] += prob * r
                terminal[s2] |= bool(terminated) and prob > 0
    for s in np.flatnonzero(_reachable(start, table, num_actions)):
        for a in range(num_actions):
            for prob, s2, _, terminated in table[s][a]:
                if prob > 0 and not terminated and terminal[s2]:
                    raise ValueError(
                        f"State {s2} ends the episode when entered through some "
                        f"transitions but not from reachable state {s} with action "
                        f"{a}: termination in this `P` is not a property of the next "
                        "state, so it cannot be written as TabularMDP.terminal."
                    )
    if absorbing:
        transition[terminal] = np.eye(num_states)[terminal][:, None, :]
        reward[terminal] = 0.0
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    mdp = TabularMDP(
        jnp.asarray(transition.astype(dtype)),
        jnp.asarray(reward.astype(dtype)),
        jnp.asarray(terminal),
    )
    return validate_mdp(mdp)
