"""Simulate any state-space model: states and observations from its own sampler.

For a model ``x_0 ~ mu``, ``x_t ~ f_t(. | x_{t-1})``, ``y_t ~ g_t(. | x_t)``
(:class:`~pinfer.smc.ssm.AbstractStateSpaceModel` with ``sample_observation``)::

    x_0 ~ sample_initial(key_init)                       (not returned)
    for t = 0..T-1:                                      one lax.scan
        key_x, key_y = split(step_keys[t])
        x_t = sample_transition(key_x, x_{t-1}, t)
        y_t = sample_observation(key_y, x_t, t)
    return (x_{0:T-1}, y_{0:T-1})

so ``observations[t]`` observes the state after ``t + 1`` transitions, the convention
the filters use. States and observations may be any pytrees (discrete, structured).
"""

from typing import Any

import jax
import jax.numpy as jnp

from pinfer.smc._checks import check_model
from pinfer.smc.ssm import prepared
from pinfer.types import ArrayTree, PRNGKey
from pinfer.validation import check_key, check_static_int

__all__ = ["simulate"]


def simulate(key: PRNGKey, model: Any, num_steps: int) -> tuple[ArrayTree, ArrayTree]:
    """Draw ``(states, observations)`` of ``num_steps`` steps from a state-space model.

    Jittable with ``num_steps`` static; vmappable over keys and model parameters.
    The model is prepared once (:func:`~pinfer.smc.ssm.prepared`).

    Args:
        key: PRNG key.
        model: a state-space model implementing ``sample_initial``,
            ``sample_transition`` and ``sample_observation``.
        num_steps: ``T``, a positive Python int.

    Returns:
        ``(states, observations)``: pytrees like one state and one observation with
        a leading axis ``T`` (the prior draw ``x_0`` is not returned).

    Raises:
        TypeError / ValueError: for a key that is not a PRNG key, a ``num_steps``
            that is not a positive int, or a model without those methods.

    Example:
        >>> from pinfer.models.linear_gaussian import random_linear_gaussian
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> states, observations = simulate(jax.random.key(1), model, 100)
        >>> states.shape, observations.shape
        ((100, 4), (100, 2))
    """
    check_key(key, where="simulate")
    num_steps = check_static_int(num_steps, "num_steps", 1, where="simulate")
    check_model(
        model,
        "simulate",
        ("sample_initial", "sample_transition", "sample_observation"),
    )
    model = prepared(model)
    key_init, key_steps = jax.random.split(key)

    def one_step(x_prev, inputs):
        key_t, t = inputs
        key_x, key_y = jax.random.split(key_t)
        x = model.sample_transition(key_x, x_prev, t)
        return x, (x, model.sample_observation(key_y, x, t))

    inputs = (
        jax.random.split(key_steps, num_steps),
        jnp.arange(num_steps, dtype=jnp.int32),
    )
    _, (states, observations) = jax.lax.scan(
        one_step, model.sample_initial(key_init), inputs
    )
    return states, observations
