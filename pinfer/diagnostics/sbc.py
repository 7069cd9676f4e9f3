"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman, 2018).

If ``theta ~ p(theta)``, ``y ~ p(y | theta)`` and ``theta_1..L ~ q(theta | y)`` with
``q`` the exact posterior, then ``theta`` and the ``theta_l`` are exchangeable, so the
rank of ``theta`` among them is discrete-uniform on ``{0, ..., L}`` in every
coordinate::

    for s in 1..S:
        theta_s ~ prior;  y_s ~ simulate(theta_s);  theta_s,1..L ~ posterior(y_s)
        rank_s = #{l : theta_s,l < theta_s} + U{0, ..., #{l : theta_s,l = theta_s}}
    bin the ranks into B bins; chi2 = sum_b (O_b - E_b)^2 / E_b,  E_b = S n_b / (L + 1)
    p = P(chi2_{B-1} > chi2) = gammaincc((B - 1) / 2, chi2 / 2)

``n_b`` is the number of rank values that fall in bin ``b``, so the expected counts are
exact for the discrete uniform even when ``B`` does not divide ``L + 1``. Ties (discrete
parameters, repeated MCMC draws) are broken uniformly at random, which keeps the ranks
uniform. A too-narrow posterior gives a U-shaped rank histogram, a too-wide one a hump,
and a biased one a slope; all three lower the p-value.

Concrete inputs are checked before anything runs (shapes, finite draws, ranks in
``0..L``); under ``jit`` a simulation whose truth or draws hold a NaN gets rank -1, and
the uniformity test of a coordinate with a rank outside ``0..L`` is NaN, never a
plausible p-value.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.special import gammaincc

from pinfer.diagnostics._checks import (
    calibration_inputs,
    check_returned_finite,
    min_size,
)
from pinfer.types import Array, ArrayTree, Float, Int, PRNGKey
from pinfer.validation import (
    check_array,
    check_callable,
    check_indices,
    check_key,
    check_static_int,
)

__all__ = ["SBCResult", "default_num_bins", "rank_uniformity_test", "sbc", "sbc_ranks"]


class SBCResult(NamedTuple):
    """Ranks and per-coordinate uniformity test of a simulation-based calibration.

    Attributes:
        ranks: ``[S, d]`` int32 ranks in ``{0, ..., L}``.
        statistic: ``[d]`` chi-square statistics of the binned ranks.
        p_value: ``[d]`` p-values under discrete-uniform ranks.
    """

    ranks: Int[Array, "num_simulations dim"]
    statistic: Float[Array, "dim"]
    p_value: Float[Array, "dim"]


def sbc_ranks(
    key: PRNGKey,
    theta_true: Float[Array, "num_simulations dim"],
    posterior_samples: Float[Array, "num_simulations num_posterior_samples dim"],
) -> Int[Array, "num_simulations dim"]:
    """Rank of each true parameter among its posterior draws, ties broken at random.

    Args:
        key: PRNG key for the tie-breaking.
        theta_true: ``[S, d]`` parameters drawn from the prior.
        posterior_samples: ``[S, L, d]`` posterior draws given each simulated data set.

    Returns:
        ``[S, d]`` int32 ranks ``#{theta_l < theta} + U{0..#{theta_l = theta}}`` in
        ``{0, ..., L}``; discrete-uniform when the posterior is calibrated. Under
        ``jit``, -1 where the truth or one of its draws is NaN.

    Raises:
        ValueError: the shapes are not ``[S, d]`` and ``[S, L, d]``, or (concrete)
            a value is NaN or infinite.
        TypeError: ``key`` is not a PRNG key, or the values are not real.

    Example:
        >>> theta = jnp.zeros((3, 1))
        >>> draws = jnp.linspace(-1.0, 1.0, 4)[None, :, None] * jnp.ones((3, 1, 1))
        >>> sbc_ranks(jax.random.key(0), theta, draws)[:, 0]
        Array([2, 2, 2], dtype=int32)
    """
    check_key(key, where="sbc_ranks")
    theta, draws = calibration_inputs(
        "sbc_ranks", theta_true, posterior_samples, promote=False
    )
    return _ranks(key, theta, draws)


def _ranks(key: PRNGKey, theta_true: Array, posterior_samples: Array) -> Array:
    truth = theta_true[:, None, :]
    less = jnp.sum(posterior_samples < truth, axis=1)
    ties = jnp.sum(posterior_samples == truth, axis=1)
    shift = jax.random.randint(key, less.shape, 0, ties + 1)
    nan = jnp.isnan(theta_true) | jnp.any(jnp.isnan(posterior_samples), axis=1)
    return jnp.where(nan, -1, less + shift).astype(jnp.int32)


