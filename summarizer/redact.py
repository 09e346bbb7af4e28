"""Secrets out of everything stored or printed (#12): API keys and URL credentials.

A server that echoes the request's headers in an error, or a ``--base-url`` with
``user:password@`` in it, must not put the key or the password into ``meta``, the
cache, the call log, a batch file or an error message. Whatever builds such text
passes it through :func:`redact` first, which replaces

* every secret :func:`remember`-ed in this process (the configured API key and its
  base64; a base URL's password, ``user:password`` and the Basic-auth token httpx
  makes of them, and the values of its secret-looking query parameters), wherever
  they appear;
* what looks like one anyway: the value of an ``Authorization`` or ``api-key``
  header, a ``Bearer``/``Basic`` token, an ``sk-...`` key, the ``user:password@``
  of any URL, a ``?key=``/``&token=``-like query parameter.

**Cost.** The call log redacts every request it keeps (the article and, on a re-ask,
the previous answer: 15 KB or more), so the common case must cost microseconds, not
the milliseconds five regexes over the whole text take: the remembered secrets are
plain substring tests, and each pattern is tried only where the sign it starts from
is (``sk-``, ``bearer``, ``://``..., found in the text's ASCII lower case by bytes
searches); a long text already redacted since the last :func:`remember` (a re-ask
sends the prompt, the article and the last answer again) is looked up, not redone.

:func:`redact_url` is the URL with its credentials replaced, for ``meta["base_url"]``
and messages; :func:`url_secret` says why a URL must not be written to a file.
Secrets shorter than :data:`MIN_SECRET` characters are too likely to occur in
ordinary text to replace everywhere; the patterns still catch them in headers and URLs.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "***"
MIN_SECRET = 4

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first, so a pair goes before its password
# The secrets a text is searched for: one holding another ("user:pw" holds "pw") is
# in a text only if the other is, so it needs no search of its own.
_probes: tuple[str, ...] = ()
# Long texts already redacted since the last remember(): a re-ask sends the system
# prompt, the article and the last answer (just redacted for its row) again.
_done: dict[str, str] = {}
_generation = 0  # bumped by remember(): a text redacted before it is not kept
_DONE_SIZES = range(256, 65_537)
_DONE_MAX = 64

# Header values and tokens, whatever the configured key: a key that is not ours
# (a proxy's, another user's) is no more fit to store. Each is tried only near its
# signs (_STAGES below).
_HEADER = re.compile(
    # "Authorization: Bearer xyz", "'api-key': 'xyz'", "x-api-key=xyz"
    r"(?i)((?:proxy-)?authorization|(?:x-)?api[-_]?key)(['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(?:bearer|basic|token)\s+)?[^\s'\",;}&#]+"
)
# a token, not a word: "Basic understanding" stays
_TOKEN = re.compile(r"\b(Bearer|Basic)(\s+)(?=[\w.~+/=-]*[\d.~+/=_-])[\w.~+/=-]{8,}")
_SK = re.compile(r"\b(sk-)()[A-Za-z0-9_-]{8,}")
# Bounded repeats only before a match is certain: answers quoted in errors can be
# megabytes, and an unbounded scheme would rescan a long word from every dot in it.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://)[^/\s@'\"]+@")
# A query parameter whose name says it holds a credential: a word of it is one of
# these, or ends in key/token/secret (Azure's ``api-version`` does not; its
# ``api-key``, a SAS ``sig`` and an Azure Functions ``code`` do; ``author`` does not).
_SECRET_WORDS = frozenset(
    "sig signature code auth pass passwd password pwd secret credential credentials "
    "session jwt".split()
)
_PARAM = re.compile(r"([?&;])([^=&#\s?;'\"]{1,64})=([^&#\s;'\"]+)")


def remember(*, api_key: str | None = None, url: str | None = None) -> None:
    """Redact ``api_key`` and the credentials in ``url`` from now on, in this process."""
    found = [api_key, _b64(api_key)] if api_key else []
    if url:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
        if password is not None:
            found += [password, unquote(password), _b64(unquote(password))]
            for name, word in ((user or "", password), (unquote(user or ""), unquote(password))):
                pair = f"{name}:{word}"
                found += [pair, _b64(pair)]
        found += [v for k, v in parse_qsl(parts.query) if secret_name(k)]
    global _secrets, _probes, _generation
    with _lock:
        new = {s for s in found if len(s) >= MIN_SECRET} - set(_secrets)
        if new:
            _secrets = tuple(sorted({*_secrets, *new}, key=len, reverse=True))
            _probes = tuple(s for s in _secrets if not any(o in s for o in _secrets if o != s))
            _done.clear()
            _generation += 1


def secret_name(name: str) -> bool:
    """Whether a query parameter called ``name`` looks like it holds a credential."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    return any(w in _SECRET_WORDS or w.endswith(("key", "token", "secret")) for w in words)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _keep_name(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}{REDACTED}"


def _param(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}={REDACTED}" if secret_name(m.group(2)) else m[0]


def redact(text: str) -> str:
    """``text`` without any secret (see the module docstring)."""
    if len(text) not in _DONE_SIZES:
        return _redact(text)
    done = _done.get(text)
    if done is None:
        generation = _generation
        done = _redact(text)
        with _lock:
            if generation == _generation:
                if len(_done) >= _DONE_MAX:
                    _done.clear()
                _done[text] = done
    return done


