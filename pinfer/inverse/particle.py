"""Online particle inverse planning (SIPS-class): goals, budgets and continuous beta.

Sequential inverse plan search (Zhi-Xuan, Mann, Silver, Tenenbaum and Mansinghka,
2020, "Online Bayesian Goal Inference for Boundedly-Rational Planning Agents") keeps
a population of hypotheses about the agent and reweights it by every new action. A
particle here is ``(goal g, budget k, log beta)``; the model (see
:mod:`pinfer.inverse.particle_moves`) is ``pi(a | s) = softmax_a(beta Q[g, k, s])``
with ``Q`` planned once per ``(g, k)`` by hard-max value iteration, so a particle's
action log-probability is a lookup and a ``log_softmax`` over the actions and beta is
continuous and exact. One step is a resample-move step (Gilks and Berzuini, 2001)::

    log w_i   += log pi_{g_i, k_i, b_i}(a_t | s_t)
    log Z_t    = logsumexp_i(log w_i)          (weights normalised before the step)
    history   <- history + (s_t, a_t)
    L, D      += this step's log-likelihood and slope on the beta grid  [G, K, B]
    if ESS(w) < ess_threshold * N:
        resample (resample_fn), weights uniform
        repeat num_moves times: for move in moves:      # each leaves the
            particles = move(key, particles, history, prior)   # posterior invariant

The default moves are a (goal, budget) move proposed from the running tables and
Metropolis-corrected for the particle's exact beta, and a random-walk Metropolis move
on ``log beta``. Plain resampling (``moves=()``) loses a goal for good once no
particle holds it, and a goal that looked unlikely early on (a noisy step toward the
other branch of a fork) is often lost that way; the (goal, budget) move re-proposes
every goal from the whole history, so the population recovers when the later actions
favour it. Cost: ``O(G K B A + N A)`` every step; a step that resamples adds
``O(N G K)`` for the proposals and ``O(N t A)`` for the exact corrections at step
``t`` (the history is never rescored for all ``G x K`` pairs).

An action with probability zero under every particle (possible only with ``-inf``
entries in ``Q``) makes the log-evidence ``-inf`` and sets ``failed_step``; from then
on the state is held at the last step with finite evidence, as
:func:`pinfer.inverse.infer_goals` does. An out-of-range state or action inside
``jit`` (concrete ones raise) sets ``failed_step`` and makes the estimates NaN.
"""

from collections.abc import Callable, Sequence
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from pinfer.diagnostics import ess
from pinfer.inverse.particle_checks import (
    check_log_beta_grid,
    check_model,
    check_trajectory,
)
from pinfer.inverse.particle_moves import DEFAULT_MOVES
from pinfer.inverse.particle_step import (
    init_kernel,
    particle_inverse_init,
    particle_inverse_step,
    split_options,
    step_kernel,
)
from pinfer.inverse.particle_types import (
    InverseParticles,
    MoveFn,
    ParticleInverseInfo,
    ParticleInverseResult,
    ParticleInverseState,
    ParticlePrior,
)
from pinfer.smc.resampling import multinomial, systematic
from pinfer.types import Array, Bool, Float, Int, PRNGKey, Scalar
from pinfer.validation import (
    check_callable,
    check_key,
    check_static_int,
    check_type,
    concrete,
)

__all__ = [
    "ParticleInverseInfo",
    "ParticleInverseResult",
    "ParticleInverseState",
    "particle_inverse_init",
    "particle_inverse_step",
    "particle_posterior_samples",
    "run_particle_inverse",
]


def _summaries(state: ParticleInverseState, num_goals: int, num_budgets: int):
    weights = jnp.exp(state.log_weights)
    particles = state.particles
    goal = _weighted_counts(particles.goal, weights, num_goals)
    budget = _weighted_counts(particles.budget, weights, num_budgets)
    beta_mean = jnp.sum(weights * jnp.exp(particles.log_beta))
    rows = (goal, budget, beta_mean, ess(state.log_weights))
    # After an out-of-range input (NaN evidence) no estimate is a number.
    invalid = jnp.isnan(state.log_evidence)
    return tuple(jnp.where(invalid, jnp.nan, row) for row in rows)


