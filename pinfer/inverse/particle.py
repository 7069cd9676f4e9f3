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
    if ESS(w) < ess_threshold * N:
        resample (resample_fn), weights uniform
        repeat num_moves times: for move in moves:      # each leaves the
            particles = move(key, particles, history)   # posterior invariant

The default moves are an exact Gibbs draw of ``(g, k)`` given beta and the history,
and a random-walk Metropolis move on ``log beta``. Plain resampling (``moves=()``)
loses a goal for good once no particle holds it, and a goal that looked unlikely
early on (a noisy step toward the other branch of a fork) is often lost that way;
the Gibbs move re-proposes every goal from the whole history, so the population
recovers when the later actions favour it. The rejuvenation cost is
``O(N G K t A)`` at step ``t``, paid only on the steps that resample.

An action with probability zero under every particle (possible only with ``-inf``
entries in ``Q``) makes the log-evidence ``-inf``; from then on the state is held at
the last step with finite evidence, as :func:`pinfer.inverse.infer_goals` does.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from pinfer.diagnostics import ess
from pinfer.inverse.particle_moves import (
    DEFAULT_MOVES,
    InverseParticles,
    MoveFn,
    ParticlePrior,
    _check_particle_model,
    history_tables,
)
from pinfer.smc.base import normalize_log_weights
from pinfer.smc.resampling import multinomial, systematic
from pinfer.types import Array, Bool, Float, Int, PRNGKey, Scalar

__all__ = [
    "ParticleInverseInfo",
    "ParticleInverseResult",
    "ParticleInverseState",
    "particle_inverse_init",
    "particle_inverse_step",
    "particle_posterior_samples",
    "run_particle_inverse",
]


class ParticleInverseState(NamedTuple):
    """Weighted particles and the history the rejuvenation moves need.

    Attributes:
        particles: :class:`InverseParticles` with leading axis ``N``.
        log_weights: ``[N]`` normalised log-weights.
        states: ``[T_max]`` observed states (entries ``>= num_observed`` unused).
        actions: ``[T_max]`` observed actions.
        num_observed: number of steps seen so far (int32 scalar).
        log_evidence: ``log p(a_0..a_{t-1} | s_0..s_{t-1})`` estimate.
    """

    particles: InverseParticles
    log_weights: Float[Array, " N"]
    states: Int[Array, " T"]
    actions: Int[Array, " T"]
    num_observed: Int[Array, ""]
    log_evidence: Scalar


class ParticleInverseInfo(NamedTuple):
    """Diagnostics of one step.

    Attributes:
        ess: effective sample size after reweighting, before any resampling.
        log_evidence_increment: ``log Z_t``.
        resampled: whether the step resampled and rejuvenated.
        move_rates: ``[len(moves)]`` mean acceptance (or change) rate of each move
            over the repeats; 0 when the step did not rejuvenate.
    """

    ess: Scalar
    log_evidence_increment: Scalar
    resampled: Bool[Array, ""]
    move_rates: Float[Array, " M"]


class ParticleInverseResult(NamedTuple):
    """Per-step posterior estimates of :func:`run_particle_inverse`.

    Attributes:
        goal_posterior: ``[T + 1, G]`` weighted goal counts (row 0: the prior draw).
        budget_posterior: ``[T + 1, K]`` weighted budget counts.
        beta_mean: ``[T + 1]`` posterior mean of beta.
        ess: ``[T + 1]`` ESS after each step's reweighting (``N`` at row 0).
        log_evidence: ``[T + 1]`` log-evidence estimate of the first ``t`` steps.
        resampled: ``[T]`` whether step ``t`` resampled (False on padding).
        final_state: the :class:`ParticleInverseState` after the last step.
    """

    goal_posterior: Float[Array, "T1 G"]
    budget_posterior: Float[Array, "T1 K"]
    beta_mean: Float[Array, " T1"]
    ess: Float[Array, " T1"]
    log_evidence: Float[Array, " T1"]
    resampled: Bool[Array, " T"]
    final_state: ParticleInverseState


