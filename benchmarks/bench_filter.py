"""Bootstrap particle filter: pinfer against a hand-written filter, smcx, `particles`.

The problem is a linear-Gaussian state-space model (``dx = 4``, ``dy = 2``, ``T = 500``
observations; :func:`benchmarks.handwritten_filter.make_problem`), the same model and
observations for everyone, with an exact log-evidence from a float64 Kalman filter.
Every implementation runs a bootstrap filter in float32 (``particles``: float64, NumPy)
and resamples systematically at every step:

* **pinfer**: ``pinfer.smc.particle_filter(key, model, ys, N, ess_threshold=1.0)``
  (a Python threshold ``>= 1`` resamples at every step) on
  ``pinfer.models.linear_gaussian.LinearGaussianSSM``, jitted as a whole, returning
  the full ``ParticleFilterResult`` (log-evidence, filtering means, ESS).
* **hand-written**: ``benchmarks/handwritten_filter.py``, about forty lines of
  ``lax.scan`` with ``jnp.searchsorted`` systematic resampling, threefry keys: the
  reference for the ratio column. Variants swap the key (``rbg``), the resampler
  (offspring counts by a scatter-add and a cumulative sum, same distribution) and the
  threefry code path: jax's default "partitionable" threefry is several times slower
  on CPU for an ``[N, 4]`` draw than for the same numbers drawn flat (``N * dx``
  normals reshaped: bit-identical) or than the older non-partitionable threefry
  (``with jax.threefry_partitionable(False)`` while compiling).
* pinfer's model draws its noise with ``pinfer.random.normal`` (threefry unrolled so
  that XLA fuses it, both words of every hash kept). Two ablations: the same model
  with its transition noise from ``jax.random.normal`` (``N * dx`` numbers drawn
  flat), and an ``rbg`` key (``pinfer.random.normal`` then falls back to
  ``jax.random.normal``).
* **smcx** 2.1.0 ``bootstrap_filter`` (``resampling_threshold=2``, systematic) and
  **particles** 0.4 ``SMC(Bootstrap(MVLinearGauss), resampling="systematic",
  ESSrmin=1)``, each in a virtualenv of its own (``benchmarks/envs.py``), driven as a
  subprocess worker so that its runs interleave with the others. particles runs with
  one OpenBLAS thread: with the default threads its ``[N, 4] @ [4, 4]`` products were
  6-10 times slower on two cores shared with other work.

Timing: for each ``N`` every implementation is compiled (``jit(...).lower().compile()``,
reported separately) and run once, then timed over interleaved rounds (all
implementations, in a rotating order, per round), each round with a new seed;
``block_until_ready`` closes each timed call. The table gives the median and the
range, the ratio to the hand-written filter's median, and the log-evidence error
``log Z_hat - log Z`` over the same runs (mean ± sd, and mean ``|error|``). After the
timing, pinfer and ``particles`` run 30 more seeds each at ``N = 1e5``, untimed
(``benchmarks/filter_accuracy.py``): their log-evidence errors, the unbiasedness
statistic ``mean + var / 2`` and the ratio of their spreads with a 95% interval.
"""

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

from benchmarks import filter_accuracy
from benchmarks.filter_anchors import Impl, Skipped, anchor, save_problem
from benchmarks.handwritten_filter import (
    LGProblem,
    build_filter,
    kalman_log_evidence,
    make_problem,
    systematic_scatter,
    systematic_searchsorted,
    to_jax,
)

__all__ = ["TITLE", "jax_noise_model", "notes", "run", "to_markdown"]

TITLE = "Particle filter (linear-Gaussian, dx = 4, dy = 2)"
REFERENCE = "hand-written (threefry, searchsorted)"
FULL = {"num_steps": 500, "sizes": (1_000, 10_000, 100_000), "repeats": (10, 10, 5)}
QUICK = {"num_steps": 100, "sizes": (1_000,), "repeats": (2,)}
PROBLEM_SEED = 0
# Key set-ups: (key implementation, jax_threefry_partitionable while compiling).
# jax's default threefry is "partitionable" (sharding-invariant bits); on CPU its
# code for an [N, 4] draw is several times slower than the older layout-dependent
# threefry, which a user gets with `with jax.threefry_partitionable(False):`.
RNGS = {
    "threefry": ("threefry2x32", True),
    "threefry, non-partitionable": ("threefry2x32", False),
    "rbg": ("rbg", True),
}


