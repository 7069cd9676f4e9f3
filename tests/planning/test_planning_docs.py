"""The docstring examples of pinfer.planning run and print what they say."""

import importlib

import pytest
from docstring_examples import assert_examples_run

import pinfer.planning

# Imported by name: pinfer.planning.value_iteration is also a function.
MODULES = [
    importlib.import_module(f"pinfer.planning.{name}")
    for name in ("mdp", "expectation", "value_iteration", "soft", "budget", "goals")
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    names = {name: getattr(pinfer.planning, name) for name in pinfer.planning.__all__}
    assert_examples_run(module, names)
