"""A Batch API job's moving parts: its articles, its remote batches, and the steps
between them (submit a round, wait for it, read its files, write the lines).

See :mod:`summarizer.batch.openai_batch.engine` for the order the steps run in,
:mod:`~summarizer.batch.openai_batch.manifest` for what is written down when, and
:mod:`~summarizer.batch.openai_batch.articles` for an article's calls.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from summarizer.backends.openai_batch import BatchAPI, request_line
from summarizer.batch.ledger import Recorder
from summarizer.batch.openai_batch.articles import Article, Send, Unit
from summarizer.batch.openai_batch.manifest import (
    ID,
    NAME_KEY,
    STATUSES,
    TERMINAL,
    Entry,
    Manifest,
    custom_id,
)
from summarizer.batch.openai_batch.results import Tally, outcomes
from summarizer.errors import ConfigurationError, MalformedAnswerError, ProviderError

_LOG = logging.getLogger("summarizer.batch.openai_batch")
#: A request to send: custom_id, what it maps back to, its line, its call.
_Row = tuple[str, list[Any], bytes, Unit]


@dataclass
class EngineStats:
    """What this run did at the provider (the ledger's ``batch_api``)."""

    rounds: int = 0  # rounds of batches this run submitted
    batches_created: int = 0
    batches_found: int = 0  # created by a run killed before it wrote their id down
    requests_sent: int = 0
    requests_failed: int = 0  # error lines, and requests a batch ended without
    duplicate_lines: int = 0
    unknown_lines: int = 0
    live_requests: int = 0  # --finish-live
    batches_cancelled: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    """How a round is cut into batches: the provider's limits per input file."""

    lines: int = 50_000
    bytes: int = 200_000_000
    #: Consecutive failures to download a finished batch's file before giving up
    #: (a 403 or 5xx on a download is retried at the next poll).
    downloads: int = 5
    #: The most a result line may take (None: ``max_answer_bytes``); a result file over
    #: that times its batch's requests (and 4 KB of envelope each) is not read.
    answer_bytes: int | None = None
    #: Seconds after its creation by which a batch must have ended: twice the 24 h
    #: completion window, after which the provider should have expired it.
    deadline_s: float = 48 * 3600
    #: Seconds a batch this run asked to cancel has to end (OpenAI: up to 10 minutes).
    cancel_s: float = 3600


class Job:
    """One run's view of the job; see the module doc."""

    def __init__(
        self, api: BatchAPI, manifest: Manifest, recorder: Recorder, limits: Limits,
        on_stats: Callable[[EngineStats], None],
    ) -> None:  # fmt: skip
        self.api = api
        self.manifest = manifest
        self.recorder = recorder
        self.limits = limits
        self.on_stats = on_stats
        self.stats = EngineStats()
        self.articles: dict[str, Article] = {}  # those without a line yet, in input order
        self.token = secrets.token_hex(4)  # names this run's batches
        self._download_failures: dict[str, int] = {}
        self._odd: set[str] = set()  # batches whose status is not in the spec (said once)
        self._asked: dict[str, float] = {}  # batch id -> when this run asked to cancel it

    # -- articles --------------------------------------------------------------------

    def add(self, articles: Iterable[Article]) -> None:
        """Take the articles, replay the answers the kept files hold for them, and mark
        the requests still in running batches."""
        for article in articles:
            self.articles[article.item.id] = article
        for entry in self.manifest.entries:
            if entry.state == "done":
                self._apply(entry, self.manifest.read_kept(entry, "output"),
                            self.manifest.read_kept(entry, "error"), count=False)  # fmt: skip
        for entry in self.manifest.entries:
            if entry.state == "created":
                self._mark_inflight(entry)

    def settle(self, ids: Iterable[str] | None = None, send: Send | None = None) -> None:
        """Move the articles on (all, or ``ids``); write the lines of those that ended."""
        bumped = False
        for item_id in list(self.articles if ids is None else ids):
            article = self.articles.get(item_id)
            if article is None:
                continue
            line = article.advance(send)
            if line is None:
                continue
            self.recorder.write(*line)
            del self.articles[item_id]
            if article.failed:  # a rerun starts it afresh: see manifest.py
                self.manifest.generations[item_id] = article.generation + 1
                bumped = True
        if bumped:
            self.manifest.save()

    def needing(self) -> list[Article]:
        return [a for a in self.articles.values() if any(_needs(u) for u in a.units.values())]

    # -- sending -----------------------------------------------------------------------

    def submit(self, articles: list[Article]) -> int:
        """Send every request these articles need as one new round; the requests sent.
        An article not sent before is admitted under ``--max-cost`` first."""
        rows: list[_Row] = []
        for article in articles:
            if not article.admitted:
                if not self.recorder.admit(article.item):
                    del self.articles[article.item.id]  # not started: a rerun does it
                    continue
                article.admitted = True
            for unit in article.units.values():
                if _needs(unit):
                    assert unit.pending is not None
                    tries = unit.failures.get(unit.attempt, 0) + 1
                    cid = custom_id(article.item.id, article.generation, unit.name,
                                    unit.attempt, tries)  # fmt: skip
                    where = [article.item.id, article.generation, unit.name, unit.attempt]
                    rows.append((cid, where, request_line(cid, unit.pending.body), unit))
        if not rows:
            return 0
        round_ = self.manifest.next_round()
        chunk: list[_Row] = []
        size = index = 0
        for row in rows:
            full = len(chunk) >= self.limits.lines or size + len(row[2]) > self.limits.bytes
            if chunk and full:
                index += 1
                self._send(round_, index, chunk)
                chunk, size = [], 0
            chunk.append(row)
            size += len(row[2])
        self._send(round_, index + 1, chunk)
        self.stats.rounds += 1
        self._publish()
        return len(rows)

    def _send(self, round_: int, index: int, rows: list[_Row]) -> None:
        """Intent, upload, create: each step written down before the next (manifest.py)."""
        name = f"summarizer-{self.token}-r{round_}-b{index}"
        data = b"".join(row[2] for row in rows)
        entry = Entry(
            name=name, round=round_, state="intent", since=time.time() - 60,
            requests={row[0]: row[1] for row in rows}, lines=len(rows), bytes=len(data),
        )  # fmt: skip
        self.manifest.entries.append(entry)
        self.manifest.save()
        uploaded = self.api.upload(f"{name}.jsonl", data)
        entry.input_file_id, entry.state = str(uploaded["id"]), "uploaded"
        self.manifest.save()
        self._create(entry)
        for row in rows:
            row[3].inflight = row[0]
        self.stats.requests_sent += len(rows)
        _LOG.info("round %d: batch %s of %d requests (%d bytes) created",
                  round_, entry.batch_id, len(rows), len(data))  # fmt: skip

    def _create(self, entry: Entry) -> None:
        assert entry.input_file_id is not None
        batch = self.api.create(entry.input_file_id, {NAME_KEY: entry.name})
        self._attach(entry, batch)
        self.stats.batches_created += 1

    def _attach(self, entry: Entry, batch: dict[str, Any]) -> None:
        self._update(entry, batch)
        entry.batch_id, entry.state = str(batch["id"]), "created"
        entry.input_file_id = str(batch.get("input_file_id") or entry.input_file_id)
        self.manifest.save()

    def resolve(self, *, create: bool) -> None:
        """Entries a killed run left before their batch id was written: find the batch
        (by its name in the metadata), else create it over the uploaded file, else
        forget the intent (nothing was uploaded: its requests are sent again)."""
        for entry in list(self.manifest.entries):
            if entry.state not in ("intent", "uploaded"):
                continue
            found = self.api.find_batch(NAME_KEY, entry.name, entry.since)
            if found is not None:
                self._attach(entry, found)
                self.stats.batches_found += 1
                self._mark_inflight(entry)
                continue
            if entry.state == "intent":
                uploaded = self.api.find_file(f"{entry.name}.jsonl", entry.since)
                if uploaded is not None:
                    entry.input_file_id, entry.state = str(uploaded["id"]), "uploaded"
            if entry.state == "uploaded" and create:
                self._create(entry)
                self._mark_inflight(entry)
            else:
                self.manifest.entries.remove(entry)
            self.manifest.save()

    # -- waiting ---------------------------------------------------------------------------

    def open(self) -> list[Entry]:
        return [e for e in self.manifest.entries if e.state == "created"]

    def cancel(self) -> None:
        for entry in self.open():
            if entry.status not in TERMINAL and entry.batch_id:
                self._update(entry, self.api.cancel(entry.batch_id))
                entry.cancel_requested = True
                self._asked[entry.batch_id] = time.time()
                self.stats.batches_cancelled += 1
                self.manifest.save()
        self._publish()

    def poll(self) -> bool:
        """Look at every running batch once; read those that ended. True when none is
        left running."""
        for entry in self.open():
            assert entry.batch_id is not None
            if entry.status not in TERMINAL:
                before = entry.status
                self._update(entry, self.api.retrieve(entry.batch_id))
                if entry.status != before:
                    _LOG.info("batch %s: %s", entry.batch_id, entry.status)
                    self.manifest.save()
                self._check_running(entry)
            if entry.status in TERMINAL:
                self._finish(entry)
        return not self.open()

    def _finish(self, entry: Entry) -> None:
        """Download a terminal batch's files, keep them, apply them."""
        assert entry.batch_id is not None
        if entry.status == "failed" and entry.errors:
            _LOG.warning("summarizer: batch %s failed: %s; its %d requests go into the next "
                         "round", entry.batch_id, entry.errors[0], entry.lines)  # fmt: skip
        files: dict[str, bytes] = {}
        per_line = (self.limits.answer_bytes or self.api.settings.max_answer_bytes) + 4096
        cap = (entry.lines + 1) * per_line
        try:
            for kind, file_id in (("output", entry.output_file_id), ("error", entry.error_file_id)):
                files[kind] = self.api.content(file_id, cap) if file_id else b""
        except MalformedAnswerError:
            raise  # over the cap: as large again next time
        except ProviderError as e:
            failures = self._download_failures.get(entry.batch_id, 0) + 1
            self._download_failures[entry.batch_id] = failures
            if failures >= self.limits.downloads:
                raise
            _LOG.warning("summarizer: batch %s: its results could not be downloaded (%s); "
                         "trying again at the next poll", entry.batch_id, e)  # fmt: skip
            return
        for kind, data in files.items():
            self.manifest.keep(entry, kind, data)
        entry.state = "done"
        self.manifest.save()
        self._apply(entry, files["output"], files["error"], count=True)

    def _apply(self, entry: Entry, output: bytes, errors: bytes, *, count: bool) -> None:
        tally = Tally()
        touched: set[str] = set()
        for outcome in outcomes(output, errors, entry.requests, entry.status, tally):
            item_id, generation, unit, attempt = entry.requests[outcome.custom_id]
            article = self.articles.get(item_id)
            if article is None or article.generation != generation:
                continue  # it has its line, or it was started afresh
            if outcome.answer is not None:
                ok = article.answered(unit, attempt, (outcome.answer, entry.took()))
            else:
                ok = article.request_failed(unit, attempt, outcome.why)
            if ok:
                touched.add(item_id)
        if count:
            self.stats.requests_failed += tally.failed
            self.stats.duplicate_lines += tally.duplicates
            self.stats.unknown_lines += tally.unknown
            self._publish()
            self.settle(touched)

    def _mark_inflight(self, entry: Entry) -> None:
        for cid, (item_id, generation, unit, attempt) in entry.requests.items():
            article = self.articles.get(item_id)
            if article is None or article.generation != generation:
                continue
            u = article.units.get(unit)
            if u is not None and u.result is None and attempt == u.attempt:
                u.inflight = cid
                if not article.admitted:  # sent already: its worst case is reserved anyway
                    article.admitted = True
                    self.recorder.admit(article.item)

    def _check_running(self, entry: Entry) -> None:
        """A status the spec does not name is said once (and waited on); a batch still
        running ``deadline_s`` after its creation (``cancel_s`` after this run asked
        to cancel it) ends the run: the provider should have ended it, and waiting
        longer would be waiting forever."""
        if entry.status not in STATUSES and entry.batch_id not in self._odd:
            self._odd.add(str(entry.batch_id))
            _LOG.warning("summarizer: batch %s has the status %r, which the Batch API does not "
                         "name; waiting for it to end", entry.batch_id, entry.status)  # fmt: skip
        asked = self._asked.get(str(entry.batch_id))
        since = asked or entry.created_at or time.time()
        age = time.time() - since
        if asked is not None and age > self.limits.cancel_s:
            said = f"{age / 60:.0f} min after it was asked to cancel"
        elif asked is None and age > self.limits.deadline_s:
            said = f"{age / 3600:.0f} h after it was created, past its 24 h completion window"
        else:
            return
        raise ProviderError(
            f"batch {entry.batch_id} is still {entry.status!r} {said}: the provider has not "
            "ended it; --cancel cancels it (a run after that sends its requests again)",
            provider=self.api.backend.model,
        )

    def _update(self, entry: Entry, batch: dict[str, Any]) -> None:
        """Take in the provider's batch object, once it is known to be this entry's:
        ids that fit a file name and a request path (see ``manifest.ID``), and this
        entry's name in its metadata where the provider keeps metadata (a manifest
        edited or copied from another job points at another job's batch)."""
        for key in ("id", "input_file_id", "output_file_id", "error_file_id"):
            value = batch.get(key)
            if value is None and key != "id":
                continue
            if not (isinstance(value, str) and ID.fullmatch(value)):
                raise MalformedAnswerError(f"{self.api.where} answered with a batch whose {key} is "
                                           f"{value!r:.60}, which is not an id")  # fmt: skip
        metadata = batch.get("metadata")
        named = metadata.get(NAME_KEY) if isinstance(metadata, dict) else None
        if named is not None and named != entry.name:
            raise ConfigurationError(
                f"{self.manifest.path}: batch {batch['id']} is {named!r} at the provider, not "
                f"{entry.name!r}: the manifest was edited or copied from another job; move it "
                "away (or restore it) and run again"
            )
        entry.status = str(batch.get("status"))
        entry.output_file_id = batch.get("output_file_id") or entry.output_file_id
        entry.error_file_id = batch.get("error_file_id") or entry.error_file_id
        entry.request_counts = batch.get("request_counts") or entry.request_counts
        entry.created_at = _time(batch.get("created_at")) or entry.created_at
        for key in ("completed_at", "failed_at", "expired_at", "cancelled_at"):
            entry.finished_at = _time(batch.get(key)) or entry.finished_at
        errors = batch.get("errors")
        data = errors.get("data") if isinstance(errors, dict) else None
        found = [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
        entry.errors = [f"{e.get('code')}: {e.get('message')}" for e in found[:5]]

    def _publish(self) -> None:
        self.on_stats(self.stats)


def _needs(unit: Unit) -> bool:
    return unit.needs_request()


def _time(value: Any) -> int | None:
    """A Unix time from the provider, or None for anything else."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return int(value) if number and math.isfinite(value) else None
