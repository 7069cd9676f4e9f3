"""Docstring examples of pinfer's small utility modules run and print what they say."""

import pytest
from docstring_examples import assert_examples_run

from pinfer import (
    _validation_arrays,
    _validation_base,
    _validation_objects,
    linalg,
    random,
    validation,
)
from pinfer.models import gaussian, kalman, linear_gaussian
from pinfer.smc import schedule, ssm

# pinfer.validation's helpers are defined in its private modules (by family).
VALIDATION = [_validation_base, _validation_objects, _validation_arrays]
MODULES = [linalg, random, validation, *VALIDATION, schedule, ssm]
MODULES += [gaussian, kalman, linear_gaussian]
# Names the examples of the model modules use across modules.
SHARED = {
    name: getattr(linear_gaussian, name)
    for name in ("random_linear_gaussian", "simulate")
}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    names = {name: getattr(module, name) for name in module.__all__}
    assert_examples_run(module, {**SHARED, **names})
