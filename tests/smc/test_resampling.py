"""Statistical and contract tests of the resampling schemes.

Unbiasedness: over R independent replicates, the mean offspring count of particle i
must equal M w_i; each particle is z-tested with its empirical variance and a
Bonferroni bound over particles. Variance: stratified, systematic and residual must
have a smaller total offspring variance than multinomial, by a margin many times the
Monte-Carlo error of the variance estimates.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from tolerances import rounding_atol

from pinfer.smc.resampling import multinomial, residual, stratified, systematic

SCHEMES = {
    "multinomial": multinomial,
    "stratified": stratified,
    "systematic": systematic,
    "residual": residual,
}
# Non-trivial weights: a dominant one, two zeros, fractional expected counts.
WEIGHTS = np.array([0.5, 0.2, 0.0, 0.1, 0.05, 0.0, 0.1, 0.05])
NUM_PARTICLES = WEIGHTS.size
NUM_REPLICATES = 4000
ALPHA = 1e-3


@functools.cache
def _counts_fn(name: str, num_samples: int):
    """Jitted ``(keys, log_weights) -> [R, N]`` offspring counts, one per replicate."""
    scheme = SCHEMES[name]

    def counts(key, log_weights):
        idx = scheme(key, log_weights, num_samples)
        return jnp.bincount(idx, length=log_weights.shape[0])

    return jax.jit(jax.vmap(counts, in_axes=(0, None)))


@functools.cache
def _jitted(name: str, num_samples: int):
    return jax.jit(functools.partial(SCHEMES[name], num_samples=num_samples))


@functools.cache
def _replicate_counts(name: str, num_samples: int) -> np.ndarray:
    keys = jax.random.split(jax.random.key(1234), NUM_REPLICATES)
    log_w = jnp.log(jnp.asarray(WEIGHTS, jnp.float32))
    return np.asarray(_counts_fn(name, num_samples)(keys, log_w), np.float64)


@pytest.mark.parametrize("num_samples", [NUM_PARTICLES, 5])
@pytest.mark.parametrize("name", list(SCHEMES))
def test_expected_offspring_counts_are_unbiased(name, num_samples):
    counts = _replicate_counts(name, num_samples)
    assert np.all(counts.sum(axis=1) == num_samples)
    expected = num_samples * WEIGHTS
    mean = counts.mean(axis=0)
    var = counts.var(axis=0, ddof=1)
    random = var > 0
    # Deterministic counts (zero weights, exact residual copies) are whole numbers:
    # equal to M w_i up to the one float64 rounding of that product.
    atol = rounding_atol(1, num_samples, np.float64)
    np.testing.assert_allclose(mean[~random], expected[~random], atol=atol)
    z = (mean[random] - expected[random]) / np.sqrt(var[random] / NUM_REPLICATES)
    z_crit = stats.norm.ppf(1 - ALPHA / (2 * NUM_PARTICLES))
    assert np.all(np.abs(z) < z_crit), (z, z_crit)


def _total_variance_and_se(counts: np.ndarray) -> tuple[float, float]:
    """Sum over particles of Var(count), and a bound on its Monte-Carlo error.

    SE(sample variance) ~ sqrt((m4 - var^2) / R); the SE of the sum is at most the
    sum of the SEs, whatever the correlation between particles.
    """
    centred = counts - counts.mean(axis=0)
    var = (centred**2).mean(axis=0)
    m4 = (centred**4).mean(axis=0)
    se = np.sqrt(np.maximum(m4 - var**2, 0.0) / counts.shape[0])
    return float(var.sum()), float(se.sum())


def test_multinomial_variance_matches_theory():
    var, se = _total_variance_and_se(_replicate_counts("multinomial", NUM_PARTICLES))
    theory = NUM_PARTICLES * np.sum(WEIGHTS * (1 - WEIGHTS))
    assert abs(var - theory) < 5 * se, (var, theory, se)


@pytest.mark.parametrize("name", ["stratified", "systematic", "residual"])
def test_low_variance_schemes_beat_multinomial(name):
    var_multi, se_multi = _total_variance_and_se(
        _replicate_counts("multinomial", NUM_PARTICLES)
    )
    var, se = _total_variance_and_se(_replicate_counts(name, NUM_PARTICLES))
    assert var_multi - var > 5 * (se_multi + se), (var_multi, var, se_multi, se)


def test_residual_variance_matches_theory():
    # floor(M w) copies are fixed; the rest is multinomial on the residual weights.
    scaled = NUM_PARTICLES * WEIGHTS
    rest = scaled - np.floor(scaled)
    num_rest = rest.sum()
    theory = num_rest * np.sum(rest / num_rest * (1 - rest / num_rest))
    var, se = _total_variance_and_se(_replicate_counts("residual", NUM_PARTICLES))
    assert abs(var - theory) < 5 * se, (var, theory, se)


@pytest.mark.parametrize("num_samples", [NUM_PARTICLES, 5])
@pytest.mark.parametrize("name", list(SCHEMES))
def test_zero_weight_particles_get_no_offspring(name, num_samples):
    counts = _replicate_counts(name, num_samples)
    assert np.all(counts[:, WEIGHTS == 0] == 0)


@pytest.mark.parametrize("name", list(SCHEMES))
def test_trailing_zero_weight_survives_round_off(name):
    # Log-weights around -3000 (a long likelihood) carry ~1e-4 round-off in their
    # float32 normaliser, so the normalised weights sum to 1 - 4e-5 and a draw in
    # that gap used to land on the zero-weight particle at the end (about 20 of the
    # 5e5 draws here did). None may.
    log_w = jnp.append(-3000.0 + jnp.log(jnp.arange(1.0, 9.0)), -jnp.inf)
    num_samples, num_keys = 64, 8192
    scheme = SCHEMES[name]
    fn = jax.jit(jax.vmap(lambda k: jnp.max(scheme(k, log_w, num_samples))))
    keys = jax.random.split(jax.random.key(7), num_keys)
    assert int(jnp.max(fn(keys))) < log_w.shape[0] - 1


@pytest.mark.parametrize("num_samples", [1, 13])
@pytest.mark.parametrize("name", list(SCHEMES))
def test_int32_in_range_with_static_shape_under_jit_and_vmap(name, num_samples):
    scheme = SCHEMES[name]
    log_w = jnp.log(jnp.asarray(WEIGHTS, jnp.float32))
    keys = jax.random.split(jax.random.key(1), 3)
    batch_log_w = jnp.stack([log_w, jnp.zeros(NUM_PARTICLES), log_w[::-1]])
    batched = jax.jit(jax.vmap(scheme, in_axes=(0, 0, None)), static_argnums=2)(
        keys, batch_log_w, num_samples
    )
    assert batched.shape == (3, num_samples) and batched.dtype == jnp.int32
    assert jnp.all((batched >= 0) & (batched < NUM_PARTICLES))
    single = jax.jit(scheme, static_argnums=2)(keys[2], batch_log_w[2], num_samples)
    np.testing.assert_array_equal(batched[2], single)


@pytest.mark.parametrize("name", list(SCHEMES))
def test_all_minus_inf_weights_give_valid_indices(name):
    log_w = jnp.full(NUM_PARTICLES, -jnp.inf)
    idx = _jitted(name, 11)(jax.random.key(3), log_w)
    assert idx.shape == (11,) and idx.dtype == jnp.int32
    assert jnp.all((idx >= 0) & (idx < NUM_PARTICLES))


@pytest.mark.parametrize("name", list(SCHEMES))
def test_deterministic_for_fixed_key(name):
    log_w = jax.random.normal(jax.random.key(5), (50,))
    fn = _jitted(name, 50)
    first = fn(jax.random.key(9), log_w)
    np.testing.assert_array_equal(first, fn(jax.random.key(9), log_w))
    # Systematic draws often coincide for two keys; eight keys must not all agree.
    others = [fn(jax.random.key(10 + i), log_w) for i in range(8)]
    assert not all(np.array_equal(first, other) for other in others)


@pytest.mark.parametrize("name", list(SCHEMES))
def test_float64_counts_are_unbiased(name):
    with jax.enable_x64(True):
        log_w = jnp.log(jnp.asarray(WEIGHTS, jnp.float64))
        assert log_w.dtype == jnp.float64
        idx = SCHEMES[name](jax.random.key(0), log_w, NUM_PARTICLES)
        assert idx.dtype == jnp.int32
        keys = jax.random.split(jax.random.key(2), 1000)
        counts = np.asarray(_counts_fn(name, NUM_PARTICLES)(keys, log_w), np.float64)
    assert np.all(counts[:, WEIGHTS == 0] == 0)
    mean, var = counts.mean(axis=0), counts.var(axis=0, ddof=1)
    random = var > 0
    # Whole numbers against M w_i, one float64 rounding of that product.
    atol = rounding_atol(1, NUM_PARTICLES, np.float64)
    np.testing.assert_allclose(mean[~random], 8 * WEIGHTS[~random], atol=atol)
    z = (mean[random] - 8 * WEIGHTS[random]) / np.sqrt(var[random] / 1000)
    assert np.all(np.abs(z) < stats.norm.ppf(1 - ALPHA / (2 * NUM_PARTICLES)))


_PROPERTY_N = 12


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    values=st.lists(
        st.floats(-1e6, 1e6, width=32), min_size=_PROPERTY_N, max_size=_PROPERTY_N
    ),
    dead=st.lists(st.booleans(), min_size=_PROPERTY_N, max_size=_PROPERTY_N),
    name=st.sampled_from(list(SCHEMES)),
    num_samples=st.sampled_from([1, _PROPERTY_N, 30]),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_indices_in_range_and_alive(values, dead, name, num_samples, seed):
    log_w = jnp.where(jnp.asarray(dead), -jnp.inf, jnp.asarray(values, jnp.float32))
    idx = np.asarray(_jitted(name, num_samples)(jax.random.key(seed), log_w))
    assert idx.shape == (num_samples,) and idx.dtype == np.int32
    assert np.all((idx >= 0) & (idx < _PROPERTY_N))
    if not all(dead):
        assert not np.any(np.asarray(dead)[idx])
