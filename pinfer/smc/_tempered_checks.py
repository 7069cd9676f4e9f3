"""Input checks of :func:`pinfer.smc.tempered_smc`, run before anything is traced."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pinfer.smc.mcmc import MCMCKernel
from pinfer.types import Array, ArrayTree
from pinfer.validation import (
    check_array,
    check_callable,
    check_finite,
    check_fraction,
    check_static_int,
    check_type,
    concrete,
)

__all__ = [
    "check_options",
    "check_particles",
    "check_scalar_fn",
    "is_degenerate",
]


def check_particles(particles: ArrayTree, where: str = "tempered_smc") -> int:
    """``N``, after checking the leading axis, dtype, values and diversity."""
    leaves = jax.tree.leaves(particles)
    if not leaves:
        raise ValueError(
            f"{where}: `initial_particles` is empty; pass an array of shape [N, d]."
        )
    if len(leaves) == 1 and hasattr(particles, "ndim") and particles.ndim != 2:
        raise ValueError(
            f"{where}: `initial_particles` must have shape [N, d] (one row per "
            f"particle), got shape {tuple(particles.shape)}. For a scalar parameter "
            "use shape [N, 1]; for structured particles pass a pytree whose leaves "
            "share the axis N."
        )
    shapes = [tuple(jnp.shape(leaf)) for leaf in leaves]
    if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
        raise ValueError(
            f"{where}: every leaf of `initial_particles` needs the same leading "
            f"particle axis N, got leaf shapes {shapes}."
        )
    for leaf in leaves:
        check_array(leaf, "initial_particles", where=where, dtype="float")
        check_finite(leaf, "initial_particles", where=where, hint=_DRAWS)
    if shapes[0][0] < 2:
        raise ValueError(
            f"{where}: tempered SMC needs at least 2 particles, got {shapes[0][0]}."
        )
    flat = concrete(_flat(particles)) if not _traced(particles) else None
    if flat is not None and bool(np.all(flat == flat[:1])):
        raise ValueError(
            f"{where}: `initial_particles` are all equal (one point repeated "
            f"{shapes[0][0]} times, the first is {_first(flat)}); tempered SMC "
            "needs independent draws from the prior: from one point the particles "
            "never spread and the evidence is the likelihood at that point. " + _DRAWS
        )
    return shapes[0][0]


_DRAWS = "Draw them from the prior, e.g. prior_sd * jax.random.normal(key, (N, d))."


def _first(flat: np.ndarray) -> str:
    row = flat[0]
    return str(row.tolist()) if row.size <= 6 else f"a vector of {row.size} numbers"


def _traced(tree: ArrayTree) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


def _flat(particles: ArrayTree) -> Array:
    leaves = jax.tree.leaves(particles)
    num = jnp.shape(leaves[0])[0]
    return jnp.concatenate([jnp.reshape(leaf, (num, -1)) for leaf in leaves], axis=1)


def is_degenerate(particles: ArrayTree) -> Array:
    """Whether every particle equals the first (jittable; the traced-input flag)."""
    flat = _flat(particles)
    return jnp.all(flat == flat[:1])


def check_scalar_fn(
    fn: Callable, name: str, particles: ArrayTree, where: str = "tempered_smc"
) -> None:
    check_callable(fn, name, where=where)
    one = jax.tree.map(lambda leaf: leaf[0], particles)
    out = jax.eval_shape(fn, one)
    if getattr(out, "shape", None) != ():
        raise ValueError(
            f"{where}: `{name}` must map one particle (no N axis) to a scalar, got "
            f"output {out}. Reduce over data points inside it; tempered SMC vmaps it "
            "over N."
        )


def check_options(
    target_ess: Any,
    temperatures: Any,
    max_steps: Any,
    *,
    where: str = "tempered_smc",
    mcmc_kernel: Any = None,
    num_mcmc_steps: Any = 1,
    resample_fn: Callable | None = None,
    num_bisection_steps: Any = 1,
) -> tuple[Any, int]:
    """Check the sampler's options; returns ``(target_ess, max_steps)``."""
    target_ess = check_fraction(
        target_ess, "target_ess", where=where, low_open=True, high_open=True
    )
    max_steps = check_static_int(max_steps, "max_steps", 1, where=where)
    check_static_int(num_mcmc_steps, "num_mcmc_steps", 1, where=where)
    check_static_int(num_bisection_steps, "num_bisection_steps", 1, where=where)
    if mcmc_kernel is not None:
        check_type(
            mcmc_kernel,
            "mcmc_kernel",
            MCMCKernel,
            where=where,
            hint="Build one with pinfer.smc.build_rwm() or build_hmc().",
        )
    check_callable(resample_fn, "resample_fn", where=where, optional=True)
    if temperatures is None:
        return target_ess, max_steps
    check_array(
        temperatures,
        "temperatures",
        where=where,
        ndim=1,
        dtype="number",
        hint="A schedule [K] increasing strictly to 1.",
    )
    if jnp.shape(temperatures)[0] < 1:
        raise ValueError(f"{where}: `temperatures` is empty; pass a schedule [K].")
    sched = concrete(temperatures)
    if sched is None:
        return target_ess, max_steps
    sched = np.asarray(sched, dtype=np.float64)
    increasing = bool(np.all(np.diff(sched) > 0))
    if not (increasing and float(sched[0]) > 0 and float(sched[-1]) == 1.0):
        raise ValueError(
            f"{where}: `temperatures` must increase strictly from above 0 to exactly "
            f"1, got {sched}. For K equal steps use `jnp.linspace(0, 1, K + 1)[1:]`."
        )
    return target_ess, max_steps
