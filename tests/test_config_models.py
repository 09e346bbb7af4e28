"""The config file (precedence, bad files, `config` commands), `summarizer models`, and
prices and context windows from genai-prices (#16).

conftest points SUMMARIZER_CONFIG at an empty file in the test's tmp_path, so the
user's own config never leaks in; tests here write that file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer import Summarizer
from summarizer.backends import backend_for
from summarizer.batch import BatchItem, BatchOptions, run_batch
from summarizer.batch.pricing import Price, load_prices, price_for
from summarizer.cli import app
from summarizer.config import config_path, edit_config, read_config
from summarizer.config_keys import config_value, user_setting
from summarizer.errors import ConfigurationError
from summarizer.settings import Settings
from tests.conftest import ROOT, SEED
from tests.fakeserver import FakeOpenAI, summary_reply
from tests.test_cli import run_cli

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config file in the test's tmp_path, named by SUMMARIZER_CONFIG."""
    path = tmp_path / "summarizer-config.toml"
    path.touch()
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(path))
    return path


def _env(config: Path, **more: str) -> dict[str, str]:
    return {"SUMMARIZER_CONFIG": str(config), **more}


# -- where the file is -------------------------------------------------------------------


def test_config_path_follows_env_then_xdg_then_home(tmp_path: Path) -> None:
    assert config_path({"SUMMARIZER_CONFIG": "/x/c.toml", "HOME": "/h"}) == Path("/x/c.toml")
    assert config_path({"SUMMARIZER_CONFIG": "", "HOME": "/h"}) is None  # no config at all
    xdg = {"XDG_CONFIG_HOME": "/cfg", "HOME": "/h"}
    assert config_path(xdg) == Path("/cfg/summarizer/config.toml")
    # The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored.
    relative = {"XDG_CONFIG_HOME": "cfg", "HOME": "/h"}
    assert config_path(relative) == Path("/h/.config/summarizer/config.toml")
    # A caller's own environment is the whole world: no HOME in it, no user file.
    assert config_path({}) is None
    assert Settings.resolve(env={}).model == "rules"


# -- precedence: explicit > env > config > default ---------------------------------------


def test_precedence_explicit_env_config_default(config: Path) -> None:
    config.write_text(
        'model = "ollama/llama3.1"\ntimeout = 30\nretries = 1\nmax_parts = 3\n'
        'base_url = "http://gpu:11434/v1"\n',
        encoding="utf-8",
    )
    env = _env(config)
    s = Settings.resolve(env=env)
    assert (s.model, s.timeout, s.max_transport_retries, s.max_parts) == (
        "ollama/llama3.1", 30.0, 1, 3,
    )  # fmt: skip
    assert s.base_url == "http://gpu:11434/v1"
    assert isinstance(s.timeout, float)  # an integer in the file is a number of seconds
    # The config's model beats the default that an API key implies.
    assert Settings.resolve(env={**env, "OPENAI_API_KEY": "sk"}).model == "ollama/llama3.1"
    # The environment beats the config file; an explicit value beats both.
    with_env = {**env, "SUMMARIZER_MODEL": "vllm/qwen", "OPENAI_BASE_URL": "http://e/v1"}
    assert Settings.resolve(env=with_env).model == "vllm/qwen"
    assert Settings.resolve(env=with_env).base_url == "http://e/v1"
    assert Settings.resolve(env=with_env, model="local", timeout=5).model == "local"
    assert Settings.resolve(env=with_env, timeout=5).timeout == 5
    explained = Settings.explain(env=with_env, max_parts=2)
    assert explained["model"].source == "env SUMMARIZER_MODEL"
    assert explained["timeout"].source == "config"
    assert explained["max_parts"].source == "explicit"
    assert explained["max_parts"].value == 2
    assert explained["temperature"].source == "default"
    assert explained["api_key"].value is None


def test_the_library_honours_the_config_file(config: Path, seed_text: str) -> None:
    config.write_text('model = "baseline/lead"\n', encoding="utf-8")
    with Summarizer() as s:  # nothing passed: the process environment, then the file
        assert s.settings.model == "baseline/lead"
        assert s.summarize(seed_text).meta["model"] == "baseline/lead"
    with Summarizer(model="rules") as s:
        assert s.settings.model == "rules"


