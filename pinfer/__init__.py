"""pinfer: probabilistic inference about agents, in pure JAX.

Sequential Monte Carlo, variational inference and Bayesian inverse planning over
boundedly rational agents, as jittable, vmappable JAX kernels.
"""

from pinfer import base, diagnostics, sharding, smc, types

__version__ = "0.1.0"

__all__ = ["base", "diagnostics", "sharding", "smc", "types", "__version__"]
