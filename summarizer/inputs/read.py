"""Turning what the user points at (a path, ``-`` for stdin, a URL) into article text.

Offsets in a summary refer to the text returned here, character for character, so
plain text is not rewritten: no newline translation, no Unicode normalization. Only a
UTF-8 byte-order mark is removed, since it is not part of the text.

An HTML page (a ``.html``/``.htm`` file, or any input that starts like one) is
different: its text is what :mod:`summarizer.inputs.html` extracts, and offsets refer to
that extracted text, which ``Article.text`` holds. http(s) URLs are fetched by
:mod:`summarizer.inputs.fetch` and then read as HTML or text according to their content type.

Text is UTF-8, or UTF-16/UTF-32 when the file starts with that byte-order mark (then
offsets refer to the decoded text, the mark removed); anything else with NUL bytes is
refused as binary.

Reading is bounded, so that a wrong path cannot exhaust memory: only regular files are
opened (a device such as ``/dev/zero``, a FIFO or a socket is refused from its
``stat``, before it is opened, since opening a FIFO blocks until a writer comes), a
file over the size cap is refused from its size before it is read, and stdin is read
up to the cap and no further. The cap is the ``max_bytes`` argument, else the
``SUMMARIZER_INPUT_MAX_BYTES`` environment variable (bytes), else 10 MB, the URL
fetch's default.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from summarizer.errors import (
    ConfigurationError,
    EmptyInputError,
    InputDecodeError,
    InputIsDirectoryError,
    InputNotFoundError,
    InputNotRegularFileError,
    InputTooLargeError,
)
from summarizer.inputs import fetch, html

STDIN = "-"
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
#: The most bytes an article file or stdin may hold, unless told otherwise.
DEFAULT_MAX_BYTES = fetch.DEFAULT_MAX_BYTES
MAX_BYTES_ENV = "SUMMARIZER_INPUT_MAX_BYTES"
_READ_CHUNK = 1024 * 1024
# C0 controls that text does not contain (tab, newlines, form feed are text).
_CONTROL = frozenset(chr(c) for c in range(32)) - set("\t\n\r\f\v")


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
    """Decode article bytes: UTF-8, or UTF-16/UTF-32 after their byte-order mark.

    The mark is removed, so offsets refer to the decoded text. Binary data (NUL bytes
    without a UTF-16/32 mark, or control characters once decoded) is refused with a
    clear message, and so is text in another encoding.
    """
    encoding = html.bom_encoding(data)
    if encoding in ("utf-16", "utf-32"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as e:
            raise _binary(source, encoding) from e
        if any(ch in _CONTROL for ch in text):
            raise _binary(source, encoding)
        return text
    if b"\x00" in data:
        raise InputDecodeError(f"{source}: looks like a binary file, not article text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputDecodeError(
            f"{source}: not UTF-8 text (invalid byte at offset {e.start}); "
            "convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from e


def _binary(source: str, encoding: str) -> InputDecodeError:
    return InputDecodeError(
        f"{source}: looks like a binary file, not article text (it starts with a "
        f"{encoding.upper()} byte-order mark, but what follows is not {encoding.upper()} text)"
    )


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

    ``max_bytes`` caps what is read from any of them (default: see the module's
    docstring for files and stdin, :func:`summarizer.inputs.fetch.fetch` for URLs);
    ``timeout`` bounds a URL fetch.
    """
    if isinstance(target, str) and fetch.is_url(target):
        return read_url(target, timeout=timeout, max_bytes=max_bytes)
    cap = input_max_bytes(max_bytes)
    if str(target) == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = _read_capped(stream, cap)
        if len(data) > cap:
            raise _too_large("<stdin>", cap)
        return _article(data, "<stdin>", html_suffix=False)
    # The path as given is what is opened and named in errors: Path() would drop a
    # trailing "/" or "/." and read "notes.txt/" as the file notes.txt.
    name = os.fspath(target)
    if not name:
        raise InputNotFoundError(
            "an empty path: no such file; pass an article file, - for stdin or an http(s) URL"
        )
    data = _read_file(name, cap)
    path = Path(target)
    return _article(data, str(path), html_suffix=path.suffix.lower() in HTML_SUFFIXES)


