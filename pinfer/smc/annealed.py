"""Annealed (tempered) resampling, its exponent chosen from a diversity target.

Plain resampling draws ancestors with probabilities ``W_i = w_i / sum_j w_j``. When
early weights are overconfident (a sharply peaked or misleading potential, e.g. a
process reward model scoring a partial solution), one step of plain resampling keeps a
handful of ancestors and prunes hypotheses that later weights would have favoured:
*premature exploitation*. Annealed resampling draws ancestors from the flattened
distribution ``p_i ∝ w_i^alpha`` with ``alpha in [0, 1]`` and lets each offspring carry
the importance correction ``W_a / p_a ∝ w_a^(1 - alpha)``, so the particle system stays
properly weighted for the same target::

    d(alpha) = diversity(w^alpha)              # ESS / N by default; decreasing in alpha
    alpha    = 1                 if d(1) >= target
             = max{alpha : d(alpha) >= target}  otherwise   (bisection, fixed steps)
    a_m      ~ base_resample(p ∝ w^alpha)      m = 1..M
    log W'_m = normalise((1 - alpha) * log w_{a_m})

``alpha = 1`` is plain resampling (uniform offspring weights); ``alpha = 0`` draws
ancestors uniformly among particles of non-zero weight and keeps every weight (pure
importance sampling). Both ``ESS(w^alpha)`` and the entropy of ``softmax(alpha log w)``
are non-increasing in ``alpha`` (their derivatives are ``2(E_alpha - E_2alpha)[log w]
<= 0`` and ``-alpha Var_alpha[log w] <= 0``), so bisection finds the largest admissible
exponent. The resampling step is an auxiliary particle filter step with first-stage
weights ``w^(alpha - 1)`` (Pitt and Shephard, 1999), and the partial-resampling idea
goes back to Liu and Chen (1998, "priority scores").

Reference: Giannone, Xu, Nayak, Awhad, Sudalairaj, Xu and Srivastava (2025),
"Mitigating Premature Exploitation in Particle-based Monte Carlo for Inference-Time
Scaling" (Entropic Particle Filtering). Their *Entropic Annealing* monitors the
diversity of the particle set and, when it drops below a threshold, anneals (flattens)
the resampling distribution. Here the exponent is solved for from the diversity target
(bisection), and the ``w^(1 - alpha)`` correction keeps the weighted particles
consistent for the original target rather than for a flattened one.

**Inside** :func:`pinfer.smc.smc_step`. Annealed resampling is an auxiliary step with
first-stage log-weights ``(alpha - 1) log w``; :func:`annealed_log_lookahead` returns
them, and ``smc_step`` then resamples from ``w^alpha`` and gives the offspring the
unnormalised correction ``W_a / (N p_a)``, which keeps its log-evidence unbiased::

    lookahead = annealed_log_lookahead(state.log_weights, 0.5)
    state, info = smc_step(key, state, propose_fn, log_weight_fn, systematic, 1.0,
                           log_lookahead_fn=lambda particles: lookahead)

With an ESS-triggered step (``ess_threshold < 1``) the step tests the ESS of the
flattened weights, which is at least the diversity target, so set
``target_diversity < ess_threshold``: plain weights below the threshold are
resampled, and flattened first when their ESS is also below the target.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from pinfer.diagnostics.ess import log_ess
from pinfer.smc._checks import check_log_weights
from pinfer.smc.resampling import normalize, systematic
from pinfer.types import Array, Float, Int, PRNGKey, Scalar
from pinfer.validation import (
    check_callable,
    check_fraction,
    check_key,
    check_scalar,
    check_static_int,
)

__all__ = [
    "annealed_log_lookahead",
    "annealed_resample",
    "annealing_exponent",
    "entropy_fraction",
    "ess_fraction",
    "tempered_resample",
]

DiversityFn = Callable[[Float[Array, " num_particles"]], Scalar]
ResampleFn = Callable[[PRNGKey, Float[Array, " num_particles"], int], Array]


def ess_fraction(log_weights: Float[Array, " num_particles"]) -> Scalar:
    """Effective sample size over the number of particles, ``ESS / N`` in ``[0, 1]``.

    Args:
        log_weights: ``[N]`` unnormalised log-weights.

    Returns:
        Scalar ``(sum w)^2 / (N sum w^2)``; 0 when every weight is zero.

    Example:
        >>> ess_fraction(jnp.log(jnp.array([1.0, 1.0, 0.0, 0.0])))
        Array(0.5, dtype=float32)
    """
    log_weights = check_log_weights(log_weights, "log_weights", "ess_fraction")
    return jnp.exp(log_ess(log_weights) - jnp.log(log_weights.shape[0]))


def entropy_fraction(log_weights: Float[Array, " num_particles"]) -> Scalar:
    """Perplexity over the number of particles, ``exp(H(W)) / N`` in ``[0, 1]``.

    ``H(W) = -sum_i W_i log W_i`` is the entropy of the normalised weights, the
    diversity measure of Entropic Annealing; ``exp(H)`` counts particles the way the
    ESS does (``N`` for uniform weights, ``k`` for ``k`` equal non-zero weights).

    Args:
        log_weights: ``[N]`` unnormalised log-weights.

    Returns:
        Scalar in ``[1/N, 1]`` (uniform weights if every weight is zero).

    Example:
        >>> entropy_fraction(jnp.log(jnp.array([1.0, 1.0, 0.0, 0.0])))
        Array(0.5, dtype=float32)
    """
    log_weights = check_log_weights(log_weights, "log_weights", "entropy_fraction")
    log_w = normalize(log_weights)
    finite = jnp.isfinite(log_w)
    entropy = -jnp.sum(jnp.where(finite, jnp.exp(log_w) * log_w, 0.0))
    return jnp.exp(entropy - jnp.log(log_weights.shape[0]))


def _temper(log_weights: Array, alpha: Array) -> Array:
    # Zero weights stay zero for every alpha (0 * -inf would be NaN).
    return jnp.where(jnp.isneginf(log_weights), -jnp.inf, alpha * log_weights)


def annealing_exponent(
    log_weights: Float[Array, " num_particles"],
    target_diversity: float | Scalar = 0.5,
    *,
    diversity_fn: DiversityFn = ess_fraction,
    num_bisection_steps: int = 30,
) -> Scalar:
    """Largest ``alpha in [0, 1]`` with ``diversity_fn(alpha * log_w) >= target``.

    Returns exactly 1 when the plain weights already meet the target. Otherwise
    ``num_bisection_steps`` (static) halvings of ``[0, 1]`` keep the invariant
    ``diversity(lo) >= target > diversity(hi)`` and return ``lo``, so the flattened
    weights meet the target (up to the bisection width ``2**-num_bisection_steps``).
    If no ``alpha > 0`` meets it (a target above the fraction of non-zero weights),
    the result is 0. ``diversity_fn`` must be non-increasing in ``alpha``, as
    :func:`ess_fraction` and :func:`entropy_fraction` are.

    Args:
        log_weights: ``[N]`` unnormalised log-weights.
        target_diversity: target in ``(0, 1]``, e.g. ESS / N; may be traced.
        diversity_fn: ``fn(log_weights) -> scalar`` in ``[0, 1]``.
        num_bisection_steps: number of bisection iterations (static).

    Returns:
        Scalar ``alpha`` with the dtype of ``log_weights``.

    Example:
        >>> log_w = jnp.array([0.0, -10.0, -20.0, -30.0])
        >>> alpha = annealing_exponent(log_w, 0.5)
        >>> bool(ess_fraction(alpha * log_w) >= 0.5)
        True
    """
    log_weights, target_diversity = _check_common(
        "annealing_exponent",
        log_weights,
        target_diversity,
        diversity_fn,
        num_bisection_steps,
    )
    return _exponent(log_weights, target_diversity, diversity_fn, num_bisection_steps)


def _check_common(
    where, log_weights, target_diversity, diversity_fn, num_steps, nonzero=False
):
    log_weights = check_log_weights(log_weights, "log_weights", where, nonzero=nonzero)
    target_diversity = check_fraction(
        target_diversity, "target_diversity", where=where, low_open=True
    )
    check_callable(diversity_fn, "diversity_fn", where=where)
    check_static_int(num_steps, "num_bisection_steps", 1, where=where)
    return log_weights, target_diversity


def _exponent(log_weights, target_diversity, diversity_fn, num_bisection_steps):
    """:func:`annealing_exponent` without its checks."""
    dtype = log_weights.dtype
    target = jnp.asarray(target_diversity, dtype)

    def admissible(alpha):
        return diversity_fn(_temper(log_weights, alpha)) >= target

    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        ok = admissible(mid)
        return jnp.where(ok, mid, lo), jnp.where(ok, hi, mid)

    one = jnp.ones((), dtype)
    lo, _ = jax.lax.fori_loop(
        0, num_bisection_steps, halve, (jnp.zeros((), dtype), one)
    )
    return jnp.where(admissible(one), one, lo)


def tempered_resample(
    key: PRNGKey,
    log_weights: Float[Array, " num_particles"],
    num_samples: int,
    alpha: float | Scalar,
    *,
    base_resample_fn: ResampleFn = systematic,
) -> tuple[Int[Array, " num_samples"], Float[Array, " num_samples"]]:
    """Resample from ``w^alpha`` and weight the offspring by ``w^(1 - alpha)``.

    For a fixed exponent (a schedule, or one chosen by :func:`annealing_exponent`).
    Offspring ``m`` of ancestor ``a_m`` gets the normalised log-weight
    ``(1 - alpha) log w_{a_m} - logsumexp_k((1 - alpha) log w_{a_k})``, so weighted
    averages over the offspring estimate the same expectations as the weighted
    ancestors (self-normalised, consistent as ``M`` grows). With ``alpha = 1`` the
    indices are those of ``base_resample_fn(key, log_weights, num_samples)`` and the
    weights uniform.

    Args:
        key: PRNG key.
        log_weights: ``[N]`` unnormalised log-weights.
        num_samples: number of offspring ``M`` (static).
        alpha: exponent in ``[0, 1]``; may be traced.
        base_resample_fn: ``fn(key, log_weights, num_samples) -> indices``, e.g.
            :func:`pinfer.smc.systematic`.

    Returns:
        ``([M] int32 ancestor indices, [M] normalised log-weights)``.

    Example:
        >>> idx, log_w = tempered_resample(jax.random.key(0), jnp.zeros(4), 4, 0.5)
        >>> idx.shape, log_w.shape
        ((4,), (4,))
    """
    where = "tempered_resample"
    check_key(key, where=where)
    log_weights = check_log_weights(log_weights, "log_weights", where, nonzero=True)
    num_samples = check_static_int(num_samples, "num_samples", 1, where=where)
    check_scalar(alpha, "alpha", where=where, low=0.0, high=1.0)
    check_callable(base_resample_fn, "base_resample_fn", where=where)
    return _tempered_resample(key, log_weights, num_samples, alpha, base_resample_fn)


def _tempered_resample(key, log_weights, num_samples, alpha, base_resample_fn):
    """:func:`tempered_resample` without its checks."""
    alpha = jnp.asarray(alpha, log_weights.dtype)
    indices = base_resample_fn(key, _temper(log_weights, alpha), num_samples)
    correction = _temper(log_weights, 1.0 - alpha)
    return indices, normalize(correction[indices])


def annealed_resample(
    key: PRNGKey,
    log_weights: Float[Array, " num_particles"],
    num_samples: int,
    *,
    target_diversity: float | Scalar = 0.5,
    base_resample_fn: ResampleFn = systematic,
    diversity_fn: DiversityFn = ess_fraction,
    num_bisection_steps: int = 30,
) -> tuple[Int[Array, " num_samples"], Float[Array, " num_samples"], Scalar]:
    """Annealed resampling: pick ``alpha`` from a diversity target, then resample.

    ``alpha = annealing_exponent(log_weights, target_diversity)``, then
    ``tempered_resample(key, log_weights, num_samples, alpha)``. With the default
    ``diversity_fn`` the resampling distribution ``softmax(alpha log w)`` has an ESS of
    at least ``target_diversity * N`` (``alpha = 1``, plain resampling, when ``w``
    already has it). Jittable and vmappable; ``num_samples``, ``base_resample_fn``,
    ``diversity_fn`` and ``num_bisection_steps`` are static, ``target_diversity`` may
    be traced.

    Args:
        key: PRNG key.
        log_weights: ``[N]`` unnormalised log-weights.
        num_samples: number of offspring ``M`` (static).
        target_diversity: diversity target in ``(0, 1]``.
        base_resample_fn: ``fn(key, log_weights, num_samples) -> indices``.
        diversity_fn: ``fn(log_weights) -> scalar in [0, 1]``, non-increasing in the
            exponent: :func:`ess_fraction` (default) or :func:`entropy_fraction`.
        num_bisection_steps: bisection iterations (static).

    Returns:
        ``([M] int32 ancestor indices, [M] normalised offspring log-weights
        (1 - alpha) log w_a, scalar alpha)``.

    Raises:
        TypeError / ValueError: for a bad key, log-weights that are not ``[N]``
            floats (or, concrete, NaN / ``+inf``), a ``target_diversity`` outside
            ``(0, 1]`` (a traced one stops the run through ``eqx.error_if``), or
            counts that are not positive ints.

    Example:
        >>> log_w = jnp.array([0.0, -5.0, -10.0, -15.0])
        >>> idx, new_log_w, alpha = annealed_resample(jax.random.key(0), log_w, 4)
        >>> bool(alpha < 1.0), idx.shape
        (True, (4,))
    """
    where = "annealed_resample"
    check_key(key, where=where)
    log_weights, target_diversity = _check_common(
        where,
        log_weights,
        target_diversity,
        diversity_fn,
        num_bisection_steps,
        nonzero=True,
    )
    num_samples = check_static_int(num_samples, "num_samples", 1, where=where)
    check_callable(base_resample_fn, "base_resample_fn", where=where)
    alpha = _exponent(log_weights, target_diversity, diversity_fn, num_bisection_steps)
    indices, new_log_weights = _tempered_resample(
        key, log_weights, num_samples, alpha, base_resample_fn
    )
    return indices, new_log_weights, alpha


def annealed_log_lookahead(
    log_weights: Float[Array, " num_particles"],
    target_diversity: float | Scalar = 0.5,
    *,
    diversity_fn: DiversityFn = ess_fraction,
    num_bisection_steps: int = 30,
) -> Float[Array, " num_particles"]:
    """Look-ahead log-weights ``(alpha - 1) log w``: annealed resampling via smc_step.

    Adding them to ``log w`` gives ``alpha log w``, the annealed resampling
    distribution; an auxiliary step (:func:`pinfer.smc.smc_step` with
    ``log_lookahead_fn``) divides them back out of the offspring weights. Zero
    weights get 0 so that ``-inf`` stays ``-inf``. To combine with a look-ahead
    ``log eta`` of your own, pass ``log_weights + log eta`` and add ``log eta``.

    Args:
        log_weights: ``[N]`` log-weights of the population about to be resampled.
        target_diversity: diversity target in ``(0, 1]``; may be traced.
        diversity_fn: as in :func:`annealing_exponent`.
        num_bisection_steps: bisection iterations (static).

    Returns:
        ``[N]`` log first-stage weights (all 0 when ``alpha = 1``).

    Example:
        >>> log_w = jnp.array([0.0, -5.0, -10.0, -15.0])
        >>> log_first = log_w + annealed_log_lookahead(log_w, 0.5)
        >>> bool(ess_fraction(log_first) >= 0.5)
        True
    """
    log_weights, target_diversity = _check_common(
        "annealed_log_lookahead",
        log_weights,
        target_diversity,
        diversity_fn,
        num_bisection_steps,
    )
    alpha = _exponent(log_weights, target_diversity, diversity_fn, num_bisection_steps)
    return jnp.where(jnp.isneginf(log_weights), 0.0, (alpha - 1.0) * log_weights)
