"""Tests of the shared contracts in pinfer.base and pinfer.progress."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pinfer.base import Algorithm, check_key, split_key
from pinfer.progress import progress_scan, report_fraction


def test_check_key_accepts_typed_and_legacy_keys():
    check_key(jax.random.key(0))
    check_key(jax.random.PRNGKey(0))


@pytest.mark.parametrize("bad", [None, 3, 2.5, jnp.zeros(3), np.ones((2, 2))])
def test_check_key_rejects_with_a_teaching_message(bad):
    with pytest.raises(TypeError, match=r"jax\.random\.key\(seed\)"):
        check_key(bad)


def test_split_key_gives_distinct_keys():
    a, b = split_key(jax.random.key(0))
    assert not np.array_equal(jax.random.key_data(a), jax.random.key_data(b))


def test_algorithm_bundles_init_and_step():
    alg = Algorithm(init=lambda x: (x,), step=lambda key, s: (s, ()))
    state = alg.init(1.0)
    assert alg.step(jax.random.key(0), state) == ((1.0,), ())


@pytest.mark.parametrize("progress", [False, True])
def test_progress_scan_equals_lax_scan(progress):
    def f(c, x):
        return c + x, c * x

    xs = jnp.arange(500.0)
    expected = jax.lax.scan(f, 0.0, xs)
    got = jax.jit(lambda xs: progress_scan(f, 0.0, xs, progress=progress))(xs)
    np.testing.assert_array_equal(expected[0], got[0])
    np.testing.assert_array_equal(expected[1], got[1])


def test_progress_bar_reaches_its_total(capsys):
    progress_scan(lambda c, x: (c + 1, None), 0, None, length=50, progress=True)
    jax.effects_barrier()
    err = capsys.readouterr().err
    assert "50/50" in err


def test_report_fraction_traces_nothing_when_off():
    jaxpr = jax.make_jaxpr(lambda f: report_fraction(0, f, progress=False))(0.5)
    assert len(jaxpr.eqns) == 0
