"""One frozen settings object: explicit argument > environment variable > config file > default.

Nothing here reads the environment or the config file at import time;
:meth:`Settings.resolve` does, when called, so tests and library users control it
fully (pass ``env`` and the config file is found through it alone, see
:func:`summarizer.config.config_path`).

Model resolution order (documented in the README):

1. an explicit ``model`` (``--model``);
2. ``SUMMARIZER_MODEL``;
3. ``model`` in the config file;
4. ``OPENAI_API_KEY`` present: OpenAI's default model (``openai/gpt-4o-mini``);
5. the offline default (``rules``: no model; it scores above the embedded 270M model
   and above the lead baseline, see benchmarks/results/ablation.md).

The config file holds the keys of :data:`CONFIG_KEYS` and nothing else. An API key is
refused there on purpose: a config file is the kind of file people copy between
machines, commit with their dotfiles and paste into bug reports, so a key in it leaks;
keys belong in the environment (``OPENAI_API_KEY``) or a secret store that sets it.
Supporting it safely would also need a file-mode check that means nothing on every
file system; refusing it is simpler and says where the key goes instead. A
``base_url`` holding a password or a key is refused too (``explain`` redacts any).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from summarizer.config_keys import (
    CONFIG_KEYS,
    MODES,
    Mode,
    Resolved,
    user_config,
    user_setting,
)
from summarizer.errors import ConfigurationError
from summarizer.redact import redact_url

DEFAULT_OPENAI_MODEL = "openai/gpt-4o-mini"
LOCAL = "local"
RULES = "rules"

# Providers we know by prefix, with their default base URL (None = the OpenAI SDK's).
# OpenAI itself gets tool calling; every other server JSON-schema mode, which vLLM,
# llama.cpp's server, Ollama and LM Studio all support. Anything else
# OpenAI-compatible works with ``--base-url``.
PROVIDERS: dict[str, str | None] = {
    "openai": None,
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
    "llamacpp": "http://localhost:8080/v1",
    "lmstudio": "http://localhost:1234/v1",
    # The no-model methods (summarizer.backends.extractive): no server at all.
    "baseline": None,
}


# The no-model methods' providers, and the settings only a model reads.
_NO_MODEL = frozenset({RULES, "baseline"})
_MODEL_ONLY = ("prompt", "mode", "temperature", "max_tokens")


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``--model`` value: ``provider/name``, a bare name, or ``local[:path]``."""

    provider: str
    name: str

    @property
    def is_local(self) -> bool:
        return self.provider == LOCAL

    def __str__(self) -> str:
        if self.is_local:
            return LOCAL if not self.name else f"{LOCAL}:{self.name}"
        if self.provider == RULES:
            return RULES
        return f"{self.provider}/{self.name}"

    @classmethod
    def parse(cls, spec: str, *, base_url: str | None = None) -> ModelRef:
        spec = spec.strip()
        if not spec:
            raise ConfigurationError("empty model name: pass --model NAME or --model local")
        if spec == LOCAL or spec.startswith(LOCAL + ":"):
            return cls(LOCAL, spec[len(LOCAL) + 1 :])
        if spec == RULES:
            return cls(RULES, "")
        prefix, sep, rest = spec.partition("/")
        if sep and prefix in PROVIDERS and rest:
            return cls(prefix, rest)
        # A bare name (or one with an unknown prefix, e.g. "meta-llama/Llama-3-8B" on
        # vLLM) is sent as is: to OpenAI without a base URL, else to that server.
        return cls("openai" if base_url is None else "compatible", spec)


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved once.

    ``model`` is the only required piece; :meth:`resolve` fills it by the order in
    the module docstring, and it is parsed once, here (:attr:`model_ref`). Generation
    parameters left as ``None`` come from the prompt file's defaults; a ``prompt``
    left as ``None`` is the backend's default (the embedded model has its own).
    """

    model: str = RULES
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    mode: Mode | None = None
    prompt: str | None = None
    strict: bool = False
    # None: the backend's default (2 for a server, 0 for the embedded model).
    max_reasks: int | None = None
    max_transport_retries: int = 4
    retry_initial_wait: float = 0.5
    retry_max_wait: float = 30.0
    # Seconds for each model request as a whole: connecting, sending, headers and the
    # whole body, a slow one included (and for each connect or read within it).
    timeout: float = 120.0
    # Bytes of a model's answer read at most (decoded); a larger answer is an error.
    max_answer_bytes: int = 4 * 1024 * 1024
    temperature: float | None = None
    max_tokens: int | None = None
    context_window: int | None = None
    # An article over the context budget is split into at most this many parts
    # (1: never split, fail with ArticleTooLongError instead).
    max_parts: int = 16
    # Embedded model settings (``--model local``), sized for a 2-core machine.
    local_n_ctx: int = 8192
    local_threads: int | None = None
    local_seed: int = 0
    model_ref: ModelRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_ref", ModelRef.parse(self.model, base_url=self.base_url))

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
        """Build settings from explicit values (``None`` = unset), then env, then the
        config file, then defaults."""
        resolved = _resolve(env, explicit)
        if ModelRef.parse(str(resolved["model"].value)).provider in _NO_MODEL:
            # No model reads a prompt or sampling parameters. Asked for explicitly,
            # that is a mistake to report (the backend does); from the environment or
            # the config file they are defaults for when a model runs: left out.
            for name in _MODEL_ONLY:
                if name in resolved and resolved[name].source != "explicit":
                    del resolved[name]
        settings = cls(**{k: r.value for k, r in resolved.items()})
        settings.validate()
        return settings

    @classmethod
    def explain(cls, env: Mapping[str, str] | None = None, **explicit: Any) -> dict[str, Resolved]:
        """Each config key's effective value and where it came from, as :meth:`resolve`
        would settle it (``api_key`` too, its value hidden), for ``summarizer config show``."""
        env = os.environ if env is None else env
        by_field = _resolve(env, explicit)
        out = {
            spec.name: by_field[spec.field] if spec.field else user_setting(spec.name, env)
            for spec in CONFIG_KEYS.values()
        }
        key = by_field["api_key"]
        out["api_key"] = Resolved("(set)" if key.value else None, key.source)
        url = out["base_url"]
        out["base_url"] = Resolved(redact_url(url.value), url.source)
        return out

    def validate(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ConfigurationError(
                f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}"
            )
        if (self.max_reasks or 0) < 0 or self.max_transport_retries < 0:
            raise ConfigurationError("retry counts must be 0 or more")
        if self.max_parts < 1:
            raise ConfigurationError("--max-parts must be 1 or more")
        if self.max_answer_bytes < 1:
            raise ConfigurationError("max_answer_bytes must be 1 or more")

    def with_(self, **changes: Any) -> Settings:
        """A copy with some values changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def effective_base_url(self) -> str | None:
        if self.base_url:
            return self.base_url
        return PROVIDERS.get(self.model_ref.provider)

    @property
    def effective_mode(self) -> Mode:
        """Tool calling for OpenAI itself; JSON-schema mode for other servers."""
        if self.mode:
            return self.mode
        ref = self.model_ref
        if ref.provider == "openai" and (
            self.base_url is None or "api.openai.com" in self.base_url
        ):
            return "tools"
        return "json_schema"