def test_path_settings_resolve_relative_to_the_file(config: Path, tmp_path: Path) -> None:
    config.write_text('prices = "p.toml"\ncache_dir = "~/answers"\n', encoding="utf-8")
    assert user_setting("prices").value == str(tmp_path / "p.toml")
    assert user_setting("prices").source == "config"
    # (conftest sets SUMMARIZER_CACHE_DIR, which outranks the file: leave it out here)
    assert user_setting("cache_dir", _env(config)).value == str(Path("~/answers").expanduser())
    cache = str(tmp_path / "elsewhere")
    from_env = user_setting("cache_dir", {**_env(config), "SUMMARIZER_CACHE_DIR": cache})
    assert (from_env.value, from_env.source) == (cache, "env SUMMARIZER_CACHE_DIR")


# -- bad files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('model = "unterminated\n', "not valid TOML: Illegal character '\\n' (at line 1"),
        ('# mine\nmodel = "rules"\nmodle = "x"\n', "line 3: unknown key 'modle'; the keys are"),
        ('timeout = "slow"\n', "line 1: timeout must be a number, not 'slow'"),
        ("max_parts = true\n", "max_parts must be an integer, not True"),
        ("max_parts = 0\n", "max_parts must be 1 or more, not 0"),
        ("retries = 1.5\n", "retries must be an integer, not 1.5"),
        ("timeout = inf\n", "timeout must be more than 0, not inf"),
        ("temperature = nan\n", "temperature must be from 0 to 2, not nan"),
        ('mode = "xml"\n', "mode must be one of tools, json_schema, json, md_json"),
        ('base_url = "localhost:8000"\n', "base_url must be an http(s):// URL"),
        ('model = "  "\n', "model must be a model name"),
        ("[model]\nname = 1\n", "line 1: model must be a string, not 'dict'"),
        ('api_key = "sk-live"\n', "an API key belongs in the environment (OPENAI_API_KEY)"),
        ('openai_api_key = "sk"\n', "never in a file that gets copied"),
    ],
)
def test_a_bad_config_file_is_one_clear_configuration_error(
    config: Path, text: str, fragment: str
) -> None:
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        Settings.resolve()
    message = str(caught.value)
    assert message.startswith(f"config file {config}")
    assert fragment in message
    assert "\n" not in message
    assert "sk-live" not in message  # a key written there is never echoed


def test_unreadable_config_files(config: Path) -> None:
    config.write_bytes(b"model = '\xff\xfe'\n")
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        Settings.resolve()
    config.unlink()
    config.mkdir()
    with pytest.raises(ConfigurationError, match="not a regular file"):
        Settings.resolve()
    config.rmdir()
    os.mkfifo(config)  # would block a reader forever
    with pytest.raises(ConfigurationError, match="not a regular file"):
        Settings.resolve()
    config.unlink()
    config.write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigurationError, match="over 1048576 bytes"):
        Settings.resolve()
    config.unlink()
    config.symlink_to(config.parent / "nowhere.toml")  # dangling: no file, no settings
    assert Settings.resolve().model == "rules"


def test_a_config_path_under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(tmp_path / "afile" / "config.toml"))
    result = _cli("config", "set", "timeout", "3")
    assert result.exit_code == 20
    assert "cannot read it: Not a directory" in result.stderr
    with pytest.raises(ConfigurationError, match="Not a directory"):
        edit_config(tmp_path / "afile" / "config.toml", "timeout", 3.0)


def test_every_command_refuses_a_bad_config_in_one_line(config: Path) -> None:
    config.write_text("colour = 'blue'\n", encoding="utf-8")
    proc = run_cli("summarize", str(SEED))
    err = proc.stderr.decode()
    assert proc.returncode == 20
    assert err.strip().splitlines() == [
        f"summarizer: error: config file {config}, line 1: unknown key 'colour'; the keys "
        "are: model, base_url, prompt, mode, strict, max_reasks, retries, retry_max_wait, "
        "timeout, temperature, max_tokens, context_window, max_parts, cache_dir, prices"
    ]


