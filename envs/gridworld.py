"""GridWorld: walls, goals (gems), keys and doors, slip and a step reward.

The world is a grid of ``H x W`` cells read from an ASCII layout (legend in
``pinfer.envs.layouts``). Actions are ``0 up, 1 down, 2 left, 3 right`` and, with
``allow_stay``, ``4 stay``. One step::

    a' = a with probability 1 - slip, else uniform over all A actions (maybe a again)
    if the current cell is terminal: stay, reward 0              (absorbing)
    target = cell + delta[a']
    move to target unless it is outside, a wall, or a door whose colour is not held
    entering a key cell adds its colour to the held keys (keys are never used up)
    reward = step_reward; terminated = new cell is a goal and goals_terminal;
    truncated = time >= max_steps

The world owns the cost of a step: ``step_reward`` (-1 by default) is what every
step costs the agent, in ``step`` and in the model's ``reward``. Goals and reward
weights belong to the *agent*: a planner adds a goal reward using
``params.goal_cells`` or ``goal_state_mask``, and the ``step_cost`` of
``pinfer.planning.goal_reward`` and of the inverse planners is an *extra* cost on top
of the world's (default 0; ``step_cost=1`` on a default world charges -2 a step).
With ``goals_terminal`` (the default) stepping onto any goal ends the episode, and
goal states are absorbing in the model. A layout may have no goal at all
(``num_goals = 0``).

Bad input never becomes a state: ``step`` refuses an action outside
``0..num_actions-1`` (or a state outside the world) with an error naming it when the
value is concrete, and through ``eqx.error_if`` when it is traced (inside ``jit``;
under ``eqx.filter_jit`` the error's first line is the message).

State indexing of the exact model ``tabular_mdp(params)`` (and the observation)::

    cell  = row * W + col                        in [0, H*W)
    index = inventory * H*W + cell               in [0, num_states)
    inventory = sum_c held[c] << c               in [0, 2**num_colors)

so without keys and doors the state is the cell. Walls and inventories that cannot
occur are states too (their rows are well-formed but never visited). ``state_index``,
``state_from_index`` and ``position_of`` convert.
"""

import equinox as eqx
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from pinfer.envs.base import AbstractEnvironment
from pinfer.envs.grid_checks import check_params_for, checked_step_inputs
from pinfer.envs.grid_params import GridParams, GridState, StepInfo, params_from_layout
from pinfer.envs.layouts import KEY_COLORS, Layout
from pinfer.envs.render import render_grid
from pinfer.planning import TabularMDP
from pinfer.types import Array, Bool, Float, Int, PRNGKey
from pinfer.validation import check_flag, check_key, check_static_int

__all__ = [
    "ACTION_NAMES",
    "GridParams",
    "GridState",
    "GridWorld",
    "StepInfo",
]

ACTION_NAMES = ("up", "down", "left", "right", "stay")
_DELTAS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]], dtype=np.int32)


