"""The world and agents of the particle inverse-planning benchmark.

A random grid world (walls on about 10 % of the cells; cells cut off from the
largest open region are walled in), deterministic moves up / down / left / right,
Boltzmann agents acting on hard-max Q-tables, and the coarse-grid exact posterior
the particle filter is compared with. See ``benchmarks/bench_inverse_particle.py``.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.inverse import goal_posterior
from pinfer.planning import TabularMDP

__all__ = ["agents", "coarse_posterior", "random_world", "simulate"]

LOG_BETA_LOC, LOG_BETA_SCALE = 0.0, 0.75
MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])  # up, down, left, right


def random_world(rng, size, wall_fraction=0.1):
    """Open cells of a random grid (largest connected open region) and its MDP."""
    open_ = rng.random((size, size)) >= wall_fraction
    seen = np.zeros_like(open_)
    best = []
    for r0, c0 in zip(*np.nonzero(open_), strict=True):
        if seen[r0, c0]:
            continue
        region, stack = [], [(r0, c0)]
        seen[r0, c0] = True
        while stack:
            r, c = stack.pop()
            region.append(r * size + c)
            for dr, dc in MOVES:
                r2, c2 = r + dr, c + dc
                if 0 <= r2 < size and 0 <= c2 < size and open_[r2, c2]:
                    if not seen[r2, c2]:
                        seen[r2, c2] = True
                        stack.append((r2, c2))
        best = max(best, region, key=len)
    free = np.zeros(size * size, bool)
    free[best] = True
    rows, cols = np.divmod(np.arange(size * size), size)
    target = np.empty((size * size, len(MOVES)), int)
    for a, (dr, dc) in enumerate(MOVES):
        r2, c2 = rows + dr, cols + dc
        inside = (r2 >= 0) & (r2 < size) & (c2 >= 0) & (c2 < size)
        nxt = np.where(
            inside, np.clip(r2, 0, size - 1) * size + np.clip(c2, 0, size - 1), 0
        )
        ok = inside & free[nxt] & free
        target[:, a] = np.where(ok, nxt, np.arange(size * size))
    transition = np.eye(size * size, dtype=np.float32)[target]
    mdp = TabularMDP(
        jnp.asarray(transition),
        jnp.zeros((size * size, len(MOVES))),
        jnp.zeros(size * size, bool),
    )
    return mdp, np.asarray(best), target


@functools.partial(jax.jit, static_argnames="num_steps")
def simulate(key, q_tables, target, goal, budget, beta, start, num_steps):
    """One Boltzmann agent acting on ``q_tables[goal, budget]`` for num_steps."""

    def body(state, key_t):
        action = jax.random.categorical(key_t, beta * q_tables[goal, budget, state])
        return target[state, action], (state, action)

    _, (states, actions) = jax.lax.scan(body, start, jax.random.split(key, num_steps))
    return states, actions


def coarse_posterior(q_tables, prior, states, actions, mask, num_grid):
    """Exact filter on goals x budgets x ``num_grid`` log-beta values (final step)."""
    log_beta = jnp.linspace(-2.5, 2.5, num_grid) * LOG_BETA_SCALE + LOG_BETA_LOC
    betas = jnp.exp(log_beta)
    log_pi = jax.nn.log_softmax(
        betas[None, :, None, None, None] * q_tables[:, None], axis=-1
    )  # [G, B, K, S, A]
    num_goals, _, num_budgets = log_pi.shape[:3]
    log_prior = jnp.broadcast_to(
        (-0.5 * ((log_beta - LOG_BETA_LOC) / LOG_BETA_SCALE) ** 2)[None, :, None],
        log_pi.shape[:3],
    )
    flat = log_pi.reshape(-1, *q_tables.shape[2:])

    def one(s, a, m):
        result = goal_posterior(flat, log_prior.ravel(), s, a, m)
        post = jnp.exp(result.log_posterior[-1]).reshape(log_pi.shape[:3])
        return post.sum((1, 2)), post.sum((0, 1)), jnp.sum(post.sum((0, 2)) * betas)

    return jax.vmap(one)(states, actions, mask)


def agents(rng, q_tables, target, free, num, num_steps):
    """``num`` prior-drawn agents from random open cells, ``num_steps`` steps each."""
    num_goals, num_budgets = q_tables.shape[:2]
    truth = (
        rng.integers(num_goals, size=num),
        rng.integers(num_budgets, size=num),
        rng.normal(LOG_BETA_LOC, LOG_BETA_SCALE, size=num),
    )
    starts = rng.choice(free, num)
    sim = jax.vmap(simulate, in_axes=(0, None, None, 0, 0, 0, 0, None))
    states, actions = sim(
        jax.random.split(jax.random.key(num_steps), num),
        q_tables,
        jnp.asarray(target),
        jnp.asarray(truth[0]),
        jnp.asarray(truth[1]),
        jnp.exp(jnp.asarray(truth[2], jnp.float32)),
        jnp.asarray(starts),
        num_steps,
    )
    return truth, states, actions
