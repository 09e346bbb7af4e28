"""The manifest beside the output, ``<out>.batches.json``: every remote batch of a job.

A Batch API job outlives the process that starts it (a batch may take 24 hours), so
everything needed to pick it up again is written down before it is needed:

* a batch is recorded as an **intent** (its name, round and requests) before its
  file is uploaded, then with its file id once uploaded, then with its batch id once
  created. The batch carries its name in its metadata (``summarizer_batch``) and the
  file in its filename, so a process killed between two steps leaves a rerun enough
  to find what exists (:meth:`BatchAPI.find_batch`, ``find_file``) instead of
  creating a batch twice;
* ``requests`` maps each ``custom_id`` back to its article: the custom id is a hash
  of the article id (ids are paths; the provider takes 64 characters of a limited
  alphabet), the generation, the call and the attempt;
* a finished batch's output and error files are kept in ``<out>.batches.files/``, so
  a rerun replays their answers without downloading them again;
* ``generations`` counts, per article, the times it ended in an error line: the
  answers of an earlier generation are not replayed, so running the same command
  again retries a failed article from its first request, as the live engine does.

The file is written whole (a temporary file renamed over it) at each change, under
the output's lock (:mod:`summarizer.batch.lock`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from summarizer.errors import ConfigurationError

VERSION = 1
#: Statuses after which a batch changes no more.
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
#: Every status the Batch API names.
STATUSES = TERMINAL | {"validating", "in_progress", "finalizing", "cancelling"}
#: Metadata key that names our batch at the provider.
NAME_KEY = "summarizer_batch"


#: What a provider's batch and file ids look like: they name kept files and go into
#: request paths, so one with a slash or a dot segment is refused, not used.
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}", re.ASCII)


def _check_ids(entry: Entry) -> None:
    for key in ("name", "batch_id", "input_file_id", "output_file_id", "error_file_id"):
        value = getattr(entry, key)
        if value is not None and not (isinstance(value, str) and ID.fullmatch(value)):
            raise ValueError(f"batch {entry.name!r:.80}: {key} {value!r:.80} is not an id")


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".batches.json")


def files_dir(out: Path) -> Path:
    return out.with_name(out.name + ".batches.files")


def custom_id(article_id: str, generation: int, unit: str, attempt: int, tries: int) -> str:
    """``<sha256(id)[:32]>-g<generation>-<call>-a<attempt>-t<try>``: at most 64
    characters of ``[A-Za-z0-9-]`` for any article id (see the module doc)."""
    digest = hashlib.sha256(article_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{digest}-g{generation}-{unit}-a{attempt}-t{tries}"


@dataclass
class Entry:
    """One remote batch, from intent to its downloaded results."""

    name: str
    round: int
    #: intent (file not known to be uploaded) -> uploaded -> created -> done (results kept)
    state: str
    #: Unix time just before the upload: where a lookup of its file and batch starts.
    since: float
    #: custom_id -> [article id, generation, call, attempt]
    requests: dict[str, list[Any]]
    lines: int = 0
    bytes: int = 0
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None  # the provider's
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: dict[str, int] | None = None
    errors: list[str] = field(default_factory=list)
    created_at: int | None = None
    finished_at: int | None = None
    cancel_requested: bool = False

    def took(self) -> float:
        """Seconds from creation to the end, the latency its answers are given."""
        if self.created_at and self.finished_at:
            return float(max(self.finished_at - self.created_at, 0))
        return 0.0


class Manifest:
    """``<out>.batches.json``: see the module doc. ``identity`` (model, endpoint,
    prompt, schema) must match the one it was made with: answers to another prompt's
    requests cannot be replayed as answers to this one's."""

    def __init__(self, out: Path, identity: dict[str, Any]) -> None:
        self.path = manifest_path(out)
        self.files = files_dir(out)
        self.identity = identity
        self.entries: list[Entry] = []
        self.generations: dict[str, int] = {}

    @classmethod
    def load(cls, out: Path, identity: dict[str, Any]) -> Manifest:
        manifest = cls(out, identity)
        try:
            data = json.loads(manifest.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return manifest
        except (OSError, ValueError) as e:
            raise ConfigurationError(
                f"{manifest.path}: not a readable batch manifest ({e}); it records remote "
                "batches, so it is not replaced: move it away to start afresh"
            ) from e
        try:
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
            manifest.entries = [Entry(**e) for e in data["batches"]]
            for entry in manifest.entries:
                _check_ids(entry)
                for cid, where in entry.requests.items():
                    item_id, generation, unit, attempt = where
                    if not (isinstance(item_id, str) and isinstance(unit, str)
                            and type(generation) is int and type(attempt) is int):  # fmt: skip
                        raise ValueError(f"batch {entry.name}: a request maps to {where!r}")
                    mine = custom_id(item_id, generation, unit, attempt, 0)[:-1]  # "...-t"
                    if not (cid.startswith(mine) and cid[len(mine) :].isdigit()):
                        raise ValueError(f"batch {entry.name}: {cid} is not the request of {where}")
            manifest.generations = {str(k): int(v) for k, v in data["generations"].items()}
            made_for = data["identity"]
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigurationError(f"{manifest.path}: not a valid batch manifest: {e}") from e
        changed = sorted(k for k in identity if made_for.get(k) != identity[k])
        if changed and manifest.entries:
            what = ", ".join(f"{k} {made_for.get(k)!r}" for k in changed)
            raise ConfigurationError(
                f"{manifest.path} was made with {what}: its batches' answers do not fit "
                "this run's requests; run with those settings, or choose another --out"
            )
        return manifest

    def save(self) -> None:
        data = {
            "version": VERSION,
            "engine": "openai-batch",
            "identity": self.identity,
            "generations": self.generations,
            "batches": [asdict(e) for e in self.entries],
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def kept(self, entry: Entry, kind: str) -> Path:
        """Where a batch's downloaded ``output`` or ``error`` file is kept."""
        return self.files / f"{entry.batch_id or entry.name}.{kind}.jsonl"

    def keep(self, entry: Entry, kind: str, data: bytes) -> None:
        self.files.mkdir(parents=True, exist_ok=True)
        path = self.kept(entry, kind)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def read_kept(self, entry: Entry, kind: str) -> bytes:
        path = self.kept(entry, kind)
        return path.read_bytes() if path.exists() else b""

    def next_round(self) -> int:
        return max((e.round for e in self.entries), default=0) + 1


def running(out: Path) -> int:
    """Remote batches of ``out``'s job still running, as its manifest last saw them."""
    try:
        data = json.loads(manifest_path(out).read_text(encoding="utf-8"))
        return sum(
            1
            for e in data["batches"]
            if e.get("state") in ("intent", "uploaded")
            or (e.get("state") == "created" and e.get("status") not in TERMINAL)
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0
