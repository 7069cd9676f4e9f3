"""Run the side-by-side benchmarks and write ``BENCHMARKS.md``.

Every ``benchmarks/bench_<name>.py`` module is a benchmark. Its contract:

    run(quick: bool) -> list[dict]      required: one dict per table row
    to_markdown(rows) -> str            optional: the table (default: one column a key)
    notes(rows) -> str                  optional: markdown printed under the table
    TITLE                               optional: section title (default: docstring)

The module docstring is the section's set-up text. Each section also records the
machine it ran on (CPU model, cores, load average, jax version and backend) and the
date, since ``--only`` reruns one benchmark and keeps the other sections of the file
as they were (each sits between ``<!-- bench:<name> -->`` markers).

    python -m benchmarks.run                    # all benchmarks, writes BENCHMARKS.md
    python -m benchmarks.run --only filter      # reruns one section
    python -m benchmarks.run --quick            # tiny sizes, prints, writes nothing

Compile times are cold: the persistent compilation cache is switched off here.
"""

import argparse
import datetime
import importlib
import os
import platform
import re
import sys
import time
import traceback
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parent.parent
HEADER = """# Benchmarks

pinfer side by side with anchor implementations on the same problems, in the same run.
Regenerate with `make bench` (`python -m benchmarks.run`; `--only filter,tempered`
reruns some sections and keeps the others). Times are wall-clock seconds after
compilation; ratios are medians over interleaved runs. The set-up of each benchmark is
in its module under `benchmarks/`.
"""


def available() -> list[str]:
    """Names of the benchmark modules (``bench_<name>.py``), sorted."""
    return sorted(p.stem[len("bench_") :] for p in ROOT.glob("benchmarks/bench_*.py"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """One line: CPU, cores, load, Python, jax version, backend and devices."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (
        f"{cpu_model()}, {os.cpu_count()} cores (load average "
        f"{' '.join(f'{x:.1f}' for x in load[:3])} at the end); Python "
        f"{platform.python_version()}; jax {jax.__version__}, backend "
        f"{jax.default_backend()} ({len(jax.devices())} × {devices})"
    )


def _generic_table(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))

    def cell(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def section(name: str, quick: bool) -> str:
    """Run one benchmark and return its markdown section (errors become text)."""
    start = time.perf_counter()
    module = importlib.import_module(f"benchmarks.bench_{name}")
    doc = (module.__doc__ or "").strip()
    title = getattr(module, "TITLE", doc.splitlines()[0] if doc else name)
    try:
        rows = module.run(quick=quick)
        table_fn = getattr(module, "to_markdown", _generic_table)
        body = table_fn(rows)
        if hasattr(module, "notes"):
            body += "\n\n" + module.notes(rows)
    except Exception:
        body = "The benchmark failed:\n\n```\n" + traceback.format_exc() + "```"
    minutes = (time.perf_counter() - start) / 60
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"<!-- bench:{name} -->",
            f"## {title}",
            "",
            f"Run {date}{' (quick mode)' if quick else ''}, {minutes:.1f} min, on: "
            f"{machine()}.",
            "",
            "<details><summary>Set-up</summary>",
            "",
            doc,
            "",
            "</details>",
            "",
            body,
            f"<!-- /bench:{name} -->",
        ]
    )


def merge(old: str, sections: dict[str, str]) -> str:
    """``HEADER`` plus every section: new ones replace old ones of the same name."""
    kept = {}
    for match in re.finditer(r"(?s)<!-- bench:(\w+) -->.*?<!-- /bench:\1 -->", old):
        kept[match.group(1)] = match.group(0)
    kept.update(sections)
    return HEADER + "".join(f"\n{kept[name]}\n" for name in sorted(kept))


def write_sections(sections: dict[str, str], output: str = "BENCHMARKS.md") -> Path:
    """Merge ``sections`` into ``output`` (relative to the repository root)."""
    path = ROOT / output if not Path(output).is_absolute() else Path(output)
    old = path.read_text() if path.exists() else ""
    path.write_text(merge(old, sections))
    print(f"wrote {', '.join(sorted(sections))} into {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no writing")
    parser.add_argument("--only", default="", help="comma-separated, e.g. filter")
    parser.add_argument("--output", default=None, help="default: BENCHMARKS.md")
    args = parser.parse_args(argv)
    names = available()
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {names}")
    # Cold compile times: a warm persistent cache would report near zero.
    jax.config.update("jax_enable_compilation_cache", False)
    sections = {}
    for name in chosen:
        print(f"== benchmark {name}", flush=True)
        sections[name] = section(name, args.quick)
        print(sections[name], flush=True)
    output = args.output or (None if args.quick else "BENCHMARKS.md")
    if output:
        write_sections(sections, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
