"""pinfer: probabilistic inference about agents, in pure JAX.

Sequential Monte Carlo, variational inference and Bayesian inverse planning over
boundedly rational agents, as jittable, vmappable JAX kernels.

Every subpackage is reachable from ``import pinfer`` and loaded on first use, so
``import pinfer`` is cheap and pulls in neither Gymnasium nor the environments::

    import pinfer
    pinfer.inverse.infer_goals(...)        # imports pinfer.inverse now
    pinfer.envs.make_gridworld("S..G")     # imports pinfer.envs (and Gymnasium) now
"""

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Subpackages and modules loaded lazily through ``__getattr__`` (PEP 562).
_SUBMODULES = (
    "agents",
    "base",
    "diagnostics",
    "envs",
    "inverse",
    "linalg",
    "models",
    "planning",
    "progress",
    "random",
    "sharding",
    "smc",
    "types",
    "validation",
)

__all__ = [*_SUBMODULES, "__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs only; nothing is imported at run time
    from pinfer import (  # noqa: F401
        agents,
        base,
        diagnostics,
        envs,
        inverse,
        linalg,
        models,
        planning,
        progress,
        random,
        sharding,
        smc,
        types,
        validation,
    )


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"pinfer.{name}")
        globals()[name] = module
        return module
    raise AttributeError(
        f"module 'pinfer' has no attribute {name!r}; its subpackages are "
        f"{', '.join(_SUBMODULES)}."
    )


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
