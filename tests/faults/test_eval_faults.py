"""The eval commands under faults: broken goldens, baselines and paths, hostile names.

``eval check|score|run`` gate CI, so each fault must end in a distinct exit code and
one line on stderr (never a traceback, never a pass), and must not cost the reports
already written or the gate's verdict. Datasets are copies of evals/wikinews made in
``tmp_path``; the goldens under evals/ are never touched.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from summarizer.cli import app
from tests.conftest import ROOT
from tests.fakeserver import FakeOpenAI, summary_reply

DATASET = ROOT / "evals" / "wikinews"
IDS = sorted(p.stem for p in (DATASET / "golden").glob("*.json"))[:3]
runner = CliRunner()

# Exit codes (summarizer exit-codes): 15 dataset, 20 bad option value, 50 regression,
# 51 unusable baseline, 52 nothing selected.
DATASET_ERROR, BAD_OPTION, REGRESSION, BAD_BASELINE, NOTHING = 15, 20, 50, 51, 52


def _dataset(root: Path, ids: list[str] = IDS) -> Path:
    for sub in ("articles", "golden"):
        (root / sub).mkdir(parents=True)
    for i in ids:
        shutil.copy(DATASET / "articles" / f"{i}.txt", root / "articles")
        shutil.copy(DATASET / "golden" / f"{i}.json", root / "golden")
    return root


def _golden(case_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATASET / "golden" / f"{case_id}.json").read_text("utf-8"))
    return data


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def _one_line_error(result: Result, code: int, *fragments: str) -> str:
    """Exit ``code``, and stderr is one ``summarizer: error:`` line with ``fragments``
    (warnings beside it, such as the count of invalid candidates, are allowed)."""
    _no_traceback(result)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith("summarizer: warning: ")
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("summarizer: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _score(data: Path, *args: str, candidates: Path | None = None) -> Result:
    cands = candidates or data / "golden"  # the goldens as candidates: every score 1.0
    return runner.invoke(
        app, ["eval", "score", "--dataset", str(data), "--candidates", str(cands), *args]
    )


def _report(tmp_path: Path, name: str = "good.json") -> Path:
    """A real report, all 1.0, from a clean dataset: a baseline, or a report to keep."""
    path = tmp_path / name
    result = _score(_dataset(tmp_path / f"{name}-data"), "--report", str(path))
    assert result.exit_code == 0, result.stderr
    return path


# --- the baseline ---------------------------------------------------------------------

ALL_SECTIONS = {"key_summary": 0.9, "actors": 0.9, "commitments": 0.9, "open_questions": 0.9}


@pytest.mark.parametrize(
    ("baseline", "fragment"),
    [
        ('{"articles": {}, "run": {}, "aggregate": {}}', "no overall score"),
        ('{"aggregate": {"score": 0.9}}', "no per-section scores"),
        ('{"aggregate": {"score": 0.9, "sections": {"actors": 0.9}}}', "key_summary"),
        (json.dumps({"aggregate": {"score": 0.9, "sections": ALL_SECTIONS}}), "grounding"),
        ('{"aggregate": {"score": NaN, "sections": {}}}', "is nan"),
        ('{"aggregate": {"score": "0.9", "sections": {}}}', "'0.9'"),
        ('{"aggregate": []}', "no 'aggregate' object"),
        ("[]", "no 'aggregate' object"),
        ("{not json", "not a JSON report"),
        (None, "is a directory"),
    ],
    ids=["empty-aggregate", "no-sections", "some-sections", "no-grounding", "nan", "string",
         "aggregate-list", "list", "not-json", "directory"],
)  # fmt: skip
def test_score_refuses_a_baseline_it_cannot_gate_against(
    tmp_path: Path, baseline: str | None, fragment: str
) -> None:
    data = _dataset(tmp_path / "data")
    kept = _report(tmp_path, "kept.json")
    before = kept.read_bytes()
    path = tmp_path / "baseline.json"
    if baseline is None:
        path.mkdir()
    else:
        path.write_text(baseline, encoding="utf-8")
    result = _score(data, "--report", str(kept), "--baseline", str(path), "--max-drop", "0.01")
    _one_line_error(result, BAD_BASELINE, f"baseline {path}", fragment)
    assert kept.read_bytes() == before  # refused before any work: nothing overwritten


def test_run_refuses_a_bad_baseline_before_any_model_call(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = _dataset(tmp_path / "data", IDS[:1])
    fake_openai.default = summary_reply(_golden(IDS[0]))
    baseline = tmp_path / "baseline.json"
    baseline.write_text('{"aggregate": {}}', encoding="utf-8")
    result = runner.invoke(
        app,
        ["eval", "run", "--dataset", str(data), "--model", "m", "--base-url", fake_openai.url,
         "--out", str(tmp_path / "out"), "--baseline", str(baseline)],
    )  # fmt: skip
    _one_line_error(result, BAD_BASELINE, "no overall score")
    assert fake_openai.requests == []
    assert not (tmp_path / "out").exists()


def test_run_gates_against_the_previous_report_in_its_own_out_folder(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """`--out out --baseline out/report.json`: the baseline is the previous run's report,
    read before this run overwrites it (it used to be compared with itself, and pass)."""
    data = _dataset(tmp_path / "data", IDS[:1])
    golden = _golden(IDS[0])
    out = tmp_path / "out"
    args = ["eval", "run", "--dataset", str(data), "--model", "m", "--base-url",
            fake_openai.url, "--out", str(out), "--no-cache"]  # fmt: skip
    fake_openai.default = summary_reply(golden)
    assert runner.invoke(app, args).exit_code == 0
    good = json.loads((out / "report.json").read_text("utf-8"))
    worse = {**golden, "actors": [], "commitments": [], "open_questions": []}
    fake_openai.default = summary_reply(worse)
    result = runner.invoke(app, [*args, "--baseline", str(out / "report.json")])
    line = _last_error_line(result, REGRESSION)
    assert "eval gate: dropped more than 0.05" in line
    now = json.loads((out / "report.json").read_text("utf-8"))  # the new report is written
    assert now["aggregate"]["score"] < good["aggregate"]["score"] - 0.05
    assert (out / "report.html").is_file()
    assert (out / "candidates" / f"{IDS[0]}.json").is_file()


def _last_error_line(result: Result, code: int) -> str:
    """For `eval run`, whose progress lines go to stderr before the error line."""
    _no_traceback(result)
    assert result.exit_code == code, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("summarizer:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("summarizer: error: ")
    assert result.stderr.rstrip("\n").endswith(errors[0])
    return errors[0]


@pytest.mark.parametrize("value", ["nan", "-0.1"])
def test_a_max_drop_that_passes_every_drop_is_refused(tmp_path: Path, value: str) -> None:
    data = _dataset(tmp_path / "data")
    baseline = _report(tmp_path)
    cands = tmp_path / "cands"
    cands.mkdir()  # no candidates at all: every score 0, a drop no max-drop allows
    result = _score(data, "--baseline", str(baseline), f"--max-drop={value}", candidates=cands)
    _one_line_error(result, BAD_OPTION, "--max-drop", "from 0 to 1")


# --- eval check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid JSON: Expecting property name"),
        (b"[" * 100_000, "not usable JSON"),
        (b'{"n": ' + b"1" * 5000 + b"}", "not usable JSON"),
        (b"\x00\xff binary", "binary"),
        (b"\xe9t\xe9 latin-1", "not UTF-8"),
    ],
    ids=["malformed", "too-deep", "huge-number", "binary", "latin-1"],
)
def test_check_reports_an_unparsable_golden_and_checks_the_others(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    data = _dataset(tmp_path / "data")
    (data / "golden" / f"{IDS[1]}.json").write_bytes(content)
    result = runner.invoke(app, ["eval", "check", "--dataset", str(data)])
    _one_line_error(result, DATASET_ERROR, "1 golden file(s)", "fail the checks")
    out = result.stdout.splitlines()
    assert f"{IDS[0]}: ok" in out
    assert f"{IDS[2]}: ok" in out
    assert f"{IDS[1]}: 1 problem(s)" in out
    assert fragment in result.stdout
    assert "2/3 golden files pass" in out


def _set_first_offset(path: Path, value: Any) -> None:
    raw = json.loads(path.read_text("utf-8"))
    ev = raw["actors"][0]["evidence"][0]
    assert isinstance(ev["start"], int)
    ev["start"] = value(ev["start"]) if callable(value) else value
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")


@pytest.mark.parametrize("fill", [False, True], ids=["check", "fill-offsets"])
def test_check_accepts_whole_number_float_offsets(tmp_path: Path, fill: bool) -> None:
    """JSON has one number type: 218.0 is the offset 218 (as the contract model reads it)."""
    data = _dataset(tmp_path / "data")
    path = data / "golden" / f"{IDS[0]}.json"
    _set_first_offset(path, float)
    assert ".0,\n" in path.read_text("utf-8")
    before = path.read_bytes()
    result = runner.invoke(
        app, ["eval", "check", "--dataset", str(data), *(["--fill-offsets"] * fill)]
    )
    _no_traceback(result)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "3/3 golden files pass" in result.stdout
    assert path.read_bytes() == before  # the offsets held: nothing to fill in


@pytest.mark.parametrize("value", ["218", True], ids=["string", "bool"])
def test_check_reports_an_offset_that_is_not_a_number(tmp_path: Path, value: Any) -> None:
    data = _dataset(tmp_path / "data")
    _set_first_offset(data / "golden" / f"{IDS[0]}.json", value)
    result = runner.invoke(app, ["eval", "check", "--dataset", str(data)])
    _one_line_error(result, DATASET_ERROR, "1 golden file(s)")
    assert f"actors[0]: offset {value!r} is not a whole number" in result.stdout
    assert f"{IDS[1]}: ok" in result.stdout.splitlines()
    assert "2/3 golden files pass" in result.stdout


@pytest.mark.parametrize(
    "golden",
    [
        [],
        {"key_summary": [], "actors": "Trump"},
        {"key_summary": {"key_points": [{"evidence": 3}]}},
    ],
    ids=["list", "wrong-types", "evidence-number"],
)
def test_fill_offsets_survives_a_golden_of_the_wrong_shape(tmp_path: Path, golden: Any) -> None:
    data = _dataset(tmp_path / "data")
    path = data / "golden" / f"{IDS[2]}.json"
    path.write_text(json.dumps(golden), encoding="utf-8")
    ok = (data / "golden" / f"{IDS[0]}.json").read_bytes()
    result = runner.invoke(app, ["eval", "check", "--dataset", str(data), "--fill-offsets"])
    _one_line_error(result, DATASET_ERROR, "1 golden file(s)")
    assert "shape: " in result.stdout
    assert f"{IDS[0]}: ok" in result.stdout.splitlines()
    assert json.loads(path.read_text("utf-8")) == golden  # a broken file is not rewritten
    assert (data / "golden" / f"{IDS[0]}.json").read_bytes() == ok


def test_check_a_golden_without_its_optional_lists(tmp_path: Path) -> None:
    """Lists the contract lets a golden leave out are a size problem, not a crash."""
    data = _dataset(tmp_path / "data")
    path = data / "golden" / f"{IDS[0]}.json"
    raw = json.loads(path.read_text("utf-8"))
    del raw["key_summary"]["key_points"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    result = runner.invoke(app, ["eval", "check", "--dataset", str(data)])
    _one_line_error(result, DATASET_ERROR, "1 golden file(s)")
    assert "  - contract: 0 key points (3 to 7)" in result.stdout.splitlines()
    assert "2/3 golden files pass" in result.stdout


@pytest.mark.parametrize("fault", ["directory", "binary"])
def test_check_reports_an_unreadable_article_and_checks_the_others(
    tmp_path: Path, fault: str
) -> None:
    data = _dataset(tmp_path / "data")
    article = data / "articles" / f"{IDS[1]}.txt"
    article.unlink()
    if fault == "directory":
        article.mkdir()
    else:
        article.write_bytes(b"\x00\x01\x02")
    result = runner.invoke(app, ["eval", "check", "--dataset", str(data)])
    _one_line_error(result, DATASET_ERROR, "1 golden file(s)")
    assert f"{IDS[0]}: ok" in result.stdout.splitlines()
    assert f"{IDS[2]}: ok" in result.stdout.splitlines()
    assert f"{IDS[1]}: 1 problem(s)" in result.stdout.splitlines()


@pytest.mark.parametrize(
    ("make", "only", "fragment"),
    [
        (lambda root: _dataset(root, []), [], "nothing to evaluate: no article files"),
        (_dataset, ["no-such-id"], "--only 'no-such-id': no such article"),
        (_dataset, [IDS[0], "typo"], "--only 'typo': no such article"),
    ],
    ids=["empty-dataset", "only-nothing", "only-typo"],
)
def test_check_that_checks_nothing_fails(
    tmp_path: Path, make: Any, only: list[str], fragment: str
) -> None:
    data = make(tmp_path / "data")
    args = [a for i in only for a in ("--only", i)]
    result = runner.invoke(app, ["eval", "check", "--dataset", str(data), *args])
    _one_line_error(result, NOTHING, fragment)
    assert "golden files pass" not in result.stdout


# --- eval score -----------------------------------------------------------------------


def test_score_with_nothing_to_score_fails(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data")
    cands = tmp_path / "cands"
    shutil.copytree(data / "golden", cands)
    for path in (data / "golden").iterdir():
        path.unlink()
    result = _score(data, "--report", str(tmp_path / "r.json"), candidates=cands)
    _one_line_error(result, NOTHING, "no golden files to score against")


def test_score_a_golden_without_its_optional_sections(tmp_path: Path) -> None:
    """Sections the contract lets a golden leave out must not crash the scorer."""
    data = _dataset(tmp_path / "data")
    cands = tmp_path / "cands"
    shutil.copytree(data / "golden", cands)
    path = data / "golden" / f"{IDS[0]}.json"
    raw = json.loads(path.read_text("utf-8"))
    del raw["open_questions"], raw["commitments"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert (
        runner.invoke(app, ["eval", "check", "--dataset", str(data), "--only", IDS[0]]).exit_code
        == 0
    )
    report = tmp_path / "r.json"
    result = _score(data, "--report", str(report), candidates=cands)
    _no_traceback(result)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(report.read_text("utf-8"))
    assert doc["articles"][IDS[1]]["score"] == 1.0
    assert 0 < doc["articles"][IDS[0]]["score"] < 1.0  # extra items in the candidate


@pytest.mark.parametrize("option", ["--report", "--html"])
def test_score_refuses_a_report_path_that_is_a_folder_before_scoring(
    tmp_path: Path, option: str
) -> None:
    data = _dataset(tmp_path / "data")
    kept = _report(tmp_path, "kept.json")
    before = kept.read_bytes()
    folder = tmp_path / "a-folder"
    folder.mkdir()
    other = "--html" if option == "--report" else "--report"
    other_path = tmp_path / "other.html" if option == "--report" else kept
    result = _score(data, option, str(folder), other, str(other_path))
    _one_line_error(result, BAD_OPTION, f"{option} {folder}: is a folder")
    assert kept.read_bytes() == before
    assert not (tmp_path / "other.html").exists()


def test_markup_in_paths_ids_and_errors_is_printed_as_is(tmp_path: Path) -> None:
    """A dataset under `x[/red]`, an article id `[b]x`: printed literally, and the gate
    (exit 50: that article has no candidate) still decides."""
    data = _dataset(tmp_path / "x[" / "red]" / "data")
    odd = "[b]odd"
    shutil.copy(data / "articles" / f"{IDS[0]}.txt", data / "articles" / f"{odd}.txt")
    shutil.copy(data / "golden" / f"{IDS[0]}.json", data / "golden" / f"{odd}.json")
    cands = tmp_path / "cands[/]"
    shutil.copytree(data / "golden", cands)
    (cands / f"{odd}.json").write_text("[/bold] not json", encoding="utf-8")
    # The gate compares the articles both runs scored: break one of those too.
    (cands / f"{IDS[1]}.json").write_text("[/red] not json", encoding="utf-8")
    baseline = _report(tmp_path)
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    result = _score(data, "--report", str(report), "--html", str(page), "--baseline",
                    str(baseline), "--max-drop", "0.01", candidates=cands)  # fmt: skip
    _one_line_error(result, REGRESSION, "eval gate: dropped more than 0.01")
    assert f"eval: {data}" in result.stdout  # the table was printed, path and all
    assert f"{odd}: invalid candidate" in result.stdout
    doc = json.loads(report.read_text("utf-8"))
    assert doc["articles"][odd]["error"].startswith("invalid candidate: Invalid JSON")
    assert doc["run"]["dataset"] == str(data)
    assert odd in page.read_text("utf-8")


def _broken(*_: Any, **__: Any) -> Any:
    raise RuntimeError("[/red] cannot render")


@pytest.mark.parametrize("drop", [False, True], ids=["gate-passes", "gate-fails"])
def test_the_gate_decides_even_if_the_table_cannot_be_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drop: bool
) -> None:
    import summarizer.cli.eval_table
    import summarizer.evals.report

    baseline, report = _report(tmp_path), tmp_path / "r.json"
    # Both ways the table is drawn: rich (a terminal) and without it (a pipe, as here).
    monkeypatch.setattr(summarizer.evals.report, "print_table", _broken)
    monkeypatch.setattr(summarizer.cli.eval_table, "print_plain_table", _broken)
    data = _dataset(tmp_path / "data")
    cands = tmp_path / "cands"
    shutil.copytree(data / "golden", cands)
    if drop:
        (cands / f"{IDS[0]}.json").write_text("{not json", encoding="utf-8")
    result = _score(data, "--report", str(report), "--baseline", str(baseline),
                    "--max-drop", "0.01", candidates=cands)  # fmt: skip
    _no_traceback(result)
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "candidates invalid (scored 0)" not in line
    ]
    assert len(lines) == 1, result.stderr
    assert "the table could not be printed: [/red] cannot render" in lines[0]
    if drop:
        _one_line_error(result, REGRESSION, "eval gate: dropped")
    else:
        assert result.exit_code == 0
        assert lines[0].startswith("summarizer: warning: ")
        assert f"gate: no drop over 0.01 against {baseline}" in result.stdout
    assert json.loads(report.read_text("utf-8"))["aggregate"]["articles"] == 3


def test_a_report_that_cannot_be_rendered_keeps_the_other_and_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import summarizer.evals.report

    baseline, report, page = _report(tmp_path), tmp_path / "r.json", tmp_path / "r.html"
    monkeypatch.setattr(summarizer.evals.report, "render_html", _broken)
    data = _dataset(tmp_path / "data")
    cands = tmp_path / "cands"
    shutil.copytree(data / "golden", cands)
    (cands / f"{IDS[0]}.json").write_text("{not json", encoding="utf-8")
    page.write_text("the previous page", encoding="utf-8")
    result = _score(data, "--report", str(report), "--html", str(page), "--baseline",
                    str(baseline), "--max-drop", "0.01", candidates=cands)  # fmt: skip
    _one_line_error(result, REGRESSION, "eval gate: dropped", "(also: [/red] cannot render)")
    assert json.loads(report.read_text("utf-8"))["aggregate"]["errors"] == 1
    assert page.read_text("utf-8") == "the previous page"  # not left half-written
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# --- eval run -------------------------------------------------------------------------


def _run(data: Path, fake: FakeOpenAI, out: Path, *args: str) -> Result:
    return runner.invoke(
        app,
        ["eval", "run", "--dataset", str(data), "--model", "m", "--base-url", fake.url,
         "--out", str(out), *args],
    )  # fmt: skip


@pytest.mark.parametrize("fault", ["out-is-a-file", "out-under-a-file", "report-is-a-folder",
                                   "candidates-is-a-file"])  # fmt: skip
def test_run_refuses_an_unusable_out_before_any_model_call(
    tmp_path: Path, fake_openai: FakeOpenAI, fault: str
) -> None:
    data = _dataset(tmp_path / "data", IDS[:1])
    fake_openai.default = summary_reply(_golden(IDS[0]))
    out = tmp_path / "out"
    if fault in ("out-is-a-file", "out-under-a-file"):
        out.write_text("keep me", encoding="utf-8")
        target = out if fault == "out-is-a-file" else out / "sub"
        fragment = "is a file, not a folder"
    else:
        out.mkdir()
        (out / "report.json").write_text('{"kept": true}', encoding="utf-8")
        if fault == "report-is-a-folder":
            (out / "report.json").unlink()
            (out / "report.json").mkdir()
            (out / "report.html").write_text("kept", encoding="utf-8")
            fragment = "report.json: is a folder"
        else:
            (out / "candidates").write_text("kept", encoding="utf-8")
            fragment = "candidates: is a file, not a folder"
        target = out
    result = _run(data, fake_openai, target)
    _one_line_error(result, BAD_OPTION, "--out ", fragment)
    assert fake_openai.requests == []
    if fault.startswith("out"):
        assert out.read_text("utf-8") == "keep me"
    elif fault == "report-is-a-folder":
        assert (out / "report.html").read_text("utf-8") == "kept"
    else:
        assert (out / "report.json").read_text("utf-8") == '{"kept": true}'


@pytest.mark.parametrize(
    ("fault", "code", "fragment"),
    [
        ("not-json", DATASET_ERROR, "not valid JSON"),
        ("not-a-summary", DATASET_ERROR, "not a summary"),
        ("only-nothing", NOTHING, "--only 'nope': no such article"),
        ("no-goldens", NOTHING, "no golden file for any article"),
    ],
)
def test_run_refuses_goldens_it_cannot_score_before_any_model_call(
    tmp_path: Path, fake_openai: FakeOpenAI, fault: str, code: int, fragment: str
) -> None:
    data = _dataset(tmp_path / "data", IDS[:2])
    fake_openai.default = summary_reply(_golden(IDS[0]))
    golden = data / "golden" / f"{IDS[1]}.json"
    args: list[str] = []
    if fault == "not-json":
        golden.write_text("{not json", encoding="utf-8")
    elif fault == "not-a-summary":
        golden.write_text('{"key_summary": "no"}', encoding="utf-8")
    elif fault == "only-nothing":
        args = ["--only", "nope"]
    else:
        shutil.rmtree(data / "golden")
        (data / "golden").mkdir()
    result = _run(data, fake_openai, tmp_path / "out", *args)
    _one_line_error(result, code, fragment)
    assert fake_openai.requests == []
    assert not (tmp_path / "out").exists()
