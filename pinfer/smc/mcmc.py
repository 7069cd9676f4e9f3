"""MCMC kernels that rejuvenate SMC particles: random-walk Metropolis and HMC.

Each kernel moves a flat position ``x`` of shape ``[d]`` or, batched, a population of
shape ``[N, d]``: the steps draw the whole population's noise in one flat call (on CPU
this is several times faster than vmapping per-particle draws) and vmap the
one-particle move. The target is given as ``log_density_fn(x) -> (log_pi, aux)``:
``aux`` is any pytree computed alongside the density and carried in the state, so
tempered SMC keeps the prior and likelihood terms of the accepted point without
evaluating them again (use ``lambda x: (logp(x), ())`` for a plain density)::

    RWM  x' = x + L z,  z ~ N(0, I_d)                     (Metropolis et al., 1953)
         L = chol(c^2 Cov_w + eps I),  c = 2.38 / sqrt(d)   (Roberts et al., 1997)
    HMC  p ~ N(0, M),  M^{-1} = diag(inverse_mass)          (Duane et al., 1987)
         num_leapfrog_steps leapfrog steps of size step_size  (Neal, 2011)
    both accept with probability min(1, exp(log_pi(x') - log_pi(x) [+ kinetic terms]))

A proposal whose log-density is NaN is rejected, so a chain never walks into a NaN.

Inside SMC the kernel parameters are tuned from the weighted particle population
(Chopin, 2002; Buchholz, Chopin and Jacob, 2021): the random-walk covariance from the
weighted particle covariance, the HMC inverse mass from the weighted variances, and
optionally the HMC step size from the previous move's acceptance rate
(:mod:`pinfer.smc.tuning` builds the tuned kernels). A kernel is an
:class:`MCMCKernel`: ``init_params``/``tune`` act on the population, ``init``/``step``
on one particle.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from pinfer.smc.resampling import normalize
from pinfer.types import Array, ArrayTree, Bool, Float, PRNGKey, Scalar
from pinfer.validation import (
    check_array,
    check_callable,
    check_finite,
    check_key,
    check_range,
    check_static_int,
    check_type,
)

__all__ = [
    "HMCParams",
    "HMCState",
    "MCMCInfo",
    "MCMCKernel",
    "RWMParams",
    "RWMState",
    "hmc_init",
    "hmc_step",
    "rwm_init",
    "rwm_step",
    "weighted_mean_cov",
    "check_positive",
]

LogDensityFn = Callable[[Array], tuple[Array, ArrayTree]]


class RWMState(NamedTuple):
    """One random-walk chain: ``position [d]``, its ``log_density`` and ``aux``."""

    position: Float[Array, "dim"]
    log_density: Scalar
    aux: ArrayTree


class HMCState(NamedTuple):
    """One HMC chain: as :class:`RWMState` plus the gradient of the log-density."""

    position: Float[Array, "dim"]
    log_density: Scalar
    grad: Float[Array, "dim"]
    aux: ArrayTree


class MCMCInfo(NamedTuple):
    """``acceptance_rate = min(1, exp(log ratio))`` and whether the move was taken."""

    acceptance_rate: Scalar
    is_accepted: Bool[Array, ""]


class RWMParams(NamedTuple):
    """``scale_tril [d, d]``: lower Cholesky factor of the proposal covariance."""

    scale_tril: Float[Array, "dim dim"]


class HMCParams(NamedTuple):
    """``step_size`` (scalar) and the diagonal ``inverse_mass [d]``."""

    step_size: Scalar
    inverse_mass: Float[Array, "dim"]


class MCMCKernel(NamedTuple):
    """A rejuvenation kernel: population-level tuning plus a one-particle step.

    Attributes:
        init_params: ``(positions [N, d], log_weights [N]) -> params``.
        tune: ``(params, positions [N, d], log_weights [N], acceptance_rate) ->
            params``; ``acceptance_rate`` is the mean of the previous move (NaN
            before the first one).
        init: ``(position [d], log_density_fn) -> state`` (vmap it for a population).
        step: ``(key, states, log_density_fn, params) -> (states, MCMCInfo)``, for
            one chain or a population with leading axis ``N``.
    """

    init_params: Callable[..., Any]
    tune: Callable[..., Any]
    init: Callable[..., Any]
    step: Callable[..., Any]


def _accept(log_u: Array, log_ratio: Array, proposal: Any, state: Any):
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    accepted = log_u < log_ratio
    new = jax.tree.map(lambda a, b: jnp.where(accepted, a, b), proposal, state)
    info = MCMCInfo(jnp.exp(jnp.minimum(log_ratio, 0.0)), accepted)
    return new, info


def _noise(key: PRNGKey, num: int, dim: int, dtype: Any) -> tuple[Array, Array]:
    # One flat draw for the whole population: on CPU, threefry draws shaped [N, d]
    # (or vmapped per particle) are several times slower than the same bits drawn
    # 1-D. The barrier stops XLA from fusing the reshape back into the generator.
    key_move, key_accept = jax.random.split(key)
    z = jax.random.normal(key_move, (num * dim,), dtype)
    z = jax.lax.optimization_barrier(z).reshape(num, dim)
    log_u = jnp.log(jax.random.uniform(key_accept, (num,), dtype))
    return z, log_u


def rwm_init(position: Float[Array, "dim"], log_density_fn: LogDensityFn) -> RWMState:
    """Start a random-walk chain at ``position`` (one density evaluation).

    Example:
        >>> state = rwm_init(jnp.zeros(2), lambda x: (-0.5 * x @ x, ()))
    """
    log_density, aux = log_density_fn(position)
    return RWMState(position, log_density, aux)


def _rwm_move(state, z, log_u, log_density_fn, scale_tril):
    position = state.position + scale_tril @ z
    log_density, aux = log_density_fn(position)
    proposal = RWMState(position, log_density, aux)
    return _accept(log_u, log_density - state.log_density, proposal, state)


def rwm_step(
    key: PRNGKey,
    state: RWMState,
    log_density_fn: LogDensityFn,
    scale_tril: Float[Array, "dim dim"],
) -> tuple[RWMState, MCMCInfo]:
    """One Metropolis step with the Gaussian proposal ``x + scale_tril @ z``.

    Args:
        key: PRNG key.
        state: one chain's :class:`RWMState` (or a population, leading axis ``N``).
        log_density_fn: ``x [d] -> (log_density, aux)``.
        scale_tril: ``[d, d]`` lower Cholesky factor of the proposal covariance.

    Returns:
        ``(new_state, MCMCInfo)``, with the leading axis ``N`` for a population.

    Example:
        >>> fn = lambda x: (-0.5 * x @ x, ())
        >>> state = rwm_init(jnp.zeros(2), fn)
        >>> state, info = rwm_step(jax.random.key(0), state, fn, 0.5 * jnp.eye(2))
    """
    dim = _check_step("rwm_step", key, state, RWMState, log_density_fn)
    check_array(scale_tril, "scale_tril", where="rwm_step", shape=(dim, dim))
    check_array(scale_tril, "scale_tril", where="rwm_step", dtype="float")
    check_finite(scale_tril, "scale_tril", where="rwm_step")
    x = state.position
    if x.ndim == 1:
        z, log_u = _noise(key, 1, x.shape[0], x.dtype)
        return _rwm_move(state, z[0], log_u[0], log_density_fn, scale_tril)
    z, log_u = _noise(key, x.shape[0], x.shape[1], x.dtype)
    move = jax.vmap(lambda s, zi, ui: _rwm_move(s, zi, ui, log_density_fn, scale_tril))
    return move(state, z, log_u)


def _check_step(where, key, state, state_type, log_density_fn) -> int:
    """Checks shared by the two steps; returns the dimension ``d``."""
    check_key(key, where=where)
    check_type(state, "state", state_type, where=where)
    check_callable(log_density_fn, "log_density_fn", where=where)
    position = check_array(state.position, "state.position", where=where, ndim=(1, 2))
    return position.shape[-1]


def check_positive(value, name, where, shape=None) -> None:
    """A float array (or scalar) of ``shape``, finite and > 0 when concrete."""
    check_array(value, name, where=where, shape=shape, dtype="number")
    check_finite(value, name, where=where)
    check_range(value, name, where=where, low=0.0, low_open=True)


def hmc_init(position: Float[Array, "dim"], log_density_fn: LogDensityFn) -> HMCState:
    """Start an HMC chain at ``position`` (one value-and-gradient evaluation).

    Example:
        >>> state = hmc_init(jnp.zeros(2), lambda x: (-0.5 * x @ x, ()))
    """
    (log_density, aux), grad = jax.value_and_grad(log_density_fn, has_aux=True)(
        position
    )
    return HMCState(position, log_density, grad, aux)


def _hmc_move(state, z, log_u, log_density_fn, step_size, inverse_mass, num_steps):
    value_and_grad = jax.value_and_grad(log_density_fn, has_aux=True)
    p0 = z / jnp.sqrt(inverse_mass)

    def leapfrog(carry, _):
        x, p, grad, _, _ = carry
        p = p + 0.5 * step_size * grad
        x = x + step_size * inverse_mass * p
        (log_density, aux), grad = value_and_grad(x)
        p = p + 0.5 * step_size * grad
        return (x, p, grad, log_density, aux), None

    init = (state.position, p0, state.grad, state.log_density, state.aux)
    (x, p, grad, log_density, aux), _ = jax.lax.scan(
        leapfrog, init, length=num_steps, unroll=min(num_steps, 8)
    )
    kinetic0 = 0.5 * jnp.sum(inverse_mass * p0**2)
    kinetic = 0.5 * jnp.sum(inverse_mass * p**2)
    log_ratio = log_density - kinetic - state.log_density + kinetic0
    proposal = HMCState(x, log_density, grad, aux)
    return _accept(log_u, log_ratio, proposal, state)


def hmc_step(
    key: PRNGKey,
    state: HMCState,
    log_density_fn: LogDensityFn,
    step_size: Scalar,
    inverse_mass: Float[Array, "dim"],
    num_leapfrog_steps: int,
) -> tuple[HMCState, MCMCInfo]:
    """One HMC transition: fresh momentum, leapfrog trajectory, Metropolis test.

    Args:
        key: PRNG key.
        state: one chain's :class:`HMCState` (or a population, leading axis ``N``).
        log_density_fn: ``x [d] -> (log_density, aux)``, differentiable in ``x``.
        step_size: leapfrog step size (scalar, may be traced).
        inverse_mass: ``[d]`` diagonal of the inverse mass matrix ``M^{-1}``.
        num_leapfrog_steps: trajectory length in steps (static int).

    Returns:
        ``(new_state, MCMCInfo)``; gradients cost ``num_leapfrog_steps`` evaluations.

    Example:
        >>> fn = lambda x: (-0.5 * x @ x, ())
        >>> state = hmc_init(jnp.zeros(2), fn)
        >>> state, info = hmc_step(jax.random.key(0), state, fn, 0.3, jnp.ones(2), 5)
    """
    where = "hmc_step"
    dim = _check_step(where, key, state, HMCState, log_density_fn)
    check_positive(step_size, "step_size", where, shape=())
    check_positive(inverse_mass, "inverse_mass", where, shape=(dim,))
    check_static_int(num_leapfrog_steps, "num_leapfrog_steps", 1, where=where)
    x = state.position

    def move(s, zi, ui):
        return _hmc_move(
            s, zi, ui, log_density_fn, step_size, inverse_mass, num_leapfrog_steps
        )

    if x.ndim == 1:
        z, log_u = _noise(key, 1, x.shape[0], x.dtype)
        return move(state, z[0], log_u[0])
    z, log_u = _noise(key, x.shape[0], x.shape[1], x.dtype)
    return jax.vmap(move)(state, z, log_u)


def weighted_mean_cov(
    positions: Float[Array, "num_particles dim"],
    log_weights: Float[Array, "num_particles"],
) -> tuple[Float[Array, "dim"], Float[Array, "dim dim"]]:
    """Weighted mean and covariance ``sum_i w_i (x_i - m)(x_i - m)^T``.

    Particles of weight zero are ignored (even if their positions are not finite).

    Example:
        >>> m, c = weighted_mean_cov(jnp.array([[0.0], [2.0]]), jnp.zeros(2))
        >>> float(m[0]), float(c[0, 0])
        (1.0, 1.0)
    """
    w = jnp.exp(normalize(log_weights))
    keep = (w > 0)[:, None]
    positions = jnp.where(keep, positions, 0.0)
    # Full precision: GPUs multiply float32 matrices in TF32 by default.
    highest = jax.lax.Precision.HIGHEST
    mean = jnp.matmul(w, positions, precision=highest)
    centred = jnp.where(keep, positions - mean, 0.0)
    return mean, jnp.matmul((centred * w[:, None]).T, centred, precision=highest)


def __getattr__(name: str):
    """``build_rwm`` and ``build_hmc`` live in :mod:`pinfer.smc.tuning` (which imports
    this module); ``from pinfer.smc.mcmc import build_rwm`` still finds them."""
    if name in ("build_rwm", "build_hmc"):
        from pinfer.smc import tuning

        return getattr(tuning, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
