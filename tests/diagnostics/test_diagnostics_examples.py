"""The docstring examples of pinfer.diagnostics run and print what they say.

The examples of ``mcse``, ``sbc`` and ``tarp`` run op by op on arrays of hundreds of
draws (seconds each on two cores), so only the light modules run here."""

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

MODULES = ["ess", "_checks"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"pinfer.diagnostics.{name}")
    result = doctest.testmod(
        module,
        extraglobs={"jax": jax, "jnp": jnp, "np": np},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} examples of {module.__name__} failed"
