"""The offline default (``rules``), the no-model baselines as backends, ``eval
baseline``, and the lead floor in every eval report (#13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import ArticleSummary, Settings, Summarizer, summarize
from summarizer.backends import backend_for
from summarizer.backends.extractive import ExtractiveBackend
from summarizer.cli import app
from summarizer.errors import ConfigurationError, InvalidOutputError
from tests.conftest import DATASET, ROOT, SEED, copy_dataset

SECTIONS = ("key_summary", "actors", "commitments", "open_questions")
# The committed full run of the shipped default, and the gate CI applies to it.
COMMITTED = ROOT / "benchmarks" / "results" / "eval-rules" / "report.json"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("OPENAI_API_KEY", "SUMMARIZER_MODEL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _grounded(summary: ArticleSummary, text: str) -> None:
    evidence = summary.evidence()
    assert evidence
    for ev in evidence:
        assert ev.start is not None
        assert ev.end is not None
        assert text[ev.start : ev.end] == ev.quote


def test_no_model_configured_means_the_rules_and_no_model_is_loaded(
    seed_text: str, tmp_path: Path
) -> None:
    summarizer = Summarizer(Settings.resolve(env={}))
    assert isinstance(summarizer.backend, ExtractiveBackend)
    summary = summarizer.summarize(seed_text, source="seed")
    _grounded(summary, seed_text)
    meta = summary.meta
    assert meta["model"] == "rules"
    assert meta["method"]["model_calls"] == 0
    assert set(meta["method"]["sections"]) == set(SECTIONS)
    assert all(v.startswith("rules:") for v in meta["method"]["sections"].values())
    assert meta["attempts"]["responses"] == 0  # nothing was asked of any model
    # ... and, in a fresh process, neither llama.cpp nor a model SDK is imported
    code = (
        "import sys, pathlib\nfrom summarizer import summarize\n"
        "s = summarize(pathlib.Path(sys.argv[1]).read_text(encoding='utf-8'))\n"
        "assert s.meta['model'] == 'rules'\n"
        "print(sorted(m for m in ('llama_cpp', 'openai', 'instructor') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(SEED)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "SUMMARIZER_CACHE_DIR": str(tmp_path / "c")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # no model, no SDK: nothing to ask
    assert summary.actors
    assert {c.actor for c in summary.commitments} <= {a.name for a in summary.actors}


def test_baselines_are_models_too_with_the_same_checks(seed_text: str) -> None:
    lead = summarize(seed_text, model="baseline/lead")
    assert lead.meta["model"] == "baseline/lead"
    assert lead.key_summary.key_points[0].text.startswith("Trump also discussed")
    _grounded(lead, seed_text)
    rank = summarize(seed_text, model="baseline/textrank")
    assert rank.meta["model"] == "baseline/textrank"
    assert [k.text for k in rank.key_summary.key_points] != [
        k.text for k in lead.key_summary.key_points
    ]
    with pytest.raises(ConfigurationError, match="no such method"):
        backend_for(Settings.resolve(env={}, model="baseline/nope"))


def test_a_no_model_method_records_no_prompt_and_refuses_model_only_settings(
    seed_text: str,
) -> None:
    """No model reads a prompt or sampling parameters under a no-model method, so meta
    records neither and asking for them is a configuration error, not ignored."""
    summary = summarize(seed_text)
    assert "prompt" not in summary.meta
    assert "parameters" not in summary.meta
    for flag, value in (
        ("prompt", "summarize@v1"),
        ("temperature", 0.7),
        ("max_tokens", 100),
        ("mode", "json"),
    ):
        with pytest.raises(ConfigurationError, match="calls no model"):
            summarize(seed_text, **{flag: value})
    with pytest.raises(ConfigurationError, match="cannot translate"):
        summarize(seed_text, language="French")
    runner = CliRunner()
    result = runner.invoke(app, ["summarize", str(SEED), "--temperature", "0.5"])
    assert result.exit_code == ConfigurationError.exit_code
    assert "--temperature would be ignored" in result.output


def test_a_baseline_in_the_harness_gets_the_meta_of_the_same_method_run_as_a_model(
    seed_text: str,
) -> None:
    """One path for composed summaries: the eval harness's lead baseline and
    ``--model baseline/lead`` give the same items and the same grounding meta."""
    from summarizer.evals.baselines import baseline_summary

    harness = baseline_summary("lead", seed_text)
    as_model = summarize(seed_text, model="baseline/lead")
    assert harness.model_dump(exclude={"meta"}) == as_model.model_dump(exclude={"meta"})
    assert harness.meta["grounding"] == {
        k: v for k, v in as_model.meta["grounding"].items() if k != "salvaged"
    }
    assert harness.meta["grounding"]["supported"]["items"] > 0


def test_a_title_given_apart_is_the_headline(seed_text: str) -> None:
    summary = summarize(seed_text, title="Trump and Putin agree to talks")
    assert summary.key_summary.headline == "Trump and Putin agree to talks"


def test_the_rules_are_cached_under_their_code_version(seed_text: str) -> None:
    from summarizer.cache import ResponseCache

    cache = ResponseCache()
    with Summarizer(Settings.resolve(env={}), cache=cache) as s:
        first = s.summarize(seed_text)
        again = s.summarize(seed_text)
    assert first.meta["cache"]["hit"] is False
    assert again.meta["cache"]["hit"] is True
    assert again.model_dump(exclude={"meta"}) == first.model_dump(exclude={"meta"})


def test_the_cli_default_needs_no_key_and_no_model(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", str(SEED), "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             "SUMMARIZER_CACHE_DIR": str(tmp_path / "c")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = ArticleSummary.model_validate_json(proc.stdout)
    assert summary.meta["model"] == "rules"
    assert "embedded model" not in proc.stderr  # no model notice: none is used


def test_eval_baseline_writes_grounded_candidates_that_score_like_a_model(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lead"
    result = CliRunner().invoke(
        app, ["eval", "baseline", "lead", "--dataset", str(DATASET), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.json"))
    assert len(files) == len(list((DATASET / "articles").glob("*.txt")))
    for path in files[:5]:
        summary = ArticleSummary.model_validate_json(path.read_text(encoding="utf-8"))
        text = (DATASET / "articles" / f"{path.stem}.txt").read_text(encoding="utf-8")
        _grounded(summary, text)
        assert summary.meta["model"] == "baseline/lead"
    report = tmp_path / "lead.json"
    scored = CliRunner().invoke(
        app,
        ["eval", "score", "-d", str(DATASET), "--candidates", str(out),
         "--report", str(report)],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    data = json.loads(report.read_text())
    # The lead candidates are the floor itself: the same scores, none below it.
    assert data["floor"]["method"] == "lead"
    assert data["floor"]["aggregate"]["score"] == data["aggregate"]["score"]
    assert data["below_floor"] == []
    bad = CliRunner().invoke(
        app, ["eval", "baseline", "nope", "--dataset", str(DATASET), "-o", str(out)]
    )
    assert bad.exit_code == 20, bad.output  # a configuration error, before any work
    assert "lead" in bad.output


def test_a_run_below_the_floor_says_so_and_the_floor_gate_fails(
    tmp_path: Path, seed_summary: dict[str, Any]
) -> None:
    """A candidate that is worse than copying the lead: reported plainly; with
    --gate-floor the eval fails (exit 50)."""
    ids = ["003-merkel-georgia-nato-russian-withdrawal", "017-buffon-psg-one-year-contract"]
    data = copy_dataset(tmp_path / "data", ids)
    poor = tmp_path / "poor"
    poor.mkdir()
    for i in ids:
        text = (data / "articles" / f"{i}.txt").read_text(encoding="utf-8")
        first = text.split("\n\n", 1)[1].split(".")[0] + "."
        start = text.index(first)
        summary = {
            "key_summary": {
                "headline": "Something happened",
                "summary": "Something happened somewhere.",
                "key_points": [
                    {"text": first, "evidence": [{"quote": first, "start": start,
                                                  "end": start + len(first)}]}
                ],
            },
        }  # fmt: skip
        (poor / f"{i}.json").write_text(json.dumps(summary), encoding="utf-8")
    args = ["eval", "score", "-d", str(data), "--candidates", str(poor),
            "--report", str(tmp_path / "r.json")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output  # reported, not gated by default
    assert "below the lead baseline" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert any(line.startswith("overall") for line in report["below_floor"])
    assert {line.split()[0] for line in report["below_floor"]} >= {"overall", "actors"}
    gated = CliRunner().invoke(app, [*args, "--gate-floor"])
    assert gated.exit_code == 50, gated.output
    assert "below the lead floor" in gated.output


def test_the_shipped_default_beats_the_lead_floor_on_the_whole_dataset(tmp_path: Path) -> None:
    """What CI's eval run gates on: the offline default, all 33 articles, above the
    lead baseline overall and in every section, and not below its committed report."""
    out = tmp_path / "run"
    args = ["eval", "run", "--dataset", str(DATASET), "--out", str(out), "--gate-floor",
            "--baseline", str(COMMITTED), "--max-drop", "0.01"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["model"] == "rules"
    assert report["below_floor"] == []
    agg, floor = report["aggregate"], report["floor"]["aggregate"]
    assert agg["articles"] == 33
    assert agg["score"] > floor["score"]
    for section in SECTIONS:
        assert agg["sections"][section] > floor["sections"][section], section
    assert agg["sections"]["grounding"] == 1.0


@pytest.mark.parametrize(
    "command",
    [
        ["eval", "baseline", "lead", "--dataset", str(DATASET)],
        ["eval", "run", "--dataset", str(DATASET)],
    ],
    ids=["baseline", "run"],
)
@pytest.mark.parametrize("out", ["/proc/summarizer-nope", "/sys/summarizer-nope/x"])
def test_an_out_folder_that_cannot_be_made_is_a_configuration_error(
    command: list[str], out: str
) -> None:
    """Checked before any work, one line and exit 20 (was an internal error)."""
    result = CliRunner().invoke(app, [*command, "--limit", "1", "--out", out])
    assert result.exit_code == ConfigurationError.exit_code, result.output
    assert "Traceback" not in result.output
    assert out in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("text", ["hello", "Hello world", "Obama."])
def test_a_text_with_no_sentence_to_quote_is_an_error_not_an_empty_summary(text: str) -> None:
    """An empty summary with exit 0 reads as success (found by a review)."""
    result = CliRunner().invoke(app, ["summarize", "-"], input=text)
    assert result.exit_code == InvalidOutputError.exit_code, result.output
    assert "nothing to summarize" in result.output


def test_model_settings_from_the_config_file_do_not_break_the_offline_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prompt or temperature in the config file (or the environment) is a default for
    when a model runs: the offline default leaves it out; given as a flag, it is an
    error (found by a review: 'config set prompt ...' broke every plain summarize)."""
    config = tmp_path / "config.toml"
    config.write_text('prompt = "summarize@v1"\ntemperature = 0.5\n', encoding="utf-8")
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(config))
    result = CliRunner().invoke(app, ["summarize", str(SEED)])
    assert result.exit_code == 0, result.output
    assert ArticleSummary.model_validate_json(result.stdout).meta["model"] == "rules"
    flagged = CliRunner().invoke(app, ["summarize", str(SEED), "--prompt", "summarize@v1"])
    assert flagged.exit_code == ConfigurationError.exit_code
    assert "--prompt would be ignored" in flagged.output


def test_a_config_file_nested_too_deeply_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(config))
    result = CliRunner().invoke(app, ["summarize", str(SEED)])
    assert result.exit_code == ConfigurationError.exit_code
    assert "nested too deeply" in result.output
