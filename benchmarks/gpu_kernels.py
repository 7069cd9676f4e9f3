"""Kernels per filter step on a GPU, read from XLA's compiled program (no GPU needed).

At N = 1e6 a filter step moves a few hundred MB, under 0.1 ms of an H200's
bandwidth, so its time is set by the kernels the step launches (a few microseconds
each, and more for a scatter or a scan) rather than by the bytes. This script
compiles the filters of :mod:`benchmarks.gpu` for a GPU and reads the optimised HLO
of the time loop's body: the kernels it launches at every step (fusions, library
calls, copies), the extra kernels of a resampling branch, and an upper bound on the
bytes the step moves (each kernel's operands plus outputs).

With a GPU attached it compiles for that GPU. Without one it compiles ahead of time
for an H200 description (``jax.experimental.topologies``), which needs jax's CUDA
plugin installed (``pip install jax-cuda13-plugin jax-cuda13-pjrt`` at the jaxlib
version) but no device. Counts are what XLA emits, not timings:
``python -m benchmarks.gpu`` measures.

    python -m benchmarks.gpu_kernels                  # print rows
    python -m benchmarks.gpu_kernels --write          # and the BENCHMARKS.md section
    python -m benchmarks.gpu_kernels --out k.json     # and save them (a GPU session)
    python -m benchmarks.gpu_kernels --report k.json  # saved rows -> BENCHMARKS.md
"""

import argparse
import json
import re
from dataclasses import asdict, dataclass

import jax

from benchmarks.gpu import filter_problem, filter_variants

# Public H200 figures (132 SMs, compute capability 9.0, 4.8 TB/s, 141 GB HBM3e).
H200_TARGET = """
gpu_device_info {
  threads_per_block_limit: 1024
  threads_per_warp: 32
  shared_memory_per_block: 49152
  shared_memory_per_core: 233472
  threads_per_core_limit: 2048
  core_count: 132
  fpus_per_core: 128
  block_dim_limit_x: 2147483647
  block_dim_limit_y: 65535
  block_dim_limit_z: 65535
  memory_bandwidth: 4800000000000
  l2_cache_size: 52428800
  clock_rate_ghz: 1.98
  device_memory_size: 150323855360
  shared_memory_per_block_optin: 232448
  cuda_compute_capability { major: 9 }
  registers_per_core_limit: 65536
  registers_per_block_limit: 65536
}
runtime_version { major: 13 }
platform_name: "CUDA"
dnn_version_info { major: 9 minor: 7 }
device_description_str: "NVIDIA H200"
"""

_NOT_KERNELS = {
    "parameter",
    "get-tuple-element",
    "tuple",
    "bitcast",
    "constant",
    "after-all",
    "opt-barrier",
}
_BYTES = {"pred": 1, "s8": 1, "u8": 1, "f16": 2, "bf16": 2, "f32": 4, "s32": 4}
_BYTES |= {"u32": 4, "f64": 8, "s64": 8, "u64": 8}
_INSTRUCTION = re.compile(r"\s*(?:ROOT )?%([\w.\-]+) = (.+?) ([a-z][\w\-]*)\((.*)$")


@dataclass
class LoopKernels:
    """Kernels of one compiled time loop.

    Attributes:
        per_step: kernels launched at every step (top level of the loop body).
        in_branches: the most kernels one ``conditional`` branch adds (resampling).
        inner_loops: ``while`` loops nested in the body (each launches its own
            kernels at every inner iteration).
        mb_per_step: upper bound on the megabytes the top-level kernels read and
            write per step (operands plus outputs of each).
    """

    per_step: int
    in_branches: int
    inner_loops: int
    mb_per_step: float


def _nbytes(shape: str) -> int:
    total = 0
    for dtype, dims in re.findall(r"\b([a-z]+\d*)\[([\d,]*)\]", shape):
        size = 1
        for dim in filter(None, dims.split(",")):
            size *= int(dim)
        total += size * _BYTES.get(dtype, 0)
    return total


def _computations(hlo: str) -> dict[str, list[str]]:
    computations, current = {}, None
    for line in hlo.splitlines():
        header = re.match(r"^(?:ENTRY )?%([\w.\-]+) .*\{$", line)
        if header:
            current = computations.setdefault(header.group(1), [])
        elif line.startswith("}"):
            current = None
        elif current is not None:
            current.append(line)
    return computations


def _called(rest: str) -> list[str]:
    """Computations an instruction runs: a loop body, or conditional branches."""
    names = re.findall(r"(?:body|true_computation|false_computation)=%([\w.\-]+)", rest)
    branches = re.search(r"branch_computations=\{([^}]*)\}", rest)
    if branches:
        names += [b.strip().lstrip("%") for b in branches.group(1).split(",")]
    return names


def _kernels(lines: list[str], computations=None) -> list[tuple[str, list[str], int]]:
    """``[(op, called computations, bytes)]`` of the kernel-launching instructions.

    A ``call`` (the CPU backend wraps loops in one) is replaced by the kernels of the
    computation it calls, when ``computations`` is given.
    """
    shapes, kernels = {}, []
    for line in lines:
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        name, shape, op, rest = match.groups()
        shapes[name] = shape
        if op in _NOT_KERNELS:
            continue
        if op == "call" and computations is not None:
            callee = re.search(r"to_apply=%([\w.\-]+)", rest).group(1)
            kernels += _kernels(computations[callee], computations)
            continue
        operands = re.findall(r"%([\w.\-]+)", rest.split(")", 1)[0])
        moved = _nbytes(shape) + sum(_nbytes(shapes.get(o, "")) for o in operands)
        kernels.append((op, _called(rest), moved))
    return kernels


