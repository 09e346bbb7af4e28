"""Prompt files (loading, validation, packaging) and settings resolution."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import summarizer
from summarizer import ConfigurationError, PromptError, Settings, Summarizer, load_prompt
from summarizer.prompts import list_prompts, load_prompt_file
from tests.conftest import ROOT

GOOD = """
name = "mine"
version = "v2"
description = "test prompt"
system = "Be careful."
user = "<article>{{ article }}</article>"

[parameters]
temperature = 0.2
max_tokens = 100
"""


def _write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_prompt_loads_with_hash() -> None:
    prompt = load_prompt("summarize@v1")
    assert prompt.ref == "summarize@v1"
    assert len(prompt.sha256) == 64
    assert load_prompt("summarize").version == prompt.version or len(list_prompts()) > 1
    messages = prompt.render("Some article text.", title="A title")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "<article>\nSome article text.\n</article>" in messages[1]["content"]
    assert "Title: A title" in messages[1]["content"]


def test_user_prompt_file(tmp_path: Path) -> None:
    prompt = load_prompt(str(_write(tmp_path, GOOD)))
    assert (prompt.ref, prompt.spec.parameters.temperature) == ("mine@v2", 0.2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD.replace('system = "Be careful."', 'system = "x"\ncolour = "blue"'), "colour"),
        (GOOD.replace("max_tokens = 100", "max_tokens = 100\nbeam = 3"), "parameters.beam"),
        (GOOD.replace("{{ article }}", "{{ articel }}"), "unknown variable(s) articel"),
        (GOOD.replace("{{ article }}", "nothing"), "never use article"),
        (GOOD.replace("{{ article }}", "{{ article "), "user template line"),
        (GOOD.replace('version = "v2"', 'version = "2"'), "version"),
        (GOOD.replace('description = "test prompt"\n', ""), "description: Field required"),
        ("name = [", "not valid TOML"),
    ],
    ids=["unknown-key", "unknown-param", "unknown-var", "no-article", "syntax", "version",
         "missing-key", "toml"],
)  # fmt: skip
def test_invalid_prompt_files_fail_clearly(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(PromptError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_prompt_file(_write(tmp_path, text))


def test_unknown_prompt_refs() -> None:
    with pytest.raises(PromptError, match="unknown prompt"):
        load_prompt("nope@v1")
    with pytest.raises(PromptError, match="prompt file not found"):
        load_prompt("missing/file.toml")


def test_released_prompts_are_never_edited() -> None:
    """A released prompt's hash is pinned here; a change must be a new version."""
    pinned = (ROOT / "prompts" / "RELEASED").read_text(encoding="utf-8").split()
    released = dict(zip(pinned[::2], pinned[1::2], strict=True))
    shipped = {p.ref: p.sha256 for p in list_prompts()}
    for ref, sha in released.items():
        assert shipped.get(ref) == sha, f"{ref} was edited or removed: add a new version"
    assert set(shipped) == set(released), "record a new prompt's hash in prompts/RELEASED"


