"""`summarizer summarize` and `batch` against a hostile model endpoint (#12).

Each case runs the CLI as users do, against :class:`~tests.faults.hostile.HostileModel`
on 127.0.0.1, and asserts the exit code, one line on stderr and no traceback, that
the run ended within a bound (an endpoint must not hold it forever), and that no
secret reached stdout, stderr, the cache or the batch file. Each failed before the
fix: it hung until the server gave up, crashed with "internal error", returned and
cached a 1 MB headline, or printed the API key.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SEED
from tests.faults.hostile import GOOD, HostileModel
from tests.test_cli import cli_env

pytestmark = pytest.mark.timeout(120)

KEY = "sk-test-0123456789abcdefSECRET"
PASSWORD = "hunter2-pass"
SLOW = 2.0  # --timeout for every run


def run(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """The CLI in a subprocess (bounded: the hostile servers stop after 20 s, this
    after 60 s), and how long it ran."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        capture_output=True,
        env=cli_env({"OPENAI_API_KEY": KEY, **(env or {})}),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    return proc, time.monotonic() - started


def model_args(url: str, *extra: str) -> list[str]:
    return ["--model", "m", "--base-url", url, "--timeout", str(SLOW), "--retries", "1", *extra]


def with_password(url: str) -> str:
    return url.replace("http://", f"http://user:{PASSWORD}@")


def no_secrets(*texts: str | bytes) -> None:
    for text in texts:
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        assert KEY not in text
        assert PASSWORD not in text
        assert "dXNlcjpodW50ZXIy" not in text  # base64 of "user:hunter2" (Basic auth)


def one_line_error(proc: subprocess.CompletedProcess[bytes], code: int, fragment: str) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("summarizer: error: "), err
    assert fragment in lines[0], err
    assert proc.stdout == b""
    return lines[0]


def cached(tmp_path: Path) -> list[str]:
    """The summaries the answer cache holds (SQLite files under the test's cache dir)."""
    rows: list[str] = []
    for path in (tmp_path / "answer-cache").rglob("answers*.sqlite3"):
        if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
            with contextlib.closing(sqlite3.connect(path)) as db:
                rows += [r[0] for r in db.execute("SELECT summary FROM answers")]
    return rows


def cache_bytes(tmp_path: Path) -> bytes:
    """Every byte under the cache dir: a secret must not be even in a free page."""
    files = (tmp_path / "answer-cache").rglob("*")
    return b"".join(p.read_bytes() for p in files if p.is_file())


# (mode, exit code, what the message says, most seconds the run may take)
CASES = [
    ("drip", 30, f"did not answer in full within {SLOW:g}s (2 tries)", 20),
    ("drip_headers", 30, f"did not answer in full within {SLOW:g}s (2 tries)", 20),
    ("endless_slow", 30, f"did not answer in full within {SLOW:g}s (2 tries)", 20),
    ("endless", 33, "over the 4 MB cap on answer bodies", 20),
    ("huge", 33, "over the 4 MB cap on answer bodies", 20),
    ("huge_chunked", 33, "over the 4 MB cap on answer bodies", 20),
    ("gzip_bomb", 33, "over the 4 MB cap on answer bodies", 25),
    ("deep", 33, "JSON nested too deeply", 20),
    ("invalid_utf8", 33, "not UTF-8", 20),
    ("html", 33, "(text/html) is not JSON: '<html><body><h1>502 Bad Gateway", 20),
    ("html_as_json", 33, "(application/json) is not JSON: '<html>", 20),
    ("not_a_completion", 33, "not a chat completion: no choices", 20),
    ("reset", 30, "cannot reach http://***@127.0.0.1", 20),
]


@pytest.mark.parametrize(("mode", "code", "fragment", "most"), CASES, ids=[c[0] for c in CASES])
def test_summarize_against_a_hostile_endpoint(
    mode: str, code: int, fragment: str, most: float, seed_summary: dict[str, Any], tmp_path: Path
) -> None:
    with HostileModel(mode, good=seed_summary) as server:
        proc, took = run("summarize", str(SEED), *model_args(with_password(server.url)))
    line = one_line_error(proc, code, fragment)
    assert took < most, f"{mode}: {took:.1f}s"
    assert "internal error" not in line
    no_secrets(proc.stderr)
    assert cached(tmp_path) == []


def test_an_answer_over_the_schemas_bounds_is_re_asked_never_stored(
    seed_summary: dict[str, Any], tmp_path: Path
) -> None:
    """A 1 MB headline (under the body cap) is a re-ask, then exit 40: it used to be
    printed and cached as the summary."""
    with HostileModel("big_headline", good=seed_summary) as server:
        proc, _ = run("summarize", str(SEED), *model_args(server.url))
    one_line_error(proc, 40, "key_summary.headline is 999999 characters long; at most 480")
    assert len(server.requests) == 3  # the answer and 2 re-asks
    assert cached(tmp_path) == []


def test_a_key_echoed_in_an_error_is_never_printed(seed_summary: dict[str, Any]) -> None:
    with HostileModel("echo_headers", good=seed_summary) as server:
        proc, _ = run("summarize", str(SEED), *model_args(server.url))
    line = one_line_error(proc, 32, "answered HTTP 500 after 2 tries")
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert "authorization: ***" in line
    no_secrets(proc.stderr)


