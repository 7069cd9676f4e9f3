"""The streaming API of online particle inverse planning: init and one step.

See :mod:`pinfer.inverse.particle` for the algorithm. The public functions check
what they are given and call jitted kernels (``_init``, ``_step``), so an eager call
compiles once per shape and set of options, as a call under the user's ``jit`` does.
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
    check_options,
)
from pinfer.inverse.particle_moves import DEFAULT_MOVES
from pinfer.inverse.particle_tables import default_log_beta_grid, step_tables
from pinfer.inverse.particle_types import (
    History,
    InverseParticles,
    MoveFn,
    ParticleInverseInfo,
    ParticleInverseState,
    ParticlePrior,
)
from pinfer.smc.base import normalize_log_weights
from pinfer.smc.resampling import systematic
from pinfer.types import Array, Float, Int, PRNGKey, Scalar
from pinfer.validation import (
    check_array,
    check_indices,
    check_key,
    check_static_int,
    check_type,
    concrete,
)

__all__ = ["particle_inverse_init", "particle_inverse_step"]


@partial(jax.jit, static_argnames=("num_particles", "max_steps"))
def init_kernel(key, q_tables, prior, log_beta_grid, *, num_particles, max_steps):
    """:func:`particle_inverse_init` without checks."""
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
    if log_beta_grid is None:
        log_beta_grid = default_log_beta_grid(prior.log_beta_loc, prior.log_beta_scale)
    grid = jnp.asarray(log_beta_grid, dtype)
    tables = jnp.zeros((*q_tables.shape[:2], grid.shape[0]), dtype)
    empty = jnp.zeros(max_steps, jnp.int32)
    return ParticleInverseState(
        particles,
        jnp.full(shape, -jnp.log(num_particles), dtype),
        empty,
        empty,
        jnp.int32(0),
        jnp.zeros((), dtype),
        grid,
        tables,
        tables,
        jnp.int32(-1),
    )


def particle_inverse_init(
    key: PRNGKey,
    q_tables: Float[Array, "G K S A"],
    num_particles: int,
    max_steps: int,
    prior: ParticlePrior,
    log_beta_grid: Float[Array, " B"] | None = None,
) -> ParticleInverseState:
    """Draw ``num_particles`` hypotheses from the prior, with room for ``max_steps``.

    Args:
        key: PRNG key.
        q_tables: ``[G, K, S, A]`` Q-values (:func:`goal_q_tables`).
        num_particles: ``N`` (static).
        max_steps: capacity of the history (static); a step past it raises (or,
            inside ``jit``, sets ``failed_step``).
        prior: :class:`ParticlePrior`.
        log_beta_grid: ``[B]`` strictly increasing values of ``log beta`` on which
            the running tables are kept; None: ``loc + scale * linspace(-4, 4,
            17)`` of the prior. The grid changes the cost and the acceptance of
            the (goal, budget) move, never its target.

    Returns:
        A :class:`ParticleInverseState` with uniform weights and empty history.

    Example:
        >>> state = particle_inverse_init(jax.random.key(0), jnp.zeros((3, 2, 5, 4)),
        ...                               100, 20, uniform_prior(3, 2))
        >>> state.particles.goal.shape, state.states.shape, state.log_lik_table.shape
        ((100,), (20,), (3, 2, 17))
    """
    where = "particle_inverse_init"
    check_key(key, where=where)
    check_model(q_tables, prior, where)
    num_particles = check_static_int(num_particles, "num_particles", 1, where=where)
    max_steps = check_static_int(max_steps, "max_steps", 1, where=where)
    if log_beta_grid is not None:
        check_log_beta_grid(log_beta_grid, where)
    q_tables = jnp.asarray(q_tables)
    return init_kernel(
        key,
        q_tables,
        prior,
        log_beta_grid,
        num_particles=num_particles,
        max_steps=max_steps,
    )


def _action_log_prob(q_tables, particles, state_index, action):
    q = q_tables[particles.goal, particles.budget, state_index]  # [N, A]
    beta = jnp.exp(particles.log_beta)[:, None]
    return jax.nn.log_softmax(beta * q, axis=-1)[:, action]


def _rejuvenate(key, particles, log_w, history, prior, options):
    """Resample, then apply the moves ``num_moves`` times; ``(particles, rates)``."""
    _, resample_fn, moves, num_moves = options
    key_resample, key_move = jax.random.split(key)
    indices = resample_fn(key_resample, log_w, log_w.shape[0])
    particles = jax.tree.map(lambda leaf: leaf[indices], particles)
    rates = jnp.zeros(len(moves), log_w.dtype)
    for key_repeat in jax.random.split(key_move, num_moves):
        keys = jax.random.split(key_repeat, len(moves))
        for m, (move, key_m) in enumerate(zip(moves, keys, strict=True)):
            particles, rate = move(key_m, particles, history, prior)
            rates = rates.at[m].add(rate / num_moves)
    return particles, rates


def _hold_on_failure(state, new_state, bad, log_z):
    """``new_state``, or ``state`` held with ``failed_step`` set: after an action
    every particle rules out (log-evidence -inf) or an out-of-range input (NaN)."""
    already = state.failed_step >= 0
    ok = ~already & ~bad & jnp.isfinite(log_z)
    invalid = bad | jnp.isnan(log_z)
    evidence = jnp.where(invalid, jnp.nan, -jnp.inf)
    held = state._replace(
        log_evidence=jnp.where(already, state.log_evidence, evidence).astype(
            state.log_evidence.dtype
        ),
        failed_step=jnp.where(already, state.failed_step, state.num_observed).astype(
            jnp.int32
        ),
    )
    return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_state, held), ok


def step_kernel(key, state, state_index, action, q_tables, prior, threshold, options):
    """One step without checks; ``options`` from :func:`split_options`."""
    static_threshold, num_rates = options[0], len(options[2])
    num_particles = state.log_weights.shape[0]
    num_states, num_actions = q_tables.shape[2:]
    count = state.num_observed
    bad = (state_index < 0) | (state_index >= num_states) | (action < 0)
    bad = bad | (action >= num_actions) | (count >= state.states.shape[0])
    state_index = jnp.clip(state_index, 0, num_states - 1)
    action = jnp.clip(action, 0, num_actions - 1)
    log_pi = _action_log_prob(q_tables, state.particles, state_index, action)
    log_w, log_z = normalize_log_weights(state.log_weights + log_pi)
    states = state.states.at[count].set(state_index)
    actions = state.actions.at[count].set(action)
    d_lik, d_slope = step_tables(q_tables, state_index, action, state.log_beta_grid)
    history = History(
        q_tables,
        states,
        actions,
        jnp.arange(states.shape[0]) <= count,
        state.log_beta_grid,
        state.log_lik_table + d_lik,
        state.log_lik_slope + d_slope,
    )
    ess_now = ess(log_w)

    def rejuvenate(_):
        particles, rates = _rejuvenate(
            key, state.particles, log_w, history, prior, options
        )
        return particles, jnp.full_like(log_w, -jnp.log(num_particles)), rates

    def keep(_):
        return state.particles, log_w, jnp.zeros(num_rates, log_w.dtype)

    if static_threshold is not None and static_threshold >= 1:
        do_resample = jnp.array(True)
        particles, new_log_w, rates = rejuvenate(None)
    elif static_threshold is not None and static_threshold <= 0:
        do_resample = jnp.array(False)
        particles, new_log_w, rates = keep(None)
    else:
        if static_threshold is not None:
            threshold = static_threshold
        do_resample = ess_now < threshold * num_particles
        particles, new_log_w, rates = lax.cond(do_resample, rejuvenate, keep, None)

    new_state = ParticleInverseState(
        particles,
        new_log_w,
        states,
        actions,
        count + 1,
        state.log_evidence + log_z,
        state.log_beta_grid,
        history.log_lik_table,
        history.log_lik_slope,
        state.failed_step,
    )
    new_state, ok = _hold_on_failure(state, new_state, bad, log_z)
    return new_state, ParticleInverseInfo(ess_now, log_z, do_resample & ok, rates)


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
    Concrete inputs are checked (an out-of-range state or action, or a step past
    the state's ``max_steps``, raises); inside ``jit`` they set the state's
    ``failed_step`` and make its ``log_evidence`` NaN.

    Args:
        key: PRNG key.
        state: current :class:`ParticleInverseState`.
        state_index: the state ``s_t`` the agent acted in.
        action: the action ``a_t`` it took.
        q_tables: ``[G, K, S, A]`` Q-values (those the state was made with).
        prior: :class:`ParticlePrior` (the rejuvenation target's prior).
        ess_threshold: resample when ``ESS < ess_threshold * N``, a fraction in
            ``[0, 1]``: 1 resamples at every step, 0 never.
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
        >>> int(state.num_observed), int(state.failed_step)
        (1, -1)
    """
    where = "particle_inverse_step"
    check_key(key, where=where)
    check_type(state, "state", ParticleInverseState, where=where)
    num_goals, num_budgets, num_states, num_actions = check_model(
        q_tables, prior, where
    )
    num_grid = jnp.shape(state.log_beta_grid)[0]
    check_array(
        state.log_lik_table,
        "state.log_lik_table",
        where=where,
        shape=(num_goals, num_budgets, num_grid),
        hint="The state was made with other q_tables.",
    )
    for name, value, size in (
        ("state_index", state_index, num_states),
        ("action", action, num_actions),
    ):
        check_array(value, name, where=where, ndim=0, dtype="int")
        check_indices(value, name, size, where=where, what=name.split("_")[0])
    count, capacity = concrete(state.num_observed), state.states.shape[0]
    if count is not None and concrete(state.failed_step) == -1 and count >= capacity:
        raise ValueError(
            f"{where}: the state is full: it was made with `max_steps` = {capacity} "
            f"and has seen {int(count)} steps. Make it with a larger max_steps."
        )
    threshold, options = split_options(
        ess_threshold, resample_fn, moves, num_moves, where
    )
    return _step(key, state, state_index, action, q_tables, prior, threshold, options)


_step = jax.jit(step_kernel, static_argnames="options")


def split_options(ess_threshold, resample_fn, moves, num_moves, where):
    """Checked options: ``(traced threshold or None, static options)``.

    A concrete ``ess_threshold`` becomes a Python float in the static options (1
    and 0 then skip the ESS test); a traced one stays an argument.
    """
    num_moves = check_options(ess_threshold, resample_fn, moves, num_moves, where)
    value = concrete(ess_threshold)
    static = None if value is None else float(value)
    traced = ess_threshold if value is None else None
    return traced, (static, resample_fn, tuple(moves), num_moves)
