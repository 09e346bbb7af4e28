"""Render a summary for people (markdown, plain text) or programs (JSON, the contract)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

from summarizer.contract.models import ArticleSummary, Evidence

Format = Literal["json", "markdown", "text"]


def to_json(summary: ArticleSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"), indent=2, ensure_ascii=False)


def _quotes(evidence: list[Evidence], bullet: str) -> list[str]:
    return [
        f'{bullet}"{ev.quote}"' + (f" [{ev.start}:{ev.end}]" if ev.start is not None else "")
        for ev in evidence
    ]


def to_markdown(summary: ArticleSummary) -> str:
    ks = summary.key_summary
    lines = [f"# {ks.headline}", "", ks.summary, "", "## Key points", ""]
    for kp in ks.key_points:
        lines.append(f"- {kp.text}")
        lines.extend(_quotes(kp.evidence, "  > "))
    lines += ["", "## Actors", ""]
    for a in summary.actors:
        details = ", ".join(x for x in (a.kind, a.role, a.affiliation) if x)
        aliases = f" (also: {', '.join(a.aliases)})" if a.aliases else ""
        lines.append(f"- **{a.name}** — {details}{aliases}")
    lines += ["", "## Commitments", ""]
    if not summary.commitments:
        lines.append("_None found._")
    for c in summary.commitments:
        extra: list[str] = [c.kind, c.certainty]
        if c.counterparty:
            extra.append(f"with {c.counterparty}")
        if c.deadline:
            extra.append(f"by {c.deadline}")
        lines.append(f"- **{c.actor}** {c.action} ({', '.join(extra)})")
        lines.extend(_quotes(c.evidence, "  > "))
    lines += ["", "## Open questions", ""]
    if not summary.open_questions:
        lines.append("_None found._")
    for q in summary.open_questions:
        lines.append(f"- {q.question}" + (f" — {q.why_open}" if q.why_open else ""))
        lines.extend(_quotes(q.evidence, "  > "))
    meta = summary.meta
    if meta:
        prompt = meta.get("prompt", {})
        lines += [
            "",
            "---",
            f"_{meta.get('model', '?')} · prompt {prompt.get('name', '?')}@"
            f"{prompt.get('version', '?')} · schema v{summary.schema_version}_",
        ]
    return "\n".join(lines) + "\n"


def to_text(summary: ArticleSummary) -> str:
    ks = summary.key_summary
    lines = [ks.headline.upper(), "", ks.summary, "", "KEY POINTS"]
    lines += [f"  * {kp.text}" for kp in ks.key_points]
    lines += ["", "ACTORS"]
    lines += [f"  * {a.name} ({a.role or a.kind})" for a in summary.actors]
    lines += ["", "COMMITMENTS"]
    lines += [
        f"  * {c.actor}: {c.action} [{c.certainty}]"
        + (f" (deadline: {c.deadline})" if c.deadline else "")
        for c in summary.commitments
    ] or ["  (none)"]
    lines += ["", "OPEN QUESTIONS"]
    lines += [f"  * {q.question}" for q in summary.open_questions] or ["  (none)"]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[ArticleSummary], str]] = {
    "json": to_json,
    "markdown": to_markdown,
    "text": to_text,
}


def render(summary: ArticleSummary, fmt: Format = "json") -> str:
    return RENDERERS[fmt](summary)
