"""``summarizer merge``: shard outputs (``batch --shard K/N``) joined into one.

The merged output is a batch output like any other: a batch resumes into it (its
error lines are retried, its ledger goes on), so a merge is a safe point to stop at.
Shards made with another model, prompt or schema version are refused, since their
summaries are not comparable (:class:`~summarizer.errors.ShardMismatchError`). Shard
outputs can be large, so lines are indexed (offsets) and copied as they are, never
all held in memory, and nothing is written until every input was read and checked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from summarizer.batch.ledger import ledger_path
from summarizer.batch.lock import OutputLock
from summarizer.errors import (
    ConfigurationError,
    DatasetError,
    InputIsDirectoryError,
    InputNotFoundError,
    InputNotRegularFileError,
    OutputLockedError,
    ShardMismatchError,
)

__all__ = ["MergeResult", "merge_outputs"]


@dataclass
class MergeResult:
    """What :func:`merge_outputs` wrote; its ledger holds the same and more."""

    out: Path
    articles: int = 0
    ok: int = 0
    failed: int = 0
    duplicates: int = 0  # lines left out: another line of the same id was kept
    runs: int = 0
    total_tokens: int = 0
    cost_usd: float | None = 0.0
    shards: list[str] = field(default_factory=list)  # K/N found in the inputs' ledgers
    missing: list[str] = field(default_factory=list)  # K/N of one N not among them


@dataclass
class _Line:
    source: int  # index of the input
    offset: int
    length: int
    ok: bool


# What must be the same in every shard: the ledger's run field and a line's, by name.
_RECIPE = ("model", "prompt", "prompt sha256", "schema version")
# What a ledger's runs sum, and more of any of them (tokens, USD) than a run spends.
_USAGE = ("prompt_tokens", "completion_tokens", "total_tokens")
_ATTEMPTS = ("responses", "reasks", "transport_retries", "rate_limited")
_MOST = 10**15
# The longest line read: a summary is KBs; one over this is not a batch result.
_MAX_LINE = 64 * 1024 * 1024


def merge_outputs(
    paths: Sequence[str | Path], out: str | Path, *, overwrite: bool = False
) -> MergeResult:
    """Merge shard outputs (``summarizer batch --shard``) into ``out`` and its ledger.

    One line per id: a summary wins over an error; between two summaries (or two
    errors) the first in the order of ``paths``, then of lines, wins. The ledger sums
    every shard's runs (each kept, marked with the file it came from; a run found in
    two inputs, a copy, is counted once) and lists the shards. Both files are written
    whole (a temporary file renamed), and only after every input was read and checked;
    the inputs are never written. Raises :class:`ShardMismatchError` for shards of
    another model, prompt or schema version; ``InputNotFoundError``, ``DatasetError``
    and the like for a missing or malformed shard or ledger; ``ConfigurationError``
    when ``out`` is an input or exists (unless ``overwrite``).
    """
    out = Path(out)
    inputs = [Path(p) for p in paths]
    if not inputs:
        raise ConfigurationError("merge needs at least one shard output")
    _check_paths(inputs, out)
    with OutputLock(out), contextlib.ExitStack() as stack:
        for target in (out, ledger_path(out)):
            if target.exists() and not overwrite:
                raise ConfigurationError(
                    f"{target} exists; merge writes a new file: remove it or replace "
                    "it (overwrite, --force)"
                )
        files = [stack.enter_context(_open_regular(path, "shard output")) for path in inputs]
        for path in inputs:
            _check_not_being_written(path)
        recipe: dict[str, tuple[str, str]] = {}
        chosen: dict[str, _Line] = {}
        lines = [0] * len(inputs)
        duplicates = 0
        for index, (path, f) in enumerate(zip(inputs, files, strict=True)):
            for line_id, line, found in _index_lines(path, f, index):
                _agree(recipe, found, str(path))
                lines[index] += 1
                kept = chosen.get(line_id)
                if kept is None:
                    chosen[line_id] = line
                    continue
                duplicates += 1
                if line.ok and not kept.ok:
                    chosen[line_id] = line
        runs, listing = _read_runs(inputs, lines, chosen, recipe)
        result = _result(out, chosen, duplicates, runs, listing)
        _write_whole(out, lambda w: _copy_lines(files, inputs, chosen, w))
        ledger = json.dumps(_ledger(result, runs, listing), indent=2) + "\n"
        _write_whole(ledger_path(out), lambda w: w.write(ledger.encode("utf-8")))
    return result


def _check_paths(inputs: list[Path], out: Path) -> None:
    seen: dict[str, Path] = {}
    for path in inputs:
        real = os.path.realpath(path)
        if real in seen:
            raise ConfigurationError(f"{path} is given twice (as {seen[real]} too)")
        seen[real] = path
    taken = set(seen) | {os.path.realpath(ledger_path(p)) for p in inputs}
    for target in (out, ledger_path(out)):
        if os.path.realpath(target) in taken:
            raise ConfigurationError(
                f"the output file (out, -o) {out} is one of the shards being merged or "
                "their ledgers; choose another output file"
            )


def _open_regular(path: Path, what: str) -> IO[bytes]:
    """``path`` opened for reading if it is a regular file (a FIFO would block the
    merge forever), else the one-line error saying what it is instead."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise InputIsDirectoryError(f"{path}: a directory, not a {what}")
        if not stat.S_ISREG(mode):
            raise InputNotRegularFileError(f"{path}: not a regular file, not a {what}")
        return path.open("rb")
    except FileNotFoundError:
        raise InputNotFoundError(f"{path}: no such {what}") from None
    except OSError as e:
        raise InputNotFoundError(f"{path}: cannot be read ({e.strerror})") from None


