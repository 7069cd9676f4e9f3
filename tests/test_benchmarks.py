"""The benchmark's own reference code stays correct (no timing here).

The hand-written filter is the yardstick of the particle-filter benchmark, so it is
tested like a library filter: its evidence estimate ``Z_hat`` is unbiased for the
Kalman value, ``E[Z_hat / Z] = 1``, checked over independent seeds with a tolerance
of four Monte-Carlo standard errors. Its two systematic resamplers must agree index
for index (in float64, where round-off cannot split them), and the markdown writer
must keep the sections it does not rerun.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import bench_filter, filter_accuracy, run
from benchmarks.handwritten_filter import (
    build_filter,
    kalman_log_evidence,
    make_problem,
    systematic_scatter,
    systematic_searchsorted,
    to_jax,
)

NUM_STEPS, NUM_PARTICLES, NUM_SEEDS = 20, 256, 200


@pytest.fixture(scope="module")
def problem():
    return make_problem(0, NUM_STEPS)


@pytest.mark.parametrize(
    "resample_fn", [systematic_searchsorted, systematic_scatter], ids=["ss", "scatter"]
)
def test_handwritten_evidence_is_unbiased(problem, resample_fn):
    exact = kalman_log_evidence(problem)
    pf = build_filter(NUM_PARTICLES, resample_fn)
    keys = jax.random.split(jax.random.key(1), NUM_SEEDS)
    log_z = np.asarray(jax.vmap(pf, in_axes=(0, None))(keys, to_jax(problem)))
    ratio = np.exp(log_z.astype(np.float64) - exact)
    assert np.all(np.isfinite(ratio))
    assert abs(ratio.mean() - 1) < 4 * ratio.std(ddof=1) / np.sqrt(NUM_SEEDS)
    # Power: with sd(Z_hat / Z) about 0.6 the tolerance is about 0.17, a bias of
    # 0.16 in log Z; a dropped normalising constant (18 here) or a wrong initial law
    # moves it far more.


def test_numpy_kalman_matches_pinfer_kalman(problem):
    linear_gaussian = pytest.importorskip("pinfer.models.linear_gaussian")
    with jax.enable_x64(True):
        model = linear_gaussian.LinearGaussianSSM(
            m0=problem.m0,
            P0=problem.P0,
            A=problem.F,
            Q=problem.Q,
            H=problem.G,
            R=problem.R,
        )
        ll = linear_gaussian.kalman_filter(
            model, jnp.asarray(problem.ys)
        ).log_likelihood
        np.testing.assert_allclose(float(ll), kalman_log_evidence(problem), rtol=1e-10)


@pytest.mark.parametrize("num_particles", [1, 7, 1000])
def test_scatter_resampler_equals_searchsorted(num_particles):
    with jax.enable_x64(True):
        for seed in range(5):
            key_w, key_r = jax.random.split(jax.random.key(seed))
            log_w = 3.0 * jax.random.normal(key_w, (num_particles,), jnp.float64)
            # Zero weights (first, last and inside) must never be picked.
            log_w = jnp.where(jnp.arange(num_particles) % 3 == 0, -jnp.inf, log_w)
            log_w = log_w.at[-1].set(0.0)
            a = systematic_searchsorted(key_r, log_w, num_particles)
            b = systematic_scatter(key_r, log_w, num_particles)
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            counts = np.bincount(np.asarray(b), minlength=num_particles)
            expected = num_particles * np.exp(log_w - jax.nn.logsumexp(log_w))
            assert np.all(
                (counts >= np.floor(expected)) & (counts <= np.ceil(expected))
            )


def test_scatter_resampler_float32_is_sorted_and_in_range():
    log_w = jax.random.normal(jax.random.key(3), (5000,))
    idx = np.asarray(systematic_scatter(jax.random.key(4), log_w, 5000))
    assert idx.dtype == np.int32 and idx.min() >= 0 and idx.max() < 5000
    assert np.all(np.diff(idx) >= 0)


def _rows():
    base = {"num_steps": 10, "exact_log_z": -1.0, "runs": 3, "note": ""}
    timed = {"min_s": 0.5, "max_s": 2.0, "compile_s": 1.0, "log_z_error_sd": 0.1}
    timed |= {"log_z_error_mean": -0.2, "log_z_abs_error_mean": 0.2}
    rows = []
    for name, median in (
        ("pinfer", 1.0),
        (bench_filter.REFERENCE, 1.0),
        ("smcx (smcx 2.1.0 jax 0.10.2)", 2.0),
        ("particles (particles 0.4 numpy 2.5.5)", 8.0),
    ):
        rows.append(base | timed | {"implementation": name, "median_s": median})
    rows.append(base | {"implementation": "x", "note": "skipped: no venv"})
    return [r | {"num_particles": 100} for r in rows]


def test_filter_table_and_targets_render():
    table = bench_filter.to_markdown(_rows())
    assert "skipped: no venv" in table and "| 100 | pinfer |" in table
    notes = bench_filter.notes(_rows())
    # pinfer / hand-written, pinfer / smcx, particles / pinfer:
    assert "| 100 | 1.00 | 0.50 | 8.0 |" in notes


def test_accuracy_rows_measure_and_render():
    class FakeImpl:
        def __init__(self, name, scale):
            self.name, self.scale = name, scale
            self.rng = np.random.default_rng(0)

        def run(self, n, seed):
            return 0.0, -10.0 + self.scale * self.rng.normal()

    impls = [
        FakeImpl("pinfer (rbg key)", 5.0),  # a variant: must not be picked
        FakeImpl("pinfer", 0.2),
        FakeImpl("particles (particles 0.4)", 0.2),
    ]
    rows = filter_accuracy.measure(impls, 100, exact=-10.0, log=lambda *a: None)
    assert [r["implementation"] for r in rows] == [
        "pinfer",
        "particles (particles 0.4)",
    ]
    assert all(len(r["errors"]) == filter_accuracy.NUM_SEEDS for r in rows)
    assert np.std(rows[0]["errors"]) < 0.5
    notes = bench_filter.notes(_rows() + rows)
    assert "Log-evidence accuracy at N = 100" in notes
    line = next(ln for ln in notes.splitlines() if ln.startswith("| pinfer |"))
    ratio, interval = line.split("|")[6].split("(")
    lo, hi = (float(x) for x in interval.rstrip(") ").split("–"))
    assert lo < float(ratio) < hi and lo < 1.0 < hi  # equal spreads by construction
    assert "accuracy" not in bench_filter.to_markdown(_rows() + rows)


def test_merge_keeps_sections_not_rerun():
    old = run.merge("", {"filter": "<!-- bench:filter -->\nA\n<!-- /bench:filter -->"})
    old = run.merge(
        old, {"tempered": "<!-- bench:tempered -->\nB\n<!-- /bench:tempered -->"}
    )
    new = run.merge(old, {"filter": "<!-- bench:filter -->\nC\n<!-- /bench:filter -->"})
    assert new.startswith(run.HEADER)
    assert "\nC\n" in new and "\nB\n" in new and "\nA\n" not in new
    assert new.count("<!-- bench:filter -->") == 1


def test_gpu_kernel_counter_reads_compiled_loops():
    # benchmarks.gpu_kernels reads an optimised HLO module; on the CPU the same
    # parser finds the filter's time loop, its kernels, the resampling branch of an
    # ESS-triggered filter and the inner binary-search loop of searchsorted.
    from benchmarks import gpu_kernels
    from benchmarks.gpu import filter_problem, filter_variants

    model, ys, arrays, _ = filter_problem(20)
    variants = {name: fn for name, fn, _ in filter_variants(model, ys, arrays, 64, 1)}
    key = jax.random.key(0)
    counts = {
        name: gpu_kernels.loop_kernels(fn.lower(key).compile().as_text())
        for name, fn in variants.items()
    }
    every = counts["pinfer, resample every step"]
    assert every.per_step > 0 and every.in_branches == 0 and every.mb_per_step > 0
    assert counts["pinfer, ESS < 0.5"].in_branches > 0
    # (on the CPU, threefry is a loop too: count the one searchsorted adds)
    searchsorted = counts["hand-written (searchsorted)"].inner_loops
    assert searchsorted == counts["hand-written (scatter)"].inner_loops + 1
    rows = [
        dict(name=n, num_particles=64, batch=1, bytes_per_particle_step=1.0, **vars(c))
        for n, c in counts.items()
    ]
    text = gpu_kernels.to_markdown(rows, "cpu, test")
    assert text.startswith("<!-- bench:gpu_kernels -->") and "| 64 × 1 |" in text


def test_gpu_sections_are_rendered_from_the_saved_results():
    # The GPU sections of BENCHMARKS.md come from JSON saved on a GPU machine
    # (benchmarks/gpu_check.sh); re-rendering them must give the committed text.
    import json

    from benchmarks import gpu, gpu_kernels
    from benchmarks.run import ROOT

    text = (ROOT / "BENCHMARKS.md").read_text()
    results = json.loads((ROOT / "benchmarks/gpu_results_h200.json").read_text())
    kernels = json.loads((ROOT / "benchmarks/gpu_kernels_h200.json").read_text())
    assert gpu.to_markdown(results) in text
    assert gpu_kernels.to_markdown(kernels["rows"], kernels["setup"]) in text


def test_inverse_particle_tables_render():
    from benchmarks import bench_inverse_particle as bench

    accuracy = {
        "hypotheses / particles": 10,
        "compile (s)": 1.0,
        "ms / trajectory": 2.0,
        "p(true goal)": 0.5,
        "MAP goal": 0.5,
        "budget ±1": 0.5,
        "log β abs. err": 0.1,
        "TV to coarse": 0.0,
    }
    fine = {
        "hypotheses": 40,
        "table_gib": 0.1,
        "posteriors_gib": 0.1,
        "ms_per_traj": 8.0,
        "states": 9,
        "trajectories": 100,
        "scale": 4.0,
    }
    rows = [
        accuracy | {"method": "exact", "fine grid": fine},
        accuracy | {"method": "particles, N = 5", "resampled steps": 0.1},
    ] + [
        {
            "table": "scaling",
            "steps": steps,
            "particles": 5,
            "before ms / step": 0.5 * steps,
            "after ms / step": 1.0,
            "before resampled": 0.1,
            "after resampled": 0.2,
        }
        for steps in (10, 200)
    ]
    table = bench.to_markdown(rows)
    assert "| 200 | 100.00 | 1.00 | 100.0 | 10 %, 20 % |" in table
    assert table.count("| particles, N = 5 |") == 1
    assert "(100× faster at the longest)" in bench.notes(rows)
