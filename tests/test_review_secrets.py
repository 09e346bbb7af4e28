"""A review's findings on secrets, the call log and the config file, each pinned.

Credentials in a base URL stay out of every display and out of the config file (S3);
nothing the process knows as a secret reaches logs.db, re-asks included (S4);
`logs show` of an id that is not there is exit 11 (S7); the call log's messages, the
config file's and the price file's checks.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import calllog
from summarizer import redact as redaction
from summarizer.backends.calls import Calls
from summarizer.batch.pricing import load_prices
from summarizer.calllog import CallLog
from summarizer.cli import app
from summarizer.config import read_config
from summarizer.config_keys import user_config
from summarizer.errors import ConfigurationError
from summarizer.redact import redact, redact_url, remember
from summarizer.settings import Settings
from tests.conftest import SEED
from tests.fakeserver import FakeOpenAI, Reply, completion, summary_reply
from tests.test_cli import run_cli

runner = CliRunner()


# Each test starts and ends with the library's defaults (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("library_defaults")


@pytest.fixture
def config() -> Path:
    """conftest's config file (empty)."""
    return Path(os.environ["SUMMARIZER_CONFIG"])


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "answer-cache" / "logs.db"  # conftest's SUMMARIZER_CACHE_DIR


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env)


def one_error_line(result: Any) -> str:
    (line,) = result.stderr.splitlines()
    assert line.startswith("summarizer: error: ")
    return str(line)


# -- S3: credentials in the base URL ------------------------------------------------------

ENV_URL = "http://u:sk-envsecret999@127.0.0.1:1/v1?api-key=sk-querysecret12&api-version=2024"
SECRETS = ("sk-envsecret999", "sk-querysecret12", "envsecret999", "querysecret12")


def test_config_show_redacts_the_base_url() -> None:
    env = {"OPENAI_BASE_URL": ENV_URL}
    text = cli("config", "show", env=env)
    shown = cli("config", "show", "--json", env=env)
    assert text.exit_code == shown.exit_code == 0, text.stderr + shown.stderr
    setting = json.loads(shown.stdout)["settings"]["base_url"]
    assert setting == {
        "value": "http://***@127.0.0.1:1/v1?api-key=***&api-version=2024",
        "source": "env OPENAI_BASE_URL",
    }
    assert "http://***@127.0.0.1:1/v1?api-key=***&api-version=2024" in text.stdout
    for secret in SECRETS:
        assert secret not in text.stdout + shown.stdout
    assert Settings.explain(env=env)["base_url"].value == setting["value"]
    assert Settings.resolve(env=env).base_url == ENV_URL  # what is used is untouched


def test_models_redacts_the_base_url() -> None:
    env = {"OPENAI_BASE_URL": ENV_URL}
    text = cli("models", "-m", "x", env=env)
    shown = cli("models", "-m", "x", "--json", env=env)
    assert text.exit_code == shown.exit_code == 0, text.stderr + shown.stderr
    assert json.loads(shown.stdout)["configured"]["base_url"] == (
        "http://***@127.0.0.1:1/v1?api-key=***&api-version=2024"
    )
    assert "base URL        http://***@127.0.0.1:1/v1?api-key=***" in text.stdout
    for secret in SECRETS:
        assert secret not in text.stdout + shown.stdout


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://u:sk-setsecret@h/v1", "it holds a password (user:password@)"),
        ("http://u:pw%40secret@h/v1", "it holds a password"),
        ("https://h/v1?api-key=topsecret", "query parameter 'api-key' looks like a credential"),
        ("https://h/v1?key=topsecret", "query parameter 'key' looks like a credential"),
        ("https://h/v1?x=1&access_token=topsecret", "'access_token' looks like a credential"),
        ("https://h/api?code=topsecret", "query parameter 'code'"),
        ("http://sk-topsecret1234@h/v1", "it holds what looks like a key"),
    ],
)
def test_config_set_refuses_a_base_url_with_credentials(config: Path, url: str, why: str) -> None:
    config.write_text("# mine\n", encoding="utf-8")
    result = cli("config", "set", "base_url", url)
    assert result.exit_code == 20
    line = one_error_line(result)
    assert "base_url must not hold a credential: " in line
    assert why in line
    assert "OPENAI_API_KEY" in line
    assert "secret" not in line
    assert config.read_text(encoding="utf-8") == "# mine\n"


