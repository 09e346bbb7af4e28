"""What a review of ``summarizer eval`` found, each pinned by a test that failed before
the fix: the --baseline gate and ``eval compare`` compared means over different
articles (S1); a folder or FIFO named ``<id>.json`` passed for a missing candidate
(H2); invalid candidates' reasons were cut to a few characters and not counted (H3);
nothing capped what the eval commands read (H4); and the CLI's rough edges (``eval
run -m/-o``, ``--baseline`` a run folder, ``compare --json -o``, ``-q`` and the
deprecation notice, a prompt shown for no-model methods, stale candidates)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from summarizer.cli import app
from tests.conftest import DATASET, ROOT, copy_dataset

runner = CliRunner()
IDS = sorted(p.stem for p in (DATASET / "golden").glob("*.json"))[:4]
HK = "030-hong-kong-legco-election"
RULES_REPORT = ROOT / "benchmarks" / "results" / "eval-rules" / "report.json"


def _eval(*args: str) -> Result:
    return runner.invoke(app, ["eval", *args])


def _json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _candidates(root: Path, data: Path, ids: list[str]) -> Path:
    """The goldens of ``ids`` as candidates (each scores 1.0)."""
    root.mkdir(parents=True)
    for i in ids:
        shutil.copy(data / "golden" / f"{i}.json", root)
    return root


def _degrade(cands: Path, case_id: str) -> None:
    """Make one candidate worse in some sections (still a valid summary)."""
    summary = _json(cands / f"{case_id}.json")
    summary["actors"], summary["commitments"] = summary["actors"][:1], []
    (cands / f"{case_id}.json").write_text(json.dumps(summary), encoding="utf-8")


def _score(data: Path, cands: Path, report: Path, *args: str) -> Result:
    return _eval("score", "-d", str(data), "--candidates", str(cands), "--report", str(report),
                 *args)  # fmt: skip


# --- S1: the gate compares means over the articles both runs scored ---------------------


def test_a_one_article_run_is_gated_on_that_article_not_the_whole_baseline(
    tmp_path: Path,
) -> None:
    """`eval run --only 030-... --baseline FULL/report.json` exited 50 ("overall 0.668 ->
    0.565") though that article's own change is 0."""
    full, one = tmp_path / "full", tmp_path / "hk"
    first = _eval("run", "-d", str(DATASET), "--model", "rules", "--out", str(full))
    assert first.exit_code == 0, first.output
    whole = _json(full / "report.json")
    mine = whole["articles"][HK]
    assert whole["aggregate"]["score"] - mine["score"] > 0.05  # what made the old gate fail

    result = _eval("run", "-d", str(DATASET), "--only", HK, "--model", "rules",
                   "--out", str(one), "--baseline", str(full / "report.json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    block = _json(one / "report.json")["baseline"]
    assert block["articles"] == 1
    assert block["delta"]["score"] == 0.0
    assert set(block["delta"]["sections"].values()) == {0.0}
    assert block["aggregate"]["score"] == block["current"]["score"] == mine["score"]
    assert block["own"] == {
        "score": whole["aggregate"]["score"],
        "sections": whole["aggregate"]["sections"],
        "articles": 33,
    }
    assert block["passed"] is True
    assert "on the 1 article both runs scored" in result.stdout
    assert f"its own mean over its 33: {whole['aggregate']['score']:.3f}" in result.stdout


def test_a_limit_is_gated_against_the_lead_on_the_same_articles(tmp_path: Path) -> None:
    """`eval score --limit 5 --baseline lead.json --max-drop 0` exited 50 ("commitments
    0.286 -> 0.191") while the lead scores 0.191 on those same 5."""
    lead = tmp_path / "lead"
    assert _eval("baseline", "lead", "-d", str(DATASET), "-o", str(lead)).exit_code == 0
    assert _score(DATASET, lead, tmp_path / "lead.json").exit_code == 0
    whole = _json(tmp_path / "lead.json")["aggregate"]

    result = _score(DATASET, lead, tmp_path / "five.json", "--limit", "5",
                    "--baseline", str(tmp_path / "lead.json"), "--max-drop", "0")  # fmt: skip
    assert result.exit_code == 0, result.output
    five = _json(tmp_path / "five.json")
    assert whole["sections"]["commitments"] - five["aggregate"]["sections"]["commitments"] > 0
    block = five["baseline"]
    assert block["articles"] == 5
    assert block["aggregate"]["sections"] == five["aggregate"]["sections"]
    assert block["delta"] == {"score": 0.0, "sections": dict.fromkeys(block["delta"]["sections"],
                                                                      0.0)}  # fmt: skip
    assert block["drops"] == []
    assert "on the 5 articles both runs scored" in result.stdout


def test_a_real_drop_on_the_shared_articles_still_fails_and_says_on_how_many(
    tmp_path: Path,
) -> None:
    data = copy_dataset(tmp_path / "data", IDS)
    assert _score(data, data / "golden", tmp_path / "good.json").exit_code == 0
    cands = _candidates(tmp_path / "cands", data, IDS[:2])
    _degrade(cands, IDS[1])
    result = _score(data, cands, tmp_path / "r.json", "--only", ",".join(IDS[:2]),
                    "--baseline", str(tmp_path / "good.json"))  # fmt: skip
    assert result.exit_code == 50, result.output
    assert "on the 2 articles both runs scored: overall 1.000 -> " in result.stderr
    assert "; actors 1.000 -> " in result.stderr
    block = _json(tmp_path / "r.json")["baseline"]
    assert (block["articles"], block["own"]["articles"]) == (2, 4)
    assert block["regressions"] == [IDS[1]]


def test_a_baseline_that_shares_no_article_is_refused_before_any_work(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS)
    assert _score(data, data / "golden", tmp_path / "a.json", "--only", IDS[0]).exit_code == 0
    report = tmp_path / "b.json"
    result = _score(data, data / "golden", report, "--only", IDS[1],
                    "--baseline", str(tmp_path / "a.json"))  # fmt: skip
    assert result.exit_code == 51, result.output
    assert "it scored none of the 1 article(s) this run scores" in result.stderr
    assert not report.exists()
    out = tmp_path / "run"
    ran = _eval("run", "-d", str(data), "--only", IDS[1], "--model", "rules", "--out", str(out),
                "--baseline", str(tmp_path / "a.json"))  # fmt: skip
    assert ran.exit_code == 51, ran.output
    assert not out.exists()  # refused before the run wrote anything


def test_compare_means_are_over_the_shared_articles_and_own_means_are_labeled(
    tmp_path: Path,
) -> None:
    """0.668 over 33 was shown as -0.332 against 1.000 over 6."""
    data = copy_dataset(tmp_path / "data", IDS[:3])
    cands = _candidates(tmp_path / "cands", data, IDS[:3])
    _degrade(cands, IDS[0])
    assert _score(data, cands, tmp_path / "all" / "report.json").exit_code == 0
    assert _score(data, cands, tmp_path / "one" / "report.json", "--only", IDS[1]).exit_code == 0
    whole = _json(tmp_path / "all" / "report.json")["aggregate"]["score"]
    assert whole < 1.0

    out = _eval("compare", str(tmp_path / "all"), str(tmp_path / "one"), "--json")
    assert out.exit_code == 0, out.output
    c = json.loads(out.stdout)
    assert c["compared_articles"] == 1
    assert c["means"]["overall"]["runs"] == [1.0, 1.0]
    assert c["means"]["overall"]["delta"] == [0.0, 0.0]
    assert c["own_means"]["overall"] == [whole, 1.0]

    shown = runner.invoke(app, ["eval", "compare", str(tmp_path / "all"), str(tmp_path / "one")],
                          terminal_width=200)  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "means over the 1 articles every run scored" in shown.stdout
    assert "own means: each run's, over the articles it scored (not compared)" in shown.stdout
    assert f"{1.0 - whole:+.3f}" not in shown.stdout.split("overall per article")[0]


# --- H2: a folder or FIFO named <id>.json is an unreadable candidate --------------------


@pytest.mark.timeout(60)
def test_a_folder_or_fifo_candidate_is_unreadable_not_missing(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:3])
    cands = _candidates(tmp_path / "cands", data, IDS[2:3])
    (cands / f"{IDS[0]}.json").mkdir()
    os.mkfifo(cands / f"{IDS[1]}.json")  # opened for reading, it would block forever
    report = tmp_path / "r.json"
    result = _score(data, cands, report)
    assert result.exit_code == 0, result.output
    doc = _json(report)
    assert doc["missing"] == []
    errors = {i: a.get("error") for i, a in doc["articles"].items()}
    assert errors[IDS[0]] == (
        f"unreadable candidate: {cands / IDS[0]}.json: is a directory, not a file"
    )
    assert errors[IDS[1]] == (
        f"unreadable candidate: {cands / IDS[1]}.json: is a FIFO (named pipe), not a regular file"
    )
    assert errors[IDS[2]] is None
    assert "no candidate file" not in result.stdout
    assert f"  {IDS[1]}: {errors[IDS[1]]}" in result.stdout.splitlines()


# --- H3: invalid candidates: each reason whole, and a count on stderr ---------------------


def test_invalid_candidates_are_listed_whole_and_counted_on_stderr(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS)
    cands = _candidates(tmp_path / "cands", data, IDS)
    (cands / f"{IDS[0]}.json").write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    (cands / f"{IDS[1]}.json").write_text("{nope", encoding="utf-8")
    (cands / f"{IDS[2]}.json").write_text('{"actors": 3}', encoding="utf-8")
    result = _score(data, cands, tmp_path / "r.json")
    assert result.exit_code == 0, result.output  # a model's failures: scored 0, not an exit
    assert "summarizer: warning: 3 of 4 candidates invalid (scored 0)" in result.stderr
    lines = result.stdout.splitlines()
    assert "errors (scored 0): 3 of 4" in lines
    for case_id, reason in (
        (IDS[0], "invalid candidate: Invalid JSON: recursion limit exceeded at line 1 column"),
        (IDS[1], "invalid candidate: Invalid JSON: key must be a string at line 1 column 2"),
        (IDS[2], "invalid candidate: key_summary: Field required"),
    ):
        assert any(line.startswith(f"  {case_id}: {reason}") for line in lines), (case_id, lines)


# --- H4: size caps ---------------------------------------------------------------------


def test_a_candidate_over_2_mb_is_invalid_and_not_embedded(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:1])
    cands = _candidates(tmp_path / "cands", data, IDS[:1])
    summary = _json(cands / f"{IDS[0]}.json")
    summary["meta"] = {"pad": "Z" * (2 * 1024 * 1024)}  # valid JSON, a valid summary
    (cands / f"{IDS[0]}.json").write_text(json.dumps(summary), encoding="utf-8")
    page = tmp_path / "r.html"
    result = _score(data, cands, tmp_path / "r.json", "--html", str(page))
    assert result.exit_code == 0, result.output
    error = _json(tmp_path / "r.json")["articles"][IDS[0]]["error"]
    assert error.startswith(f"invalid candidate: {cands / IDS[0]}.json: 2 MB, over the 2 MB cap")
    assert "ZZZZZZZZ" not in page.read_text("utf-8")
    assert page.stat().st_size < 500_000


def test_read_capped_reads_at_most_the_cap(tmp_path: Path) -> None:
    from summarizer.errors import InputTooLargeError
    from summarizer.evals.goldens import read_capped

    path = tmp_path / "x.json"
    path.write_text("0123456789", encoding="utf-8")
    assert read_capped(path, 10) == "0123456789"
    with pytest.raises(InputTooLargeError, match="10 bytes, over the 9 bytes cap"):
        read_capped(path, 9)


def test_a_report_over_64_mb_is_refused_from_its_size(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(65 * 1024 * 1024)  # sparse: refused from its size, never read
    compared = _eval("compare", str(RULES_REPORT), str(huge))
    assert compared.exit_code == 24, compared.output
    assert compared.stderr == f"summarizer: error: {huge}: 65 MB, over the 64 MB cap\n"
    data = copy_dataset(tmp_path / "data", IDS[:1])
    gated = _score(data, data / "golden", tmp_path / "r.json", "--baseline", str(huge))
    assert gated.exit_code == 51, gated.output
    assert gated.stderr == f"summarizer: error: baseline {huge}: 65 MB, over the 64 MB cap\n"


# --- the CLI's rough edges -------------------------------------------------------------


def test_eval_run_takes_m_and_o_like_the_other_commands(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:1])
    result = _eval("run", "-d", str(data), "-m", "rules", "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert _json(tmp_path / "out" / "report.json")["run"]["model"] == "rules"
    helped = runner.invoke(app, ["eval", "run", "--help"], terminal_width=200)
    assert "<provider/name>" in helped.stdout


def test_baseline_takes_a_run_folder(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:2])
    run = tmp_path / "runs" / "rules"
    assert _eval("run", "-d", str(data), "--model", "rules", "--out", str(run)).exit_code == 0
    result = _eval("run", "-d", str(data), "--model", "rules", "--out", str(tmp_path / "again"),
                   "--baseline", str(run))  # fmt: skip
    assert result.exit_code == 0, result.output
    block = _json(tmp_path / "again" / "report.json")["baseline"]
    assert block["path"] == str(run / "report.json")
    assert block["articles"] == 2


def test_compare_json_with_o_writes_the_json_there(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    result = _eval("compare", str(RULES_REPORT), str(RULES_REPORT), "--json", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert _json(target)["compared_articles"] == 33
    assert result.stdout == ""
    assert f"json: {target}" in result.stderr


def test_quiet_silences_the_deprecation_notice(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:1])
    loud = runner.invoke(app, ["eval", "check", str(data)])
    quiet = runner.invoke(app, ["-q", "eval", "check", str(data)])
    assert loud.exit_code == quiet.exit_code == 0, quiet.output
    assert "deprecated" in loud.stderr
    assert quiet.stderr == ""


def test_no_model_methods_record_and_show_no_prompt(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:1])
    out = tmp_path / "out"
    result = _eval("run", "-d", str(data), "--model", "baseline/lead", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "running 1 articles with baseline/lead (no model)" in result.stderr
    assert "summarize@v1" not in result.stderr
    assert _json(out / "report.json")["run"]["prompt"] is None
    assert "summarize@v1" not in (out / "report.html").read_text("utf-8")
    # A report written before this fix records the default prompt: compare hides it.
    old = _json(RULES_REPORT)
    old["run"]["prompt"] = "summarize@v1 (87a48f9993fa)"
    old_report = tmp_path / "old" / "report.json"
    old_report.parent.mkdir()
    old_report.write_text(json.dumps(old), encoding="utf-8")
    page = tmp_path / "c.html"
    compared = _eval("compare", str(old_report), str(out), "--json")
    assert [r["prompt"] for r in json.loads(compared.stdout)["runs"]] == [None, None]
    assert _eval("compare", str(old_report), str(out), "-o", str(page)).exit_code == 0
    assert "summarize@v1" not in page.read_text("utf-8")


def test_a_model_keeps_its_prompt(tmp_path: Path) -> None:
    """The other side: a model run still names its prompt (here one that fails to
    connect: the run records its failures, 'articles failed', and exits 0)."""
    data = copy_dataset(tmp_path / "data", IDS[:1])
    out = tmp_path / "out"
    result = _eval("run", "-d", str(data), "-m", "m", "--base-url", "http://127.0.0.1:9/v1",
                   "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "running 1 articles with m, summarize@v1" in result.stderr
    assert "summarizer: warning: 1 of 1 articles failed (scored 0)" in result.stderr
    assert _json(out / "report.json")["run"]["prompt"].startswith("summarize@v1 (")


def test_stale_candidates_in_out_are_noted_left_alone_and_not_counted(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:3])
    out = tmp_path / "out"
    assert _eval("run", "-d", str(data), "--model", "rules", "--out", str(out)).exit_code == 0
    again = _eval("run", "-d", str(data), "--limit", "1", "--model", "rules", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert (
        f"summarizer: {out / 'candidates'} holds 2 candidate file(s) of articles this run "
        "does not select (from an earlier run): left in place, not in this report"
    ) in again.stderr
    assert sorted(p.stem for p in (out / "candidates").glob("*.json")) == IDS[:3]
    assert list(_json(out / "report.json")["articles"]) == IDS[:1]
    quiet = runner.invoke(app, ["-q", "eval", "run", "-d", str(data), "--limit", "1",
                                "--model", "rules", "--out", str(out)])  # fmt: skip
    assert quiet.exit_code == 0
    assert "holds 2 candidate file(s)" not in quiet.stderr


def test_the_html_report_shows_the_change_on_the_articles_both_runs_scored(
    tmp_path: Path,
) -> None:
    """The page's 'change vs baseline' used the run's own mean against the baseline's
    mean over shared articles: one article against a 33-article run showed a drop."""
    committed = ROOT / "benchmarks" / "results" / "eval-rules"
    one = "030-hong-kong-legco-election"
    page = tmp_path / "r.html"
    result = runner.invoke(app, [
        "eval", "score", "-d", str(DATASET), "--candidates", str(committed / "candidates"),
        "--only", one, "--report", str(tmp_path / "r.json"), "--html", str(page),
        "--baseline", str(committed / "report.json"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert "on the 1 article(s) both runs scored" in html
    change = html[html.index("change vs baseline") :].split("</tr>")[0]
    assert "-0." not in change  # the same code on the same article: no drop
