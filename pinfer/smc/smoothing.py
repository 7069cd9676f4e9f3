"""Backward-simulation particle smoother (forward filtering, backward simulation).

Given the filtering approximations ``{(x_t^i, W_t^i)}`` kept by
``particle_filter(..., keep_history=True)``, draw trajectories from the smoothing
distribution ``p(x_{0:T-1} | y_{0:T-1})``::

    J_{T-1} ~ Categorical(W_{T-1})
    for t = T-2 .. 0:
        J_t ~ Categorical(W_t^i f_{t+1}(x_{t+1}^{J_{t+1}} | x_t^i))    (over i)
    trajectory = (x_0^{J_0}, ..., x_{T-1}^{J_{T-1}})

(Godsill, Doucet and West, 2004). Each trajectory costs ``O(N T)`` evaluations of the
model's ``log_transition``; the ``M`` trajectories are vmapped. The trajectories
are conditionally independent given the filter, not independent of each other.
"""

from typing import Any

import jax
import jax.numpy as jnp

from pinfer.smc._checks import implements_or_has
from pinfer.smc.particle_filter import ParticleFilterResult
from pinfer.smc.ssm import prepared
from pinfer.types import ArrayTree, PRNGKey
from pinfer.validation import check_key, check_static_int, check_type

__all__ = ["backward_simulation"]


def backward_simulation(
    key: PRNGKey, model: Any, history: ParticleFilterResult, num_samples: int
) -> ArrayTree:
    """Draw ``num_samples`` smoothing trajectories by backward simulation.

    Args:
        key: PRNG key.
        model: the state-space model that was filtered; needs ``log_transition``.
        history: result of ``particle_filter(..., keep_history=True)`` (particles
            ``[T, N, ...]`` and log-weights ``[T, N]``).
        num_samples: number of trajectories ``M`` (a Python int).

    Returns:
        Trajectories: a pytree like one particle with leading axes ``[M, T]``.

    Raises:
        TypeError / ValueError: for a bad key, a ``history`` that is not a
            :class:`~pinfer.smc.ParticleFilterResult` with history, a model without
            ``log_transition``, or a ``num_samples`` that is not a positive int.

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian
        >>> from pinfer.smc import particle_filter, simulate
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> _, ys = simulate(jax.random.key(1), model, 20)
        >>> history = particle_filter(
        ...     jax.random.key(2), model, ys, 500, keep_history=True
        ... )
        >>> paths = backward_simulation(jax.random.key(3), model, history, 100)
        >>> paths.shape
        (100, 20, 4)
    """
    where = "backward_simulation"
    check_key(key, where=where)
    check_type(history, "history", ParticleFilterResult, where=where)
    if history.ancestors is None or jnp.ndim(history.log_weights) != 2:
        raise ValueError(
            f"{where}: `history` holds no history (log_weights of shape "
            f"{tuple(jnp.shape(history.log_weights))}); run "
            "particle_filter(..., keep_history=True) and pass its result."
        )
    if not implements_or_has(model, "log_transition"):
        raise ValueError(
            f"{where}: {type(model).__name__} does not implement `log_transition`, "
            "which backward simulation needs to reweight the filtering particles."
        )
    num_samples = check_static_int(num_samples, "num_samples", 1, where=where)

    num_steps = history.log_weights.shape[0]
    model = prepared(model)
    key_last, key_back = jax.random.split(key)
    last = jax.tree.map(lambda p: p[-1], history.particles)
    index = jax.random.categorical(
        key_last, history.log_weights[-1], shape=(num_samples,)
    )
    x_last = jax.tree.map(lambda p: p[index], last)

    def transition_logits(x_next, particles, t_next):
        return jax.vmap(lambda x: model.log_transition(x_next, x, t_next))(particles)

    def step(x_next, inputs):
        step_key, particles, log_weights, t = inputs
        logits = log_weights + jax.vmap(transition_logits, (0, None, None))(
            x_next, particles, t + 1
        )
        index = jax.random.categorical(step_key, logits, axis=-1)
        x = jax.tree.map(lambda p: p[index], particles)
        return x, x

    inputs = (
        jax.random.split(key_back, num_steps - 1),
        jax.tree.map(lambda p: p[:-1], history.particles),
        history.log_weights[:-1],
        jnp.arange(num_steps - 1, dtype=jnp.int32),
    )
    _, earlier = jax.lax.scan(step, x_last, inputs, reverse=True)
    paths = jax.tree.map(
        lambda e, x: jnp.concatenate([e, x[None]]), earlier, x_last
    )  # [T, M, ...]
    return jax.tree.map(lambda p: jnp.swapaxes(p, 0, 1), paths)
