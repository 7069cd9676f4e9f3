"""Reward inference: the posterior over linear reward weights, fitted with NUTS.

An agent's reward is linear in features, ``R_w(s, a) = R(s, a) + features[s, a] @ w``
(Ng and Russell, 2000; Abbeel and Ng, 2004), and it acts Boltzmann-rationally on the
soft Q-values of that reward (maximum-entropy IRL: Ziebart et al., 2008; Bayesian
IRL: Ramachandran and Amir, 2007):

    w                 ~ Normal(0, prior_scale^2 I)             # [F]
    Q_w               = soft_value_iteration(mdp with R_w, discount, beta, sweeps)
    log p(a | s, w)   = log_softmax(beta * Q_w(s, :))[a]
    log p(data | w)   = sum over observed (s_t, a_t) of log p(a_t | s_t, w)

The likelihood is one differentiable ``lax.scan`` of soft value iteration, so
numpyro's NUTS samples ``w`` directly. Only the ratio ``beta * w`` is identified by
actions, so ``beta`` is fixed (a known scale) rather than inferred.
"""

from typing import NamedTuple

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

from pinfer.inverse.checks import check_world
from pinfer.planning import (
    TabularMDP,
    boltzmann_policy,
    linear_reward,
    soft_value_iteration,
    with_reward,
)
from pinfer.types import Array, Bool, Float, Int, PRNGKey
from pinfer.validation import (
    check_array,
    check_finite,
    check_indices,
    check_key,
    check_scalar,
    check_static_int,
)

__all__ = [
    "RewardPosterior",
    "infer_reward_weights",
    "linear_reward_model",
    "reward_log_likelihood",
]


class RewardPosterior(NamedTuple):
    """NUTS draws of the reward weights.

    Attributes:
        weights: ``[num_chains, num_samples, F]`` posterior draws.
        num_divergent: number of divergent transitions after warm-up.
    """

    weights: Float[Array, "C N F"]
    num_divergent: Int[Array, ""]


def _check_inputs(
    where, mdp, features, states, actions, mask, beta, discount, num_iterations
):
    """Shapes and dtypes always; values (indices, finiteness, ranges) if concrete."""
    check_world(mdp, where)
    sizes = (mdp.num_states, mdp.num_actions)
    features = check_array(
        features,
        "features",
        where=where,
        dtype="float",
        shape=(*sizes, None),
        hint="features[s, a, f].",
    )
    check_finite(features, "features", where=where)
    actions = check_array(
        actions,
        "actions",
        where=where,
        dtype="int",
        ndim=(1, 2, 3, 4),
        hint="[..., T] action indices.",
    )
    mask = check_array(mask, "mask", where=where, dtype="bool", shape=actions.shape)
    states = check_array(states, "states", where=where, dtype="int")
    lead, num_steps = actions.shape[:-1], actions.shape[-1]
    if states.shape not in ((*lead, num_steps), (*lead, num_steps + 1)):
        raise ValueError(
            f"{where}: `states` must have shape {[*lead, num_steps]} (the state of "
            f"each step) or {[*lead, num_steps + 1]} to match `actions` "
            f"{list(actions.shape)}, got {list(states.shape)}."
        )
    states = states[..., :num_steps]
    axes = ("trajectory", "step") if actions.ndim == 2 else None
    check_indices(
        states, "states", sizes[0], where=where, mask=mask, axes=axes, what="state"
    )
    check_indices(
        actions, "actions", sizes[1], where=where, mask=mask, axes=axes, what="action"
    )
    check_scalar(
        beta,
        "beta",
        where=where,
        low=0.0,
        low_open=True,
        hint="beta is the (known) rationality scale of the soft planner.",
    )
    check_scalar(discount, "discount", where=where, low=0.0, high=1.0)
    num_iterations = check_static_int(num_iterations, "num_iterations", 0, where=where)
    return features, states, actions, mask, num_iterations


def _check_prior_scale(prior_scale, where):
    check_scalar(
        prior_scale,
        "prior_scale",
        where=where,
        low=0.0,
        low_open=True,
        hint="It is the prior standard deviation of each weight.",
    )


