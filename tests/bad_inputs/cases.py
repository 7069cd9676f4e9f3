"""The vocabulary of the bad-input walk (``tests/test_bad_input_walk.py``).

Every public callable of pinfer (``__all__`` of ``pinfer``, each subpackage,
``pinfer.envs`` and ``pinfer.models``) has an entry in one of the ``table_*.py``
modules of this package: a list of :class:`Case` (a call with one bad argument) and
:class:`NotApplicable` notes, or an :class:`Exempt` with its reason.

For each array argument (a parameter annotated with a jaxtyping array type) the
entry covers the four kinds ``shape``, ``dtype``, ``range`` and ``nan``, each with a
``Case`` or a ``NotApplicable`` that says why that kind of bad value cannot occur
(e.g. "any real is valid" for ``range``). Other kinds (``type``, ``key``, ``value``)
are welcome.

A case passes when the call

* raises ``ValueError`` / ``TypeError`` (or an equinox runtime error) whose message
  contains every string of ``match`` (the argument's name and the value seen), or
* returns, and ``flag(result)`` is True: the documented failure flag is set
  (``failed_step >= 0``, a NaN that the docstring promises, ...).

A call that returns without a ``flag`` fails the walk: no bad input may come back
as a plausible number.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

KINDS = ("shape", "dtype", "range", "nan")


class Case(NamedTuple):
    """One bad input.

    Attributes:
        arg: the argument under test (as named in the signature).
        kind: ``"shape"``, ``"dtype"``, ``"range"``, ``"nan"`` or another word
            (``"type"``, ``"key"``, ``"value"``).
        call: a thunk that calls the public callable with that bad argument (every
            other argument good). Keep problems tiny: the walk runs them all.
        match: strings the error message must contain; default ``(arg,)``. Give the
            value too (``("actions", "7")``).
        flag: for a documented failure flag instead of an error: a predicate on the
            returned value that is True when the failure is reported.
    """

    arg: str
    kind: str
    call: Callable[[], Any]
    match: tuple[str, ...] | None = None
    flag: Callable[[Any], bool] | None = None


class NotApplicable(NamedTuple):
    """A kind of bad value that cannot occur for an argument, and why."""

    arg: str
    kind: str
    reason: str


class Exempt(NamedTuple):
    """A public callable with no bad-input cases, and why (a result container, a
    type alias, a protocol ...)."""

    reason: str


def na(arg: str, reason: str, kinds: tuple[str, ...] = KINDS) -> list[NotApplicable]:
    """``NotApplicable`` notes for several kinds of one argument at once."""
    return [NotApplicable(arg, kind, reason) for kind in kinds]


RESULT = Exempt("a result container that pinfer builds and returns; not an input")
