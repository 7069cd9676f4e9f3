"""The docstring examples of pinfer.smc's modules run and print what they say."""

import importlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from docstring_examples import assert_examples_run

NAMES = (
    "_broadcast",
    "annealed",
    "base",
    "mcmc",
    "numpyro_bridge",
    "particle_filter",  # the module (pinfer.smc.particle_filter is the function)
    "resampling",
    "simulation",
    "smoothing",
    "streaming",
    "tempered",
    "tempered_step",
    "tuning",
)
MODULES = [importlib.import_module(f"pinfer.smc.{name}") for name in NAMES]
GLOBALS = {"jax": jax, "jnp": jnp, "np": np, "eqx": eqx, "numpyro": numpyro}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    names = {name: getattr(module, name) for name in module.__all__}
    assert_examples_run(module, {**GLOBALS, "dist": dist, **names})
