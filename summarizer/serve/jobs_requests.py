"""What ``POST /v1/jobs`` accepts: many articles in one body, options for all of them.

The body is a JSON list of articles, or JSONL (one article a line) when sent as
``Content-Type: application/x-ndjson`` (or ``application/jsonl``). An article is
what ``/v1/summaries`` takes for one, restricted to the article itself: exactly one
of ``text``, ``html`` or ``url``, an optional ``title``, and an optional ``id`` that
names its result line (by default its position, ``"1"`` for the first). How to
summarize (``model``, ``prompt``, ``language``, ``strict``) is the job's, given once
as query parameters: the engine runs one model and prompt per batch, and a job whose
articles asked for different ones would be several jobs in one.

Everything is checked before a job exists, so a job is never created half valid:
the body's size (``--max-job-body``) and its articles (``--max-job-articles``), each
article's schema and size (``--max-body``, the cap of one article anywhere), and
that ids are unique. What only reading an article can tell (empty text, a page with
no article, a URL that does not answer) is that article's error line, as in
``summarizer batch``. Messages never echo an article's text.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from summarizer.errors import InputTooLargeError
from summarizer.serve.errors import ServeError, invalid, malformed
from summarizer.serve.limits import json_values
from summarizer.serve.summaries import PROMPT_REF, SummaryRequest

JSONL_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines",
                         "application/jsonlines"})  # fmt: skip
_JOB_LEVEL = ("model", "prompt", "language", "strict")
# Printable ASCII, as header values are; long enough for a UUID or a hash.
IDEMPOTENCY_KEY = r"^[\x21-\x7e][\x20-\x7e]{0,254}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY)
_FIELDS = SummaryRequest.model_fields
#: JSON values (strings, separators, closing brackets) one valid article has at most:
#: a flat object of five fields, with room to spare (see ``parse_articles``).
VALUES_PER_ARTICLE = 32


class JobArticle(BaseModel):
    """One article of a job: exactly one of ``text``, ``html`` or ``url``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(
        None, min_length=1, max_length=256,
        description="Names the article's result line; default: its position (\"1\" for "
        "the first). Unique within the job.",
    )  # fmt: skip
    # The same fields as /v1/summaries's (descriptions and caps too).
    text: Annotated[str | None, _FIELDS["text"]] = None
    html: Annotated[str | None, _FIELDS["html"]] = None
    url: Annotated[str | None, _FIELDS["url"]] = None
    title: Annotated[str | None, _FIELDS["title"]] = None

    @model_validator(mode="after")
    def _one_article(self) -> JobArticle:
        given = [name for name in ("text", "html", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of text, html or url" + (f", not {given}" if given else "")
            )
        return self


class JobOptions(BaseModel):
    """How every article of a job is summarized (query parameters of ``POST /v1/jobs``)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, min_length=1, max_length=256,
                              description=_FIELDS["model"].description)  # fmt: skip
    prompt: str | None = Field(None, max_length=128, pattern=PROMPT_REF,
                               description=_FIELDS["prompt"].description)  # fmt: skip
    language: str | None = Field(None, min_length=1, max_length=64,
                                 description=_FIELDS["language"].description)  # fmt: skip
    strict: bool | None = Field(
        None, description="Unsupported items make the article's line an UngroundedError "
        "instead of being dropped.",
    )  # fmt: skip


def _described(errors: list[Any], where: str) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden" and loc in _JOB_LEVEL:
            parts.append(f"{loc} is the job's, not an article's: POST /v1/jobs?{loc}=...")
        else:
            parts.append(f"{loc or 'body'}: {err['msg']}")
    return f"{where}: " + "; ".join(parts)


def parse_options(query: list[tuple[str, str]]) -> JobOptions:
    """The job's options from the query string; 422 for an unknown, repeated or bad one."""
    given: dict[str, str] = {}
    for name, value in query:
        if name in given:
            raise invalid(f"query parameter {name} is given twice")
        given[name] = value
    try:
        return JobOptions.model_validate(given)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False)
        raise invalid(_described(errors, "query")) from None


