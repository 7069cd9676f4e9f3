"""Every Example in the docstrings of pinfer.envs runs and prints what it says."""

import importlib

import pytest
from docstring_examples import assert_examples_run

import pinfer.envs

NAMES = ["base", "builders", "grid_checks", "grid_params", "gridworld", "gym_adapter"]
NAMES += ["layouts", "registration", "render", "toy_text"]
MODULES = [importlib.import_module(f"pinfer.envs.{name}") for name in NAMES]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.split(".")[-1])
def test_docstring_examples_run(module):
    names = {name: getattr(pinfer.envs, name) for name in pinfer.envs.__all__}
    assert_examples_run(module, names)


def test_every_public_name_is_documented():
    for name in pinfer.envs.__all__:
        obj = getattr(pinfer.envs, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
