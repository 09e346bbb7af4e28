"""Render a summary for people (markdown, plain text) or programs (JSON, the contract).

Everything in a summary comes from the article or the model, so none of it is trusted
as markup:

* markdown: ``&``, ``<`` and ``>`` become entities everywhere (a quote or a
  model-written field with ``<img src=x onerror=...>`` shows as text; quotation marks
  stay as they are, so quotes read as quotes); backticks, ``*``, ``_``, ``~``, ``|``,
  ``[`` and ``]`` are backslash-escaped, so no code span, emphasis, strikethrough,
  table or link can start; and no line can start a heading, list, fence or setext
  underline. Quotes spanning line breaks are blockquotes with every line marked
  (a blank line in a quote stays inside it); the other fields are one line.
* text: no markup, but a terminal obeys control characters (``ESC [``...), so every
  field is one line, quotes are indented with every line marked, and control
  characters are shown as ``\\xNN``.
* JSON escapes what it must by itself.

Both formats for people end with notes on what a reader of the contract would find
only in ``meta``: the contract's warnings, the items grounding dropped and the ones it
kept though their quotes do not say all they say. Without those a reader takes a
summary missing a commitment for a complete one.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from summarizer.contract.models import ArticleSummary, Evidence

Format = Literal["json", "markdown", "text"]


def to_json(summary: ArticleSummary) -> str:
    return json.dumps(summary.model_dump(mode="json"), indent=2, ensure_ascii=False)


# Control characters but tab and line feed: C0, DEL and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# CommonMark's line endings, the only ones that start a new markdown line.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Inline markup: code spans, emphasis, strikethrough, table cells, links.
_INLINE = re.compile(r"([`*_~|\[\]])")
# What makes a line a heading, list item, setext underline or table delimiter row (a
# blockquote's ``>`` is an entity by then; ``*``, ``|``, ``~`` and backticks escaped).
_BLOCK_START = re.compile(r"\d{1,9}(?=[.)])|(?=[#+=:-])")


def _visible(text: str) -> str:
    """Control characters as ``\\xNN``: shown, not obeyed by a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _one_line(text: str) -> str:
    """Whitespace runs, line breaks among them, as one space."""
    return " ".join(text.split())


def _md(text: str) -> str:
    """Text as markdown shows it verbatim: no HTML, code span, emphasis or link in it."""
    text = html.escape(_visible(text.replace("\\", "\\\\")), quote=False)
    return _INLINE.sub(r"\\\1", text)


def _md_line(text: str) -> str:
    """One line of text, also unable to start a markdown block (heading, list...).

    Trailing spaces go too: two of them would be a hard line break.
    """
    line = _md(text).strip()
    start = _BLOCK_START.match(line)
    return line if start is None else f"{start.group()}\\{line[start.end() :]}"


def _md_inline(text: str) -> str:
    """A field on one line, e.g. inside a list item or a heading."""
    return _md_line(_one_line(text))


def _quote_lines(ev: Evidence, line: Callable[[str], str]) -> list[str]:
    """The quote in quotation marks, one entry per line of the article it spans, the
    last with its offsets; ``line`` makes each line safe for the format."""
    parts = [line(part) for part in _LINE_BREAK.split(f'"{ev.quote}"')]
    if ev.start is not None:
        parts[-1] += f" [{ev.start}:{ev.end}]"
    return parts


def _md_quotes(evidence: list[Evidence], indent: str) -> list[str]:
    """An item's quotes as one blockquote under it, one ``>`` per line of a quote.

    Quotes are set apart by a bare ``>``: lines that follow each other are one
    paragraph, and a blank line between two blockquotes would make the list loose.
    """
    lines: list[str] = []
    for i, ev in enumerate(evidence):
        if i:
            lines.append(f"{indent}>")
        parts = _quote_lines(ev, _md_line)
        lines.extend(f"{indent}> {part}" if part else f"{indent}>" for part in parts)
    return lines


class Note(NamedTuple):
    """One closing note: a kind (``Warning``...), what it is about, and why."""

    kind: str
    about: str
    detail: str | None = None


_SECTIONS = {
    "key_summary.key_points": "key points",
    "key_summary.headline": "the headline",
    "actors": "actors",
    "commitments": "commitments",
    "open_questions": "open questions",
}


def _list(value: Any) -> list[Any]:
    """``meta`` is free-form (a file may carry anything): a list, or nothing."""
    return value if isinstance(value, list) else []


