"""Planning agents on a tabular MDP: Boltzmann-rational and budget-limited (L-IBM).

Both agents plan once, in ``init``, in the MDP ``params.reward.apply(params.world)``
(the world plus the agent's goals), and keep the result in their state, so ``act``
and ``log_action_prob`` are table lookups at the observed state index::

    mdp    = params.reward.apply(params.world)
    BoltzmannAgent:  Q = value_iteration(mdp, discount, n, value_fn).q_values  # [S, A]
                     log pi = log_softmax(beta * Q)
    BudgetAgent:     Q = budget_limited_planning(mdp, discount, beta, K).q_values
                     log pi = log_softmax(beta * Q[budget])           # [K + 1, S, A]

``value_fn`` is the hard maximum by default (value iteration, then a Boltzmann
read-out: the agent of Baker, Saxe and Tenenbaum, 2009) or, with ``soft=True``, the
soft maximum at the same ``beta`` (max-ent planning, Ziebart et al., 2008), whose
values already price in the agent's own future randomness. The budget agent follows
"Modeling Boundedly Rational Agents with Latent Inference Budgets" (Jacob, Gupta and
Andreas, ICLR 2024): budget ``k`` is ``k`` sweeps of value iteration, budget 0 the
uniform policy. All of its ``K + 1`` policies are kept in the state, so the budget is
read at decision time: scoring a trajectory under every budget (a latent variable)
needs one ``init`` and a ``vmap`` of ``log_action_prob`` over ``params.budget``.

Everything numeric (world, goals, ``beta``, ``discount``, ``budget``) is a dynamic leaf
of ``params``: vmap over a population, differentiate with respect to ``beta``. Sweep
counts are static fields of the agent.
"""

import functools
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp

from pinfer.agents.base import AbstractPolicyAgent, _lookup
from pinfer.agents.rewards import AbstractReward
from pinfer.planning import (
    TabularMDP,
    boltzmann_policy,
    budget_limited_planning,
    max_value,
    soft_value,
    value_iteration,
)
from pinfer.types import Array, Float, Int, PRNGKey
from pinfer.validation import (
    check_array,
    check_key,
    check_range,
    check_static_int,
    check_type,
    concrete,
    error_unless,
    traced_in_range,
)

__all__ = [
    "BoltzmannAgent",
    "BudgetAgent",
    "BudgetParams",
    "BudgetState",
    "PlannerParams",
    "PolicyState",
]


def _check_planner_fields(params, where: str) -> None:
    """Types, shapes and (concrete) values of the fields shared by both params."""
    check_type(
        params.world,
        "world",
        TabularMDP,
        where=where,
        hint="An environment is not a model: pass env.tabular_mdp(env_params).",
    )
    check_type(
        params.reward,
        "reward",
        AbstractReward,
        where=where,
        hint="For example StateGoal(goal_state) or WorldReward().",
    )
    for name in ("beta", "discount"):
        check_array(
            getattr(params, name),
            name,
            where=where,
            ndim=0,
            dtype="number",
            hint="One agent's parameters are scalars; vmap for a population.",
        )
    check_range(params.beta, "beta", where=where, low=0.0, hint=_BETA_MEANING)
    check_range(
        params.discount, "discount", where=where, low=0.0, high=1.0, hint=_DISCOUNT
    )


_BETA_MEANING = "beta is the rationality: 0 is a random agent, larger is greedier."
_DISCOUNT = "0.95 is a typical choice, 1.0 means no discounting."