def _jax_impl(name: str, build: Callable, args: tuple, rng: str) -> Impl:
    """Wrap ``build(N) -> jitted fn(key, *args)`` with AOT compile timing."""
    key_impl, partitionable = RNGS[rng]
    compiled = {}

    def prepare(n):
        fn = build(n)
        key = jax.random.key(0, impl=key_impl)
        start = time.perf_counter()
        with jax.threefry_partitionable(partitionable):
            compiled[n] = fn.lower(key, *args).compile()
        seconds = time.perf_counter() - start
        jax.block_until_ready(compiled[n](key, *args))  # untimed warm-up run
        return seconds

    def run(n, seed):
        key = jax.random.key(seed, impl=key_impl)
        jax.block_until_ready(key)
        start = time.perf_counter()
        out = jax.block_until_ready(compiled[n](key, *args))
        seconds = time.perf_counter() - start
        log_z = out.log_evidence if hasattr(out, "log_evidence") else out
        return seconds, float(log_z)

    return Impl(name, prepare, run)


def _handwritten(problem: LGProblem) -> list[Impl]:
    arrays = to_jax(problem)
    ss, scatter = systematic_searchsorted, systematic_scatter
    variants = (  # (rng, resampler, flat normals)
        ("threefry", ss, False),  # the reference
        ("threefry", scatter, False),
        ("rbg", ss, False),
        ("rbg", scatter, False),
        ("threefry", ss, True),
        ("threefry, non-partitionable", ss, False),
        ("threefry, non-partitionable", scatter, False),
    )
    impls = []
    for rng, resample_fn, flat in variants:
        label = "searchsorted" if resample_fn is ss else "scatter"
        name = f"hand-written ({rng}{', flat normals' if flat else ''}, {label})"

        def build(n, resample_fn=resample_fn, flat=flat):
            return build_filter(n, resample_fn, flat_normals=flat)

        impls.append(_jax_impl(name, build, (arrays,), rng))
    return impls


def _pinfer(problem: LGProblem) -> list[Impl] | Skipped:
    try:
        from pinfer.models.linear_gaussian import LinearGaussianSSM
        from pinfer.smc import particle_filter, systematic
    except ImportError as error:
        return Skipped("pinfer", f"pinfer's particle filter is not importable: {error}")
    f32 = jnp.float32
    model = LinearGaussianSSM(
        m0=jnp.asarray(problem.m0, f32),
        P0=jnp.asarray(problem.P0, f32),
        A=jnp.asarray(problem.F, f32),
        Q=jnp.asarray(problem.Q, f32),
        H=jnp.asarray(problem.G, f32),
        R=jnp.asarray(problem.R, f32),
    )
    ys = jnp.asarray(problem.ys, f32)

    def builder(resample_fn):
        def build(n):
            def filter_fn(key, model, ys):
                return particle_filter(
                    key, model, ys, n, resample_fn=resample_fn, ess_threshold=1.0
                )

            return jax.jit(filter_fn)

        return build

    variants = (  # (name, model, rng)
        ("pinfer", model, "threefry"),
        ("pinfer (jax.random.normal noise)", jax_noise_model(model), "threefry"),
        ("pinfer (rbg key)", model, "rbg"),
    )
    return [
        _jax_impl(name, builder(systematic), (m, ys), rng) for name, m, rng in variants
    ]


def _jax_noise_class():
    """pinfer's linear-Gaussian model with ``jax.random.normal`` transition noise."""
    from pinfer.linalg import rowvec_matmul_t
    from pinfer.models.linear_gaussian import LinearGaussianSSM

    class JaxNoiseSSM(LinearGaussianSSM):
        def sample_transition_batch(self, key, x_prev, t):
            eps = jax.random.normal(key, (x_prev.size,), self.A.dtype)
            chol = self._transition().chol  # computed once when prepared
            noise = rowvec_matmul_t(eps.reshape(x_prev.shape), chol)
            return rowvec_matmul_t(x_prev, self.A) + noise

    return JaxNoiseSSM


