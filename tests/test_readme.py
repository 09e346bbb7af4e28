"""README.md's code blocks, run the way a new user would run them (issue #16).

A README whose commands drifted from the code is the first thing a new user meets,
and nothing else would notice. So every command of its shell blocks runs here as
written (the same words, through bash), in README order, in one working directory
prepared as a user's checkout would be: the files the commands name, a home, config
and cache of its own, ``summarizer`` on PATH, and ``export``/``unset`` carried on as
in one shell. A command that names a model endpoint gets the fake OpenAI server,
answering each article with its golden summary: through ``OPENAI_BASE_URL`` for
OpenAI, and on the provider's own default port (Ollama's 11434, ...) when the command
relies on it, so that default is tested too. Python blocks run as scripts, TOML
blocks are loaded as the config and prices files they are. What cannot run here is
skipped with its reason; a command the README gets right and the code gets wrong
would be an xfail naming the bug. A failure names the README line.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from summarizer.settings import PROVIDERS, ModelRef
from tests import pages
from tests.conftest import DATASET, ROOT, SEED, copy_dataset
from tests.fakeserver import FakeOpenAI, Reply, completion, error_reply, load_answers, probes

README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # the venv's bin: `summarizer` and `python`
# Enough articles for every eval command to mean something, few enough to keep the
# whole file well under a minute (each eval command runs over all of them).
EVAL_IDS = [
    "000-seed-trump-putin-call",
    "001-annapolis-joint-understanding",
    "003-merkel-georgia-nato-russian-withdrawal",
]
LOCAL_HOSTS = ("localhost", "127.0.0.1")
# Commands the README shows correctly that the code gets wrong: substring -> the bug.
XFAIL: dict[str, str] = {}


# -- reading the README ------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """A command of a shell block (continuation lines joined), or a whole other block."""

    line: int  # README line it starts on
    lang: str
    text: str

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text.replace("\\\n", " "), comments=True)

    def option(self, *names: str) -> str | None:
        words = self.words
        for i, word in enumerate(words[:-1]):
            if word in names:
                return words[i + 1]
        return None

    def programs(self) -> list[list[str]]:
        """Each stage of the pipeline, as words."""
        stages: list[list[str]] = [[]]
        for word in self.words:
            if word == "|":
                stages.append([])
            else:
                stages[-1].append(word)
        return stages

    @property
    def model(self) -> str | None:
        return self.option("--model", "-m")


def read_snippets() -> list[Snippet]:
    snippets: list[Snippet] = []
    lang: str | None = None
    start, body = 0, list[str]()
    for n, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if lang is None:
            if line.startswith("```"):
                lang, start, body = line[3:].strip(), n + 1, []
        elif line.strip() == "```":
            if lang in ("bash", "sh", "shell"):
                snippets += shell_commands(start, body)
            elif lang:  # an unlabeled block is output or a diagram, not code
                snippets.append(Snippet(start, lang, "\n".join(body) + "\n"))
            lang = None
        else:
            body.append(line)
    return snippets


def shell_commands(start: int, body: list[str]) -> list[Snippet]:
    out: list[Snippet] = []
    first, text = 0, ""
    for n, line in enumerate(body, start):
        first, text = (first, f"{text}\n{line}") if text else (n, line)
        if line.rstrip().endswith("\\"):
            continue
        if text.strip() and not text.lstrip().startswith("#"):
            out.append(Snippet(first, "bash", text))
        text = ""
    return out


SNIPPETS = read_snippets()


def remote_url(snippet: Snippet) -> str | None:
    for word in snippet.words:
        parts = urlsplit(word)
        if parts.scheme in ("http", "https") and parts.hostname not in LOCAL_HOSTS:
            return word
    return None


def skip_reason(snippet: Snippet) -> str | None:
    if snippet.lang == "yaml":
        return "a GitHub Actions job: needs GitHub's runner, a secret and your own dataset"
    if snippet.lang != "bash":
        return None
    model, url = snippet.model or "", remote_url(snippet)
    if snippet.words[0] == "make":
        return "make installs into .venv; CI runs `make demo` and `make check` itself"
    if model == "local" or model.startswith("local:"):
        return "the embedded model: minutes on this machine (the local_model tests run it)"
    if url:
        return f"reaches {url}: a real remote service (tests never reach the network)"
    return None


def param(snippet: Snippet) -> Any:
    marks: list[Any] = []
    if reason := skip_reason(snippet):
        marks.append(pytest.mark.skip(reason=reason))
    for fragment, bug in XFAIL.items():
        if fragment in snippet.text:
            marks.append(pytest.mark.xfail(strict=True, reason=bug))
    return pytest.param(snippet, id=f"README.md:{snippet.line}", marks=marks)


# -- the fake endpoints ---------------------------------------------------------------


ANSWERS = probes(load_answers(DATASET))  # (start of an article, its golden summary)


def golden(body: dict[str, Any]) -> Reply:
    """The golden summary of whichever dataset article the request carries."""
    sent = " ".join(" ".join(str(m.get("content") or "").split()) for m in body["messages"])
    for probe, answer in ANSWERS:
        if probe in sent:
            tools = body.get("tools")
            return Reply(
                body=completion(
                    None if tools else answer,
                    tool_arguments=answer if tools else None,
                    tool_name=tools[0]["function"]["name"] if tools else "ArticleSummary",
                    model=body["model"],
                )
            )
    return error_reply(400, "fake server: not an article of evals/wikinews")


class Endpoints:
    """The fake servers: one for OPENAI_BASE_URL, and one per fixed localhost port a
    command relies on (a provider's default, or a ``--base-url``), started on demand."""

    def __init__(self) -> None:
        self.servers: dict[int, FakeOpenAI] = {}
        self.busy: dict[int, str] = {}
        self.openai = self._start(0)

    def _start(self, port: int) -> FakeOpenAI:
        server = FakeOpenAI(port=port)
        server.responder = golden
        self.servers[server.port] = server.start()
        return server

    def at(self, port: int) -> FakeOpenAI | str:
        """The server on ``port``, or why there can be none (another server has it)."""
        if port not in self.servers and port not in self.busy:
            try:
                self._start(port)
            except OSError as e:
                self.busy[port] = f"port {port} is taken on this machine ({e.strerror})"
        return self.servers.get(port) or self.busy[port]

    def requests(self) -> list[dict[str, Any]]:
        return [body for server in self.servers.values() for body in server.requests]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def endpoint_for(snippet: Snippet) -> int | None:
    """The local port the command's model is served on; 0 for OpenAI itself; None for
    no model (the offline default, the baselines)."""
    base, model = snippet.option("--base-url"), snippet.model
    if base:
        return urlsplit(base).port or 80
    if model is None or model == "rules" or model.split("/")[0] in ("baseline", "local"):
        return None
    default = PROVIDERS.get(model.split("/")[0])
    return (urlsplit(default).port or 80) if default else 0


@pytest.fixture(scope="module")
def endpoints(validate_openai: Any) -> Iterator[Endpoints]:
    servers = Endpoints()
    yield servers
    servers.stop()
    for body in servers.requests():  # everything we sent is a valid OpenAI request
        validate_openai(body, "CreateChatCompletionRequest")


# -- the user's directory ---------------------------------------------------------------


def base_env(home: Path) -> dict[str, str]:
    """A new user's environment: nothing of ours, and no way off this machine (any
    proxied request goes to a closed local port; the fakes are in NO_PROXY)."""
    dead = "http://127.0.0.1:9"
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "SUMMARIZER_CACHE_DIR": str(home / ".cache" / "summarizer"),
        "SHELL": "/bin/bash",
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "COLUMNS": "100",
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = dead
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    return env


def prepare(work: Path) -> None:
    """The files the README's commands name, as a user of the checkout has them."""
    work.mkdir(parents=True)
    for name in ("article.txt", "a.txt"):
        shutil.copy(SEED, work / name)
    (work / "articles").mkdir()
    for name in EVAL_IDS[1:]:
        shutil.copy(DATASET / "articles" / f"{name}.txt", work / "articles")
    (work / "page.html").write_bytes(pages.build("wordpress")[1])
    copy_dataset(work / "evals" / "wikinews", EVAL_IDS)
    shutil.copy(ROOT / "prompts" / "summarize" / "v1.toml", work / "my-prompt.toml")
    shutil.copytree(work / "evals" / "wikinews" / "golden", work / "other-tool-output")


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    fake: FakeOpenAI | None = None
    requests: int = 0  # chat requests the fake got from this command
    skipped: str | None = None  # why it could not run here


@dataclass
class Walkthrough:
    """The README's shell commands, run in order in one directory and one "shell"."""

    work: Path
    endpoints: Endpoints
    env: dict[str, str]
    done: dict[int, Outcome] = field(default_factory=dict)

    def outcome(self, snippet: Snippet) -> Outcome:
        """Run every earlier command not run yet (they prepare this one), then this one."""
        for earlier in SHELL:
            if (
                earlier.line < snippet.line
                and earlier.line not in self.done
                and not skip_reason(earlier)
            ):
                self.done[earlier.line] = self.run(earlier)
        if snippet.line not in self.done:
            self.done[snippet.line] = self.run(snippet)
        return self.done[snippet.line]

    def run(self, snippet: Snippet) -> Outcome:
        words = snippet.words
        if words[0] in ("export", "unset"):  # the same shell goes on
            for word in words[1:]:
                name, _, value = word.partition("=")
                if words[0] == "unset":
                    self.env.pop(name, None)
                else:
                    self.env[name] = value
            return Outcome(0, "", "")
        for fragment, before in BEFORE.items():
            if fragment in snippet.text:
                before(self)
        env, fake = dict(self.env), None
        target = endpoint_for(snippet)
        if target is not None:
            server = self.endpoints.at(target) if target else self.endpoints.openai
            if isinstance(server, str):
                return Outcome(0, "", "", skipped=server)
            fake = server
            if not target:  # OpenAI itself: the user's key, and the fake for its URL
                env["OPENAI_BASE_URL"] = server.url
                env.setdefault("OPENAI_API_KEY", "sk-readme-test")
        sent = len(fake.requests) if fake else 0
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", snippet.text],
            cwd=self.work, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        done = len(fake.requests) - sent if fake else 0
        return Outcome(proc.returncode, proc.stdout, proc.stderr, fake, done)


def earlier_run_of_another_model(walk: Walkthrough) -> None:
    """`eval compare` names runs/gpt-4.1-mini: a run the user made before, made here."""
    if not (walk.work / "runs" / "gpt-4.1-mini").exists():
        cmd = "summarizer eval run --dataset evals/wikinews --model openai/gpt-4.1-mini --out runs/gpt-4.1-mini"  # noqa: E501
        outcome = walk.run(Snippet(0, "bash", cmd))
        assert outcome.returncode == 0, outcome.stderr


BEFORE: dict[str, Callable[[Walkthrough], None]] = {
    "runs/gpt-4.1-mini/report.json": earlier_run_of_another_model,
}
SHELL = [s for s in SNIPPETS if s.lang == "bash"]
RUN = ("bash", "python", "toml")
KNOWN = {"summarizer", "python", "cat", "curl", "export", "unset", "make"}


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory, endpoints: Endpoints) -> Walkthrough:
    root = tmp_path_factory.mktemp("readme")
    prepare(root / "checkout")
    return Walkthrough(root / "checkout", endpoints, base_env(root / "home"))


