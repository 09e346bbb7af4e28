"""The embedded model without running it: GGUF headers, the prompt each GGUF gets,
the progress reports, and the CLI's status line. GGUF files here are written by the
tests themselves (headers only, no tensors), so nothing is downloaded or loaded."""

from __future__ import annotations

import io
import itertools
import logging
import mmap
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from summarizer import BackendUnavailableError, Settings, Summarizer
from summarizer.backends import local as local_mod
from summarizer.backends.gguf import (
    ArrayInfo,
    GGUFError,
    chat_template,
    prompt_style,
    read_metadata,
)
from summarizer.backends.llama_model import LlamaModel, fold_system
from summarizer.backends.local import LocalBackend
from summarizer.backends.progress import (
    LOG,
    GenerationProgress,
    ReportsProgress,
    TokenMeter,
    counting_samples,
)
from summarizer.cli.status import GenerationStatus, generation_status
from tests.conftest import ROOT, SEED

GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

# -- writing GGUF headers -------------------------------------------------------------

_TYPES = {int: (5, "i"), float: (6, "f"), bool: (7, "?")}


def _string(text: str, order: str = "<") -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(order + "Q", len(raw)) + raw


def _value(value: Any, order: str = "<") -> bytes:
    """Type tag and value: str, bool, int (int32), float (float32), or a list (an
    array of the first element's type)."""
    if isinstance(value, str):
        return struct.pack(order + "I", 8) + _string(value, order)
    if isinstance(value, list):
        if value and isinstance(value[0], str):
            body = b"".join(_string(v, order) for v in value)
            return struct.pack(order + "IIQ", 9, 8, len(value)) + body
        kind, fmt = _TYPES[type(value[0]) if value else int]
        body = b"".join(struct.pack(order + fmt, v) for v in value)
        return struct.pack(order + "IIQ", 9, kind, len(value)) + body
    kind, fmt = _TYPES[type(value)]
    return struct.pack(order + "I" + fmt, kind, value)


def gguf_header(metadata: dict[str, Any], *, version: int = 3, order: str = "<") -> bytes:
    """A GGUF file's header with these key-value pairs and no tensors."""
    out = b"GGUF" + struct.pack(order + "IQQ", version, 0, len(metadata))
    for key, value in metadata.items():
        out += _string(key, order) + _value(value, order)
    return out


def write_gguf(path: Path, metadata: dict[str, Any], **kwargs: Any) -> Path:
    path.write_bytes(gguf_header(metadata, **kwargs))
    return path