class PlannerParams(eqx.Module):
    """Parameters of a :class:`BoltzmannAgent`.

    Concrete values are checked here (``world`` a ``TabularMDP``, ``beta >= 0``,
    ``discount`` in ``[0, 1]``, both scalars); values traced inside ``jit`` are
    checked by the agent's ``init`` through ``eqx.error_if``.

    Attributes:
        world: the ``TabularMDP`` the agent plans in (its model of the world; for a
            pinfer environment, ``env.tabular_mdp(env_params)``).
        reward: what the agent wants, an :class:`AbstractReward` (goals, weights).
        beta: ``[]`` rationality ``>= 0`` (``> 0`` with ``soft=True``); 0 is random.
        discount: ``[]`` discount in ``[0, 1]``.

    Example:
        >>> world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                    jnp.zeros(2, bool))
        >>> PlannerParams(world, WorldReward(), beta=-1.0, discount=0.9)
        Traceback (most recent call last):
        ...
        ValueError: PlannerParams: `beta` must be >= 0.0, got -1.0. beta is the \
rationality: 0 is a random agent, larger is greedier.
    """

    world: TabularMDP
    reward: AbstractReward
    beta: Float[Array, ""] = eqx.field(converter=jnp.asarray)
    discount: Float[Array, ""] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        _check_planner_fields(self, "PlannerParams")


class BudgetParams(eqx.Module):
    """Parameters of a :class:`BudgetAgent`: :class:`PlannerParams` plus ``budget``.

    Checked as :class:`PlannerParams`; ``budget`` must be an integer ``>= 0`` (its
    upper bound, the agent's ``max_budget``, is checked by ``init``).

    Attributes:
        world, reward, beta, discount: as in :class:`PlannerParams`.
        budget: ``[]`` int32 number of value-iteration sweeps in ``0..max_budget``.

    Example:
        >>> world = TabularMDP(jnp.ones((2, 1, 2)) / 2, jnp.zeros((2, 1)),
        ...                    jnp.zeros(2, bool))
        >>> int(BudgetParams(world, WorldReward(), 2.0, 0.9, budget=3).budget)
        3
    """

    world: TabularMDP
    reward: AbstractReward
    beta: Float[Array, ""] = eqx.field(converter=jnp.asarray)
    discount: Float[Array, ""] = eqx.field(converter=jnp.asarray)
    budget: Int[Array, ""] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        _check_planner_fields(self, "BudgetParams")
        check_array(
            self.budget,
            "budget",
            where="BudgetParams",
            ndim=0,
            dtype="int",
            hint="The budget is a number of value-iteration sweeps, e.g. 3.",
        )
        check_range(self.budget, "budget", where="BudgetParams", low=0)


def _check_plan_inputs(key, params, where: str, soft: bool) -> None:
    """The key, and ``params.beta`` / ``params.discount`` if concrete (params built
    with ``eqx.tree_at`` skip the constructor's checks)."""
    check_key(key, where=where)
    for name in ("beta", "discount"):
        check_array(getattr(params, name), name, where=where, ndim=0)
    check_range(
        params.beta, "beta", where=where, low=0.0, low_open=soft, hint=_BETA_MEANING
    )
    check_range(
        params.discount, "discount", where=where, low=0.0, high=1.0, hint=_DISCOUNT
    )


def _checked_beta(params, where: str, soft: bool, max_budget: int | None = None):
    """``params.beta`` through ``error_unless``: a traced ``beta``, ``discount`` (or
    ``budget``) out of range, NaN included, raises inside jit instead of planning
    silently (concrete ones were checked before). The check rides on the scalar
    ``beta`` that planning reads, not on the planned tables (which would cost a pass
    over them)."""
    rule = "> 0 with soft=True (the soft value divides by beta)" if soft else ">= 0"
    checks = [
        (traced_in_range(params.beta, low=0.0, low_open=soft), "beta", rule),
        (
            traced_in_range(params.discount, low=0.0, high=1.0),
            "discount",
            "in [0, 1]",
        ),
    ]
    if max_budget is not None:
        checks.append(
            (
                traced_in_range(params.budget, low=0, high=max_budget),
                "budget",
                f"in 0..{max_budget} (the agent's max_budget; raise "
                "BudgetAgent(max_budget=...) or clip the budget)",
            )
        )
    return error_unless(params.beta, checks, where=where)


