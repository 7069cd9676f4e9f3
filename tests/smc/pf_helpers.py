"""Helpers shared by the particle-filter tests: problems, statistics, broken models."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats
from tolerances import rounding_atol

from pinfer.models.linear_gaussian import (
    kalman_filter,
    random_linear_gaussian,
    simulate,
)
from pinfer.smc import AbstractStateSpaceModel


class LGProblem(eqx.Module):
    model: eqx.Module
    observations: jax.Array
    log_likelihood: jax.Array
    filtered_means: jax.Array


def make_problem(dx=4, dy=2, num_steps=200, seed=0, mask=None):
    model = random_linear_gaussian(jax.random.key(seed), dx, dy)
    _, ys = simulate(jax.random.key(seed + 1), model, num_steps)
    kf = kalman_filter(model, ys, mask)
    return LGProblem(model, ys, kf.log_likelihood, kf.filtered_means)


def evidence_statistic(log_z_hat, log_z):
    """``mean(d) + var(d)/2`` with ``d = log Z_hat - log Z``, and its standard error.

    ``Z_hat`` is unbiased and ``d`` is close to ``N(-s^2/2, s^2)`` (Berard, Del Moral
    and Doucet, 2014), so the statistic is close to 0. Its standard error is the
    delta method with sample central moments ``m2, m3, m4`` of ``d``:
    ``Var(mean + var/2) ~ (m2 + m3 + (m4 - m2^2) / 4) / R``.
    """
    d = np.asarray(log_z_hat, np.float64) - float(log_z)
    num = d.size
    centred = d - d.mean()
    m2, m3, m4 = (np.mean(centred**k) for k in (2, 3, 4))
    stat = d.mean() + d.var(ddof=1) / 2
    se = np.sqrt(max(m2 + m3 + (m4 - m2**2) / 4, 0.0) / num)
    return stat, se, d.var(ddof=1)


def bonferroni_max_t(estimates, truth, alpha=1e-3):
    """Max |t| over all cells of replicate means vs truth, and its Bonferroni bound.

    ``estimates`` is ``[R, ...]``; each cell's t statistic uses the sd across the
    ``R`` replicates. Bonferroni is valid for any dependence between cells (filtering
    errors are correlated over time), at family-wise level ``alpha``.
    """
    est = np.asarray(estimates, np.float64)
    num = est.shape[0]
    se = est.std(axis=0, ddof=1) / np.sqrt(num)
    t = (est.mean(axis=0) - np.asarray(truth, np.float64)) / se
    bound = stats.t.ppf(1 - alpha / (2 * t.size), num - 1)
    return np.max(np.abs(t)), bound


def tiny_model():
    """A 2-d linear-Gaussian state observed in 1-d (no oracle needed)."""
    from pinfer.models.linear_gaussian import LinearGaussianSSM

    return LinearGaussianSSM(
        m0=jnp.zeros(2),
        P0=jnp.eye(2),
        A=0.9 * jnp.eye(2),
        Q=0.5 * jnp.eye(2),
        H=jnp.ones((1, 2)),
        R=jnp.eye(1),
    )


def log_evidence_atol(num_steps, num_particles, log_evidence, dim, dtype=np.float32):
    """Bound on the difference of two evaluation orders of one filter's log-evidence.

    Each step adds ``logsumexp`` of ``N`` terms (a relative error ``gamma_N`` of the
    sum is an absolute error ``gamma_N`` of its log) and ``N`` Gaussian log-densities
    of dimension ``d`` (``d^2 + d`` operations, relative to their magnitude, which
    the log-evidence bounds); ``T`` steps add up.
    """
    return rounding_atol(num_steps * num_particles, 1.0, dtype) + rounding_atol(
        num_steps * (dim * dim + dim), abs(float(log_evidence)), dtype
    )


class BrokenModel(AbstractStateSpaceModel):
    """A model whose log-likelihood is ``value`` (e.g. -inf or NaN) at step ``k``."""

    inner: eqx.Module
    k: int = eqx.field(static=True)
    value: float = eqx.field(static=True)

    @property
    def observation_shape(self):
        return self.inner.observation_shape

    def sample_initial(self, key):
        return self.inner.sample_initial(key)

    def sample_transition(self, key, x_prev, t):
        return self.inner.sample_transition(key, x_prev, t)

    def log_observation(self, x, y, t):
        log_g = self.inner.log_observation(x, y, t)
        return jnp.where(t == self.k, self.value, log_g)


class DiscreteHMM(AbstractStateSpaceModel):
    """A hidden Markov chain on ``K`` states with Gaussian emissions (int32 states).

    ``x_0 ~ initial``, ``x_t ~ transition[x_{t-1}]``, ``y_t ~ N(means[x_t], scale^2)``:
    its exact filtering marginals come from the forward algorithm
    (:func:`hmm_forward`).
    """

    initial: jax.Array
    transition: jax.Array
    means: jax.Array
    scale: jax.Array

    @property
    def observation_shape(self):
        return ()

    def sample_initial(self, key):
        return jax.random.categorical(key, jnp.log(self.initial)).astype(jnp.int32)

    def sample_transition(self, key, x_prev, t):
        logits = jnp.log(self.transition[x_prev])
        return jax.random.categorical(key, logits).astype(jnp.int32)

    def log_observation(self, x, y, t):
        return jax.scipy.stats.norm.logpdf(y, self.means[x], self.scale)

    def sample_observation(self, key, x, t):
        return self.means[x] + self.scale * jax.random.normal(key, ())


def small_hmm() -> DiscreteHMM:
    return DiscreteHMM(
        initial=jnp.array([0.5, 0.3, 0.2]),
        transition=jnp.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]]),
        means=jnp.array([-1.0, 0.0, 1.5]),
        scale=jnp.array(0.8),
    )


def hmm_forward(model: DiscreteHMM, ys) -> tuple[np.ndarray, float]:
    """Exact filtering marginals ``p(x_t | y_{0:t})`` ``[T, K]`` and ``log p(y)``
    (float64 forward algorithm)."""
    initial = np.asarray(model.initial, np.float64)
    transition = np.asarray(model.transition, np.float64)
    means = np.asarray(model.means, np.float64)
    scale = float(model.scale)
    belief, log_z, marginals = initial, 0.0, []
    for y in np.asarray(ys, np.float64):
        predicted = belief @ transition
        joint = predicted * stats.norm.pdf(y, means, scale)
        log_z += np.log(joint.sum())
        belief = joint / joint.sum()
        marginals.append(belief)
    return np.stack(marginals), log_z


class SumRandomWalk(AbstractStateSpaceModel):
    """A 2-d random walk without ``observation_shape``, whose log-likelihood sums a
    broadcast ``y - x`` (so ``[T, 1]`` observations silently broadcast)."""

    def sample_initial(self, key):
        return jax.random.normal(key, (2,))

    def sample_transition(self, key, x_prev, t):
        return x_prev + 0.5 * jax.random.normal(key, (2,))

    def log_observation(self, x, y, t):
        return jax.scipy.stats.norm.logpdf(y, x).sum()


class VectorRandomWalk(SumRandomWalk):
    """As :class:`SumRandomWalk`, but the log-likelihood forgets to sum."""

    def log_observation(self, x, y, t):
        return jax.scipy.stats.norm.logpdf(y, x)
