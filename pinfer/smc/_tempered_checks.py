"""Input checks of :func:`pinfer.smc.tempered_smc`, run before anything is traced."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.types import ArrayTree

__all__ = ["check_options", "check_particles", "check_scalar_fn"]


def check_particles(particles: ArrayTree) -> int:
    leaves = jax.tree.leaves(particles)
    if not leaves:
        raise ValueError("initial_particles is empty; pass an array of shape [N, d].")
    if len(leaves) == 1 and hasattr(particles, "ndim") and particles.ndim != 2:
        raise ValueError(
            "initial_particles must have shape [N, d] (one row per particle), got "
            f"shape {tuple(particles.shape)}. For a scalar parameter use shape [N, 1]; "
            "for structured particles pass a pytree whose leaves share the axis N."
        )
    shapes = [tuple(jnp.shape(leaf)) for leaf in leaves]
    if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
        raise ValueError(
            "every leaf of initial_particles needs the same leading particle axis N, "
            f"got leaf shapes {shapes}."
        )
    dtypes = {str(jnp.result_type(leaf)) for leaf in leaves}
    if not all(jnp.issubdtype(jnp.result_type(leaf), jnp.floating) for leaf in leaves):
        raise TypeError(
            f"initial_particles must be floating point, got dtypes {sorted(dtypes)}; "
            "cast with `.astype(jnp.float32)`."
        )
    if shapes[0][0] < 2:
        raise ValueError(
            f"tempered SMC needs at least 2 particles, got {shapes[0][0]}."
        )
    return shapes[0][0]


def check_scalar_fn(fn: Callable, name: str, particles: ArrayTree) -> None:
    one = jax.tree.map(lambda leaf: leaf[0], particles)
    out = jax.eval_shape(fn, one)
    if getattr(out, "shape", None) != ():
        raise ValueError(
            f"{name} must map one particle (no N axis) to a scalar, got output "
            f"{out}. Reduce over data points inside it; tempered SMC vmaps it over N."
        )


def _concrete(x: Any) -> Any:
    """``x`` as a host value, or ``None`` when it is traced (checked only if known)."""
    leaves = jax.tree.leaves(x)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return None
    return jax.device_get(x)


def check_options(target_ess: Any, temperatures: Any, max_steps: int) -> None:
    t = _concrete(target_ess)
    if t is not None and not (jnp.ndim(t) == 0 and 0.0 < float(t) < 1.0):
        raise ValueError(
            f"target_ess is a fraction of the particles and must lie in (0, 1), got "
            f"{t!r}; 0.5 is the usual choice."
        )
    if int(max_steps) < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}.")
    if temperatures is None:
        return
    if jnp.ndim(temperatures) != 1 or jnp.shape(temperatures)[0] < 1:
        raise ValueError(
            "temperatures must be a 1-D schedule [K], got shape "
            f"{jnp.shape(temperatures)}."
        )
    sched = _concrete(temperatures)
    if sched is None:
        return
    sched = np.asarray(sched, dtype=np.float64)
    increasing = bool(np.all(np.diff(sched) > 0))
    if not (increasing and float(sched[0]) > 0 and float(sched[-1]) == 1.0):
        raise ValueError(
            "temperatures must increase strictly from above 0 to exactly 1, got "
            f"{sched}. For K equal steps use `jnp.linspace(0, 1, K + 1)[1:]`."
        )