class PolicyState(NamedTuple):
    """The plan of a :class:`BoltzmannAgent`.

    Attributes:
        q_values: ``[S, A]`` planned action values.
        log_policy: ``[S, A]`` log-probabilities ``log_softmax(beta * q_values)``.
    """

    q_values: Float[Array, "S A"]
    log_policy: Float[Array, "S A"]


class BudgetState(NamedTuple):
    """The plans of a :class:`BudgetAgent` for every budget ``0..K``.

    Attributes:
        q_values: ``[K + 1, S, A]``, ``q_values[k]`` after ``k`` sweeps.
        log_policies: ``[K + 1, S, A]`` Boltzmann log-policies of each budget.
    """

    q_values: Float[Array, "K1 S A"]
    log_policies: Float[Array, "K1 S A"]


def _state_index(obs, where: str) -> Array:
    """``obs`` as an integer state index (a static dtype check: free under jit)."""
    return check_array(
        obs,
        "obs",
        where=where,
        dtype="int",
        hint="A tabular agent observes the state index (an env's tabular obs).",
    )


def _value_fn(soft: bool, beta):
    return functools.partial(soft_value, beta=beta) if soft else max_value


class BoltzmannAgent(AbstractPolicyAgent):
    """Boltzmann-rational planner: ``pi(a | s) = softmax_a(beta * Q(s, a))``.

    Attributes:
        num_iterations: value-iteration sweeps in ``init`` (static); enough to
            converge (or the planning horizon of a finite-horizon agent).
        soft: plan with the soft (max-ent) backup at ``beta`` instead of the hard
            maximum (static).

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> params = PlannerParams(line, StateGoal(2, 1.0, 0.1), beta=10.0,
        ...                        discount=1.0)
        >>> agent = BoltzmannAgent(num_iterations=5)
        >>> state = agent.init(jax.random.key(0), params)
        >>> [round(float(p), 3) for p in jnp.exp(agent.log_policy(state, 0, params))]
        [0.269, 0.731]
    """

    num_iterations: int = eqx.field(static=True)
    soft: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        check_static_int(self.num_iterations, "BoltzmannAgent.num_iterations", 1)

    def init(self, key: PRNGKey, params: PlannerParams) -> PolicyState:
        """Plan: ``PolicyState(q_values [S, A], log_policy [S, A])``.

        ``key`` is unused (planning is deterministic) but required by the contract.

        Example:
            >>> world = TabularMDP(jnp.ones((2, 2, 2)) / 2, jnp.zeros((2, 2)),
            ...                    jnp.zeros(2, bool))
            >>> params = PlannerParams(world, WorldReward(), 1.0, 0.9)
            >>> BoltzmannAgent(3).init(jax.random.key(0), params).log_policy.shape
            (2, 2)
        """
        where = "BoltzmannAgent.init"
        check_type(params, "params", PlannerParams, where=where)
        _check_plan_inputs(key, params, where, self.soft)
        beta = _checked_beta(params, where, self.soft)
        mdp = params.reward.apply(params.world)
        value_fn = _value_fn(self.soft, beta)
        q_values = value_iteration(
            mdp, params.discount, self.num_iterations, value_fn
        ).q_values
        return PolicyState(q_values, boltzmann_policy(q_values, beta))

    def log_policy(
        self, agent_state: PolicyState, obs: Int[Array, ""], params: PlannerParams
    ) -> Float[Array, "A"]:
        """``[A]`` row ``obs`` of the planned log-policy (all ``-inf`` off range).

        Example:
            >>> state = PolicyState(jnp.zeros((2, 2)), jnp.log(jnp.array(
            ...     [[0.5, 0.5], [0.1, 0.9]])))
            >>> probs = jnp.exp(BoltzmannAgent(1).log_policy(state, 1, None))
            >>> [round(float(p), 4) for p in probs]
            [0.1, 0.9]
        """
        obs = _state_index(obs, "BoltzmannAgent.log_policy")
        return _lookup(agent_state.log_policy, obs)


