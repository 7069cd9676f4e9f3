"""The experiment scripts: tiny (``--quick``) runs write a well-formed table and figure;
the full runs (slow) reproduce their claims."""

import csv

import numpy as np
import pytest
from docstring_examples import assert_examples_run

from experiments import _common, communicating_agents, latent_budgets, misspecification

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_claims_not_tested(printed):
    """A quick run says that it does not test the claims, and no verdict."""
    assert "claims: not tested in --quick mode" in printed
    assert "claims_hold" not in printed and "CLAIM" not in printed


def _check_outputs(folder, stem):
    for suffix in (".md", ".csv", ".png"):
        path = folder / f"{stem}{suffix}"
        assert path.is_file() and path.stat().st_size > 0, f"{path.name} missing"
    assert (folder / f"{stem}.png").read_bytes()[:8] == PNG_SIGNATURE
    markdown = (folder / f"{stem}.md").read_text()
    assert markdown.startswith("# ") and "|---|" in markdown
    return _read_csv(folder / f"{stem}.csv")


def test_latent_budgets_quick_writes_table_and_figure(tmp_path, capsys):
    out = tmp_path / "nested" / "latent"
    assert latent_budgets.main(["--out", str(out), "--quick"]) == 0
    rows = _check_outputs(out, "latent_budgets")
    cfg = latent_budgets.QUICK
    assert len(rows) == cfg.num_agents
    assert [int(r["agent"]) for r in rows] == list(range(cfg.num_agents))
    for row in rows:
        assert 0 <= int(row["true_budget"]) <= cfg.max_budget
        assert 0 <= int(row["map_budget"]) <= cfg.max_budget
        assert row["within_1"] == str(
            abs(int(row["true_budget"]) - int(row["map_budget"])) <= 1
        )
        assert int(row["train_actions"]) >= 1
        for model in ("budget", "full"):
            value = float(row[f"heldout_ll_{model}"])
            # A per-action log-probability over 4 actions under a posterior mixture
            # is finite and <= 0.
            assert np.isfinite(value) and value <= 0.0
    assert "## Summary" in (out / "latent_budgets.md").read_text()
    printed = capsys.readouterr().out
    assert "recovery_within_1" in printed and "heldout_ll_budget" in printed
    assert_claims_not_tested(printed)


def test_misspecification_quick_writes_table_and_figure(tmp_path, capsys):
    assert misspecification.main(["--out", str(tmp_path), "--quick"]) == 0
    rows = _check_outputs(tmp_path, "misspecification")
    cfg = misspecification.QUICK
    assert len(rows) == len(cfg.budgets) + len(cfg.discounts)
    assert {r["sweep"] for r in rows} == {"budget", "discount"}
    for row in rows:
        for column in (
            "error_assumed",
            "error_true_model",
            "map_error_assumed",
            "map_error_true_model",
        ):
            assert 0.0 <= float(row[column]) <= 1.0
        assert 1.0 <= float(row["mean_steps"]) <= cfg.num_steps
    zero = [r for r in rows if float(r["misspecification"]) == 0.0]
    assert len(zero) == 2  # the well-specified end of both sweeps
    printed = capsys.readouterr().out
    assert "error_assumed" in printed
    assert_claims_not_tested(printed)


def test_common_helpers_reject_bad_input(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        _common.prepare_output(a_file)
    with pytest.raises(ValueError, match="at least one row"):
        _common.markdown_table([])
    assert _common.markdown_table([{"a": 1, "b": 0.5}]).splitlines()[2] == (
        "| 1 | 0.500 |"
    )


def test_common_docstring_examples_run():
    assert_examples_run(_common)


@pytest.mark.parametrize(
    ("ok", "quick", "code", "printed"),
    [
        (True, False, 0, "claims: hold"),
        (False, False, 1, "CLAIM FAILED: x"),
        (True, True, 0, "claims: not tested in --quick mode"),
        (False, True, 0, "claims: not tested in --quick mode"),
    ],
)
def test_claims_decide_the_exit_status(capsys, ok, quick, code, printed):
    assert _common.claims_exit_status(ok, quick, "x") == code
    out, err = capsys.readouterr()
    assert printed in out + err
    assert ("FAILED" in err) == (not ok and not quick)


def _fail_claims(module, monkeypatch, returned):
    monkeypatch.setattr(module, "run", lambda *args, **kwargs: returned)


@pytest.mark.parametrize("quick", [False, True])
def test_every_script_exits_non_zero_when_a_full_run_fails_a_claim(
    monkeypatch, tmp_path, capsys, quick
):
    """The scripts' own exit status, with the experiment itself replaced by a run
    whose claims failed (the real runs are the slow tests below)."""
    flag = ["--quick"] if quick else []
    out = ["--out", str(tmp_path)]
    _fail_claims(latent_budgets, monkeypatch, ({"agents": 1}, False))
    assert latent_budgets.main(out + flag) == (0 if quick else 1)
    row = {"sweep": "budget", "budget": 1, "discount": 0.9, "mean_steps": 1.0}
    row |= {name: 0.5 for name in misspecification.PRINTED_ERRORS}
    _fail_claims(misspecification, monkeypatch, ([row], False))
    assert misspecification.main(out + flag) == (0 if quick else 1)
    _fail_claims(communicating_agents, monkeypatch, ([], False, 0.0))
    assert communicating_agents.main(out + flag) == (0 if quick else 1)
    printed = capsys.readouterr()
    if quick:
        assert printed.out.count("claims: not tested in --quick mode") == 3
        assert "CLAIM" not in printed.err
    else:
        assert printed.err.count("CLAIM FAILED") == 3


@pytest.mark.slow
def test_latent_budgets_full_run_meets_its_claims(tmp_path):
    summary, ok = latent_budgets.run(latent_budgets.FULL, tmp_path, seed=0)
    assert summary["recovery_within_1"] >= 0.7
    # Paired difference of held-out log-likelihoods: well beyond its standard error.
    assert summary["ll_difference"] > 4 * summary["ll_difference_se"]
    assert ok


def _sweep_rows(errors_assumed, errors_true, se=0.01):
    return [
        {
            "sweep": sweep,
            "misspecification": float(x),
            "error_assumed": a,
            "error_assumed_se": se,
            "error_true_model": t,
            "error_true_model_se": se,
        }
        for sweep in ("budget", "discount")
        for x, (a, t) in enumerate(zip(errors_assumed, errors_true, strict=True))
    ]


def test_misspecification_claims_can_fail():
    # 4 standard errors of a difference: 4 * hypot(0.01, 0.01) = 0.057.
    assert misspecification.claims_hold(_sweep_rows([0.2, 0.3], [0.2, 0.25]))
    flat = _sweep_rows([0.2, 0.25], [0.2, 0.25])  # grows by less than 4 se
    assert not misspecification.claims_hold(flat)
    apart = _sweep_rows([0.2, 0.4], [0.3, 0.3])  # disagree when well specified
    assert not misspecification.claims_hold(apart)


@pytest.mark.slow
def test_misspecification_error_grows_with_misspecification(tmp_path):
    """The claims (``claims_hold``): the assumed model's error grows with each kind
    of misspecification, and matches the true model's when there is none."""
    _, ok = misspecification.run(misspecification.FULL, tmp_path, seed=0)
    assert ok