def _weighted_counts(labels, weights, size: int):
    # The total weight of each label as a masked reduction, not a scatter-add: on a
    # GPU a float scatter-add uses atomics, whose order (and rounding) changes from
    # run to run, and the result would not be reproducible for a fixed key.
    hits = labels[:, None] == jnp.arange(size, dtype=labels.dtype)
    return jnp.sum(jnp.where(hits, weights[:, None], 0), axis=0)


def run_particle_inverse(
    key: PRNGKey,
    q_tables: Float[Array, "G K S A"],
    states: Int[Array, " T"],
    actions: Int[Array, " T"],
    mask: Bool[Array, " T"],
    prior: ParticlePrior,
    *,
    num_particles: int,
    ess_threshold: float | Scalar = 0.5,
    resample_fn: Callable = systematic,
    moves: Sequence[MoveFn] = DEFAULT_MOVES,
    num_moves: int = 1,
    log_beta_grid: Float[Array, " B"] | None = None,
) -> ParticleInverseResult:
    """Filter one (padded, masked) trajectory with :func:`particle_inverse_step`.

    One ``lax.scan``; padded steps (``mask[t] = False``) leave the state unchanged
    and are not checked. Jit it with the keyword arguments static
    (``functools.partial`` then ``jax.jit``) and ``jax.vmap`` over keys and
    trajectories; ``q_tables`` and ``prior`` are ordinary arguments, so a batch of
    layouts is a vmap too. The transition probabilities are the same for every
    hypothesis, so they are left out of the evidence; ``states`` may hold ``T + 1``
    visited states (the last is ignored). Concrete states and actions out of range
    raise, naming the step; inside ``jit`` they set ``failed_step``. Under
    ``jax.vmap`` the resampling decision (a ``lax.cond``) runs both branches, so
    every step pays for the rejuvenation moves; ``jax.lax.map`` over trajectories
    (without ``batch_size``, which vmaps) keeps them to the steps that resample.

    Args:
        key: PRNG key.
        q_tables: ``[G, K, S, A]`` Q-values (:func:`goal_q_tables`).
        states: ``[T]`` (or ``[T + 1]``) int states, ``T >= 1``.
        actions: ``[T]`` int actions.
        mask: ``[T]`` bool, True for observed steps.
        prior: :class:`ParticlePrior`.
        num_particles: ``N`` (static).
        ess_threshold, resample_fn, moves, num_moves: as in
            :func:`particle_inverse_step`.
        log_beta_grid: as in :func:`particle_inverse_init`.

    Returns:
        :class:`ParticleInverseResult` with ``[T + 1]`` rows of estimates.

    Example:
        >>> q = jnp.zeros((2, 1, 3, 2)).at[0, 0, :, 0].set(2.0)
        >>> result = run_particle_inverse(
        ...     jax.random.key(0), q, jnp.zeros(4, int), jnp.zeros(4, int),
        ...     jnp.ones(4, bool), uniform_prior(2, 1), num_particles=200)
        >>> result.goal_posterior.shape, int(result.failed_step)
        ((5, 2), -1)
        >>> bool(result.goal_posterior[-1, 0] > 0.8)  # action 0 favours goal 0
        True
    """
    where = "run_particle_inverse"
    check_key(key, where=where)
    num_goals, num_budgets, num_states, num_actions = check_model(
        q_tables, prior, where
    )
    states, actions, mask = check_trajectory(
        states, actions, mask, num_states, num_actions, where
    )
    num_particles = check_static_int(num_particles, "num_particles", 1, where=where)
    threshold, options = split_options(
        ess_threshold, resample_fn, moves, num_moves, where
    )
    if log_beta_grid is not None:
        check_log_beta_grid(log_beta_grid, where)
    return _run(
        key,
        q_tables,
        states,
        actions,
        mask,
        prior,
        log_beta_grid,
        threshold,
        num_particles=num_particles,
        options=options,
    )