def _log_likelihood(
    mdp, features, states, actions, mask, weights, beta, discount, num_iterations
):
    reward = mdp.reward + linear_reward(features, weights)
    agent = with_reward(mdp, reward)
    q_values = soft_value_iteration(agent, discount, beta, num_iterations).q_values
    log_policy = boltzmann_policy(q_values, beta)
    # A (traced) index outside the world scores -inf: an impossible observation.
    chosen = log_policy.at[states, actions].get(
        mode="fill", fill_value=-jnp.inf, wrap_negative_indices=False
    )
    return jnp.sum(jnp.where(mask, chosen, 0.0))


def reward_log_likelihood(
    mdp: TabularMDP,
    features: Float[Array, "S A F"],
    states: Int[Array, "*batch T"],
    actions: Int[Array, "*batch T"],
    mask: Bool[Array, "*batch T"],
    weights: Float[Array, "F"],
    beta: Float[Array, ""] | float,
    discount: Float[Array, ""] | float,
    num_iterations: int,
) -> Float[Array, ""]:
    """Log-likelihood of observed actions under the soft-optimal policy of ``w``.

    Concrete inputs are checked first (an index out of range, a NaN feature or
    weight, ``beta <= 0`` raise, naming the argument and the value); inside
    ``jit`` a state or action index outside the world scores ``-inf`` (an
    impossible observation), never a wrapped-around index.

    Args:
        mdp: the world; ``features @ weights`` is added to ``mdp.reward``.
        features: ``[S, A, F]`` reward features.
        states: ``[..., T]`` state of each step (``[..., T + 1]`` visited states
            also work; the last one is ignored).
        actions: ``[..., T]`` actions.
        mask: ``[..., T]`` True for observed steps.
        weights: ``[F]`` reward weights (the parameter; differentiable).
        beta: rationality ``> 0``.
        discount: scalar in ``[0, 1]``.
        num_iterations: sweeps of soft value iteration (static).

    Returns:
        Scalar ``sum_t log pi_w(a_t | s_t)`` over observed steps.

    Example:
        >>> world = TabularMDP(jnp.eye(2)[jnp.array([[0, 1], [0, 1]])],
        ...                    jnp.zeros((2, 2)), jnp.zeros(2, bool))
        >>> features = jnp.eye(2)[jnp.array([[0, 1], [0, 1]])]  # arrive in 0 or 1
        >>> ll = reward_log_likelihood(world, features, jnp.array([0, 1]),
        ...                            jnp.array([1, 1]), jnp.array([True, True]),
        ...                            jnp.array([0.0, 1.0]), 2.0, 0.5, 30)
        >>> jnp.round(100 * jnp.exp(ll / 2))  # both steps move to the rewarded 1
        Array(88., dtype=float32)
    """
    where = "reward_log_likelihood"
    features, states, actions, mask, num_iterations = _check_inputs(
        where, mdp, features, states, actions, mask, beta, discount, num_iterations
    )
    weights = check_array(
        weights,
        "weights",
        where=where,
        dtype="float",
        shape=features.shape[-1:],
        hint="One weight per feature.",
    )
    check_finite(weights, "weights", where=where)
    return _log_likelihood(
        mdp, features, states, actions, mask, weights, beta, discount, num_iterations
    )