def idempotency_key(value: str | None) -> str | None:
    if value is not None and not _IDEMPOTENCY_KEY.fullmatch(value):
        raise invalid("Idempotency-Key: 1 to 255 printable ASCII characters")
    return value


def too_large(message: str) -> ServeError:
    return ServeError(413, InputTooLargeError.__name__, message, InputTooLargeError.exit_code)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def body_too_large(cap: int) -> ServeError:
    return too_large(
        f"the job's body is over the {_size(cap)} cap (--max-job-body); split it into several jobs"
    )


def _too_many(cap: int) -> ServeError:
    return too_large(
        f"the job has more than {cap} articles (--max-job-articles); split it into several jobs"
    )


def _rows(raw: bytes, jsonl: bool, cap: int) -> list[tuple[str, Any]]:
    """(where, value) of each article in the body, parsed but not yet checked."""
    if not jsonl:
        try:
            value = pydantic_core.from_json(raw)
        except ValueError as e:
            raise malformed(
                f"the request body is not JSON ({e}); send a JSON list of articles, or one "
                "article a line with Content-Type: application/x-ndjson"
            ) from None
        if not isinstance(value, list):
            raise invalid(f"the body is a JSON list of articles, not a {type(value).__name__}")
        if len(value) > cap:
            raise _too_many(cap)
        return [(f"article {n}", row) for n, row in enumerate(value, 1)]
    rows: list[tuple[str, Any]] = []
    for n, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        if len(rows) == cap:
            raise _too_many(cap)
        try:
            rows.append((f"line {n}", pydantic_core.from_json(line)))
        except ValueError as e:
            raise malformed(f"line {n} of the body is not JSON ({e})") from None
    return rows


def is_jsonl(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in JSONL_TYPES


def parse_articles(
    raw: bytes, content_type: str, max_articles: int, max_article: int
) -> list[JobArticle]:
    """The body's articles, each with its id; see the module docstring for what is
    refused and how (400, 413, 422 in the one error shape).

    The body's JSON values are counted before it is parsed
    (:func:`~summarizer.serve.limits.json_values`): ``[{},{},...]`` parses into a
    Python object per three bytes, so a body within ``--max-job-body`` could take
    thirty times its size in memory before the article count is known."""
    most = VALUES_PER_ARTICLE * (max_articles + 1)
    if json_values(raw, most) > most:
        raise too_large(
            f"the body has more JSON values than {max_articles} articles can have "
            "(--max-job-articles; an article is a flat object of a few fields); split it "
            "into several jobs"
        )
    rows = _rows(raw, is_jsonl(content_type), max_articles)
    if not rows:
        raise invalid("no articles: a job needs at least one")
    articles: list[JobArticle] = []
    seen: dict[str, str] = {}
    for n, (where, row) in enumerate(rows, 1):
        try:
            article = JobArticle.model_validate(row)
        except ValidationError as e:
            errors = e.errors(include_url=False, include_input=False)
            raise invalid(_described(errors, where)) from None
        content = article.text if article.text is not None else article.html or ""
        if len(content.encode("utf-8", "surrogatepass")) > max_article:
            raise too_large(
                f"{where} is over the {_size(max_article)} cap of one article (--max-body)"
            )
        if article.id is None:
            article.id = str(n)
        if article.id in seen:
            raise invalid(
                f"{where}: id {article.id!r} is also {seen[article.id]}'s; ids name the "
                "result lines, so each must be unique"
            )
        seen[article.id] = where
        articles.append(article)
    return articles


def request_lines(articles: list[JobArticle]) -> list[str]:
    """The articles as the job keeps them (``request.jsonl``), one JSON a line."""
    return [
        json.dumps(article.model_dump(exclude_none=True), ensure_ascii=False)
        for article in articles
    ]


def fingerprint(raw: bytes, content_type: str, options: JobOptions) -> str:
    """What makes two requests "the same" for an Idempotency-Key: the body as sent,
    how it was sent, and the job's options."""
    kind = "jsonl" if is_jsonl(content_type) else "json"
    head = json.dumps([kind, options.model_dump()], sort_keys=True)
    return hashlib.sha256(head.encode() + b"\n" + raw).hexdigest()