def particle_inverse_init(
    key: PRNGKey,
    q_tables: Float[Array, "G K S A"],
    num_particles: int,
    max_steps: int,
    prior: ParticlePrior,
) -> ParticleInverseState:
    """Draw ``num_particles`` hypotheses from the prior, with room for ``max_steps``.

    Args:
        key: PRNG key.
        q_tables: ``[G, K, S, A]`` Q-values (:func:`goal_q_tables`).
        num_particles: ``N`` (static).
        max_steps: capacity of the history (static); a streaming user must not
            feed more steps than this (later steps would be left out of the
            rejuvenation target).
        prior: :class:`ParticlePrior`.

    Returns:
        A :class:`ParticleInverseState` with uniform weights and empty history.

    Example:
        >>> state = particle_inverse_init(jax.random.key(0), jnp.zeros((3, 2, 5, 4)),
        ...                               100, 20, uniform_prior(3, 2))
        >>> state.particles.goal.shape, state.states.shape
        ((100,), (20,))
    """
    _check_particle_model(q_tables, prior)
    if num_particles < 1 or max_steps < 1:
        raise ValueError(
            f"num_particles and max_steps must be >= 1, got {num_particles} and "
            f"{max_steps}."
        )
    key_goal, key_budget, key_beta = jax.random.split(key, 3)
    shape = (num_particles,)
    dtype = jnp.result_type(q_tables, 0.0)
    goal = jax.random.categorical(key_goal, prior.log_goal, shape=shape)
    budget = jax.random.categorical(key_budget, prior.log_budget, shape=shape)
    noise = jax.random.normal(key_beta, shape, dtype)
    log_beta = prior.log_beta_loc + prior.log_beta_scale * noise
    particles = InverseParticles(
        goal.astype(jnp.int32), budget.astype(jnp.int32), log_beta.astype(dtype)
    )
    log_weights = jnp.full(shape, -jnp.log(num_particles), dtype)
    empty = jnp.zeros(max_steps, jnp.int32)
    zero = jnp.zeros((), dtype)
    return ParticleInverseState(
        particles, log_weights, empty, empty, jnp.int32(0), zero
    )


def _action_log_prob(q_tables, particles, state_index, action):
    q = q_tables[particles.goal, particles.budget, state_index]  # [N, A]
    beta = jnp.exp(particles.log_beta)[:, None]
    return jax.nn.log_softmax(beta * q, axis=-1)[:, action]