def notes(meta: dict[str, Any]) -> list[Note]:
    """What ``meta`` says a reader should know: warnings, dropped, unsupported items.

    An item its quotes contradict is dropped and also listed as unsupported; it is
    noted once, as dropped, so the unsupported notes are the items that were kept.
    """
    grounding = meta.get("grounding")
    grounding = grounding if isinstance(grounding, dict) else {}
    supported = grounding.get("supported")
    supported = supported if isinstance(supported, dict) else {}
    out = [Note("Warning", str(w)) for w in _list(meta.get("warnings"))]
    dropped_for: list[tuple[str, str]] = []
    for d in _list(grounding.get("dropped")):
        if not isinstance(d, dict):
            out.append(Note("Dropped", str(d)))
            continue
        section = str(d.get("section", "?"))
        reason = str(d.get("reason", "")) or None
        dropped_for.append((section, reason or ""))
        item = d.get("item", d.get("text", "?"))
        out.append(Note(f"Dropped from {_SECTIONS.get(section, section)}", str(item), reason))
    for entry in _list(supported.get("unsupported")):
        path, _, words = str(entry).partition(": ")
        section = path.split("[", 1)[0]
        reason = f"unsupported: {words} not in its quotes"
        if (section, reason) in dropped_for:
            dropped_for.remove((section, reason))
            continue
        # (only a path with an index says which item: the index is the answer's own,
        # before any drop, so it is shown as a path, not as "the 3rd key point")
        kept_in = _SECTIONS.get(section, section)
        out.append(
            Note(
                f"Kept in {kept_in}, not in its quotes", words or "?", path if "[" in path else None
            )
        )
    return out


def _md_notes(meta: dict[str, Any]) -> list[str]:
    found = notes(meta)
    if not found:
        return []
    lines = ["", "## Notes", ""]
    for n in found:
        detail = f" — {_md_inline(n.detail)}" if n.detail else ""
        lines.append(f"- {_md_inline(n.kind)}: {_md_inline(n.about)}{detail}")
    return lines


def to_markdown(summary: ArticleSummary) -> str:
    ks = summary.key_summary
    md = _md_inline
    # (a heading's trailing " #" would be taken for its closing sequence and hidden)
    headline = re.sub(r"#$", r"\\#", md(ks.headline))
    lines = [f"# {headline}", "", md(ks.summary), "", "## Key points", ""]
    for kp in ks.key_points:
        lines.append(f"- {md(kp.text)}")
        lines.extend(_md_quotes(kp.evidence, "  "))
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
            extra.append(f"deadline: {md(c.deadline)}")
        lines.append(f"- **{md(c.actor)}** {md(c.action)} ({', '.join(extra)})")
        lines.extend(_md_quotes(c.evidence, "  "))
    lines += ["", "## Open questions", ""]
    if not summary.open_questions:
        lines.append("_None found._")
    for q in summary.open_questions:
        lines.append(f"- {md(q.question)}" + (f" — {md(q.why_open)}" if q.why_open else ""))
        lines.extend(_md_quotes(q.evidence, "  "))
    meta = summary.meta
    lines += _md_notes(meta)
    if meta:
        made = [md(str(meta.get("model", "?")))]
        prompt = meta.get("prompt")
        if isinstance(prompt, dict):
            made.append(
                f"prompt {md(str(prompt.get('name', '?')))}@{md(str(prompt.get('version', '?')))}"
            )
        made.append(f"schema v{summary.schema_version}")
        lines += ["", "---", f"_{' · '.join(made)}_"]
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    """A field for the text format: one line, control characters shown, not obeyed."""
    return _visible(_one_line(text))


def _text_quotes(evidence: list[Evidence], indent: str) -> list[str]:
    """Each quote under its item, every line of it marked, so where it ends is clear."""
    lines: list[str] = []
    for ev in evidence:
        parts = _quote_lines(ev, lambda s: _visible(s.strip()))
        lines.extend(f"{indent}> {part}" if part else f"{indent}>" for part in parts)
    return lines


def to_text(summary: ArticleSummary) -> str:
    ks = summary.key_summary
    t = _plain
    q_indent = "    "
    lines = [_visible(_one_line(ks.headline).upper()), "", t(ks.summary), "", "KEY POINTS"]
    for kp in ks.key_points:
        lines.append(f"  * {t(kp.text)}")
        lines += _text_quotes(kp.evidence, q_indent)
    lines += ["", "ACTORS"]
    lines += [f"  * {t(a.name)} ({t(a.role or a.kind)})" for a in summary.actors]
    lines += ["", "COMMITMENTS"]
    for c in summary.commitments:
        deadline = f" (deadline: {t(c.deadline)})" if c.deadline else ""
        lines.append(f"  * {t(c.actor)}: {t(c.action)} [{c.certainty}]{deadline}")
        lines += _text_quotes(c.evidence, q_indent)
    if not summary.commitments:
        lines.append("  (none)")
    lines += ["", "OPEN QUESTIONS"]
    for q in summary.open_questions:
        lines.append(f"  * {t(q.question)}" + (f" ({t(q.why_open)})" if q.why_open else ""))
        lines += _text_quotes(q.evidence, q_indent)
    if not summary.open_questions:
        lines.append("  (none)")
    found = notes(summary.meta)
    if found:
        lines += ["", "NOTES"]
    for n in found:
        detail = f" ({t(n.detail)})" if n.detail else ""
        lines.append(f"  * {t(n.kind)}: {t(n.about)}{detail}")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[ArticleSummary], str]] = {
    "json": to_json,
    "markdown": to_markdown,
    "text": to_text,
}


def render(summary: ArticleSummary, fmt: Format = "json") -> str:
    return RENDERERS[fmt](summary)
