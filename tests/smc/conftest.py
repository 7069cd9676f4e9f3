"""Shared fixtures for the particle-filter tests (helpers live in pf_helpers.py)."""

import pytest
from pf_helpers import make_problem


@pytest.fixture(scope="session")
def lg_problem():
    """dx=4, dy=2, T=200: the problem of the evidence and filtering-mean tests."""
    return make_problem()
