"""Turning what the user points at (a path, ``-`` for stdin, raw bytes) into article text.

Offsets in a summary refer to the text returned here, character for character, so
nothing is rewritten: no newline translation, no Unicode normalization. Only a UTF-8
byte-order mark is removed, since it is not part of the text.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from summarizer.errors import (
    EmptyInputError,
    InputDecodeError,
    InputIsDirectoryError,
    InputNotFoundError,
)

STDIN = "-"


@dataclass(frozen=True)
class Article:
    """Article text and where it came from (a path, ``<stdin>`` or ``<text>``)."""

    text: str
    source: str = "<text>"


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


def read_article(target: str | Path, stdin: BinaryIO | None = None) -> Article:
    """Read an article from a path or from stdin (``-``)."""
    if str(target) == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        text = decode(stream.read(), "<stdin>")
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
    text = decode(data, str(path))
    return Article(check_text(text, str(path)), str(path))
