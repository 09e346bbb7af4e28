"""The config file's keys, how each value is checked, and reading the file's settings.

Apart from :mod:`summarizer.settings` because other modules read keys that are not
:class:`~summarizer.settings.Settings` fields (``cache_dir`` for the cache and the call
log, ``prices`` for the ledger) through :func:`user_setting`, on hot paths: a batch
asks for the cache dir once per model call, so the checked file is kept by path and
stat signature (:func:`user_config`) and read again only when it changes.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from summarizer.config import ConfigFile, config_path, named_config
from summarizer.errors import ConfigurationError
from summarizer.redact import redact, url_secret

Mode = Literal["tools", "json_schema", "json", "md_json"]
MODES: tuple[Mode, ...] = ("tools", "json_schema", "json", "md_json")


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
    # A prompt file is made absolute by `config set` once it is known to exist, so
    # that a wrong one is named as typed.
    return value if name == "prompt" else _in_folder(name, value, Path.cwd())


def _in_folder(name: str, value: Any, folder: Path) -> Any:
    """``value`` with the file it names made absolute from ``folder``: a relative path
    in the config file is relative to the file (as in ruff's and uv's), one typed to
    ``config set`` to where it is typed. Files are named by the path keys, by a
    ``prompt`` that is a file (told from ``NAME@VERSION`` as
    :func:`summarizer.prompts.load_prompt` does) and by ``model = "local:PATH"``."""
    if CONFIG_KEYS[name].path or (
        name == "prompt" and (value.endswith(".toml") or "/" in value or "\\" in value)
    ):
        return str((folder / Path(value).expanduser()).resolve())
    gguf = value.strip().removeprefix("local:") if name == "model" else ""
    if gguf and gguf != value.strip():
        return "local:" + str((folder / Path(gguf).expanduser()).resolve())
    return value


# The last file read and checked, by path and what stat says of it: a batch asks for
# the cache dir (the call log's folder) per model call, and reading and checking the
# TOML each time cost 0.28 ms a call. An edited, replaced or touched file has another
# signature and is read again, so a long-running process sees the change. A file
# changed in the last two seconds is not kept: a file system's clock ticks coarsely
# (ext4: a few ms), so two writes of the same size in one tick look alike ("racy
# git", solved the same way).
_read: dict[Path, tuple[tuple[int, int, int, int], dict[str, Any]]] = {}
_SETTLED_NS = 2_000_000_000


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    """The file's identity and times, or None if it is missing or too fresh to trust."""
    try:
        st = path.stat()
    except OSError:
        return None
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < _SETTLED_NS:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def user_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config file's settings, checked (paths made absolute, relative ones to the
    file's folder); empty when there is no file. A bad file raises ConfigurationError
    naming the file and the key's line, and so does a missing one that
    ``SUMMARIZER_CONFIG`` names (:func:`summarizer.config.named_config`)."""
    path = config_path(env)
    signature = _signature(path) if path is not None else None
    if path is not None and signature is not None:
        known = _read.get(path)
        if known is not None and known[0] == signature:
            return dict(known[1])
    file = named_config(env)
    if file is None:
        return {}
    checked = checked_file(file)
    if path is not None and signature is not None and file.exists:
        _read.clear()  # one entry: a process reads one config file
        _read[path] = (signature, checked)
    return dict(checked)


def checked_file(file: ConfigFile) -> dict[str, Any]:
    """What :func:`user_config` makes of ``file``; ConfigurationError if it is bad."""
    out = {}
    for name, value in file.data.items():
        where = f"config file {file.where(name)}"
        if name not in CONFIG_KEYS:
            raise ConfigurationError(f"{where}: {_key_error(name)}")
        spec = CONFIG_KEYS[name]
        value = _checked(spec, value, functools.partial(_file_error, where))
        out[name] = _in_folder(name, value, file.path.parent)
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