def with_metadata(src: Path, dst: Path, extra: dict[str, Any]) -> Path:
    """A copy of a real GGUF with key-value pairs added or replaced: the header is
    rewritten and the tensor data copied after it, realigned (its offsets are
    relative to the data section, so they hold)."""
    from summarizer.backends.gguf import _Reader

    with src.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        reader = _Reader(data)
        reader.pos = 4
        version, tensors, count = reader.take("I"), reader.take("Q"), reader.take("Q")
        alignment, kept = 32, []
        for _ in range(count):
            start = reader.pos
            key = reader.string()
            value = reader.value(reader.take("I"))
            alignment = value if key == "general.alignment" else alignment
            if key not in extra:
                kept.append(bytes(data[start : reader.pos]))
        infos_start = reader.pos
        for _ in range(tensors):
            reader.string()
            reader.skip(8 * reader.take("I"))  # the dimensions
            reader.take("I")  # type
            reader.take("Q")  # offset
        infos = bytes(data[infos_start : reader.pos])
        data_start = -(-reader.pos // alignment) * alignment
        added = b"".join(_string(k) + _value(v) for k, v in extra.items())
        head = b"GGUF" + struct.pack("<IQQ", version, tensors, len(kept) + len(extra))
        head += b"".join(kept) + added + infos
        with dst.open("wb") as out:
            out.write(head + b"\0" * (-len(head) % alignment))
            out.write(data[data_start:])
    return dst


def instruct_metadata(**extra: Any) -> dict[str, Any]:
    return {
        "general.architecture": "qwen2",
        "general.name": "Qwen2.5 3B Instruct",
        "general.finetune": "Instruct",
        "tokenizer.ggml.tokens": ["<|endoftext|>", "a", "b"] * 40,
        "tokenizer.ggml.scores": [0.0] * 120,
        "tokenizer.chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
        **extra,
    }


# -- reading them ---------------------------------------------------------------------


def test_reads_every_value_kind_and_skips_long_arrays(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "m.gguf",
        {
            "general.name": "Tiny",
            "general.tags": ["text-generation", "chat"],
            "n": 7,
            "x": 0.5,
            "flag": True,
            "tokenizer.ggml.tokens": [f"t{i}" for i in range(1000)],
            "tokenizer.ggml.scores": [1.0] * 1000,
            "tokenizer.chat_template": "{{ messages }}",
        },
    )
    meta = read_metadata(path)
    assert meta["general.name"] == "Tiny"
    assert meta["general.tags"] == ("text-generation", "chat")
    assert (meta["n"], meta["x"], meta["flag"]) == (7, 0.5, True)
    assert meta["tokenizer.ggml.tokens"] == ArrayInfo(8, 1000)
    assert meta["tokenizer.ggml.scores"] == ArrayInfo(6, 1000)
    assert chat_template(meta) == "{{ messages }}"


def test_reads_big_endian_and_version_2(tmp_path: Path) -> None:
    meta = {"general.name": "Big", "tokenizer.chat_template": "t"}
    big = read_metadata(write_gguf(tmp_path / "be.gguf", meta, order=">"))
    assert big == meta
    assert read_metadata(write_gguf(tmp_path / "v2.gguf", meta, version=2)) == meta


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "too short"),
        (b"GGML" + b"\x00" * 40, "magic"),
        (b"GGUF" + struct.pack("<IQQ", 1, 0, 0), "version 1"),
        (b"GGUF" + struct.pack("<IQQ", 4, 0, 0), "version 4"),
        (b"GGUF" + b"\x00" * 64, "version 0"),  # what the corrupt-file CLI test writes
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 40), "metadata keys"),
        (b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1 << 60), "cut short"),  # key length
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string("k") + struct.pack("<I", 99), "type"),
        # an array of 2**60 strings, of 2**60 uint64 and of 2**60 arrays, in 60 bytes
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string("k") + struct.pack("<IIQ", 9, 8, 1 << 60), "cut short"),  # noqa: E501
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string("k") + struct.pack("<IIQ", 9, 10, 1 << 60), "cut short"),  # noqa: E501
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _string("k") + struct.pack("<IIQ", 9, 9, 1 << 60), "cut short"),  # noqa: E501
    ],
)  # fmt: skip
def test_hostile_headers_are_a_clear_error(tmp_path: Path, data: bytes, why: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(GGUFError, match=why):
        read_metadata(path)


def test_every_truncation_of_a_header_is_a_clear_error(tmp_path: Path) -> None:
    full = gguf_header(instruct_metadata())
    path = tmp_path / "cut.gguf"
    for end in range(len(full)):
        path.write_bytes(full[:end])
        with pytest.raises(GGUFError):
            read_metadata(path)
    path.write_bytes(full)
    assert read_metadata(path)["general.name"] == "Qwen2.5 3B Instruct"


def test_unreadable_paths_are_gguf_errors(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="cannot read"):
        read_metadata(tmp_path / "missing.gguf")
    with pytest.raises(GGUFError):
        read_metadata(tmp_path)  # a directory


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", {"general.name": "one"})
    assert read_metadata(path)["general.name"] == "one"
    write_gguf(path, {"general.name": "two, a longer name"})
    assert read_metadata(path)["general.name"] == "two, a longer name"


# -- which prompt a GGUF gets ---------------------------------------------------------

TEMPLATE = {"tokenizer.chat_template": "{{ messages }}"}


@pytest.mark.parametrize(
    ("metadata", "filename", "style"),
    [
        ({"general.name": "Qwen2.5 3B Instruct"}, "qwen2.5-3b-instruct-q4_k_m.gguf", "completion"),
        ({**TEMPLATE, "general.name": "Qwen2.5 3B Instruct"}, "x.gguf", "chat"),
        ({**TEMPLATE}, "qwen2.5-3b-instruct-q4_k_m.gguf", "chat"),
        ({**TEMPLATE, "general.name": "Gemma 3 270m"}, "gemma-3-270m-it-Q4_K_M.gguf", "chat"),
        ({**TEMPLATE, "general.finetune": "chat"}, "llama-2-7b.Q4_0.gguf", "chat"),
        ({**TEMPLATE, "general.tags": ("conversational",)}, "m.gguf", "chat"),
        ({**TEMPLATE, "general.name": "Qwen3 4B Base"}, "qwen3-4b-base.gguf", "completion"),
        ({**TEMPLATE, "general.name": "Gemma 2 2b"}, "gemma-2-2b-pt-q8_0.gguf", "completion"),
        ({**TEMPLATE, "general.name": "Qwen3 4B"}, "Qwen3-4B-Q4_K_M.gguf", "chat"),
        ({"tokenizer.chat_template": "  "}, "x-instruct.gguf", "completion"),
        ({"tokenizer.chat_template": ArrayInfo(8, 2)}, "x-instruct.gguf", "completion"),
        # "it" as a word, not inside one; "pt" likewise
        ({**TEMPLATE, "general.name": "Gemma 2 2b"}, "gemma-2-2b-optimized.gguf", "chat"),
        ({**TEMPLATE, "general.name": "Gemma 2 2b"}, "gemma-2-2b-split.gguf", "chat"),
    ],
)  # fmt: skip
def test_the_prompt_style_rule(metadata: dict[str, Any], filename: str, style: str) -> None:
    chosen, why = prompt_style(metadata, filename)
    assert chosen == style
    assert "chat template" in why


def _no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(settings: Settings) -> Any:
        raise AssertionError("the model was loaded to choose a prompt")

    monkeypatch.setattr(local_mod, "load_model", refuse)


def test_an_instruct_gguf_gets_the_chat_prompt_without_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_loading(monkeypatch)
    path = write_gguf(tmp_path / "qwen2.5-3b-instruct-q4_k_m.gguf", instruct_metadata())
    with Summarizer(model=f"local:{path}") as s:
        assert s.prompt.ref == "summarize@v1"
        assert s.generation_params()["prompt_format"] == "chat"
        assert s.backend.default_prompt == "summarize@v1"
    base = write_gguf(tmp_path / "base.gguf", {"general.name": "Some 1B"})
    assert Summarizer(model=f"local:{base}").prompt.ref == "summarize-local@v1"


def test_an_explicit_prompt_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_loading(monkeypatch)
    path = write_gguf(tmp_path / "chat.gguf", instruct_metadata())
    forced = Summarizer(model=f"local:{path}", prompt="summarize-local@v1")
    assert forced.prompt.ref == "summarize-local@v1"
    assert forced.generation_params()["prompt_format"] == "completion"
    env = Settings.resolve(env={"SUMMARIZER_PROMPT": "summarize-local@v1"}, model=f"local:{path}")
    assert Summarizer(env).prompt.ref == "summarize-local@v1"


def test_the_bundled_model_keeps_its_prompt_without_reading_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(path: Path) -> Any:
        raise AssertionError("the bundled GGUF was read to choose a prompt")

    monkeypatch.setattr(local_mod, "read_metadata", refuse)
    _no_loading(monkeypatch)
    backend = LocalBackend(Settings.resolve(env={}, model="local"))
    assert backend.default_prompt == "summarize-local@v1"
    assert backend.prompt_style == ("completion", "the bundled Gemma 3 270M is a base model")


@pytest.mark.parametrize("content", [None, b"", b"GGUF" + b"\x00" * 64, b"not a model at all"])
def test_a_missing_or_broken_file_gets_the_base_prompt_and_fails_at_load(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "m-instruct.gguf"
    if content is not None:
        path.write_bytes(content)
    backend = LocalBackend(Settings.resolve(env={}, model=f"local:{path}"))
    assert backend.default_prompt == "summarize-local@v1"
    assert "not read" in backend.prompt_style[1]
    if content is None:
        with pytest.raises(BackendUnavailableError, match="no GGUF model file"):
            Summarizer(model=f"local:{path}").summarize("Some article text about a vote.")


def test_the_default_prompt_can_be_set() -> None:
    backend = LocalBackend(Settings.resolve(env={}, model="local"))
    backend.default_prompt = "summarize@v1"
    assert backend.default_prompt == "summarize@v1"


class _StubLlm:
    def describe(self) -> dict[str, Any]:
        return {"name": "stub.gguf", "chat_template": True}


def test_meta_records_the_prompt_style_and_why(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "chat.gguf", instruct_metadata())
    backend = LocalBackend(Settings.resolve(env={}, model=f"local:{path}"))
    backend._model = _StubLlm()  # type: ignore[assignment]
    described = backend.describe()
    assert described["prompt_style"] == "chat"
    assert "chat template" in described["prompt_style_reason"]
    assert described["model_file"] == {"name": "stub.gguf", "chat_template": True}
    forced = LocalBackend(
        Settings.resolve(env={}, model=f"local:{path}", prompt="summarize-local@v1")
    )
    forced._model = _StubLlm()  # type: ignore[assignment]
    assert forced.describe()["prompt_style"] == "completion"
    assert forced.describe()["prompt_style_reason"] == "set by the prompt summarize-local@v1"


def test_a_chat_gguf_that_cannot_load_is_one_clear_line(tmp_path: Path) -> None:
    """A header-only GGUF: the prompt is chosen from it, then loading fails with one line."""
    pytest.importorskip("llama_cpp", reason="needs the [local] extra")
    path = write_gguf(tmp_path / "qwen2.5-3b-instruct-q4_k_m.gguf", instruct_metadata())
    proc = subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", str(SEED), "--model", f"local:{path}",
         "--no-cache"],
        capture_output=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 22, err
    assert "Traceback" not in err
    assert "cannot load the model" in err.splitlines()[-1]
    assert proc.stdout == b""


# -- the chat path, with a stand-in for llama.cpp ------------------------------------


class _FakeLlama:
    """Answers like llama-cpp-python: samples ``tokens`` tokens through
    ``self.sample``; its chat template may refuse a system turn."""

    def __init__(
        self, tokens: int = 5, refuse_system: bool = False, refuse_all: bool = False
    ) -> None:
        self.tokens = tokens
        self.refuse_system = refuse_system
        self.refuse_all = refuse_all
        self.seen: list[list[dict[str, Any]]] = []
        self.metadata = {"tokenizer.chat_template": "t"}
        self.chat_format = "chat_template.default"

    def sample(self, **kwargs: Any) -> int:
        return 1

    def _run(self) -> None:
        for _ in range(self.tokens):
            self.sample(idx=0)

    def create_chat_completion(self, messages: list[dict[str, Any]], **kw: Any) -> Any:
        self.seen.append(messages)
        if self.refuse_system and any(m["role"] == "system" for m in messages):
            raise ValueError("System role not supported")
        if self.refuse_all:
            raise ValueError("Conversation roles must alternate user/assistant")
        self._run()
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"a": 1}'},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": self.tokens - 1,
                      "total_tokens": 8 + self.tokens},
        }  # fmt: skip


