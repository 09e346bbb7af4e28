"""The answer cache never stops work: corrupt, read-only and unwritable caches are
reported once and skipped; `cache stats` and `cache clear` work on a broken file."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from summarizer import FunctionBackend, ResponseCache, Summarizer
from tests.conftest import ROOT, SEED

# Root ignores file permissions, so the read-only cases need another way to fail.
AS_ROOT = os.geteuid() == 0


def _summarize(cache: ResponseCache, summary: dict[str, Any], text: str) -> dict[str, Any]:
    with Summarizer(backend=FunctionBackend.replay([summary]), cache=cache) as s:
        return s.summarize(text).meta


def _corrupt(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database\x00" * 200)


def test_a_corrupt_cache_file_is_reported_once_and_skipped(
    tmp_path: Path,
    seed_summary: dict[str, Any],
    seed_text: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "answers.sqlite3"
    _corrupt(path)
    with caplog.at_level(logging.WARNING, logger="summarizer.cache"):
        cache = ResponseCache(path)
        meta = _summarize(cache, seed_summary, seed_text)
        _summarize(cache, seed_summary, seed_text)
    assert meta["attempts"]["responses"] == 1
    assert cache.disabled
    warnings = [r for r in caplog.records if r.name == "summarizer.cache"]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert "going on without it" in warnings[0].getMessage()
    stats = cache.stats()
    assert stats["entries"] is None
    assert stats["error"]
    assert cache.clear() == 0
    assert not path.exists()  # clear removed the broken file
    fresh = ResponseCache(path)
    assert fresh.disabled is None
    assert fresh.stats()["entries"] == 0


def test_a_corrupt_entry_is_a_miss(
    tmp_path: Path, seed_summary: dict[str, Any], seed_text: str
) -> None:
    path = tmp_path / "answers.sqlite3"
    cache = ResponseCache(path)
    _summarize(cache, seed_summary, seed_text)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE answers SET summary = '{not json'")
    assert _summarize(cache, seed_summary, seed_text)["cache"]["hit"] is False
    with sqlite3.connect(path) as db:
        db.execute("""UPDATE answers SET summary = '{"key_summary": 3}'""")
    assert _summarize(cache, seed_summary, seed_text)["cache"]["hit"] is False
    assert cache.disabled is None


def test_an_unwritable_cache_directory_is_skipped(
    tmp_path: Path, seed_summary: dict[str, Any], seed_text: str
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    cache = ResponseCache(blocker / "sub" / "answers.sqlite3")  # parent is a file
    assert cache.disabled
    assert _summarize(cache, seed_summary, seed_text)["attempts"]["responses"] == 1


@pytest.mark.skipif(not AS_ROOT, reason="as root, a read-only file is still writable")
def test_a_cache_that_fails_on_write_is_skipped(
    tmp_path: Path, seed_summary: dict[str, Any], seed_text: str
) -> None:
    path = tmp_path / "answers.sqlite3"
    cache = ResponseCache(path)
    assert cache._db is not None
    cache._db.execute("PRAGMA query_only = ON")  # every write now fails, as on a RO file
    meta = _summarize(cache, seed_summary, seed_text)
    assert meta["attempts"]["responses"] == 1
    assert cache.disabled


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_cli_cache_commands_on_a_broken_file_and_with_no_home(tmp_path: Path) -> None:
    env = {**os.environ, "SUMMARIZER_CACHE_DIR": str(tmp_path / "cache")}
    _corrupt(tmp_path / "cache" / "answers.sqlite3")
    stats = _cli("cache", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert "Traceback" not in stats.stderr
    assert "cannot be used" in stats.stdout + stats.stderr
    cleared = _cli("cache", "clear", env=env)
    assert cleared.returncode == 0, cleared.stderr
    assert not (tmp_path / "cache" / "answers.sqlite3").exists()
    # HOME=/ and no cache dir set: the default location cannot be created.
    no_home = {k: v for k, v in os.environ.items() if k != "SUMMARIZER_CACHE_DIR"}
    no_home["HOME"] = "/proc/nonexistent"
    schema = _cli("cache", "stats", env=no_home)
    assert schema.returncode == 0, schema.stderr
    assert "Traceback" not in schema.stderr


def test_summarize_goes_on_when_the_cache_is_broken(tmp_path: Path) -> None:
    """Through the CLI, a cache that cannot be used is one warning line, not exit 1."""
    pytest.importorskip("tests.fakeserver")
    import json

    from tests.fakeserver import FakeOpenAI, summary_reply

    summary = json.loads((ROOT / "tests" / "data" / "seed_summary.json").read_text())
    env = {**os.environ, "SUMMARIZER_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SUMMARIZER_MODEL"):
        env.pop(name, None)
    _corrupt(tmp_path / "cache" / "answers.sqlite3")
    with FakeOpenAI() as server:
        server.queue(summary_reply(summary))
        done = _cli("summarize", str(SEED), "--model", "m", "--base-url", server.url, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["key_summary"]["headline"]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "cannot be used" in lines[0]
    assert stat.S_ISREG((tmp_path / "cache" / "answers.sqlite3").stat().st_mode)
