"""pinfer.linalg: unrolled small products agree with ``@``; the scan cumsum is exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinfer import linalg


def _rand(key, shape):
    return jax.random.normal(jax.random.key(key), shape)


@pytest.mark.parametrize("m, n", [(1, 1), (2, 4), (4, 4), (3, 16), (2, 17)])
def test_matvec_and_dot_match_matmul(m, n):
    matrix, vector = _rand(0, (m, n)), _rand(1, (n,))
    # Float32 sums of n products: rounding <= n * eps * sum |terms|.
    bound = 4 * n * np.finfo(np.float32).eps * (np.abs(matrix) @ np.abs(vector) + 1)
    np.testing.assert_array_less(
        np.abs(linalg.matvec(matrix, vector) - matrix @ vector), bound
    )
    u = _rand(2, (n,))
    bound = 4 * n * np.finfo(np.float32).eps * (np.abs(u) @ np.abs(vector) + 1)
    assert abs(linalg.dot(u, vector) - u @ vector) < bound


def test_unrolled_forms_vmap_over_particles():
    matrix, rows = _rand(3, (2, 4)), _rand(4, (1000, 4))
    batched = jax.vmap(linalg.matvec, in_axes=(None, 0))(matrix, rows)
    np.testing.assert_allclose(batched, rows @ matrix.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        linalg.rowvec_matmul_t(rows, matrix), rows @ matrix.T, rtol=1e-5, atol=1e-5
    )
    big = _rand(5, (3, 20))
    np.testing.assert_allclose(
        linalg.rowvec_matmul_t(_rand(6, (7, 20)), big),
        _rand(6, (7, 20)) @ big.T,
        rtol=1e-5,
        atol=1e-5,
    )
    dots = jax.vmap(linalg.dot)(rows, rows)
    np.testing.assert_allclose(dots, jnp.sum(rows * rows, -1), rtol=1e-5)


def test_unrolled_forms_are_differentiable():
    matrix, vector = _rand(7, (2, 3)), _rand(8, (3,))
    grad = jax.grad(lambda v: jnp.sum(linalg.matvec(matrix, v) ** 2))(vector)
    expected = jax.grad(lambda v: jnp.sum((matrix @ v) ** 2))(vector)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        linalg.matvec(jnp.ones((2, 3)), jnp.ones(4))
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        linalg.dot(jnp.ones(3), jnp.ones(2))
    with pytest.raises(ValueError, match=r"\(5, 3\) and \(2, 4\)"):
        linalg.rowvec_matmul_t(jnp.ones((5, 3)), jnp.ones((2, 4)))


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 100_003])
def test_cumsum_integers_exact(size):
    values = jax.random.randint(jax.random.key(size), (size,), 0, 5)
    np.testing.assert_array_equal(linalg.cumsum(values), np.cumsum(np.asarray(values)))


def test_cumsum_floats_and_axis():
    values = jax.random.uniform(jax.random.key(0), (3, 50_000))
    expected = np.cumsum(np.asarray(values, np.float64), axis=1)
    # Pairwise (tree) float32 summation: error ~ log2(n) eps * partial sum.
    bound = 20 * np.finfo(np.float32).eps * expected
    np.testing.assert_array_less(
        np.abs(linalg.cumsum(values, axis=1) - expected), bound + 1e-6
    )
    np.testing.assert_allclose(
        linalg.cumsum(values, axis=0), np.cumsum(values, axis=0), rtol=1e-6
    )
