"""What a batch leaves behind: one JSONL line per article, and a ledger of runs.

A line is a record: the article's id and source, ``status`` (``ok`` or ``error``),
whether it came from the cache, its attempts, the tokens of all of them and their
cost, then the summary or the error (kind, exit code, message). The ledger,
``<out>.ledger.json``, keeps each run's totals (articles, tokens, cost, re-asks,
transport retries, 429s, wall time) and the sum over runs, so a resumed batch
still adds up.
"""

from __future__ import annotations

import json
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
    it would destroy it, and it is more likely a mistyped ``--out``.
    """
    if not out.exists():
        return set()
    lines = out.read_text(encoding="utf-8", errors="replace").splitlines()
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
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    tmp.replace(out)
    return done


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


def append_ledger(out: Path, run: dict[str, Any], stats: BatchStats) -> None:
    """Add this run (``run``: how it was configured) to ``<out>.ledger.json``: one
    entry per run, plus running totals."""
    path = ledger_path(out)
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
        runs = list(ledger["runs"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        runs = []
    runs.append({**run, **stats.as_dict()})
    costs = [r.get("cost_usd") for r in runs]
    total = {
        "runs": len(runs),
        "total_tokens": sum(r["usage"]["total_tokens"] for r in runs),
        "cost_usd": None if None in costs else round(sum(c or 0.0 for c in costs), 6),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"total": total, "runs": runs}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


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
    ) -> None:
        self.stats = stats
        self.price = price
        self.max_cost = max_cost
        self.worst_case_tokens = worst_case_tokens
        self.on_change = on_change
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
        if self.on_change is not None:
            self.on_change(s)

    def close(self) -> None:
        self._file.close()
