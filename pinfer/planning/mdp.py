"""The tabular MDP: plain data shared by environments, planners and inverse planners.

    transition[s, a, s'] = P(s' | s, a)      rows sum to one
    reward[s, a]         = E[r | s, a]        expected reward of taking a in s
    terminal[s]          = True where an episode ends (absorbing, no further reward)

Goals and reward weights are *agent* parameters, not part of the world: a planner adds
them on top of ``reward`` (for example a goal bonus or features x weights). Environments
produce a ``TabularMDP`` with ``tabular_mdp(params)``; nothing here imports them.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from pinfer.types import Array, Bool, Float

__all__ = ["TabularMDP", "validate_mdp"]


class TabularMDP(eqx.Module):
    """A finite MDP as arrays (a pytree: batch layouts with ``vmap``).

    Attributes:
        transition: ``[S, A, S]`` transition probabilities.
        reward: ``[S, A]`` expected immediate reward.
        terminal: ``[S]`` bool, absorbing states where the episode ends.

    Example:
        >>> mdp = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                  jnp.array([False, True]))
        >>> mdp.num_states, mdp.num_actions
        (2, 1)
    """

    transition: Float[Array, "S A S"] = eqx.field(converter=jnp.asarray)
    reward: Float[Array, "S A"] = eqx.field(converter=jnp.asarray)
    terminal: Bool[Array, "S"] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        t, r, term = self.transition, self.reward, self.terminal
        if t.ndim != 3 or t.shape[0] != t.shape[2]:
            raise ValueError(
                f"TabularMDP.transition must have shape [S, A, S], got {t.shape}. "
                "Index it as transition[state, action, next_state]."
            )
        num_states, num_actions = t.shape[0], t.shape[1]
        if r.shape != (num_states, num_actions):
            raise ValueError(
                f"TabularMDP.reward must have shape [S, A] = "
                f"[{num_states}, {num_actions}] to match transition {t.shape}, "
                f"got {r.shape}. State and action counts must agree."
            )
        if term.shape != (num_states,):
            raise ValueError(
                f"TabularMDP.terminal must have shape [S] = [{num_states}], got "
                f"{term.shape}."
            )

    @property
    def num_states(self) -> int:
        return self.transition.shape[0]

    @property
    def num_actions(self) -> int:
        return self.transition.shape[1]


def validate_mdp(mdp: TabularMDP, atol: float = 1e-5) -> TabularMDP:
    """Check (eagerly, on concrete arrays) that ``mdp`` is a proper stochastic MDP.

    Raises a ``ValueError`` naming the first offending ``(state, action)`` when a row
    of ``transition`` has negative entries or does not sum to one, or when rewards are
    not finite. Call it at a boundary (loading data, building a layout), not in a
    kernel. Returns ``mdp`` unchanged so it can be chained.

    Example:
        >>> validate_mdp(TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                         jnp.array([False, True]))).num_states
        2
    """
    t = np.asarray(mdp.transition, dtype=np.float64)
    if t.ndim > 3:
        raise ValueError(
            f"validate_mdp takes one MDP, got a batch with transition shape {t.shape}; "
            "validate each layout separately (e.g. a Python loop over the batch)."
        )
    negative = np.argwhere(t < -atol)
    if negative.size:
        s, a, s2 = negative[0]
        raise ValueError(
            f"transition[{s}, {a}, {s2}] = {t[s, a, s2]:.3g} is negative: "
            "transition probabilities must lie in [0, 1]."
        )
    sums = t.sum(axis=-1)
    bad = np.argwhere(np.abs(sums - 1.0) > atol)
    if bad.size:
        s, a = bad[0]
        raise ValueError(
            f"transition[{s}, {a}, :] sums to {sums[s, a]:.6g}, not 1: the transition "
            f"table is not stochastic ({len(bad)} rows are off). Normalise each row "
            "over next states."
        )
    r = np.asarray(mdp.reward)
    if not np.all(np.isfinite(r)):
        s, a = np.argwhere(~np.isfinite(r))[0]
        raise ValueError(f"reward[{s}, {a}] = {r[s, a]} is not finite.")
    return mdp