# -- what the README says each command gives ----------------------------------------------


def summaries(stdout: str) -> list[dict[str, Any]]:
    """One summary (indented JSON), or one a line (JSONL: several inputs)."""
    try:
        return [json.loads(stdout)]
    except ValueError:
        return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def model_named(snippet: Snippet) -> str:
    """The model ``meta.model`` records for the command's ``--model``."""
    if snippet.model is None:
        return "rules"
    return str(ModelRef.parse(snippet.model, base_url=snippet.option("--base-url")))


def check_output(snippet: Snippet, outcome: Outcome, walk: Walkthrough) -> None:
    work, home = walk.work, Path(walk.env["HOME"])
    words = [w for stage in snippet.programs() for w in stage if stage[0] == "summarizer"]
    command = [w for w in words[1:] if not w.startswith("-")][:2]
    for flag in ("-o", "--out", "--report", "--html"):
        if (path := snippet.option(flag)) and path != "-":
            assert (work / path).exists(), f"{flag} {path} was not written"
    if command[:1] == ["summarize"] and not snippet.option("-o", "--format", "-f"):
        for summary in summaries(outcome.stdout):  # the contract's JSON on stdout
            assert summary["schema_version"]
            assert summary["key_summary"]["headline"]
            assert summary["meta"]["model"] == model_named(snippet)
    if snippet.option("--format", "-f") == "markdown":
        assert outcome.stdout.startswith("# "), outcome.stdout[:200]
    if command[:1] == ["schema"]:
        assert "properties" in json.loads(outcome.stdout)
    if "--json" in words or command == ["logs", "show"]:
        json.loads(outcome.stdout)
    if command == ["eval", "run"] and (out := snippet.option("--out")):
        for name in ("report.json", "report.html", "candidates"):
            assert (work / out / name).exists(), f"eval run wrote no {out}/{name}"
    if command == ["eval", "baseline"] and (out := snippet.option("-o")):
        assert list((work / out).glob("*.json")), f"no candidates in {out}"
    if command[:1] == ["batch"] and (out := snippet.option("-o")):
        lines = (work / out).read_text(encoding="utf-8").splitlines()
        assert lines
        assert all(json.loads(line)["status"] == "ok" for line in lines)
    if "--install-completion" in words:
        assert "summarizer" in (home / ".bashrc").read_text(encoding="utf-8")
    if "-v" in words:
        assert str(snippet.model) in outcome.stderr, outcome.stderr
    if outcome.fake is not None and command[:1] == ["summarize"]:
        hit = summaries(outcome.stdout)[0]["meta"]["cache"]["hit"]
        assert outcome.requests or hit, "the fake endpoint got no request"


