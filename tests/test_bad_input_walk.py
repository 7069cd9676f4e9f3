"""The bad-input walk: every public callable has a table of bad inputs, and each one
raises an error naming the argument and the value, or sets a documented flag.

The tables live in ``tests/bad_inputs/table_*.py`` (one per part of the library);
``tests/bad_inputs/cases.py`` explains the vocabulary. A public callable added to an
``__all__`` without an entry fails :func:`test_every_public_callable_has_an_entry`.
"""

import dataclasses
import importlib
import inspect
import pkgutil

import bad_inputs
import equinox as eqx
import pytest
from bad_inputs import cases as walk_cases
from bad_inputs.cases import KINDS, Case, Exempt, NotApplicable

# The modules whose ``__all__`` is public API (pinfer's subpackages are found below).
EXTRA_MODULES = (
    "pinfer.base",
    "pinfer.linalg",
    "pinfer.progress",
    "pinfer.random",
    "pinfer.sharding",
    "pinfer.types",
    "pinfer.validation",
    "pinfer.envs",
    "pinfer.models",
    "pinfer.models.gaussian",
    "pinfer.models.kalman",
    "pinfer.models.linear_gaussian",
)
SUBPACKAGES = (
    "pinfer",
    "pinfer.agents",
    "pinfer.diagnostics",
    "pinfer.inverse",
    "pinfer.planning",
    "pinfer.smc",
)


def _public_callables() -> dict[int, tuple[object, list[str]]]:
    """``id(obj) -> (obj, [public names])`` over every ``__all__``."""
    found: dict[int, tuple[object, list[str]]] = {}
    for module_name in SUBPACKAGES + EXTRA_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            entry = found.setdefault(id(obj), (obj, []))
            entry[1].append(f"{module_name}.{name}")
    return found


def _tables() -> dict[str, list | Exempt]:
    merged: dict[str, list | Exempt] = {}
    for info in pkgutil.iter_modules(bad_inputs.__path__):
        if not info.name.startswith("table_"):
            continue
        table = importlib.import_module(f"bad_inputs.{info.name}").ENTRIES
        for name, entry in table.items():
            assert name not in merged, f"{name} has entries in two tables"
            merged[name] = entry
    return merged


TABLE = _tables()
CALLABLES = _public_callables()


def _entry_for(names: list[str]):
    for name in names:
        if name in TABLE:
            return name, TABLE[name]
    return None, None


def test_every_public_callable_has_an_entry():
    missing = [
        names[0] for _, names in CALLABLES.values() if _entry_for(names)[0] is None
    ]
    assert not missing, (
        f"{len(missing)} public callables have no bad-input entry (add one to a "
        f"tests/bad_inputs/table_*.py, or an Exempt with its reason): {missing}"
    )


def test_every_entry_names_a_public_callable():
    public = {name for _, names in CALLABLES.values() for name in names}
    stale = sorted(set(TABLE) - public)
    assert not stale, f"entries for names that are not public (renamed?): {stale}"


def _array_parameters(obj) -> list[str]:
    """Parameters annotated with a jaxtyping array type."""
    if isinstance(obj, type) and issubclass(obj, eqx.Module):
        fields = [
            (f.name, f.type)
            for f in dataclasses.fields(obj)
            if not f.metadata.get("static", False)
        ]
    else:
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            return []
        fields = [(n, p.annotation) for n, p in signature.parameters.items()]
    return [
        name
        for name, annotation in fields
        if "jaxtyping" in repr(annotation) and "Array" in repr(annotation)
    ]


def _entries_with_cases():
    for obj, names in CALLABLES.values():
        name, entry = _entry_for(names)
        if entry is not None and not isinstance(entry, Exempt):
            yield name, obj, entry


def test_array_arguments_cover_every_kind():
    gaps = []
    for name, obj, entry in _entries_with_cases():
        covered = {(item.arg, item.kind) for item in entry}
        for arg in _array_parameters(obj):
            for kind in KINDS:
                if (arg, kind) not in covered:
                    gaps.append(f"{name}({arg}): {kind}")
    assert not gaps, (
        f"array arguments without a Case or NotApplicable of every kind {KINDS}: {gaps}"
    )


def _case_ids():
    out = []
    for name, _, entry in _entries_with_cases():
        for item in entry:
            if isinstance(item, Case):
                out.append(pytest.param(item, id=f"{name}({item.arg}):{item.kind}"))
    return out


_ERRORS = (ValueError, TypeError, eqx.EquinoxRuntimeError)


@pytest.mark.parametrize("case", _case_ids())
def test_bad_input_is_reported(case: Case):
    expected = case.match if case.match is not None else (case.arg,)
    try:
        result = case.call()
    except _ERRORS as error:
        message = str(error)
        first_line = message.strip().splitlines()[0] if message.strip() else ""
        missing = [text for text in expected if text not in message]
        assert not missing, (
            f"the error does not name {missing}; its message was: {message[:600]}"
        )
        assert first_line, "the error has an empty message"
        return
    assert case.flag is not None, (
        f"returned {type(result).__name__} without raising: a bad {case.arg} "
        f"({case.kind}) must raise or set a documented failure flag"
    )
    assert case.flag(result), (
        f"returned without raising and the failure flag is not set: {result!r:.300}"
    )


def test_tables_hold_only_walk_items():
    for name, entry in TABLE.items():
        if isinstance(entry, Exempt):
            assert entry.reason.strip(), f"{name}: an Exempt needs a reason"
            continue
        assert isinstance(entry, list) and entry, f"{name}: empty entry"
        for item in entry:
            assert isinstance(item, (Case, NotApplicable)), (name, item)
            if isinstance(item, NotApplicable):
                assert item.reason.strip(), f"{name}({item.arg}): reason missing"


def test_the_walk_catches_a_callable_that_returns_a_number():
    """The walk itself can fail: a case whose call returns a plain number fails, and
    so does an error that does not name the value."""
    with pytest.raises(AssertionError, match="must raise or set"):
        test_bad_input_is_reported(Case("x", "range", lambda: 1.0))

    def raises():
        raise ValueError("`x` is bad")

    with pytest.raises(AssertionError, match="does not name"):
        test_bad_input_is_reported(Case("x", "range", raises, match=("x", "7")))
    assert walk_cases.RESULT.reason
