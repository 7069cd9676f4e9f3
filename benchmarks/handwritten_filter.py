"""The benchmark's reference: a hand-written bootstrap filter and a Kalman filter.

The problem is pinfer's linear-Gaussian state-space model
(``pinfer.models.linear_gaussian``):

    x_0 ~ N(m0, P0)                                     (the prior, before any data)
    x_t = F x_{t-1} + w_t,  w_t ~ N(0, Q),   y_t = G x_t + v_t,  v_t ~ N(0, R)

for ``t = 0..T-1``, so ``y_0`` observes ``x`` after one transition. Filters whose
first observation is of the initial state (``particles``, smcx, the filter below) start
from the law of that state, ``N(F m0, F P0 F' + Q)`` (:func:`first_state_law`): the
same model. Its exact log-evidence ``log p(y_{0:T-1})`` comes from a float64 NumPy
Kalman filter.

The filter is what a user would write by hand in about forty lines: one ``lax.scan``
over time, systematic resampling at every step, the evidence increment
``logsumexp(log w_t) - log N`` (the weights before reweighting are uniform):

    x ~ N(m1, P1);  log Z = lse(log g(y_0 | x)) - log N
    for t = 1..T-1:
        a = resample(log w);  x = F x[a] + chol(Q) eps
        log w = log g(y_t | x);  log Z += lse(log w) - log N

Two systematic resamplers: ``systematic_searchsorted`` (grid points ``(m + U) / N``
looked up in the cumulative weights, Carpenter, Clifford and Fearnhead, 1999) and
``systematic_scatter``, the same draw by offspring counts: particle ``i`` receives
``c_i = ceil(N C_i - U) - ceil(N C_{i-1} - U)`` copies, where ``C`` is the cumulative
weight, so slot ``m`` descends from ``#{i : ceil(N C_i - U) <= m}``, a scatter-add of
ones at the cumulative counts followed by a cumulative sum. In exact arithmetic both
return the same indices for the same ``U``.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

__all__ = [
    "LGProblem",
    "build_filter",
    "first_state_law",
    "kalman_log_evidence",
    "make_problem",
    "systematic_scatter",
    "systematic_searchsorted",
    "to_jax",
]


class LGProblem(NamedTuple):
    """A linear-Gaussian model and its observations, as float64 NumPy arrays."""

    m0: np.ndarray  # [dx]
    P0: np.ndarray  # [dx, dx]
    F: np.ndarray  # [dx, dx]
    Q: np.ndarray  # [dx, dx]
    G: np.ndarray  # [dy, dx]
    R: np.ndarray  # [dy, dy]
    ys: np.ndarray  # [T, dy]


def make_problem(
    seed: int, num_steps: int, dim_x: int = 4, dim_y: int = 2
) -> LGProblem:
    """A random stable model and ``num_steps`` simulated observations.

    As ``pinfer.models.linear_gaussian.random_linear_gaussian``: ``F`` is 0.9 times a
    random rotation, ``Q`` and ``R`` are random SPD matrices with eigenvalues in
    ``0.25 * [0.5, 1.5]`` and ``[0.5, 1.5]``, ``G`` has i.i.d. ``N(0, 1/dx)`` entries,
    ``m0 = 0``, ``P0 = I``.

    Example:
        >>> make_problem(0, 10).ys.shape
        (10, 2)
    """
    rng = np.random.default_rng(seed)

    def spd(dim, scale):
        basis, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        return (basis * rng.uniform(0.5, 1.5, dim) * scale**2) @ basis.T

    F = 0.9 * np.linalg.qr(rng.normal(size=(dim_x, dim_x)))[0]
    Q, R = spd(dim_x, 0.5), spd(dim_y, 1.0)
    G = rng.normal(size=(dim_y, dim_x)) / np.sqrt(dim_x)
    m0, P0 = np.zeros(dim_x), np.eye(dim_x)
    x = rng.multivariate_normal(m0, P0)
    ys = np.empty((num_steps, dim_y))
    for t in range(num_steps):
        x = F @ x + rng.multivariate_normal(np.zeros(dim_x), Q)
        ys[t] = G @ x + rng.multivariate_normal(np.zeros(dim_y), R)
    return LGProblem(m0, P0, F, Q, G, R, ys)


def first_state_law(problem: LGProblem) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the state ``y_0`` observes: ``N(F m0, F P0 F' + Q)``."""
    F = problem.F
    return F @ problem.m0, F @ problem.P0 @ F.T + problem.Q


def kalman_log_evidence(problem: LGProblem) -> float:
    """Exact ``log p(y_{0:T-1})`` by the Kalman filter, in float64.

    Example:
        >>> round(kalman_log_evidence(make_problem(0, 3)), 3)  # doctest: +SKIP
    """
    m, P = problem.m0, problem.P0
    G, R, total = problem.G, problem.R, 0.0
    for y in problem.ys:
        m, P = problem.F @ m, problem.F @ P @ problem.F.T + problem.Q
        S = G @ P @ G.T + R
        resid = y - G @ m
        _, logdet = np.linalg.slogdet(S)
        total -= 0.5 * (len(y) * np.log(2 * np.pi) + logdet)
        total -= 0.5 * resid @ np.linalg.solve(S, resid)
        gain = np.linalg.solve(S, G @ P).T
        m, P = m + gain @ resid, P - gain @ S @ gain.T
    return float(total)


