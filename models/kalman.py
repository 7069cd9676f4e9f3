"""Exact Kalman filter and Rauch-Tung-Striebel smoother of a linear-Gaussian model.

For :class:`~pinfer.models.linear_gaussian.LinearGaussianSSM` (fields ``m0, P0, A, Q,
H, R``); ``observations[t]`` observes the state after ``t + 1`` transitions. The
Kalman filter (Kalman, 1960) gives the exact log-likelihood ``log p(y_{0:T-1})``,
differentiable with ``jax.grad``, the oracle for particle filters::

    m, P = m0, P0
    for t: m, P = A m, A P A' + Q                     predict
           S = H P H' + R,  K = P H' S^-1             (skipped when y_t is missing)
           ll += log N(y_t; H m, S)
           m, P = m + K (y_t - H m), (I - K H) P (I - K H)' + K R K'   (Joseph form)

The RTS smoother (Rauch, Tung and Striebel, 1965) runs backwards over the filtered
moments. Both are re-exported by :mod:`pinfer.models.linear_gaussian`.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve

from pinfer.models.gaussian import chol, exact, factor_of_chol, mvn_logpdf
from pinfer.types import Array, Bool, Float, Scalar
from pinfer.validation import check_array, check_finite, concrete

__all__ = ["KalmanResult", "kalman_filter", "rts_smoother"]


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


_FIELDS = ("m0", "P0", "A", "Q", "H", "R")


def _check_inputs(where: str, model: Any, observations: Any, mask: Any) -> Array:
    missing = [name for name in _FIELDS if not hasattr(model, name)]
    if missing:
        raise TypeError(
            f"{where}: `model` must be a LinearGaussianSSM (fields {list(_FIELDS)}), "
            f"got {type(model).__name__} without {missing}."
        )
    dy = jnp.shape(model.H)[0]
    observations = check_array(
        observations,
        "observations",
        where=where,
        shape=(None, dy),
        dtype="float",
        hint=f"One row of dy={dy} numbers (from model.H) per time step.",
    )
    num_steps = observations.shape[0]
    if mask is not None:
        mask = check_array(
            mask,
            "mask",
            where=where,
            shape=(num_steps,),
            dtype="bool",
            hint="One flag per observation, False where it is missing.",
        )
    values = concrete(observations)
    if values is not None:
        keep = concrete(mask) if mask is not None else None
        if keep is not None:
            values = np.where(np.asarray(keep)[:, None], values, 0.0)
        check_finite(
            values,
            "observations",
            where=where,
            axes=("step", "entry"),
            hint="Mark a missing observation with mask[t] = False.",
        )
    return observations


@exact
def kalman_filter(
    model: Any,
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

    Raises:
        TypeError / ValueError: for a model without the linear-Gaussian fields,
            observations that are not ``[T, dy]`` floats (or, concrete, NaN or
            infinite where observed), or a mask that is not a ``[T]`` bool array.

    Example:
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> _, ys = simulate(jax.random.key(1), model, 50)
        >>> kalman_filter(model, ys).filtered_means.shape
        (50, 4)
    """
    observations = _check_inputs("kalman_filter", model, observations, mask)
    if mask is None:
        mask = jnp.ones(observations.shape[:1], bool)
    eye = jnp.eye(model.A.shape[0], dtype=model.A.dtype)

    def step(carry, inputs):
        m, P, ll = carry
        y, observed = inputs
        m = model.A @ m
        P = model.A @ P @ model.A.T + model.Q
        chol_s = chol(model.H @ P @ model.H.T + model.R)
        y = jnp.where(observed, y, model.H @ m)
        gain = cho_solve((chol_s, True), model.H @ P).T
        i_kh = eye - gain @ model.H
        m_new = m + gain @ (y - model.H @ m)
        P_new = i_kh @ P @ i_kh.T + gain @ model.R @ gain.T
        ll_new = ll + mvn_logpdf(y, model.H @ m, factor_of_chol(chol_s))
        m, P, ll = jax.tree.map(
            lambda a, b: jnp.where(observed, a, b), (m_new, P_new, ll_new), (m, P, ll)
        )
        return (m, P, ll), (m, P)

    init = (model.m0, model.P0, jnp.zeros((), model.m0.dtype))
    (_, _, ll), (means, covs) = jax.lax.scan(step, init, (observations, mask))
    return KalmanResult(ll, means, covs)


@exact
def rts_smoother(
    model: Any,
    observations: Float[Array, "T dy"],
    mask: Bool[Array, " T"] | None = None,
) -> tuple[Float[Array, "T dx"], Float[Array, "T dx dx"]]:
    """Rauch-Tung-Striebel smoother: moments of ``p(x_t | y_{0:T-1})``.

    Args:
        model, observations, mask: as :func:`kalman_filter`.

    Returns:
        ``(smoothed_means [T, dx], smoothed_covs [T, dx, dx])``.

    Raises:
        TypeError / ValueError: as :func:`kalman_filter`.

    Example:
        >>> model = random_linear_gaussian(jax.random.key(0), 4, 2)
        >>> _, ys = simulate(jax.random.key(1), model, 50)
        >>> means, covs = rts_smoother(model, ys)
        >>> means.shape, covs.shape
        ((50, 4), (50, 4, 4))
    """
    observations = _check_inputs("rts_smoother", model, observations, mask)
    filtered = kalman_filter(model, observations, mask)
    A = model.A

    def step(carry, inputs):
        m_next, P_next = carry
        m, P = inputs
        P_pred = A @ P @ A.T + model.Q
        gain = cho_solve((chol(P_pred), True), A @ P).T
        m_s = m + gain @ (m_next - A @ m)
        P_s = P + gain @ (P_next - P_pred) @ gain.T
        return (m_s, 0.5 * (P_s + P_s.T)), (m_s, P_s)

    last = (filtered.filtered_means[-1], filtered.filtered_covs[-1])
    inputs = (filtered.filtered_means[:-1], filtered.filtered_covs[:-1])
    _, (means, covs) = jax.lax.scan(step, last, inputs, reverse=True)
    means = jnp.concatenate([means, last[0][None]])
    covs = jnp.concatenate([covs, last[1][None]])
    return means, covs
