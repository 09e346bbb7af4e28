"""The CLI as users run it: real entry point (subprocess) and in-process runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import ArticleSummary, ConfigurationError
from summarizer.cli import app
from tests.conftest import ROOT, SEED
from tests.fakeserver import FakeOpenAI, Reply, completion, error_reply, summary_reply

runner = CliRunner()


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI subprocess: no key, endpoint or model from outside."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SUMMARIZER_MODEL")
    }
    full_env.update(env or {})
    return full_env


def run_cli(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m summarizer ARGS`` in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        input=stdin,
        capture_output=True,
        env=cli_env(env),
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def start_cli(*args: str) -> subprocess.Popen[bytes]:
    """:func:`run_cli` in the background, for tests that interrupt it."""
    return subprocess.Popen(
        [sys.executable, "-m", "summarizer", *args],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _one_line_error(proc: subprocess.CompletedProcess[bytes], code: int, fragment: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("summarizer: error: ")
    assert fragment in lines[0]
    assert proc.stdout == b""


FAKE = ["--model", "fake-model", "--base-url", "http://127.0.0.1:9/v1"]


@pytest.mark.parametrize(
    ("make_input", "stdin", "code", "fragment"),
    [
        (lambda d: str(d / "empty.txt"), None, 10, "the article is empty"),
        (lambda d: str(d / "blank.txt"), None, 10, "the article is empty"),
        (lambda d: "-", b" \n\t \n", 10, "<stdin>: the article is empty"),
        (lambda d: str(d / "missing.txt"), None, 11, "no such file"),
        (lambda d: str(d), None, 12, "is a directory"),
        (lambda d: str(d / "binary.bin"), None, 13, "binary file"),
        (lambda d: str(d / "latin1.txt"), None, 13, "not UTF-8"),
        (lambda d: str(d / "huge.txt"), None, 14, "context"),
    ],
    ids=[
        "empty",
        "whitespace",
        "stdin-empty",
        "missing",
        "directory",
        "binary",
        "latin1",
        "too-long",
    ],
)
def test_bad_input_exits_with_its_own_code(
    tmp_path: Path, make_input: Any, stdin: bytes | None, code: int, fragment: str
) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"   \n\n  \t\n")
    (tmp_path / "binary.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 society met in M\xfcnchen.".encode("latin-1"))
    # Over the default --max-parts 16 for a 32k-token context: too long even split.
    (tmp_path / "huge.txt").write_text("The council met again today. " * 80_000, encoding="utf-8")
    proc = run_cli("summarize", make_input(tmp_path), *FAKE, stdin=stdin)
    _one_line_error(proc, code, fragment)


def test_openai_model_without_key_is_a_configuration_error() -> None:
    proc = run_cli("summarize", str(SEED), "--model", "openai/gpt-4o-mini")
    _one_line_error(proc, 20, "no API key for OpenAI")


def test_unreachable_endpoint_exit_code() -> None:
    proc = run_cli("summarize", str(SEED), *FAKE, "--retries", "1")
    _one_line_error(proc, 30, "cannot reach http://127.0.0.1:9/v1: connection refused")


def test_auth_error_exit_code(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = error_reply(401, "bad key")
    proc = run_cli(
        "summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url,
        env={"OPENAI_API_KEY": "sk-wrong"},
    )  # fmt: skip
    _one_line_error(proc, 31, "rejected the credentials (HTTP 401)")
    assert fake_openai.headers[0]["authorization"] == "Bearer sk-wrong"


def test_never_valid_output_exit_code(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = Reply(body=completion(content="Sorry, I can't."))
    proc = run_cli("summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url)
    _one_line_error(proc, 40, "no valid summary in 3 answers")


def test_strict_exit_code(fake_openai: FakeOpenAI, seed_summary: dict[str, Any]) -> None:
    seed_summary["actors"][1]["evidence"][0]["quote"] = "Putin said nothing at all to anyone"
    fake_openai.default = summary_reply(seed_summary)
    proc = run_cli(
        "summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url, "--strict",
        "--max-reasks", "1",
    )  # fmt: skip
    _one_line_error(proc, 41, "lack support in the article")
    assert len(fake_openai.requests) == 2


def test_unknown_prompt_exit_code() -> None:
    proc = run_cli("summarize", str(SEED), *FAKE, "--prompt", "summarize@v999")
    _one_line_error(proc, 21, "has no version 'v999'")


def test_summarize_json_from_file_via_env_base_url(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], seed_text: str
) -> None:
    fake_openai.queue(summary_reply(seed_summary))
    proc = run_cli(
        "summarize", str(SEED),
        env={"OPENAI_BASE_URL": fake_openai.url, "SUMMARIZER_MODEL": "served-model"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    summary = ArticleSummary.model_validate_json(proc.stdout)
    assert fake_openai.requests[0]["model"] == "served-model"
    for ev in summary.evidence():
        assert ev.start is not None
        assert seed_text[ev.start : ev.end] == ev.quote


def test_summarize_stdin_markdown_and_output_file(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], tmp_path: Path
) -> None:
    fake_openai.queue(summary_reply(seed_summary), summary_reply(seed_summary))
    out = tmp_path / "summary.md"
    proc = run_cli(
        "summarize", "-", "--format", "markdown", "--output", str(out),
        "--model", "m", "--base-url", fake_openai.url,
        stdin=SEED.read_bytes(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Trump says Russia agreed")
    assert "## Commitments" in text
    assert "**Donald Trump** may meet Putin in person in Saudi Arabia" in text
    proc = run_cli(
        "summarize", str(SEED), "-f", "text", "--model", "m", "--base-url", fake_openai.url
    )
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith("TRUMP SAYS RUSSIA AGREED")


def test_schema_command_prints_the_contract() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "ArticleSummary"
    assert {
        "schema_version",
        "key_summary",
        "actors",
        "commitments",
        "open_questions",
        "meta",
    } <= set(schema["properties"])
    assert set(schema["$defs"]["Evidence"]["properties"]) >= {"quote", "start", "end"}
    llm = json.loads(runner.invoke(app, ["schema", "--llm"]).stdout)
    assert "meta" not in llm["properties"]
    assert set(llm["$defs"]["Evidence"]["properties"]) == {"quote"}


def test_prompts_list_and_show() -> None:
    listed = runner.invoke(app, ["prompts", "list"])
    assert listed.exit_code == 0
    assert "summarize@v1" in listed.stdout
    shown = runner.invoke(app, ["prompts", "show", "summarize@v1"])
    assert shown.exit_code == 0
    assert "<article>" in shown.stdout
    assert "sha256:" in shown.stdout
    missing = runner.invoke(app, ["prompts", "show", "nope@v1"])
    assert missing.exit_code == 21


def test_version_and_help() -> None:
    from importlib.metadata import version

    from summarizer import __version__

    # _version.py is the one place (pyproject reads it); the installed metadata agrees.
    assert runner.invoke(app, ["--version"]).stdout == f"summarizer {__version__}\n"
    assert version("summarizer") == __version__
    helped = runner.invoke(app, ["summarize", "--help"])
    assert helped.exit_code == 0
    assert "--base-url" in helped.stdout


def test_exit_codes_are_distinct() -> None:
    from summarizer.errors import EXIT_CODES, SummarizerError, _leaves

    own = [c for c in _leaves(SummarizerError) if "exit_code" in c.__dict__]
    assert len({c.exit_code for c in own}) == len(own), "two errors share an exit code"
    for cls in _leaves(SummarizerError):
        if not cls.__subclasses__():
            assert "exit_code" in cls.__dict__, f"{cls.__name__} has no exit code of its own"
    listed = runner.invoke(app, ["exit-codes"]).stdout.splitlines()
    assert len(listed) == len(EXIT_CODES) == len(own) + 4  # + 0, 2, 130 and 141
    assert any(line.split()[:2] == ["41", "UngroundedError"] for line in listed)
    for code in (0, 1, 2, 60, 62, 130, 141):
        line = next(x for x in listed if x.split()[0] == str(code))
        assert len(line.split()) >= 3, f"exit code {code} has no meaning: {line!r}"


def test_closed_pipe_is_not_an_error() -> None:
    proc = subprocess.run(
        ["bash", "-c",
         f"'{sys.executable}' -m summarizer eval check -d evals/wikinews | head -n 1"],
        capture_output=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert proc.stdout.decode().count("\n") == 1
    assert proc.stderr == b""


def test_summarize_caches_answers_unless_told_not_to(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    args = ("summarize", str(SEED), "--model", "m", "--base-url", fake_openai.url)
    first = run_cli(*args)
    second = run_cli(*args)
    assert first.returncode == second.returncode == 0, second.stderr.decode()
    assert len(fake_openai.requests) == 1
    assert json.loads(second.stdout)["meta"]["cache"]["hit"] is True
    third = run_cli(*args, "--no-cache")
    assert third.returncode == 0
    assert len(fake_openai.requests) == 2
    assert "cache" not in json.loads(third.stdout)["meta"]


# Start-up: what a command that calls no model must not import (each costs from 0.1 s
# to 1.5 s before the command can print anything). Commands import them when they run.
HEAVY_PACKAGES = ("openai", "instructor", "llama_cpp", "trafilatura", "httpx")
HEAVY_MODULES = ("summarizer.pipeline", "summarizer.batch", "summarizer.backends")


@pytest.mark.parametrize(
    "args",
    [["--version"], ["schema"], ["schema", "--llm"], ["exit-codes"], ["prompts", "list"],
     ["eval", "check", "-d", "evals/wikinews"], ["cache", "stats"]],
    ids=" ".join,
)  # fmt: skip
def test_commands_that_call_no_model_import_no_sdk(args: list[str], tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from summarizer.cli import app\n"
        f"try:\n    app({args!r})\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        f"    if m.split('.')[0] in {HEAVY_PACKAGES!r} or m.startswith({HEAVY_MODULES!r}))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, cwd=ROOT, timeout=120, check=False,
        env=cli_env({"SUMMARIZER_CACHE_DIR": str(tmp_path)}),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout.decode().splitlines()[-1]) == []


def test_model_options_are_declared_once_for_summarize_and_batch() -> None:
    from dataclasses import fields

    from summarizer.cli.options import ModelOptions

    wanted = [f"--{f.name.replace('_', '-')}" for f in fields(ModelOptions)]
    for command in ("summarize", "batch"):
        helped = runner.invoke(app, [command, "--help"], terminal_width=200)
        assert helped.exit_code == 0
        listed = [word for word in helped.stdout.split() if word in wanted]
        assert listed == wanted, command  # all of them, in the declared order


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (lambda: ConfigurationError("no model"), 20, "summarizer: error: no model"),
        (KeyboardInterrupt, 130, "summarizer: interrupted; see /tmp/out"),
        (
            lambda: ValueError("boom"),
            1,
            "summarizer: internal error: ValueError: boom (please report this with the "
            "command you ran)",
        ),
    ],
    ids=["ours", "interrupt", "bug"],
)
def test_every_error_is_one_line_and_an_exit_code(error: Any, code: int, line: str) -> None:
    import typer

    from summarizer.cli.errors import handle_errors

    single = typer.Typer()

    @single.command()
    @handle_errors(interrupted="summarizer: interrupted; see {out}")
    def command(out: str = "/tmp/out") -> None:
        raise error()

    result = runner.invoke(single, [])
    assert result.exit_code == code
    assert result.stderr == line + "\n"
    assert result.stdout == ""


def test_plain_options_are_coerced_without_pydantic_adapters() -> None:
    """typer builds a pydantic adapter (0.11 s of imports) for every option unless
    summarizer.cli.coercion routes plain types past it: if typer's internals move,
    this fails instead of start-up silently slowing down."""
    code = (
        "import sys\nfrom summarizer.cli.app import app\n"
        "sys.argv = ['summarizer', 'eval', 'check', '-d', 'evals/wikinews', '--limit', '2']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    code = e.code\n"
        "print(code, 'typer._adapters' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT,
                          env=cli_env(), timeout=120, check=False)  # fmt: skip
    assert proc.stderr.decode().strip().splitlines()[-1] == "0 False", proc.stderr.decode()
    for bad, message in ((["--limit", "abc"], "valid integer"), (["--limit", "0"], "greater than")):
        proc = run_cli("eval", "check", "-d", "evals/wikinews", *bad)
        assert proc.returncode == 2
        assert message in proc.stderr.decode()
