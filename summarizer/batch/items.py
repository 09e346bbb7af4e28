"""What a batch reads: articles from files, directories, JSONL files and URLs.

An input that cannot be read becomes an item carrying its error, so that it is
reported in the output like any failed article instead of stopping the batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.errors import DatasetError, SummarizerError
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
            files = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not files:
                raise DatasetError(f"{path}: no .txt or .html files in this directory")
            items += [_file_item(p, p.relative_to(path).with_suffix("").as_posix()) for p in files]
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


def _file_item(path: Path | str, item_id: str) -> BatchItem:
    try:
        article = read_article(path)
    except SummarizerError as e:
        return BatchItem(item_id, str(path), error=e)
    return BatchItem(item_id, article.source, article.text, article.title, meta=article.meta)


def _jsonl_items(path: Path) -> list[BatchItem]:
    try:
        text = decode(path.read_bytes(), str(path))
    except FileNotFoundError:
        return [BatchItem(path.stem, str(path), error=DatasetError(f"{path}: no such file"))]
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