def _check_not_being_written(path: Path) -> None:
    """A batch writing ``path`` holds an exclusive lock on ``<path>.lock``."""
    lock = OutputLock(path).path
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # no lock file: no batch has it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            who = f" (pid {pid})" if pid.isdigit() else ""
            raise OutputLockedError(
                f"{path} is still being written by a batch{who}; merge it once that batch is done"
            ) from None
    finally:
        os.close(fd)


def _index_lines(
    path: Path, f: IO[bytes], index: int
) -> Iterable[tuple[str, _Line, dict[str, str]]]:
    """Each line's id, place, status and recipe; raises on a line that is not a
    batch result. Lines end in ``\\n`` only (as the batch writes them)."""
    offset = 0
    for n, raw in enumerate(iter(lambda: f.readline(_MAX_LINE + 1), b""), 1):
        where = f"{path}: line {n}"
        if len(raw) > _MAX_LINE:
            raise DatasetError(f"{where} is over {_MAX_LINE >> 20} MB; not a batch output")
        if raw.strip():
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise DatasetError(f"{where} is not UTF-8; not a batch output") from None
            except (ValueError, RecursionError):
                if not raw.endswith(b"\n"):
                    raise DatasetError(
                        f"{where} is cut short (its batch was killed while writing?); run "
                        "that shard's batch again to repair and finish it, then merge"
                    ) from None
                raise DatasetError(f"{where} is not JSON; not a batch output") from None
            if not (isinstance(row, dict) and "id" in row and row.get("status") in ("ok", "error")):
                raise DatasetError(f"{where} is not a batch result; not a batch output")
            ok = row["status"] == "ok"
            summary = row.get("summary")
            if ok and not isinstance(summary, dict):
                raise DatasetError(f"{where}: status ok without a summary; not a batch output")
            line = _Line(index, offset, len(raw), ok)
            yield str(row["id"]), line, _line_recipe(summary) if ok else {}
        offset += len(raw)


