"""DESIGN.md's layering rules, checked from the imports of every source file (AST).

    types, base  <-  diagnostics  <-  smc  <-  sharding
    planning  <-  agents  <-  inverse (uses smc)  <-  tom
    agents  <-  aif, bandits (use smc)          smc, vi  <-  fit (agents by contract)
    envs/ -> pinfer     models/ -> pinfer     experiments/, benchmarks/, cli -> any

Nothing in ``pinfer/`` imports ``envs/``, ``models/``, ``experiments/``,
``benchmarks/`` or Gymnasium (the command line and its demos excepted); the engines
(``smc``, ``vi``, ``diagnostics``) know nothing of agents or environments. Every
import counts, also those inside functions. A part of pinfer that does not exist yet
(``vi``, ``fit`` ...) has its rule here already, so it is checked the day it lands.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Utilities every layer may use.
UTILITIES = {"types", "base", "validation", "linalg", "random", "progress"}
# What each part of pinfer may import from pinfer, besides itself and UTILITIES.
ALLOWED = {
    "types": set(),
    "validation": {"types", "_validation_base", "_validation_objects"}
    | {"_validation_arrays"},
    # pinfer.validation's private modules, which only it imports.
    "_validation_base": {"types"},
    "_validation_objects": {"types", "_validation_base"},
    "_validation_arrays": {"types", "_validation_base", "_validation_objects"},
    "base": {"types", "validation"},
    "linalg": {"types", "validation"},
    "random": {"types", "validation"},
    "progress": {"types", "validation"},
    "diagnostics": set(),
    "smc": {"diagnostics"},
    "vi": {"diagnostics"},
    "sharding": {"smc", "diagnostics"},
    "planning": set(),
    "agents": {"planning"},
    "inverse": {"agents", "planning", "smc", "diagnostics"},
    "aif": {"agents", "planning", "smc", "diagnostics"},
    "bandits": {"agents", "planning", "smc", "diagnostics"},
    "fit": {"agents", "smc", "vi", "diagnostics"},
    "tom": {"inverse", "agents", "planning", "smc", "vi", "fit", "diagnostics", "aif"},
}
# Parts that may import anything of pinfer (and envs / models).
ANYTHING = {"cli", "demo", "__main__", "__init__"}
ENGINES = {"smc", "vi", "diagnostics"}
AGENT_WORLD = {"agents", "inverse", "planning", "tom", "aif", "bandits", "envs"}
OUTSIDE = {"envs", "models", "experiments", "benchmarks"}


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """Every absolute module name imported by ``path`` (with its line)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # ``from pinfer import inverse`` imports the subpackage ``inverse``.
            if node.module == "pinfer":
                found += [(node.lineno, f"pinfer.{a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


def _part_of(path: pathlib.Path) -> str:
    """The part of pinfer a source file belongs to (``smc``, ``linalg`` ...)."""
    rel = path.relative_to(ROOT / "pinfer")
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _target(module: str) -> str | None:
    """The pinfer part an import names, or the top-level name for other modules."""
    parts = module.split(".")
    if parts[0] == "pinfer":
        return parts[1] if len(parts) > 1 else "__init__"
    return parts[0]


def _violations() -> list[str]:
    problems = []
    for path in sorted((ROOT / "pinfer").rglob("*.py")):
        part = _part_of(path)
        for line, module in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if module.startswith("."):
                problems.append(f"{where}: use absolute imports (pinfer.x)")
                continue
            target = _target(module)
            is_pinfer = module.split(".")[0] == "pinfer"
            if part in ANYTHING:
                continue
            if target == "gymnasium" or (not is_pinfer and target in OUTSIDE):
                problems.append(f"{where}: pinfer/ never imports {target}")
            if not is_pinfer or target == part:
                continue
            if target in OUTSIDE:
                problems.append(f"{where}: pinfer/ never imports pinfer.{target}")
            elif part in ENGINES and target in AGENT_WORLD:
                problems.append(f"{where}: the engine {part} knows no agents/worlds")
            elif part not in ALLOWED:
                problems.append(f"{where}: {part} has no layering rule in this test")
            elif target not in ALLOWED[part] | UTILITIES - {part}:
                problems.append(f"{where}: {part} may not import pinfer.{target}")
            if part in ALLOWED and part in UTILITIES and target in UTILITIES:
                if target not in ALLOWED[part]:
                    problems.append(f"{where}: utility {part} may not import {target}")
    for top, banned in (
        ("envs", {"models", "experiments", "benchmarks"}),
        ("models", {"envs", "experiments", "benchmarks", "gymnasium"}),
    ):
        for path in sorted((ROOT / top).rglob("*.py")):
            for line, module in _imports(path):
                head = module.split(".")
                name = head[1] if head[0] == "pinfer" and len(head) > 1 else head[0]
                if name in banned:
                    problems.append(
                        f"{path.relative_to(ROOT)}:{line} imports {module}: {top}/ "
                        f"may not import {name}"
                    )
    return problems


def test_imports_follow_the_layering_of_design_md():
    problems = _violations()
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_the_layering_check_finds_a_violation(tmp_path, monkeypatch):
    """The check itself can fail: an engine importing an agent module is caught."""
    fake = tmp_path / "pinfer" / "smc"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text(
        "from pinfer.agents import rollout\nimport gymnasium\n"
    )
    (tmp_path / "envs").mkdir()
    (tmp_path / "models").mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    problems = _violations()
    assert any("knows no agents" in p for p in problems), problems
    assert any("never imports gymnasium" in p for p in problems), problems


@pytest.mark.parametrize(
    "statement",
    [
        "import pinfer",
        "import pinfer.smc, pinfer.inverse, pinfer.agents, pinfer.planning",
        "import pinfer.diagnostics, pinfer.sharding, pinfer.models",
    ],
)
def test_core_imports_leave_gymnasium_out(statement):
    code = f"{statement}\nimport sys\nprint('gymnasium' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False", out.stderr


def test_every_subpackage_is_reachable_from_import_pinfer():
    code = (
        "import pinfer, sys\n"
        "assert 'pinfer.inverse' not in sys.modules\n"
        "for name in pinfer.__all__:\n"
        "    if name != '__version__':\n"
        "        assert getattr(pinfer, name).__name__ == 'pinfer.' + name, name\n"
        "print(sorted(n for n in dir(pinfer) if not n.startswith('_')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    for name in ("agents", "envs", "inverse", "models", "planning", "smc"):
        assert f"'{name}'" in out.stdout
    with pytest.raises(AttributeError, match="subpackages are"):
        import pinfer

        pinfer.no_such_part  # noqa: B018
