"""TARP coverage test (Lemos, Coogan, Hezaveh and Perreault-Levasseur, 2023).

"Sampling-Based Accuracy Testing of Posterior Estimators for General Inference"
(ICML 2023). For each simulation, a random reference point defines a family of balls
centred on it; the ball through the true parameter has some posterior credibility, and
under a calibrated posterior that credibility is Uniform(0, 1)::

    z-score theta_true, the posterior draws and the references by mean/sd of theta_true
    for s in 1..S:
        r_s ~ Uniform(bounding box of the normalised theta_true)   (or user-given)
        f_s = (#{l : |theta_s,l - r_s| < |theta_s - r_s|} + U (1 + #ties)) / (L + 1)
    ECP(alpha) = mean_s [f_s <= alpha]
    D = sup_alpha |ECP(alpha) - alpha|  (Kolmogorov-Smirnov),  p = P(D_S >= D)

The paper's ``f_s`` is the fraction of draws closer to ``r_s`` than the truth; here
the count gets a uniform jitter (a randomised PIT) so that ``f_s`` is *exactly*
Uniform(0, 1) under calibration rather than uniform on ``{0, 1/L, ..., 1}``: the
truth and the draws are exchangeable given the data, so the truth's distance rank is
discrete-uniform on ``{0..L}``. Uniform ``f`` is the testable consequence, and the
KS test of it is the statistic reported. The p-value uses the asymptotic Kolmogorov
distribution with Stephens' (1970) small-sample correction, accurate for ``S >= 35``.
An over-confident (too narrow) or biased posterior pushes ``f`` towards 0 and 1, so
``ECP`` bends away from the diagonal.

Concrete inputs are checked before anything runs (shapes, finite values, ``u`` in
``[0, 1]``); under ``jit`` a NaN gives NaN fractions and a NaN curve, statistic and
p-value, never a plausible coverage.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from pinfer.diagnostics._checks import calibration_inputs, min_size, real_array
from pinfer.types import Array, Float, PRNGKey
from pinfer.validation import (
    check_array,
    check_finite,
    check_key,
    check_range,
    check_static_int,
)

__all__ = ["TARPResult", "ks_uniform_test", "tarp", "tarp_fractions"]

_KS_TERMS = 100


class TARPResult(NamedTuple):
    """Expected coverage curve and its Kolmogorov-Smirnov test.

    Attributes:
        alphas: ``[A]`` credibility levels in ``[0, 1]``.
        ecp: ``[A]`` expected coverage probability ``mean_s [f_s <= alpha]``.
        statistic: scalar ``sup_alpha |ECP(alpha) - alpha|`` (over all alpha).
        p_value: scalar KS p-value under ``f ~ Uniform(0, 1)``.
    """

    alphas: Float[Array, "num_alphas"]
    ecp: Float[Array, "num_alphas"]
    statistic: Float[Array, ""]
    p_value: Float[Array, ""]


def ks_uniform_test(
    u: Float[Array, "num_samples"],
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """One-sample Kolmogorov-Smirnov test of ``u ~ Uniform(0, 1)``.

    Args:
        u: ``[n]`` values in ``[0, 1]``.

    Returns:
        ``(D, p)``: ``D = sup_x |F_n(x) - x|`` and the asymptotic p-value
        ``Q_KS((sqrt(n) + 0.12 + 0.11 / sqrt(n)) D)`` (Stephens, 1970), jittable;
        both NaN when a traced ``u`` lies outside ``[0, 1]`` or is NaN.

    Raises:
        ValueError: ``u`` is not ``[n]`` with ``n >= 1``, or (concrete) a value is
            NaN or outside ``[0, 1]``.
        TypeError: ``u`` is not real.

    Example:
        >>> u = jax.random.uniform(jax.random.key(0), (500,))
        >>> stat, p = ks_uniform_test(u)  # p is Uniform(0, 1) for uniform u
    """
    where = "ks_uniform_test"
    u = real_array(u, "u", where, ndim=1, hint="u is [n]: values in [0, 1].")
    min_size(u, "u", where, 0, 1, "value")
    check_range(
        u,
        "u",
        where=where,
        low=0.0,
        high=1.0,
        hint="The KS test is of Uniform(0, 1) values (TARP fractions, PIT values).",
    )
    return _ks(u)


def _ks(u: Array) -> tuple[Array, Array]:
    n = u.shape[0]
    dtype = jnp.result_type(u.dtype, float)
    sorted_u = jnp.sort(u).astype(dtype)
    grid = jnp.arange(1, n + 1, dtype=dtype) / n
    statistic = jnp.maximum(
        jnp.max(grid - sorted_u), jnp.max(sorted_u - (grid - 1.0 / n))
    )
    sqrt_n = jnp.sqrt(jnp.asarray(n, dtype))
    lam = (sqrt_n + 0.12 + 0.11 / sqrt_n) * statistic
    k = jnp.arange(1, _KS_TERMS + 1, dtype=dtype)
    series = 2.0 * jnp.sum((-1.0) ** (k - 1) * jnp.exp(-2.0 * k**2 * lam**2))
    # The alternating series converges slowly for small lambda, where Q_KS is 1.
    p_value = jnp.where(lam < 0.2, 1.0, jnp.clip(series, 0.0, 1.0))
    invalid = ~jnp.all((u >= 0) & (u <= 1))  # NaN compares False
    return jnp.where(invalid, jnp.nan, statistic), jnp.where(invalid, jnp.nan, p_value)


def tarp_fractions(
    key: PRNGKey,
    theta_true: Float[Array, "num_simulations dim"],
    posterior_samples: Float[Array, "num_simulations num_posterior_samples dim"],
    references: Float[Array, "num_simulations dim"] | None = None,
) -> Float[Array, "num_simulations"]:
    """Credibility ``f_s`` of the reference ball through each true parameter.

    Args:
        key: PRNG key for the references and the tie jitter.
        theta_true: ``[S, d]`` true parameters.
        posterior_samples: ``[S, L, d]`` posterior draws for each simulation.
        references: ``[S, d]`` reference points in the parameters' own units;
            ``None`` draws them uniformly over the bounding box of ``theta_true``.

    Returns:
        ``[S]`` values in ``[0, 1]``, Uniform(0, 1) under a calibrated posterior;
        under ``jit``, NaN where a value is NaN (all of them for a NaN in
        ``theta_true``, which sets the scale).

    Raises:
        ValueError: the shapes are not ``[S, d]``, ``[S, L, d]`` and ``[S, d]``, or
            (concrete) a value is NaN or infinite.
        TypeError: ``key`` is not a PRNG key, or the values are not real.

    Example:
        >>> theta = jax.random.normal(jax.random.key(1), (100, 2))
        >>> draws = jax.random.normal(jax.random.key(2), (100, 50, 2))
        >>> tarp_fractions(jax.random.key(0), theta, draws).shape
        (100,)
    """
    args = _check_inputs(
        "tarp_fractions", key, theta_true, posterior_samples, references
    )
    return _fractions(key, *args)


def _check_inputs(
    where: str, key: PRNGKey, theta_true, posterior_samples, references
) -> tuple[Array, Array, Array | None]:
    check_key(key, where=where)
    theta, draws = calibration_inputs(
        where, theta_true, posterior_samples, promote=True
    )
    if references is not None:
        references = real_array(references, "references", where)
        check_array(
            references,
            "references",
            where=where,
            shape=theta.shape,
            hint="One reference point per simulation, in theta_true's units.",
        )
        check_finite(
            references, "references", where=where, axes=("simulation", "coordinate")
        )
    return theta, draws, references


def _fractions(
    key: PRNGKey, theta_true: Array, posterior_samples: Array, references: Array | None
) -> Array:
    num_simulations, num_draws, dim = posterior_samples.shape
    key_ref, key_jitter = jax.random.split(key)
    mean = theta_true.mean(axis=0)
    sd = theta_true.std(axis=0)
    sd = jnp.where(sd > 0, sd, 1.0)
    theta = (theta_true - mean) / sd
    draws = (posterior_samples - mean) / sd
    if references is None:
        lo, hi = theta.min(axis=0), theta.max(axis=0)
        u = jax.random.uniform(key_ref, (num_simulations, dim), dtype=theta.dtype)
        refs = lo + u * (hi - lo)
    else:
        refs = (references - mean) / sd
    # One distance computation for truth and draws, so equal points tie exactly.
    points = jnp.concatenate([theta[:, None, :], draws], axis=1)
    dist = jnp.linalg.norm(points - refs[:, None, :], axis=-1)
    dist_true, dist_draws = dist[:, :1], dist[:, 1:]
    closer = jnp.sum(dist_draws < dist_true, axis=1)
    ties = jnp.sum(dist_draws == dist_true, axis=1)
    jitter = jax.random.uniform(key_jitter, (num_simulations,), dtype=theta.dtype)
    fractions = (closer + jitter * (ties + 1)) / (num_draws + 1)
    # A NaN distance compares False everywhere: it would count as "not closer".
    return jnp.where(jnp.any(jnp.isnan(dist), axis=1), jnp.nan, fractions)


def tarp(
    key: PRNGKey,
    theta_true: Float[Array, "num_simulations dim"],
    posterior_samples: Float[Array, "num_simulations num_posterior_samples dim"],
    references: Float[Array, "num_simulations dim"] | None = None,
    num_alphas: int = 101,
) -> TARPResult:
    """TARP expected-coverage curve and a KS test of its distance from the diagonal.

    Args:
        key: PRNG key.
        theta_true: ``[S, d]`` true parameters (drawn from the prior).
        posterior_samples: ``[S, L, d]`` posterior draws given each simulated data set.
        references: optional ``[S, d]`` reference points; see :func:`tarp_fractions`.
        num_alphas: number ``A`` of credibility levels on ``linspace(0, 1, A)``
            (static).

    Returns:
        :class:`TARPResult` ``(alphas [A], ecp [A], statistic, p_value)``; under
        ``jit``, ``ecp``, ``statistic`` and ``p_value`` are NaN when a value is NaN.

    Raises:
        ValueError: as :func:`tarp_fractions`, or ``num_alphas < 2``.
        TypeError: as :func:`tarp_fractions`, or ``num_alphas`` is not a static int.

    Example:
        >>> theta = jax.random.normal(jax.random.key(1), (200, 2))
        >>> draws = jax.random.normal(jax.random.key(2), (200, 50, 2))
        >>> result = tarp(jax.random.key(0), theta, draws)
        >>> result.ecp.shape
        (101,)
    """
    num_alphas = check_static_int(num_alphas, "num_alphas", 2, where="tarp")
    args = _check_inputs("tarp", key, theta_true, posterior_samples, references)
    f = _fractions(key, *args)
    alphas = jnp.linspace(0.0, 1.0, num_alphas, dtype=f.dtype)
    counts = jnp.searchsorted(jnp.sort(f), alphas, side="right")
    ecp = counts.astype(f.dtype) / f.shape[0]
    ecp = jnp.where(jnp.any(jnp.isnan(f)), jnp.nan, ecp)
    statistic, p_value = _ks(f)
    return TARPResult(alphas, ecp, statistic, p_value)