@pytest.mark.parametrize("snippet", [param(s) for s in SHELL])
def test_shell_command_runs_as_written(snippet: Snippet, walk: Walkthrough) -> None:
    unknown = {stage[0] for stage in snippet.programs()} - KNOWN
    assert not unknown, f"README.md:{snippet.line}: the test cannot run {sorted(unknown)}"
    outcome = walk.outcome(snippet)
    if outcome.skipped:
        pytest.skip(outcome.skipped)
    where = f"README.md:{snippet.line}: `{snippet.text}`"
    assert outcome.returncode == 0, (
        f"{where} exited {outcome.returncode}\n"
        f"stdout: {outcome.stdout[-1500:]}\nstderr: {outcome.stderr[-1500:]}"
    )
    try:
        check_output(snippet, outcome, walk)
    except (AssertionError, ValueError, KeyError) as e:
        raise AssertionError(f"{where}: not what the README says: {e!r}") from e


@pytest.mark.parametrize("snippet", [param(s) for s in SNIPPETS if s.lang == "python"])
def test_python_block_runs_as_a_script(
    snippet: Snippet, tmp_path: Path, endpoints: Endpoints
) -> None:
    work = tmp_path / "checkout"
    prepare(work)
    (work / "snippet.py").write_text(snippet.text, encoding="utf-8")
    env = base_env(tmp_path / "home")
    env.update(OPENAI_API_KEY="sk-readme-test", OPENAI_BASE_URL=endpoints.openai.url)
    sent = len(endpoints.requests())
    proc = subprocess.run(
        [sys.executable, "snippet.py"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"README.md:{snippet.line}: the block fails:\n{proc.stderr[-3000:]}"
    )
    if "model=" in snippet.text:  # the models it names were asked (the fakes)
        assert len(endpoints.requests()) > sent, f"README.md:{snippet.line}: no model was asked"


def is_price_file(data: dict[str, Any]) -> bool:
    return bool(data) and all(isinstance(v, dict) for v in data.values())


@pytest.mark.parametrize("snippet", [param(s) for s in SNIPPETS if s.lang == "toml"])
def test_toml_block_is_read_as_the_file_it_is(snippet: Snippet, tmp_path: Path) -> None:
    data = tomllib.loads(snippet.text)
    env = base_env(tmp_path / "home")
    config_dir = Path(env["XDG_CONFIG_HOME"]) / "summarizer"
    config_dir.mkdir(parents=True)
    if is_price_file(data):  # a prices file: `summarizer models` reads it
        (tmp_path / "prices.toml").write_text(snippet.text, encoding="utf-8")
        env["SUMMARIZER_PRICES"] = "prices.toml"
        args = ["models", "--json"]
    else:  # the config file, where the README says it is, with the files it names
        (config_dir / "config.toml").write_text(snippet.text, encoding="utf-8")
        prices = [s for s in SNIPPETS if s.lang == "toml" and is_price_file(tomllib.loads(s.text))]
        for value in data.values():
            if isinstance(value, str) and value.endswith(".toml") and prices:
                (config_dir / value).write_text(prices[0].text, encoding="utf-8")
        args = ["config", "show", "--json"]
    proc = subprocess.run(
        [str(BIN / "summarizer"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"README.md:{snippet.line}: {proc.stderr}"
    shown = json.loads(proc.stdout)
    if is_price_file(data):
        assert shown["price_files"] == data, f"README.md:{snippet.line}"
        return
    for key, value in data.items():
        setting = shown["settings"][key]
        expected = str(config_dir / value) if key == "prices" else value
        assert (setting["value"], setting["source"]) == (expected, "config"), (
            f"README.md:{snippet.line}: {key}"
        )


@pytest.mark.parametrize("snippet", [param(s) for s in SNIPPETS if s.lang not in RUN])
def test_no_other_kind_of_block(snippet: Snippet) -> None:
    """A block of a kind this file cannot run fails here unless skipped with its reason."""
    pytest.fail(f"README.md:{snippet.line}: a ```{snippet.lang} block this test does not run")
