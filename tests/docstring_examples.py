"""Running the Example sections of a module's docstrings (doctest) in the tests."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def assert_examples_run(module, names=None, **extra) -> None:
    """Run every docstring example of ``module`` with ``jax``, ``jnp``, ``np``,
    ``names`` (a dict, e.g. a package's public names) and ``extra`` in scope; fail
    unless some ran and none failed."""
    globs = {"jax": jax, "jnp": jnp, "np": np, **(names or {}), **extra}
    result = doctest.testmod(module, extraglobs=globs, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0, f"{module.__name__} has no docstring examples"
    assert result.failed == 0, f"{result.failed} examples of {module.__name__} failed"
