"""The docstring examples of pinfer.diagnostics run and print what they say.

The examples of ``mcse``, ``sbc`` and ``tarp`` run op by op on arrays of hundreds of
draws (seconds each on two cores), so only the light modules run here."""

import importlib

import pytest
from docstring_examples import assert_examples_run

MODULES = ["ess", "_checks"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"pinfer.diagnostics.{name}")
    assert_examples_run(module)