def _model(fake: _FakeLlama) -> LlamaModel:
    import threading

    model = LlamaModel.__new__(LlamaModel)
    model.llama = fake
    model.path = Path("fake.gguf")
    model._grammars = {}
    model._lock = threading.Lock()
    return model


MESSAGES = [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Article."}]


def test_a_template_that_refuses_a_system_turn_gets_it_in_the_user_turn() -> None:
    fake = _FakeLlama(refuse_system=True)
    seen: list[GenerationProgress] = []
    answer = _model(fake).create(messages=MESSAGES, prompt_format="chat", on_progress=seen.append)
    assert answer["choices"][0]["message"]["content"] == '{"a": 1}'
    assert answer["model"] == "fake.gguf"
    assert fake.seen[-1] == [{"role": "user", "content": "Rules.\n\nArticle."}]
    assert seen[0].tokens == 0
    assert not seen[0].done
    assert seen[-1].done
    assert seen[-1].tokens == 4  # llama.cpp's count, not the samples
    assert "sample" not in vars(fake)  # the counting hook is gone after the call


def test_a_template_that_fails_anyway_is_a_clear_error() -> None:
    fake = _FakeLlama(refuse_all=True)
    with pytest.raises(BackendUnavailableError, match=r"cannot answer the prompt: Conv.*alternate"):
        _model(fake).create(messages=MESSAGES, prompt_format="chat")
    assert len(fake.seen) == 2  # as given, then with the system text folded in
    with pytest.raises(BackendUnavailableError, match="cannot answer the prompt"):
        _model(fake).create(messages=MESSAGES[1:], prompt_format="chat")
    assert len(fake.seen) == 3  # nothing to fold: not tried twice


def test_fold_system() -> None:
    assert fold_system([{"role": "user", "content": "u"}]) == [{"role": "user", "content": "u"}]
    assert fold_system([{"role": "system", "content": "s"}]) == [{"role": "user", "content": "s"}]
    assert fold_system(MESSAGES)[0]["content"] == "Rules.\n\nArticle."
    assert MESSAGES[1]["content"] == "Article."  # not modified in place


# -- progress reports -----------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_meter_reports_the_first_token_then_at_most_4_a_second(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, seen = _Clock(), []
    caplog.set_level(logging.INFO, logger="summarizer.local")
    meter = TokenMeter(seen.append, 1500, clock=clock, log_interval_s=10.0)
    meter.start()
    clock.now += 3.0  # reading the prompt
    meter.tick()
    assert seen[-1].first_token_s == 3.0
    assert seen[-1].tokens == 1
    for _ in range(320):  # 320 tokens at 16 a second (exact in binary)
        clock.now += 1 / 16
        meter.tick()
    assert len(seen) == 2 + 80  # start, first token, then 20 s at 4 a second
    gaps = [b.elapsed_s - a.elapsed_s for a, b in itertools.pairwise(seen[1:])]
    assert min(gaps) >= 0.25
    last = meter.finish()
    assert last.done
    assert last.tokens == 321
    assert last.tokens_per_s == 16.0
    assert last.describe() == "321 tokens in 23.0 s (first after 3.0 s, 16.0 tokens/s)"
    periodic = [r for r in caplog.records if getattr(r, "progress", "") == "periodic"]
    done = [r for r in caplog.records if getattr(r, "progress", "") == "done"]
    assert len(periodic) == 2  # at 10 s and 20 s
    assert "embedded model answered: 321 tokens" in done[0].getMessage()


def test_the_meter_logs_nothing_periodic_when_logging_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="summarizer.local")
    clock = _Clock()
    meter = TokenMeter(None, 10, clock=clock)
    for _ in range(100):
        clock.now += 1.0
        meter.tick()
    meter.finish()
    assert caplog.records == []


