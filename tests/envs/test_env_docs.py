"""Every Example in the docstrings of pinfer.envs runs and prints what it says."""

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinfer.envs

NAMES = ["base", "builders", "grid_checks", "grid_params", "gridworld", "gym_adapter"]
NAMES += ["layouts", "registration", "render", "toy_text"]
MODULES = [importlib.import_module(f"pinfer.envs.{name}") for name in NAMES]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.split(".")[-1])
def test_docstring_examples_run(module):
    names = {name: getattr(pinfer.envs, name) for name in pinfer.envs.__all__}
    result = doctest.testmod(
        module,
        extraglobs={"jax": jax, "jnp": jnp, "np": np, **names},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring examples of {module} failed"


def test_every_public_name_is_documented():
    for name in pinfer.envs.__all__:
        obj = getattr(pinfer.envs, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
