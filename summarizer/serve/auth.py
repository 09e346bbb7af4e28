"""Bearer keys for the service: a keys file of names and hashes, never of keys.

``summarizer keys add NAME --keys keys.toml`` makes a key (``sk-sum-`` and 43
characters of :func:`secrets.token_urlsafe`, 256 random bits), prints it once, and
stores only its name and sha256::

    [keys."alice"]
    sha256 = "4f0c..."
    created = "2026-11-28T12:00:00+00:00"

Why a plain sha256 and not a password hash (bcrypt, scrypt, argon2): those are slow
on purpose, so that guessing a *human-chosen* password from a stolen hash takes
long. These keys are not chosen by people: with 2**256 equally likely keys, a stolen
hash cannot be reversed by guessing at any hash speed, so a slow hash would protect
nothing and would cost CPU on every request, which is itself a lever for a denial of
service. The file still holds no key, so it can be read, backed up and diffed
without leaking one.

Every request's key is hashed and compared against every stored hash with
:func:`hmac.compare_digest`, all of them, with no early exit, so neither the time a
comparison takes nor the number made says how much of a hash matched or which entry
did. A missing key and a wrong one get the same answer (see
:mod:`summarizer.serve.app`).

No web framework is imported here: ``keys add`` works without the ``[serve]`` extra.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigurationError

KEY_PREFIX = "sk-sum-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_HEX = re.compile(r"[0-9a-f]{64}")
_HEADER = "# summarizer serve keys: each key's name and sha256, never the key itself.\n"


def key_hash(key: str) -> str:
    """The sha256 of ``key`` (hex), as the keys file stores it."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def bearer_token(header: str | None) -> str | None:
    """The key in an ``Authorization: Bearer KEY`` header, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@dataclass(frozen=True)
class KeyRing:
    """The keys a server accepts: each name with its sha256 (as bytes)."""

    entries: tuple[tuple[str, bytes], ...] = ()
    path: Path | None = None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.entries]

    def identify(self, key: str | None) -> str | None:
        """The name of ``key`` if it is one of ours, else None; see the module docstring
        for why every entry is compared."""
        presented = bytes.fromhex(key_hash(key or ""))
        found: str | None = None
        for name, stored in self.entries:
            if hmac.compare_digest(presented, stored) and found is None:
                found = name
        return found if key else None

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        """The keys file at ``path``; a missing or bad file is one ConfigurationError."""
        return cls(tuple((n, bytes.fromhex(h)) for n, h in _read(path, missing_ok=False)), path)


def _read(path: Path, *, missing_ok: bool) -> list[tuple[str, str]]:
    """(name, sha256 hex) per key in the file, checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return []
        raise ConfigurationError(
            f"keys file {path} not found: create it with `summarizer keys add NAME --keys {path}`"
        ) from None
    except OSError as e:
        raise ConfigurationError(f"keys file {path}: cannot be read ({e.strerror})") from e
    try:
        data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(f"keys file {path}: not valid TOML ({e})") from e
    keys = data.get("keys", {})
    if set(data) - {"keys"} or not isinstance(keys, dict):
        raise ConfigurationError(
            f'keys file {path}: expected only [keys."NAME"] tables, each with a sha256'
        )
    out = []
    for name, entry in keys.items():
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not _NAME.fullmatch(name) or not isinstance(digest, str) or not _HEX.fullmatch(digest):
            raise ConfigurationError(
                f"keys file {path}: key {name!r} needs a sha256 of 64 lowercase hex digits "
                "(and a name of letters, digits, _ . @ -); `summarizer keys add` writes them"
            )
        out.append((name, digest))
    return out


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"key name {name!r}: use 1 to 64 letters, digits or _ . @ -, starting with a "
            "letter or digit"
        )


def add_key(path: Path, name: str) -> str:
    """Make a key named ``name``, store its hash in ``path`` (created if missing) and
    return the key, which is not kept anywhere else."""
    _check_name(name)
    entries = _read(path, missing_ok=True)
    if name in dict(entries):
        raise ConfigurationError(
            f"keys file {path} already has a key named {name!r}: `summarizer keys remove "
            f"{name}` first, or choose another name"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    _write(path, [*entries, (name, key_hash(key))])
    return key


def remove_key(path: Path, name: str) -> None:
    """Remove the key named ``name``; requests with it fail from the server's next start."""
    entries = _read(path, missing_ok=False)
    if name not in dict(entries):
        raise ConfigurationError(f"keys file {path} has no key named {name!r}")
    _write(path, [(n, h) for n, h in entries if n != name])


def _write(path: Path, entries: list[tuple[str, str]]) -> None:
    """The whole file, replaced at once (a reader never sees half of it), mode 0600."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    old = {}
    with contextlib.suppress(OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        old = tomllib.loads(path.read_text(encoding="utf-8")).get("keys", {})
    lines = [_HEADER]
    for name, digest in entries:
        created = old.get(name, {}).get("created", now) if isinstance(old, dict) else now
        lines.append(f"\n[keys.{json.dumps(name)}]\nsha256 = {json.dumps(digest)}\n"
                     f"created = {json.dumps(str(created))}\n")  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=path.parent)
    except OSError as e:
        raise ConfigurationError(f"keys file {path}: cannot be written ({e.strerror})") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(lines))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ConfigurationError(f"keys file {path}: cannot be written ({e.strerror})") from e
        raise