def test_a_failing_display_stops_being_called_and_generation_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    def broken(progress: GenerationProgress) -> None:
        calls.append(progress)
        raise RuntimeError("terminal gone")

    meter = TokenMeter(broken, 10)
    meter.start()
    meter.tick()
    meter.finish()
    assert len(calls) == 1
    assert "progress display failed" in caplog.text


def test_progress_describes_itself_before_the_first_token() -> None:
    waiting = GenerationProgress(tokens=0, elapsed_s=2.0, first_token_s=None, max_tokens=9)
    assert waiting.tokens_per_s is None
    assert waiting.describe() == "0 tokens in 2.0 s (reading the prompt)"
    one = GenerationProgress(tokens=1, elapsed_s=2.0, first_token_s=2.0, max_tokens=9)
    assert one.tokens_per_s is None
    assert one.describe() == "1 tokens in 2.0 s (first after 2.0 s)"


def test_counting_samples_restores_a_shadowed_method() -> None:
    fake = _FakeLlama(tokens=3)
    own = fake.sample
    fake.sample = own  # type: ignore[method-assign]
    meter = TokenMeter(None, 10)
    with counting_samples(fake, meter):
        fake._run()
    assert meter.tokens == 3
    assert vars(fake)["sample"] is own


# -- the CLI's status line ------------------------------------------------------------


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120), out


