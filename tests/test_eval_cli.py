"""The eval commands' shared spelling: --dataset/-d, --only and --limit on every command,
the old spellings still accepted with a notice, missing candidates reported (exit 53)
rather than scored 0, and the --baseline comparison kept in report.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from summarizer.cli import app
from tests.conftest import DATASET, copy_dataset

runner = CliRunner()
IDS = sorted(p.stem for p in (DATASET / "golden").glob("*.json"))[:4]
COMMANDS = ["check", "baseline", "score", "run"]
MISSING = 53


def _invoke(*args: str) -> Result:
    return runner.invoke(app, ["eval", *args])


def _warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def _candidates(root: Path, data: Path, ids: list[str]) -> Path:
    """The goldens of ``ids`` as candidates (each scores 1.0)."""
    root.mkdir(parents=True)
    for i in ids:
        shutil.copy(data / "golden" / f"{i}.json", root)
    return root


# --- one spelling everywhere ----------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_the_same_selection_options(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    for option in ("--dataset", "-d", "--only", "--limit", "ID[,ID]"):
        assert option in result.stdout, (command, option)
    assert "--golden" not in result.stdout  # the old spellings are hidden
    assert "DATASET" not in usage, usage


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_needs_a_dataset(command: str) -> None:
    extra = {"baseline": ["lead", "-o", "x"], "score": ["--candidates", "."]}.get(command, [])
    result = _invoke(command, *extra)
    assert result.exit_code == 2, result.output
    assert "'--dataset' / '-d'" in result.stderr
    assert "Traceback" not in result.output


def test_the_old_spellings_still_work_with_a_one_line_notice(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:2])
    new = _invoke("check", "-d", str(data))
    old = _invoke("check", str(data))
    assert new.exit_code == old.exit_code == 0, old.output
    assert old.stdout == new.stdout
    assert _warnings(new) == []
    assert _warnings(old) == [
        "summarizer: warning: the DATASET argument is deprecated; use --dataset (-d) DATASET"
    ]
    cands = str(data / "golden")
    report_new, report_old = tmp_path / "new.json", tmp_path / "old.json"
    new = _invoke(
        "score", "--dataset", str(data), "--candidates", cands, "--report", str(report_new)
    )
    old = _invoke(
        "score", "--golden", str(data), "--candidates", cands, "--report", str(report_old)
    )
    assert new.exit_code == old.exit_code == 0, old.output
    assert _warnings(old) == [
        "summarizer: warning: --golden is deprecated; use --dataset (-d) DATASET"
    ]
    docs = [json.loads(p.read_text("utf-8")) for p in (report_new, report_old)]
    assert docs[0]["articles"] == docs[1]["articles"]
    # The same folder both ways is fine; two different ones is a usage error.
    assert _invoke("check", str(data), "-d", str(data)).exit_code == 0
    both = _invoke("check", str(data), "-d", str(tmp_path))
    assert both.exit_code == 2
    assert "two datasets" in both.stderr


# --- --only and --limit mean the same in every command ---------------------------------


def _checked(result: Result) -> list[str]:
    return [line.split(":")[0] for line in result.stdout.splitlines() if line.endswith(": ok")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--limit", "2"], IDS[:2]),
        (["--only", f"{IDS[3]},{IDS[1]}"], [IDS[1], IDS[3]]),
        (["--only", IDS[3], "--only", f"{IDS[0]},,{IDS[2]}"], [IDS[0], IDS[2], IDS[3]]),
        (["--only", f"{IDS[3]},{IDS[2]},{IDS[0]}", "--limit", "2"], [IDS[0], IDS[2]]),
    ],
    ids=["limit", "only-commas", "only-repeated", "only-then-limit"],
)
def test_only_and_limit_select_the_same_articles_everywhere(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    data = copy_dataset(tmp_path / "data", IDS)
    check = _invoke("check", "-d", str(data), *args)
    assert check.exit_code == 0, check.output
    assert _checked(check) == expected
    out = tmp_path / "lead"
    baseline = _invoke("baseline", "lead", "-d", str(data), "-o", str(out), *args)
    assert baseline.exit_code == 0, baseline.output
    assert sorted(p.stem for p in out.glob("*.json")) == expected
    # The hint repeats the selection, so the score expects what was written.
    hint = baseline.stdout.splitlines()[-1]
    assert hint.startswith(f"score them: summarizer eval score --dataset {data}")
    report = tmp_path / "r.json"
    scored = _invoke("score", "-d", str(data), "--candidates", str(out), "--report", str(report),
                     *args)  # fmt: skip
    assert scored.exit_code == 0, scored.output
    doc = json.loads(report.read_text("utf-8"))
    assert sorted(doc["articles"]) == expected
    assert doc["missing"] == []
    run_out = tmp_path / "run"
    run = _invoke("run", "-d", str(data), "--model", "rules", "--out", str(run_out), *args)
    assert run.exit_code == 0, run.output
    run_doc = json.loads((run_out / "report.json").read_text("utf-8"))
    assert sorted(run_doc["articles"]) == expected
    assert run_doc["run"]["selection"]["limit"] == doc["run"]["selection"]["limit"]


@pytest.mark.parametrize("command", ["check", "score", "baseline"])
@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--only", ""], 52, "--only names no id"),
        (["--only", ",, ,"], 52, "--only names no id"),
        (["--only", "nope,also-nope"], 52, "--only 'nope', 'also-nope': no such article"),
        (["--limit", "0"], 2, "--limit"),
        (["--limit", "-3"], 2, "--limit"),
        (["--limit", "many"], 2, "--limit"),
    ],
    ids=["only-empty", "only-commas", "only-unknown", "limit-0", "limit-negative", "limit-word"],
)
def test_a_selection_of_nothing_fails_in_every_command(
    tmp_path: Path, command: str, args: list[str], code: int, fragment: str
) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:2])
    extra = {
        "baseline": ["lead", "-o", str(tmp_path / "out")],
        "score": ["--candidates", str(data / "golden"), "--report", str(tmp_path / "r.json")],
    }.get(command, [])
    result = _invoke(command, "-d", str(data), *extra, *args)
    assert result.exit_code == code, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "r.json").exists()


# --- missing candidates -----------------------------------------------------------------


def test_missing_candidates_are_listed_not_scored_and_fail(tmp_path: Path) -> None:
    """2 candidates for 4 articles: the 2 are scored (mean 1.0, not 0.5), the other 2 are
    listed as missing in the table and the report, and the command exits 53."""
    data = copy_dataset(tmp_path / "data", IDS)
    cands = _candidates(tmp_path / "cands", data, IDS[:2])
    report = tmp_path / "r.json"
    result = _invoke("score", "-d", str(data), "--candidates", str(cands), "--report", str(report))
    assert result.exit_code == MISSING, result.output
    errors = _warnings(result)
    assert len(errors) == 1
    assert errors[0].startswith("summarizer: error: 2 of 4 selected articles")
    assert "--allow-missing" in errors[0]
    missing_line = next(line for line in result.stdout.splitlines() if line.startswith("missing:"))
    assert missing_line.endswith(f"{IDS[2]}, {IDS[3]}")
    doc = json.loads(report.read_text("utf-8"))  # written before the failure
    assert doc["missing"] == IDS[2:]
    assert sorted(doc["articles"]) == IDS[:2]
    assert doc["aggregate"]["score"] == 1.0
    assert (doc["aggregate"]["articles"], doc["aggregate"]["missing"]) == (2, 2)
    assert doc["floor"]["aggregate"]["articles"] == 2  # the floor on the same articles

    allowed = tmp_path / "allowed.json"
    page = tmp_path / "r.html"
    result = _invoke("score", "-d", str(data), "--candidates", str(cands), "--report",
                     str(allowed), "--html", str(page), "--allow-missing")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _warnings(result) == []
    assert "--allow-missing: the means are over the other 2" in result.stdout
    doc = json.loads(allowed.read_text("utf-8"))
    assert doc["missing"] == IDS[2:]
    assert doc["aggregate"]["missing"] == 2
    assert doc["aggregate"]["score"] == 1.0

    # Only the selected articles are expected.
    for args in (["--only", ",".join(IDS[:2])], ["--limit", "2"]):
        result = _invoke("score", "-d", str(data), "--candidates", str(cands), *args)
        assert result.exit_code == 0, result.output
        assert "missing:" not in result.stdout


def test_no_candidate_at_all_fails_before_writing_anything(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:2])
    cands = tmp_path / "cands"
    cands.mkdir()
    report = tmp_path / "r.json"
    for extra in ([], ["--allow-missing"]):
        result = _invoke("score", "-d", str(data), "--candidates", str(cands), "--report",
                         str(report), *extra)  # fmt: skip
        assert result.exit_code == MISSING, result.output
        assert "no candidate for any of the 2 selected articles" in result.stderr
        assert not report.exists()


@pytest.mark.parametrize("broken", ["not-json", "a-folder", "not-a-summary"])
def test_a_broken_candidate_is_scored_0_not_missing(tmp_path: Path, broken: str) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:2])
    cands = _candidates(tmp_path / "cands", data, IDS[:1])
    path = cands / f"{IDS[1]}.json"
    if broken == "a-folder":
        path.mkdir()
    else:
        path.write_text("{nope" if broken == "not-json" else '{"actors": 3}', encoding="utf-8")
    report = tmp_path / "r.json"
    result = _invoke("score", "-d", str(data), "--candidates", str(cands), "--report", str(report))
    assert result.exit_code == 0, result.output
    doc = json.loads(report.read_text("utf-8"))
    assert doc["missing"] == []
    assert doc["articles"][IDS[1]]["score"] == 0.0
    assert "error" in doc["articles"][IDS[1]]


def test_a_regression_and_missing_candidates_exit_50_and_say_both(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:3])
    good = tmp_path / "good.json"
    assert _invoke("score", "-d", str(data), "--candidates", str(data / "golden"),
                   "--report", str(good)).exit_code == 0  # fmt: skip
    cands = _candidates(tmp_path / "cands", data, IDS[:2])
    (cands / f"{IDS[0]}.json").write_text("{}", encoding="utf-8")
    result = _invoke("score", "-d", str(data), "--candidates", str(cands), "--baseline", str(good))
    assert result.exit_code == 50, result.output
    invalid, line = _warnings(result)  # the invalid candidate is counted, then the gate
    assert invalid == "summarizer: warning: 1 of 2 candidates invalid (scored 0)"
    assert "eval gate: dropped more than 0.05" in line
    assert "(also: 1 selected article(s) have no candidate)" in line


def test_exit_code_53_is_listed() -> None:
    listed = runner.invoke(app, ["exit-codes"]).stdout.splitlines()
    line = next(x for x in listed if x.split()[0] == "53")
    assert line.split()[1] == "MissingCandidatesError"
    assert "--allow-missing" in line


# --- the baseline comparison in report.json --------------------------------------------


def _report(tmp_path: Path, data: Path, cands: Path, name: str, *args: str) -> tuple[Result, Any]:
    path = tmp_path / name
    result = _invoke("score", "-d", str(data), "--candidates", str(cands), "--report", str(path),
                     *args)  # fmt: skip
    return result, json.loads(path.read_text("utf-8"))


def test_the_baseline_comparison_is_kept_in_the_report(tmp_path: Path) -> None:
    data = copy_dataset(tmp_path / "data", IDS[:3])
    _, good = _report(tmp_path, data, data / "golden", "good.json")
    assert "baseline" not in good
    cands = _candidates(tmp_path / "cands", data, IDS[:3])
    worse = json.loads((cands / f"{IDS[1]}.json").read_text("utf-8"))
    worse["actors"], worse["commitments"] = worse["actors"][:1], []
    (cands / f"{IDS[1]}.json").write_text(json.dumps(worse), encoding="utf-8")

    # A drop of one article, under --max-drop 0.5 in the means: the gate passes.
    result, doc = _report(tmp_path, data, cands, "r.json", "--baseline",
                          str(tmp_path / "good.json"), "--max-drop", "0.5")  # fmt: skip
    assert result.exit_code == 0, result.output
    block = doc["baseline"]
    assert set(block) == {"path", "max_drop", "articles", "aggregate", "current", "delta",
                          "drops", "passed", "own", "article_delta", "regressions"}  # fmt: skip
    assert block["path"] == str(tmp_path / "good.json")
    assert block["max_drop"] == 0.5
    assert block["aggregate"]["score"] == 1.0
    assert block["aggregate"]["articles"] == 3
    assert block["aggregate"]["sections"] == good["aggregate"]["sections"]
    assert block["delta"]["score"] == round(doc["aggregate"]["score"] - 1.0, 4) < 0
    assert block["delta"]["sections"]["grounding"] == 0.0
    assert block["delta"]["sections"]["actors"] < 0
    assert block["passed"] is True
    assert block["drops"] == []
    assert block["article_delta"][IDS[0]] == block["article_delta"][IDS[2]] == 0.0
    assert block["article_delta"][IDS[1]] < -0.05
    assert block["regressions"] == []  # none dropped more than 0.5
    assert f"gate: no drop over 0.5 against {tmp_path / 'good.json'}" in result.stdout

    # The same with the default --max-drop: the gate fails, and says where.
    result, doc = _report(
        tmp_path, data, cands, "r2.json", "--baseline", str(tmp_path / "good.json")
    )
    assert result.exit_code == 50, result.output
    block = doc["baseline"]
    assert block["passed"] is False
    assert block["regressions"] == [IDS[1]]
    assert any(d.startswith("actors 1.000 -> ") for d in block["drops"])
    assert f"1 article(s) dropped more than 0.05: {IDS[1]}" in result.stdout


def test_a_baseline_without_per_article_scores_is_refused(tmp_path: Path) -> None:
    """A hand-made or old baseline with only the aggregate: its means cannot be
    compared on the same articles (tests/test_review_evals.py), so exit 51."""
    data = copy_dataset(tmp_path / "data", IDS[:2])
    sections = {s: 0.5 for s in ("key_summary", "actors", "commitments", "open_questions",
                                 "grounding")}  # fmt: skip
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"aggregate": {"score": 0.5, "sections": sections,
                                              "articles": "many"},
                                "articles": {IDS[0]: {"score": "high"}, IDS[1]: 7}}))  # fmt: skip
    report = tmp_path / "r.json"
    result = _invoke("score", "-d", str(data), "--candidates", str(data / "golden"),
                     "--report", str(report), "--baseline", str(path))  # fmt: skip
    assert result.exit_code == 51, result.output
    assert "has no per-article scores" in result.stderr
    assert not report.exists()  # refused before any scoring


def test_eval_app_is_importable_and_lists_the_commands_in_order() -> None:
    from summarizer.cli.evals import eval_app

    names = [c.name for c in eval_app.registered_commands]
    assert names[: len(COMMANDS)] == COMMANDS  # others (compare) may follow
