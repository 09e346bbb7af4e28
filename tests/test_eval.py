"""The eval harness: golden checks, scoring a directory, reports, the CI gate, the cache."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import Summarizer
from summarizer.cache import ResponseCache
from summarizer.cli import app
from summarizer.evals.goldens import check_golden, dataset_ids
from tests.conftest import ROOT
from tests.fakeserver import FakeOpenAI, Reply, summary_reply

DATASET = ROOT / "evals" / "wikinews"
runner = CliRunner()


def _golden_ids() -> list[str]:
    return [i for i in dataset_ids(DATASET) if (DATASET / "golden" / f"{i}.json").is_file()]


def test_every_article_has_a_golden_file() -> None:
    assert len(dataset_ids(DATASET)) == 33
    assert _golden_ids() == dataset_ids(DATASET)


@pytest.mark.parametrize("case_id", _golden_ids())
def test_golden_file_passes_the_checks(case_id: str) -> None:
    text = (DATASET / "articles" / f"{case_id}.txt").read_text(encoding="utf-8")
    raw = json.loads((DATASET / "golden" / f"{case_id}.json").read_text(encoding="utf-8"))
    assert check_golden(text, raw) == []


def test_eval_check_command() -> None:
    result = runner.invoke(app, ["eval", "check", "--dataset", str(DATASET)])
    assert result.exit_code == 0, result.stdout
    assert "33/33 golden files pass" in result.stdout


def test_check_catches_broken_goldens(tmp_path: Path, seed_text: str) -> None:
    raw = json.loads((DATASET / "golden" / "000-seed-trump-putin-call.json").read_text("utf-8"))
    raw["actors"][0]["evidence"][0]["quote"] = "a quote that is not there"
    raw["commitments"][0]["actor"] = "Nobody Known"
    problems = check_golden(seed_text, raw)
    assert any("not the quote" in p for p in problems)
    assert any("'Nobody Known' is not an actor's name" in p for p in problems)


def _unseen_dataset(tmp_path: Path, n: int = 3) -> tuple[Path, Path, list[str]]:
    """A dataset folder the scorer has never seen, with candidates = goldens."""
    ids = _golden_ids()[:n]
    data, cands = tmp_path / "data", tmp_path / "cands"
    for sub in ("articles", "golden"):
        (data / sub).mkdir(parents=True)
    cands.mkdir()
    for i in ids:
        shutil.copy(DATASET / "articles" / f"{i}.txt", data / "articles")
        shutil.copy(DATASET / "golden" / f"{i}.json", data / "golden")
        shutil.copy(DATASET / "golden" / f"{i}.json", cands)
    return data, cands, ids


def test_score_unseen_directory_and_gate(tmp_path: Path) -> None:
    data, cands, ids = _unseen_dataset(tmp_path)
    report, page = tmp_path / "report.json", tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["eval", "score", "--dataset", str(data), "--candidates", str(cands),
         "--report", str(report), "--html", str(page)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout
    doc = json.loads(report.read_text())
    assert set(doc) == {"articles", "aggregate", "run", "floor", "below_floor", "missing"}
    assert doc["missing"] == []
    assert set(doc["articles"]) == set(ids)
    assert doc["aggregate"]["score"] == 1.0
    assert {"prompt", "model", "dataset", "timestamp"} <= set(doc["run"])
    assert '<mark class="gc">' in page.read_text()

    # One candidate goes missing (not scored, listed), one is broken (scores 0): the
    # drop fails the gate (exit 50), which says the missing one too.
    (cands / f"{ids[0]}.json").unlink()
    (cands / f"{ids[1]}.json").write_text("{not json", encoding="utf-8")
    worse = tmp_path / "worse.json"
    result = runner.invoke(
        app,
        ["eval", "score", "--dataset", str(data), "--candidates", str(cands),
         "--report", str(worse), "--baseline", str(report), "--max-drop", "0.05"],
    )  # fmt: skip
    assert result.exit_code == 50
    assert "(also: 1 selected article(s) have no candidate)" in result.stderr
    doc = json.loads(worse.read_text())
    assert doc["missing"] == [ids[0]]
    assert ids[0] not in doc["articles"]
    assert doc["articles"][ids[1]]["error"].startswith("invalid candidate")
    assert doc["articles"][ids[2]]["score"] == 1.0
    assert doc["aggregate"]["errors"] == 1
    assert (doc["aggregate"]["articles"], doc["aggregate"]["missing"]) == (2, 1)
    assert doc["baseline"]["passed"] is False
    assert doc["baseline"]["regressions"] == [ids[1]]


def test_eval_run_uses_the_cache(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "cache"))
    data, _, ids = _unseen_dataset(tmp_path, n=2)
    goldens = {
        (data / "articles" / f"{i}.txt").read_text("utf-8").strip()[:200]: json.loads(
            (data / "golden" / f"{i}.json").read_text("utf-8")
        )
        for i in ids
    }

    def by_article(body: dict[str, Any]) -> Reply:  # articles run concurrently
        sent = body["messages"][1]["content"]
        return summary_reply(next(g for start, g in goldens.items() if start in sent))

    fake_openai.responder = by_article
    args = ["eval", "run", "--dataset", str(data), "--model", "m",
            "--base-url", fake_openai.url, "--out", str(tmp_path / "out")]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.stdout
    assert len(fake_openai.requests) == 2
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["aggregate"]["score"] > 0.95
    second = runner.invoke(app, [*args, "--baseline", str(tmp_path / "out" / "report.json")])
    assert second.exit_code == 0, second.stdout
    assert len(fake_openai.requests) == 2  # unchanged inputs: no model call
    third = runner.invoke(app, [*args, "--no-cache", "--concurrency", "1"])
    assert third.exit_code == 0, third.stdout
    assert len(fake_openai.requests) == 4


def test_cache_key_changes_with_the_model(
    tmp_path: Path, fake_openai: FakeOpenAI, seed_text: str
) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite3")
    golden = json.loads((DATASET / "golden" / "000-seed-trump-putin-call.json").read_text("utf-8"))
    fake_openai.default = summary_reply(golden)
    for model in ("a", "a", "b"):
        with Summarizer(model=model, base_url=fake_openai.url, cache=cache) as s:
            s.summarize(seed_text)
    assert len(fake_openai.requests) == 2
    assert cache.stats()["entries"] == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs chromium (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    data, cands, ids = _unseen_dataset(tmp_path, n=2)
    cand = json.loads((cands / f"{ids[0]}.json").read_text("utf-8"))
    cand["actors"] = cand["actors"][:1]  # something missed, so the page shows it
    (cands / f"{ids[0]}.json").write_text(json.dumps(cand), encoding="utf-8")
    page = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["eval", "score", "--dataset", str(data), "--candidates", str(cands), "--html", str(page)],
    )
    assert result.exit_code == 0, result.stdout
    shot = tmp_path / "shot.png"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
    ]  # fmt: skip
    proc = subprocess.run(
        [_chromium(), *flags, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.is_file(), proc.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    console_errors = [
        line for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line
    ]  # fmt: skip
    assert console_errors == []
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout  # fmt: skip
    assert "Eval report" in dom
    assert 'class="missed"' in dom
    assert ids[0] in dom


def test_score_the_full_set(tmp_path: Path) -> None:
    """`eval score` over all 33 goldens (as candidates) in one go: every article 1.0."""
    report = tmp_path / "full.json"
    result = runner.invoke(
        app,
        ["eval", "score", "--dataset", str(DATASET), "--candidates", str(DATASET / "golden"),
         "--report", str(report)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout
    doc = json.loads(report.read_text())
    assert doc["aggregate"]["articles"] == 33
    assert doc["aggregate"]["score"] == 1.0