def input_max_bytes(max_bytes: int | None = None, env: Mapping[str, str] | None = None) -> int:
    """The size cap for files and stdin: ``max_bytes``, else the environment, else 10 MB."""
    if max_bytes is not None:
        if max_bytes <= 0:
            raise ConfigurationError(f"max_bytes={max_bytes}: expected a positive number")
        return max_bytes
    raw = (os.environ if env is None else env).get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(
            f"{MAX_BYTES_ENV}={raw!r}: expected a positive whole number of bytes"
        )
    return value


def _article(data: bytes, source: str, *, html_suffix: bool) -> Article:
    if html_suffix or html.looks_like_html(data):
        return read_html(data, source)
    return Article(check_text(decode(data, source), source), source)


def _read_file(path: str, cap: int) -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes, else a clear InputError.

    The type and size come from ``stat`` before the file is opened; the open itself is
    non-blocking and checked again (``fstat``), so that a file swapped for a FIFO in
    between cannot hang the read, and the read stops one byte past the cap whatever
    the file has grown to since. Every way the path can fail to name a readable file
    (missing, through a file, a directory, no permission, a loop, too long) is an
    InputError naming it, never an OSError.
    """
    if "\x00" in path:  # os.stat raises ValueError, not OSError, for these
        raise InputNotFoundError(f"{path!r}: no such file (a path cannot hold a NUL character)")
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        if info.st_size > cap:
            raise _too_large(str(path), cap, info.st_size)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise _open_error(path, e) from e
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        try:
            data = _read_capped(stream, cap)
        except OSError as e:
            raise _open_error(path, e) from e
    if len(data) > cap:
        raise _too_large(str(path), cap)
    return data


def _read_capped(stream: BinaryIO, cap: int) -> bytes:
    """At most ``cap + 1`` bytes of ``stream``: one past the cap says it is over."""
    chunks: list[bytes] = []
    left = cap + 1
    while left > 0:
        chunk = stream.read(min(left, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _open_error(path: str, error: OSError) -> InputNotFoundError | InputIsDirectoryError:
    if error.errno == errno.ENOENT:
        return InputNotFoundError(f"{path}: no such file")
    if error.errno in (errno.EACCES, errno.EPERM):
        return InputNotFoundError(f"{path}: permission denied; the file cannot be read")
    if error.errno == errno.EISDIR:
        return InputIsDirectoryError(f"{path}: is a directory; pass an article file")
    if error.errno == errno.ELOOP:
        return InputNotFoundError(
            f"{path}: a symbolic link loop (too many levels of symbolic links); "
            "point it at an article file"
        )
    if error.errno == errno.ENOTDIR:
        return InputNotFoundError(f"{path}: no such file ({_not_a_directory(path)})")
    reason = error.strerror or type(error).__name__
    return InputNotFoundError(f"{path}: cannot be read ({reason})")


def _not_a_directory(path: str) -> str:
    """Which part of ``path`` is a file that the path goes through, as the user sees it."""
    whole = Path(path)
    for part in (*reversed(whole.parents), whole):
        if os.path.exists(part) and not os.path.isdir(part):  # these never raise
            return f"{part} is a file, not a directory"
    return "a part of the path is not a directory"


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(path: str, mode: int) -> InputNotRegularFileError | InputIsDirectoryError:
    if stat.S_ISDIR(mode):
        return InputIsDirectoryError(f"{path}: is a directory; pass an article file")
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return InputNotRegularFileError(
        f"{path}: is {kind}, not a regular file; pass an article file, or pipe the "
        "text in with - (stdin is read up to the size cap)"
    )


def _too_large(source: str, cap: int, size: int | None = None) -> InputTooLargeError:
    what = f"{_size(size)}, " if size is not None else ""
    return InputTooLargeError(
        f"{source}: {what}over the {_size(cap)} input size cap; pass the article's "
        f"text alone, or raise {MAX_BYTES_ENV} (bytes)"
    )


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f}".removesuffix(".0") + " MB"
    return f"{n} bytes"


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
    if got.charset and html.bom_encoding(got.body) is None:  # a byte-order mark wins
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
