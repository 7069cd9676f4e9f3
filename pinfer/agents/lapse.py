"""Lapses and randomness: the ε-lapse mixture around any policy agent, and the
uniformly random agent.

An agent that "lapses" with probability ``epsilon`` ignores its plan and picks an
action uniformly at random (the lapse / ε-greedy noise model of cognitive modelling,
e.g. Wichmann and Hill, 2001, "The psychometric function"):

    pi(a | s) = (1 - epsilon) * pi_base(a | s) + epsilon / A
    log pi    = logaddexp(log1p(-epsilon) + log pi_base, log(epsilon) - log(A))

computed in log space, with the ``epsilon = 0`` and ``epsilon = 1`` ends exact
(``-inf`` terms) and the gradient in ``epsilon`` right there too (a custom JVP:
``d log pi / d epsilon = (1 / A - pi_base) / pi``). ``epsilon = 0`` is the
base agent and ``epsilon = 1`` the :class:`RandomAgent`. The mixture also turns the
zero-probability actions of a near-greedy agent into unlikely ones, which keeps a
likelihood finite on data the base model cannot explain.
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from pinfer.agents.base import AbstractPolicyAgent, AgentState
from pinfer.types import Array, ArrayTree, Float, PRNGKey
from pinfer.validation import (
    check_key,
    check_range,
    check_scalar,
    check_static_int,
    check_type,
    error_unless,
    traced_in_range,
)

__all__ = ["LapseAgent", "LapseParams", "RandomAgent"]


_EPSILON_MEANING = "It is the probability of a uniformly random action."


class LapseParams(eqx.Module):
    """Parameters of a :class:`LapseAgent`.

    A concrete ``epsilon`` outside ``[0, 1]`` (or NaN) is an error here; a traced
    one raises through ``eqx.error_if`` in :meth:`LapseAgent.log_policy`.

    Attributes:
        base: the wrapped agent's parameters.
        epsilon: ``[]`` float lapse probability in ``[0, 1]``.

    Example:
        >>> LapseParams(None, 1.5)
        Traceback (most recent call last):
        ...
        ValueError: LapseParams: `epsilon` must be in [0.0, 1.0], got 1.5. It is the \
