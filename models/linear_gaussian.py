"""Linear-Gaussian state-space model and its exact Kalman filter and RTS smoother.

    x_0 ~ N(m0, P0)
    x_t = A x_{t-1} + N(0, Q),   t = 0..T-1
    y_t = H x_t     + N(0, R)

``observations[t]`` observes ``x_t`` after ``t + 1`` transitions from ``x_0`` (the
convention of :mod:`pinfer.smc.ssm`). The Kalman filter (Kalman, 1960) gives the exact
log-likelihood ``log p(y_{0:T-1})``, differentiable with ``jax.grad``, the oracle for
particle filters::

    m, P = m0, P0
    for t: m, P = A m, A P A' + Q                     predict
           S = H P H' + R,  K = P H' S^-1             (skipped when y_t is missing)
           ll += log N(y_t; H m, S)
           m, P = m + K (y_t - H m), (I - K H) P (I - K H)' + K R K'   (Joseph form)

The RTS smoother (Rauch, Tung and Striebel, 1965) runs backwards over the filtered
moments. The model also implements the locally optimal proposal
``q(x_t | x_{t-1}, y_t) = p(x_t | x_{t-1}, y_t)`` and the exact look-ahead
``p(y_t | x_{t-1}) = N(H A x_{t-1}, H Q H' + R)`` (Doucet, Godsill and Andrieu, 2000).
"""

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve, solve_triangular

from pinfer.linalg import dot, matvec, rowvec_matmul_t
from pinfer.random import normal
from pinfer.smc.ssm import AbstractStateSpaceModel
from pinfer.types import Array, Bool, Float, PRNGKey, Scalar

__all__ = [
    "LinearGaussianSSM",
    "KalmanResult",
    "kalman_filter",
    "rts_smoother",
    "simulate",
    "random_linear_gaussian",
]