class BudgetAgent(AbstractPolicyAgent):
    """Budget-limited (L-IBM) agent: Boltzmann on the Q of ``budget`` sweeps.

    Attributes:
        max_budget: the largest budget ``K`` planned for in ``init`` (static).
        soft: soft backups at ``beta`` instead of hard maxima (static).

    Example:
        >>> line = TabularMDP(jnp.eye(3)[jnp.array([[0, 1], [0, 2], [1, 2]])],
        ...                   jnp.zeros((3, 2)), jnp.zeros(3, bool))
        >>> agent = BudgetAgent(max_budget=3)
        >>> def policy(budget):
        ...     params = BudgetParams(line, StateGoal(2, 1.0), 10.0, 1.0, budget)
        ...     state = agent.init(jax.random.key(0), params)
        ...     return jnp.exp(agent.log_policy(state, 0, params)).round(3)
        >>> policy(1), policy(2)  # the goal is two steps away
        (Array([0.5, 0.5], dtype=float32), Array([0., 1.], dtype=float32))
    """

    max_budget: int = eqx.field(static=True)
    soft: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        check_static_int(self.max_budget, "BudgetAgent.max_budget", 0)

    def init(self, key: PRNGKey, params: BudgetParams) -> BudgetState:
        """Plan every budget ``0..max_budget`` in one scan: a ``BudgetState``.

        Raises (also under ``jit``, through ``eqx.error_if``) when ``params.budget``
        lies outside ``0..max_budget``, ``params.beta < 0`` (``<= 0`` with
        ``soft=True``) or ``params.discount`` outside ``[0, 1]`` (NaN included).

        Example:
            >>> world = TabularMDP(jnp.ones((2, 2, 2)) / 2, jnp.zeros((2, 2)),
            ...                    jnp.zeros(2, bool))
            >>> params = BudgetParams(world, WorldReward(), 1.0, 0.9, 2)
            >>> BudgetAgent(4).init(jax.random.key(0), params).log_policies.shape
            (5, 2, 2)
        """
        where = "BudgetAgent.init"
        check_type(params, "params", BudgetParams, where=where)
        _check_plan_inputs(key, params, where, self.soft)
        budget = check_array(params.budget, "budget", where=where, ndim=0, dtype="int")
        value = concrete(budget)
        if value is not None and not 0 <= int(value) <= self.max_budget:
            raise ValueError(_budget_message(int(value), self.max_budget))
        beta = _checked_beta(params, where, self.soft, self.max_budget)
        mdp = params.reward.apply(params.world)
        value_fn = _value_fn(self.soft, beta)
        planned = budget_limited_planning(
            mdp, params.discount, beta, self.max_budget, value_fn
        )
        return BudgetState(planned.q_values, planned.log_policies)

    def log_policy(
        self, agent_state: BudgetState, obs: Int[Array, ""], params: BudgetParams
    ) -> Float[Array, "A"]:
        """``[A]`` log-policy of budget ``params.budget`` at state ``obs``.

        A budget or state off range gives ``-inf`` everywhere (zero probability).

        Example:
            >>> state = BudgetState(jnp.zeros((2, 1, 2)), jnp.log(jnp.array(
            ...     [[[0.5, 0.5]], [[0.2, 0.8]]])))
            >>> params = BudgetParams(TabularMDP(jnp.ones((1, 2, 1)),
            ...     jnp.zeros((1, 2)), jnp.zeros(1, bool)), WorldReward(), 1.0, 1.0, 1)
            >>> probs = jnp.exp(BudgetAgent(1).log_policy(state, 0, params))
            >>> [round(float(p), 4) for p in probs]
            [0.2, 0.8]
        """
        obs = _state_index(obs, "BudgetAgent.log_policy")
        return _lookup(_lookup(agent_state.log_policies, params.budget), obs)


def _budget_message(value: int, max_budget: int) -> str:
    return (
        f"BudgetAgent.init: `budget` must be in 0..{max_budget} (the agent's "
        f"max_budget), got {value}. Raise BudgetAgent(max_budget=...) or clip the "
        "budget."
    )
