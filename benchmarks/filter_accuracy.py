"""Log-evidence accuracy of the particle-filter benchmark's contenders, over many seeds.

The speed target of the filter benchmark holds "with the same log-evidence error".
The timed rounds give only five errors per implementation, too few to compare
spreads, so after the timing the benchmark runs the contenders named in
``CONTENDERS`` (already compiled) on ``NUM_SEEDS`` further seeds at the target ``N``,
untimed, and reports for each:

* the error ``d = log Z_hat - log Z``: mean ± standard error, and its sd;
* the unbiasedness statistic of the particle-filter tests, ``mean(d) + var(d) / 2``
  (``Z_hat`` is unbiased, so ``log Z_hat`` is biased by about ``-var / 2``), ± its
  delta-method standard error;
* the ratio of each sd to ``particles``' sd, with a 95% interval from the F
  distribution of the variance ratio (equal spreads when the interval holds 1).
"""

import math

import numpy as np
from scipy import stats

__all__ = ["CONTENDERS", "NUM_SEEDS", "measure", "to_markdown"]

CONTENDERS = ("pinfer", "particles")
NUM_SEEDS = 30
FIRST_SEED = 101  # the timed rounds use seeds 1, 2, ...


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + " (")


def measure(impls, n: int, exact: float, log=print) -> list[dict]:
    """Errors of each contender on ``NUM_SEEDS`` seeds; ``impls`` compiled for ``n``.

    Returns one row per contender found (``{"accuracy": True, ...}``); a contender
    that fails is reported with its error message.

    Example:
        >>> rows = measure(impls, 100_000, exact)  # doctest: +SKIP
    """
    rows = []
    for prefix in CONTENDERS:
        impl = next((i for i in impls if i.name == prefix), None) or next(
            (i for i in impls if _matches(i.name, prefix)), None
        )
        if impl is None:
            continue
        errors, failure = [], ""
        for seed in range(FIRST_SEED, FIRST_SEED + NUM_SEEDS):
            try:
                errors.append(impl.run(n, seed)[1] - exact)
            except Exception as error:  # report, do not stop the benchmark
                failure = f"failed on seed {seed}: {error}"
                break
        log(f"[filter accuracy] {impl.name}: {len(errors)} seeds")
        rows.append(
            {
                "accuracy": True,
                "num_particles": n,
                "implementation": impl.name,
                "errors": errors,
                "note": failure,
            }
        )
    return rows


def _summary(errors: list[float]) -> tuple[float, float, float, float, float]:
    d = np.asarray(errors, np.float64)
    k = d.size
    mean, var = d.mean(), d.var(ddof=1)
    # Var(mean + var/2) ~ var/k + var^2/(2(k-1)) + cov term (0 for Gaussian d).
    se_stat = math.sqrt(var / k + var**2 / (2 * (k - 1)))
    return mean, math.sqrt(var / k), math.sqrt(var), mean + var / 2, se_stat


def to_markdown(rows: list[dict]) -> str:
    """The accuracy table (empty string when there are no accuracy rows)."""
    rows = [r for r in rows if r.get("accuracy")]
    if not rows:
        return ""
    anchor = next((r for r in rows if _matches_particles(r)), None)
    anchor_var = (
        np.var(anchor["errors"], ddof=1)
        if anchor and len(anchor["errors"]) > 1
        else None
    )
    lines = [
        f"Log-evidence accuracy at N = {rows[0]['num_particles']:,}, {NUM_SEEDS} "
        "further seeds each (untimed): error d = log Z_hat - log Z.",
        "",
        "| implementation | seeds | mean d ± se | sd of d | mean d + var d / 2 "
        "| sd / particles' sd (95% interval) | note |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        k = len(r["errors"])
        if k < 2:
            lines.append(f"| {r['implementation']} | {k} | | | | | {r['note']} |")
            continue
        mean, se, sd, stat, se_stat = _summary(r["errors"])
        ratio = ""
        if anchor_var and r is not anchor:
            k_anchor = len(anchor["errors"])
            f = sd**2 / anchor_var
            lo = f / stats.f.ppf(0.975, k - 1, k_anchor - 1)
            hi = f / stats.f.ppf(0.025, k - 1, k_anchor - 1)
            ratio = f"{math.sqrt(f):.2f} ({math.sqrt(lo):.2f}–{math.sqrt(hi):.2f})"
        lines.append(
            f"| {r['implementation']} | {k} | {mean:+.3f} ± {se:.3f} | {sd:.3f} | "
            f"{stat:+.3f} ± {se_stat:.3f} | {ratio} | {r['note']} |"
        )
    return "\n".join(lines)


def _matches_particles(row: dict) -> bool:
    return _matches(row["implementation"], "particles")