def test_the_status_line_says_what_the_model_is_doing() -> None:
    clock = _Clock()
    status = GenerationStatus(_console(False)[0], clock=clock)
    assert status.line() == "embedded model: starting"
    status._latest, status._at = GenerationProgress(0, 0.0, None, 1500), clock.now
    clock.now += 4.0
    assert status.line() == "embedded model: reading the article, 4 s"
    status._latest = GenerationProgress(101, 9.0, 4.0, 1500)
    status._at, status.answers = clock.now, 2
    assert status.line() == (
        "embedded model: answer 2, 101/1500 tokens, 9 s (first token after 4.0 s, 20.0 tokens/s)"
    )


def test_the_status_line_is_drawn_on_a_terminal_and_cleaned_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = LocalBackend(Settings.resolve(env={}, model="local"))
    assert isinstance(backend, ReportsProgress)
    console, out = _console(True)
    with generation_status(backend, console=console) as status:
        assert status is not None
        assert backend.on_progress == status.update
        assert any(isinstance(f, logging.Filter) for f in LOG.filters)
        backend.on_progress(GenerationProgress(0, 0.0, None, 1500))
        assert status._live is not None
        backend.on_progress(GenerationProgress(50, 5.0, 2.0, 1500))
        backend.on_progress(GenerationProgress(49, 6.0, 2.0, 1500, done=True))
        assert status._live is None
        backend.on_progress(GenerationProgress(0, 0.0, None, 1500))  # a re-ask
        assert status.answers == 2
    assert status._live is None
    assert backend.on_progress is None
    assert LOG.filters == []
    assert "embedded model" in out.getvalue()
    assert capsys.readouterr().out == ""  # never on stdout