def test_a_key_echoed_in_a_retried_error_stays_out_of_meta_and_the_cache(
    seed_summary: dict[str, Any], tmp_path: Path
) -> None:
    """The 500 is retried and the summary arrives: meta.transport_errors keeps the
    500's message, meta.base_url the URL, neither the key nor the password."""
    with HostileModel("echo_headers", good=seed_summary, times=1) as server:
        proc, _ = run("summarize", str(SEED), *model_args(with_password(server.url)))
    assert proc.returncode == 0, proc.stderr.decode()
    meta = json.loads(proc.stdout)["meta"]
    assert meta["attempts"]["transport_retries"] == 1
    assert "authorization: ***" in meta["transport_errors"][0]
    assert meta["base_url"] == server.url.replace("http://", "http://***@")
    assert len(cached(tmp_path)) == 1  # stored, and without the secrets
    no_secrets(proc.stdout, proc.stderr, cache_bytes(tmp_path))


@pytest.mark.parametrize("value", ["86400", "1e999", "nan"])
def test_an_absurd_retry_after_is_capped_or_ignored(
    value: str, seed_summary: dict[str, Any]
) -> None:
    """Retry-After: 86400 (or 1e999, infinity) waits --retry-max-wait, not a day
    (nor the default cap, 30 s); nan used to crash the sleep ("internal error:
    ValueError")."""
    with HostileModel("retry_after", good=seed_summary, retry_after=value) as server:
        args = model_args(server.url, "--retry-max-wait", "0.5")
        proc, took = run("summarize", str(SEED), *args)
    one_line_error(proc, 32, "answered HTTP 429 after 2 tries")
    assert len(server.requests) == 2
    assert took < 20


# -- batch: one hostile answer, the other articles intact ---------------------------


def _articles(tmp_path: Path, seed_text: str) -> Path:
    """Three articles the seed summary grounds in; two of them get good answers."""
    rows = [
        {"id": "good1", "text": f"{seed_text}\n\n{GOOD} 1"},
        {"id": "hostile", "text": seed_text},
        {"id": "good2", "text": f"{seed_text}\n\n{GOOD} 2"},
    ]
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


BATCH_CASES = [
    ("drip", 30, "did not answer in full within"),
    ("endless_slow", 30, "did not answer in full within"),
    ("huge", 33, "over the 4 MB cap"),
    ("gzip_bomb", 33, "over the 4 MB cap"),
    ("deep", 33, "nested too deeply"),
    ("html", 33, "is not JSON"),
    ("echo_headers", 32, "answered HTTP 500"),
]


@pytest.mark.parametrize(("mode", "code", "fragment"), BATCH_CASES, ids=[c[0] for c in BATCH_CASES])
def test_batch_with_one_hostile_answer_keeps_the_others(
    mode: str, code: int, fragment: str, seed_summary: dict[str, Any], seed_text: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out.jsonl"
    with HostileModel(mode, good=seed_summary) as server:
        proc, took = run(
            "batch", str(_articles(tmp_path, seed_text)), "--out", str(out),
            *model_args(with_password(server.url)),
        )  # fmt: skip
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 60, err
    assert "Traceback" not in err
    assert "internal error" not in err
    assert len([line for line in err.splitlines() if line.strip()]) <= 2, err  # stats + error
    assert took < 25, f"{mode}: {took:.1f}s"
    rows = {row["id"]: row for row in map(json.loads, out.read_text("utf-8").splitlines())}
    assert set(rows) == {"good1", "hostile", "good2"}
    for good in ("good1", "good2"):
        assert rows[good]["status"] == "ok"
        headline = rows[good]["summary"]["key_summary"]["headline"]
        assert headline == seed_summary["key_summary"]["headline"]
    error = rows["hostile"]["error"]
    assert error["exit_code"] == code, error
    assert fragment in error["message"]
    assert "\n" not in error["message"]
    no_secrets(out.read_bytes(), proc.stderr, cache_bytes(tmp_path))


# -- the pieces the cases above rely on ------------------------------------------------


def test_only_the_response_model_holds_answers_to_the_schemas_bounds(
    seed_summary: dict[str, Any],
) -> None:
    """Golden files and stored summaries load through the public contract, which is
    not made stricter; the model's answers go through the response model, which is."""
    from summarizer import ArticleSummary
    from summarizer.backends.extraction import response_model

    seed_summary["key_summary"]["headline"] = "Breaking " * 100
    seed_summary["actors"][0]["aliases"] = [f"alias {i}" for i in range(25)]
    assert ArticleSummary.model_validate(seed_summary).key_summary.headline
    with pytest.raises(ValueError, match=r"key_summary\.headline is 900 characters long"):
        response_model().model_validate(seed_summary)
    seed_summary["key_summary"]["headline"] = "Breaking " * 50  # over 120, within slack
    with pytest.raises(ValueError, match=r"actors\[0\]\.aliases has 25 items; at most 24"):
        response_model().model_validate(seed_summary)


def test_the_sync_transport_has_its_deadline_on_the_connection_pool() -> None:
    """It lives on a private attribute of httpx's transport; an upgrade that moves it
    must fail here, not silently let slow answers through again."""
    from summarizer.backends.http import BoundedTransport
    from summarizer.deadline import DeadlineTransport

    assert DeadlineTransport().has_deadline
    assert BoundedTransport().has_deadline


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"authorization: Bearer {KEY}; accept: */*", "authorization: ***; accept: */*"),
        ("{'Authorization': 'Basic dXNlcjpodW50ZXIy'}", "{'Authorization': '***'}"),
        (f"http://user:{PASSWORD}@host/v1 failed", "http://***@host/v1 failed"),
        ("a basic understanding of Bearer tokens", "a basic understanding of Bearer tokens"),
    ],
)
def test_redaction(text: str, kept: str) -> None:
    from summarizer.redact import redact

    assert redact(text) == kept