def _resolve(env: Mapping[str, str] | None, explicit: Mapping[str, Any]) -> dict[str, Resolved]:
    """Every :class:`Settings` field that is set, with its source; see the module doc."""
    env = os.environ if env is None else env
    known = {f.name for f in fields(Settings) if f.init}
    unknown = set(explicit) - known
    if unknown:
        raise ConfigurationError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    out = {k: Resolved(v, "explicit") for k, v in explicit.items() if v is not None}
    config = user_config(env)
    for spec in CONFIG_KEYS.values():
        if spec.field is None or spec.field in out:
            continue
        if spec.env and env.get(spec.env):
            out[spec.field] = Resolved(env[spec.env], f"env {spec.env}")
        elif spec.name in config:
            out[spec.field] = Resolved(config[spec.name], "config")
    if "api_key" not in out:
        key = env.get("OPENAI_API_KEY") or None
        out["api_key"] = Resolved(key, "env OPENAI_API_KEY" if key else "default")
    if "model" not in out:
        if out["api_key"].value:
            out["model"] = Resolved(DEFAULT_OPENAI_MODEL, "default (OPENAI_API_KEY is set)")
        else:
            out["model"] = Resolved(RULES, "default")
    for f in fields(Settings):
        if f.init and f.name not in out:
            out[f.name] = Resolved(getattr(Settings, f.name, None), "default")
    return out
