"""Monte-Carlo standard errors of means: importance samples and MCMC chains.

Weighted samples use the delta-method estimator of a self-normalised importance
sampling mean (Owen, 2013, *Monte Carlo theory, methods and examples*, eq. 9.9)::

    w_i   = softmax(log_w)_i
    mu    = sum_i w_i f_i
    mcse  = sqrt(sum_i w_i^2 (f_i - mu)^2)

With uniform weights this is ``sd / sqrt(n)`` (with the ``1/n`` variance).

Chains use the autocorrelation estimate of the effective sample size with Geyer's
(1992) initial positive and initial monotone sequences, pooled over chains as in
Stan and ArviZ (Vehtari et al., 2021, "Rank-normalization, folding, and
localization", without the rank normalisation, i.e. ArviZ's ``method="mean"``)::

    acov[c, t] = (1/T) sum_s (x[c, s] - xbar_c)(x[c, s + t] - xbar_c)   (by FFT)
    W          = mean_c acov[c, 0] * T / (T - 1)               within-chain variance
    var_plus   = W (T - 1) / T + var_c(xbar_c)                 (B/T term if C > 1)
    rho_t      = 1 - (W - mean_c acov[c, t]) / var_plus,  rho_0 = 1
    P_k        = rho_2k + rho_2k+1;  keep P_k while every P_j > 0 for j <= k (positive)
    P_k        = min(P_0, ..., P_k)                            (monotone)
    tau        = -1 + 2 sum_k P_k + max(rho_2m, 0)             (m: first dropped pair)
    ESS        = C T / max(tau, 1 / log10(C T));   mcse = sd(x) / sqrt(ESS)

A chain that never moves (every draw of a component equal) says nothing about how
well the sampler mixes: its ESS and MCSE are NaN, as Stan and the posterior R package
report them, not ``C T`` and 0.

Every function is jittable and vmappable; the chain functions take the chain and draw
axes first and map over any trailing (event) axes. Integer draws are promoted to
float. Concrete inputs with NaN or infinite draws (or NaN / ``+inf`` log-weights)
raise a ``ValueError``; traced ones give NaN.
"""

import jax
import jax.numpy as jnp

from pinfer.diagnostics._checks import min_size, real_array
from pinfer.diagnostics.ess import _check_log_weights
from pinfer.types import Array, Float
from pinfer.validation import check_array, check_finite

__all__ = ["mcmc_ess", "mcse", "mcse_weighted"]


def mcse_weighted(
    values: Float[Array, "num_samples *event"],
    log_weights: Float[Array, "num_samples"],
) -> Float[Array, "*event"]:
    """Delta-method Monte-Carlo standard error of a self-normalised weighted mean.

    ``sqrt(sum_i w_i^2 (f_i - mu)^2)`` with ``w = softmax(log_weights)`` and
    ``mu = sum_i w_i f_i`` (Owen, 2013, eq. 9.9). It accounts for the spread of the
    values as well as the weight degeneracy, unlike ``sd / sqrt(ESS)``, which it equals
    only when the values and weights are unrelated.

    Args:
        values: ``[N, *event]`` values ``f(x_i)``; the mean is over the first axis.
        log_weights: ``[N]`` unnormalised log importance weights.

    Returns:
        ``[*event]`` standard errors; ``inf`` when every weight is zero (the weighted
        mean is then undefined); NaN where a traced value is NaN or a traced
        log-weight NaN or ``+inf`` (concrete ones raise).

    Raises:
        ValueError: the shapes do not match, or (concrete) a value is not finite or
            a log-weight is NaN / +inf.
        TypeError: an argument is not real (bool, complex).

    Example:
        >>> x = jax.random.normal(jax.random.key(0), (10_000,))
        >>> se = mcse_weighted(x, jnp.zeros(10_000))  # about 1 / sqrt(10_000)
    """
    where = "mcse_weighted"
    values = real_array(
        values,
        "values",
        where,
        min_ndim=1,
        hint="values is [N, *event]: the sample axis first.",
    )
    check_finite(values, "values", where=where)
    log_weights = _check_log_weights(log_weights, where)
    check_array(
        log_weights,
        "log_weights",
        where=where,
        shape=values.shape[:1],
        hint=f"One log-weight per sample: the first axis of `values` (shape "
        f"{tuple(values.shape)}).",
    )
    lse = jax.scipy.special.logsumexp(log_weights)
    empty = lse == -jnp.inf  # NaN and +inf log-weights leave NaN weights
    weights = jnp.exp(log_weights - jnp.where(empty, 0.0, lse))
    weights = weights.reshape(weights.shape + (1,) * (values.ndim - 1))
    mean = jnp.sum(weights * values, axis=0)
    var = jnp.sum(weights**2 * (values - mean) ** 2, axis=0)
    return jnp.where(empty, jnp.inf, jnp.sqrt(var))


def _autocov(x: Float[Array, "num_chains num_draws"]) -> Array:
    """Biased autocovariance of each chain at lags ``0..T-1``, by zero-padded FFT."""
    num_draws = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    spectrum = jnp.fft.rfft(centred, n=2 * num_draws, axis=1)
    acov = jnp.fft.irfft(spectrum * jnp.conj(spectrum), n=2 * num_draws, axis=1)
    return acov[:, :num_draws].astype(x.dtype) / num_draws


