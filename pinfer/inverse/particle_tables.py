"""Running log-likelihood tables of online particle inverse planning.

With a hard-max planner the Q-values do not depend on beta, so the log-likelihood of
the history under ``(g, k, beta)`` is a smooth function of ``x = log beta`` alone for
each of the ``G x K`` (goal, budget) pairs. The filter keeps it on a grid of ``B``
values ``x_b`` together with its slope, updated by each observed step in
``O(G K B A)``::

    L[g, k, b] += b_b Q[g, k, s, a] - logsumexp_a' b_b Q[g, k, s, a']    (b_b = e^x_b)
    D[g, k, b] += b_b (Q[g, k, s, a] - sum_a' pi(a') Q[g, k, s, a'])     dL / dx

so a step costs the same at step 200 as at step 10. Between grid values the tables
are read by cubic Hermite interpolation (value and slope at both ends; error
``O(h^4)`` in the grid spacing ``h``), outside the grid by the tangent at the nearest
end. The interpolated value is a *proposal*: the rejuvenation move that uses it
(:func:`pinfer.inverse.gibbs_goal_budget_move`) corrects with each particle's exact
log-likelihood, ``O(t A)`` per particle (:func:`particle_log_likelihood`).
"""

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from pinfer.types import Array, Bool, Float, Int, Scalar

GRID_POINTS = 17
GRID_HALF_WIDTH = 4.0  # in prior standard deviations of log beta


def default_log_beta_grid(loc: Scalar, scale: Scalar) -> Float[Array, " B"]:
    """``loc + scale * linspace(-4, 4, 17)``: the prior's +-4 sd in 17 steps."""
    offsets = jnp.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS)
    loc, scale = jnp.asarray(loc), jnp.asarray(scale)
    return (loc + scale * offsets).astype(jnp.result_type(loc, scale, float))


def step_tables(
    q_tables: Float[Array, "G K S A"],
    state_index: Int[Array, ""],
    action: Int[Array, ""],
    log_beta_grid: Float[Array, " B"],
) -> tuple[Float[Array, "G K B"], Float[Array, "G K B"]]:
    """One step's log-likelihood and its slope in ``log beta`` on the grid."""
    q = q_tables[:, :, state_index][:, :, None, :]  # [G, K, 1, A]
    beta = jnp.exp(log_beta_grid).astype(q.dtype)[:, None]  # [B, 1]
    log_pi = jax.nn.log_softmax(beta * q, axis=-1)  # [G, K, B, A]
    log_lik = log_pi[..., action]
    # 0 * -inf is NaN: impossible actions (Q = -inf) carry no probability.
    pi = jnp.exp(log_pi)
    mean_q = jnp.sum(jnp.where(pi > 0, pi * q, 0.0), axis=-1)
    slope = beta[:, 0] * (q[..., action] - mean_q)
    return log_lik, jnp.where(jnp.isfinite(log_lik), slope, 0.0)


def scratch_tables(
    q_tables: Float[Array, "G K S A"],
    states: Int[Array, " T"],
    actions: Int[Array, " T"],
    mask: Bool[Array, " T"],
    log_beta_grid: Float[Array, " B"],
) -> tuple[Float[Array, "G K B"], Float[Array, "G K B"]]:
    """The tables rescored from the whole history (``O(G K B T A)``)."""
    per_step = jax.vmap(step_tables, in_axes=(None, 0, 0, None))
    log_lik, slope = per_step(q_tables, states, actions, log_beta_grid)
    keep = mask[:, None, None, None]
    return (
        jnp.sum(jnp.where(keep, log_lik, 0.0), axis=0),
        jnp.sum(jnp.where(keep, slope, 0.0), axis=0),
    )


def interpolate(
    log_lik: Float[Array, "G K B"],
    slope: Float[Array, "G K B"],
    log_beta_grid: Float[Array, " B"],
    log_beta: Scalar,
) -> Float[Array, "G K"]:
    """The tables at one ``log beta``: cubic Hermite inside, tangent outside."""
    num_grid = log_beta_grid.shape[0]
    j = jnp.clip(jnp.searchsorted(log_beta_grid, log_beta) - 1, 0, num_grid - 2)
    x0, x1 = log_beta_grid[j], log_beta_grid[j + 1]
    h = x1 - x0
    u = jnp.clip((log_beta - x0) / h, 0.0, 1.0)
    l0, l1 = log_lik[..., j], log_lik[..., j + 1]
    possible = jnp.isfinite(l0) & jnp.isfinite(l1)  # -inf does not depend on beta
    l0, l1 = jnp.where(possible, l0, 0.0), jnp.where(possible, l1, 0.0)
    d0, d1 = slope[..., j], slope[..., j + 1]
    cubic = (
        (2 * u**3 - 3 * u**2 + 1) * l0
        + (u**3 - 2 * u**2 + u) * h * d0
        + (-2 * u**3 + 3 * u**2) * l1
        + (u**3 - u**2) * h * d1
    )
    below = l0 + (log_beta - x0) * d0
    above = l1 + (log_beta - x1) * d1
    value = jnp.where(log_beta < x0, below, jnp.where(log_beta > x1, above, cubic))
    return jnp.where(possible, value, -jnp.inf)


def gather_history(
    q_tables: Float[Array, "G K S A"],
    goal: Int[Array, " N"],
    budget: Int[Array, " N"],
    states: Int[Array, " T"],
    actions: Int[Array, " T"],
) -> tuple[Float[Array, "N T A"], Float[Array, "N T"]]:
    """Each particle's Q-values along the history and those of the actions taken."""
    rows = q_tables[goal[:, None], budget[:, None], states[None, :]]
    taken = jnp.take_along_axis(rows, actions[None, :, None], axis=-1)[..., 0]
    return rows, taken


def particle_log_likelihood(
    rows: Float[Array, "N T A"],
    taken: Float[Array, "N T"],
    mask: Bool[Array, " T"],
    log_beta: Float[Array, " N"],
) -> Float[Array, " N"]:
    """``sum_t mask_t (b Q_taken - logsumexp_a b Q)`` for each particle (exact)."""
    beta = jnp.exp(log_beta)[:, None]
    per_step = beta * taken - logsumexp(beta[..., None] * rows, axis=-1)
    return jnp.sum(jnp.where(mask, per_step, 0.0), axis=-1)