def _redact(text: str) -> str:
    if len(text) < MIN_SECRET:  # "m", "0": nothing a pattern or a secret fits in
        return text
    if any(probe in text for probe in _probes):
        for secret in _secrets:
            text = text.replace(secret, REDACTED)
    # The signs are looked for in an ASCII lower case of the text, a byte for each
    # character (what is not ASCII is "?"): case-blind, and found by memchr-fast
    # bytes searches instead of str.lower()'s Unicode path.
    low = _ascii_lower(text)
    if not (  # most texts: a "role", an article, an answer
        b"=" in low or (b"@" in low and b"://" in low) or any(s in low for s in _SIGNS)
    ):
        return text
    for pattern, repl, needs, signs, back in _STAGES:
        if all(need in low for need in needs):
            hay: str | bytes = text if signs == _QUERY else low
            new = _sub_near(pattern, repl, text, hay, signs, back)
            if new is not text:
                text, low = new, _ascii_lower(new)
    return text


def _ascii_lower(text: str) -> bytes:
    return text.encode("ascii", "replace").lower()


def _userinfo(m: re.Match[str]) -> str:
    return f"{m.group(1)}{REDACTED}@"


# Each pattern, its replacement, what a text needs to hold for it to match at all,
# the signs one of which every match has within ``back`` characters of its start
# (in ASCII lower case, but _QUERY: "?" also stands for any other character there),
# and that ``back``. In this order, as they always ran.
_QUERY = ("?", "&", ";")  # looked for in the text itself
_STAGES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str], tuple[bytes, ...],
                     tuple[Any, ...], int], ...] = (
    (_HEADER, _keep_name, (), (b"authorization", b"api"), 6),  # "proxy-", "x-api-key"
    (_TOKEN, _keep_name, (), (b"bearer", b"basic"), 0),
    (_SK, _keep_name, (), (b"sk-",), 0),
    (_USERINFO, _userinfo, (b"@",), (b"://",), 31),  # the scheme is before it
    (_PARAM, _param, (b"=",), _QUERY, 0),
)  # fmt: skip
# What a text holds if a stage can match in it, but for "=" and "@" with "://".
_SIGNS = (b"authorization", b"api", b"bearer", b"basic", b"sk-")


def _sub_near(
    pattern: re.Pattern[str],
    repl: Callable[[re.Match[str]], str],
    text: str,
    hay: Any,
    signs: tuple[Any, ...],
    back: int,
) -> str:
    """``pattern.sub(repl, text)``, trying matches only where one can start: up to
    ``back`` characters before each place ``hay`` (``text``, or it in ASCII lower case,
    as long) has one of ``signs``, which every match holds that far into it. A regex
    scanning all of a 15 KB text costs up to 2 ms; this costs a few ``find`` calls
    when no sign is there, and a few match attempts per sign that is."""
    out: list[str] = []
    done = 0  # text copied up to here
    found = {sign: hay.find(sign) for sign in signs}  # each sign's next place
    while True:
        hit = min((i for i in found.values() if i >= 0), default=-1)
        if hit < 0:
            break
        for start in range(max(done, hit - back), hit + 1):
            m = pattern.match(text, start)
            if m is not None and m.end() > start:
                out += [text[done:start], repl(m)]
                done = m.end()
                break
        scan = max(hit + 1, done)
        for sign, i in found.items():
            if 0 <= i < scan:
                found[sign] = hay.find(sign, scan)
    return "".join(out) + text[done:] if out else text


def redact_all(value: Any) -> Any:
    """``value`` (JSON-like: a request body, its messages) with every string value in
    it redacted (its keys are the API's field names), and any other object as its
    redacted ``str``; before it is dumped, since a quote escaped as ``\\"`` would
    hide a header from the patterns."""
    return _walk(value, redact)


def _walk(value: Any, fix: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, dict):
        return {k: _walk(v, fix) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, fix) for v in value]
    if value is None or isinstance(value, int | float):
        return value
    return fix(str(value))  # an SDK object: the text json.dumps(default=str) makes of it


def redact_url(url: str | None) -> str | None:
    """``url`` with any ``user:password@`` and secret query value replaced (None
    stays None)."""
    return None if url is None else redact(url)


def url_secret(url: str) -> str | None:
    """Why ``url`` holds a credential (a password, a secret-looking query parameter or
    a key), or None: what a config file must not keep. A user name alone is no secret."""
    try:
        parts = urlsplit(url)
        password, query = parts.password, parts.query
    except ValueError:  # a malformed port or IPv6 address: the patterns still look
        password, query = None, ""
    if password is not None:
        return "it holds a password (user:password@)"
    for name, _ in parse_qsl(query, keep_blank_values=True):
        if secret_name(name):
            return f"its query parameter {name!r} looks like a credential"
    if _SK.search(url) or any(secret in url for secret in _secrets):
        return "it holds what looks like a key"
    return None


def one_line(text: str | BaseException, limit: int = 300) -> str:
    """``text`` (or an error's message, else its class name) on one line for an error
    message, ``meta`` or a log, redacted before it is cut: a cut key is still a key."""
    if isinstance(text, BaseException):
        text = str(text) or type(text).__name__
    line = " ".join(redact(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
