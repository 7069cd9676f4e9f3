"""Type aliases shared by every pinfer module.

``PRNGKey`` is a typed key from :func:`jax.random.key`; ``ArrayTree`` is any pytree
whose leaves are arrays (particles, agent states, parameters).
"""

from typing import Any, TypeAlias

import jax
from jaxtyping import Array, Bool, Float, Int, UInt

PRNGKey: TypeAlias = jax.Array
ArrayTree: TypeAlias = Any
Scalar: TypeAlias = Float[Array, ""]

__all__ = ["Array", "ArrayTree", "Bool", "Float", "Int", "PRNGKey", "Scalar", "UInt"]
