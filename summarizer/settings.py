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

import contextlib
import functools
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from summarizer.config import ConfigFile, named_config
from summarizer.errors import ConfigurationError
from summarizer.redact import redact, redact_url, url_secret

Mode = Literal["tools", "json_schema", "json", "md_json"]
MODES: tuple[Mode, ...] = ("tools", "json_schema", "json", "md_json")
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


# -- the config file's keys, and resolving each setting ---------------------------------


@dataclass(frozen=True)
class Resolved:
    """A setting's effective value and where it came from: ``explicit`` (a flag or an
    argument), ``env NAME``, ``config`` or ``default``."""

    value: Any
    source: str


def _at_least(n: float) -> Callable[[Any], bool]:
    return lambda v: bool(v >= n)


@dataclass(frozen=True)
class ConfigKey:
    """A key of the config file: its TOML type, the :class:`Settings` field it fills
    (``None``: the module that uses it reads it, through :func:`user_setting`), the
    environment variable that outranks it, and the rule its value must meet."""

    name: str
    kind: type
    field: str | None
    env: str | None = None
    rule: str = ""
    check: Callable[[Any], bool] = bool
    path: bool = False
    #: What applies when nothing sets it, for ``summarizer config show``.
    unset: str = ""
    #: Why a value that meets the rule must still not be in a file (None: it may).
    refuse: Callable[[Any], str | None] = lambda v: None


def _url_secret(url: str) -> str | None:
    why = url_secret(url)
    return why and f"must not hold a credential: {why}; config files get copied and " + (
        "pasted, so keep the key in OPENAI_API_KEY (or the whole URL in OPENAI_BASE_URL)"
    )


CONFIG_KEYS: dict[str, ConfigKey] = {
    key.name: key
    for key in (
        ConfigKey("model", str, "model", "SUMMARIZER_MODEL", "a model name"),
        ConfigKey("base_url", str, "base_url", "OPENAI_BASE_URL", "an http(s):// URL",
                  lambda v: v.startswith(("http://", "https://")), unset="the provider's",
                  refuse=_url_secret),
        ConfigKey("prompt", str, "prompt", "SUMMARIZER_PROMPT", "NAME@VERSION or a .toml file",
                  unset="the backend's default prompt"),
        ConfigKey("mode", str, "mode", None, "one of " + ", ".join(MODES),
                  lambda v: v in MODES, unset="tools for OpenAI, json_schema elsewhere"),
        ConfigKey("strict", bool, "strict", check=lambda v: True),
        ConfigKey("max_reasks", int, "max_reasks", None, "0 or more", _at_least(0),
                  unset="the backend's (2 for a server, 0 for the embedded model)"),
        ConfigKey("retries", int, "max_transport_retries", None, "0 or more", _at_least(0)),
        ConfigKey("retry_max_wait", float, "retry_max_wait", None, "0 or more", _at_least(0)),
        ConfigKey("timeout", float, "timeout", None, "more than 0", lambda v: v > 0),
        ConfigKey("temperature", float, "temperature", None, "from 0 to 2",
                  lambda v: 0 <= v <= 2, unset="the prompt's"),
        ConfigKey("max_tokens", int, "max_tokens", None, "1 or more", _at_least(1),
                  unset="the prompt's"),
        ConfigKey("context_window", int, "context_window", None, "1 or more", _at_least(1),
                  unset="the model's (see `summarizer models`)"),
        ConfigKey("max_parts", int, "max_parts", None, "1 or more", _at_least(1)),
        ConfigKey("cache_dir", str, None, "SUMMARIZER_CACHE_DIR", "a folder", path=True,
                  unset="~/.cache/summarizer"),
        ConfigKey("prices", str, None, "SUMMARIZER_PRICES", "a TOML price file", path=True,
                  unset="genai-prices' bundled data only"),
    )
}  # fmt: skip
_KINDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _key_error(name: str) -> str:
    if re.search(r"api_?key|secret|password", name, re.IGNORECASE):
        return (
            f"{name!r} is not read from a config file: an API key belongs in the "
            "environment (OPENAI_API_KEY) or a secret store that sets it, never in a "
            "file that gets copied and shared"
        )
    return f"unknown key {name!r}; the keys are: {', '.join(CONFIG_KEYS)}"


def _checked(spec: ConfigKey, value: Any, problem: Callable[[str], ConfigurationError]) -> Any:
    """``value`` as ``spec`` wants it, or the error ``problem`` makes of what is wrong."""
    if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, spec.kind) or (isinstance(value, bool) and spec.kind is not bool):
        shown = value if isinstance(value, str | int | float) else type(value).__name__
        raise problem(f"{spec.name} must be {_KINDS[spec.kind]}, not {redact(repr(shown))}")
    finite = not isinstance(value, float) or math.isfinite(value)
    if not finite or not spec.check(value.strip() if isinstance(value, str) else value):
        raise problem(f"{spec.name} must be {spec.rule}, not {redact(repr(value))}")
    refused = spec.refuse(value)
    if refused:
        raise problem(f"{spec.name} {refused}")
    return value


def config_value(name: str, text: str) -> Any:
    """A value typed on the command line (``summarizer config set``) as ``name`` wants
    it: parsed by its type, checked, a path made absolute."""
    if name not in CONFIG_KEYS:
        raise ConfigurationError(_key_error(name))
    spec = CONFIG_KEYS[name]
    value: Any = text
    if spec.kind is bool and text.strip().lower() in _TRUE + _FALSE:
        value = text.strip().lower() in _TRUE
    elif spec.kind in (int, float):
        with contextlib.suppress(ValueError):  # else _checked names the type it wants
            value = spec.kind(text)
    value = _checked(spec, value, ConfigurationError)
    return str(Path(value).expanduser().resolve()) if spec.path else value


def user_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config file's settings, checked (paths made absolute, relative ones to the
    file's folder); empty when there is no file. A bad file raises ConfigurationError
    naming the file and the key's line, and so does a missing one that
    ``SUMMARIZER_CONFIG`` names (:func:`summarizer.config.named_config`)."""
    file = named_config(env)
    return checked_file(file) if file is not None else {}


def checked_file(file: ConfigFile) -> dict[str, Any]:
    """What :func:`user_config` makes of ``file``; ConfigurationError if it is bad."""
    out = {}
    for name, value in file.data.items():
        where = f"config file {file.where(name)}"
        if name not in CONFIG_KEYS:
            raise ConfigurationError(f"{where}: {_key_error(name)}")
        spec = CONFIG_KEYS[name]
        value = _checked(spec, value, functools.partial(_file_error, where))
        if spec.path:
            value = str((file.path.parent / Path(value).expanduser()).resolve())
        out[name] = value
    return out


def _file_error(where: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"{where}: {message}")


def user_setting(name: str, env: Mapping[str, str] | None = None) -> Resolved:
    """A setting that is not a :class:`Settings` field (``cache_dir``, ``prices``): its
    environment variable, else the config file, else ``None`` (the user's module's
    default)."""
    env = os.environ if env is None else env
    spec = CONFIG_KEYS[name]
    if spec.env and env.get(spec.env):
        return Resolved(env[spec.env], f"env {spec.env}")
    config = user_config(env)
    if name in config:
        return Resolved(config[name], "config")
    return Resolved(None, "default")


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
