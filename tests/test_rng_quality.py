"""Statistical checks of the generators a particle filter draws from.

``pinfer.random.normal`` (used by ``LinearGaussianSSM``'s population hooks) keeps both
words of every threefry hash; ``jax.random.key(seed, impl="rbg")`` is the other fast
generator a user may pick. Each is checked the way a filter uses it: one long
stream, and many short streams from split keys (one key per particle):

* the unrolled hash is bit-identical to jax's ``threefry2x32`` primitive,
* normality: Kolmogorov-Smirnov and a 1000-bin chi-square on ``Phi(z)``, level 1e-4,
* every one of the 32 output bits of both hash words is fair,
* no serial correlation (lags 1, 2, 7, 64), none between the two words of one hash
  (numbers ``e`` and ``e + n/2``), none between the components of a ``[N, 4]`` draw,
  none between sibling streams (|r| < 4.5 / sqrt(n)),
* the bootstrap filter's evidence stays unbiased for the Kalman value.

Every check uses a fixed key; the thresholds are proper tests with small false-alarm
levels, not tuned to the seed.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry2x32_p
from scipy import stats

from benchmarks.handwritten_filter import (
    build_filter,
    kalman_log_evidence,
    make_problem,
    to_jax,
)
from pinfer.random import normal, threefry2x32

ALPHA = 1e-4


def _pinfer_normal(key, shape):
    return normal(key, shape)


def _rbg_normal(key, shape):
    return jax.random.normal(key, shape)


# name -> (key implementation, normal sampler)
SOURCES = {
    "pinfer.random.normal": ("threefry2x32", _pinfer_normal),
    "rbg": ("rbg", _rbg_normal),
}


def _draw(source, seed, shape):
    impl, sample = SOURCES[source]
    return np.asarray(sample(jax.random.key(seed, impl=impl), shape), np.float64)


def _uncorrelated(a, b, what):
    r = np.corrcoef(a, b)[0, 1]
    assert abs(r) < 4.5 / np.sqrt(a.size), (what, r)


def test_unrolled_hash_is_threefry():
    key_words = jax.random.bits(jax.random.key(0), (8, 2), jnp.uint32)
    counts = jax.random.bits(jax.random.key(1), (2, 4096), jnp.uint32)
    for k0, k1 in np.asarray(key_words):
        expected = threefry2x32_p.bind(jnp.uint32(k0), jnp.uint32(k1), *counts)
        got = jax.jit(threefry2x32)(jnp.uint32(k0), jnp.uint32(k1), *counts)
        for want, have in zip(expected, got, strict=True):
            np.testing.assert_array_equal(np.asarray(want), np.asarray(have))


def test_every_bit_of_both_words_is_fair():
    words = jax.random.key_data(jax.random.key(2))
    counters = jnp.arange(1 << 17, dtype=jnp.uint32)
    se = 0.5 / np.sqrt(counters.size)
    for bits in threefry2x32(words[0], words[1], jnp.zeros_like(counters), counters):
        ones = (np.asarray(bits)[:, None] >> np.arange(32, dtype=np.uint32)) & 1
        assert np.all(np.abs(ones.mean(0) - 0.5) < 4.5 * se), ones.mean(0)


@pytest.mark.parametrize("source", SOURCES)
def test_long_stream_normals(source):
    z = _draw(source, 3, (1 << 20,))
    assert stats.kstest(z, "norm").pvalue > ALPHA
    counts = np.bincount((stats.norm.cdf(z) * 1000).astype(int), minlength=1000)
    assert stats.chisquare(counts[:1000]).pvalue > ALPHA
    for lag in (1, 2, 7, 64):
        _uncorrelated(z[:-lag], z[lag:], f"lag {lag}")
    half = z.size // 2  # the two words of one hash (pinfer) / far-apart numbers
    _uncorrelated(z[:half], z[half:], "word 0 vs word 1")
    _uncorrelated(z[:half] ** 2, z[half:] ** 2, "squares, word 0 vs word 1")


@pytest.mark.parametrize("source", SOURCES)
def test_population_draw_components_independent(source):
    z = _draw(source, 4, (1 << 18, 4))
    assert stats.kstest(z.ravel(), "norm").pvalue > ALPHA
    cov = np.cov(z.T)
    assert np.all(np.abs(cov - np.eye(4)) < 4.5 * np.sqrt(2.0 / z.shape[0])), cov
    _uncorrelated(z[:-1, 0], z[1:, 0], "neighbouring particles")
    odd = _draw(source, 5, (1 << 16, 3))  # odd width: one word of a hash dropped
    assert stats.kstest(odd.ravel(), "norm").pvalue > ALPHA


@pytest.mark.parametrize("source", SOURCES)
def test_split_streams_are_normal_and_uncorrelated(source):
    impl, sample = SOURCES[source]
    keys = jax.random.split(jax.random.key(6, impl=impl), 1 << 14)
    z = np.asarray(jax.vmap(lambda k: sample(k, (16,)))(keys), np.float64)
    assert stats.kstest(z.ravel(), "norm").pvalue > ALPHA
    assert stats.kstest(z[:, 0], "norm").pvalue > ALPHA
    for j in (0, 8, 15):
        _uncorrelated(z[:-1, j], z[1:, j], f"sibling keys, position {j}")
    _uncorrelated(z[:, 0], z[:, 8], "positions 0 and 8 (one hash)")


def test_normal_is_deterministic_and_vmaps_like_a_loop():
    keys = jax.random.split(jax.random.key(7), 3)
    batched = jax.vmap(lambda k: normal(k, (5, 4)))(keys)
    looped = jnp.stack([jax.jit(normal, static_argnums=1)(k, (5, 4)) for k in keys])
    np.testing.assert_array_equal(batched, looped)
    np.testing.assert_array_equal(normal(keys[0], (5, 4)), normal(keys[0], (5, 4)))
    assert normal(keys[0], ()).shape == ()
    assert normal(keys[0], (0, 3)).shape == (0, 3)


def test_other_keys_and_dtypes_fall_back_to_jax():
    rbg = jax.random.key(8, impl="rbg")
    np.testing.assert_array_equal(normal(rbg, (6,)), jax.random.normal(rbg, (6,)))
    key = jax.random.key(9)
    half = normal(key, (6,), jnp.bfloat16)
    np.testing.assert_array_equal(half, jax.random.normal(key, (6,), jnp.bfloat16))


NUM_STEPS, NUM_PARTICLES, NUM_SEEDS = 20, 256, 200


def _assert_unbiased(log_z, exact):
    ratio = np.exp(np.asarray(log_z, np.float64) - exact)
    assert np.all(np.isfinite(ratio))
    assert abs(ratio.mean() - 1) < 4 * ratio.std(ddof=1) / np.sqrt(ratio.size)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_filter_evidence_unbiased(impl):
    problem = make_problem(0, NUM_STEPS)
    exact = kalman_log_evidence(problem)
    keys = jax.random.split(jax.random.key(10, impl=impl), NUM_SEEDS)
    if impl == "rbg":
        pf = build_filter(NUM_PARTICLES)
        log_z = jax.vmap(pf, in_axes=(0, None))(keys, to_jax(problem))
        _assert_unbiased(log_z, exact)

    from pinfer.models.linear_gaussian import LinearGaussianSSM
    from pinfer.smc import particle_filter

    model = LinearGaussianSSM(*(jnp.asarray(a, jnp.float32) for a in problem[:6]))
    ys = jnp.asarray(problem.ys, jnp.float32)

    @jax.vmap
    def pinfer_log_z(key):
        result = particle_filter(key, model, ys, NUM_PARTICLES, ess_threshold=1.0)
        return result.log_evidence

    _assert_unbiased(pinfer_log_z(keys), exact)


def test_normal_under_x64_keeps_float32_bits_and_falls_back_for_float64():
    key = jax.random.key(11)
    expected = normal(key, (4, 3))
    with jax.enable_x64(True):
        same = normal(key, (4, 3))
        wide = normal(key, (4, 3), jnp.float64)
        np.testing.assert_array_equal(wide, jax.random.normal(key, (4, 3), jnp.float64))
    assert same.dtype == jnp.float32 and wide.dtype == jnp.float64
    np.testing.assert_array_equal(same, expected)


def test_threefry_rejects_signed_words():
    # Signed words shift arithmetically: a different (wrong) hash, once silently.
    words = jax.random.key_data(jax.random.key(0))
    count = jnp.arange(4, dtype=jnp.uint32)
    with pytest.raises(TypeError, match=r"threefry2x32: `key0`.*int32"):
        threefry2x32(words[0].astype(jnp.int32), words[1], count, count)
    with pytest.raises(TypeError, match=r"`count1`.*int32"):
        threefry2x32(words[0], words[1], count, count.astype(jnp.int32))
    with pytest.raises(ValueError, match=r"`count1`.*\[4\].*\(3,\)"):
        threefry2x32(words[0], words[1], count, count[:3])
    with pytest.raises(ValueError, match=r"`key1`.*\(2,\)"):
        threefry2x32(words[0], words, count, count)


def test_normal_checks_key_shape_and_dtype():
    key = jax.random.key(0)
    with pytest.raises(TypeError, match=r"normal: `shape`.*2\.5"):
        normal(key, (2.5,))  # once truncated silently to (2,)
    with pytest.raises(ValueError, match=r"normal: `shape`.*-1"):
        normal(key, (3, -1))
    with pytest.raises(TypeError, match=r"normal: `key`.*jax\.random\.key"):
        normal(0, (3,))
    with pytest.raises(ValueError, match=r"normal: `key`.*\(2,\)"):
        normal(jax.random.split(key), (3,))
    with pytest.raises(TypeError, match=r"normal: `dtype`.*int32"):
        normal(key, (3,), jnp.int32)
    assert normal(key, 3).shape == (3,)
    np.testing.assert_array_equal(normal(key, 3), normal(key, (3,)))
