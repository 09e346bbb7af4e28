"""What users expect of a command line (#16): ``-m``, a clean ``--help``, shell
completion, ``exit-codes`` with meanings, several inputs to ``summarize``, one-line
errors for every bad path, and library errors that name library parameters.

The model is the offline default (``rules``) unless a test starts the fake server.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import ArticleSummary
from summarizer.cli import app
from summarizer.errors import (
    EXIT_CODES,
    ConfigurationError,
    InputIsDirectoryError,
    InputNotFoundError,
    InputNotRegularFileError,
    SummarizerError,
    _leaves,
)
from summarizer.inputs.read import read_article
from tests.conftest import SEED
from tests.fakeserver import FakeOpenAI, Reply, completion, error_reply, summary_reply
from tests.test_cli import cli_env, run_cli

runner = CliRunner()


def _errors(proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    err = proc.stderr.decode()
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.strip()]


def _summaries(stdout: bytes) -> list[ArticleSummary]:
    return [ArticleSummary.model_validate_json(line) for line in stdout.decode().splitlines()]


@pytest.fixture
def articles(tmp_path: Path, seed_text: str) -> Path:
    """a.txt and b.txt (the seed article), a file to path through, a directory."""
    (tmp_path / "a.txt").write_text(seed_text, encoding="utf-8")
    (tmp_path / "b.txt").write_text(seed_text, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("Notes.", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    return tmp_path


# -- -m ----------------------------------------------------------------------------------


def test_m_is_short_for_model_in_summarize_and_batch(articles: Path) -> None:
    one = runner.invoke(app, ["summarize", str(articles / "a.txt"), "-m", "baseline/lead"])
    assert one.exit_code == 0, one.stderr
    assert json.loads(one.stdout)["meta"]["model"] == "baseline/lead"
    # batch and summarize declare it once (ModelOptions): -m wants its value in both.
    for command in ("summarize", "batch"):
        bare = runner.invoke(app, [command, str(articles / "a.txt"), "-o", "o.jsonl", "-m"])
        assert bare.exit_code == 2
        assert "Option '-m' requires an argument" in bare.stderr


# -- --help ------------------------------------------------------------------------------

FLAGS = {"--help", "--version", "--install-completion", "--show-completion", "--strict",
         "--no-cache", "--jsonl", "--progress", "--json", "--gate-floor"}  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [[], ["summarize"], ["batch"], ["eval", "run"], ["exit-codes"]],
    ids=lambda c: " ".join(["summarizer", *c]),
)
def test_help_shows_flags_without_a_value(command: list[str]) -> None:
    helped = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert helped.exit_code == 0
    assert "<bool>" not in helped.stdout
    seen = set()
    for line in helped.stdout.splitlines():
        words = line.strip("│ ").split()
        if words and words[0] in FLAGS:
            seen.add(words[0])
            after = words[1] if words[1] not in ("--no-strict", "--no-progress") else words[2]
            assert not after.startswith("<"), line  # the help text, not a value's type
    assert "--help" in seen


def test_value_options_say_what_they_take() -> None:
    helped = runner.invoke(app, ["summarize", "--help"], terminal_width=200).stdout
    lines = {line.strip("│ ").split()[0]: line for line in helped.splitlines() if "│ --" in line}
    assert "-m" in lines["--model"].split()
    assert "<provider/name>" in lines["--model"]
    assert "<url>" in lines["--base-url"]
    assert "<file>" in lines["--output"]
    assert "<json|markdown|" in lines["--format"]
    assert "<int>" in lines["--max-reasks"]
    assert "<str>" not in helped  # a bare type says nothing about what to give
    assert "{INPUT}..." in helped  # one input or several


# -- shell completion --------------------------------------------------------------------


def _complete(words: str) -> list[str]:
    env = {"_SUMMARIZER_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split(" ")) - 1)}  # fmt: skip
    result = runner.invoke(app, [], prog_name="summarizer", env=env)
    assert result.exit_code == 0, result.stdout
    return result.stdout.split()


def test_completion_completes_commands_options_and_choices() -> None:
    assert {"summarize", "batch", "exit-codes", "eval"} <= set(_complete("summarizer "))
    assert _complete("summarizer summarize --js") == ["--jsonl"]
    assert _complete("summarizer summarize --format ") == ["json", "markdown", "text"]
    assert _complete("summarizer eval r") == ["run"]


def test_install_and_show_completion_for_the_users_shell(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("summarizer")  # the console script users run
    assert script.exists(), "install the package (make install) to get the console script"
    env = cli_env({"HOME": str(tmp_path)})
    # `; true`: bash stays the parent process, the shell completion is detected from.
    shown = subprocess.run(["bash", "-c", f"'{script}' --show-completion; true"],
                           capture_output=True, env=env, timeout=60, check=True)  # fmt: skip
    assert "complete -o default -F _summarizer_completion summarizer" in shown.stdout.decode()
    installed = subprocess.run(["bash", "-c", f"'{script}' --install-completion; true"],
                               capture_output=True, env=env, timeout=60, check=True)  # fmt: skip
    assert "bash completion installed" in installed.stdout.decode()
    completion_script = tmp_path / ".bash_completions" / "summarizer.sh"
    assert "_SUMMARIZER_COMPLETE=complete_bash" in completion_script.read_text()
    assert str(completion_script) in (tmp_path / ".bashrc").read_text()


# -- exit-codes --------------------------------------------------------------------------


def _own_codes() -> dict[int, str]:
    return {c.exit_code: c.__name__ for c in _leaves(SummarizerError) if "exit_code" in c.__dict__}


def test_exit_codes_lists_every_code_with_its_meaning() -> None:
    listed = runner.invoke(app, ["exit-codes"]).stdout.splitlines()
    by_code = {int(line.split()[0]): line.split(maxsplit=2)[1:] for line in listed}
    assert set(by_code) == {0, 2, 130, 141} | set(_own_codes())
    assert [by_code[c][0] for c in (0, 2, 130, 141)] == [
        "ok",
        "usage",
        "interrupted",
        "closed-pipe",
    ]
    for code, name in _own_codes().items():
        if code != 1:
            assert by_code[code][0] == name
    for code, (_name, meaning) in by_code.items():
        assert len(meaning) >= 7, f"exit code {code} has no meaning"
    assert "does not exist or cannot be read" in by_code[11][1]


def test_exit_codes_json_for_scripts() -> None:
    result = runner.invoke(app, ["exit-codes", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [row["code"] for row in rows] == list(EXIT_CODES)
    assert all(set(row) == {"code", "name", "meaning"} and row["meaning"] for row in rows)
    names = {row["code"]: row["name"] for row in rows}
    assert (names[130], names[41]) == ("interrupted", "UngroundedError")


# -- several inputs ----------------------------------------------------------------------


def test_several_inputs_jsonl_in_order_and_a_bad_one_costs_only_itself(articles: Path) -> None:
    proc = run_cli(
        "summarize", str(articles / "a.txt"), str(articles / "missing.txt"),
        str(articles / "notes.txt" / "x.html"), str(articles / "b.txt"),
    )  # fmt: skip
    assert proc.returncode == 11  # the first failure's code
    assert [s.meta["source"] for s in _summaries(proc.stdout)] == [
        str(articles / "a.txt"), str(articles / "b.txt"),
    ]  # fmt: skip
    errors = _errors(proc)
    assert errors == [
        f"summarizer: error: {articles / 'missing.txt'}: no such file",
        f"summarizer: error: {articles / 'notes.txt' / 'x.html'}: no such file "
        f"({articles / 'notes.txt'} is a file, not a directory)",
    ]


def test_the_exit_code_is_the_first_failures(articles: Path, seed_text: str) -> None:
    proc = run_cli("summarize", str(articles / "folder"), "-", str(articles / "missing.txt"),
                   stdin=seed_text.encode())  # fmt: skip
    assert proc.returncode == 12
    (summary,) = _summaries(proc.stdout)
    assert summary.meta["source"] == "<stdin>"
    assert len(_errors(proc)) == 2


def test_jsonl_forces_json_lines_for_one_input(articles: Path) -> None:
    result = runner.invoke(app, ["summarize", "--jsonl", str(articles / "a.txt")])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    ArticleSummary.model_validate_json(result.stdout)
    plain = runner.invoke(app, ["summarize", str(articles / "a.txt")])
    assert plain.stdout.count("\n") > 10  # one input without --jsonl: indented, as before


@pytest.mark.parametrize(
    ("fmt", "rule"),
    [("markdown", "\n---\n\n"), ("text", "\n" + "=" * 72 + "\n\n")],
    ids=["markdown", "text"],
)
def test_several_inputs_for_people_are_separated_by_a_rule(
    articles: Path, fmt: str, rule: str
) -> None:
    both = runner.invoke(
        app, ["summarize", "-f", fmt, str(articles / "a.txt"), str(articles / "b.txt")]
    )
    one = runner.invoke(app, ["summarize", "-f", fmt, str(articles / "a.txt")])
    assert both.exit_code == one.exit_code == 0
    first, second = both.stdout.split(rule)
    assert first.rstrip("\n") == one.stdout.rstrip("\n")
    assert second.splitlines()[0] == one.stdout.splitlines()[0]


def test_output_file_gets_every_good_summary(articles: Path) -> None:
    out = articles / "all.jsonl"
    proc = run_cli("summarize", str(articles / "a.txt"), str(articles / "folder"),
                   str(articles / "b.txt"), "-o", str(out))  # fmt: skip
    assert proc.returncode == 12
    assert proc.stdout == b""
    assert len(_summaries(out.read_bytes())) == 2
    nothing = articles / "none.jsonl"
    proc = run_cli("summarize", str(articles / "missing.txt"), str(articles / "folder"),
                   "-o", str(nothing))  # fmt: skip
    assert proc.returncode == 11
    assert not nothing.exists()  # no summary: the file is left as it was


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--jsonl", "-f", "text", "a.txt"], "--jsonl prints the JSON contract"),
        (["--title", "T", "a.txt", "b.txt"], "--title names one article"),
        (["-", "-"], "- (stdin) is given more than once"),
    ],
    ids=["jsonl-text", "title-several", "stdin-twice"],
)
def test_options_that_cannot_apply_are_refused(
    articles: Path, args: list[str], fragment: str
) -> None:
    args = [str(articles / a) if a.endswith(".txt") else a for a in args]
    proc = run_cli("summarize", *args)
    assert proc.returncode == 20
    (line,) = _errors(proc)
    assert line.startswith("summarizer: error: ")
    assert fragment in line
    assert proc.stdout == b""


def test_a_failed_answer_is_one_input_and_the_next_is_summarized(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], articles: Path
) -> None:
    fake_openai.queue(
        Reply(body=completion(content="Sorry, I can't.")), summary_reply(seed_summary)
    )
    proc = run_cli("summarize", str(articles / "a.txt"), str(articles / "b.txt"), "-m", "m",
                   "--base-url", fake_openai.url, "--max-reasks", "0", "--no-cache")  # fmt: skip
    assert proc.returncode == 40
    (summary,) = _summaries(proc.stdout)
    assert summary.meta["source"] == str(articles / "b.txt")
    (line,) = _errors(proc)
    assert line.startswith(f"summarizer: error: {articles / 'a.txt'}: ")


def test_an_error_every_input_would_meet_stops_at_once(
    fake_openai: FakeOpenAI, articles: Path
) -> None:
    fake_openai.default = error_reply(401, "bad key")
    proc = run_cli("summarize", str(articles / "a.txt"), str(articles / "b.txt"), "-m", "m",
                   "--base-url", fake_openai.url, env={"OPENAI_API_KEY": "sk-wrong"})  # fmt: skip
    assert proc.returncode == 31
    assert len(fake_openai.requests) == 1  # b.txt was not tried
    (line,) = _errors(proc)
    assert "rejected the credentials" in line


# -- bad paths: one clear error each -------------------------------------------------------


@pytest.mark.parametrize("through", ["x.html", "", ".", "sub/a.txt"])
def test_a_path_through_a_file_is_not_found(articles: Path, through: str) -> None:
    target = f"{articles / 'notes.txt'}/{through}"
    with pytest.raises(InputNotFoundError, match=r"notes\.txt is a file, not a directory"):
        read_article(target)


def test_a_path_through_a_file_is_exit_11_on_the_command_line(articles: Path) -> None:
    proc = run_cli("summarize", f"{articles / 'notes.txt'}/")  # used to summarize notes.txt
    assert proc.returncode == 11
    assert _errors(proc) == [
        f"summarizer: error: {articles / 'notes.txt'}/: no such file "
        f"({articles / 'notes.txt'} is a file, not a directory)"
    ]


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (lambda d: "", InputNotFoundError, "an empty path"),
        (lambda d: f"{d}/a\x00b.txt", InputNotFoundError, "NUL"),
        (lambda d: str(d / ("x" * 300)), InputNotFoundError, "cannot be read"),
        (lambda d: str(d / "loop"), InputNotFoundError, "symbolic link loop"),
        (lambda d: str(d / "folder"), InputIsDirectoryError, "is a directory"),
        (lambda d: f"{d / 'folder'}/", InputIsDirectoryError, "is a directory"),
        (lambda d: str(d / "fifo"), InputNotRegularFileError, "a FIFO"),
    ],
    ids=["empty", "nul", "too-long", "loop", "directory", "directory-slash", "fifo"],
)
def test_every_bad_path_is_an_input_error(
    articles: Path, make: Any, error: type[Exception], fragment: str
) -> None:
    (articles / "loop").symlink_to(articles / "loop")
    os.mkfifo(articles / "fifo")  # opening it would block: refused from its stat
    with pytest.raises(error, match=fragment):
        read_article(make(articles))


def test_permission_denied_is_not_found(articles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads any file, so the refusal is simulated where the file is opened.
    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("summarizer.inputs.read.os.open", refuse)
    with pytest.raises(InputNotFoundError, match=r"a\.txt: permission denied"):
        read_article(articles / "a.txt")


# -- the library's batch errors name its parameters ------------------------------------------


def test_run_batch_errors_name_the_parameter_and_the_flag(articles: Path) -> None:
    from summarizer.batch import BatchOptions, run_batch
    from summarizer.settings import Settings

    settings = Settings.resolve(model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(
        ConfigurationError, match=r"^a cost limit \(max_cost, --max-cost\) needs a price"
    ):
        run_batch([SEED], articles / "o.jsonl", settings, BatchOptions(max_cost=1.0), prices={})
    a = articles / "a.txt"
    with pytest.raises(
        ConfigurationError, match=r"^the output file \(out, --out\) .* is one of the inputs"
    ):
        run_batch([a], a, settings, BatchOptions(), prices={})


def test_ctrl_c_keeps_the_summaries_finished_before_it_in_the_output_file(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], tmp_path: Path
) -> None:
    """Each finished summary was paid for: Ctrl-C writes them to -o (whole), then 130
    (found by a review: the file was never created)."""
    import signal
    import time

    from tests.test_cli import start_cli

    fake_openai.queue(summary_reply(seed_summary), Reply(delay=60.0))
    out = tmp_path / "out.jsonl"
    proc = start_cli("summarize", str(SEED), str(SEED), "-m", "fake-model",
                     "--base-url", fake_openai.url, "--no-cache", "-o", str(out))  # fmt: skip
    deadline = time.monotonic() + 60
    while len(fake_openai.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_openai.requests) == 2  # the first is done, the second waits
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert ArticleSummary.model_validate_json(lines[0]).meta["source"] == str(SEED)


def test_a_full_stdout_is_a_one_line_error(tmp_path: Path) -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "summarizer", "summarize", str(SEED), str(SEED)],
            stdout=full, stderr=subprocess.PIPE, env=cli_env(), timeout=120, check=False,
        )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == ConfigurationError.exit_code, err
    assert err.strip().splitlines() == [
        "summarizer: error: stdout cannot be written (No space left on device)"
    ]
