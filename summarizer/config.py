"""The user's config file: where it is, reading it, and editing it in place.

Like uv's and simonw/llm's, one TOML file holds the settings a user would otherwise
pass on every command: ``$XDG_CONFIG_HOME/summarizer/config.toml``, else
``~/.config/summarizer/config.toml``, or the file ``SUMMARIZER_CONFIG`` names (set
to the empty string: no config file at all). A missing file is an empty config, so
``summarizer config set`` can create it; but one that ``SUMMARIZER_CONFIG`` names is
an error for every other command (:func:`summarizer.config_keys.user_config`). What the
keys mean and how they rank against flags and the environment is
:mod:`summarizer.settings`' business; this module only knows files.

Edits keep the user's comments and layout: setting a key replaces its line or adds
one, unsetting removes it, and the result is parsed again and compared before it
replaces the file (through a temporary file in the same folder and a rename, so a
crash never leaves half a file; a symlinked file, as dotfile managers make, has its
target replaced, not the link).
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigurationError

ENV = "SUMMARIZER_CONFIG"
MAX_BYTES = 1 << 20  # a settings file; anything larger is a wrong path
Scalar = str | int | float | bool


def config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The config file's path (it need not exist), or ``None`` for none at all.

    Found through ``env`` alone when one is given, so a caller that passes its own
    environment (as tests do) never reads the user's file.
    """
    real = env is None or env is os.environ
    env = os.environ if env is None else env
    if ENV in env:
        return Path(env[ENV]).expanduser() if env[ENV] else None
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec: a relative one is ignored
        return Path(xdg) / "summarizer" / "config.toml"
    home = env.get("HOME")
    if not home and real:
        try:
            home = str(Path.home())
        except RuntimeError:  # no home directory (a bare container user)
            return None
    return Path(home) / ".config" / "summarizer" / "config.toml" if home else None


@dataclass(frozen=True)
class ConfigFile:
    """A config file as read: its text (for line numbers and in-place edits) and data."""

    path: Path
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    #: False: there is no file at ``path`` (yet).
    exists: bool = False

    def where(self, key: str) -> str:
        """``PATH, line N`` for ``key``'s line, for error messages."""
        line = _key_line(self.text, key)
        return f"{self.path}, line {line + 1}" if line is not None else str(self.path)


def named_config(env: Mapping[str, str] | None = None) -> ConfigFile | None:
    """The config file as every command reads it (:func:`read_config` of
    :func:`config_path`); one that ``SUMMARIZER_CONFIG`` names but is not there is an
    error (a typo must not silently mean "no settings"), unless the name is a dangling
    symlink, which ``config set`` writes through."""
    file = read_config(config_path(env))
    named = (os.environ if env is None else env).get(ENV)
    if file is not None and not file.exists and named and not file.path.is_symlink():
        raise ConfigurationError(
            f"config file {file.path} (named by {ENV}) does not exist; create it with "
            f"`summarizer config set KEY VALUE`, or unset {ENV}"
        )
    return file


def read_config(path: Path | None) -> ConfigFile | None:
    """The file at ``path`` (missing: empty); ``None`` for no path.

    Raises ConfigurationError naming the file (and TOML's line and column) when it
    cannot be read or is not TOML.
    """
    if path is None:
        return None
    import tomllib  # here, not at import: `summarizer --version` reads no file

    try:
        # Not a FIFO or a device (SUMMARIZER_CONFIG=/dev/stdin would eat the article).
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigurationError(f"config file {path}: not a regular file")
        if path.stat().st_size > MAX_BYTES:
            raise ConfigurationError(f"config file {path}: over {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ConfigFile(path)
    except UnicodeDecodeError as e:
        raise ConfigurationError(f"config file {path}: not UTF-8 text") from e
    except OSError as e:  # a directory, no permission, an I/O error
        raise ConfigurationError(f"config file {path}: cannot read it: {e.strerror or e}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigurationError(f"config file {path}: not valid TOML: {e}") from e
    except RecursionError:  # tomllib recurses per nesting level: [[[[...]]]]
        raise ConfigurationError(
            f"config file {path}: nested too deeply to be a config file"
        ) from None
    return ConfigFile(path, text, data, exists=True)


def toml_value(value: Scalar) -> str:
    """``value`` as a TOML literal (a JSON string is a valid TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigurationError(f"{value} is not a finite number")
    if isinstance(value, int | float):
        return repr(value)
    import json

    return json.dumps(value, ensure_ascii=False)


def edit_config(path: Path, key: str, value: Scalar | None) -> None:
    """Set ``key`` to ``value`` in the file at ``path`` (``None``: remove it), keeping
    everything else as written; see the module docstring."""
    current = read_config(path) or ConfigFile(path)
    expected = dict(current.data)
    lines = current.text.splitlines(keepends=True)
    span = _key_span(lines, key)
    at = None
    if span is not None:
        at = None if _HEADER.match(lines[span.start]) else span.start  # a [table] goes
        del lines[span.start : span.stop]
    if value is None:
        expected.pop(key, None)
    else:
        expected[key] = value
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        # Top-level keys must come before the first [table].
        first_table = next((i for i, line in enumerate(lines) if _HEADER.match(line)), len(lines))
        lines.insert(first_table if at is None else at, f"{key} = {toml_value(value)}\n")
    text = "".join(lines)
    import tomllib

    try:
        done = tomllib.loads(text) == expected
    except tomllib.TOMLDecodeError:
        done = False
    if not done:  # e.g. a multi-line string: no safe line edit
        raise ConfigurationError(
            f"config file {path}: cannot edit {key!r} in place (a value over several lines, "
            "or a dotted key); edit the file by hand"
        )
    _write_atomically(path, text)


_HEADER = re.compile(r"\s*\[")


def _key_pattern(key: str) -> str:
    return rf"""\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')"""


def _key_line(text: str, key: str) -> int | None:
    """The index of the line that sets ``key`` (a top-level key or a ``[key]`` table)."""
    span = _key_span(text.splitlines(keepends=True), key)
    return None if span is None else span.start


def _key_span(lines: list[str], key: str) -> range | None:
    """The lines that hold top-level ``key``: its ``key = ...`` line (before any
    table), or its ``[key]`` table up to the next one."""
    assignment = re.compile(_key_pattern(key) + r"\s*=")
    header = re.compile(r"\s*\[\[?" + _key_pattern(key) + r"\s*[\].]")
    in_tables = False
    for i, line in enumerate(lines):
        if header.match(line):
            end = next((j for j in range(i + 1, len(lines)) if _HEADER.match(lines[j])), len(lines))
            return range(i, end)
        in_tables = in_tables or bool(_HEADER.match(line))
        if not in_tables and assignment.match(line):
            return range(i, i + 1)
    return None


def _write_atomically(path: Path, text: str) -> None:
    import tempfile

    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise ConfigurationError(f"config file {path}: cannot write it: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():  # keep the mode the user gave it
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigurationError(f"config file {path}: cannot write it: {e.strerror or e}") from e