probability of a uniformly random action.
    """

    base: ArrayTree
    epsilon: Float[Array, ""] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        where = "LapseParams"
        check_scalar(
            self.epsilon,
            "epsilon",
            where=where,
            low=0.0,
            high=1.0,
            dtype="float",
            hint=_EPSILON_MEANING,
        )


class LapseAgent(AbstractPolicyAgent):
    """``(1 - epsilon) * base + epsilon * uniform`` around any policy agent.

    The state is the base agent's state; ``init`` and ``update`` are the base
    agent's, with ``params.base``.

    Attributes:
        agent: the base agent, an :class:`AbstractPolicyAgent`.

    Example:
        >>> agent = LapseAgent(RandomAgent(num_actions=2))
        >>> params = LapseParams(None, 0.3)
        >>> jnp.exp(agent.log_policy(agent.init(jax.random.key(0), params), 0, params))
        Array([0.5, 0.5], dtype=float32)
    """

    agent: AbstractPolicyAgent

    def __check_init__(self):
        if not isinstance(self.agent, AbstractPolicyAgent):
            raise TypeError(
                "LapseAgent wraps an AbstractPolicyAgent (an agent with a "
                f"log_policy method), got {type(self.agent).__name__}."
            )

    def init(self, key: PRNGKey, params: LapseParams) -> AgentState:
        """The base agent's ``init`` with ``params.base``; checks ``params``.

        Example:
            >>> LapseAgent(RandomAgent(3)).init(jax.random.key(0),
            ...                                 LapseParams(None, 0.1)) is None
            True
        """
        check_key(key, where="LapseAgent.init")
        check_type(params, "params", LapseParams, where="LapseAgent.init")
        check_range(
            params.epsilon,
            "epsilon",
            where="LapseAgent.init",
            low=0.0,
            high=1.0,
            hint=_EPSILON_MEANING,
        )
        return self.agent.init(key, params.base)

    def update(
        self,
        agent_state: AgentState,
        obs: ArrayTree,
        action: Array,
        reward: Array,
        next_obs: ArrayTree,
        params: LapseParams,
    ) -> AgentState:
        """The base agent's ``update`` with ``params.base``.

        Example:
            >>> LapseAgent(RandomAgent(3)).update(None, 0, 1, 0.0, 2,
            ...                                   LapseParams(None, 0.1)) is None
            True
        """
        return self.agent.update(
            agent_state, obs, action, reward, next_obs, params.base
        )

    def log_policy(
        self, agent_state: AgentState, obs: ArrayTree, params: LapseParams
    ) -> Float[Array, "A"]:
        """``[A]`` log of ``(1 - epsilon) * pi_base + epsilon / A``.

        Raises when ``params.epsilon`` lies outside ``[0, 1]`` or is NaN (such a
        "mixture" would not sum to one): a ``ValueError`` when it is concrete,
        through ``eqx.error_if`` when it is traced (inside jit).

        Example:
            >>> agent = LapseAgent(BoltzmannAgent(num_iterations=1))
            >>> state = PolicyState(jnp.zeros((1, 2)), jnp.array([[0.0, -jnp.inf]]))
            >>> probs = jnp.exp(agent.log_policy(state, 0, LapseParams(None, 0.2)))
            >>> [round(float(p), 4) for p in probs]
            [0.9, 0.1]
        """
        log_base = self.agent.log_policy(agent_state, obs, params.base)
        where = "LapseAgent"
        # Concrete params made with eqx.tree_at skip LapseParams' own check.
        check_range(params.epsilon, "epsilon", where=where, low=0.0, high=1.0)
        epsilon = jnp.asarray(params.epsilon, log_base.dtype)
        ok = traced_in_range(epsilon, low=0.0, high=1.0)
        epsilon = error_unless(epsilon, [(ok, "epsilon", "in [0, 1]")], where=where)
        log_uniform = -jnp.log(jnp.asarray(log_base.shape[-1], log_base.dtype))
        return _log_mixture(log_base, epsilon, log_uniform)


def _log_weights(epsilon):
    # Double `where`s: exact -inf at the ends without NaN from log(0) in the primal.
    keeps, lapses = epsilon < 1, epsilon > 0
    log_keep = jnp.where(keeps, jnp.log1p(-jnp.where(keeps, epsilon, 0.0)), -jnp.inf)
    log_lapse = jnp.where(lapses, jnp.log(jnp.where(lapses, epsilon, 1.0)), -jnp.inf)
    return log_keep, log_lapse


@jax.custom_jvp
def _log_mixture(log_base, epsilon, log_uniform):
    """``log((1 - epsilon) * exp(log_base) + epsilon * exp(log_uniform))``."""
    log_keep, log_lapse = _log_weights(epsilon)
    return jnp.logaddexp(log_keep + log_base, log_lapse + log_uniform)


@_log_mixture.defjvp
def _log_mixture_jvp(primals, tangents):
    # Written out so that d/d epsilon = (u - pi) / mix is right at epsilon = 0 and 1,
    # where the log-weights are -inf and automatic differentiation gives NaN or 0.
    log_base, epsilon, log_uniform = primals
    d_base, d_epsilon, d_uniform = tangents
    out = _log_mixture(log_base, epsilon, log_uniform)
    log_keep, log_lapse = _log_weights(epsilon)
    possible = out > -jnp.inf
    safe_out = jnp.where(possible, out, 0.0)

    def ratio(log_numerator):
        return jnp.where(possible, jnp.exp(log_numerator - safe_out), 0.0)

    biggest = jnp.finfo(out.dtype).max  # keeps 0 * d_epsilon at 0 when pi << u
    d_mix = jnp.clip(ratio(log_uniform) - ratio(log_base), -biggest, biggest)
    tangent = (
        ratio(log_keep + log_base) * d_base
        + ratio(log_lapse + log_uniform) * d_uniform
        + d_mix * d_epsilon
    )
    return out, tangent


class RandomAgent(AbstractPolicyAgent):
    """The uniformly random agent: ``pi(a | s) = 1 / A``; ``params`` are ignored.

    Attributes:
        num_actions: number of actions ``A`` (static).

    Example:
        >>> agent = RandomAgent(num_actions=4)
        >>> jnp.exp(agent.log_policy(None, 0, None))
        Array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """

    num_actions: int = eqx.field(static=True)

    def __check_init__(self):
        check_static_int(self.num_actions, "RandomAgent.num_actions", 1)

    def init(self, key: PRNGKey, params: ArrayTree) -> None:
        """No state: ``None`` (an empty pytree).

        Example:
            >>> RandomAgent(2).init(jax.random.key(0), None) is None
            True
        """
        check_key(key, where="RandomAgent.init")
        del params
        return None

    def log_policy(
        self, agent_state: None, obs: ArrayTree, params: ArrayTree
    ) -> Float[Array, "A"]:
        """``[A]`` constant ``-log(A)``.

        Example:
            >>> RandomAgent(2).log_policy(None, 0, None).shape
            (2,)
        """
        del agent_state, obs, params
        log_uniform = -jnp.log(float(self.num_actions))
        return jnp.full((self.num_actions,), log_uniform, dtype=float)
