"""Seeing what it does (#16): -v/-vv/-q, failing fast on a server that cannot be
reached, and re-ask defaults per backend."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.backends.base import max_reasks_for
from summarizer.backends.extraction import Extractor
from summarizer.backends.function import FunctionBackend
from summarizer.cli.app import app
from summarizer.cli.verbosity import configure, notice
from summarizer.errors import ConfigurationError, ProviderUnreachableError
from summarizer.pipeline import Summarizer
from summarizer.settings import Settings
from tests.conftest import ROOT, SEED
from tests.fakeserver import FakeOpenAI, Reply, error_reply, summary_reply

runner = CliRunner()


# Each test starts and ends with the library's defaults (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("library_defaults")


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lines(text: str) -> list[str]:
    """-v lines without their time stamps."""
    return [re.sub(r"^summarizer \[ *[\d.]+s\] ", "", line) for line in text.splitlines()]


def ungrounded(summary: dict[str, Any]) -> dict[str, Any]:
    bad: dict[str, Any] = json.loads(json.dumps(summary))
    bad["actors"][0]["evidence"][0]["quote"] = "Trump promised to end the war within 24 hours"
    return bad


# -- -v, -vv, -q ---------------------------------------------------------------------


def test_verbose_says_what_is_done(fake_openai: FakeOpenAI, seed_summary: dict[str, Any]) -> None:
    fake_openai.queue(
        error_reply(503, "overloaded"),
        summary_reply(ungrounded(seed_summary)),
        summary_reply(seed_summary),
    )
    args = ["summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url]
    first = cli("-v", *args, "--retry-max-wait", "0")
    assert first.exit_code == 0, first.stderr
    said = lines(first.stderr)
    model = f"model compatible/m ({fake_openai.url}), prompt summarize@v1, up to 2 re-asks"
    assert said[0] == model
    assert re.fullmatch(
        rf"{fake_openai.url}: InternalServerError: Error code: 503 .*overloaded.*; "
        r"sending the request again in \d+\.\ds \(retry 1 of 4\)",
        said[1],
    ), said[1]
    assert re.fullmatch(
        rf"{SEED}: answer 1 from compatible/m in \d+\.\d\ds \(700 prompt \+ 300 answer "
        r"tokens, stop\)",
        said[2],
    ), said[2]
    assert said[3].startswith(f"{SEED}: re-asking the model (answer 1 of at most 3 rejected): ")
    assert "Trump promised to end the war within 24 hours" in said[3]
    assert said[4].startswith(f"{SEED}: answer 2 from compatible/m in ")
    assert len(said) == 5
    assert json.loads(first.stdout)["meta"]["attempts"]["reasks"] == 1  # stdout untouched

    again = cli("-v", *args)
    assert lines(again.stderr)[1] == f"{SEED}: the answer cache has its summary (no model call)"


def test_very_verbose_adds_request_sizes(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], seed_text: str
) -> None:
    fake_openai.queue(summary_reply(seed_summary))
    result = cli("-vv", "summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url)
    sizes = [line for line in lines(result.stderr) if "request of" in line]
    assert len(sizes) == 1
    chars = int(re.search(r"request of 2 messages, (\d+) characters", sizes[0])[1])  # type: ignore[index]
    assert chars > len(seed_text)  # the article and the instructions


def test_default_prints_what_it_printed_before(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.queue(error_reply(503), summary_reply(seed_summary))
    args = ["summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url]
    result = cli(*args, "--retry-max-wait", "0")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert logging.getLogger("summarizer").handlers == []


def test_verbose_and_quiet_together_is_a_usage_error() -> None:
    result = cli("-v", "-q", "schema")
    assert result.exit_code == 2
    assert "contradict" in result.stderr


def test_quiet_silences_notices_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(0, True)
    notice("using the embedded model")
    configure(0, False)
    notice("using the embedded model")
    assert capsys.readouterr().err == "summarizer: using the embedded model\n"
    # A broken answer cache is a warning on stderr, which -q silences (a real process:
    # logging's last resort is what prints it).
    cache = tmp_path / "answer-cache"
    cache.mkdir()
    (cache / "answers.sqlite3").write_bytes(b"not a database " * 100)
    for flags, warned in (([], True), (["-q"], False)):
        proc = subprocess.run(
            [sys.executable, "-m", "summarizer", *flags, "summarize", str(SEED)],
            capture_output=True, cwd=ROOT, timeout=120, check=False, text=True,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert ("answer cache" in proc.stderr) is warned, proc.stderr
        assert json.loads(proc.stdout)["key_summary"]["headline"]


def test_the_library_never_configures_logging(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    """Only the programs (the CLI, and the server's process entry point) install a
    handler; the library logs and nothing else."""
    programs = ("cli/", "serve/run.py")
    offenders = [
        f"{path.relative_to(ROOT)}: {call}"
        for path in (ROOT / "summarizer").rglob("*.py")
        if not path.relative_to(ROOT / "summarizer").as_posix().startswith(programs)
        for call in ("addHandler(", "basicConfig(", "StreamHandler(", ".setLevel(")
        if call in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    fake_openai.queue(summary_reply(seed_summary))
    with Summarizer(model="m", base_url=fake_openai.url) as s:
        s.summarize(SEED.read_text())
    assert logging.getLogger("summarizer").handlers == []
    assert (list(root.handlers), root.level) == before


# -- fail fast on a server that cannot be reached ------------------------------------


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``nonexistent.invalid`` does not resolve, as .invalid never does (without
    asking a resolver: tests never reach the network)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "nonexistent.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("no_dns")
@pytest.mark.parametrize("how", ["sync", "async"])
@pytest.mark.parametrize(
    ("where", "said"),
    [("http://127.0.0.1:{port}/v1", "connection refused; is the server running? "
      "(--base-url / OPENAI_BASE_URL)"),
     ("http://nonexistent.invalid/v1", "its host name does not resolve; check --base-url / "
      "OPENAI_BASE_URL")],
    ids=["refused", "unresolved"],
)  # fmt: skip
def test_an_unreachable_server_fails_at_once(where: str, said: str, how: str) -> None:
    url = where.format(port=free_port())
    text = SEED.read_text()
    started = time.monotonic()
    # The default retries (4, from 0.5 s) took ~9 s before failing, for nothing.
    with Summarizer(model="m", base_url=url) as s:
        summarize = s.summarize if how == "sync" else lambda t: asyncio.run(s.asummarize(t))
        with pytest.raises(ProviderUnreachableError) as info:
            summarize(text)
    assert time.monotonic() - started < 2
    assert str(info.value) == f"cannot reach {url}: {said}"
    assert info.value.exit_code == 30
    assert info.value.meta["attempts"]["transport_retries"] == 0


def test_the_cli_says_it_in_one_line_with_exit_30() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = cli("summarize", str(SEED), "--model", "m", "--base-url", url)
    assert result.exit_code == 30
    assert result.stderr.splitlines() == [
        f"summarizer: error: cannot reach {url}: connection refused; is the server running? "
        "(--base-url / OPENAI_BASE_URL)"
    ]


def test_a_server_that_answered_once_is_retried_when_it_refuses(
    seed_summary: dict[str, Any],
) -> None:
    """A refused connection after the server answered is a restart: retried."""
    server = FakeOpenAI().start()
    server.queue(summary_reply(seed_summary))
    with Summarizer(
        model="m",
        base_url=server.url,
        max_transport_retries=2,
        retry_initial_wait=0.01,
        retry_max_wait=0.05,
    ) as s:
        assert s.summarize(SEED.read_text()).key_summary.headline
        server.stop()
        with pytest.raises(ProviderUnreachableError) as info:
            s.summarize(SEED.read_text() + "\nOne more line.")
    assert info.value.meta["attempts"]["transport_retries"] == 2
    assert str(info.value).endswith("connection refused (3 tries); is the server running? "
                                    "(--base-url / OPENAI_BASE_URL)")  # fmt: skip


@pytest.mark.parametrize(
    "fault", [error_reply(503), error_reply(429), Reply(delay=1.0)], ids=["503", "429", "timeout"]
)
def test_other_faults_on_the_first_request_keep_their_retries(
    fault: Reply, fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.queue(fault, summary_reply(seed_summary))
    with Summarizer(
        model="m",
        base_url=fake_openai.url,
        timeout=0.5,
        retry_initial_wait=0.01,
        retry_max_wait=0.05,
    ) as s:
        result = s.summarize(SEED.read_text())
    assert result.meta["attempts"]["transport_retries"] == 1


# -- re-ask defaults per backend -----------------------------------------------------


def reasks(s: Summarizer) -> int:
    assert isinstance(s.extractor, Extractor)
    return s.extractor.max_reasks


def test_re_asks_default_per_backend() -> None:
    assert Settings().max_reasks is None  # unset: the backend decides
    assert reasks(Summarizer(model="m", base_url="http://127.0.0.1:9/v1")) == 2
    # A re-ask is a whole generation for the embedded model (a minute or more).
    assert reasks(Summarizer(model="local")) == 0
    assert reasks(Summarizer(model="local", max_reasks=3)) == 3
    assert max_reasks_for(FunctionBackend(lambda body: "{}"), None) == 2  # no attribute: 2
    assert max_reasks_for(object(), 0) == 0
    with pytest.raises(ConfigurationError):
        Settings.resolve(max_reasks=-1)


@pytest.mark.parametrize(("flags", "requests"), [([], 3), (["--max-reasks", "0"], 1)])
def test_a_server_gets_two_re_asks_unless_told(
    flags: list[str], requests: int, fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(ungrounded(seed_summary))
    result = cli("summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url, *flags)
    assert result.exit_code == 0, result.stderr  # salvaged: the bad actor dropped
    assert len(fake_openai.requests) == requests


def test_unset_and_the_default_share_cached_answers(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.queue(summary_reply(seed_summary))
    args = ["summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url]
    assert cli(*args).exit_code == 0
    second = cli(*args, "--max-reasks", "2")
    assert json.loads(second.stdout)["meta"]["cache"]["hit"] is True
    assert len(fake_openai.requests) == 1