def linear_reward_model(
    mdp: TabularMDP,
    features: Float[Array, "S A F"],
    states: Int[Array, "*batch T"],
    actions: Int[Array, "*batch T"],
    mask: Bool[Array, "*batch T"],
    beta: Float[Array, ""] | float,
    discount: Float[Array, ""] | float,
    num_iterations: int,
    prior_scale: Float[Array, ""] | float = 1.0,
) -> None:
    """numpyro model: ``weights ~ Normal(0, prior_scale)`` and the action likelihood.

    The sample site is ``"weights"`` (shape ``[F]``); the likelihood enters as the
    factor ``"actions"`` (:func:`reward_log_likelihood`). Use it with any numpyro
    inference (NUTS, SVI) or see :func:`infer_reward_weights`.

    Example:
        >>> from numpyro.infer.util import log_density
        >>> world = TabularMDP(jnp.eye(2)[jnp.array([[0, 1], [0, 1]])],
        ...                    jnp.zeros((2, 2)), jnp.zeros(2, bool))
        >>> args = (world, jnp.ones((2, 2, 1)), jnp.array([0]), jnp.array([1]),
        ...         jnp.array([True]), 1.0, 0.5, 10)
        >>> log_joint, _ = log_density(linear_reward_model, args, {},
        ...                            {"weights": jnp.zeros(1)})
        >>> log_joint.round(4)  # N(0 | 0, 1) and a coin-flip action
        Array(-1.6121, dtype=float32)
    """
    where = "linear_reward_model"
    features, states, actions, mask, num_iterations = _check_inputs(
        where, mdp, features, states, actions, mask, beta, discount, num_iterations
    )
    _check_prior_scale(prior_scale, where)
    num_features = features.shape[-1]
    weights = numpyro.sample(
        "weights", dist.Normal(0.0, prior_scale).expand([num_features]).to_event(1)
    )
    log_likelihood = _log_likelihood(
        mdp, features, states, actions, mask, weights, beta, discount, num_iterations
    )
    numpyro.factor("actions", log_likelihood)


def infer_reward_weights(
    key: PRNGKey,
    mdp: TabularMDP,
    features: Float[Array, "S A F"],
    states: Int[Array, "*batch T"],
    actions: Int[Array, "*batch T"],
    mask: Bool[Array, "*batch T"],
    beta: Float[Array, ""] | float,
    discount: Float[Array, ""] | float,
    num_iterations: int,
    prior_scale: Float[Array, ""] | float = 1.0,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 1,
    progress: bool = False,
) -> RewardPosterior:
    """Sample the posterior of the reward weights with numpyro's NUTS.

    Chains run vectorised on one device. Check convergence (``num_divergent``,
    R-hat over chains with :mod:`pinfer.diagnostics`) before using the draws.

    Args:
        key: a ``jax.random.key``.
        mdp, features, states, actions, mask, beta, discount, num_iterations,
            prior_scale: as in :func:`linear_reward_model`.
        num_warmup: adaptation steps per chain.
        num_samples: kept draws per chain.
        num_chains: number of chains.
        progress: show numpyro's progress bar.

    Returns:
        ``RewardPosterior(weights [num_chains, num_samples, F], num_divergent)``.

    Example:
        >>> world = TabularMDP(jnp.eye(2)[jnp.array([[0, 1], [0, 1]])],
        ...                    jnp.zeros((2, 2)), jnp.zeros(2, bool))
        >>> features = jnp.eye(2)[jnp.array([[0, 1], [0, 1]])]
        >>> post = infer_reward_weights(
        ...     jax.random.key(0), world, features, jnp.zeros(20, int),
        ...     jnp.ones(20, int), jnp.ones(20, bool), 1.0, 0.5, 20,
        ...     num_warmup=100, num_samples=100)
        >>> post.weights.shape
        (1, 100, 2)
    """
    where = "infer_reward_weights"
    check_key(key, where=where)
    _check_inputs(
        where, mdp, features, states, actions, mask, beta, discount, num_iterations
    )
    _check_prior_scale(prior_scale, where)
    num_warmup = check_static_int(num_warmup, "num_warmup", 0, where=where)
    num_samples = check_static_int(num_samples, "num_samples", 1, where=where)
    num_chains = check_static_int(num_chains, "num_chains", 1, where=where)
    kernel = NUTS(linear_reward_model)
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="vectorized",
        progress_bar=progress,
    )
    mcmc.run(
        key,
        mdp,
        features,
        states,
        actions,
        mask,
        beta,
        discount,
        num_iterations,
        prior_scale,
        extra_fields=("diverging",),
    )
    weights = mcmc.get_samples(group_by_chain=True)["weights"]
    diverging = mcmc.get_extra_fields(group_by_chain=True)["diverging"]
    return RewardPosterior(weights, jnp.sum(diverging))