def jax_noise_model(model):
    """``model`` (a ``LinearGaussianSSM``) with ``jax.random.normal`` transition noise.

    The ablation of ``pinfer.random.normal``: the same law, drawn as ``N * dx`` flat
    ``jax.random.normal`` numbers.
    """
    fields = (getattr(model, name) for name in ("m0", "P0", "A", "Q", "H", "R"))
    return _jax_noise_class()(*fields)


def _row(name, n, times, errors, compile_s, note="") -> dict:
    row = {"num_particles": n, "implementation": name, "runs": len(times)}
    if times:
        row |= {
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "compile_s": compile_s,
            "log_z_error_mean": statistics.mean(errors),
            "log_z_error_sd": statistics.stdev(errors) if len(errors) > 1 else 0.0,
            "log_z_abs_error_mean": statistics.mean(abs(e) for e in errors),
        }
    row["note"] = note
    return row


def _bench_size(impls, skipped, n, repeats, exact, log) -> list[dict]:
    compile_s, times, errors, failed = {}, {}, {}, {}
    for impl in impls:
        try:
            compile_s[impl.name] = impl.prepare(n)
            times[impl.name], errors[impl.name] = [], []
        except Exception as error:  # one broken implementation must not stop the rest
            failed[impl.name] = f"failed to compile: {error}"
    live = [impl for impl in impls if impl.name not in failed]
    for round_index in range(repeats):
        seed = 1 + round_index
        shift = round_index % max(len(live), 1)
        for impl in live[shift:] + live[:shift]:
            if impl.name in failed:
                continue
            try:
                seconds, log_z = impl.run(n, seed)
            except Exception as error:
                failed[impl.name] = f"failed in run {round_index}: {error}"
                continue
            times[impl.name].append(seconds)
            errors[impl.name].append(log_z - exact)
        log(f"[filter] N={n} round {round_index + 1}/{repeats} done")
    rows = [_row(s.name, n, [], [], None, f"skipped: {s.reason}") for s in skipped]
    for impl in impls:
        if impl.name in failed:
            rows.append(_row(impl.name, n, [], [], None, failed[impl.name]))
        else:
            rows.append(
                _row(
                    impl.name,
                    n,
                    times[impl.name],
                    errors[impl.name],
                    compile_s[impl.name],
                    impl.note,
                )
            )
    reference = next((r for r in rows if r["implementation"] == REFERENCE), None)
    for row in rows:
        if reference and "median_s" in row and "median_s" in reference:
            row["ratio_to_handwritten"] = row["median_s"] / reference["median_s"]
    return rows


def run(quick: bool = False, log=print) -> list[dict]:
    """Time every implementation; one row per (``N``, implementation).

    ``quick``: ``N = 1000``, ``T = 100``, 2 rounds, no anchor environments.

    Example:
        >>> rows = run(quick=True)  # doctest: +SKIP
    """
    config = QUICK if quick else FULL
    problem = make_problem(PROBLEM_SEED, config["num_steps"])
    exact = kalman_log_evidence(problem)
    impls, skipped, workers = [], [], []
    pinfer_impls = _pinfer(problem)
    if isinstance(pinfer_impls, Skipped):
        skipped.append(pinfer_impls)
    else:
        impls += pinfer_impls
    impls += _handwritten(problem)
    with tempfile.TemporaryDirectory() as folder:
        problem_path = save_problem(problem, Path(folder))
        if not quick:
            for name in ("smcx", "particles"):
                impl, worker = anchor(name, problem_path, log)
                if worker is not None:
                    workers.append(worker)
                (skipped if isinstance(impl, Skipped) else impls).append(impl)
        rows = []
        try:
            for n, repeats in zip(config["sizes"], config["repeats"], strict=True):
                rows += _bench_size(impls, skipped, n, repeats, exact, log)
            if not quick:  # the contenders are compiled for the last (target) N
                rows += filter_accuracy.measure(impls, config["sizes"][-1], exact, log)
        finally:
            for worker in workers:
                worker.close()
    for row in rows:
        row["num_steps"] = config["num_steps"]
        row["exact_log_z"] = exact
    return rows