def _cdf(log_weights):
    cdf = jnp.cumsum(jnp.exp(log_weights - jnp.max(log_weights)))
    # Dividing by the last entry makes the total exactly 1, and 1 already at the last
    # positive weight (adding zeros is exact), so no slot lands on a zero weight.
    return cdf / cdf[-1]


def systematic_searchsorted(key, log_weights, num_samples):
    """Systematic resampling: grid ``(m + U) / M`` searched in the cumulative weights.

    Example:
        >>> systematic_searchsorted(jax.random.key(0), jnp.zeros(3), 3)
        Array([0, 1, 2], dtype=int32)
    """
    cdf = _cdf(log_weights).at[-1].set(jnp.inf)
    u = jax.random.uniform(key, (), log_weights.dtype)
    grid = (jnp.arange(num_samples, dtype=log_weights.dtype) + u) / num_samples
    idx = jnp.searchsorted(cdf, grid, side="right")
    return jnp.minimum(idx, log_weights.shape[0] - 1).astype(jnp.int32)


def systematic_scatter(key, log_weights, num_samples):
    """Systematic resampling by offspring counts: a scatter-add and a cumulative sum.

    Slot ``m`` descends from ``#{i : ceil(M C_i - U) <= m}``, the same index as
    ``searchsorted(C, (m + U) / M, side="right")``.

    Example:
        >>> systematic_scatter(jax.random.key(0), jnp.zeros(3), 3)
        Array([0, 1, 2], dtype=int32)
    """
    u = jax.random.uniform(key, (), log_weights.dtype)
    ends = jnp.ceil(num_samples * _cdf(log_weights) - u)
    ends = jnp.clip(ends, 0, num_samples).astype(jnp.int32)
    # Particle i's copies end at slot ends[i] (the last one's at num_samples, since
    # the cdf ends at exactly 1); counting the ends at or before slot m gives m's
    # ancestor. Ends equal to num_samples fall off the array and are dropped.
    marks = jnp.zeros(num_samples, jnp.int32).at[ends].add(1, mode="drop")
    return jnp.cumsum(marks, dtype=jnp.int32)


def build_filter(
    num_particles: int,
    resample_fn: Callable = systematic_searchsorted,
    flat_normals: bool = False,
):
    """A jitted ``filter(key, problem_arrays) -> log_evidence`` resampling every step.

    ``problem_arrays`` is ``(m1, P1_chol, F, Q_chol, G, inv(R_chol), ys)`` as arrays
    (see :func:`to_jax`). The key may be of any implementation (threefry, rbg).
    ``flat_normals`` draws the ``[N, dx]`` noise as ``N * dx`` normals and reshapes:
    the same law, but XLA's CPU threefry is several times faster on a flat shape
    than on one whose minor axis is as short as ``dx``.

    Example:
        >>> pf = build_filter(100)
        >>> pf(jax.random.key(0), to_jax(make_problem(0, 5))).shape
        ()
    """

    def log_g(y, x, G, R_chol_inv, log_norm):
        white = (y - x @ G.T) @ R_chol_inv.T
        return log_norm - 0.5 * jnp.sum(white**2, axis=1)

    @jax.jit
    def run(key, arrays):
        m1, P1_chol, F, Q_chol, G, R_chol_inv, ys = arrays
        dx = m1.shape[0]
        log_n = jnp.log(num_particles).astype(ys.dtype)
        log_norm = -0.5 * ys.shape[1] * jnp.log(2 * jnp.pi).astype(ys.dtype)
        log_norm = log_norm + jnp.sum(jnp.log(jnp.diag(R_chol_inv)))

        def normals(key):
            if flat_normals:
                eps = jax.random.normal(key, (num_particles * dx,), ys.dtype)
                return eps.reshape(num_particles, dx)
            return jax.random.normal(key, (num_particles, dx), ys.dtype)

        key_init, key_scan = jax.random.split(key)
        eps = normals(key_init)
        x = m1 + eps @ P1_chol.T
        log_w = log_g(ys[0], x, G, R_chol_inv, log_norm)

        def step(carry, inputs):
            x, log_w, log_z = carry
            key_t, y = inputs
            key_resample, key_move = jax.random.split(key_t)
            ancestors = resample_fn(key_resample, log_w, num_particles)
            x = x[ancestors] @ F.T + normals(key_move) @ Q_chol.T
            log_w = log_g(y, x, G, R_chol_inv, log_norm)
            return (x, log_w, log_z + logsumexp(log_w) - log_n), None

        log_z0 = logsumexp(log_w) - log_n
        keys = jax.random.split(key_scan, ys.shape[0] - 1)
        (_, _, log_z), _ = jax.lax.scan(step, (x, log_w, log_z0), (keys, ys[1:]))
        return log_z

    return run


def to_jax(problem: LGProblem, dtype=jnp.float32):
    """``(m1, chol(P1), F, chol(Q), G, inv(chol(R)), ys)`` as JAX arrays of ``dtype``.

    ``(m1, P1)`` is :func:`first_state_law`, the law of the state ``y_0`` observes.
    """
    chol = np.linalg.cholesky
    m1, P1 = first_state_law(problem)
    arrays = (m1, chol(P1), problem.F, chol(problem.Q), problem.G)
    arrays += (np.linalg.inv(chol(problem.R)), problem.ys)
    return tuple(jnp.asarray(a, dtype) for a in arrays)