# -- config set / unset / show / path ----------------------------------------------------


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_config_set_creates_the_file_and_keeps_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "new" / "dir" / "config.toml"
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(nested))
    assert _cli("config", "path").stdout.strip() == str(nested)
    done = _cli("config", "set", "model", "openai/gpt-5-mini")
    assert done.exit_code == 0, done.stderr
    assert read_config(nested) is not None
    assert read_config(nested).data == {"model": "openai/gpt-5-mini"}  # type: ignore[union-attr]
    nested.write_text("# my settings\nmodel = 'rules' # for now\n\ntimeout = 10\n")
    monkeypatch.chdir(tmp_path)  # config set checks the files it is given: make them here
    (tmp_path / "p.toml").write_text('["x/y"]\ninput = 1\noutput = 2\n')
    prompt = tmp_path / 'a "quoted" \\ prompt é.toml'
    prompt.write_bytes((ROOT / "prompts" / "summarize" / "v1.toml").read_bytes())
    for key, value in [("timeout", "30"), ("strict", "yes"), ("max_tokens", "900"),
                       ("prompt", str(prompt)), ("prices", "p.toml")]:  # fmt: skip
        assert _cli("config", "set", key, value).exit_code == 0
    text = nested.read_text()
    assert text.startswith("# my settings\nmodel = 'rules' # for now\n\ntimeout = 30.0\n")
    data = read_config(nested).data  # type: ignore[union-attr]
    assert data["prompt"] == str(prompt)
    assert data["strict"] is True
    assert data["max_tokens"] == 900
    assert data["prices"] == str(Path("p.toml").resolve())  # as typed, from where typed
    assert _cli("config", "unset", "timeout").exit_code == 0
    assert "timeout" not in read_config(nested).data  # type: ignore[union-attr]
    assert _cli("config", "unset", "timeout").stdout.startswith("timeout is not set in")
    assert [p.name for p in nested.parent.iterdir()] == ["config.toml"]  # no temp files


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("timeout", "fast", "timeout must be a number, not 'fast'"),
        ("max_parts", "0", "max_parts must be 1 or more, not 0"),
        ("strict", "maybe", "strict must be true or false, not 'maybe'"),
        ("mode", "xml", "mode must be one of"),
        ("colour", "blue", "unknown key 'colour'"),
        ("api_key", "sk-live", "an API key belongs in the environment"),
        ("timeout", "inf", "timeout must be more than 0, not inf"),
    ],
)
def test_config_set_refuses_bad_keys_and_values(
    config: Path, key: str, value: str, fragment: str
) -> None:
    config.write_text("# untouched\n", encoding="utf-8")
    result = _cli("config", "set", key, value)
    assert result.exit_code == 20
    assert fragment in result.stderr
    assert "sk-live" not in result.stderr
    assert config.read_text() == "# untouched\n"


def test_config_unset_repairs_a_file_every_command_refuses(config: Path) -> None:
    config.write_text('model = "rules"\ncolour = "blue"\n[extra]\na = 1\n', encoding="utf-8")
    assert _cli("config", "show").exit_code == 20
    assert _cli("config", "unset", "colour").exit_code == 0
    assert _cli("config", "unset", "extra").exit_code == 0
    assert config.read_text() == 'model = "rules"\n'
    assert _cli("config", "show").exit_code == 0
    assert _cli("config", "unset", "nonsense").exit_code == 20