@partial(jax.jit, static_argnames=("num_particles", "options"))
def _run(
    key,
    q_tables,
    states,
    actions,
    mask,
    prior,
    log_beta_grid,
    threshold,
    *,
    num_particles,
    options,
):
    num_goals, num_budgets = q_tables.shape[:2]
    num_steps = actions.shape[0]
    key_init, key_steps = jax.random.split(key)
    state = init_kernel(
        key_init,
        q_tables,
        prior,
        log_beta_grid,
        num_particles=num_particles,
        max_steps=num_steps,
    )

    def body(state, x):
        key_t, s_t, a_t, m_t = x
        new, info = step_kernel(
            key_t, state, s_t, a_t, q_tables, prior, threshold, options
        )
        state = jax.tree.map(lambda a, b: jnp.where(m_t, a, b), new, state)
        goal, budget, beta_mean, ess_now = _summaries(state, num_goals, num_budgets)
        row = (
            goal,
            budget,
            beta_mean,
            jnp.where(m_t & ~jnp.isnan(ess_now), info.ess, ess_now),
            state.log_evidence,
            info.resampled & m_t,
        )
        return state, row

    xs = (jax.random.split(key_steps, num_steps), states[:num_steps], actions, mask)
    final, rows = lax.scan(body, state, xs)
    goal, budget, beta_mean, ess_t, log_evidence, resampled = rows
    first = _summaries(state, num_goals, num_budgets)

    def stack(row0, rest):
        return jnp.concatenate([jnp.asarray(row0)[None], rest])

    return ParticleInverseResult(
        stack(first[0], goal),
        stack(first[1], budget),
        stack(first[2], beta_mean),
        stack(first[3], ess_t),
        stack(state.log_evidence, log_evidence),
        resampled,
        final,
        final.failed_step,
    )


def particle_posterior_samples(
    key: PRNGKey,
    state: ParticleInverseState,
    num_samples: int,
    resample_fn: Callable = multinomial,
) -> InverseParticles:
    """Draw hypotheses from the weighted particles (multinomial by default).

    A state that failed on an out-of-range input holds no posterior: concrete,
    it raises; inside ``jit`` the draws' ``log_beta`` is NaN.

    Args:
        key: PRNG key.
        state: a :class:`ParticleInverseState` (e.g. ``result.final_state``).
        num_samples: number of draws (static).
        resample_fn: ``(key, log_weights, num_samples) -> indices``.

    Returns:
        :class:`InverseParticles` with leading axis ``num_samples``.

    Example:
        >>> state = particle_inverse_init(jax.random.key(0), jnp.zeros((2, 1, 3, 2)),
        ...                               50, 5, uniform_prior(2, 1))
        >>> particle_posterior_samples(jax.random.key(1), state, 10).log_beta.shape
        (10,)
    """
    where = "particle_posterior_samples"
    check_key(key, where=where)
    check_type(state, "state", ParticleInverseState, where=where)
    num_samples = check_static_int(num_samples, "num_samples", 1, where=where)
    check_callable(resample_fn, "resample_fn", where=where)
    evidence = concrete(state.log_evidence)
    if evidence is not None and jnp.isnan(evidence):
        raise ValueError(
            f"{where}: `state` failed at step {int(state.failed_step)} (an "
            "out-of-range state or action) and holds no posterior."
        )
    indices = resample_fn(key, state.log_weights, num_samples)
    draws = jax.tree.map(lambda leaf: leaf[indices], state.particles)
    invalid = jnp.isnan(state.log_evidence)
    return draws._replace(log_beta=jnp.where(invalid, jnp.nan, draws.log_beta))
