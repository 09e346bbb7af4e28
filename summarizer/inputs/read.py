"""Turning what the user points at (a path, ``-`` for stdin, a URL) into article text.

Offsets in a summary refer to the text returned here, character for character, so
plain text is not rewritten: no newline translation, no Unicode normalization. Only a
UTF-8 byte-order mark is removed, since it is not part of the text.

An HTML page (a ``.html``/``.htm`` file, or any input that starts like one) is
different: its text is what :mod:`summarizer.inputs.html` extracts, and offsets refer to
that extracted text, which ``Article.text`` holds. http(s) URLs are fetched by
:mod:`summarizer.inputs.fetch` and then read as HTML or text according to their content type.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from summarizer.errors import (
    EmptyInputError,
    InputDecodeError,
    InputIsDirectoryError,
    InputNotFoundError,
)
from summarizer.inputs import fetch, html

STDIN = "-"
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})


@dataclass(frozen=True)
class Article:
    """Article text and where it came from (a path, a URL, ``<stdin>`` or ``<text>``).

    ``title`` is the page's title when the input was HTML; ``meta`` says how the text
    was obtained (``kind``: text, html or url; for URLs the final address and content
    type; for HTML the extractor and its version), for ``summary.meta["input"]``.
    """

    text: str
    source: str = "<text>"
    title: str | None = None
    meta: dict[str, Any] = field(default_factory=lambda: {"kind": "text"})


def decode(data: bytes, source: str) -> str:
    """Decode bytes as UTF-8 text, rejecting binary data with a clear message."""
    if b"\x00" in data:
        raise InputDecodeError(f"{source}: looks like a binary file, not article text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputDecodeError(
            f"{source}: not UTF-8 text (invalid byte at offset {e.start}); "
            "convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from e


def check_text(text: str, source: str = "<text>") -> str:
    """Refuse text with nothing to summarize."""
    if not text.strip():
        raise EmptyInputError(f"{source}: the article is empty; nothing to summarize")
    return text


def read_article(
    target: str | Path,
    stdin: BinaryIO | None = None,
    *,
    timeout: float | None = None,
    max_bytes: int | None = None,
) -> Article:
    """Read an article from a path, stdin (``-``) or an http(s) URL.

    ``timeout`` and ``max_bytes`` bound a URL fetch (see :func:`summarizer.inputs.fetch.fetch`).
    """
    if isinstance(target, str) and fetch.is_url(target):
        return read_url(target, timeout=timeout, max_bytes=max_bytes)
    if str(target) == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read()
        if html.looks_like_html(data):
            return read_html(data, "<stdin>")
        text = decode(data, "<stdin>")
        return Article(check_text(text, "<stdin>"), "<stdin>")
    path = Path(target)
    if path.is_dir():
        raise InputIsDirectoryError(f"{path}: is a directory; pass an article file")
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise InputNotFoundError(f"{path}: no such file") from e
    except PermissionError as e:
        raise InputNotFoundError(f"{path}: permission denied") from e
    if path.suffix.lower() in HTML_SUFFIXES or html.looks_like_html(data):
        return read_html(data, str(path))
    text = decode(data, str(path))
    return Article(check_text(text, str(path)), str(path))


def read_html(
    data: bytes,
    source: str,
    *,
    charset: str | None = None,
    url: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Article:
    """The article in an HTML page; ``meta`` (e.g. the fetch's) is extended, not replaced."""
    if not data.strip():
        raise EmptyInputError(f"{source}: the page is empty; nothing to summarize")
    page = html.extract(html.decode_html(data, charset), source=source, url=url)
    info: dict[str, Any] = dict(meta) if meta else {"kind": "html"}
    info["extractor"] = page.extractor
    if page.language:
        info["language"] = page.language
    return Article(check_text(page.text, source), source, page.title, info)


def read_url(url: str, *, timeout: float | None = None, max_bytes: int | None = None) -> Article:
    """Fetch ``url``; HTML is reduced to its article, plain text is taken as is."""
    got = fetch.fetch(url, timeout=timeout, max_bytes=max_bytes)
    meta: dict[str, Any] = {
        "kind": "url",
        "url": got.url,
        "final_url": got.final_url,
        "status": got.status,
        "content_type": got.content_type or None,
        "charset": got.charset,
    }
    if got.is_html or (not got.content_type and html.looks_like_html(got.body)):
        return read_html(got.body, url, charset=got.charset, url=got.final_url, meta=meta)
    if got.charset:
        try:
            text = got.body.decode(got.charset)
        except (LookupError, UnicodeDecodeError) as e:
            raise InputDecodeError(
                f"{url}: the text does not decode as {got.charset}, the charset the "
                "server declared; save it and convert it to UTF-8 first"
            ) from e
    else:
        text = decode(got.body, url)
    return Article(check_text(text, url), url, None, meta)