@pytest.mark.parametrize(
    "url",
    [
        "http://gpu:11434/v1",
        "http://user@h/v1",  # a user name alone is no secret
        "https://r.openai.azure.com/openai/deployments/d?api-version=2024-06-01",
        "https://h/v1?author=me",
    ],
)
def test_config_set_keeps_a_base_url_without_credentials(config: Path, url: str) -> None:
    assert cli("config", "set", "base_url", url).exit_code == 0
    assert read_config(config).data == {"base_url": url}  # type: ignore[union-attr]


def test_a_config_file_with_url_credentials_is_refused_when_read(config: Path) -> None:
    config.write_text('model = "m"\nbase_url = "http://u:sk-filesecret1@h/v1"\n', "utf-8")
    with pytest.raises(ConfigurationError) as caught:
        Settings.resolve()
    message = str(caught.value)
    assert message.startswith(f"config file {config}, line 2: base_url must not hold a credential")
    assert "filesecret1" not in message
    result = cli("summarize", str(SEED))
    assert result.exit_code == 20
    assert "filesecret1" not in one_error_line(result)


def test_a_refused_value_is_not_echoed_with_its_secret(config: Path) -> None:
    config.write_text('base_url = "localhost?api-key=sk-notshown1234"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"must be an http\(s\):// URL") as caught:
        Settings.resolve()
    assert "notshown1234" not in str(caught.value)


def test_redact_url_and_url_secret() -> None:
    assert redact_url("https://h/v1?api-key=a1b2c3&api-version=1&sig=zz99&x=2") == (
        "https://h/v1?api-key=***&api-version=1&sig=***&x=2"
    )
    assert redact_url("http://u:p4ss@h/v1") == "http://***@h/v1"
    assert redact_url(None) is None
    assert redaction.url_secret("http://h:99999/v1") is None  # a bad port is not a secret
    assert redaction.url_secret("https://h/v1?api-version=2024") is None


# -- S4: nothing the process knows as a secret reaches logs.db -----------------------------

KEY = "sk-apikeysecret777"


def echoing(server: FakeOpenAI, summary: dict[str, Any]) -> None:
    """The first answer echoes the request's headers (and is not JSON, so it is sent
    back in a re-ask); the second is a valid summary."""

    def answer(body: dict[str, Any]) -> Reply:
        if len(server.requests) == 1:
            echoed = "; ".join(f"{k}: {v}" for k, v in server.headers[-1].items())
            return Reply(body=completion(content=f"I got these headers: {echoed}"))
        return summary_reply(summary)

    server.responder = answer


def stored(log_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(log_path.parent.glob("logs.db*")))


def test_an_echoed_api_key_stays_out_of_the_log(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], log_path: Path
) -> None:
    echoing(fake_openai, seed_summary)
    args = ["summarize", str(SEED), "-m", "m", "--base-url", fake_openai.url, "--no-cache"]
    done = cli(*args, "--retry-max-wait", "0", env={"OPENAI_API_KEY": KEY})
    assert done.exit_code == 0, done.stderr
    assert KEY in json.dumps(fake_openai.headers[0])  # the server did see it
    assert len(fake_openai.requests) == 2  # a re-ask, carrying the echoed answer
    assert "I got these headers" in json.dumps(fake_openai.requests[1]["messages"])
    data = stored(log_path)
    assert b"I got these headers" in data  # the answer and the re-ask's messages are kept
    assert KEY.encode() not in data
    assert b"apikeysecret777" not in data
    shown = cli("logs", "show", "2")
    assert shown.exit_code == 0, shown.stderr
    again = json.loads(shown.stdout)
    assert "I got these headers" in json.dumps(again["request"]["messages"])
    assert "apikeysecret777" not in shown.stdout


