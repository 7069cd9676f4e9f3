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
from pinfer.validation import check_key, check_static_int

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


def split_key(key: PRNGKey, num: int = 2) -> PRNGKey:
    """Split ``key`` into ``num`` keys (a thin alias kept for a single import site).

    Example:
        >>> key_move, key_resample = split_key(jax.random.key(0))
    """
    check_key(key, where="split_key")
    num = check_static_int(num, "num", 1, where="split_key")
    return jax.random.split(key, num)