def _exact(fn):
    """Trace ``fn`` with full float32 matmul precision.

    GPUs multiply float32 matrices in TF32 by default (about 3 decimal digits); the
    Kalman recursions and the optimal proposal need full precision to cancel weights
    exactly, and their matrices are tiny, so precision costs nothing measurable.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return fn(*args, **kwargs)

    return wrapper


def _mvn_logpdf(x: Array, mean: Array, chol: Array) -> Scalar:
    # Invert the factor, then multiply: when vmapped over particles with a shared
    # ``chol`` the inverse is computed once (a batched triangular solve is an order
    # of magnitude slower on CPU), and the unrolled products of pinfer.linalg fuse
    # into one loop over the particles.
    eye = jnp.eye(chol.shape[0], dtype=chol.dtype)
    z = matvec(solve_triangular(chol, eye, lower=True), x - mean)
    half_log_det = jnp.sum(jnp.log(jnp.diagonal(chol)))
    return -0.5 * dot(z, z) - half_log_det - 0.5 * x.shape[-1] * jnp.log(2 * jnp.pi)


def _chol(cov: Array) -> Array:
    return jnp.linalg.cholesky(0.5 * (cov + cov.T))


class LinearGaussianSSM(AbstractStateSpaceModel):
    """``x_t = A x_{t-1} + N(0, Q)``, ``y_t = H x_t + N(0, R)``, ``x_0 ~ N(m0, P0)``.

    Every field is a dynamic array, so filters ``vmap`` and ``grad`` over them.

    Attributes:
        m0: ``[dx]`` initial mean.      P0: ``[dx, dx]`` initial covariance.
        A: ``[dx, dx]`` transition.     Q: ``[dx, dx]`` transition covariance.
        H: ``[dy, dx]`` observation.    R: ``[dy, dy]`` observation covariance.

    Example:
        >>> model = LinearGaussianSSM(
        ...     m0=jnp.zeros(1), P0=jnp.eye(1), A=0.9 * jnp.eye(1), Q=jnp.eye(1),
        ...     H=jnp.eye(1), R=jnp.eye(1),
        ... )
        >>> model.observation_shape
        (1,)
    """

    m0: Float[Array, " dx"] = eqx.field(converter=jnp.asarray)
    P0: Float[Array, "dx dx"] = eqx.field(converter=jnp.asarray)
    A: Float[Array, "dx dx"] = eqx.field(converter=jnp.asarray)
    Q: Float[Array, "dx dx"] = eqx.field(converter=jnp.asarray)
    H: Float[Array, "dy dx"] = eqx.field(converter=jnp.asarray)
    R: Float[Array, "dy dy"] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        dx = self.m0.shape[0] if self.m0.ndim == 1 else None
        if dx is None:
            raise ValueError(f"m0 must be a vector [dx], got shape {self.m0.shape}.")
        dy = self.H.shape[0] if self.H.ndim == 2 else None
        if dy is None:
            raise ValueError(f"H must be a matrix [dy, dx], got shape {self.H.shape}.")
        expected = {"P0": (dx, dx), "A": (dx, dx), "Q": (dx, dx)}
        expected |= {"H": (dy, dx), "R": (dy, dy)}
        for name, shape in expected.items():
            seen = getattr(self, name).shape
            if seen != shape:
                raise ValueError(
                    f"LinearGaussianSSM.{name} must have shape {shape} for state "
                    f"dimension dx={dx} (from m0) and observation dimension dy={dy} "
                    f"(from H), got {seen}. Check the order of the arguments."
                )

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return (self.H.shape[0],)

    @_exact
    def sample_initial(self, key: PRNGKey) -> Float[Array, " dx"]:
        eps = jax.random.normal(key, self.m0.shape, self.m0.dtype)
        return self.m0 + matvec(_chol(self.P0), eps)

    @_exact
    def sample_transition(self, key, x_prev, t) -> Float[Array, " dx"]:
        eps = jax.random.normal(key, x_prev.shape, self.A.dtype)
        return matvec(self.A, x_prev) + matvec(_chol(self.Q), eps)

    # Population hooks: one draw of every particle's noise (pinfer.random.normal),
    # the same law as the one-particle methods above and much cheaper than one key
    # per particle; the unrolled products fuse into one loop over the particles.
    @_exact
    def sample_initial_batch(self, key, num_particles) -> Float[Array, "N dx"]:
        eps = normal(key, (num_particles, self.m0.shape[0]), self.m0.dtype)
        return self.m0 + rowvec_matmul_t(eps, _chol(self.P0))

    @_exact
    def sample_transition_batch(self, key, x_prev, t) -> Float[Array, "N dx"]:
        eps = normal(key, x_prev.shape, self.A.dtype)
        return rowvec_matmul_t(x_prev, self.A) + rowvec_matmul_t(eps, _chol(self.Q))

    @_exact
    def log_transition(self, x, x_prev, t) -> Scalar:
        return _mvn_logpdf(x, matvec(self.A, x_prev), _chol(self.Q))

    @_exact
    def log_observation(self, x, y, t) -> Scalar:
        return _mvn_logpdf(y, matvec(self.H, x), _chol(self.R))

    @_exact
    def _optimal(self):
        """Gain ``K``, ``chol(H Q H' + R)`` and ``chol(Cov(x_t | x_prev, y_t))``."""
        chol_s = _chol(self.H @ self.Q @ self.H.T + self.R)
        gain = cho_solve((chol_s, True), self.H @ self.Q).T
        i_kh = jnp.eye(self.Q.shape[0], dtype=self.Q.dtype) - gain @ self.H
        cov = i_kh @ self.Q @ i_kh.T + gain @ self.R @ gain.T
        return gain, chol_s, _chol(cov)

    @_exact
    def sample_proposal(self, key, x_prev, y, t) -> Float[Array, " dx"]:
        gain, _, chol_cov = self._optimal()
        mean = matvec(self.A, x_prev)
        mean = mean + matvec(gain, y - matvec(self.H, mean))
        eps = jax.random.normal(key, x_prev.shape, self.A.dtype)
        return mean + matvec(chol_cov, eps)

    @_exact
    def log_proposal(self, x, x_prev, y, t) -> Scalar:
        gain, _, chol_cov = self._optimal()
        mean = matvec(self.A, x_prev)
        return _mvn_logpdf(x, mean + matvec(gain, y - matvec(self.H, mean)), chol_cov)

    @_exact
    def log_lookahead(self, x_prev, y_next, t) -> Scalar:
        _, chol_s, _ = self._optimal()
        return _mvn_logpdf(y_next, matvec(self.H, matvec(self.A, x_prev)), chol_s)


class KalmanResult(NamedTuple):
    """Exact filtering output.

    Attributes:
        log_likelihood: ``log p(y_{0:T-1})`` (missing observations skipped).
        filtered_means: ``[T, dx]`` means of ``p(x_t | y_{0:t})``.
        filtered_covs: ``[T, dx, dx]`` covariances of ``p(x_t | y_{0:t})``.
    """

    log_likelihood: Scalar
    filtered_means: Float[Array, "T dx"]
    filtered_covs: Float[Array, "T dx dx"]


def _check_observations(model: LinearGaussianSSM, observations: Array, mask) -> None:
    dy = model.H.shape[0]
    if observations.ndim != 2 or observations.shape[1] != dy:
        raise ValueError(
            f"observations must have shape [T, {dy}] (dy={dy} from model.H), got "
            f"{observations.shape}."
        )
    if mask is not None and jnp.shape(mask) != observations.shape[:1]:
        raise ValueError(
            f"mask must have shape ({observations.shape[0]},), got {jnp.shape(mask)}."
        )


@_exact
def kalman_filter(
    model: LinearGaussianSSM,
    observations: Float[Array, "T dy"],
    mask: Bool[Array, " T"] | None = None,
) -> KalmanResult:
    """Exact Kalman filter: log-likelihood and filtered moments.

    Jittable and differentiable (``jax.grad`` of ``log_likelihood`` with respect to
    the model's arrays is exact).

    Args:
        model: the linear-Gaussian model.
        observations: ``[T, dy]``.
        mask: optional ``[T]`` bool, ``False`` where ``y_t`` is missing (its value,
            NaN included, is ignored).

    Returns:
        A :class:`KalmanResult`.

    Example:
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> _, ys = simulate(jax.random.key(1), model, 50)
        >>> kalman_filter(model, ys).filtered_means.shape
        (50, 4)
    """
    observations = jnp.asarray(observations)
    _check_observations(model, observations, mask)
    if mask is None:
        mask = jnp.ones(observations.shape[:1], bool)
    eye = jnp.eye(model.A.shape[0], dtype=model.A.dtype)

    def step(carry, inputs):
        m, P, ll = carry
        y, observed = inputs
        m = model.A @ m
        P = model.A @ P @ model.A.T + model.Q
        chol_s = _chol(model.H @ P @ model.H.T + model.R)
        y = jnp.where(observed, y, model.H @ m)
        gain = cho_solve((chol_s, True), model.H @ P).T
        i_kh = eye - gain @ model.H
        m_new = m + gain @ (y - model.H @ m)
        P_new = i_kh @ P @ i_kh.T + gain @ model.R @ gain.T
        ll_new = ll + _mvn_logpdf(y, model.H @ m, chol_s)
        m, P, ll = jax.tree.map(
            lambda a, b: jnp.where(observed, a, b), (m_new, P_new, ll_new), (m, P, ll)
        )
        return (m, P, ll), (m, P)

    init = (model.m0, model.P0, jnp.zeros((), model.m0.dtype))
    (_, _, ll), (means, covs) = jax.lax.scan(step, init, (observations, mask))
    return KalmanResult(ll, means, covs)


@_exact
def rts_smoother(
    model: LinearGaussianSSM,
    observations: Float[Array, "T dy"],
    mask: Bool[Array, " T"] | None = None,
) -> tuple[Float[Array, "T dx"], Float[Array, "T dx dx"]]:
    """Rauch-Tung-Striebel smoother: moments of ``p(x_t | y_{0:T-1})``.

    Args:
        model, observations, mask: as :func:`kalman_filter`.

    Returns:
        ``(smoothed_means [T, dx], smoothed_covs [T, dx, dx])``.

    Example:
        >>> means, covs = rts_smoother(model, ys)  # doctest: +SKIP
    """
    filtered = kalman_filter(model, observations, mask)
    A = model.A

    def step(carry, inputs):
        m_next, P_next = carry
        m, P = inputs
        P_pred = A @ P @ A.T + model.Q
        gain = cho_solve((_chol(P_pred), True), A @ P).T
        m_s = m + gain @ (m_next - A @ m)
        P_s = P + gain @ (P_next - P_pred) @ gain.T
        return (m_s, 0.5 * (P_s + P_s.T)), (m_s, P_s)

    last = (filtered.filtered_means[-1], filtered.filtered_covs[-1])
    inputs = (filtered.filtered_means[:-1], filtered.filtered_covs[:-1])
    _, (means, covs) = jax.lax.scan(step, last, inputs, reverse=True)
    means = jnp.concatenate([means, last[0][None]])
    covs = jnp.concatenate([covs, last[1][None]])
    return means, covs


@_exact
def simulate(
    key: PRNGKey, model: LinearGaussianSSM, num_steps: int
) -> tuple[Float[Array, "T dx"], Float[Array, "T dy"]]:
    """Simulate ``(x_{0:T-1}, y_{0:T-1})`` (``x_0``'s prior draw is not returned).

    Example:
        >>> xs, ys = simulate(jax.random.key(0), model, 100)  # doctest: +SKIP
    """
    key_init, key_steps = jax.random.split(key)

    def step(x_prev, inputs):
        key_t, t = inputs
        key_x, key_y = jax.random.split(key_t)
        x = model.sample_transition(key_x, x_prev, t)
        noise = jax.random.normal(key_y, model.R.shape[:1], model.R.dtype)
        return x, (x, model.H @ x + _chol(model.R) @ noise)

    inputs = (jax.random.split(key_steps, num_steps), jnp.arange(num_steps))
    _, (xs, ys) = jax.lax.scan(step, model.sample_initial(key_init), inputs)
    return xs, ys


def random_linear_gaussian(
    key: PRNGKey,
    dx: int,
    dy: int,
    *,
    spectral_radius: float = 0.9,
    transition_scale: float = 0.5,
    observation_scale: float = 1.0,
    dtype=None,
) -> LinearGaussianSSM:
    """A random stable model: ``A`` is ``spectral_radius`` times a random rotation.

    ``Q`` and ``R`` are random SPD matrices with eigenvalues in ``scale^2 * [0.5,
    1.5]``, ``H`` has i.i.d. ``N(0, 1/dx)`` entries, ``m0 = 0`` and ``P0 = I``.

    Args:
        key: PRNG key.
        dx, dy: state and observation dimensions.
        spectral_radius: of ``A`` (every eigenvalue has this modulus).
        transition_scale, observation_scale: typical noise standard deviations.
        dtype: float dtype (default: jax's default float).

    Example:
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> model.A.shape, model.H.shape
        ((4, 4), (2, 4))
    """
    dtype = jnp.result_type(float) if dtype is None else dtype
    key_a, key_q, key_h, key_r = jax.random.split(key, 4)
    rotation, _ = jnp.linalg.qr(jax.random.normal(key_a, (dx, dx), dtype))

    def spd(k, d, scale):
        key_basis, key_eig = jax.random.split(k)
        basis, _ = jnp.linalg.qr(jax.random.normal(key_basis, (d, d), dtype))
        eigenvalues = jax.random.uniform(key_eig, (d,), dtype, 0.5, 1.5) * scale**2
        return (basis * eigenvalues) @ basis.T

    return LinearGaussianSSM(
        m0=jnp.zeros(dx, dtype),
        P0=jnp.eye(dx, dtype=dtype),
        A=spectral_radius * rotation,
        Q=spd(key_q, dx, transition_scale),
        H=jax.random.normal(key_h, (dy, dx), dtype) / jnp.sqrt(dx),
        R=spd(key_r, dy, observation_scale),
    )
