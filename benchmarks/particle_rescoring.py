"""The (goal, budget) move of particle inverse planning before the running tables.

A reference for the benchmark only: the exact Gibbs draw of ``(g, k)`` given each
particle's beta, rescoring every (goal, budget) pair against the whole history,
``O(N G K T A)`` per rejuvenation (``T`` the history's capacity), as
``pinfer.inverse.gibbs_goal_budget_move`` did before it read the filter's running
``[G, K, B]`` tables. Same signature as the library's moves, so it runs in the same
driver: ``run_particle_inverse(..., moves=RESCORING_MOVES)``.
"""

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.inverse import log_beta_rwm_move

__all__ = ["RESCORING_MOVES", "rescoring_gibbs_move"]


def rescoring_gibbs_move(key, particles, history, prior):
    """``(g, k) ~ p(g, k | beta, history)`` for each particle, from scratch."""
    q_all = history.q_tables[:, :, history.states]  # [G, K, T, A]
    index = history.actions[None, None, :, None]
    q_taken = jnp.take_along_axis(q_all, index, axis=-1)[..., 0]
    num_budgets = q_all.shape[1]
    log_prior = prior.log_goal[:, None] + prior.log_budget[None, :]
    keys = jax.random.split(key, particles.goal.shape[0])

    def one(key, log_beta):
        beta = jnp.exp(log_beta)
        per_step = beta * q_taken - logsumexp(beta * q_all, axis=-1)
        log_lik = jnp.sum(jnp.where(history.mask, per_step, 0.0), axis=-1)
        return jax.random.categorical(key, jnp.ravel(log_prior + log_lik))

    flat = jax.vmap(one)(keys, particles.log_beta).astype(jnp.int32)
    goal, budget = flat // num_budgets, flat % num_budgets
    changed = (goal != particles.goal) | (budget != particles.budget)
    return particles._replace(goal=goal, budget=budget), jnp.mean(changed)


RESCORING_MOVES = (rescoring_gibbs_move, log_beta_rwm_move)
