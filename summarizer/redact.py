"""Secrets out of everything stored or printed (#12): API keys and URL credentials.

A server that echoes the request's headers in an error, or a ``--base-url`` with
``user:password@`` in it, must not put the key or the password into ``meta``, the
cache, a batch file or an error message. Whatever builds such text passes it
through :func:`redact` first, which replaces

* every secret :func:`remember`-ed in this process (the configured API key; a
  base URL's password, ``user:password`` and the Basic-auth token httpx makes of
  them), wherever it appears;
* what looks like one anyway: the value of an ``Authorization`` or ``api-key``
  header, a ``Bearer``/``Basic`` token, an ``sk-...`` key, the ``user:password@``
  of any URL.

:func:`redact_url` is the URL with its credentials replaced, for ``meta["base_url"]``
and messages. Secrets shorter than :data:`MIN_SECRET` characters are too likely to
occur in ordinary text to replace everywhere; the patterns still catch them in
headers and URLs.
"""

from __future__ import annotations

import base64
import re
import threading
from urllib.parse import unquote, urlsplit

REDACTED = "***"
MIN_SECRET = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_known: re.Pattern[str] | None = None

# Header values and tokens, whatever the configured key: a key that is not ours
# (a proxy's, another user's) is no more fit to store.
_PATTERNS = (
    # "Authorization: Bearer xyz", "'api-key': 'xyz'", "x-api-key=xyz"
    re.compile(
        r"(?i)((?:proxy-)?authorization|(?:x-)?api[-_]?key)(['\"]?\s*[:=]\s*['\"]?)"
        r"(?:(?:bearer|basic|token)\s+)?[^\s'\",;}]+"
    ),
    # a token, not a word: "Basic understanding" stays
    re.compile(r"\b(Bearer|Basic)(\s+)(?=[\w.~+/=-]*[\d.~+/=_-])[\w.~+/=-]{8,}"),
    re.compile(r"\b(sk-)()[A-Za-z0-9_-]{8,}"),
)
# Bounded repeats only before a match is certain: answers quoted in errors can be
# megabytes, and an unbounded scheme would rescan a long word from every dot in it.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://)[^/\s@'\"]+@")


def remember(*, api_key: str | None = None, url: str | None = None) -> None:
    """Redact ``api_key`` and the credentials in ``url`` from now on, in this process."""
    found = [api_key] if api_key else []
    if url:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
        if password is not None:
            found += [password, unquote(password)]
            for name, word in ((user or "", password), (unquote(user or ""), unquote(password))):
                pair = f"{name}:{word}"
                found += [pair, base64.b64encode(pair.encode()).decode()]
    global _known
    with _lock:
        new = {s for s in found if len(s) >= MIN_SECRET} - _secrets
        if not new:
            return
        _secrets.update(new)
        longest_first = sorted(_secrets, key=len, reverse=True)
        _known = re.compile("|".join(re.escape(s) for s in longest_first))


def redact(text: str) -> str:
    """``text`` without any secret (see the module docstring)."""
    known = _known
    if known is not None:
        text = known.sub(REDACTED, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def redact_url(url: str | None) -> str | None:
    """``url`` with any ``user:password@`` replaced (None stays None)."""
    return None if url is None else redact(url)


def one_line(text: str | BaseException, limit: int = 300) -> str:
    """``text`` (or an error's message, else its class name) on one line for an error
    message, ``meta`` or a log, redacted before it is cut: a cut key is still a key."""
    if isinstance(text, BaseException):
        text = str(text) or type(text).__name__
    line = " ".join(redact(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
