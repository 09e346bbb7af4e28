"""Shared fixtures: no network, a clean environment, the fake server, spec validation."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED = ROOT / "seeds" / "trump-putin-call.txt"
DATASET = ROOT / "evals" / "wikinews"


def start_serve(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """``summarizer serve --port 0 ARGS`` as a process (stderr piped, for its log), its
    URL and the first line of its log, which names the port; the process is killed,
    and the log shown, when that line does not come."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "summarizer", "serve", "--port", "0", *args],
        cwd=ROOT, env=dict(os.environ) if env is None else env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    first = proc.stderr.readline().decode()
    found = re.search(r"serving on (http://127\.0\.0\.1:\d+)", first)
    if not found:
        proc.kill()
        proc.wait()
        raise AssertionError(first + proc.stderr.read().decode())
    return proc, found.group(1), first


def copy_dataset(root: Path, ids: list[str]) -> Path:
    """A dataset of some of evals/wikinews's articles, with their goldens, at ``root``
    (tests that change or break a dataset must not touch the repo's own)."""
    for sub in ("articles", "golden"):
        (root / sub).mkdir(parents=True)
    for i in ids:
        shutil.copy(DATASET / "articles" / f"{i}.txt", root / "articles")
        shutil.copy(DATASET / "golden" / f"{i}.json", root / "golden")
    return root


#: The articles a batch's folder input is made of in the shard and engine tests.
BATCH_ARTICLES = sorted((DATASET / "articles").glob("*.txt"))[:12]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder of 12 articles of evals/wikinews and an empty one (an error line)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for path in BATCH_ARTICLES:
        shutil.copy(path, folder)
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    return folder


_ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "SUMMARIZER_MODEL",
    "SUMMARIZER_PROMPT",
    "SUMMARIZER_PRICES",
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may only talk to this machine: any other address fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _clean_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    # Answers are cached by default: each test gets its own, empty cache.
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "answer-cache"))
    # Not the user's config file: an empty one of the test's own, outside tmp_path (tests
    # list what they write there); a SUMMARIZER_CONFIG naming no file is an error.
    config = tmp_path_factory.mktemp("config") / "config.toml"
    config.touch()
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(config))


SPEC = DATA / "openai-openapi" / "openai-openapi.json"


@pytest.fixture
def library_defaults() -> Iterator[None]:
    """The library's process-wide state as a fresh import has it, before and after the
    test: the call log off and closed, no verbosity handler (the CLI turns both on)."""
    from summarizer import calllog
    from summarizer.cli.verbosity import configure

    calllog.enable(False)
    yield
    configure(0, False)
    calllog.enable(False)
    calllog.close_all()


@pytest.fixture
def fake_openai(validate_openai: Any) -> Iterator[FakeOpenAI]:
    """The fake server; every request a test sent is checked against OpenAI's spec."""
    with FakeOpenAI() as server:
        yield server
    for body in server.requests:
        validate_openai(body, "CreateChatCompletionRequest")


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def seed_summary() -> dict[str, Any]:
    """A hand-written, fully grounded summary of the seed article (fresh copy)."""
    return copy.deepcopy(json.loads((DATA / "seed_summary.json").read_text(encoding="utf-8")))


def _nullable_to_type_lists(node: Any) -> Any:
    """The spec marks nulls OpenAPI-3.0 style; JSON Schema needs a type list."""
    if isinstance(node, dict):
        out = {k: _nullable_to_type_lists(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            elif "type" not in out:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable_to_type_lists(v) for v in node]
    return node


@pytest.fixture(scope="session")
def openai_spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.fail(f"OpenAI spec not found at {SPEC} (it is vendored in the repo)")
    return _nullable_to_type_lists(json.loads(SPEC.read_text(encoding="utf-8")))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def validate_openai(openai_spec: dict[str, Any]) -> Any:
    """validate_openai(body, "CreateChatCompletionRequest") raises if the body breaks the spec."""
    import jsonschema

    validators: dict[str, Any] = {}

    def validate(body: Any, schema_name: str) -> None:
        if schema_name not in validators:
            schema = {
                "$ref": f"#/components/schemas/{schema_name}",
                "components": openai_spec["components"],
            }
            validators[schema_name] = jsonschema.Draft202012Validator(schema)
        errors = sorted(validators[schema_name].iter_errors(body), key=lambda e: e.path)
        assert not errors, "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5]
        )

    return validate