def loop_kernels(hlo: str) -> LoopKernels:
    """Count the kernels of the longest outer ``while`` loop of an optimised module.

    Example:
        >>> step = lambda c, x: (jax.numpy.sin(c) * x, None)
        >>> fn = jax.jit(lambda c, xs: jax.lax.scan(step, c, xs)[0])
        >>> hlo = fn.lower(1.0, jax.numpy.ones(100)).compile().as_text()
        >>> counts = loop_kernels(hlo)
        >>> counts.per_step >= 1, counts.inner_loops
        (True, 0)
    """
    computations = _computations(hlo)
    loops = []  # (trip count, body) of every while loop not inside another's body
    bodies = {
        b
        for lines in computations.values()
        for k in _kernels(lines)
        if k[0] == "while"
        for b in k[1]
    }
    for name, lines in computations.items():
        if name in bodies:
            continue  # a loop inside a loop body is an inner loop
        for line in lines:
            if " while(" in line:
                trips = re.search(r'"known_trip_count":\{"n":"(\d+)"', line)
                body = re.search(r"body=%([\w.\-]+)", line).group(1)
                loops.append((int(trips.group(1)) if trips else 0, body))
    if not loops:
        raise ValueError("no while loop in the compiled program")
    body = _kernels(computations[max(loops)[1]], computations)
    per_step = [k for k in body if k[0] not in ("while", "conditional")]
    branch_kernels = [
        len(_kernels(computations[branch], computations))
        for op, called, _ in body
        if op == "conditional"
        for branch in called
    ]
    return LoopKernels(
        per_step=len(per_step),
        in_branches=max(branch_kernels, default=0),
        inner_loops=sum(k[0] == "while" for k in body),
        mb_per_step=sum(k[2] for k in per_step) / 1e6,
    )


def target_device():
    """The attached GPU, else an H200 described for ahead-of-time compilation."""
    try:
        return jax.devices("gpu")[0], "attached"
    except RuntimeError:
        pass
    from jax.experimental import topologies

    try:
        topology = topologies.get_topology_desc(
            "h200", "cuda", target_config=H200_TARGET, topology="1x1x1"
        )
    except Exception as error:  # the plugin raises several types
        raise SystemExit(
            "No GPU attached and no ahead-of-time CUDA compiler: install jax's CUDA "
            "plugin at the jaxlib version (pip install jax-cuda13-plugin "
            f"jax-cuda13-pjrt), then rerun. ({type(error).__name__}: {error})"
        ) from error
    return topology.devices[0], "ahead of time (H200 description, no device)"


def main(shapes=((10**6, 1), (10**5, 64))) -> tuple[list[dict], str]:
    device, how = target_device()
    sharding = jax.sharding.SingleDeviceSharding(device)
    model, ys, arrays, _ = filter_problem(500)
    rows = []
    for n, batch in shapes:
        for name, fn, impl in filter_variants(model, ys, arrays, n, batch):
            key = jax.ShapeDtypeStruct((), jax.random.key(0, impl=impl).dtype)
            jitted = jax.jit(fn, in_shardings=sharding, out_shardings=sharding)
            hlo = jitted.lower(key).compile().as_text()
            counts = loop_kernels(hlo)
            row = dict(name=name, num_particles=n, batch=batch, **asdict(counts))
            row["bytes_per_particle_step"] = counts.mb_per_step * 1e6 / (n * batch)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows, f"{device.device_kind}, compiled {how}, jax {jax.__version__}"


def to_markdown(rows: list[dict], setup: str) -> str:
    """The ``gpu_kernels`` section of BENCHMARKS.md."""
    lines = [
        "<!-- bench:gpu_kernels -->",
        "## GPU kernels per filter step (compiled, not timed)",
        "",
        f"{setup}. Produced by `python -m benchmarks.gpu_kernels --write`: the "
        "optimised HLO of each filter's time loop (the filters of "
        "`benchmarks.gpu`, T = 500). 'per step' counts the kernels the loop body "
        "launches every step, 'if resampling' those of the resampling branch, "
        "'MB moved' bounds the step's memory traffic (operands plus outputs of each "
        "kernel). Counts are not times: at N = 1e6 a step's traffic takes well under "
        "0.1 ms at 3.5 TB/s, yet on the H200 of the previous section pinfer's "
        "30-kernel step took 119 us and the hand-written scatter filter's 33-kernel "
        "step 198 us, so which kernels a step launches matters as much as how many.",
        "",
        "| N × batch | implementation | per step | if resampling | inner loops "
        "| MB moved per step | bytes per particle-step |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['num_particles']:,} × {r['batch']} | {r['name']} | "
            f"{r['per_step']} | {r['in_branches']} | {r['inner_loops']} | "
            f"{r['mb_per_step']:.0f} | {r['bytes_per_particle_step']:.0f} |"
        )
    lines.append("<!-- /bench:gpu_kernels -->")
    return "\n".join(lines)


if __name__ == "__main__":
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="write the section of BENCHMARKS.md"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="also save rows and set-up as JSON"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="render a JSON saved by --out into BENCHMARKS.md and exit",
    )
    args = parser.parse_args()
    if args.report is not None:
        saved = json.loads(args.report.read_text())
        rows, setup = saved["rows"], saved["setup"]
    else:
        rows, setup = main()
    if args.out is not None:
        args.out.write_text(json.dumps(dict(rows=rows, setup=setup), indent=1))
    if args.write or args.report is not None:
        from benchmarks.run import write_sections

        write_sections({"gpu_kernels": to_markdown(rows, setup)})
