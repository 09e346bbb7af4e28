"""What a batch reads: articles from files, directories, JSONL files and URLs.

An input that cannot be read becomes an item carrying its error, so that it is
reported in the output like any failed article instead of stopping the batch. That
holds inside directories too: a broken or looping symbolic link is its article's
error line, links to directories are not followed (so a link cycle cannot loop), and
a directory that cannot be listed is one error line (id ``<dir>/``) rather than
articles silently missing.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.errors import DatasetError, InputNotFoundError, SummarizerError
from summarizer.inputs import decode, read_article
from summarizer.inputs.fetch import is_url

_SUFFIXES = (".txt", ".html", ".htm")


@dataclass(frozen=True)
class BatchItem:
    """One article to summarize, or the reason its input could not be read."""

    id: str
    source: str
    text: str | None = None
    title: str | None = None
    error: SummarizerError | None = None
    meta: dict[str, Any] | None = None


def collect_items(targets: Sequence[str | Path]) -> list[BatchItem]:
    """Articles from files, directories of ``.txt`` files and JSONL files.

    A JSONL line is ``{"id": ..., "text": ..., "title": ... (optional)}``. An input
    that cannot be read becomes an item carrying its error, so that it is reported
    in the output like any failed article. Two articles with one id would make the
    output ambiguous, so that stops the batch before it starts.
    """
    items: list[BatchItem] = []
    for target in targets:
        path = Path(target)
        if is_url(str(target)):
            items.append(_file_item(str(target), str(target)))
        elif path.is_dir():
            items += _directory_items(path)
        elif path.suffix == ".jsonl":
            items += _jsonl_items(path)
        else:
            items.append(_file_item(path, path.stem))
    seen: dict[str, str] = {}
    for item in items:
        if item.id in seen:
            raise DatasetError(
                f"duplicate article id {item.id!r} ({seen[item.id]} and {item.source}); "
                "ids name output lines, so each must be unique"
            )
        seen[item.id] = item.source
    return items


def _directory_items(root: Path) -> list[BatchItem]:
    """The ``.txt``/``.html`` files under ``root``, recursively, in path order.

    Entries are taken from the listing without following links to directories;
    every other entry with an article suffix (a link to a file, a broken or looping
    link, a special file) is read by :func:`read_article`, which says what is wrong
    with it on its own line. A directory that cannot be listed is one error item.
    """
    found: list[tuple[Path, str, SummarizerError | None]] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as e:
            where = folder.relative_to(root).as_posix()
            item_id = f"{where}/" if where != "." else f"{root.as_posix().rstrip('/')}/"
            error = DatasetError(
                f"{folder}: cannot list this directory ({_why(e)}); its articles were not read"
            )
            found.append((folder, item_id, error))
            continue
        for entry in entries:
            path = folder / entry.name
            if _is_directory(entry):
                folders.append(path)
            elif path.suffix in _SUFFIXES and not (path.is_symlink() and path.is_dir()):
                found.append((path, path.relative_to(root).with_suffix("").as_posix(), None))
    if not found:
        raise DatasetError(f"{root}: no .txt or .html files in this directory")
    found.sort(key=lambda entry: entry[0])
    return [
        _file_item(path, item_id) if error is None else BatchItem(item_id, str(path), error=error)
        for path, item_id, error in found
    ]


def _is_directory(entry: os.DirEntry[str]) -> bool:
    """A directory itself, not a link to one."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _why(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symbolic link loop"
    if error.errno == errno.ENOENT:
        return "no such file"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return error.strerror or type(error).__name__


def _file_item(path: Path | str, item_id: str) -> BatchItem:
    try:
        article = read_article(path)
    except SummarizerError as e:
        return BatchItem(item_id, str(path), error=e)
    except OSError as e:  # one read_article does not name: still this article's line
        error = InputNotFoundError(f"{path}: cannot be read ({_why(e)})")
        return BatchItem(item_id, str(path), error=error)
    return BatchItem(item_id, article.source, article.text, article.title, meta=article.meta)


def _jsonl_items(path: Path) -> list[BatchItem]:
    try:
        text = decode(path.read_bytes(), str(path))
    except FileNotFoundError:
        return [BatchItem(path.stem, str(path), error=DatasetError(f"{path}: no such file"))]
    except OSError as e:
        error = DatasetError(f"{path}: cannot be read ({_why(e)})")
        return [BatchItem(path.stem, str(path), error=error)]
    except SummarizerError as e:
        return [BatchItem(path.stem, str(path), error=e)]
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            items.append(BatchItem(where, where, error=DatasetError(f"{where}: not JSON: {e}")))
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            message = f'{where}: expected an object with a "text" string'
            items.append(BatchItem(where, where, error=DatasetError(message)))
            continue
        item_id = str(row["id"]) if row.get("id") not in (None, "") else where
        title = row.get("title") if isinstance(row.get("title"), str) else None
        items.append(BatchItem(item_id, where, row["text"], title))
    return items
