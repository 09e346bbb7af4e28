"""What a batch leaves behind: one JSONL line per article, and a ledger of runs.

A line is a record: the article's id and source, ``status`` (``ok`` or ``error``),
whether it came from the cache, its attempts, the tokens of all of them and their
cost, then the summary or the error (kind, exit code, message). The ledger,
``<out>.ledger.json``, keeps each run's totals (articles, tokens, cost, re-asks,
transport retries, 429s, wall time) and the sum over runs, so a resumed batch
still adds up.

A run's entry is written when it starts (``status``: ``running``, with its
``pid``) and rewritten as results come in (at most every
:attr:`RunLedger.INTERVAL` seconds), so a run killed outright still has what it
spent there; at the end its status is ``finished``, ``interrupted`` (Ctrl-C) or
``failed`` (an error stopped it). A later run marks an entry still ``running`` as
``killed``: it holds the output's lock (:mod:`summarizer.batch.lock`), so that run's
process is gone. Both files are only written under that lock, and always whole (a
temporary file renamed over the old one), so they are valid JSON at every moment; a
ledger that does not parse (edited by hand) is kept aside as ``.corrupt``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from summarizer.batch.items import BatchItem
from summarizer.batch.pricing import Price, usage_cost
from summarizer.contract import ArticleSummary
from summarizer.errors import ConfigurationError, SummarizerError

_ZERO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def load_finished(out: Path) -> set[str]:
    """Ids that already have a summary in ``out``; rewrites ``out`` without the rest.

    Error lines are dropped so that their articles run again, as is a last line cut
    short by a crash; summaries are kept, the first one per id. A file that is not
    a batch output (a line that is not one of our records) is left alone: rewriting
    it would destroy it, and it is more likely a mistyped ``--out``. Call it holding
    the output's lock: the rewrite replaces the file, which must not be open in
    another writer.
    """
    if not out.exists():
        return set()
    text = out.read_text(encoding="utf-8", errors="replace")
    # Lines end in "\n" only: str.splitlines would also split inside a summary at
    # U+2028, U+0085 and the like, which JSON strings may hold as they are.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    kept: list[str] = []
    done: set[str] = set()
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) or not line.strip():
                continue  # cut short by a crash, or blank
            row = None
        if not (isinstance(row, dict) and "id" in row and row.get("status") in ("ok", "error")):
            raise ConfigurationError(
                f"{out}: line {n} is not a batch result; this does not look like a "
                "`summarizer batch` output file, so it is not touched (choose another --out)"
            )
        if row["status"] == "ok" and str(row["id"]) not in done:
            done.add(str(row["id"]))
            kept.append(line)
    if len(kept) < len(lines) or not text.endswith("\n"):  # appending needs a line end
        _replace(out, "".join(line + "\n" for line in kept))
    return done


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole: a temporary file, synced, renamed over it (over the file
    a symbolic link points to, so that the link stays one)."""
    path = Path(os.path.realpath(path))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _attempts(meta: dict[str, Any]) -> dict[str, int]:
    attempts = meta.get("attempts") or {}
    return {k: int(attempts.get(k, 0)) for k in ("responses", "reasks", "transport_retries")}


def _usage(meta: dict[str, Any]) -> dict[str, int]:
    usage = meta.get("usage") or {}
    return {k: int(usage.get(k) or 0) for k in _ZERO_USAGE}


def success_record(
    item_id: str, source: str, summary: ArticleSummary, price: Price | None
) -> tuple[dict[str, Any], str]:
    """The record (without the summary, small enough to pass between processes) and
    the whole output line, the summary serialized by pydantic-core."""
    cached = bool(summary.meta.get("cache", {}).get("hit"))
    usage = dict(_ZERO_USAGE) if cached else _usage(summary.meta)
    record = {
        "id": item_id,
        "source": source,
        "status": "ok",
        "cached": cached,
        "attempts": _attempts(summary.meta),
        "usage": usage,
        "cost_usd": usage_cost(price, usage),
    }
    head = json.dumps(record, ensure_ascii=False)
    return record, f'{head[:-1]}, "summary": {summary.model_dump_json()}}}'


