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

**Keys change without a restart.** ``keys add`` and ``keys remove`` replace the file
at once (a new inode), and a running server's :class:`KeyRing` looks at the file's
inode, size and times at most once a second (on the next request, not in a thread of
its own) and reads it again when they changed. A file that turns unreadable, goes
missing or is no longer valid keeps the keys last read, and says so in one log
line: a broken edit must neither open the server to everyone nor lock everyone out
(a file with no keys, once valid, does lock everyone out: that is what it says).

No web framework is imported here: ``keys add`` works without the ``[serve]`` extra.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigurationError

KEY_PREFIX = "sk-sum-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_HEX = re.compile(r"[0-9a-f]{64}")
_HEADER = "# summarizer serve keys: each key's name and sha256, never the key itself.\n"
_LOG = logging.getLogger("summarizer.serve")
#: Seconds between two looks at the keys file (see the module docstring).
RECHECK = 1.0


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


class KeyRing:
    """The keys a server accepts: each name with its sha256 (as bytes), kept in step
    with the file at ``path`` (see the module docstring); none without a file."""

    def __init__(
        self,
        entries: tuple[tuple[str, bytes], ...] = (),
        path: Path | None = None,
        *,
        recheck: float = RECHECK,
    ) -> None:
        self._entries = entries
        self.path = path
        self.recheck = recheck
        self._stamp: tuple[int, ...] | None = None  # unknown: read on the first look
        self._checked = time.monotonic()
        self._problem: str | None = None  # what is wrong with the file now, said once
        self._lock = threading.Lock()  # FastAPI runs the key check in worker threads

    @property
    def entries(self) -> tuple[tuple[str, bytes], ...]:
        self._refresh()
        return self._entries

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
    def load(cls, path: Path, *, recheck: float = RECHECK) -> KeyRing:
        """The keys file at ``path``; a missing or bad file is one ConfigurationError."""
        try:
            stamp: tuple[int, ...] | None = _stamp(path)
        except OSError:
            stamp = None  # _read says what is wrong
        ring = cls(_decoded(_read(path, missing_ok=False)), path, recheck=recheck)
        ring._stamp = stamp  # as it was before the read: a change during it is seen next time
        return ring

    def _refresh(self) -> None:
        """Read the file again if it changed since it was last read, at most once per
        ``recheck`` seconds; on any trouble keep the keys there are."""
        if self.path is None or time.monotonic() - self._checked < self.recheck:
            return
        with self._lock:
            if time.monotonic() - self._checked < self.recheck:
                return  # another thread just looked
            self._checked = time.monotonic()
            try:
                stamp = _stamp(self.path)
            except OSError as e:
                self._trouble(f"keys file {self.path}: cannot be read ({e.strerror})")
                return
            if stamp == self._stamp:
                return
            try:
                entries = _decoded(_read(self.path, missing_ok=False))
            except ConfigurationError as e:
                self._stamp = stamp  # not read again until it changes again
                self._trouble(str(e))
                return
            self._stamp, self._entries, self._problem = stamp, entries, None
            _LOG.info("keys file %s read again: %d key(s)", self.path, len(entries))

    def _trouble(self, problem: str) -> None:
        """One log line per new problem, not one a second."""
        if problem != self._problem:
            self._problem = problem
            _LOG.warning("%s; keeping the %d key(s) read before", problem, len(self._entries))


def _stamp(path: Path) -> tuple[int, ...]:
    """What changes when the file is replaced (``keys add``: a new inode) or edited."""
    st = os.stat(path)
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _decoded(entries: list[tuple[str, str]]) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, bytes.fromhex(digest)) for name, digest in entries)


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
    """Remove the key named ``name``; a running server refuses it within a second or so
    (see the module docstring)."""
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
