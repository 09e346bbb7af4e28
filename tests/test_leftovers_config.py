"""A relative path in the config file is relative to the file (as in ruff and uv), not
to wherever a command runs: a prompt file, a ``local:`` GGUF, the cache folder and the
price file. Names that are not paths (``summarize@v1``, ``openai/gpt-4o-mini``) stay
as written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.config_keys import config_value, user_config
from summarizer.prompts import load_prompt, prompt_dirs
from summarizer.settings import Settings
from tests.fakeserver import FakeOpenAI, summary_reply


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder with a prompt file, and a working directory elsewhere."""
    folder = tmp_path / "dotfiles"
    (folder / "prompts").mkdir(parents=True)
    shutil.copy(prompt_dirs()[0] / "summarize" / "v1.toml", folder / "prompts" / "mine.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder


def _write(folder: Path, text: str) -> dict[str, str]:
    config = folder / "config.toml"
    config.write_text(text, encoding="utf-8")
    return {"SUMMARIZER_CONFIG": str(config)}


def test_a_relative_prompt_file_is_read_from_the_config_files_folder(home: Path) -> None:
    env = _write(home, 'prompt = "prompts/mine.toml"\n')
    settings = Settings.resolve(env=env, model="openai/gpt-4o-mini")
    assert settings.prompt == str(home / "prompts" / "mine.toml")
    assert load_prompt(settings.prompt).path == home / "prompts" / "mine.toml"
    assert Settings.explain(env=env, model="openai/gpt-4o-mini")["prompt"].source == "config"


def test_a_dot_relative_prompt_and_a_named_prompt(home: Path) -> None:
    env = _write(home, 'prompt = "./prompts/../prompts/mine.toml"\n')
    assert user_config(env)["prompt"] == str(home / "prompts" / "mine.toml")
    env = _write(home, 'prompt = "summarize@v1"\n')
    assert user_config(env)["prompt"] == "summarize@v1"  # a name, not a path


def test_an_absolute_or_home_path_is_kept(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = Path.cwd()
    monkeypatch.setenv("HOME", str(elsewhere))
    env = _write(home, f'prompt = "{home / "prompts" / "mine.toml"}"\ncache_dir = "~/c"\n')
    checked = user_config(env)
    assert checked["prompt"] == str(home / "prompts" / "mine.toml")
    assert checked["cache_dir"] == str(elsewhere / "c")


def test_a_local_gguf_is_relative_to_the_file_and_other_models_are_names(home: Path) -> None:
    env = _write(home, 'model = "local:models/x.gguf"\n')
    assert user_config(env)["model"] == f"local:{home / 'models' / 'x.gguf'}"
    for name in ("local", "openai/gpt-4o-mini", "vllm/Qwen/Qwen3-8B", "rules"):
        env = _write(home, f'model = "{name}"\n')
        assert user_config(env)["model"] == name


def test_the_other_path_settings_too(home: Path) -> None:
    env = _write(home, 'cache_dir = "answers"\nprices = "prices.toml"\n')
    checked = user_config(env)
    assert checked["cache_dir"] == str(home / "answers")
    assert checked["prices"] == str(home / "prices.toml")


def test_config_set_makes_a_typed_path_absolute_from_where_it_is_typed(home: Path) -> None:
    here = Path.cwd()
    assert config_value("model", "local:m.gguf") == f"local:{here / 'm.gguf'}"
    assert config_value("cache_dir", "c") == str(here / "c")
    env = _write(home, "")
    (here / "p").mkdir()
    shutil.copy(home / "prompts" / "mine.toml", here / "p" / "mine.toml")
    done = CliRunner().invoke(app, ["config", "set", "prompt", "p/mine.toml"], env=env)
    assert done.exit_code == 0, done.stderr
    assert user_config(env)["prompt"] == str(here / "p" / "mine.toml")
    assert config_value("prompt", "summarize@v1") == "summarize@v1"


def test_a_run_from_another_directory_sends_the_configured_prompt(
    home: Path, fake_openai: FakeOpenAI, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    prompt = home / "prompts" / "mine.toml"
    text = prompt.read_text(encoding="utf-8").replace('system = """', 'system = """MINE. ', 1)
    prompt.write_text(text, encoding="utf-8")
    env = _write(home, f'prompt = "prompts/mine.toml"\nbase_url = "{fake_openai.url}"\n')
    (Path.cwd() / "a.txt").write_text(seed_text, encoding="utf-8")
    fake_openai.queue(summary_reply(seed_summary))
    done = CliRunner().invoke(app, ["summarize", "a.txt", "-m", "m"], env=env)
    assert done.exit_code == 0, done.stderr
    assert fake_openai.requests[0]["messages"][0]["content"].startswith("MINE. ")
    assert json.loads(done.stdout)["meta"]["prompt"]["name"] == "summarize"
