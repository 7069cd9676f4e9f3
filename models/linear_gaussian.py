"""Linear-Gaussian state-space model: a particle-filter model with an exact oracle.

    x_0 ~ N(m0, P0)
    x_t = A x_{t-1} + N(0, Q),   t = 0..T-1
    y_t = H x_t     + N(0, R)

``observations[t]`` observes ``x_t`` after ``t + 1`` transitions from ``x_0`` (the
convention of :mod:`pinfer.smc.ssm`). Its exact Kalman filter and RTS smoother live in
:mod:`pinfer.models.kalman` and are re-exported here, as is the generic
:func:`pinfer.smc.simulate` (the model implements ``sample_observation``). The model
also implements the locally optimal proposal
``q(x_t | x_{t-1}, y_t) = p(x_t | x_{t-1}, y_t)`` and the exact look-ahead
``p(y_t | x_{t-1}) = N(H A x_{t-1}, H Q H' + R)`` (Doucet, Godsill and Andrieu, 2000).
:meth:`LinearGaussianSSM.prepare` factors the covariances once, so that a filter's
loop holds no Cholesky factorisation or triangular solve.
"""

import dataclasses
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve

from pinfer.linalg import matvec, rowvec_matmul_t
from pinfer.models.gaussian import (
    GaussianFactor,
    check_covariance,
    exact,
    factor,
    mvn_logpdf,
)
from pinfer.models.kalman import KalmanResult, kalman_filter, rts_smoother
from pinfer.random import normal
from pinfer.smc.simulation import simulate
from pinfer.smc.ssm import AbstractStateSpaceModel
from pinfer.types import Array, Float, PRNGKey, Scalar
from pinfer.validation import (
    check_array,
    check_finite,
    check_key,
    check_range,
    check_static_int,
)

__all__ = [
    "LinearGaussianSSM",
    "LinearGaussianFactors",
    "GaussianFactor",
    "KalmanResult",
    "kalman_filter",
    "rts_smoother",
    "simulate",
    "random_linear_gaussian",
]


class LinearGaussianFactors(NamedTuple):
    """Parameter-only quantities of a :class:`LinearGaussianSSM` (see ``prepare``).

    Attributes:
        initial: factor of ``P0``.  transition: of ``Q``.  observation: of ``R``.
        gain: ``[dx, dy]`` gain ``K = Q H' S^-1`` of the locally optimal proposal.
        lookahead: factor of ``S = H Q H' + R``, the covariance of
            ``p(y_t | x_{t-1})``.
        proposal: factor of ``Cov(x_t | x_{t-1}, y_t) = (I - K H) Q``.
    """

    initial: GaussianFactor
    transition: GaussianFactor
    observation: GaussianFactor
    gain: Array
    lookahead: GaussianFactor
    proposal: GaussianFactor


