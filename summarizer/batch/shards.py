"""Shards: one batch split over many machines (``--shard K/N``), and merged back.

Any scheduler (cron, a CI matrix, Slurm, Kubernetes jobs) can run N copies of the
same ``summarizer batch`` command, each with ``--shard K/N`` and its own output; no
coordination is needed because every copy computes the same partition on its own:
an article belongs to shard ``int(sha256(id)[:8]) mod N + 1``. The id is the one the
output lines carry, sha256 over its UTF-8 bytes, so the partition is the same on every
machine and Python version (Python's ``hash()`` is salted per process), and each
article is in exactly one shard whatever N.

Each shard is an ordinary batch output with its own ledger, which records the shard,
so resuming a shard is resuming a batch. Shards may run at the same time against
one provider account, so a shard keeps to 1/N of ``--rate-limit`` and ``--max-cost``,
which are the whole job's. :func:`merge_outputs` (:mod:`summarizer.batch.shard_merge`)
joins the outputs into one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from summarizer.batch.items import BatchItem, collect_items
from summarizer.batch.ledger import ledger_path
from summarizer.batch.scheduling import BatchOptions
from summarizer.batch.shard_merge import MergeResult, merge_outputs
from summarizer.errors import ConfigurationError
from summarizer.inputs.fetch import is_url

__all__ = ["MergeResult", "Shard", "merge_outputs", "shard_of"]

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*", re.ASCII)  # ASCII: int() takes "٢" too


def shard_of(item_id: str, n: int) -> int:
    """The shard (1 to ``n``) the article ``item_id`` belongs to; see the module doc."""
    if n < 1:
        raise ConfigurationError(f"a shard count must be at least 1, not {n}")
    # surrogatepass: a JSONL id may hold a lone surrogate, which has no UTF-8 form
    digest = hashlib.sha256(item_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


@dataclass(frozen=True)
class Shard:
    """Shard ``k`` of ``n``, numbered from 1 (``Shard.parse("2/4")``)."""

    k: int
    n: int

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise ConfigurationError(_bad_spec(f"{self.k}/{self.n}"))

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SPEC.fullmatch(text) if len(text) <= 40 else None
        if match is None:
            raise ConfigurationError(_bad_spec(text))
        return cls(int(match[1]), int(match[2]))

    def holds(self, item_id: str) -> bool:
        return shard_of(item_id, self.n) == self.k

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def _bad_spec(text: str) -> str:
    return (
        f"shard (--shard) {text!r}: expected K/N, shard K of N with 1 <= K <= N "
        "(numbered from 1), e.g. 2/4"
    )


def shard_options(options: BatchOptions, shard: Shard | None) -> BatchOptions:
    """A shard's 1/N of the job's rate limits and budget: shards may run at once."""
    if shard is None or shard.n == 1:
        return options
    n = shard.n
    return replace(
        options,
        rpm=None if options.rpm is None else options.rpm / n,
        tpm=None if options.tpm is None else options.tpm / n,
        max_cost=None if options.max_cost is None else options.max_cost / n,
    )


def shard_items(
    targets: Sequence[str | Path], items: Iterable[BatchItem] | None, shard: Shard | None, out: Path
) -> list[BatchItem]:
    """The articles of ``shard`` (all of them without one): ``items`` if given, else
    those read from ``targets``. A file or URL whose id (its stem, the URL) is in
    another shard is not read at all, so N shards fetch each URL once between them;
    directories and JSONL files are read whole, since only reading them gives the ids.
    """
    if shard is None:
        return list(items) if items is not None else collect_items(targets)
    _check_output_holds(out, shard)
    if items is None:
        kept = [t for t in targets if (i := _id_without_reading(t)) is None or shard.holds(i)]
        items = collect_items(kept) if kept else []
    return [item for item in items if shard.holds(item.id)]


def _id_without_reading(target: str | Path) -> str | None:
    """The id :func:`collect_items` gives ``target``, where it needs no reading."""
    if is_url(str(target)):
        return str(target)
    path = Path(target)
    return None if path.is_dir() or path.suffix == ".jsonl" else path.stem


def _check_output_holds(out: Path, shard: Shard) -> None:
    """Refuse an output that holds another shard's results (or a whole batch's): a
    merge would count that output as this shard, and some articles twice."""
    try:
        runs = json.loads(ledger_path(out).read_text(encoding="utf-8"))["runs"]
        others = {str(r.get("shard", "all")) for r in runs if isinstance(r, dict)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return  # no ledger yet, or one the batch itself will set aside
    others.discard(str(shard))
    if others:
        named = ("an unsharded batch" if s == "all" else f"shard {s}" for s in sorted(others))
        what = ", ".join(named)
        raise ConfigurationError(
            f"{out} holds the results of {what} (its ledger says so), not of shard {shard}: "
            "give each shard its own output file (out, --out)"
        )
