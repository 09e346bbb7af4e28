"""Golden datasets: layout, loading, and the checks every golden file must pass.

A dataset is any folder with ``articles/<id>.txt`` (or a saved page,
``articles/<id>.html``, whose extracted article text is what offsets refer to) and
``golden/<id>.json``. Golden
files follow the summary contract and the labeling rules in ``SUMMARY_CONTRACT.md``:
every quote verbatim at its offsets, every commitment's actor among the actors, and
the contract's size rules. Items may carry ``"required": false`` (kept in the raw
JSON; the models ignore it) for things a good summary may omit.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from summarizer.contract import ArticleSummary, contract_warnings
from summarizer.errors import (
    DatasetError,
    EmptyEvalError,
    InputIsDirectoryError,
    InputNotFoundError,
    InputNotRegularFileError,
    InputTooLargeError,
    SummarizerError,
)
from summarizer.inputs.read import decode, read_article

if TYPE_CHECKING:
    from summarizer.alignment import Aligner

SECTIONS = ("actors", "commitments", "open_questions")


@dataclass(frozen=True)
class GoldenCase:
    id: str
    text: str
    raw: dict[str, Any]
    summary: ArticleSummary


def dataset_ids(root: Path) -> list[str]:
    """Ids with an article file, sorted; raises if the folder is not a dataset."""
    articles = root / "articles"
    if not articles.is_dir():
        raise InputNotFoundError(f"{root}: not a dataset (no articles/ folder)")
    try:
        return sorted({p.stem for p in articles.iterdir() if p.suffix in _ARTICLE_SUFFIXES})
    except OSError as e:
        raise InputNotFoundError(f"{articles}: cannot list the folder: {e.strerror}") from e


def select_ids(
    root: Path,
    only: list[str] | None,
    *,
    limit: int | None = None,
    need_golden: bool = False,
) -> list[str]:
    """The ids every eval command works on: the dataset's articles in id order, those
    ``only`` names if given, the first ``limit`` of them; with ``need_golden``, then
    those with a golden file. Refuses to select nothing.

    The same ``only`` and ``limit`` select the same articles in every command, so that
    ``eval baseline --limit 5`` writes the candidates ``eval score --limit 5`` expects.
    An ``only`` id with no article is an error, not a silent skip: a typo would
    otherwise check (or gate on) fewer files than asked, or none.
    """
    if limit is not None and limit < 1:
        raise EmptyEvalError(f"{root}: --limit {limit}: expected a number of articles from 1")
    ids = every = dataset_ids(root)
    if only is not None:
        wanted = [i for i in dict.fromkeys(only) if i]
        if not wanted:
            raise EmptyEvalError(f"{root}: --only names no id (ids are comma-separated)")
        unknown = [i for i in wanted if i not in every]
        if unknown:
            raise EmptyEvalError(
                f"{root}: --only {', '.join(map(repr, unknown))}: no such article in "
                f"{root / 'articles'} (ids are the file names without .txt/.html)"
            )
        ids = [i for i in every if i in wanted]
    ids = ids[:limit]
    if need_golden:
        ids = [i for i in ids if (root / "golden" / f"{i}.json").is_file()]
    if ids:
        return ids
    if not every:
        raise EmptyEvalError(f"{root / 'articles'}: nothing to evaluate: no article files in it")
    which = "the selected articles" if only is not None or limit else "any article"
    raise EmptyEvalError(f"{root / 'golden'}: nothing to evaluate: no golden file for {which}")


_ARTICLE_SUFFIXES = (".txt", ".html", ".htm")


def article_text(root: Path, case_id: str) -> str:
    """The text of article ``case_id``: the ``.txt`` file, else the article extracted
    from the saved page (as ``summarizer summarize page.html`` reads it)."""
    for suffix in _ARTICLE_SUFFIXES:
        path = root / "articles" / f"{case_id}{suffix}"
        if path.is_file():
            return read_text(path) if suffix == ".txt" else read_article(path).text
    raise InputNotFoundError(f"{root / 'articles'}: no article {case_id!r} (.txt or .html)")


def read_text(path: Path) -> str:
    """The file as text; every way it cannot be read is a one-line error of ours."""
    if path.is_dir():
        raise InputIsDirectoryError(f"{path}: is a directory, not a file")
    if path.exists() and not path.is_file():  # a FIFO would block the read forever
        raise InputNotFoundError(f"{path}: not a regular file")
    try:
        return decode(path.read_bytes(), str(path))
    except FileNotFoundError as e:
        raise InputNotFoundError(f"{path}: no such file") from e
    except OSError as e:
        raise InputNotFoundError(f"{path}: cannot read: {e.strerror or e}") from e


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def read_capped(path: Path, cap: int) -> str:
    """The text of a regular file of at most ``cap`` bytes, else a one-line InputError.

    For what the eval commands read from a user's folders (candidates, reports),
    which a wrong path or a runaway tool can make huge or special: the type and size
    are checked from ``stat`` before the file is read (a FIFO, which would block the
    read, a socket or a device is refused by its type), again from ``fstat`` after a
    non-blocking open (a file swapped in between), and the read stops one byte past
    the cap, whatever the file has grown to since.
    """
    try:
        _check_regular(path, os.stat(path), cap)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as e:
        raise InputNotFoundError(f"{path}: no such file") from e
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        raise InputNotFoundError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from e
    with os.fdopen(fd, "rb") as stream:
        _check_regular(path, os.fstat(fd), cap)
        try:
            data = stream.read(cap + 1)
        except OSError as e:
            raise InputNotFoundError(f"{path}: cannot read: {e.strerror or e}") from e
    if len(data) > cap:
        raise InputTooLargeError(f"{path}: over the {_mb(cap)} cap")
    return decode(data, str(path))


def _check_regular(path: Path, info: os.stat_result, cap: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise InputIsDirectoryError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
        raise InputNotRegularFileError(f"{path}: is {kind}, not a regular file")
    if info.st_size > cap:
        raise InputTooLargeError(f"{path}: {_mb(info.st_size)}, over the {_mb(cap)} cap")


def _mb(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n} bytes"
    return f"{n / 1024 / 1024:.1f}".removesuffix(".0") + " MB"


def read_json(path: Path, cap: int | None = None) -> Any:
    """The JSON value in ``path`` (of at most ``cap`` bytes when given); unreadable or
    malformed files raise DatasetError, a file over ``cap`` InputTooLargeError."""
    text = read_text(path) if cap is None else read_capped(path, cap)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON: {e}") from e
    except (ValueError, RecursionError) as e:  # a 5000-digit number, 10,000 nested lists
        raise DatasetError(f"{path}: not usable JSON: {e}") from e


def _offset(value: Any) -> int | None:
    """A quote offset as an int: JSON has one number type, so 218.0 is 218.

    Raises ValueError for anything else (218.5, "218", true).
    """
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"offset {value!r} is not a whole number")


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _iter_evidence(raw: Any) -> list[tuple[str, dict[str, Any]]]:
    """(item path, evidence dict) for every quote; parts of the wrong type are skipped
    (:func:`check_golden` reports them as shape problems)."""
    if not isinstance(raw, dict):
        return []
    out = []
    key_summary = raw.get("key_summary")
    key_points = key_summary.get("key_points") if isinstance(key_summary, dict) else None
    for i, kp in enumerate(_dicts(key_points)):
        out += [(f"key_points[{i}]", ev) for ev in _dicts(kp.get("evidence"))]
    for section in SECTIONS:
        for i, item in enumerate(_dicts(raw.get(section))):
            out += [(f"{section}[{i}]", ev) for ev in _dicts(item.get("evidence"))]
    return out


def fill_offsets(text: str, raw: Any) -> int:
    """Set start/end of every quote found verbatim; returns how many were set."""
    filled = 0
    for _, ev in _iter_evidence(raw):
        quote = ev.get("quote")
        if not isinstance(quote, str) or not quote:
            continue
        try:
            start, end = _offset(ev.get("start")), _offset(ev.get("end"))
        except ValueError:
            start = end = None
        if start is not None and text[start:end] == quote:
            continue
        pos = text.find(quote)
        if pos >= 0:
            ev["start"], ev["end"] = pos, pos + len(quote)
            filled += 1
    return filled


def check_golden(text: str, raw: Any) -> list[str]:
    """Every way ``raw`` breaks the contract or the labeling rules (empty = fine).

    Never raises on a malformed ``raw``: whatever is wrong is one of the problems.
    """
    try:
        summary = ArticleSummary.model_validate(raw)
    except ValidationError as e:
        return [f"shape: {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:10]]
    problems: list[str] = []
    aligner: Aligner | None = None
    for path, ev in _iter_evidence(raw):
        quote = ev.get("quote", "")
        try:
            start, end = _offset(ev.get("start")), _offset(ev.get("end"))
        except ValueError as e:
            problems.append(f"{path}: {e}: {quote!r}")
            continue
        if start is None or end is None:
            # Only for the hint: a good file never needs the aligner, whose setup (the
            # article normalized, rapidfuzz imported) was a tenth of `eval check` (#11).
            if aligner is None:
                from summarizer.alignment import Aligner

                aligner = Aligner(text)
            where = aligner.locate(quote)
            hint = f" (close to {text[where.start : where.end]!r})" if where else ""
            problems.append(f"{path}: quote has no offsets / not verbatim: {quote!r}{hint}")
        elif text[start:end] != quote:
            problems.append(f"{path}: text[{start}:{end}] is not the quote {quote!r}")
    for section in ("key_points", *SECTIONS):
        items = raw.get(section) if section != "key_points" else raw["key_summary"].get(section)
        for i, item in enumerate(items or []):
            if not item.get("evidence"):
                problems.append(f"{section}[{i}]: no evidence")
    names = {a.name for a in summary.actors}
    if len(names) != len(summary.actors):
        problems.append("actors: duplicate names")
    for i, c in enumerate(summary.commitments):
        if c.actor not in names:
            problems.append(f"commitments[{i}]: actor {c.actor!r} is not an actor's name")
    for i, q in enumerate(summary.open_questions):
        for name in q.actors:
            if name not in names:
                problems.append(f"open_questions[{i}]: actor {name!r} is not an actor's name")
        if not q.question.rstrip().endswith("?"):
            problems.append(f"open_questions[{i}]: not phrased as a question")
    problems += [f"contract: {w}" for w in contract_warnings(summary)]
    return problems


def check_case(root: Path, case_id: str, *, fill: bool = False) -> list[str]:
    """The problems of ``golden/<case_id>.json`` (what ``eval check`` prints for it).

    Whatever is wrong with this one file (unreadable, not JSON, the wrong shape, no
    article) is one of its problems, never an exception, so that the other files are
    still checked. With ``fill``, offsets of quotes found verbatim are written first.
    """
    path = root / "golden" / f"{case_id}.json"
    try:
        text = article_text(root, case_id)
        raw = read_json(path)
    except SummarizerError as e:
        return [str(e)]
    if fill and fill_offsets(text, raw):
        try:
            path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", "utf-8")
        except OSError as e:
            return [f"{path}: cannot write the offsets: {e.strerror or e}"]
    return check_golden(text, raw)


def load_case(root: Path, case_id: str) -> GoldenCase:
    """The article and its golden summary; raises DatasetError if either is unusable."""
    text = article_text(root, case_id)
    path = root / "golden" / f"{case_id}.json"
    raw = read_json(path)
    try:
        summary = ArticleSummary.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"])) or "the top level"
        raise DatasetError(
            f"{path}: not a summary ({e.error_count()} problem(s); {where}: {err['msg']}); "
            f"run `summarizer eval check --dataset {root}`"
        ) from e
    # The scorer reads `required` flags from the raw lists, which may be left out.
    raw.setdefault("key_summary", {}).setdefault("key_points", [])
    for section in SECTIONS:
        raw.setdefault(section, [])
    return GoldenCase(case_id, text, raw, summary)
