"""Render a summary for people (markdown, plain text) or programs (JSON, the contract).

Everything in a summary comes from the article or the model, so none of it is trusted
as markup:

* markdown: ``&``, ``<`` and ``>`` become entities everywhere (a quote or a
  model-written field with ``<img src=x onerror=...>`` shows as text; quotation marks
  stay as they are, so quotes read as quotes), a backtick or a ``](`` cannot start a
  code span or a link, and a line cannot start a heading or a list. Quotes spanning
  line breaks are blockquotes with every line marked; the other fields are one line.
* text: no markup, but a terminal obeys control characters (``ESC [``...), so every
  field is one line and control characters are shown as ``\\xNN``.
* JSON escapes what it must by itself.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Literal

from summarizer.contract.models import ArticleSummary, Evidence

Format = Literal["json", "markdown", "text"]


def to_json(summary: ArticleSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"), indent=2, ensure_ascii=False)


# Control characters but tab and line feed: C0, DEL and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What makes a line a heading, list item, blockquote, table or setext underline.
_BLOCK_START = re.compile(r"\d{1,9}(?=[.)])|(?=[#>+*=|-])")


def _visible(text: str) -> str:
    """Control characters as ``\\xNN``: shown, not obeyed by a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _one_line(text: str) -> str:
    """Whitespace runs, line breaks among them, as one space."""
    return " ".join(text.split())


def _md(text: str) -> str:
    """Text as markdown shows it verbatim: no HTML, code span or link can start in it."""
    text = html.escape(_visible(text.replace("\\", "\\\\")), quote=False)
    return text.replace("`", "\\`").replace("](", "\\](")


def _md_line(text: str) -> str:
    """One line of text, also unable to start a markdown block (heading, list...)."""
    line = _md(text).lstrip()
    start = _BLOCK_START.match(line)
    return line if start is None else f"{start.group()}\\{line[start.end() :]}"


def _md_inline(text: str) -> str:
    """A field on one line, e.g. inside a list item or a heading."""
    return _md_line(_one_line(text))


def _quotes(evidence: list[Evidence], indent: str) -> list[str]:
    """Each quote as a blockquote under its item, one ``>`` per line of the quote."""
    lines: list[str] = []
    for ev in evidence:
        where = f" [{ev.start}:{ev.end}]" if ev.start is not None else ""
        parts = [_md_line(line) for line in f'"{ev.quote}"'.splitlines()]
        parts[-1] += where
        lines.extend(f"{indent}> {part}" if part else f"{indent}>" for part in parts)
    return lines


def to_markdown(summary: ArticleSummary) -> str:
    ks = summary.key_summary
    md = _md_inline
    lines = [f"# {md(ks.headline)}", "", md(ks.summary), "", "## Key points", ""]
    for kp in ks.key_points:
        lines.append(f"- {md(kp.text)}")
        lines.extend(_quotes(kp.evidence, "  "))
    lines += ["", "## Actors", ""]
    for a in summary.actors:
        details = ", ".join(md(x) for x in (a.kind, a.role, a.affiliation) if x)
        aliases = f" (also: {', '.join(md(x) for x in a.aliases)})" if a.aliases else ""
        lines.append(f"- **{md(a.name)}** — {details}{aliases}")
    lines += ["", "## Commitments", ""]
    if not summary.commitments:
        lines.append("_None found._")
    for c in summary.commitments:
        extra: list[str] = [c.kind, c.certainty]
        if c.counterparty:
            extra.append(f"with {md(c.counterparty)}")
        if c.deadline:
            extra.append(f"by {md(c.deadline)}")
        lines.append(f"- **{md(c.actor)}** {md(c.action)} ({', '.join(extra)})")
        lines.extend(_quotes(c.evidence, "  "))
    lines += ["", "## Open questions", ""]
    if not summary.open_questions:
        lines.append("_None found._")
    for q in summary.open_questions:
        lines.append(f"- {md(q.question)}" + (f" — {md(q.why_open)}" if q.why_open else ""))
        lines.extend(_quotes(q.evidence, "  "))
    meta = summary.meta
    if meta:
        prompt = meta.get("prompt", {})
        lines += [
            "",
            "---",
            f"_{md(str(meta.get('model', '?')))} · prompt {md(str(prompt.get('name', '?')))}@"
            f"{md(str(prompt.get('version', '?')))} · schema v{summary.schema_version}_",
        ]
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    """A field for the text format: one line, control characters shown, not obeyed."""
    return _visible(_one_line(text))


def to_text(summary: ArticleSummary) -> str:
    ks = summary.key_summary
    t = _plain
    lines = [_visible(_one_line(ks.headline).upper()), "", t(ks.summary), "", "KEY POINTS"]
    lines += [f"  * {t(kp.text)}" for kp in ks.key_points]
    lines += ["", "ACTORS"]
    lines += [f"  * {t(a.name)} ({t(a.role or a.kind)})" for a in summary.actors]
    lines += ["", "COMMITMENTS"]
    lines += [
        f"  * {t(c.actor)}: {t(c.action)} [{c.certainty}]"
        + (f" (deadline: {t(c.deadline)})" if c.deadline else "")
        for c in summary.commitments
    ] or ["  (none)"]
    lines += ["", "OPEN QUESTIONS"]
    lines += [f"  * {t(q.question)}" for q in summary.open_questions] or ["  (none)"]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[ArticleSummary], str]] = {
    "json": to_json,
    "markdown": to_markdown,
    "text": to_text,
}


def render(summary: ArticleSummary, fmt: Format = "json") -> str:
    return RENDERERS[fmt](summary)