def test_an_echoed_basic_credential_stays_out_of_the_log(
    fake_openai: FakeOpenAI, seed_summary: dict[str, Any], log_path: Path
) -> None:
    echoing(fake_openai, seed_summary)
    url = fake_openai.url.replace("http://", "http://u:sk-envsecret999@")
    token = base64.b64encode(b"u:sk-envsecret999")
    args = ["summarize", str(SEED), "-m", "m", "--base-url", url, "--no-cache"]
    done = cli(*args, "--retry-max-wait", "0", env={"OPENAI_API_KEY": "k-plain-1"})
    assert done.exit_code == 0, done.stderr
    assert token.decode() in json.dumps(fake_openai.headers[0])  # httpx sent it
    data = stored(log_path)
    assert b"I got these headers" in data
    for secret in (token, b"envsecret999"):
        assert secret not in data


def test_every_field_of_a_row_is_redacted(log_path: Path) -> None:
    """A row built straight from Calls: messages, params, answer and error alike."""
    remember(api_key="k3y-known-to-this-process", url="http://ann:pa55-word@h/v1")
    token = base64.b64encode(b"ann:pa55-word").decode()
    calllog.enable()
    calls = Calls("compatible/m", "http://ann:pa55-word@h/v1", 2)
    secret_text = f"a k3y-known-to-this-process, {token}, pa55-word and sk-unknownkey123456"
    body = {
        "model": "m",
        "messages": [
            {"role": "assistant", "content": f'{{"Authorization": "Bearer {secret_text}"}}'},
            {"role": "user", "content": [{"type": "text", "text": secret_text}]},
        ],
        "metadata": {"note": secret_text},
    }
    calls.failed(body, RuntimeError(secret_text), 0.1, 1)
    (row,) = [CallLog(log_path).get(1)]
    assert row is not None
    text = json.dumps(row)
    for secret in ("k3y-known", token, "pa55-word", "unknownkey123456"):
        assert secret not in text, secret
    assert row["base_url"] == "http://***@h/v1"
    assert row["request"]["messages"][1]["content"][0]["text"].startswith("a ***, ***, ***")


def test_redaction_tried_near_its_signs_is_the_full_regex_redaction() -> None:
    """redact() tries each pattern only where its sign is (for speed): on texts made
    of the patterns' pieces it must do exactly what running each regex over the whole
    text does."""
    import random

    r = redaction
    remember(api_key="sk-randomtestkey99", url="http://ru:rp-secret-1@h/v1")

    def everywhere(text: str) -> str:
        for secret in r._secrets:
            text = text.replace(secret, r.REDACTED)
        text = r._HEADER.sub(r._keep_name, text)
        text = r._TOKEN.sub(r._keep_name, text)
        text = r._SK.sub(r._keep_name, text)
        text = r._USERINFO.sub(r._userinfo, text)
        return r._PARAM.sub(r._param, text)

    pieces = ["authorization", "AUTHORIZATION", "proxy-", "x-", "api", "-", "_", "key",
              ":", "=", " ", "'", '"', "Bearer", "Basic", "sk-", "abcdefgh", "12345678",
              "://", "http", "@", "/", "?", "&", ";", "token", "sig", "İ", "\n",
              "rp-secret-1"]  # fmt: skip
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        assert redact(text) == everywhere(text), text


def test_redaction_keeps_what_holds_no_secret() -> None:
    text = "A basic plan: email a@b.org, see https://x.org/a?page=2; Bearer of bad news."
    assert redact(text) == text
    assert redaction.redact_all({"a": [text, 1, None, 2.5]}) == {"a": [text, 1, None, 2.5]}


# -- S7: `logs show` of an id that is not there ---------------------------------------------


@pytest.mark.parametrize("call_id", ["99", "0", "99999999999999999999999", "9223372036854775808"])
def test_logs_show_of_a_missing_id_is_exit_11(log_path: Path, call_id: str) -> None:
    CallLog(log_path).add({"model": "m", "outcome": "ok", "attempt": 1})
    result = cli("logs", "show", call_id)
    assert result.exit_code == 11
    assert one_error_line(result) == (
        f"summarizer: error: no logged model call {call_id}; see `summarizer logs`"
    )
    assert cli("logs", "show", "1").exit_code == 0


def test_logs_show_without_a_log_is_exit_11() -> None:
    result = cli("logs", "show", "99999999999999999999999")
    assert result.exit_code == 11
    assert "no logged model call 99999999999999999999999" in one_error_line(result)


# -- the call log's messages ------------------------------------------------------------------


