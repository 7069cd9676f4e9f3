"""Bad inputs of ``pinfer.linalg``, ``pinfer.random``, ``pinfer.progress`` and
``pinfer.sharding``.

linalg and random run inside the filters' kernels, so they check only what is
static (ranks, sizes, dtypes, key types); their arithmetic propagates a NaN, which
their docstrings promise (the ``nan`` cases flag it), and every real value is in
range.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bad_inputs.builders import bad as _bad
from bad_inputs.builders import with_entry as _with
from bad_inputs.cases import Case, Exempt, NotApplicable
from pinfer import linalg, progress, random, sharding

KEY = jax.random.key(0)
NAN = np.float32(np.nan)
PURE = (
    "pure arithmetic: every real (or integer) entry is valid, as for `@`; a NaN "
    "propagates (the nan case)"
)


def _nan(result) -> bool:
    return bool(np.isnan(np.asarray(result)).any())


def _propagates(arg, fn, *args) -> Case:
    """A NaN entry comes back as NaN (documented), never as a number."""
    return Case(arg, "nan", functools.partial(fn, *args), flag=_nan)


# ---------------------------------------------------------------- linalg

M = np.arange(6.0, dtype=np.float32).reshape(2, 3)
V = np.ones(3, np.float32)
ROWS = np.ones((4, 3), np.float32)


def _matvec_cases() -> list:
    fn = linalg.matvec
    return [
        _bad("matrix", "shape", fn, V, V, match=("2 dimension", "(3,)")),
        _bad("matrix", "dtype", fn, M > 1, V, match=("bool",)),
        NotApplicable("matrix", "range", PURE),
        _propagates("matrix", fn, _with(M, (1, 2), NAN), V),
        _bad("vector", "shape", fn, M, np.ones(4), match=("(2, 3)", "(4,)")),
        _bad("vector", "dtype", fn, M, V > 0, match=("bool",)),
        NotApplicable("vector", "range", PURE),
        _propagates("vector", fn, M, _with(V, 0, NAN)),
    ]


def _dot_cases() -> list:
    fn = linalg.dot
    return [
        _bad("u", "shape", fn, M, V, match=("1 dimension", "(2, 3)")),
        _bad("u", "dtype", fn, V > 0, V, match=("bool",)),
        NotApplicable("u", "range", PURE),
        _propagates("u", fn, _with(V, 1, NAN), V),
        _bad("v", "shape", fn, V, np.ones(2), match=("(3,)", "(2,)")),
        _bad("v", "dtype", fn, V, V > 0, match=("bool",)),
        NotApplicable("v", "range", PURE),
        _propagates("v", fn, V, _with(V, 2, NAN)),
    ]


def _rowvec_cases() -> list:
    fn = linalg.rowvec_matmul_t
    return [
        _bad("rows", "shape", fn, V, M, match=("2 dimension", "(3,)")),
        _bad("rows", "dtype", fn, ROWS > 0, M, match=("bool",)),
        NotApplicable("rows", "range", PURE),
        _propagates("rows", fn, _with(ROWS, (0, 1), NAN), M),
        _bad("matrix", "shape", fn, ROWS, M.T, match=("(4, 3)", "(3, 2)")),
        _bad("matrix", "dtype", fn, ROWS, M > 1, match=("bool",)),
        NotApplicable("matrix", "range", PURE),
        _propagates("matrix", fn, ROWS, _with(M, (0, 0), NAN)),
    ]


def _cumsum_cases() -> list:
    fn = linalg.cumsum
    return [
        _bad("values", "shape", fn, np.float32(1.0), match=("()",)),
        _bad("values", "dtype", fn, V > 0, match=("bool",)),
        NotApplicable("values", "range", PURE),
        _propagates("values", fn, _with(V, 1, NAN)),
        _bad("axis", "value", fn, ROWS, 2, match=("2", "-2..1")),
        _bad("axis", "type", fn, ROWS, 1.0, match=("1.0",)),
    ]


def _weighted_sum_cases() -> list:
    fn = linalg.weighted_sum
    weights = np.full(4, 0.25, np.float32)
    return [
        _bad("weights", "shape", fn, np.ones(3), ROWS, match=("(4, 3)", "(3,)")),
        _bad("weights", "dtype", fn, weights > 0, ROWS, match=("bool",)),
        NotApplicable("weights", "range", "any real weights: a weighted sum, " + PURE),
        _propagates("weights", fn, _with(weights, 0, NAN), ROWS),
        _bad("values", "shape", fn, weights, np.float32(1.0), match=("()",)),
        _bad("values", "dtype", fn, weights, ROWS > 0, match=("bool",)),
        NotApplicable("values", "range", PURE),
        _propagates("values", fn, weights, _with(ROWS, (3, 2), NAN)),
    ]


# ---------------------------------------------------------------- random

WORDS = np.asarray(jax.random.key_data(KEY))
COUNT = np.arange(4, dtype=np.uint32)
UINT32 = (
    "every uint32 is a valid key word or counter (the hash is defined on all 2**32 "
    "values)"
)
NO_NAN = "unsigned integers cannot be NaN; a float word fails the dtype check"


def _threefry_cases() -> list:
    fn = random.threefry2x32
    k0, k1 = WORDS[0], WORDS[1]
    cases = [
        _bad("key0", "shape", fn, WORDS, k1, COUNT, COUNT, match=("[]", "(2,)")),
        _bad("key0", "dtype", fn, np.int32(5), k1, COUNT, COUNT, match=("int32",)),
        _bad("key1", "shape", fn, k0, WORDS, COUNT, COUNT, match=("[]", "(2,)")),
        _bad("key1", "dtype", fn, k0, np.float32(1), COUNT, COUNT, match=("float32",)),
        _bad("count0", "dtype", fn, k0, k1, COUNT * 1.0, COUNT, match=("float",)),
        _bad("count1", "shape", fn, k0, k1, COUNT, COUNT[:3], match=("[4]", "(3,)")),
        _bad(
            "count1",
            "dtype",
            fn,
            k0,
            k1,
            COUNT,
            COUNT.astype(np.int32),
            match=("int32",),
        ),
        NotApplicable("count0", "shape", "any shape; count1 must match it"),
    ]
    for arg in ("key0", "key1", "count0", "count1"):
        cases += [
            NotApplicable(arg, "range", UINT32),
            NotApplicable(arg, "nan", NO_NAN),
        ]
    return cases


def _normal_cases() -> list:
    fn = random.normal
    return [
        _bad("key", "key", fn, 3, (2,), match=("3", "jax.random.key")),
        _bad("key", "shape", fn, jax.random.split(KEY), (2,), match=("(2,)",)),
        _bad("shape", "type", fn, KEY, (2.5,), match=("2.5",)),
        _bad("shape", "value", fn, KEY, (3, -1), match=("-1",)),
        _bad("dtype", "type", fn, KEY, (2,), jnp.int32, match=("int32",)),
    ]


# ---------------------------------------------------------------- progress


def _step(carry, x):
    return carry + x, carry


def _progress_cases() -> list:
    scan, xs = progress.progress_scan, np.arange(3.0)
    report = progress.report_fraction
    return {
        "pinfer.progress.progress_scan": [
            _bad("f", "type", scan, "step", 0.0, xs, match=("'step'",)),
            _bad("progress", "type", scan, _step, 0.0, xs, progress=1, match=("1",)),
            _bad("length", "value", scan, _step, 0.0, None, length=-2, match=("-2",)),
            _bad("length", "type", scan, _step, 0.0, None, length=2.0, match=("2.0",)),
            _bad("xs", "value", scan, _step, 0.0, None, match=("None", "`length`")),
            _bad("desc", "type", scan, _step, 0.0, xs, desc=None, match=("None",)),
        ],
        "pinfer.progress.new_bar_id": Exempt("takes no arguments"),
        "pinfer.progress.report_fraction": [
            _bad("bar_id", "type", report, "a", 0.5, match=("'a'",)),
            _bad("fraction", "shape", report, 0, np.array([0.1, 0.2]), match=("(2,)",)),
            _bad("fraction", "dtype", report, 0, np.bool_(True), match=("bool",)),
            _bad("fraction", "range", report, 0, 1.5, match=("1.5",)),
            _bad("fraction", "nan", report, 0, NAN, match=("nan",)),
            _bad("progress", "type", report, 0, 0.5, progress="yes", match=("'yes'",)),
        ],
        "pinfer.progress.close_bar": [
            _bad("bar_id", "type", progress.close_bar, "x", match=("'x'",)),
            _bad("bar_id", "value", progress.close_bar, -1, match=("-1",)),
        ],
    }


# ---------------------------------------------------------------- sharding


def _sharding_cases() -> dict:
    mesh = sharding.particle_mesh()
    tree = np.zeros((4, 2), np.float32)
    no_axis = ("'agents'", "'particles'")
    return {
        "pinfer.sharding.particle_mesh": [
            _bad("devices", "value", sharding.particle_mesh, [], match=("empty",)),
            _bad("devices", "type", sharding.particle_mesh, ["cpu"], match=("'cpu'",)),
            _bad(
                "axis_name", "type", sharding.particle_mesh, axis_name=3, match=("3",)
            ),
        ],
        "pinfer.sharding.particle_sharding": [
            _bad("mesh", "type", sharding.particle_sharding, "mesh", match=("'mesh'",)),
            _bad(
                "axis_name",
                "value",
                sharding.particle_sharding,
                mesh,
                "agents",
                match=no_axis,
            ),
        ],
        "pinfer.sharding.shard_particles": [
            _bad(
                "tree",
                "shape",
                sharding.shard_particles,
                np.float32(1.0),
                mesh,
                match=("scalar", "replicate"),
            ),
            _bad("mesh", "type", sharding.shard_particles, tree, None, match=("None",)),
            _bad(
                "axis_name",
                "value",
                sharding.shard_particles,
                tree,
                mesh,
                "agents",
                match=no_axis,
            ),
        ],
        "pinfer.sharding.replicate": [
            _bad("mesh", "type", sharding.replicate, tree, [mesh], match=("list",)),
        ],
        "pinfer.sharding.constrain_particles": [
            _bad("mesh", "type", sharding.constrain_particles, tree, 1, match=("1",)),
            _bad(
                "tree",
                "shape",
                sharding.constrain_particles,
                {"s": np.float32(0)},
                mesh,
                match=("['s']", "scalar"),
            ),
            _bad(
                "axis_name",
                "type",
                sharding.constrain_particles,
                tree,
                mesh,
                0,
                match=("0",),
            ),
        ],
        "pinfer.sharding.sharded": [
            _bad("fn", "type", sharding.sharded, None, mesh, 8, match=("None",)),
            _bad("mesh", "type", sharding.sharded, _step, "mesh", 8, match=("'mesh'",)),
            _bad(
                "num_particles", "value", sharding.sharded, _step, mesh, 0, match=("0",)
            ),
            _bad(
                "num_particles",
                "type",
                sharding.sharded,
                _step,
                mesh,
                2.5,
                match=("2.5",),
            ),
        ],
    }


ENTRIES = {
    "pinfer.linalg.matvec": _matvec_cases(),
    "pinfer.linalg.dot": _dot_cases(),
    "pinfer.linalg.rowvec_matmul_t": _rowvec_cases(),
    "pinfer.linalg.cumsum": _cumsum_cases(),
    "pinfer.linalg.weighted_sum": _weighted_sum_cases(),
    "pinfer.random.threefry2x32": _threefry_cases(),
    "pinfer.random.normal": _normal_cases(),
    **_progress_cases(),
    **_sharding_cases(),
}