class GridWorld(AbstractEnvironment):
    """The grid world's static configuration; the layout lives in ``GridParams``.

    The world owns the cost of a step: each step pays ``params.step_reward`` (-1 by
    default), and that is the whole cost an agent planning in ``tabular_mdp``
    faces; a ``step_cost`` given to ``pinfer.planning.goal_reward`` or to the
    inverse planners is charged on top of it.

    Attributes:
        height, width: grid size (>= 1).
        num_goals: number of goal slots ``G >= 0`` (layouts with fewer are padded;
            0 for a world without goals).
        num_colors: number of key colours tracked in the inventory (0 without keys).
        allow_stay: add the action ``4 = stay``.

    Example:
        >>> env, params = make_gridworld("S..G")
        >>> obs, state = env.reset(jax.random.key(0), params)
        >>> obs, state, reward, terminated, truncated, info = env.step(
        ...     jax.random.key(1), state, 3, params)
        >>> int(obs), float(reward), bool(terminated)
        (1, -1.0, False)
    """

    height: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    num_goals: int = eqx.field(static=True)
    num_colors: int = eqx.field(static=True, default=0)
    allow_stay: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        where = "GridWorld"
        check_static_int(self.height, "height", 1, where=where)
        check_static_int(self.width, "width", 1, where=where)
        check_static_int(self.num_goals, "num_goals", 0, where=where)
        check_static_int(
            self.num_colors, "num_colors", 0, where=where, maximum=len(KEY_COLORS)
        )
        check_flag(self.allow_stay, "allow_stay", where=where)

    @property
    def num_actions(self) -> int:
        return 5 if self.allow_stay else 4

    @property
    def action_names(self) -> tuple[str, ...]:
        """Names of actions ``0 .. A-1`` (``ACTION_NAMES[:num_actions]``)."""
        return ACTION_NAMES[: self.num_actions]

    @property
    def num_cells(self) -> int:
        return self.height * self.width

    @property
    def num_states(self) -> int:
        """``H * W * 2**num_colors`` tabular states."""
        return self.num_cells << self.num_colors

    def make_params(
        self,
        layout: str | Layout,
        *,
        slip: float = 0.0,
        step_reward: float = -1.0,
        max_steps: int = 100,
        goals_terminal: bool = True,
        check_reachable: bool = True,
    ) -> GridParams:
        """Parameters for one layout that fits this configuration.

        Args:
            layout: an ASCII layout or a parsed ``Layout``.
            slip: probability in ``[0, 1]`` that the action is replaced by a uniform
                random one.
            step_reward: reward of each step: negative for the world's cost of a
                step, which is what the agent pays (the default -1 is a cost of 1).
            max_steps: steps before ``truncated`` (>= 1).
            goals_terminal: whether reaching any goal ends the episode.
            check_reachable: reject layouts with an unreachable goal.

        Returns:
            ``GridParams`` in the default float dtype.

        Example:
            >>> env = GridWorld(height=1, width=3, num_goals=2)
            >>> env.make_params("S.G", slip=0.1).goal_cells.tolist()
            [2, -1]
        """
        return params_from_layout(
            self,
            layout,
            slip=slip,
            step_reward=step_reward,
            max_steps=max_steps,
            goals_terminal=goals_terminal,
            check_reachable=check_reachable,
        )

    def check_params(self, params: GridParams, where: str = "GridWorld") -> None:
        """Raise unless ``params`` is one (unbatched) ``GridParams`` of this world's
        size. Shapes only: free inside ``jit``; values were checked when the params
        were built.

        Example:
            >>> env, _ = make_gridworld("S.G")
            >>> env.check_params(make_gridworld("S.G\\n...")[1])
            Traceback (most recent call last):
            ...
            ValueError: GridWorld: `params.walls` must have shape [1, 3], got [2, 3]...
        """
        check_params_for(self, params, GridParams, where)

    # --- indexing -------------------------------------------------------------

    def state_index(self, state: GridState) -> Int[Array, ""]:
        """Row of ``state`` in ``tabular_mdp``: ``inventory * H*W + cell``.

        Example:
            >>> env = GridWorld(height=2, width=3, num_goals=1, num_colors=1)
            >>> int(env.state_index(env.state_from_index(8)))
            8
        """
        return state.inventory * self.num_cells + state.cell

    def state_from_index(self, index: Int[Array, "..."], time: int = 0) -> GridState:
        """The ``GridState`` of tabular state(s) ``index`` (at ``time``).

        Example:
            >>> env = GridWorld(height=2, width=3, num_goals=1, num_colors=1)
            >>> env.state_from_index(8).inventory.tolist()
            1
        """
        index = jnp.asarray(index, dtype=jnp.int32)
        time = jnp.broadcast_to(jnp.asarray(time, dtype=jnp.int32), index.shape)
        return GridState(index % self.num_cells, index // self.num_cells, time)

    def position_of(self, index: Int[Array, "..."]) -> Int[Array, "... 2"]:
        """``(row, col)`` of tabular state(s) ``index``.

        Example:
            >>> GridWorld(height=2, width=3, num_goals=1).position_of(5).tolist()
            [1, 2]
        """
        cell = jnp.asarray(index) % self.num_cells
        return jnp.stack([cell // self.width, cell % self.width], axis=-1)

    def goal_at(self, cell: Int[Array, ""], params: GridParams) -> Int[Array, ""]:
        """Index of the goal on ``cell``, -1 if there is none.

        Example:
            >>> env, params = make_gridworld("G.S.G")
            >>> [int(env.goal_at(cell, params)) for cell in (0, 2, 4)]
            [0, -1, 1]
        """
        if self.num_goals == 0:
            return jnp.full(jnp.shape(cell), -1, dtype=jnp.int32)
        hit = params.goal_valid & (params.goal_cells == cell)
        return jnp.where(jnp.any(hit), jnp.argmax(hit), -1).astype(jnp.int32)

    def goal_state_mask(self, params: GridParams) -> Bool[Array, "G S"]:
        """``[G, S]``: True where tabular state ``s`` stands on goal ``g`` (any
        inventory); all False for padding goals. A goal reward is ``mask[g]``.

        Example:
            >>> env, params = make_gridworld("S.G")
            >>> env.goal_state_mask(params).tolist()
            [[False, False, True]]
        """
        self.check_params(params, "GridWorld.goal_state_mask")
        cells = jnp.arange(self.num_states) % self.num_cells
        hit = cells[None, :] == params.goal_cells[:, None]
        return hit & params.goal_valid[:, None]

    # --- dynamics -------------------------------------------------------------

    def _is_terminal(self, cell: Int[Array, ""], params: GridParams) -> Bool[Array, ""]:
        return params.goals_terminal & (self.goal_at(cell, params) >= 0)

    def _successor(self, cell, inventory, action, params: GridParams):
        delta = jnp.asarray(_DELTAS)[action]
        row, col = cell // self.width + delta[0], cell % self.width + delta[1]
        inside = (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)
        target = jnp.clip(row, 0, self.height - 1) * self.width + jnp.clip(
            col, 0, self.width - 1
        )
        door = params.door_color.reshape(-1)[target]
        held = (inventory >> jnp.maximum(door, 0)) & 1
        blocked = (
            ~inside | params.walls.reshape(-1)[target] | ((door >= 0) & (held == 0))
        )
        new_cell = jnp.where(blocked, cell, target)
        key = params.key_color.reshape(-1)[target]
        gained = jnp.where(
            ~blocked & (key >= 0), jnp.left_shift(1, jnp.maximum(key, 0)), 0
        )
        stay = self._is_terminal(cell, params)
        return (
            jnp.where(stay, cell, new_cell).astype(jnp.int32),
            jnp.where(stay, inventory, inventory | gained).astype(jnp.int32),
        )

    def reset(
        self, key: PRNGKey, params: GridParams
    ) -> tuple[Int[Array, ""], GridState]:
        """The agent at the start cell, holding no keys (deterministic; ``key`` is
        unused but required by the contract, and checked).

        Returns:
            ``(obs, state)`` with ``obs`` the tabular index of ``state``.

        Example:
            >>> env, params = make_gridworld("G.S")
            >>> obs, state = env.reset(jax.random.key(0), params)
            >>> int(obs), int(state.time)
            (2, 0)
        """
        check_key(key, where="GridWorld.reset")
        self.check_params(params, "GridWorld.reset")
        zero = jnp.zeros((), dtype=jnp.int32)
        state = GridState(params.start.astype(jnp.int32), zero, zero)
        return self.state_index(state), state

    def step(
        self, key: PRNGKey, state: GridState, action: Int[Array, ""], params: GridParams
    ) -> tuple[
        Int[Array, ""],
        GridState,
        Float[Array, ""],
        Bool[Array, ""],
        Bool[Array, ""],
        StepInfo,
    ]:
        """One transition (see the module docstring); no auto-reset.

        Args:
            key: PRNG key (the slip).
            state: a ``GridState`` of this world.
            action: ``[]`` int in ``0 .. num_actions - 1``; any other value raises
                (an error naming it when concrete, ``eqx.error_if`` under ``jit``).
            params: one ``GridParams`` of this world's size.

        Returns:
            ``(obs, state, reward, terminated, truncated, info)`` with ``obs`` the
            tabular index of the new state, ``reward`` the world's ``step_reward``
            (0 from an absorbing goal) and ``info`` a ``StepInfo``.

        Example:
            >>> env, params = make_gridworld("G.S")
            >>> _, state = env.reset(jax.random.key(0), params)
            >>> out = env.step(jax.random.key(1), state, 2, params)  # left
            >>> int(out[0]), float(out[2]), bool(out[3])
            (1, -1.0, False)
            >>> env.step(jax.random.key(1), state, 4, params)
            Traceback (most recent call last):
            ...
            ValueError: GridWorld.step: `action` holds 4, which is not an action in \
0..3.
        """
        where = "GridWorld.step"
        check_key(key, where=where)
        self.check_params(params, where)
        action = checked_step_inputs(self, state, action, GridState, where)
        key_slip, key_action = jax.random.split(key)
        slipped = jax.random.bernoulli(key_slip, params.slip)
        random_action = jax.random.randint(key_action, (), 0, self.num_actions)
        taken = jnp.where(slipped, random_action, action).astype(jnp.int32)
        was_terminal = self._is_terminal(state.cell, params)
        cell, inventory = self._successor(state.cell, state.inventory, taken, params)
        new_state = GridState(cell, inventory, state.time + 1)
        reward = jnp.where(
            was_terminal, jnp.zeros_like(params.step_reward), params.step_reward
        )
        terminated = self._is_terminal(cell, params)
        truncated = new_state.time >= params.max_steps
        info = StepInfo(taken, slipped, self.goal_at(cell, params))
        return (
            self.state_index(new_state),
            new_state,
            reward,
            terminated,
            truncated,
            info,
        )

    # --- the exact model ------------------------------------------------------

    def successor_table(self, params: GridParams) -> Int[Array, "S A"]:
        """``[S, A]`` next state of each state and action when nothing slips.

        Example:
            >>> env, params = make_gridworld("S.G")
            >>> env.successor_table(params)[0].tolist()  # up, down, left, right
            [0, 0, 0, 1]
        """
        self.check_params(params, "GridWorld.successor_table")
        index = jnp.arange(self.num_states, dtype=jnp.int32)
        actions = jnp.arange(self.num_actions, dtype=jnp.int32)

        def one_state(cell, inventory):
            def one_action(action):
                return self._successor(cell, inventory, action, params)

            return jax.vmap(one_action)(actions)

        cells, inventories = jax.vmap(one_state)(
            index % self.num_cells, index // self.num_cells
        )
        return inventories * self.num_cells + cells

    def tabular_mdp(self, params: GridParams) -> TabularMDP:
        """The exact model: ``transition [S, A, S]``, ``reward [S, A]``,
        ``terminal [S]`` (indexing in the module docstring).

        ``transition[s, a] = (1 - slip) * onehot(succ[s, a]) + slip * mean_b
        onehot(succ[s, b])``; ``reward[s, a] = step_reward`` except 0 in terminal
        (absorbing) states. Jittable and vmappable over ``params``.

        Example:
            >>> env, params = make_gridworld("S.G", slip=0.5)
            >>> env.tabular_mdp(params).transition[0, 3].tolist()
            [0.375, 0.625, 0.0]
        """
        successors = self.successor_table(params)
        slip = params.slip
        dtype = slip.dtype
        states = jnp.arange(self.num_states)
        # mean_b onehot(succ[s, b]) as counts scattered into [S, S], then divided
        # by A (the same numbers as a mean over a one-hot [S, A, S] table, without
        # holding that table twice: at 64 x 64 it is 268 MB).
        counts = jnp.zeros((self.num_states, self.num_states), dtype)
        counts = counts.at[states[:, None], successors].add(1.0)
        slipped = counts / self.num_actions
        det = successors[:, :, None] == states[None, None, :]
        transition = jnp.where(det, 1 - slip, jnp.zeros((), dtype)) + (
            slip * slipped[:, None, :]
        )
        cells = jnp.arange(self.num_states) % self.num_cells
        terminal = jax.vmap(self._is_terminal, in_axes=(0, None))(cells, params)
        reward = jnp.where(
            terminal[:, None],
            jnp.zeros_like(params.step_reward),
            params.step_reward,
        )
        reward = jnp.broadcast_to(reward, (self.num_states, self.num_actions))
        return TabularMDP(transition, reward, terminal)

    # --- Gymnasium and figures ------------------------------------------------

    def observation_space(self, params: GridParams) -> gymnasium.spaces.Space:
        """``Discrete(num_states)``: the observation is the tabular state index.

        Example:
            >>> env, params = make_gridworld("S.G")
            >>> env.observation_space(params)
            Discrete(3)
        """
        return gymnasium.spaces.Discrete(self.num_states)

    def render(self, state: GridState, params: GridParams, cell_size: int = 24):
        """An RGB ``uint8`` image ``[H * cell_size, W * cell_size, 3]`` (NumPy).

        Example:
            >>> env, params = make_gridworld("S.G")
            >>> _, state = env.reset(jax.random.key(0), params)
            >>> env.render(state, params, cell_size=8).shape
            (8, 24, 3)
        """
        return render_grid(params, state.cell, state.inventory, cell_size=cell_size)