def error_record(
    item_id: str, source: str, error: BaseException, price: Price | None
) -> tuple[dict[str, Any], str]:
    meta = error.meta if isinstance(error, SummarizerError) else {}
    usage = _usage(meta)
    record = {
        "id": item_id,
        "source": source,
        "status": "error",
        "cached": False,
        "attempts": _attempts(meta),
        "usage": usage,
        "cost_usd": usage_cost(price, usage),
        "error": {
            "kind": type(error).__name__,
            "exit_code": error.exit_code if isinstance(error, SummarizerError) else 1,
            "message": str(error) or type(error).__name__,
        },
    }
    return record, json.dumps(record, ensure_ascii=False)


@dataclass
class BatchStats:
    """Totals for one run; what the progress bar shows and the ledger keeps."""

    total: int = 0
    skipped: int = 0  # already in the output file
    done: int = 0
    failed: int = 0
    cached: int = 0
    not_started: int = 0  # left out by --max-cost, or by an interruption
    budget_hit: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    responses: int = 0
    reasks: int = 0
    transport_retries: int = 0
    throttled: int = 0
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "articles": {
                "total": self.total,
                "already_done": self.skipped,
                "ok": self.done - self.failed,
                "failed": self.failed,
                "cached": self.cached,
                "not_started": self.not_started,
            },
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.tokens,
            },
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "attempts": {
                "responses": self.responses,
                "reasks": self.reasks,
                "transport_retries": self.transport_retries,
                "rate_limited": self.throttled,
            },
            "wall_s": round(time.monotonic() - self.started, 3),
            "interrupted": self.interrupted,
        }


class RunLedger:
    """This run's entry in ``<out>.ledger.json``, from its start to its end (see the
    module docstring). Create it holding the output's lock."""

    #: Seconds between two writes while results come in: a killed run's entry
    #: misses at most what finished in its last INTERVAL (measured: a write takes
    #: 0.1-0.2 ms, so this bounds the cost at well under 0.1 % of a core).
    INTERVAL = 0.25

    def __init__(self, out: Path, run: dict[str, Any], stats: BatchStats) -> None:
        self.path = ledger_path(out)
        self.run = {**run, "pid": os.getpid()}
        self.stats = stats
        kept: dict[str, Any] = {}  # other sections, such as a merge's (batch/shard_merge.py)
        try:
            ledger = json.loads(self.path.read_text(encoding="utf-8"))
            runs = [r for r in ledger["runs"] if isinstance(r, dict)]
            kept = {k: v for k, v in ledger.items() if k not in ("total", "runs")}
        except FileNotFoundError:
            runs = []
        except (ValueError, KeyError, TypeError):  # not ours to discard: kept aside
            os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            runs = []
        for entry in runs:
            if entry.get("status") == "running":  # its process no longer holds the lock
                entry["status"] = "killed"
        # Earlier runs do not change: serialized once, not on every write.
        self._earlier = [json.dumps(r, indent=2) for r in runs]
        self._kept = "".join(f"  {json.dumps(k)}: {_indented(v)},\n" for k, v in kept.items())
        self._earlier_tokens = sum(_total_tokens(r) for r in runs)
        costs = [r.get("cost_usd") for r in runs]
        self._earlier_cost = None if None in costs else sum(float(c or 0.0) for c in costs)
        self._written = 0.0
        self._dirty = False
        self.write("running")

    def changed(self) -> None:
        """A result was recorded: write now, or once INTERVAL has passed (see tick)."""
        self._dirty = True
        self.tick()

    def tick(self) -> None:
        """Write what changed if the last write is INTERVAL old; call it now and then."""
        if self._dirty and time.monotonic() - self._written >= self.INTERVAL:
            self.write("running")

    def write(self, status: str) -> None:
        entry = {**self.run, "status": status, **self.stats.as_dict()}
        if status == "running":  # what is not finished yet, were the run killed now
            s = self.stats
            entry["articles"]["not_started"] = s.total - s.skipped - s.done
        cost = entry["cost_usd"]
        total = {
            "runs": len(self._earlier) + 1,
            "total_tokens": self._earlier_tokens + entry["usage"]["total_tokens"],
            "cost_usd": None
            if self._earlier_cost is None or cost is None
            else round(self._earlier_cost + cost, 6),
        }
        runs = [*self._earlier, json.dumps(entry, indent=2)]
        # json.dumps({"total": total, "runs": runs}, indent=2), with the runs reused
        body = ",\n".join("    " + r.replace("\n", "\n    ") for r in runs)
        head = json.dumps(total, indent=2).replace("\n", "\n  ")
        tmp = self.path.with_name(self.path.name + ".tmp")
        text = f'{{\n  "total": {head},\n{self._kept}  "runs": [\n{body}\n  ]\n}}\n'
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        self._written = time.monotonic()
        self._dirty = False