def particle_inverse_step(
    key: PRNGKey,
    state: ParticleInverseState,
    state_index: Int[Array, ""],
    action: Int[Array, ""],
    q_tables: Float[Array, "G K S A"],
    prior: ParticlePrior,
    *,
    ess_threshold: float | Scalar = 0.5,
    resample_fn: Callable = systematic,
    moves: Sequence[MoveFn] = DEFAULT_MOVES,
    num_moves: int = 1,
) -> tuple[ParticleInverseState, ParticleInverseInfo]:
    """Reweight by one observed action; resample and rejuvenate if the ESS is low.

    The streaming API: feed ``(s_t, a_t)`` one at a time. See the module docstring.

    Args:
        key: PRNG key.
        state: current :class:`ParticleInverseState`.
        state_index: the state ``s_t`` the agent acted in.
        action: the action ``a_t`` it took.
        q_tables: ``[G, K, S, A]`` Q-values.
        prior: :class:`ParticlePrior` (the rejuvenation target's prior).
        ess_threshold: resample when ``ESS < ess_threshold * N``; a Python number
            ``>= 1`` always resamples, ``<= 0`` never does.
        resample_fn: ``(key, log_weights, N) -> indices``, e.g.
            :func:`pinfer.smc.systematic`.
        moves: rejuvenation moves applied after resampling, each
            ``(key, particles, history, prior) -> (particles, rate)`` leaving the
            posterior invariant; ``()`` is plain resampling (no rejuvenation).
        num_moves: how many times the sequence of moves is applied (static).

    Returns:
        ``(new_state, ParticleInverseInfo)``.

    Example:
        >>> q = jnp.zeros((2, 1, 3, 2)).at[0, 0, :, 0].set(1.0)
        >>> state = particle_inverse_init(jax.random.key(0), q, 50, 5,
        ...                               uniform_prior(2, 1))
        >>> state, info = particle_inverse_step(jax.random.key(1), state, 0, 0, q,
        ...                                     uniform_prior(2, 1))
        >>> int(state.num_observed)
        1
    """
    key_resample, key_move = jax.random.split(key)
    num_particles = state.log_weights.shape[0]
    log_pi = _action_log_prob(q_tables, state.particles, state_index, action)
    log_w, log_z = normalize_log_weights(state.log_weights + log_pi)
    count = state.num_observed
    states = state.states.at[count].set(state_index)
    actions = state.actions.at[count].set(action)
    ess_now = ess(log_w)
    num_rates = len(moves)

    def rejuvenate(_):
        indices = resample_fn(key_resample, log_w, num_particles)
        particles = jax.tree.map(lambda leaf: leaf[indices], state.particles)
        observed = jnp.arange(states.shape[0]) <= count
        history = history_tables(q_tables, states, actions, observed)
        rates = jnp.zeros(num_rates, log_w.dtype)
        for key_repeat in jax.random.split(key_move, num_moves):
            keys = jax.random.split(key_repeat, num_rates)
            for m, (move, key_m) in enumerate(zip(moves, keys, strict=True)):
                particles, rate = move(key_m, particles, history, prior)
                rates = rates.at[m].add(rate / num_moves)
        uniform = jnp.full_like(log_w, -jnp.log(num_particles))
        return particles, uniform, rates

    def keep(_):
        return state.particles, log_w, jnp.zeros(num_rates, log_w.dtype)

    if isinstance(ess_threshold, (int, float)) and ess_threshold >= 1:
        do_resample = jnp.array(True)
        particles, new_log_w, rates = rejuvenate(None)
    elif isinstance(ess_threshold, (int, float)) and ess_threshold <= 0:
        do_resample = jnp.array(False)
        particles, new_log_w, rates = keep(None)
    else:
        do_resample = ess_now < ess_threshold * num_particles
        particles, new_log_w, rates = lax.cond(do_resample, rejuvenate, keep, None)

    new_state = ParticleInverseState(
        particles, new_log_w, states, actions, count + 1, state.log_evidence + log_z
    )
    # Once the evidence is -inf (an impossible action) the state is held.
    ok = jnp.isfinite(log_z) & jnp.isfinite(state.log_evidence)
    held = state._replace(log_evidence=jnp.full_like(state.log_evidence, -jnp.inf))
    new_state = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_state, held)
    info = ParticleInverseInfo(ess_now, log_z, do_resample & ok, rates)
    return new_state, info


def _summaries(state: ParticleInverseState, num_goals: int, num_budgets: int):
    weights = jnp.exp(state.log_weights)
    particles = state.particles
    goal = _weighted_counts(particles.goal, weights, num_goals)
    budget = _weighted_counts(particles.budget, weights, num_budgets)
    return goal, budget, jnp.sum(weights * jnp.exp(particles.log_beta))


def _weighted_counts(labels, weights, size: int):
    # The total weight of each label as a masked reduction, not a scatter-add: on a
    # GPU a float scatter-add uses atomics, whose order (and rounding) changes from
    # run to run, and the result would not be reproducible for a fixed key.
    hits = labels[:, None] == jnp.arange(size, dtype=labels.dtype)
    return jnp.sum(jnp.where(hits, weights[:, None], 0), axis=0)