def default_num_bins(num_simulations: int, num_posterior_samples: int) -> int:
    """At most 20 bins, at least 5 expected ranks per bin, at most ``L + 1`` bins.

    Example:
        >>> default_num_bins(1000, 99)
        20
    """
    return int(min(num_posterior_samples + 1, 20, max(2, num_simulations // 5)))


def rank_uniformity_test(
    ranks: Int[Array, "num_simulations *dim"],
    num_posterior_samples: int,
    num_bins: int | None = None,
) -> tuple[Float[Array, "*dim"], Float[Array, "*dim"]]:
    """Chi-square test that ranks are discrete-uniform on ``{0, ..., L}``.

    Rank ``r`` goes to bin ``floor(r B / (L + 1))``; the expected count of a bin is
    ``S n_b / (L + 1)`` with ``n_b`` the number of rank values it holds, so the test
    is exact for the discrete uniform for any ``B <= L + 1``. Each trailing coordinate
    is tested separately; combine them with a multiple-testing correction.

    Args:
        ranks: ``[S, *dim]`` integer ranks in ``{0, ..., L}``.
        num_posterior_samples: ``L`` (static).
        num_bins: ``B`` (static), ``2 <= B <= L + 1``; default
            :func:`default_num_bins`.

    Returns:
        ``(statistic, p_value)``, each ``[*dim]``; the statistic is chi-square with
        ``B - 1`` degrees of freedom under uniformity, and the p-value is computed
        with ``gammaincc`` (jittable). Under ``jit``, both are NaN for a coordinate
        with a rank outside ``0..L`` (e.g. the -1 of a NaN draw).

    Raises:
        ValueError: ``ranks`` has no simulation axis, the counts are out of range,
            or (concrete) a rank lies outside ``0..L``.
        TypeError: ``ranks`` is not integer, or a count is not a static int.

    Example:
        >>> ranks = jnp.arange(100)[:, None] % 10
        >>> stat, p = rank_uniformity_test(ranks, num_posterior_samples=9, num_bins=10)
        >>> float(stat[0]), float(p[0])
        (0.0, 1.0)
    """
    where = "rank_uniformity_test"
    num_posterior_samples = check_static_int(
        num_posterior_samples, "num_posterior_samples", 1, where=where
    )
    num_bins = _check_num_bins(num_bins, num_posterior_samples, where)
    ranks = check_array(
        ranks,
        "ranks",
        where=where,
        dtype="int",
        hint="ranks is [S, *dim], integer ranks from sbc_ranks.",
    )
    if ranks.ndim == 0:
        raise ValueError(
            f"{where}: `ranks` must have a simulation axis [S, *dim], got shape (). "
            "Pass the ranks of every simulation."
        )
    min_size(ranks, "ranks", where, 0, 1, "simulation")
    check_indices(
        ranks,
        "ranks",
        num_posterior_samples + 1,
        where=where,
        axes=("simulation", "coordinate") if ranks.ndim == 2 else None,
        what="rank",
        hint="Ranks lie in 0..L with L = num_posterior_samples; sbc_ranks gives -1 "
        "to a simulation with a NaN draw.",
    )
    return _uniformity(ranks, num_posterior_samples, num_bins)


def _check_num_bins(num_bins: Any, num_posterior_samples: int, where: str) -> Any:
    if num_bins is None:
        return None
    return check_static_int(
        num_bins, "num_bins", 2, where=where, maximum=num_posterior_samples + 1
    )


def _uniformity(
    ranks: Array, num_posterior_samples: int, num_bins: int | None
) -> tuple[Array, Array]:
    num_values = num_posterior_samples + 1
    num_simulations = ranks.shape[0]
    if num_bins is None:
        num_bins = default_num_bins(num_simulations, num_posterior_samples)
    values_per_bin = np.bincount(
        np.arange(num_values) * num_bins // num_values, minlength=num_bins
    )
    dtype = jnp.result_type(float)
    expected = jnp.asarray(num_simulations * values_per_bin / num_values, dtype)
    bins = jnp.clip(ranks, 0, num_values - 1) * num_bins // num_values
    observed = jax.nn.one_hot(bins, num_bins, dtype=dtype).sum(axis=0)
    statistic = jnp.sum((observed - expected) ** 2 / expected, axis=-1)
    p_value = gammaincc(0.5 * (num_bins - 1), 0.5 * statistic)
    invalid = jnp.any((ranks < 0) | (ranks >= num_values), axis=0)
    return jnp.where(invalid, jnp.nan, statistic), jnp.where(invalid, jnp.nan, p_value)


def sbc(
    key: PRNGKey,
    prior_sample_fn: Callable[[PRNGKey], ArrayTree],
    simulate_fn: Callable[[PRNGKey, ArrayTree], Any],
    posterior_sample_fn: Callable[[PRNGKey, Any, int], ArrayTree],
    num_simulations: int,
    num_posterior_samples: int,
    num_bins: int | None = None,
    batch_size: int | None = None,
) -> SBCResult:
    """Run simulation-based calibration of a posterior sampler.

    Each simulation draws ``theta = prior_sample_fn(key)``, data
    ``simulate_fn(key, theta)`` and ``L`` posterior draws
    ``posterior_sample_fn(key, data, L)``; simulations are vmapped (or mapped in
    batches of ``batch_size`` with ``lax.map`` to bound memory). Parameters may be
    any pytree: they are flattened with ``jax.flatten_util.ravel_pytree``, which fixes
    the order of the ``d`` coordinates.

    Args:
        key: PRNG key.
        prior_sample_fn: ``key -> theta`` (a pytree; flattened size ``d``).
        simulate_fn: ``(key, theta) -> data`` (any pytree).
        posterior_sample_fn: ``(key, data, L) -> draws``, the pytree of ``theta``
            with a leading axis of size ``L`` on every leaf.
        num_simulations: ``S`` (static).
        num_posterior_samples: ``L`` (static).
        num_bins: bins of the chi-square test; see :func:`rank_uniformity_test`.
        batch_size: simulations per vmapped batch; ``None`` vmaps all ``S`` at once.

    Returns:
        :class:`SBCResult` with ``ranks [S, d]``, ``statistic [d]``, ``p_value [d]``.

    Raises:
        ValueError: a count is out of range, ``posterior_sample_fn`` returns the
            wrong leading axis, or a sampler returns NaN or infinite values.
        TypeError: ``key`` is not a PRNG key, a function is not callable, or a count
            is not a static int.

    Example:
        >>> def posterior(key, y, n):  # prior N(0, 1), y ~ N(theta, 1)
        ...     return y / 2 + jnp.sqrt(0.5) * jax.random.normal(key, (n,))
        >>> result = sbc(
        ...     jax.random.key(0),
        ...     lambda k: jax.random.normal(k),
        ...     lambda k, theta: theta + jax.random.normal(k),
        ...     posterior, num_simulations=200, num_posterior_samples=49,
        ... )
        >>> result.ranks.shape
        (200, 1)
    """
    where = "sbc"
    check_key(key, where=where)
    for name, fn in [
        ("prior_sample_fn", prior_sample_fn),
        ("simulate_fn", simulate_fn),
        ("posterior_sample_fn", posterior_sample_fn),
    ]:
        check_callable(fn, name, where=where)
    num_simulations = check_static_int(
        num_simulations, "num_simulations", 1, where=where
    )
    L = check_static_int(num_posterior_samples, "num_posterior_samples", 1, where=where)
    num_bins = _check_num_bins(num_bins, L, where)
    if batch_size is not None:
        batch_size = check_static_int(batch_size, "batch_size", 1, where=where)

    def one(key: PRNGKey) -> tuple[Array, Array]:
        key_prior, key_sim, key_post = jax.random.split(key, 3)
        theta = prior_sample_fn(key_prior)
        draws = posterior_sample_fn(key_post, simulate_fn(key_sim, theta), L)
        leading = {jnp.shape(leaf)[:1] for leaf in jax.tree.leaves(draws)}
        if leading != {(L,)}:
            raise ValueError(
                f"{where}: `posterior_sample_fn` must return theta's pytree with a "
                f"leading axis of size num_posterior_samples={L} on every leaf; got "
                f"leading shapes {sorted(leading)}."
            )
        return ravel_pytree(theta)[0], jax.vmap(lambda t: ravel_pytree(t)[0])(draws)

    key_sims, key_ranks = jax.random.split(key)
    keys = jax.random.split(key_sims, num_simulations)
    if batch_size is None:
        theta, draws = jax.jit(jax.vmap(one))(keys)
    else:
        theta, draws = jax.jit(lambda k: jax.lax.map(one, k, batch_size=batch_size))(
            keys
        )
    check_returned_finite(
        theta,
        "prior_sample_fn",
        where,
        ("simulation", "coordinate"),
        "SBC needs finite parameters; coordinates are theta's flattened leaves.",
    )
    check_returned_finite(
        draws,
        "posterior_sample_fn",
        where,
        ("simulation", "draw", "coordinate"),
        "SBC ranks need finite posterior draws; check the sampler on that data set.",
    )
    ranks = _ranks(key_ranks, theta, draws)
    statistic, p_value = _uniformity(ranks, L, num_bins)
    return SBCResult(ranks, statistic, p_value)