def test_wheel_ships_the_prompts(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    wheel = next(tmp_path.glob("summarizer-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "site")
    assert "summarizer/_prompts/summarize/v1.toml" in names
    assert "summarizer/py.typed" in names
    # Loaded from the unpacked wheel, away from the checkout, the prompt is found.
    out = subprocess.run(
        [sys.executable, "-c",
         "from summarizer import load_prompt; p = load_prompt('summarize@v1'); print(p.path)"],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")},
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "/site/summarizer/_prompts/summarize/v1.toml" in out.stdout


def test_model_resolution_order() -> None:
    assert Settings.resolve(env={}).model == "rules"  # the offline default (#13)
    assert Settings.resolve(env={}, model="local").model_ref.is_local
    assert Settings.resolve(env={"OPENAI_API_KEY": "sk"}).model == "openai/gpt-4o-mini"
    env = {"OPENAI_API_KEY": "sk", "SUMMARIZER_MODEL": "ollama/llama3.1"}
    assert Settings.resolve(env=env).model == "ollama/llama3.1"
    assert Settings.resolve(env=env, model="vllm/qwen").model == "vllm/qwen"


def test_modes_and_base_urls_per_provider() -> None:
    openai = Settings.resolve(env={"OPENAI_API_KEY": "sk"})
    assert (openai.effective_mode, openai.effective_base_url) == ("tools", None)
    ollama = Settings.resolve(env={}, model="ollama/llama3.1")
    assert ollama.effective_mode == "json_schema"
    assert ollama.effective_base_url == "http://localhost:11434/v1"
    assert ollama.model_ref.name == "llama3.1"
    served = Settings.resolve(
        env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, model="Qwen/Qwen3-8B"
    )
    assert served.model_ref.name == "Qwen/Qwen3-8B"
    assert served.effective_mode == "json_schema"
    assert Settings.resolve(env={}, model="m", mode="md_json").effective_mode == "md_json"
    local = Settings.resolve(env={}, model="local:/models/x.gguf")
    assert (local.model_ref.is_local, local.model_ref.name) == (True, "/models/x.gguf")


def test_bad_settings() -> None:
    with pytest.raises(ConfigurationError, match="unknown mode"):
        Settings.resolve(env={}, mode="xml")
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Settings.resolve(env={}, colour="blue")
    with pytest.raises(ConfigurationError, match="empty model"):
        Settings.resolve(env={}, model=" ")


def test_public_api_is_complete_and_sorted() -> None:
    """Every exported name resolves, and every public name of the modules that make up
    the API (their own ``__all__``) is exported from the package."""
    public = set(summarizer._EXPORTS) | {"__version__"}
    for name in summarizer.__all__:
        assert getattr(summarizer, name) is not None
    for module in ("summarizer.contract", "summarizer.inputs", "summarizer.backends"):
        mod = __import__(module, fromlist=["__all__"])
        missing = set(mod.__all__) - set(summarizer.__all__) - {"Messages", "Mode", "Throttle",
                                                                 "backend_for", "check_text",
                                                                 "decode"}  # fmt: skip
        assert not missing, f"{module} exports {missing}, the package does not"
    import summarizer.errors as errors

    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, errors.SummarizerError):
            assert name in summarizer.__all__, f"{name} is raised by public calls but not exported"

    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then the rest.
    def group(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert summarizer.__all__ == sorted(summarizer.__all__, key=group)
    assert public <= set(summarizer.__all__)


def test_local_models_default_to_the_local_prompt() -> None:
    """The backend names the default prompt; settings that name one win. Building a
    summarizer for the embedded model loads no model."""

    def prompt(**kwargs: Any) -> str:
        return Summarizer(Settings.resolve(**kwargs)).prompt.ref

    assert prompt(env={}, model="local") == "summarize-local@v1"
    assert prompt(env={}, model="local:/x.gguf") == "summarize-local@v1"
    assert prompt(env={"OPENAI_API_KEY": "k"}) == "summarize@v1"
    assert prompt(env={}, model="local", prompt="summarize@v1") == "summarize@v1"
    assert prompt(env={"SUMMARIZER_PROMPT": "summarize@v1"}, model="local") == "summarize@v1"
    # The offline default reads no prompt: one from the environment (or the config
    # file) is a default for when a model runs, not an error; an explicit one is.
    assert Settings.resolve(env={"SUMMARIZER_PROMPT": "summarize@v1"}).prompt is None
    with pytest.raises(ConfigurationError, match="calls no model"):
        prompt(env={}, prompt="summarize@v1")


def test_prompt_limits_tighten_the_schema_the_model_sees(
    tmp_path: Path, fake_openai: Any, seed_summary: dict[str, Any]
) -> None:
    from summarizer import Summarizer
    from tests.fakeserver import summary_reply

    text = GOOD + "\n[limits]\nactors = 2\nevidence = 1\nquote_chars = 90\n"
    prompt = _write(tmp_path, text)
    seed_summary["actors"] = seed_summary["actors"][:2]
    seed_summary["commitments"] = []
    seed_summary["open_questions"] = []
    fake_openai.queue(summary_reply(seed_summary))
    with Summarizer(model="m", base_url=fake_openai.url, prompt=str(prompt)) as s:
        s.summarize((ROOT / "seeds" / "trump-putin-call.txt").read_text(encoding="utf-8"))
    schema = fake_openai.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["actors"]["maxItems"] == 2
    assert schema["$defs"]["Actor"]["properties"]["evidence"]["maxItems"] == 1
    assert schema["$defs"]["Evidence"]["properties"]["quote"]["maxLength"] == 90
    # The default schema is untouched by another prompt's limits.
    from summarizer.contract.llm_schema import llm_json_schema

    assert llm_json_schema()["properties"]["actors"]["maxItems"] == 20


def test_unknown_limit_is_a_prompt_error(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match=r"limits\.speakers"):
        load_prompt_file(_write(tmp_path, GOOD + "\n[limits]\nspeakers = 3\n"))


def test_quotes_from_article_offers_only_article_spans(
    tmp_path: Path, fake_openai: Any, seed_summary: dict[str, Any]
) -> None:
    from summarizer import Summarizer
    from tests.fakeserver import summary_reply

    text = (ROOT / "seeds" / "trump-putin-call.txt").read_text(encoding="utf-8")
    prompt = _write(tmp_path, GOOD + "\n[limits]\nquotes_from_article = true\ntext_chars = 50\n")
    fake_openai.queue(summary_reply(seed_summary))
    with Summarizer(model="m", base_url=fake_openai.url, prompt=str(prompt)) as s:
        s.summarize(text)
    schema = fake_openai.requests[0]["response_format"]["json_schema"]["schema"]
    choices = schema["$defs"]["Evidence"]["properties"]["quote"]["enum"]
    assert len(choices) > 20
    assert all(c in text and 3 <= len(c.split()) <= 40 for c in choices)
    assert "Zelenskyy is due to meet with Vice President Vance on Feb. 14." in choices
    assert schema["$defs"]["KeyPoint"]["properties"]["text"]["maxLength"] == 50
    assert schema["$defs"]["KeySummary"]["properties"]["summary"]["maxLength"] == 150