def _check_trajectory(states, actions, mask) -> None:
    num_steps = jnp.shape(actions)[0] if jnp.ndim(actions) == 1 else -1
    if (
        jnp.ndim(actions) != 1
        or jnp.shape(mask) != (num_steps,)
        or jnp.shape(states) not in ((num_steps,), (num_steps + 1,))
    ):
        raise ValueError(
            "run_particle_inverse takes one trajectory: states [T] or [T + 1], "
            f"actions [T], mask [T]; got {jnp.shape(states)}, {jnp.shape(actions)}, "
            f"{jnp.shape(mask)}. jax.vmap over trajectories for a batch."
        )


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
) -> ParticleInverseResult:
    """Filter one (padded, masked) trajectory with :func:`particle_inverse_step`.

    One ``lax.scan``; padded steps (``mask[t] = False``) leave the state unchanged.
    Jit it with the keyword arguments static (``functools.partial`` then
    ``jax.jit``) and ``jax.vmap`` over keys and trajectories; ``q_tables`` and
    ``prior`` are ordinary arguments, so a batch of layouts is a vmap too. The
    transition probabilities are the same for every hypothesis, so they are left
    out of the evidence; ``states`` may hold ``T + 1`` visited states (the last is
    ignored).

    Args:
        key: PRNG key.
        q_tables: ``[G, K, S, A]`` Q-values (:func:`goal_q_tables`).
        states: ``[T]`` (or ``[T + 1]``) states.
        actions: ``[T]`` actions.
        mask: ``[T]`` True for observed steps.
        prior: :class:`ParticlePrior`.
        num_particles: ``N`` (static).
        ess_threshold, resample_fn, moves, num_moves: as in
            :func:`particle_inverse_step`.

    Returns:
        :class:`ParticleInverseResult` with ``[T + 1]`` rows of estimates.

    Example:
        >>> q = jnp.zeros((2, 1, 3, 2)).at[0, 0, :, 0].set(2.0)
        >>> result = run_particle_inverse(
        ...     jax.random.key(0), q, jnp.zeros(4, int), jnp.zeros(4, int),
        ...     jnp.ones(4, bool), uniform_prior(2, 1), num_particles=200)
        >>> result.goal_posterior.shape
        (5, 2)
        >>> bool(result.goal_posterior[-1, 0] > 0.8)  # action 0 favours goal 0
        True
    """
    states, actions = jnp.asarray(states), jnp.asarray(actions)
    mask = jnp.asarray(mask).astype(bool)
    _check_trajectory(states, actions, mask)
    num_steps = actions.shape[0]
    num_goals, num_budgets = jnp.shape(q_tables)[:2]
    key_init, key_steps = jax.random.split(key)
    state = particle_inverse_init(key_init, q_tables, num_particles, num_steps, prior)

    def body(state, x):
        key_t, s_t, a_t, m_t = x
        new, info = particle_inverse_step(
            key_t,
            state,
            s_t,
            a_t,
            q_tables,
            prior,
            ess_threshold=ess_threshold,
            resample_fn=resample_fn,
            moves=moves,
            num_moves=num_moves,
        )
        state = jax.tree.map(lambda a, b: jnp.where(m_t, a, b), new, state)
        row = (
            *_summaries(state, num_goals, num_budgets),
            jnp.where(m_t, info.ess, ess(state.log_weights)),
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
        stack(ess(state.log_weights), ess_t),
        stack(state.log_evidence, log_evidence),
        resampled,
        final,
    )


def particle_posterior_samples(
    key: PRNGKey,
    state: ParticleInverseState,
    num_samples: int,
    resample_fn: Callable = multinomial,
) -> InverseParticles:
    """Draw hypotheses from the weighted particles (multinomial by default).

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
    indices = resample_fn(key, state.log_weights, num_samples)
    return jax.tree.map(lambda leaf: leaf[indices], state.particles)