class LinearGaussianSSM(AbstractStateSpaceModel):
    """``x_t = A x_{t-1} + N(0, Q)``, ``y_t = H x_t + N(0, R)``, ``x_0 ~ N(m0, P0)``.

    Every field is a dynamic array, so filters ``vmap`` and ``grad`` over them.

    Attributes:
        m0: ``[dx]`` initial mean.      P0: ``[dx, dx]`` initial covariance.
        A: ``[dx, dx]`` transition.     Q: ``[dx, dx]`` transition covariance.
        H: ``[dy, dx]`` observation.    R: ``[dy, dy]`` observation covariance.
        factors: ``None`` (leave it so); :meth:`prepare` returns a copy holding the
            Cholesky factors, inverses and optimal-proposal gain
            (:class:`LinearGaussianFactors`), which the filters compute once per run
            instead of once per step. Replace arrays (``eqx.tree_at``) on the
            unprepared model: a prepared copy keeps its factors.

    Raises:
        TypeError / ValueError: on construction, for fields that are not float
            arrays of matching shapes, and (concrete fields) NaN or infinite
            entries, or covariances ``P0``, ``Q``, ``R`` that are not symmetric
            positive definite.

    Example:
        >>> model = LinearGaussianSSM(
        ...     m0=jnp.zeros(1), P0=jnp.eye(1), A=0.9 * jnp.eye(1), Q=jnp.eye(1),
        ...     H=jnp.eye(1), R=jnp.eye(1),
        ... )
        >>> model.observation_shape
        (1,)
        >>> model.prepare().factors.transition.chol
        Array([[1.]], dtype=float32)
    """

    m0: Float[Array, " dx"] = eqx.field(converter=jnp.asarray)
    P0: Float[Array, "dx dx"] = eqx.field(converter=jnp.asarray)
    A: Float[Array, "dx dx"] = eqx.field(converter=jnp.asarray)
    Q: Float[Array, "dx dx"] = eqx.field(converter=jnp.asarray)
    H: Float[Array, "dy dx"] = eqx.field(converter=jnp.asarray)
    R: Float[Array, "dy dy"] = eqx.field(converter=jnp.asarray)
    factors: LinearGaussianFactors | None = None

    def __check_init__(self):
        where = "LinearGaussianSSM"
        for name in ("m0", "P0", "A", "Q", "H", "R"):
            check_array(getattr(self, name), name, where=where, dtype="float")
        dx = self.m0.shape[0] if self.m0.ndim == 1 else None
        if dx is None:
            raise ValueError(
                f"{where}: `m0` must be a vector [dx], got shape {self.m0.shape}."
            )
        dy = self.H.shape[0] if self.H.ndim == 2 else None
        if dy is None:
            raise ValueError(
                f"{where}: `H` must be a matrix [dy, dx], got shape {self.H.shape}."
            )
        expected = {"P0": (dx, dx), "A": (dx, dx), "Q": (dx, dx)}
        expected |= {"H": (dy, dx), "R": (dy, dy)}
        for name, shape in expected.items():
            seen = getattr(self, name).shape
            if seen != shape:
                raise ValueError(
                    f"{where}: `{name}` must have shape {shape} for state "
                    f"dimension dx={dx} (from m0) and observation dimension dy={dy} "
                    f"(from H), got {seen}. Check the order of the arguments."
                )
        for name in ("m0", "A", "H"):
            check_finite(getattr(self, name), name, where=where)
        for name in ("P0", "Q", "R"):
            check_covariance(getattr(self, name), name, where)
        if self.factors is not None and not isinstance(
            self.factors, LinearGaussianFactors
        ):
            raise TypeError(
                f"{where}: `factors` must be None (the default) or the "
                f"LinearGaussianFactors that prepare() computes, got "
                f"{type(self.factors).__name__}."
            )

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return (self.H.shape[0],)

    @exact
    def prepare(self) -> "LinearGaussianSSM":
        """This model with its :class:`LinearGaussianFactors` computed (once).

        The filters call it before their loop; a prepared model is returned as is.
        """
        if self.factors is not None:
            return self
        return dataclasses.replace(self, factors=self._compute_factors())

    def _compute_factors(self) -> LinearGaussianFactors:
        lookahead = factor(self.H @ self.Q @ self.H.T + self.R)
        gain = cho_solve((lookahead.chol, True), self.H @ self.Q).T
        i_kh = jnp.eye(self.Q.shape[0], dtype=self.Q.dtype) - gain @ self.H
        cov = i_kh @ self.Q @ i_kh.T + gain @ self.R @ gain.T  # Joseph form
        return LinearGaussianFactors(
            initial=factor(self.P0),
            transition=factor(self.Q),
            observation=factor(self.R),
            gain=gain,
            lookahead=lookahead,
            proposal=factor(cov),
        )

    # Unprepared, each method computes only the factor it needs.
    def _initial(self) -> GaussianFactor:
        return self.factors.initial if self.factors is not None else factor(self.P0)

    def _transition(self) -> GaussianFactor:
        return self.factors.transition if self.factors is not None else factor(self.Q)

    def _observation(self) -> GaussianFactor:
        return self.factors.observation if self.factors is not None else factor(self.R)

    def _optimal(self) -> LinearGaussianFactors:
        return self.factors if self.factors is not None else self._compute_factors()

    @exact
    def sample_initial(self, key: PRNGKey) -> Float[Array, " dx"]:
        eps = jax.random.normal(key, self.m0.shape, self.m0.dtype)
        return self.m0 + matvec(self._initial().chol, eps)

    @exact
    def sample_transition(self, key, x_prev, t) -> Float[Array, " dx"]:
        eps = jax.random.normal(key, x_prev.shape, self.A.dtype)
        return matvec(self.A, x_prev) + matvec(self._transition().chol, eps)

    # Population hooks: one draw of every particle's noise (pinfer.random.normal),
    # the same law as the one-particle methods above and much cheaper than one key
    # per particle; the unrolled products fuse into one loop over the particles.
    @exact
    def sample_initial_batch(self, key, num_particles) -> Float[Array, "N dx"]:
        eps = normal(key, (num_particles, self.m0.shape[0]), self.m0.dtype)
        return self.m0 + rowvec_matmul_t(eps, self._initial().chol)

    @exact
    def sample_transition_batch(self, key, x_prev, t) -> Float[Array, "N dx"]:
        eps = normal(key, x_prev.shape, self.A.dtype)
        noise = rowvec_matmul_t(eps, self._transition().chol)
        return rowvec_matmul_t(x_prev, self.A) + noise

    @exact
    def log_transition(self, x, x_prev, t) -> Scalar:
        return mvn_logpdf(x, matvec(self.A, x_prev), self._transition())

    @exact
    def log_observation(self, x, y, t) -> Scalar:
        return mvn_logpdf(y, matvec(self.H, x), self._observation())

    def _proposal_mean(self, factors, x_prev, y):
        mean = matvec(self.A, x_prev)
        return mean + matvec(factors.gain, y - matvec(self.H, mean))

    @exact
    def sample_proposal(self, key, x_prev, y, t) -> Float[Array, " dx"]:
        factors = self._optimal()
        eps = jax.random.normal(key, x_prev.shape, self.A.dtype)
        mean = self._proposal_mean(factors, x_prev, y)
        return mean + matvec(factors.proposal.chol, eps)

    @exact
    def log_proposal(self, x, x_prev, y, t) -> Scalar:
        factors = self._optimal()
        mean = self._proposal_mean(factors, x_prev, y)
        return mvn_logpdf(x, mean, factors.proposal)

    @exact
    def sample_observation(self, key, x, t) -> Float[Array, " dy"]:
        noise = jax.random.normal(key, self.R.shape[:1], self.R.dtype)
        return self.H @ x + self._observation().chol @ noise

    @exact
    def log_lookahead(self, x_prev, y_next, t) -> Scalar:
        mean = matvec(self.H, matvec(self.A, x_prev))
        return mvn_logpdf(y_next, mean, self._optimal().lookahead)


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

    Raises:
        TypeError / ValueError: for a bad key, dimensions that are not positive
            ints, a negative (or NaN) spectral radius or non-positive scales.

    Example:
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> model.A.shape, model.H.shape
        ((4, 4), (2, 4))
    """
    where = "random_linear_gaussian"
    check_key(key, where=where)
    dx = check_static_int(dx, "dx", 1, where=where)
    dy = check_static_int(dy, "dy", 1, where=where)
    check_array(spectral_radius, "spectral_radius", where=where, shape=())
    check_range(spectral_radius, "spectral_radius", where=where, low=0.0)
    for name, value in (
        ("transition_scale", transition_scale),
        ("observation_scale", observation_scale),
    ):
        check_array(value, name, where=where, shape=())
        check_range(value, name, where=where, low=0.0, low_open=True)
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
