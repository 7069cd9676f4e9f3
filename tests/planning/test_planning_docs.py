"""The docstring examples of pinfer.planning run and print what they say."""

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinfer.planning

# Imported by name: pinfer.planning.value_iteration is also a function.
MODULES = [
    importlib.import_module(f"pinfer.planning.{name}")
    for name in ("mdp", "expectation", "value_iteration", "soft", "budget", "goals")
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    names = {name: getattr(pinfer.planning, name) for name in pinfer.planning.__all__}
    result = doctest.testmod(
        module,
        extraglobs={"jax": jax, "jnp": jnp, "np": np, **names},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring examples of {module} failed"
