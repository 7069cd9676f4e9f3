"""pinfer.progress checks its arguments at the boundary; the examples of
pinfer.progress and pinfer.sharding run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from docstring_examples import assert_examples_run

from pinfer import progress, sharding
from pinfer.progress import close_bar, new_bar_id, progress_scan, report_fraction


def test_progress_scan_checks_its_arguments():
    with pytest.raises(TypeError, match=r"progress_scan: `f`.*'step'"):
        progress_scan("step", 0.0, jnp.arange(3.0))
    with pytest.raises(TypeError, match=r"`progress`.*'yes'"):
        progress_scan(lambda c, x: (c, x), 0.0, jnp.arange(3.0), progress="yes")
    with pytest.raises(ValueError, match=r"`length`.*-2"):
        progress_scan(lambda c, x: (c, x), 0.0, None, length=-2)
    with pytest.raises(ValueError, match=r"`xs`.*`length`"):
        progress_scan(lambda c, x: (c, x), 0.0, None, progress=True)
    with pytest.raises(TypeError, match=r"`desc`.*3"):
        progress_scan(lambda c, x: (c, x), 0.0, jnp.arange(3.0), desc=3)


def test_report_fraction_checks_concrete_values_only():
    with pytest.raises(ValueError, match=r"report_fraction: `fraction`.*1\.5"):
        report_fraction(0, 1.5)
    with pytest.raises(ValueError, match=r"`fraction`.*nan"):
        report_fraction(0, jnp.nan)
    with pytest.raises(ValueError, match=r"`fraction`.*\(2,\)"):
        report_fraction(0, jnp.array([0.1, 0.2]))
    with pytest.raises(TypeError, match=r"`bar_id`.*'a'"):
        report_fraction("a", 0.5)
    # Traced: only the static checks run, and nothing is traced when progress is off.
    jaxpr = jax.make_jaxpr(lambda f: report_fraction(new_bar_id(), f))(2.0)
    assert len(jaxpr.eqns) == 0


def test_close_bar_checks_its_id():
    with pytest.raises(TypeError, match=r"close_bar: `bar_id`.*'x'"):
        close_bar("x")
    close_bar(new_bar_id())  # an id with no bar: nothing to close
    assert np.isscalar(new_bar_id())


@pytest.mark.parametrize("module", [progress, sharding], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    assert_examples_run(module)