def test_config_set_writes_through_a_symlink_and_keeps_the_mode(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "summarizer.toml"
    real.parent.mkdir()
    real.write_text("timeout = 5\n")
    real.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    edit_config(link, "max_parts", 4)
    assert link.is_symlink()
    assert real.read_text() == "timeout = 5\nmax_parts = 4\n"
    assert real.stat().st_mode & 0o777 == 0o640


def test_a_multiline_value_is_not_edited_blindly(config: Path) -> None:
    config.write_text('prompt = """\nx\n"""\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="edit the file by hand"):
        edit_config(config, "prompt", "y")
    assert config.read_text() == 'prompt = """\nx\n"""\n'


def test_config_show_says_where_each_value_came_from(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text('model = "ollama/llama3.1"\ntimeout = 30\n', encoding="utf-8")
    monkeypatch.setenv("SUMMARIZER_PROMPT", "summarize@v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    shown = _cli("config", "show", "--json", "--max-parts", "2")
    assert shown.exit_code == 0, shown.stderr
    doc = json.loads(shown.stdout)
    settings = doc["settings"]
    assert doc["config_file"] == str(config)
    assert doc["exists"] is True
    assert settings["model"] == {"value": "ollama/llama3.1", "source": "config"}
    assert settings["timeout"] == {"value": 30.0, "source": "config"}
    assert settings["prompt"] == {"value": "summarize@v1", "source": "env SUMMARIZER_PROMPT"}
    assert settings["max_parts"] == {"value": 2, "source": "flag"}
    assert settings["retries"] == {"value": 4, "source": "default"}
    assert settings["api_key"] == {"value": "(set)", "source": "env OPENAI_API_KEY"}
    assert "sk-secret-value" not in shown.stdout
    text = _cli("config", "show").stdout
    assert any(line.split()[:3] == ["timeout", "30.0", "config"] for line in text.splitlines())


def test_config_path_with_config_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_CONFIG", "")
    result = _cli("config", "path")
    assert result.exit_code == 20
    assert "SUMMARIZER_CONFIG is set to the empty string" in result.stderr
    assert Settings.resolve().model == "rules"  # and nothing is read


def test_config_value_parses_as_the_key_wants() -> None:
    assert config_value("strict", "OFF") is False
    assert config_value("temperature", "0") == 0.0
    assert config_value("max_reasks", "0") == 0
    with pytest.raises(ConfigurationError, match=r"max_reasks must be an integer, not '1\.5'"):
        config_value("max_reasks", "1.5")


# -- prices ------------------------------------------------------------------------------


def test_prices_come_from_genai_prices_and_files_override_them(
    tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mini = price_for("openai/gpt-5-mini", {})
    assert mini == Price(0.25, 2.0)
    assert mini is not None
    assert mini.source.startswith("genai-prices ")
    assert price_for("openai/gpt-4o-mini", load_prices()) == Price(0.15, 0.60)
    # What runs here is free; a self-hosted server's model is not guessed from its name.
    for free in ("rules", "local", "local:/m/x.gguf", "baseline/lead"):
        assert price_for(free, {}) == Price(0.0, 0.0)
    assert price_for("vllm/gpt-4o-mini", {}) is None
    assert price_for("compatible/gpt-4o-mini", {}) is None  # endpoint unknown
    assert price_for("compatible/gpt-4o-mini", {}, base_url="http://127.0.0.1:8000/v1") is None
    hosted = price_for("compatible/deepseek-chat", {}, base_url="https://api.deepseek.com/v1")
    assert hosted is not None
    assert hosted.input > 0
    assert price_for("openai/no-such-model-xyz", {}) is None
    # Files stack: the config file's, then SUMMARIZER_PRICES, then --prices.
    for name, body in [("c.toml", "input = 9\noutput = 9"), ("e.toml", "input = 5\noutput = 5"),
                       ("f.toml", "input = 1\noutput = 2")]:  # fmt: skip
        (tmp_path / name).write_text(f'["openai/gpt-5-mini"]\n{body}\n["x/{name}"]\n{body}\n')
    config.write_text('prices = "c.toml"\n', encoding="utf-8")
    assert price_for("openai/gpt-5-mini", load_prices()) == Price(9, 9)
    monkeypatch.setenv("SUMMARIZER_PRICES", str(tmp_path / "e.toml"))
    assert price_for("openai/gpt-5-mini", load_prices()) == Price(5, 5)
    table = load_prices(tmp_path / "f.toml")
    assert price_for("openai/gpt-5-mini", table) == Price(1, 2)
    assert {"x/c.toml", "x/e.toml", "x/f.toml"} <= set(table)
    with pytest.raises(ConfigurationError, match="cannot read the price file"):
        load_prices(tmp_path)  # a directory


def test_max_cost_works_for_a_model_genai_prices_knows(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    fake_openai.default = summary_reply(seed_summary)
    items = [BatchItem(f"a{i}", f"a{i}", f"{seed_text}\n\nCopy {i}.") for i in range(3)]
    settings = Settings.resolve(
        model="openai/gpt-5-mini", base_url=fake_openai.url, api_key="k", max_reasks=1
    )
    stats = run_batch([], tmp_path / "o.jsonl", settings, BatchOptions(max_cost=1.0),
                      prices=load_prices(), items=items)  # fmt: skip
    assert stats.done == 3
    assert not stats.budget_hit
    assert stats.cost_usd == pytest.approx(3 * (700 * 0.25 + 300 * 2.0) / 1e6)
    unknown = Settings.resolve(model="mystery-model", base_url=fake_openai.url)
    with pytest.raises(ConfigurationError, match=r"compatible/mystery-model.*prices"):
        run_batch([], tmp_path / "u.jsonl", unknown, BatchOptions(max_cost=1.0),
                  prices={}, items=items)  # fmt: skip


# -- context windows ---------------------------------------------------------------------


def test_context_windows_come_from_genai_prices(config: Path) -> None:
    def window(**kw: Any) -> int:
        return backend_for(Settings.resolve(**kw)).context_window()

    assert window(model="openai/gpt-5-mini") == 400_000
    assert window(model="openai/o3") == 200_000
    assert window(model="openai/no-such-model-xyz") == 32_768
    assert window(model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1") == 32_768  # own server
    assert window(model="ollama/gpt-4o-mini") == 32_768
    assert window(model="deepseek-chat", base_url="https://api.deepseek.com/v1") == 64_000
    assert window(model="openai/gpt-5-mini", context_window=1000) == 1000
    config.write_text("context_window = 5000\n", encoding="utf-8")
    assert window(model="openai/gpt-5-mini") == 5000


# -- summarizer models -------------------------------------------------------------------


def test_models_shows_what_is_configured_and_what_is_known(config: Path) -> None:
    config.write_text('model = "openai/gpt-4o-mini"\n', encoding="utf-8")
    shown = _cli("models", "--json")
    assert shown.exit_code == 0, shown.stderr
    doc = json.loads(shown.stdout)
    configured = doc["configured"]
    assert configured["model"] == "openai/gpt-4o-mini"
    assert configured["model_source"] == "config"
    assert configured["base_url"] == "https://api.openai.com/v1"
    assert configured["context_window"] == 128_000
    assert configured["price"] == {"input": 0.15, "output": 0.6}
    assert configured["price_source"].startswith("genai-prices ")
    prefixes = {p["prefix"]: p["base_url"] for p in doc["providers"]}
    assert prefixes["ollama"] == "http://localhost:11434/v1"
    assert {"openai", "vllm", "llamacpp", "lmstudio"} <= set(prefixes)
    assert {m["model"] for m in doc["no_model"]} == {"rules", "baseline/lead", "baseline/textrank"}
    assert doc["local"]["model"] == "local[:PATH.gguf]"
    known = {m["model"]: m for m in doc["known_models"]["models"]}
    assert known["gpt-4o-mini"]["context_window"] == 128_000
    assert known["gpt-4o-mini"]["input_per_1m"] == 0.15
    assert all(m["provider"] == "openai" for m in known.values())
    assert len(known) > 20


def test_models_for_a_model_without_a_price_or_a_server(tmp_path: Path) -> None:
    own = _cli("models", "--json", "-m", "mine", "--base-url", "http://127.0.0.1:9/v1")
    configured = json.loads(own.stdout)["configured"]
    assert configured["price"] is None
    assert "no price known for compatible/mine" in configured["price_source"]
    assert configured["base_url_source"] == "flag"
    assert configured["context_window"] == 32_768
    rules = json.loads(_cli("models", "--json").stdout)["configured"]
    assert (rules["model"], rules["model_source"], rules["price"]) == (
        "rules", "default", {"input": 0.0, "output": 0.0},
    )  # fmt: skip
    text = _cli("models", "--provider", "anthropic").stdout
    assert "Known models (anthropic's current chat models; genai-prices" in text
    assert "claude" in text
    unknown = _cli("models", "--provider", "nope")
    assert unknown.exit_code == 20
    assert "--provider 'nope' is not one genai-prices knows" in unknown.stderr
    prices = tmp_path / "p.toml"
    prices.write_text('["compatible/mine"]\ninput = 1\noutput = 3\n')
    priced = _cli("models", "-m", "mine", "--base-url", "http://127.0.0.1:9/v1",
                  "--prices", str(prices)).stdout  # fmt: skip
    assert f"$1 in / $3 out per 1M tokens  ({prices})" in priced


def test_version_and_the_new_commands_import_no_price_data() -> None:
    code = (
        "import sys, summarizer.cli.app, summarizer.settings, summarizer.catalog;"
        "print(sorted(m for m in sys.modules if m.startswith(('genai_prices', 'openai'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT,
                          timeout=60, check=True)  # fmt: skip
    assert proc.stdout.decode().strip() == "[]"


def test_the_config_file_s_cache_dir_is_where_answers_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarizer.cache import default_cache_dir

    config = tmp_path / "config.toml"
    config.write_text(f'cache_dir = "{tmp_path / "answers"}"\n', encoding="utf-8")
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(config))
    monkeypatch.delenv("SUMMARIZER_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "answers"
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"  # the environment wins