def _indented(value: Any) -> str:
    return json.dumps(value, indent=2).replace("\n", "\n  ")


def _total_tokens(run: dict[str, Any]) -> int:
    usage = run.get("usage")
    return int(usage.get("total_tokens") or 0) if isinstance(usage, dict) else 0


def ledger_path(out: Path) -> Path:
    return out.with_name(out.name + ".ledger.json")


class Recorder:
    """The single writer: appends result lines, keeps totals, enforces ``max_cost``.

    ``max_cost`` is checked before an article starts, against what was spent plus
    the worst case of everything in flight (prompt estimate plus ``max_tokens`` of
    output, per request), so the budget is not overrun by work already started.
    """

    def __init__(
        self,
        out: Path,
        stats: BatchStats,
        *,
        price: Price | None,
        max_cost: float | None,
        worst_case_tokens: Callable[[BatchItem], tuple[int, int]],
        on_change: Callable[[BatchStats], None] | None = None,
        ledger: RunLedger | None = None,
    ) -> None:
        self.stats = stats
        self.price = price
        self.max_cost = max_cost
        self.worst_case_tokens = worst_case_tokens
        self.on_change = on_change
        self.ledger = ledger
        self.reserved: dict[str, float] = {}
        self._file = out.open("a", encoding="utf-8")

    def admit(self, item: BatchItem) -> bool:
        if self.max_cost is None or item.error is not None:
            return True
        assert self.price is not None  # checked when the batch starts
        need = self.price.cost(*self.worst_case_tokens(item))
        spent = self.stats.cost_usd or 0.0
        if spent + sum(self.reserved.values()) + need > self.max_cost:
            self.stats.budget_hit = True
            return False
        self.reserved[item.id] = need
        return True

    def write(self, record: dict[str, Any], line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()
        self.reserved.pop(record["id"], None)
        s = self.stats
        s.done += 1
        s.failed += record["status"] == "error"
        s.cached += bool(record["cached"])
        s.prompt_tokens += record["usage"]["prompt_tokens"]
        s.completion_tokens += record["usage"]["completion_tokens"]
        if s.cost_usd is not None:
            s.cost_usd = None if record["cost_usd"] is None else s.cost_usd + record["cost_usd"]
        s.responses += record["attempts"]["responses"]
        s.reasks += record["attempts"]["reasks"]
        s.transport_retries += record["attempts"]["transport_retries"]
        if self.ledger is not None:
            self.ledger.changed()
        if self.on_change is not None:
            self.on_change(s)

    def tick(self) -> None:
        """Now and then while waiting for results: bring the ledger up to date."""
        if self.ledger is not None:
            self.ledger.tick()

    def close(self) -> None:
        self._file.close()

    def close_in_child(self) -> None:
        """In a forked worker: let go of the parent's output file (nothing is buffered:
        every line is flushed as it is written)."""
        self._file.close()
