"""pinfer.linalg: unrolled small products agree with ``@``; the scan cumsum is exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tolerances import rounding_rtol

from pinfer import linalg

EPS = float(np.finfo(np.float32).eps)
# One compilation per shape instead of one per operation of the eager scan.
_cumsum = jax.jit(linalg.cumsum, static_argnames="axis")


def _rand(key, shape):
    return jax.random.normal(jax.random.key(key), shape)


def _assert_matmul(got, a, b):
    """``got`` is float32 ``a @ b``: within the rounding bound of a sum of n products,
    ``|error| <= n eps (|a| @ |b|)`` (Higham, 2002, 3.1), against float64."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n = a64.shape[-1]
    got = np.asarray(got, np.float64)
    bound = n * EPS * (np.abs(a64) @ np.abs(b64)).reshape(got.shape)
    exact = (a64 @ b64).reshape(got.shape)
    assert np.all(np.abs(got - exact) <= bound + np.finfo(np.float32).tiny)


@pytest.mark.parametrize("m, n", [(1, 1), (2, 4), (4, 4), (3, 16), (2, 17)])
def test_matvec_and_dot_match_matmul(m, n):
    matrix, vector, u = _rand(0, (m, n)), _rand(1, (n,)), _rand(2, (n,))
    _assert_matmul(linalg.matvec(matrix, vector), matrix, vector)
    _assert_matmul(linalg.dot(u, vector), u, vector)


def test_unrolled_forms_vmap_over_particles():
    matrix, rows = _rand(3, (2, 4)), _rand(4, (1000, 4))
    batched = jax.vmap(linalg.matvec, in_axes=(None, 0))(matrix, rows)
    _assert_matmul(batched, rows, matrix.T)
    _assert_matmul(linalg.rowvec_matmul_t(rows, matrix), rows, matrix.T)
    big, wide = _rand(5, (3, 20)), _rand(6, (7, 20))  # above UNROLL_MAX: plain @
    _assert_matmul(linalg.rowvec_matmul_t(wide, big), wide, big.T)
    dots = jax.vmap(linalg.dot)(rows, rows)
    _assert_matmul(dots, rows[:, None, :], rows[:, :, None])


def test_unrolled_forms_are_differentiable():
    matrix, vector = _rand(7, (2, 3)), _rand(8, (3,))
    grad = jax.grad(lambda v: jnp.sum(linalg.matvec(matrix, v) ** 2))(vector)
    # d/dv |M v|^2 = 2 M' M v: a product of two sums of 3 terms each.
    m64, v64 = np.asarray(matrix, np.float64), np.asarray(vector, np.float64)
    bound = 8 * EPS * (2 * np.abs(m64).T @ (np.abs(m64) @ np.abs(v64)))
    assert np.all(np.abs(np.asarray(grad) - 2 * m64.T @ (m64 @ v64)) <= bound)


def test_shape_errors_name_the_argument_and_the_shapes():
    with pytest.raises(ValueError, match=r"`vector`.*\(2, 3\).*\(4,\)"):
        linalg.matvec(jnp.ones((2, 3)), jnp.ones(4))
    with pytest.raises(ValueError, match=r"`v`.*\(3,\).*\(2,\)"):
        linalg.dot(jnp.ones(3), jnp.ones(2))
    with pytest.raises(ValueError, match=r"`matrix`.*\(5, 3\).*\(2, 4\)"):
        linalg.rowvec_matmul_t(jnp.ones((5, 3)), jnp.ones((2, 4)))
    with pytest.raises(ValueError, match=r"`matrix`.*2 dimension.*\(3,\)"):
        linalg.matvec(jnp.ones(3), jnp.ones(3))


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 100_003])
def test_cumsum_integers_exact(size):
    values = jax.random.randint(jax.random.key(size), (size,), 0, 5)
    np.testing.assert_array_equal(_cumsum(values), np.cumsum(np.asarray(values)))


def test_cumsum_floats_and_axis():
    values = jax.random.uniform(jax.random.key(0), (3, 50_000))
    expected = np.cumsum(np.asarray(values, np.float64), axis=1)
    # A parallel scan rounds each prefix about 2 log2(n) times along its longest
    # chain; the terms are positive, so the bound is relative to the prefix itself
    # (Higham, 2002, 3.1), against float64.
    chain = 2 * int(np.ceil(np.log2(values.shape[1])))
    bound = rounding_rtol(num_ops=chain) * expected
    assert np.all(np.abs(np.asarray(_cumsum(values, axis=1)) - expected) <= bound)
    # Along the short axis: two float32 orders of a sum of 3 positive terms.
    np.testing.assert_allclose(
        _cumsum(values, axis=0),
        np.cumsum(values, axis=0),
        rtol=rounding_rtol(num_ops=3),
    )


