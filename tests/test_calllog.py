"""The local log of model calls (summarizer/calllog.py) and `summarizer logs`."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import calllog
from summarizer.backends.calls import answer_text
from summarizer.calllog import CallLog
from summarizer.cli.app import app
from summarizer.pipeline import Summarizer
from tests.conftest import ROOT, SEED
from tests.fakeserver import FakeOpenAI, completion, error_reply, summary_reply

runner = CliRunner()
FAST = ["--retry-max-wait", "0"]


# Each test starts and ends with the library's defaults (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("library_defaults")


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "answer-cache" / "logs.db"  # conftest's SUMMARIZER_CACHE_DIR


def row(**changes: Any) -> dict[str, Any]:
    return {
        "model": "compatible/m", "base_url": "http://127.0.0.1:1/v1", "prompt": "summarize@v1",
        "source": "a.txt", "request": "{}", "answer": "{}", "prompt_tokens": 10,
        "completion_tokens": 5, "latency_s": 0.5, "outcome": "ok", "attempt": 1, **changes,
    }  # fmt: skip


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


def summarize_with(server: FakeOpenAI, *extra: str, env: dict[str, str] | None = None) -> Any:
    args = ["summarize", str(SEED), "--model", "m", "--base-url", server.url, "--no-cache"]
    return cli(*args, *FAST, *extra, env=env)


# -- the store -----------------------------------------------------------------------


def test_rows_are_listed_newest_first_and_filtered(log_path: Path) -> None:
    log = CallLog(log_path)
    log.add(row(source="one.txt", outcome="reask: key_points.0: quote not found"))
    log.add(row(source="one.txt", attempt=2))
    log.add(row(source="two.txt", model="openai/gpt-4o-mini", outcome="error: X: down"))
    assert [r["id"] for r in log.calls()] == [3, 2, 1]
    assert [r["id"] for r in log.calls(limit=1)] == [3]
    assert [r["id"] for r in log.calls(source="one")] == [2, 1]
    assert [r["id"] for r in log.calls(model="gpt-4o")] == [3]
    assert [r["id"] for r in log.calls(outcome="reask")] == [1]
    assert [r["id"] for r in log.calls(outcome="ok")] == [2]
    assert [r["id"] for r in log.calls(outcome="rea")] == []  # a kind, not a prefix
    assert "request" not in log.calls()[0]  # the list leaves the texts out
    assert log.get(1)["outcome"] == "reask: key_points.0: quote not found"  # type: ignore[index]
    assert log.get(99) is None
    log.close()


def test_growth_is_bounded_by_rows_and_ids_are_never_reused(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calllog, "PRUNE_EVERY", 5)
    log = CallLog(log_path, max_rows=20)
    for i in range(57):
        log.add(row(source=f"a{i}"))
    ids = [r["id"] for r in log.calls(limit=1000)]
    assert len(ids) <= 20 + 5
    assert ids[0] == 57
    assert ids == sorted(ids, reverse=True)
    log.close()
    again = CallLog(log_path, max_rows=20)
    again.add(row())
    assert again.calls(limit=1)[0]["id"] == 58  # AUTOINCREMENT: `logs show 3` stays 3
    again.close()


def test_growth_is_bounded_by_size(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calllog, "PRUNE_EVERY", 1)
    log = CallLog(log_path, max_bytes=400_000)
    for _ in range(60):
        log.add(row(request="x" * 20_000))
    kept = len(log.calls(limit=1000))
    assert 5 <= kept <= 25, kept  # 60 rows of 20 KB would be 1.2 MB
    log.close()


def test_a_corrupt_log_is_one_warning_and_never_stops_a_summary(
    fake_openai: FakeOpenAI,
    seed_summary: dict[str, Any],
    log_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"this is not a database, " * 400)
    fake_openai.queue(*[summary_reply(seed_summary)] * 3)
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", str(SEED), "--model", "m",
         "--base-url", fake_openai.url],
        capture_output=True, cwd=ROOT, timeout=120, check=False, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["key_summary"]["headline"]
    (warning,) = proc.stderr.splitlines()
    assert warning.startswith(f"summarizer: warning: the call log at {log_path} cannot be used")
    calllog.enable()  # in one process: one warning, however many calls
    with Summarizer(model="m", base_url=fake_openai.url) as s, caplog.at_level(logging.WARNING):
        s.summarize(SEED.read_text())
        s.summarize(SEED.read_text() + "\nOne more line.")
    assert len([r for r in caplog.records if "call log" in r.message]) == 1
    listed = cli("logs")
    assert listed.exit_code == 20
    assert "cannot be read" in listed.stderr
    assert log_path.read_bytes().startswith(b"this is not a database")  # left as it was


def test_a_locked_log_drops_the_row_not_the_summary(
    fake_openai: FakeOpenAI,
    seed_summary: dict[str, Any],
    log_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(calllog, "BUSY_TIMEOUT_S", 0.05)
    CallLog(log_path).close()  # the file exists, in WAL mode
    holder = sqlite3.connect(log_path)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for too long
    calllog.enable()
    fake_openai.queue(summary_reply(seed_summary), summary_reply(seed_summary))
    with Summarizer(model="m", base_url=fake_openai.url) as s, caplog.at_level(logging.WARNING):
        assert s.summarize(SEED.read_text()).key_summary.headline
        holder.rollback()
        holder.close()
        s.summarize(SEED.read_text() + "\nOne more line.")
    assert any("call log" in r.message for r in caplog.records)
    assert len(calllog.current().calls()) == 1  # type: ignore[union-attr]


def test_two_processes_write_side_by_side(log_path: Path) -> None:
    script = (
        "import sys\nfrom pathlib import Path\nfrom summarizer.calllog import CallLog\n"
        "log = CallLog(Path(sys.argv[1]))\n"
        "for i in range(200):\n"
        "    log.add({'model': 'm', 'source': sys.argv[2], 'request': 'x' * 5000,"
        " 'outcome': 'ok', 'attempt': 1})\n"
        "assert log.disabled is None, log.disabled\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(log_path), f"p{i}"], cwd=ROOT)
        for i in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with sqlite3.connect(log_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = dict(db.execute("SELECT source, COUNT(*) FROM calls GROUP BY source"))
    db.close()
    assert counts == {"p0": 200, "p1": 200, "p2": 200}


# -- what the command line logs ------------------------------------------------------


def test_each_request_is_a_row_with_its_outcome(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], seed_text: str
) -> None:
    bad = json.loads(json.dumps(seed_summary))
    bad["actors"][0]["evidence"][0]["quote"] = "Trump promised to end the war within 24 hours"
    fake_openai.queue(summary_reply(bad), summary_reply(seed_summary))
    assert summarize_with(fake_openai).exit_code == 0
    listed = cli("logs")
    assert listed.exit_code == 0, listed.stderr
    header, first, second = listed.stdout.splitlines()
    assert header.split() == ["id", "time", "model", "source", "outcome", "tokens", "latency"]
    assert first.split()[0] == "1"
    assert "reask: " in first
    assert "700/300" in first
    assert second.split()[0] == "2"
    assert " ok " in second
    assert str(SEED) in second

    shown = cli("logs", "show", "1")
    call = json.loads(shown.stdout)
    assert call["model"] == "compatible/m"
    assert call["base_url"] == fake_openai.url
    assert call["prompt"] == "summarize@v1"
    assert call["source"] == str(SEED)
    assert call["attempt"] == 1
    assert call["prompt_tokens"] == 700
    assert "not found in the article" in call["outcome"]
    assert "Trump promised to end the war within 24 hours" in call["answer"]  # raw answer
    user = call["request"]["messages"][1]["content"]
    assert max(seed_text.splitlines(), key=len) in user  # the article, as sent
    assert call["request"]["params"]["model"] == "m"
    assert "response_format" not in call["request"]["params"]
    # the re-ask's request carries the error it was sent back with
    again = json.loads(cli("logs", "show", "2").stdout)
    assert "not found in the article" in json.dumps(again["request"]["messages"])

    assert [line.split()[0] for line in cli("logs", "--outcome", "ok").stdout.splitlines()] == [
        "id",
        "2",
    ]
    assert len(cli("logs", "-n", "1").stdout.splitlines()) == 2
    assert cli("logs", "--source", "nothing-like-it").stdout == ""
    assert cli("logs", "path").stdout.strip().endswith("answer-cache/logs.db")


def test_a_failed_request_is_logged_as_an_error(log_path: Path) -> None:
    result = cli("summarize", str(SEED), "--model", "m", "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 30
    (call,) = CallLog(log_path).calls()
    assert call["outcome"].startswith("error: ProviderUnreachableError: cannot reach")
    assert call["prompt_tokens"] is None


def test_no_model_no_log(log_path: Path) -> None:
    """The offline default makes no model call, so it logs nothing (and makes no file)."""
    assert cli("summarize", str(SEED)).exit_code == 0
    assert not log_path.exists()
    assert cli("logs").stderr.strip() == "no model calls logged yet"


def test_the_library_logs_nothing_unless_enabled(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], log_path: Path
) -> None:
    assert cli("-v", "schema").exit_code == 0  # a command ran in this process before
    fake_openai.queue(summary_reply(seed_summary))
    with Summarizer(model="m", base_url=fake_openai.url) as s:
        s.summarize(SEED.read_text())
    assert not log_path.exists()
    assert logging.getLogger("summarizer").handlers == []


@pytest.mark.parametrize(
    ("how", "env", "logged"),
    [("logs off", {}, False), ("", {"SUMMARIZER_LOG": "0"}, False),
     ("logs off", {"SUMMARIZER_LOG": "1"}, True), ("logs off|logs on", {}, True)],
)  # fmt: skip
def test_turning_it_off(
    how: str, env: dict[str, str], logged: bool,
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], log_path: Path,
) -> None:  # fmt: skip
    for command in filter(None, how.split("|")):
        assert cli(*command.split()).exit_code == 0
    fake_openai.queue(summary_reply(seed_summary))
    assert summarize_with(fake_openai, env=env).exit_code == 0
    assert (log_path.exists() and len(CallLog(log_path).calls()) == 1) is logged
    status = cli("logs", "status", env=env).stdout
    assert status.startswith("model call log: on" if logged else "model call log: off")


def test_secrets_stay_out_of_the_log(fake_openai: FakeOpenAI, log_path: Path) -> None:
    """An answer that echoes the key, and a --base-url with a password."""
    key = "sk-live-0123456789abcdefghij"
    fake_openai.queue(error_reply(500, f"Authorization: Bearer {key}"))
    fake_openai.queue(summary_reply({"echo": f"your key is {key}"}))
    url = fake_openai.url.replace("http://", "http://user:hunter22@")
    cli(
        "summarize", str(SEED), "--model", "m", "--base-url", url, "--max-reasks", "0", *FAST,
        env={"OPENAI_API_KEY": key},
    )  # fmt: skip
    stored = b"".join(p.read_bytes() for p in log_path.parent.glob("logs.db*"))
    assert b"your key is" in stored  # the answer is there ...
    assert key.encode() not in stored
    assert b"hunter22" not in stored


def test_bad_ids_are_one_line_errors() -> None:
    missing = cli("logs", "show", "12345")
    assert missing.exit_code == 11  # InputNotFoundError
    assert missing.stderr.strip().startswith("summarizer: error: no logged model call 12345")
    assert cli("logs", "show", "abc").exit_code == 2
    assert cli("logs", "-n", "0").exit_code == 2


def test_answer_text_reads_tool_calls_and_content() -> None:
    from openai.types.chat import ChatCompletion

    tool = ChatCompletion.model_validate(completion(tool_arguments='{"a": 1}'))
    content = ChatCompletion.model_validate(completion(content="```json\n{}\n```"))
    assert answer_text(tool) == '{"a": 1}'
    assert answer_text(content) == "```json\n{}\n```"  # raw, as it came
    assert answer_text(object()) is None
