"""``summarizer eval compare``: runs side by side, on the two committed reports of the
33-article set (the rules and the embedded model) and on reports bent to show what
must be warned about (other datasets, changed goldens, articles some runs lack)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.evals.compare import compare_runs, labels, load_runs
from tests.conftest import ROOT
from tests.test_eval_report_html import PWN, Page, browse, colour_stats, needs_chromium

runner = CliRunner()
RESULTS = ROOT / "benchmarks" / "results"
RULES = RESULTS / "eval-rules" / "report.json"
LOCAL = RESULTS / "eval-local" / "report-rescored.json"  # `eval score`: names no model


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def _write(path: Path, report: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report), "utf-8")
    return path


def test_means_best_deltas_and_regressions_of_two_real_runs() -> None:
    rules, local = _read(RULES), _read(LOCAL)
    c = compare_runs(load_runs([RULES, LOCAL]))
    assert [r["label"] for r in c["runs"]] == ["rules", "eval-local"]  # model, else folder
    overall = c["means"]["overall"]
    assert overall["runs"] == [rules["aggregate"]["score"], local["aggregate"]["score"]]
    assert overall["floor"] == rules["floor"]["aggregate"]["score"]
    assert overall["best"] == [0]
    assert overall["delta"] == [
        0.0,
        round(local["aggregate"]["score"] - rules["aggregate"]["score"], 4),
    ]
    actors = c["means"]["actors"]
    assert actors["runs"][1] == local["aggregate"]["sections"]["actors"]
    assert c["means"]["grounding"]["best"] == []  # a tie is nobody's win
    assert len(c["articles"]) == 33
    assert c["common"] is None
    assert c["warnings"] == []
    first = c["articles"][0]
    want = round(
        local["articles"][first["id"]]["score"] - rules["articles"][first["id"]]["score"], 4
    )
    assert first["scores"]["overall"]["delta"][1] == want
    regressed = [a["id"] for a in c["articles"]
                 if (a["scores"]["overall"]["delta"][1] or 0) < -c["max_drop"]]  # fmt: skip
    assert c["regressions"]["eval-local"] == regressed
    assert regressed


def test_an_article_a_run_lacks_is_missing_not_zero(tmp_path: Path) -> None:
    partial = _read(LOCAL)
    gone = sorted(partial["articles"])[:2]
    for case_id in gone:
        del partial["articles"][case_id]
    partial["missing"] = gone
    c = compare_runs(load_runs([RULES, _write(tmp_path / "partial" / "report.json", partial)]))
    lacking = [a for a in c["articles"] if a["id"] in gone]
    assert [a["scores"]["overall"]["runs"][1] for a in lacking] == [None, None]
    assert [a["scores"]["overall"]["delta"][1] for a in lacking] == [None, None]
    assert all(a["missing_in"] == ["eval-local"] for a in lacking)
    assert not any(a["id"] in gone for a in lacking if a["regressed"])
    assert c["common"]["articles"] == 31
    assert c["runs"][1]["missing"] == gone
    rules = _read(RULES)
    common = [s["score"] for i, s in rules["articles"].items() if i not in gone]
    assert c["common"]["means"]["overall"]["runs"][0] == round(sum(common) / 31, 4)
    assert any("2 of 33 articles are not in every run" in w for w in c["warnings"])


def test_other_datasets_and_changed_goldens_are_warned_about(tmp_path: Path) -> None:
    other = _read(RULES)
    other["run"] |= {"dataset": "evals/mine", "model": "m2", "golden_sha256": "abc"}
    other["floor"]["aggregate"]["score"] = 0.6  # same articles, another floor
    base = _read(RULES)
    base["run"]["golden_sha256"] = "def"
    c = compare_runs(
        load_runs([_write(tmp_path / "a.json", base), _write(tmp_path / "b.json", other)])
    )
    text = "\n".join(c["warnings"])
    assert "differ in dataset" in text
    assert "evals/mine" in text
    assert "differ in golden_sha256" in text
    assert "the lead floor differs between runs on the same articles" in text


def test_labels_say_model_and_prompt_and_stay_distinct(tmp_path: Path) -> None:
    def report(model: str | None, prompt: str | None) -> dict[str, Any]:
        return {"run": {"model": model, "prompt": prompt}}

    paths = [tmp_path / "v1" / "report.json", tmp_path / "v2" / "report.json"]
    assert labels(paths, [report("m", "p@v1 (abc123)"), report("m", "p@v2 (def456)")]) == [
        "m · p@v1", "m · p@v2"]  # fmt: skip
    assert labels(paths, [report("m", "p@v1"), report("m", "p@v1")]) == ["m (v1)", "m (v2)"]
    twice = [tmp_path / "a" / "x" / "report.json", tmp_path / "b" / "x" / "report.json"]
    assert labels(twice, [report("m", None), report("m", None)]) == ["m (x) #1", "m (x) #2"]
    assert labels([tmp_path / "run.json"] * 2, [{}, {"run": "junk"}]) == ["run #1", "run #2"]


def test_cli_prints_tables_json_and_writes_one_html_page(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "compare", str(RULES), str(LOCAL)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "means" in result.stdout
    assert "rules" in result.stdout
    assert "eval-local" in result.stdout
    assert "000-seed-trump-putin-call" in result.stdout
    assert "regressed: eval-local" in result.stdout

    as_json = runner.invoke(app, ["eval", "compare", str(RULES), str(LOCAL), "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert {"runs", "means", "articles", "floor", "warnings", "regressions"} <= set(data)

    page = tmp_path / "out" / "compare.html"
    made = runner.invoke(app, ["eval", "compare", str(RULES.parent), str(LOCAL), "-o", str(page)])
    assert made.exit_code == 0, made.output
    html = page.read_text("utf-8")
    parsed = Page(html)
    assert [t for t, _ in parsed.elements].count("script") == 1
    assert len(parsed.find("tr", **{"data-id": "000-seed-trump-putin-call"})) == 1
    assert not parsed.find("link")
    assert not [a for _, a in parsed.elements if "src" in a]  # nothing to fetch
    # The rules run's own page sits beside its report: each score links into it.
    assert "../" in html
    assert "report.html#a-000-seed-trump-putin-call" in html
    # report-rescored.json is not the report the page beside it shows: no link there.
    assert "eval-rules/report.html#" in html
    assert "eval-local/report.html" not in html
    assert not list(page.parent.glob(".*.tmp"))


def test_hostile_labels_and_ids_are_text(tmp_path: Path) -> None:
    evil = _read(RULES)
    evil["run"]["model"] = f"<script>{PWN}</script>"
    evil["articles"][f"<img src=x onerror={PWN}>"] = evil["articles"].pop(
        "000-seed-trump-putin-call"
    )
    page = tmp_path / "c.html"
    other = _write(tmp_path / "e.json", evil)
    made = runner.invoke(app, ["eval", "compare", str(RULES), str(other), "-o", str(page)])
    assert made.exit_code == 0, made.output
    parsed = Page(page.read_text("utf-8"))
    assert [t for t, _ in parsed.elements].count("script") == 1
    assert not parsed.find("img")
    assert "&lt;script&gt;" in page.read_text("utf-8")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["{rules}"], 20, "needs two or more reports"),
        (["{rules}", "{tmp}/nope.json"], 11, "nope.json"),
        (["{rules}", "{tmp}/bad.json"], 15, "not valid JSON"),
        (["{rules}", "{tmp}/list.json"], 15, "not an eval report"),
        (["{rules}", "{tmp}/noscore.json"], 15, "aggregate.score"),
        (["{rules}", "{tmp}/oddarticle.json"], 15, "is not a scored result"),
        (["{rules}", "{tmp}"], 11, "report.json"),  # a folder with no report.json
        (["{rules}", "{rules}", "-o", "{tmp}"], 20, "is a folder"),
        (["{rules}", "{rules}", "--max-drop", "nan"], 20, "--max-drop"),
    ],
    ids=["one", "no-file", "not-json", "not-a-report", "no-score", "odd-article", "folder",
         "out-folder", "nan"],
)  # fmt: skip
def test_cli_refuses_what_it_cannot_compare(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    (tmp_path / "bad.json").write_text("{not json", "utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", "utf-8")
    (tmp_path / "noscore.json").write_text('{"articles": {}, "aggregate": {"score": "high"}}')
    odd = copy.deepcopy(_read(RULES))
    odd["articles"]["x"] = 0.5
    _write(tmp_path / "oddarticle.json", odd)
    argv = [a.format(rules=RULES, tmp=tmp_path) for a in args]
    result = runner.invoke(app, ["eval", "compare", *argv])
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("summarizer: error:")
    assert says in result.stderr
    assert "Traceback" not in result.output


def test_compare_imports_no_model_sdk() -> None:
    script = (
        "import sys\nfrom summarizer.cli import app\n"
        f"try:\n    app(['eval', 'compare', {str(RULES)!r}, {str(LOCAL)!r}, '--json'])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('openai', 'instructor', "
        "'llama_cpp', 'httpx') or m.startswith(('summarizer.pipeline', 'summarizer.batch'))]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "HEAVY []"


@needs_chromium
def test_in_chromium_the_compare_page_filters_and_switches_sections(tmp_path: Path) -> None:
    worse = _read(RULES)
    worse["run"]["prompt"] = "summarize@v2"
    dropped = sorted(worse["articles"])[3:6]
    for case_id in dropped:
        worse["articles"][case_id]["score"] -= 0.2
    page = tmp_path / "compare.html"
    other = _write(tmp_path / "v2.json", worse)
    made = runner.invoke(app, ["eval", "compare", str(RULES), str(other), "-o", str(page)])
    assert made.exit_code == 0, made.output
    shot = tmp_path / "shot.png"
    browse(page, tmp_path, f"--screenshot={shot}")
    colours, ink, _ = colour_stats(shot, max_rows=600)
    assert colours > 50, colours
    assert ink > 0.05, ink

    dom = Page(browse(page, tmp_path, "--dump-dom", fragment="#filter=regressed&sec=actors"))
    assert dom.find("body", **{"data-sec": "actors", "data-filter": "regressed"})
    rows = [a for t, a in dom.elements if t == "tr" and "data-id" in a]
    assert len(rows) == 33
    assert sorted(a["data-id"] for a in rows if "hidden" not in a) == dropped