def test_no_status_line_off_a_terminal_or_for_other_backends() -> None:
    backend = LocalBackend(Settings.resolve(env={}, model="local"))
    with generation_status(backend, console=_console(False)[0]) as status:
        assert status is None
        assert backend.on_progress is None
    with generation_status(object(), console=_console(True)[0]) as status:
        assert status is None


def test_no_status_line_when_quiet() -> None:
    from summarizer.cli.verbosity import configure

    backend = LocalBackend(Settings.resolve(env={}, model="local"))
    try:
        configure(0, quiet=True)
        with generation_status(backend, console=_console(True)[0]) as status:
            assert status is None
        configure(1, quiet=False)  # -v: the line on a terminal, the log lines elsewhere
        with generation_status(backend, console=_console(True)[0]) as status:
            assert status is not None
    finally:
        configure(0, quiet=False)


def test_the_live_line_drops_the_periodic_log_lines_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="summarizer.local")
    backend = LocalBackend(Settings.resolve(env={}, model="local"))
    with generation_status(backend, console=_console(True)[0]):
        LOG.info("tick", extra={"progress": "periodic"})
        LOG.info("answered", extra={"progress": "done"})
    LOG.info("tick after", extra={"progress": "periodic"})
    assert [r.getMessage() for r in caplog.records] == ["answered", "tick after"]


def test_with_metadata_adds_and_replaces_keys(tmp_path: Path) -> None:
    src = write_gguf(tmp_path / "a.gguf", {"general.name": "Base 1B", "n": 3})
    out = with_metadata(src, tmp_path / "b.gguf", {"general.name": "It", **TEMPLATE})
    assert read_metadata(out) == {"n": 3, "general.name": "It", **TEMPLATE}