def _fmt(value, spec):
    return "" if value is None else format(value, spec)


def to_markdown(rows: list[dict]) -> str:
    """The table: one line per (``N``, implementation)."""
    rows = [r for r in rows if not r.get("accuracy")]
    if not rows:
        return "(no rows)"
    lines = [
        f"T = {rows[0]['num_steps']} observations; exact log Z = "
        f"{rows[0]['exact_log_z']:.3f} (float64 Kalman filter).",
        "",
        "| N | implementation | median s | range s | × hand-written | compile s "
        "| log Z error (mean ± sd) | mean abs error | runs | note |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "median_s" in r:
            cells = [
                f"{r['median_s']:.4g}",
                f"{r['min_s']:.3g}–{r['max_s']:.3g}",
                _fmt(r.get("ratio_to_handwritten"), ".2f"),
                f"{r['compile_s']:.2f}",
                f"{r['log_z_error_mean']:+.3f} ± {r['log_z_error_sd']:.3f}",
                f"{r['log_z_abs_error_mean']:.3f}",
            ]
        else:
            cells = [""] * 6
        lines.append(
            f"| {r['num_particles']:,} | {r['implementation']} | "
            + " | ".join(cells)
            + f" | {r['runs']} | {r['note']} |"
        )
    return "\n".join(lines)


def _median(rows, n, prefix):
    for r in rows:
        name = r["implementation"]
        if r["num_particles"] == n and (
            name == prefix or name.startswith(prefix + " (")
        ):
            return r.get("median_s")
    return None


def _ratios(rows, n, median) -> list[str]:
    """``[x / hand-written, x / smcx, particles / x]`` for a median ``x``."""
    out = []
    for prefix in (REFERENCE, "smcx", "particles"):
        other = _median(rows, n, prefix)
        if not other:
            out.append("n/a")
        elif prefix == "particles":
            out.append(f"{other / median:.1f}")
        else:
            out.append(f"{median / other:.2f}")
    return out


def notes(rows: list[dict]) -> str:
    """The targets, checked against this run's medians: pinfer as it is by default,
    and the fastest pinfer variant."""
    lines = [
        "Targets, from this run's medians: pinfer / hand-written ≤ 1.1, "
        "pinfer / smcx ≤ 1, particles / pinfer ≥ 5 at N = 100,000.",
        "",
        "| N | pinfer / hand-written | pinfer / smcx | particles / pinfer "
        "| fastest pinfer variant (same three ratios) | fastest overall |",
        "|---:|---:|---:|---:|---|---|",
    ]
    accuracy = filter_accuracy.to_markdown(rows)
    rows = [r for r in rows if not r.get("accuracy")]
    for n in sorted({r["num_particles"] for r in rows}):
        timed = [r for r in rows if r["num_particles"] == n and "median_s" in r]
        default = _median(rows, n, "pinfer")
        cells = _ratios(rows, n, default) if default else ["n/a"] * 3
        variants = [r for r in timed if r["implementation"].startswith("pinfer (")]
        best_variant = ""
        if variants:
            best = min(variants, key=lambda r: r["median_s"])
            ratios = ", ".join(_ratios(rows, n, best["median_s"]))
            best_variant = f"{best['implementation']}: {ratios}"
        fastest = ""
        if timed:
            best = min(timed, key=lambda r: r["median_s"])
            fastest = f"{best['implementation']}, {best['median_s']:.4g} s"
        lines.append(f"| {n:,} | " + " | ".join([*cells, best_variant, fastest]) + " |")
    if accuracy:
        lines += ["", accuracy]
    return "\n".join(lines)


if __name__ == "__main__":
    rows = run(quick="--quick" in sys.argv)
    print(to_markdown(rows))
    print()
    print(notes(rows))