def _ess_one(x: Float[Array, "num_chains num_draws"]) -> Float[Array, ""]:
    num_chains, num_draws = x.shape
    total = num_chains * num_draws
    acov = _autocov(x)
    mean_var = jnp.mean(acov[:, 0]) * num_draws / (num_draws - 1.0)
    var_plus = mean_var * (num_draws - 1.0) / num_draws
    if num_chains > 1:
        var_plus = var_plus + jnp.var(x.mean(axis=1), ddof=1)
    # Compare draws, not var_plus: round-off in the means leaves var_plus ~ 1e-14.
    constant = (jnp.max(x) == jnp.min(x)) | (var_plus <= 0)
    safe_var_plus = jnp.where(constant, 1.0, var_plus)
    rho = 1.0 - (mean_var - jnp.mean(acov, axis=0)) / safe_var_plus
    rho = rho.at[0].set(1.0)  # by definition; the formula gives 1 - W / (T var_plus)

    num_pairs = num_draws // 2
    pairs = rho[: 2 * num_pairs].reshape(num_pairs, 2).sum(axis=1)
    # Initial positive sequence: keep pairs up to (excluding) the first non-positive.
    keep = jnp.cumprod(pairs > 0).astype(bool)
    # Initial monotone sequence: a running minimum over the kept pairs.
    monotone = jax.lax.cummin(jnp.where(keep, pairs, jnp.inf))
    num_kept = keep.sum()
    # Stan's refinement: the even autocorrelation of the first dropped pair, if > 0.
    next_even = rho[jnp.minimum(2 * num_kept, num_draws - 1)]
    tail = jnp.where((num_kept < num_pairs) & (next_even > 0), next_even, 0.0)
    tau = -1.0 + 2.0 * jnp.sum(jnp.where(keep, monotone, 0.0)) + tail
    tau = jnp.maximum(tau, 1.0 / jnp.log10(float(total)))
    n_eff = jnp.where(constant, jnp.nan, total / tau)
    return jnp.where(jnp.isnan(var_plus), jnp.nan, n_eff)


def _check_chains(samples: Array, where: str) -> Array:
    samples = real_array(
        samples,
        "samples",
        where,
        min_ndim=2,
        hint="samples is [num_chains, num_draws, *event]; for a single chain of "
        "draws `x` pass `x[None]`.",
    )
    min_size(samples, "samples", where, 0, 1, "chain")
    min_size(samples, "samples", where, 1, 4, "draws")
    event = samples.ndim - 2
    axes = ("chain", "draw") + (("component",) if event == 1 else ())
    check_finite(samples, "samples", where=where, axes=axes if event < 2 else None)
    return samples


def _map_event(fn, samples: Array) -> Array:
    """Apply ``fn`` on ``[C, T]`` slices for every trailing event index."""
    num_chains, num_draws, *event = samples.shape
    flat = samples.reshape(num_chains, num_draws, -1)
    out = jax.vmap(fn, in_axes=2)(flat)
    return out.reshape(event)


def mcmc_ess(
    samples: Float[Array, "num_chains num_draws *event"],
) -> Float[Array, "*event"]:
    """Effective sample size of MCMC draws for estimating a mean (Geyer, 1992).

    Multi-chain autocorrelations with Geyer's initial positive and initial monotone
    sequences, as Stan and ArviZ (``az.ess(..., method="mean")``) compute it; see the
    module docstring for the formula. An AR(1) chain with coefficient ``rho`` has
    ``ESS ~ n (1 - rho) / (1 + rho)``.

    Args:
        samples: ``[C, T, *event]`` draws: chains first, then draws (``T >= 4``);
            each trailing element gets its own ESS.

    Returns:
        ``[*event]`` effective sample sizes in ``(0, C T log10(C T)]``; NaN for a
        constant component (no information about mixing) and where a traced draw
        is NaN or infinite (concrete ones raise).

    Raises:
        ValueError: ``samples`` has fewer than 2 axes or 4 draws, or (concrete)
            holds NaN or infinite draws.
        TypeError: ``samples`` is not real (bool, complex).

    Example:
        >>> x = jax.random.normal(jax.random.key(0), (2, 1000))
        >>> n_eff = mcmc_ess(x)  # about 2000 for independent draws
    """
    return _map_event(_ess_one, _check_chains(samples, "mcmc_ess"))


def mcse(
    samples: Float[Array, "num_chains num_draws *event"],
) -> Float[Array, "*event"]:
    """Monte-Carlo standard error of the mean of MCMC draws: ``sd / sqrt(ESS)``.

    ``sd`` is the standard deviation of all ``C T`` draws (``ddof=1``) and ``ESS`` is
    :func:`mcmc_ess`, as in ArviZ's ``mcse(..., method="mean")``.

    Args:
        samples: ``[C, T, *event]`` draws: chains first, then draws (``T >= 4``).

    Returns:
        ``[*event]`` standard errors of the posterior-mean estimate; NaN for a
        constant component and where a traced draw is NaN or infinite.

    Raises:
        ValueError: as :func:`mcmc_ess`.
        TypeError: as :func:`mcmc_ess`.

    Example:
        >>> x = jax.random.normal(jax.random.key(0), (4, 500))
        >>> se = mcse(x)  # about 1 / sqrt(2000)
    """
    samples = _check_chains(samples, "mcse")

    def one(x: Array) -> Array:
        return jnp.std(x, ddof=1) / jnp.sqrt(_ess_one(x))

    return _map_event(one, samples)