def test_a_busy_log_says_so_and_skips_the_row(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(calllog, "BUSY_TIMEOUT_S", 0.05)
    log = CallLog(log_path)
    holder = sqlite3.connect(log_path)
    holder.execute("BEGIN IMMEDIATE")
    with caplog.at_level(logging.WARNING):
        log.add({"model": "m", "outcome": "ok", "attempt": 1})
        log.add({"model": "m", "outcome": "ok", "attempt": 2})
    holder.rollback()
    holder.close()
    log.add({"model": "m", "outcome": "ok", "attempt": 3})
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"summarizer: warning: the call log at {log_path} is busy")
    assert "row was skipped" in message
    assert "remove" not in message
    assert log.disabled is None
    assert [r["attempt"] for r in log.calls()] == [3]
    log.close()


def test_a_corrupt_log_warns_with_the_prefix_and_advice(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"this is not a database, " * 400)
    with caplog.at_level(logging.WARNING):
        log = CallLog(log_path)
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"summarizer: warning: the call log at {log_path} cannot be used")
    assert "remove the file to start a new one" in message
    assert log.disabled


def test_a_corrupt_log_is_one_error_line_for_logs(log_path: Path) -> None:
    """In a process of its own: pytest's log capture would hide a warning line."""
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"this is not a database, " * 400)
    for args in (["logs"], ["logs", "show", "1"]):
        proc = run_cli(*args)
        assert proc.returncode == 20
        (line,) = proc.stderr.decode().splitlines()
        assert line.startswith(f"summarizer: error: the call log at {log_path} cannot be read")


def test_a_folder_in_place_of_the_log_is_an_error(log_path: Path) -> None:
    log_path.mkdir(parents=True)
    for args in (["logs"], ["logs", "show", "1"]):
        result = cli(*args)
        assert result.exit_code == 20
        assert f"the call log at {log_path} is not a file" in one_error_line(result)


@pytest.mark.parametrize(
    ("value", "on"),
    [("0", False), ("1", True), ("false", False), ("TRUE", True), (" off ", False),
     ("on", True), ("no", False), ("Yes", True)],
)  # fmt: skip
def test_summarizer_log_accepts_yes_and_no(value: str, on: bool) -> None:
    result = cli("logs", "status", env={"SUMMARIZER_LOG": value})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("model call log: on" if on else "model call log: off")


def test_summarizer_log_garbage_is_a_configuration_error() -> None:
    for args in (["logs", "status"], ["summarize", str(SEED)]):
        result = cli(*args, env={"SUMMARIZER_LOG": "garbage"})
        assert result.exit_code == 20
        assert one_error_line(result) == (
            "summarizer: error: SUMMARIZER_LOG='garbage' is neither on nor off: use one of "
            "1, true, yes, on, 0, false, no, off"
        )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUMMARIZER_LOG", "garbage")
        with pytest.raises(ConfigurationError, match="SUMMARIZER_LOG"):
            calllog.enable()


# -- the config file ----------------------------------------------------------------------


def test_a_config_file_named_but_missing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(missing))
    for args in (["config", "show"], ["summarize", str(SEED)]):
        result = cli(*args)
        assert result.exit_code == 20
        assert one_error_line(result) == (
            f"summarizer: error: config file {missing} (named by SUMMARIZER_CONFIG) does not "
            "exist; create it with `summarizer config set KEY VALUE`, or unset SUMMARIZER_CONFIG"
        )
    assert cli("config", "path").exit_code == 0
    assert cli("config", "set", "max_parts", "3").exit_code == 0  # set creates it
    assert Settings.resolve().max_parts == 3
    # The default path, absent, is no error: nothing was named.
    assert Settings.resolve(env={"HOME": str(tmp_path / "home")}).model == "rules"


