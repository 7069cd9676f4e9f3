"""Algorithm contracts shared by every pinfer kernel.

Every algorithm is a pair of pure functions over NamedTuples::

    state = init(...)                               # -> XState
    state, info = step(key, state, *data, params)   # -> (XState, XInfo)

``State`` holds only what the next step needs; ``Info`` holds diagnostics (ESS,
log-evidence increment, acceptance rate). A driver (``run_*``) strings steps together
with ``lax.scan`` or ``lax.while_loop`` and returns a result NamedTuple. The key is
always the first positional argument and always required; ``params`` come last.
"""

from typing import Any, NamedTuple, Protocol

import jax

from pinfer.types import PRNGKey

__all__ = ["Algorithm", "InitFn", "StepFn", "check_key", "split_key"]


class InitFn(Protocol):
    def __call__(self, *args: Any, **kwargs: Any) -> NamedTuple: ...


class StepFn(Protocol):
    def __call__(
        self, key: PRNGKey, state: NamedTuple, *args: Any, **kwargs: Any
    ) -> tuple[NamedTuple, NamedTuple]: ...


class Algorithm(NamedTuple):
    """An ``(init, step)`` pair, the unit that drivers and combinators compose.

    Example:
        >>> alg = Algorithm(init=my_init, step=my_step)  # doctest: +SKIP
        >>> state = alg.init(x0)  # doctest: +SKIP
        >>> state, info = alg.step(key, state, y_t)  # doctest: +SKIP
    """

    init: InitFn
    step: StepFn


def check_key(key: Any, name: str = "key") -> None:
    """Raise a clear error unless ``key`` is a typed JAX PRNG key (or a legacy one).

    Keys are required and come first; passing an int seed or ``None`` is the most common
    mistake, so the message says how to make a key.

    Example:
        >>> check_key(jax.random.key(0))
    """
    if key is None or isinstance(key, (int, float)):
        raise TypeError(
            f"`{name}` must be a JAX PRNG key, got {key!r}. "
            "Make one with `jax.random.key(seed)` and pass it as the first argument."
        )
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(
        key.dtype, jax.dtypes.prng_key
    ):
        return
    shape = getattr(key, "shape", None)
    dtype = getattr(key, "dtype", None)
    if shape is not None and tuple(shape[-1:]) == (2,) and str(dtype) == "uint32":
        return  # legacy raw key from jax.random.PRNGKey
    raise TypeError(
        f"`{name}` must be a JAX PRNG key, got an array of shape {shape} and dtype "
        f"{dtype}. Make one with `jax.random.key(seed)`."
    )


def split_key(key: PRNGKey, num: int = 2) -> PRNGKey:
    """Split ``key`` into ``num`` keys (a thin alias kept for a single import site).

    Example:
        >>> key_move, key_resample = split_key(jax.random.key(0))
    """
    return jax.random.split(key, num)
