"""A fake OpenAI Files + Batches server, with compressed time and fault knobs.

It speaks the endpoints ``--engine openai-batch`` uses: ``POST /v1/files``
(multipart, ``purpose=batch``), ``GET /v1/files`` (list), ``GET /v1/files/{id}`` and
``/content``, ``POST /v1/batches``, ``GET /v1/batches`` (list, newest first, with
``after``), ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``, and ``POST
/v1/chat/completions`` for live requests. ``batches=False`` makes it a server without
them (404), as vLLM or Ollama are.

**Compressed time**: a batch moves one status further each time it is retrieved
(``validating`` -> ``in_progress`` -> ``finalizing`` -> ``completed``), so a client
polling with ``--poll 0`` sees a day pass in milliseconds. ``hold`` keeps batches in
progress (for tests that interrupt or cancel a run).

**Fault knobs**, by the batch's ordinal (1 for the first batch created):
``fail_validation`` (the batch fails at validation, no files), ``expire`` (it expires
with half its requests answered, the rest ``batch_expired`` in the error file),
``error_rate``/``error_batches`` (that share of its lines are 500s in the error file,
chosen by a seeded hash of the custom_id), ``duplicate`` (one output line twice), and
``forbid_download_once`` (the first file download is a 403), ``garbage`` (lines that
are not JSON, not objects, or name no request, and an answer that is not a chat
completion). Output lines are
shuffled unless ``shuffle`` is False. An input file whose ``custom_id``s repeat, whose
lines are not our envelope, or mix models, fails validation as OpenAI's would.

Every object it returns is kept in ``objects`` (schema name, object) and every batch
creation body in ``creations``, for the tests to check against OpenAI's spec; every
input line is kept in ``lines``.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakeserver import Reply, _Server, error_reply

Responder = Callable[[dict[str, Any]], dict[str, Any]]  # chat body -> completion JSON
STEPS = ("validating", "in_progress", "finalizing", "completed")


@dataclass
class Knobs:
    shuffle: bool = True
    error_rate: float = 0.0
    error_batches: set[int] | None = None  # None: every batch
    fail_validation: set[int] = field(default_factory=set)
    expire: set[int] = field(default_factory=set)
    duplicate: set[int] = field(default_factory=set)
    forbid_download_once: bool = False
    hold: bool = False
    garbage: set[int] = field(default_factory=set)  # hostile lines in the output file


class FakeBatchServer(_Server):
    keep_alive = False

    def __init__(self, responder: Responder, *, batches: bool = True, seed: int = 7) -> None:
        super().__init__()
        self.responder = responder
        self.batches_enabled = batches
        self.knobs = Knobs()
        self.rng = random.Random(seed)
        self.seed = seed
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []  # batch ids, oldest first
        self.objects: list[tuple[str, Any]] = []
        self.creations: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.chat_requests: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        self.counts: Counter[str] = Counter()
        self._now = int(time.time())

    # -- routing -------------------------------------------------------------------------

    async def respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(path)
        route = parts.path.rstrip("/").removeprefix("/v1").split("/")[1:]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.calls.append((method, parts.path))
        if route == ["chat", "completions"] and method == "POST":
            body = json.loads(raw)
            self.chat_requests.append(body)
            return Reply(body=self.responder(body))
        if not self.batches_enabled or route[:1] not in (["files"], ["batches"]):
            return error_reply(404, f"no route {method} {path}")
        if route == ["files"] and method == "POST":
            return self._upload(headers, raw)
        if route == ["files"] and method == "GET":
            return self._list("files", [self.files[k] for k in reversed(self.files)], query)
        if route[0] == "files" and len(route) == 2 and method == "GET":
            return self._found("OpenAIFile", self.files.get(route[1]))
        if route[0] == "files" and route[2:] == ["content"] and method == "GET":
            return self._content(route[1])
        if route == ["batches"] and method == "POST":
            return self._create(json.loads(raw))
        if route == ["batches"] and method == "GET":
            return self._list("batches", [self.batches[i] for i in reversed(self.order)], query)
        if route[0] == "batches" and len(route) == 2 and method == "GET":
            return self._found("Batch", self._advance(route[1]))
        if route[0] == "batches" and route[2:] == ["cancel"] and method == "POST":
            return self._found("Batch", self._cancel(route[1]))
        return error_reply(405, f"method not allowed: {method} {path}")

    def _found(self, schema: str, obj: dict[str, Any] | None) -> Reply:
        if obj is None:
            return error_reply(404, "no such object")
        self.objects.append((schema, json.loads(json.dumps(obj))))
        return Reply(body=obj)

    def _list(self, kind: str, items: list[dict[str, Any]], query: dict[str, str]) -> Reply:
        limit = int(query.get("limit", "20"))
        if "after" in query:
            ids = [i["id"] for i in items]
            items = items[ids.index(query["after"]) + 1 :] if query["after"] in ids else []
        page = items[:limit]
        body = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
        if kind == "files" and not page:
            body["first_id"] = body["last_id"] = ""
        elif not page:  # optional in a list of batches, and never null
            del body["first_id"], body["last_id"]
        schema = "ListFilesResponse" if kind == "files" else "ListBatchesResponse"
        self.objects.append((schema, json.loads(json.dumps(body))))
        return Reply(body=body)

    # -- files -----------------------------------------------------------------------------

    def _upload(self, headers: dict[str, str], raw: bytes) -> Reply:
        head = f"Content-Type: {headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        fields: dict[str, Any] = {}
        filename = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                filename = part.get_filename()
            fields[str(name)] = part.get_payload(decode=True)
        self.counts["uploads"] += 1
        if fields.get("purpose") != b"batch" or "file" not in fields:
            return error_reply(400, "purpose must be batch, with a file")
        self._now += 1
        file_id = f"file-{len(self.files) + 1:04d}"
        data = fields["file"]
        self.files[file_id] = {
            "id": file_id, "object": "file", "bytes": len(data), "created_at": self._now,
            "filename": filename or "upload.jsonl", "purpose": "batch", "status": "processed",
        }  # fmt: skip
        self.contents[file_id] = data
        return self._found("OpenAIFile", self.files[file_id])

    def _output_file(self, batch_id: str, kind: str, lines: list[dict[str, Any]]) -> str | None:
        if not lines:
            return None
        self._now += 1
        file_id = f"file-{len(self.files) + 1:04d}"
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        if kind == "output" and int(batch_id.rsplit("_", 1)[1]) in self.knobs.garbage:
            data += b"{not json\n[1, 2]\n"
        self.files[file_id] = {
            "id": file_id, "object": "file", "bytes": len(data), "created_at": self._now,
            "filename": f"{batch_id}_{kind}.jsonl", "purpose": "batch_output",
            "status": "processed",
        }  # fmt: skip
        self.contents[file_id] = data
        return file_id

    def _content(self, file_id: str) -> Reply:
        if file_id not in self.contents:
            return error_reply(404, "no such file")
        if self.knobs.forbid_download_once and not self.counts["forbidden"]:
            self.counts["forbidden"] += 1
            return error_reply(403, "not allowed, this once")
        self.counts["downloads"] += 1
        return Reply(body=self.contents[file_id].decode())

    # -- batches -----------------------------------------------------------------------------

    def _create(self, body: dict[str, Any]) -> Reply:
        self.creations.append(body)
        file_id = body.get("input_file_id")
        if file_id not in self.contents:
            return error_reply(400, "no such input file")
        self._now += 1
        batch_id = f"batch_{len(self.order) + 1:04d}"
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": body["endpoint"],
            "input_file_id": file_id, "completion_window": body["completion_window"],
            "status": "validating", "created_at": self._now, "metadata": body.get("metadata"),
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
        }  # fmt: skip
        self.order.append(batch_id)
        return self._found("Batch", self.batches[batch_id])

    def _advance(self, batch_id: str) -> dict[str, Any] | None:
        batch = self.batches.get(batch_id)
        if batch is None or batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return batch
        self._now += 60
        ordinal = self.order.index(batch_id) + 1
        if batch["status"] == "cancelling":
            self._end(batch, ordinal, "cancelled", answered=0.0)
        elif batch["status"] == "validating":
            problem = self._validate(batch)
            if problem or ordinal in self.knobs.fail_validation:
                code, message = problem or ("invalid_request", "injected validation failure")
                batch["status"], batch["failed_at"] = "failed", self._now
                batch["errors"] = {"object": "list", "data": [
                    {"code": code, "message": message, "param": None, "line": None}
                ]}  # fmt: skip
                self.counts["failed_validation_lines"] += len(self._requests(batch))
            else:
                batch["status"], batch["in_progress_at"] = "in_progress", self._now
                batch["request_counts"]["total"] = len(self._requests(batch))
        elif batch["status"] == "in_progress" and not self.knobs.hold:
            if ordinal in self.knobs.expire:
                self._end(batch, ordinal, "expired", answered=0.5)
            else:
                batch["status"], batch["finalizing_at"] = "finalizing", self._now
        elif batch["status"] == "finalizing":
            self._end(batch, ordinal, "completed", answered=1.0)
        return batch

    def _cancel(self, batch_id: str) -> dict[str, Any] | None:
        batch = self.batches.get(batch_id)
        if batch is not None and batch["status"] in ("validating", "in_progress", "finalizing"):
            self.counts["cancels"] += 1
            batch["status"], batch["cancelling_at"] = "cancelling", self._now
        return batch

    def _requests(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        data = self.contents[batch["input_file_id"]]
        return [json.loads(line) for line in data.splitlines() if line.strip()]

    def _validate(self, batch: dict[str, Any]) -> tuple[str, str] | None:
        try:
            rows = self._requests(batch)
        except ValueError:
            return "invalid_json_line", "a line is not JSON"
        self.lines += rows
        ids = [r.get("custom_id") for r in rows]
        if len(set(ids)) != len(ids):
            self.counts["duplicate_custom_ids_sent"] += 1
            return "duplicate_custom_id", "custom_id values must be unique"
        if any(r.get("method") != "POST" or r.get("url") != batch["endpoint"] for r in rows):
            return "invalid_url", "every line must POST to the batch's endpoint"
        if len({r.get("body", {}).get("model") for r in rows}) != 1:
            return "mixed_models", "every line must use the same model"
        if len(rows) > 50_000:
            return "too_many_requests", "at most 50,000 requests a batch"
        return None

    def _end(self, batch: dict[str, Any], ordinal: int, status: str, answered: float) -> None:
        rows = self._requests(batch)
        cut = int(len(rows) * answered)
        done, left = rows[:cut], rows[cut:]
        output, errors = [], []
        k = self.knobs
        erring = k.error_rate and (k.error_batches is None or ordinal in k.error_batches)
        for row in done:
            cid = row["custom_id"]
            base = {"id": f"batch_req_{cid}", "custom_id": cid}
            if erring and _share(f"{self.seed}:{cid}") < k.error_rate:
                self.counts["error_lines"] += 1
                errors.append({**base, "error": None, "response": {
                    "status_code": 500, "request_id": "req_x",
                    "body": {"error": {"message": "injected", "type": "server_error"}},
                }})  # fmt: skip
                continue
            self.counts["answered_lines"] += 1
            answer = self.responder(row["body"])
            output.append({**base, "error": None, "response": {
                "status_code": 200, "request_id": f"req_{cid}", "body": answer,
            }})  # fmt: skip
        for row in left:
            if status == "expired":
                self.counts["expired_lines"] += 1
                expired = {"code": "batch_expired", "message": "expired"}
                errors.append({"id": f"batch_req_{row['custom_id']}",
                               "custom_id": row["custom_id"], "response": None,
                               "error": expired})  # fmt: skip
            else:
                self.counts["cancelled_lines"] += 1
        if ordinal in k.garbage and output:  # 3 lines to skip, 1 answer that is not one
            self.counts["garbage_lines"] += 3
            output[0]["response"]["body"] = {"choices": [], "error": {"message": "<html>"}}
            output += [{"id": "x", "custom_id": "not-ours", "response": None, "error": None}]
        if ordinal in k.duplicate and output:
            self.counts["duplicates_injected"] += 1
            output.append(output[0])
        if k.shuffle:
            self.rng.shuffle(output)
            self.rng.shuffle(errors)
        batch["status"] = status
        batch[{"completed": "completed_at", "expired": "expired_at",
               "cancelled": "cancelled_at"}[status]] = self._now  # fmt: skip
        batch["request_counts"] = {"total": len(rows), "completed": len(output),
                                   "failed": len(errors)}  # fmt: skip
        if out := self._output_file(batch["id"], "output", output):
            batch["output_file_id"] = out
        if err := self._output_file(batch["id"], "error", errors):
            batch["error_file_id"] = err


def _share(key: str) -> float:
    """A stable number in [0, 1) for ``key``."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