@pytest.mark.parametrize(
    "n, shape",
    [(1, ()), (5, (4,)), (64, (4,)), (1001, (4,)), (100_003, (4,)), (37, (3,))]
    + [(200, (2, 3)), (50, (64,)), (30, (65,)), (10, (1,))],
)
def test_weighted_sum_matches_tensordot(n, shape):
    # Every layout (whole rows plus a remainder, trailing sizes that do or do not
    # divide the row width, above it: tensordot) within the float32 rounding bound
    # of a sum of n products, against float64.
    weights = jax.random.uniform(jax.random.key(n), (n,))
    values = _rand(n + 1, (n, *shape))
    got = linalg.weighted_sum(weights, values)
    assert got.shape == shape
    _assert_matmul(got, weights[None, :], values.reshape(n, -1))


def test_weighted_sum_vmaps_promotes_and_checks_shapes():
    weights = jax.random.uniform(jax.random.key(0), (6, 300))
    values = _rand(1, (6, 300, 4))
    batched = jax.vmap(linalg.weighted_sum)(weights, values)
    for b in range(6):
        _assert_matmul(batched[b], weights[b][None, :], values[b])
    counts = jnp.arange(12).reshape(3, 4)  # integer particles promote to float
    got = linalg.weighted_sum(jnp.array([0.5, 0.25, 0.25]), counts)
    # Dyadic weights of small integers: every product and sum is exact.
    np.testing.assert_array_equal(got, [3.0, 4.0, 5.0, 6.0])
    with pytest.raises(ValueError, match=r"`weights`.*\(4, 2\).*\(3,\)"):
        linalg.weighted_sum(jnp.ones(3), jnp.ones((4, 2)))


def test_bool_and_non_numeric_inputs_are_rejected():
    # Bools once went through as logical and / or: [True, True] @ [True, True]
    # gave True, not 2.
    yes = jnp.array([True, True])
    with pytest.raises(TypeError, match=r"matvec: `matrix`.*bool"):
        linalg.matvec(yes[None, :], yes.astype(jnp.float32))
    with pytest.raises(TypeError, match=r"dot: `v`.*bool"):
        linalg.dot(jnp.ones(2), yes)
    with pytest.raises(TypeError, match=r"cumsum: `values`.*bool"):
        linalg.cumsum(jnp.array([True, True, True]))
    with pytest.raises(TypeError, match=r"weighted_sum: `weights`.*bool"):
        linalg.weighted_sum(yes, jnp.ones((2, 3)))
    with pytest.raises(TypeError, match=r"rowvec_matmul_t: `rows`"):
        linalg.rowvec_matmul_t("rows", jnp.eye(2))


def test_cumsum_checks_its_axis_and_rank():
    with pytest.raises(ValueError, match=r"`axis`.*2"):
        linalg.cumsum(jnp.ones((3, 4)), axis=2)
    with pytest.raises(TypeError, match=r"`axis`.*1\.0"):
        linalg.cumsum(jnp.ones((3, 4)), axis=1.0)
    with pytest.raises(ValueError, match=r"`values`.*\(\)"):
        linalg.cumsum(jnp.float32(1.0))
    np.testing.assert_array_equal(linalg.cumsum(jnp.ones((2, 3)), axis=-1)[:, -1], 3)


def test_nan_propagates_as_documented():
    # Pure arithmetic: a NaN entry makes the entries it touches NaN, never a number.
    nan_vector = jnp.array([1.0, jnp.nan])
    assert np.isnan(np.asarray(linalg.matvec(jnp.ones((3, 2)), nan_vector))).all()
    assert np.isnan(float(linalg.dot(jnp.ones(2), nan_vector)))
    assert np.isnan(np.asarray(linalg.weighted_sum(nan_vector, jnp.ones((2, 3))))).all()
    assert np.isnan(np.asarray(linalg.cumsum(nan_vector))[1])


def test_checks_are_static_under_jit():
    # Shapes and dtypes are checked at trace time; the compiled program holds only
    # the arithmetic (no host callbacks, no value checks).
    jaxpr = jax.make_jaxpr(linalg.matvec)(jnp.ones((2, 3)), jnp.ones(3))
    assert {eqn.primitive.name for eqn in jaxpr.eqns} <= {
        "mul",
        "add",
        "slice",
        "squeeze",
    }
    with pytest.raises(ValueError, match=r"`vector`.*\(4,\)"):
        jax.jit(linalg.matvec)(jnp.ones((2, 3)), jnp.ones(4))