def _line_recipe(summary: Any) -> dict[str, str]:
    meta = _dict(_dict(summary).get("meta"))
    prompt = _dict(meta.get("prompt"))
    found = {
        "model": meta.get("model"),
        "prompt": f"{prompt['name']}@{prompt.get('version')}" if "name" in prompt else None,
        "prompt sha256": prompt.get("sha256"),
        "schema version": _dict(summary).get("schema_version"),
    }
    return {k: str(v) for k, v in found.items() if v is not None}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _run_recipe(run: dict[str, Any]) -> dict[str, str]:
    keys = zip(_RECIPE, ("model", "prompt", "prompt_sha256", "schema_version"), strict=True)
    return {what: str(run[key]) for what, key in keys if run.get(key) is not None}


def _agree(recipe: dict[str, tuple[str, str]], found: dict[str, str], where: str) -> None:
    """Every shard's model, prompt and schema version are the first one's."""
    for what in _RECIPE:
        value = found.get(what)
        if value is None:
            continue
        first = recipe.setdefault(what, (value, where))
        if first[0] != value:
            raise ShardMismatchError(
                f"{where} was made with {what} {value!r}, {first[1]} with {first[0]!r}; "
                "merge only shards of one batch (same --model, --prompt and schema version)"
            )


def _read_runs(
    inputs: list[Path], lines: list[int], chosen: dict[str, _Line],
    recipe: dict[str, tuple[str, str]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """Every run of every shard's ledger, once each, and one entry per input."""
    runs: list[dict[str, Any]] = []
    seen: set[str] = set()
    listing = []
    kept = [0] * len(inputs)
    for line in chosen.values():
        kept[line.source] += 1
    for index, path in enumerate(inputs):
        entries = _ledger_runs(ledger_path(path), path)
        specs = set()
        for run in entries:
            _agree(recipe, _run_recipe(run), str(ledger_path(path)))
            specs.add(str(run.get("shard", "all")))
            if run.get("status") == "running":  # nothing holds its lock: it was killed
                run = {**run, "status": "killed"}
            identity = json.dumps({**run, "merged_from": None}, sort_keys=True)
            if identity not in seen:  # the same run in two inputs: a copy, or a merge
                seen.add(identity)
                runs.append({**run, "merged_from": run.get("merged_from", str(path))})
        listing.append({"output": str(path), "shards": sorted(specs), "lines": lines[index],
                        "kept": kept[index], "runs": len(entries)})  # fmt: skip
    return runs, listing


def _ledger_runs(ledger: Path, path: Path) -> list[dict[str, Any]]:
    try:
        with _open_regular(ledger, "batch ledger") as f:
            entries = json.loads(f.read().decode("utf-8"))["runs"]
    except InputNotFoundError as e:
        if ledger.exists():
            raise
        raise InputNotFoundError(
            f"{ledger}: no such file; merge sums the shards' ledgers, and {path} has none "
            "beside it (was it written by `summarizer batch`?)"
        ) from e
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise DatasetError(f"{ledger}: not a batch ledger ({type(e).__name__})") from None
    if not isinstance(entries, list) or not all(isinstance(r, dict) for r in entries):
        raise DatasetError(f"{ledger}: not a batch ledger (its runs are not a list of runs)")
    for number, run in enumerate(entries, 1):
        if problem := _unfit(run):
            raise DatasetError(f"{ledger}: run {number}'s {problem}; not a batch ledger (edited?)")
    return entries


def _unfit(run: dict[str, Any]) -> str | None:
    """What keeps a run out of the sums: a figure that is not a count or a cost a run
    can have (a string, negative, NaN, infinite, absurd: an edit, not a run)."""
    figures: list[tuple[str, Any, type]] = [("cost_usd", run.get("cost_usd"), float)]
    for group, keys in (("usage", _USAGE), ("attempts", _ATTEMPTS)):
        values = run.get(group, {})
        if not isinstance(values, dict):
            return f"{group} is {values!r:.40}, not counts"
        figures += [(f"{group}.{k}", values.get(k), int) for k in keys]
    for name, value, kind in figures:
        number = isinstance(value, kind | int) and not isinstance(value, bool)
        if value is not None and not (number and 0 <= value <= _MOST):  # NaN: False
            return f"{name} is {value!r:.40}, not a {'cost' if kind is float else 'count'}"
    return None


def _result(
    out: Path, chosen: dict[str, _Line], duplicates: int, runs: list[dict[str, Any]],
    listing: list[dict[str, Any]],
) -> MergeResult:  # fmt: skip
    ok = sum(line.ok for line in chosen.values())
    costs = [r.get("cost_usd") for r in runs]
    specs = sorted({s for entry in listing for s in entry["shards"]} - {"all"})
    counts = {s.split("/")[1] for s in specs if re.fullmatch(r"\d+/\d+", s, re.ASCII)}
    missing = []
    if len(counts) == 1:
        n = int(counts.pop())
        missing = [f"{k}/{n}" for k in range(1, n + 1) if f"{k}/{n}" not in specs]
    return MergeResult(
        out=out, articles=len(chosen), ok=ok, failed=len(chosen) - ok, duplicates=duplicates,
        runs=len(runs), total_tokens=sum(_number(r, "usage", "total_tokens") for r in runs),
        cost_usd=None if None in costs else round(sum(float(c or 0) for c in costs), 6),
        shards=specs, missing=missing,
    )  # fmt: skip


def _number(run: dict[str, Any], group: str, key: str) -> int:
    values = run.get(group)
    return int(values.get(key) or 0) if isinstance(values, dict) else 0


def _ledger(
    result: MergeResult, runs: list[dict[str, Any]], listing: list[dict[str, Any]]
) -> dict[str, Any]:
    """The batch ledger's shape (a batch resuming into the output goes on with it),
    plus ``merged``: the inputs, the shards and the sums of their runs."""
    return {
        "total": {
            "runs": result.runs,
            "total_tokens": result.total_tokens,
            "cost_usd": result.cost_usd,
        },
        "merged": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "shards": result.shards,
            "missing_shards": result.missing,
            "inputs": listing,
            "articles": {"total": result.articles, "ok": result.ok, "failed": result.failed},
            "duplicates": result.duplicates,
            "usage": {k: sum(_number(r, "usage", k) for r in runs) for k in _USAGE},
            "cost_usd": result.cost_usd,
            "attempts": {k: sum(_number(r, "attempts", k) for r in runs) for k in _ATTEMPTS},
        },
        "runs": runs,
    }


def _copy_lines(
    files: list[IO[bytes]], inputs: list[Path], chosen: dict[str, _Line], w: IO[bytes]
) -> None:
    """The chosen lines as they are, in the order their ids first appeared. A batch
    that rewrites a shard meanwhile replaces the file (its old one stays open here),
    and one that appends changes none of the lines indexed."""
    for line in chosen.values():
        f = files[line.source]
        f.seek(line.offset)
        raw = f.read(line.length)
        if len(raw) != line.length:  # cut by hand while being merged
            raise ConfigurationError(f"{inputs[line.source]} changed while being merged")
        w.write(raw if raw.endswith(b"\n") else raw + b"\n")


def _write_whole(path: Path, write: Any) -> None:
    """``write(file)`` into a temporary file beside ``path``, synced, then renamed over
    it (over the file a symbolic link points to), so ``path`` is whole at every moment."""
    real = Path(os.path.realpath(path))
    tmp = str(real.with_name(f".{real.name}.{secrets.token_hex(6)}.tmp"))
    try:  # not mkstemp: its files are 0600, and a merged output is as readable as a batch's
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise ConfigurationError(f"{path}: cannot be written ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as w:
            write(w)
            w.flush()
            os.fsync(w.fileno())
        os.replace(tmp, real)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ConfigurationError(f"{path}: cannot be written ({e.strerror})") from None
        raise