@pytest.mark.parametrize(
    ("key", "value", "code", "fragment"),
    [
        ("prompt", "nope@v9", 21, "unknown prompt 'nope@v9'"),
        ("prompt", "summarize@v99", 21, "prompt 'summarize' has no version 'v99'"),
        ("prompt", "missing.toml", 21, "prompt file not found: missing.toml"),
        ("temperature", "99", 20, "temperature must be from 0 to 2, not 99.0"),
        ("temperature", "2.5", 20, "temperature must be from 0 to 2, not 2.5"),
        ("cache_dir", "/proc/x", 20, "cache_dir /proc/x cannot be created"),
        ("prices", "prices.toml", 20, "prices.toml: no such price file"),
    ],
)
def test_config_set_checks_what_the_readme_says_it_checks(
    config: Path, key: str, value: str, code: int, fragment: str
) -> None:
    config.write_text("# untouched\n", encoding="utf-8")
    result = cli("config", "set", key, value)
    assert result.exit_code == code
    assert fragment in one_error_line(result)
    assert config.read_text(encoding="utf-8") == "# untouched\n"


def test_config_set_takes_values_that_work(config: Path, tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["x/y"]\ninput = 1\noutput = 2\n', encoding="utf-8")
    for key, value in [("prompt", "summarize@v1"), ("temperature", "2"), ("prices", str(prices)),
                       ("cache_dir", str(tmp_path / "new" / "cache"))]:  # fmt: skip
        result = cli("config", "set", key, value)
        assert result.exit_code == 0, result.stderr
    assert not (tmp_path / "new").exists()  # checked as creatable, not created
    assert user_config()["temperature"] == 2.0


def test_config_set_under_a_file_says_why_the_cache_cannot_be_made(
    config: Path, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("")
    result = cli("config", "set", "cache_dir", str(tmp_path / "afile" / "cache"))
    assert result.exit_code == 20
    assert "cannot be created: Not a directory" in one_error_line(result)
    assert cli("config", "set", "cache_dir", str(tmp_path / "afile")).exit_code == 20


def test_config_set_refuses_to_edit_a_file_every_command_refuses(config: Path) -> None:
    broken = 'model = "rules"\n[extra]\na = 1\n'
    config.write_text(broken, encoding="utf-8")
    result = cli("config", "set", "max_parts", "3")
    assert result.exit_code == 20
    assert one_error_line(result).endswith("fix the file first, or `summarizer config unset extra`")
    assert config.read_text(encoding="utf-8") == broken
    assert cli("config", "unset", "extra").exit_code == 0
    assert cli("config", "set", "max_parts", "3").exit_code == 0
    assert Settings.resolve().max_parts == 3
    # A bad value of the very key being set is what the set repairs.
    config.write_text('timeout = "slow"\n', encoding="utf-8")
    assert cli("config", "set", "timeout", "9").exit_code == 0
    assert Settings.resolve().timeout == 9.0


def test_config_set_stores_relative_paths_absolute_as_the_readme_says(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.toml").write_text('["x/y"]\ninput = 1\noutput = 2\n', encoding="utf-8")
    assert cli("config", "set", "prices", "p.toml").exit_code == 0
    assert read_config(config).data["prices"] == str(tmp_path / "p.toml")  # type: ignore[union-attr]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    wanted = "one given to `config set` is made absolute from where you run it"
    assert wanted in " ".join(readme.split())


# -- prices and providers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("input = -1\noutput = 1", "input = -1.0"),
        ("input = 1\noutput = 1e400", "output = inf"),
        ("input = nan\noutput = 1", "input = nan"),
        ("input = 1\noutput = -inf", "output = -inf"),
    ],
)
def test_a_price_that_is_not_a_finite_non_negative_number_is_refused(
    tmp_path: Path, body: str, shown: str
) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(f'["ok/model"]\ninput = 1\noutput = 1\n["x/y"]\n{body}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_prices(path)
    assert str(caught.value) == (
        f"{path}: ['x/y'] {shown}: a price must be a finite number, 0 or more (USD per 1M tokens)"
    )
    result = cli("models", "--prices", str(path))
    assert result.exit_code == 20
    assert one_error_line(result) == f"summarizer: error: {caught.value}"


def test_models_with_an_unknown_provider_lists_the_known_ones() -> None:
    result = cli("models", "--provider", "nope")
    assert result.exit_code == 20
    line = one_error_line(result)
    assert line.startswith("summarizer: error: --provider 'nope' is not one genai-prices knows")
    assert "anthropic, " in line
    assert "openai" in line
    assert cli("models", "--provider", "nope", "--all").exit_code == 0
