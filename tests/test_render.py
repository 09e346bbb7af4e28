"""Markdown and text renderings: quotes over several lines, hostile article text, notes.

Markdown is checked twice: line by line (every line of a quote carries its ``>``), and
by parsing it with markdown-it (CommonMark plus GFM tables and strikethrough, which
rich already depends on): each quote must come back as one blockquote under its item
whose only content is the quote's text.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from summarizer.contract import ArticleSummary, contract_warnings
from summarizer.contract.models import Evidence
from summarizer.contract.render import render, to_markdown, to_text
from summarizer.grounding import Grounder
from tests.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "trump-putin-call.txt"

# Each line would be markdown structure if it reached the output as it is.
HOSTILE = (
    "The council met on Monday to discuss the bridge.\n"
    "# Not a heading, said the clerk\n"
    "- not a list item either\n"
    "1. nor a numbered one | with a pipe | and `code` and *stars* and _under_ ~~struck~~\n"
    ":--- | ---:\n"
    "<script>alert(1)</script> was painted on the wall & <b>nobody</b> saw it.\n"
    "\n"
    "[x]: http://evil.example/ref\n"
    "\r\n"
    "See [the plan](http://evil.example/plan) and ![img](http://evil.example/i.png).\n"
    "---\n"
    "===\n"
    "~~~\n"
    "```\n"
    "> nested quote\n"
    "        indented code?   \n"
    "+ plus item\\\n"
    "2) paren item &amp; entity &copy;\n"
    "The mayor said the bridge would be rebuilt by May.\n"
)
QUOTE_START = HOSTILE.index("# Not")
QUOTE_END = HOSTILE.index("The mayor") - 1  # the quote ends with "paren item ... &copy;"
BIG_QUOTE = HOSTILE[QUOTE_START:QUOTE_END]

GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _ev(quote: str, text: str = HOSTILE) -> Evidence:
    start = text.index(quote)
    return Evidence(quote=quote, start=start, end=start + len(quote), alignment="exact")


def _hostile_summary(meta: dict[str, Any] | None = None) -> ArticleSummary:
    # a paragraph break inside, then what would be a link reference definition
    blank_quote = HOSTILE[HOSTILE.index("<script>") : HOSTILE.index("/ref") + 4]
    summary = ArticleSummary.model_validate(
        {
            "key_summary": {
                "headline": "Council #1 talks bridge #",
                "summary": "The council met. The mayor spoke.",
                "key_points": [
                    {"text": "# A key point | with `markup` *in* it", "evidence": []},
                    {"text": "1. The mayor spoke.", "evidence": []},
                ],
            },
            "actors": [{"name": "**The mayor**", "kind": "person", "role": "[x](http://y)"}],
            "commitments": [
                {
                    "actor": "**The mayor**",
                    "action": "rebuild the bridge",
                    "kind": "pledge",
                    "certainty": "firm",
                    "deadline": "May",
                    "evidence": [],
                }
            ],
            "open_questions": [
                {"question": "- Who painted it?", "why_open": "> nobody saw", "evidence": []}
            ],
            "meta": meta or {},
        }
    )
    ks = summary.key_summary
    ks.key_points[0].evidence = [_ev(BIG_QUOTE)]
    ks.key_points[1].evidence = [_ev("The mayor said the bridge"), _ev(blank_quote)]
    summary.commitments[0].evidence = [_ev("- not a list item either\n1. nor a numbered one")]
    summary.open_questions[0].evidence = [_ev(blank_quote)]
    return summary


def _expected(ev: Evidence) -> str:
    """What a reader sees of a quote: its lines (stripped), blank lines as paragraph
    breaks, in quotation marks, with its offsets."""
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", f'"{ev.quote}"')]
    paragraphs = "\n".join(lines).split("\n\n")
    text = "\n\n".join(p.strip("\n") for p in paragraphs if p.strip("\n"))
    return f"{text} [{ev.start}:{ev.end}]"


def _inline_text(token: Token, allowed: tuple[str, ...] = ()) -> str:
    """An inline token's text; anything but text and soft breaks (and ``allowed``, the
    renderer's own markup) is markup that leaked."""
    out = []
    for child in token.children or []:
        if child.type in allowed:
            continue
        assert child.type in ("text", "softbreak"), (child.type, token.content)
        out.append(child.content if child.type == "text" else "\n")
    return "".join(out)


def _blockquotes(tokens: list[Token]) -> list[str]:
    """Each blockquote's text (paragraphs joined by a blank line); each must sit in a
    list item and hold paragraphs only. An item's quotes are one blockquote."""
    found: list[str] = []
    stack: list[str] = []
    current: list[str] | None = None
    for tok in tokens:
        if tok.type == "blockquote_open":
            assert stack, "a quote outside any item"
            assert stack[-1] == "list_item_open", "a quote outside its item"
            assert current is None, "a blockquote inside a blockquote"
            current = []
        elif tok.type == "blockquote_close":
            assert current is not None
            found.append("\n\n".join(current))
            current = None
        elif current is not None:
            assert tok.type in ("paragraph_open", "paragraph_close", "inline"), tok.type
            if tok.type == "inline":
                current.append(_inline_text(tok))
        if tok.nesting == 1:
            stack.append(tok.type)
        elif tok.nesting == -1:
            stack.pop()
    return found


def _items(summary: ArticleSummary) -> list[list[Evidence]]:
    """The evidence of each item that shows quotes: key points, commitments, questions."""
    groups = [
        [kp.evidence for kp in summary.key_summary.key_points],
        [c.evidence for c in summary.commitments],
        [q.evidence for q in summary.open_questions],
    ]
    return [evidence for group in groups for evidence in group if evidence]


def _quote_evidence(summary: ArticleSummary) -> list[Evidence]:
    return [ev for evidence in _items(summary) for ev in evidence]


def _expected_blockquotes(summary: ArticleSummary) -> list[str]:
    return ["\n\n".join(_expected(ev) for ev in evidence) for evidence in _items(summary)]


_OFFSETS = re.compile(r" \[\d+:\d+\]$")


def _check_lines(out: str, summary: ArticleSummary, item: str, quote: str) -> None:
    """Line by line: each quote is as many lines as it spans in the article, each
    starting with the quote marker (``quote``), the last with its offsets, right after
    its item's line or the item's previous quote (in markdown, a bare marker apart)."""
    lines = out.splitlines()
    pos = 0
    for ev in _quote_evidence(summary):
        end = next(
            i for i in range(pos, len(lines)) if lines[i].endswith(f" [{ev.start}:{ev.end}]")
        )
        start = end - len(re.split(r"\r\n|\r|\n", ev.quote)) + 1
        assert all(line.startswith(quote) for line in lines[start : end + 1]), ev.quote
        assert lines[start].startswith(f'{quote} "'), lines[start]
        before = lines[start - 1]
        if before == quote:
            before = lines[start - 2]
        assert before.startswith(item) or _OFFSETS.search(before), before
        pos = end + 1


def test_markdown_quotes_over_hostile_lines_stay_inside_their_blockquote() -> None:
    summary = _hostile_summary()
    out = to_markdown(summary)
    _check_lines(out, summary, "- ", "  >")
    # the blank line inside a quote is a bare ">" inside it, not a blank line
    blank = out.index('  > "&lt;script&gt;')
    assert out[blank:].split("\n")[1] == "  >"
    quoted = _blockquotes(GFM.parse(out))
    assert quoted == _expected_blockquotes(summary)
    html = GFM.render(out)
    for tag in ("<script", "<b>", "<a ", "<img", "<table", "<pre", "<code", "<em", "<s>", "<ol"):
        assert tag not in html, tag
    assert html.count("<h1>") == 1
    assert html.count("<h2>") == 4  # key points, actors, commitments, open questions
    assert html.count("<hr") == 0  # no meta, no footer
    assert html.count("<ul>") == 4
    assert html.count("<li>") == 5
    assert "&amp;amp; entity &amp;copy;" in html  # entities in the article stay text


def test_markdown_fields_with_markup_render_as_their_own_text() -> None:
    summary = _hostile_summary()
    tokens = GFM.parse(to_markdown(summary))
    bold = ("strong_open", "strong_close")  # the actors' and commitments' names
    inline = [_inline_text(t, bold) for t in tokens if t.type == "inline"]
    assert inline[0] == "Council #1 talks bridge #"  # the trailing " #" kept
    assert "# A key point | with `markup` *in* it" in inline
    assert "1. The mayor spoke." in inline
    assert "- Who painted it? — > nobody saw" in inline
    assert "**The mayor** — person, [x](http://y)" in inline
    assert "**The mayor** rebuild the bridge (pledge, firm, deadline: May)" in inline


def test_markdown_of_a_real_summary_keeps_quotes_over_line_breaks(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """The seed article breaks lines mid-sentence; a quote across one is located and
    replaced by the article's own span, line break included."""
    kp = seed_summary["key_summary"]["key_points"][0]
    kp["text"] = "Trump announced the call on Truth Social."
    kp["evidence"] = [{"quote": "Trump announced in a Feb. 12 post on Truth Social"}]
    summary = ArticleSummary.model_validate(seed_summary)
    Grounder(seed_text, policy="drop").apply(summary)
    ev = summary.key_summary.key_points[0].evidence[0]
    assert ev.quote == "Trump announced in a Feb. 12\npost on Truth Social"
    out = render(summary, "markdown")
    assert f'  > "Trump announced in a Feb. 12\n  > post on Truth Social" [{ev.start}:' in out
    _check_lines(out, summary, "- ", "  >")
    assert _blockquotes(GFM.parse(out)) == _expected_blockquotes(summary)


def test_cli_markdown_of_the_seed_article() -> None:
    proc = run_cli("summarize", str(SEED), "--format", "markdown")
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    tokens = GFM.parse(out)
    quotes = _blockquotes(tokens)
    assert len(quotes) >= 5
    multi = [q for q in quotes if "\n" in q]
    assert multi, "the seed article has quotes across line breaks"
    for q in multi:
        assert q.split("\n")[-1].endswith("]")
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  >") and not re.search(r" \[\d+:\d+\]$", line):
            assert lines[i + 1].startswith("  >"), "a quote ended before its offsets"
    assert out.rstrip().endswith("_rules · schema v1_")  # no prompt: the rules read none
    assert "## Notes" not in out


def test_text_quotes_are_indented_with_every_line_marked() -> None:
    summary = _hostile_summary()
    out = to_text(summary)
    _check_lines(out, summary, "  * ", "    >")
    lines = out.splitlines()
    start = lines.index('    > "# Not a heading, said the clerk')
    assert lines[start - 1] == "  * # A key point | with `markup` *in* it"
    expected = [line.strip() for line in re.split(r"\r\n|\r|\n", f'"{BIG_QUOTE}"')]
    expected[-1] += f" [{QUOTE_START}:{QUOTE_END}]"
    shown = lines[start : start + len(expected)]
    assert [line.removeprefix("    >").removeprefix(" ") for line in shown] == expected
    assert "    >" in shown  # the blank line (CRLF) inside the quote
    assert "    > indented code?" in shown  # indentation is no code block, trailing spaces go
    assert "  * - Who painted it? (> nobody saw)" in lines
    assert "  * **The mayor**: rebuild the bridge [firm] (deadline: May)" in lines


def test_text_quotes_show_control_characters() -> None:
    text = "Alpha beta gamma\x1b[2J delta\r\nepsilon \x07zeta eta theta."
    quote = text[:-1]
    summary = ArticleSummary.model_validate(
        {"key_summary": {"headline": "H", "summary": "S.", "key_points": [{"text": "Alpha."}]}}
    )
    summary.key_summary.key_points[0].evidence = [_ev(quote, text)]
    out = to_text(summary)
    assert not re.search(r"[\x1b\x07\r]", out)
    assert '    > "Alpha beta gamma\\x1b[2J delta\n    > epsilon \\x07zeta eta theta" [0:' in out
    md = to_markdown(summary)
    assert not re.search(r"[\x1b\x07\r]", md)
    assert '  > "Alpha beta gamma\\x1b\\[2J delta\n  > epsilon \\x07zeta eta theta" [0:' in md


def _grounded_with_notes(seed_text: str, seed_summary: dict[str, Any]) -> ArticleSummary:
    """The seed summary with an item whose quote is not in the article, one whose quote
    contradicts it (a number it lacks), and a headline with such a number (kept)."""
    data = copy.deepcopy(seed_summary)
    data["key_summary"]["headline"] = "Trump says 99 officials back Ukraine peace talks"
    data["key_summary"]["key_points"].append(
        {"text": "Moscow | denied `it`.", "evidence": [{"quote": "The Kremlin denied it all."}]}
    )
    data["commitments"].append(
        {
            "actor": "Trump",
            "action": "meet Putin 77 times",
            "kind": "plan",
            "certainty": "firm",
            "evidence": [{"quote": "Trump said he may soon meet with Putin in person"}],
        }
    )
    summary = ArticleSummary.model_validate(data)
    grounder = Grounder(seed_text, policy="drop")
    grounder.apply(summary)
    report = grounder.report
    summary.meta = {
        "model": "m",
        "prompt": {"name": "summarize", "version": "v1"},
        "grounding": {
            "dropped": [d.as_dict() for d in report.dropped],
            "supported": report.support_meta(),
            "fixes": report.fixes,
        },
        "warnings": contract_warnings(summary),
    }
    return summary


def test_notes_list_warnings_dropped_and_kept_unsupported_items(
    seed_text: str, seed_summary: dict[str, Any]
) -> None:
    summary = _grounded_with_notes(seed_text, seed_summary)
    unsupported = summary.meta["grounding"]["supported"]["unsupported"]
    assert len(unsupported) == 2  # the headline (kept) and the commitment (dropped)
    assert len(summary.meta["grounding"]["dropped"]) == 2
    summary.meta["warnings"].append("headline <b>is</b> odd")
    out = to_markdown(summary)
    lines = out.splitlines()
    notes = lines[lines.index("## Notes") + 2 : lines.index("---") - 1]
    assert notes == [
        "- Warning: headline &lt;b&gt;is&lt;/b&gt; odd",
        "- Dropped from key points: Moscow \\| denied \\`it\\`. — quote not found in the "
        "article: 'The Kremlin denied it all.'",
        '- Dropped from commitments: meet Putin 77 times — unsupported: "77" not in its quotes',
        '- Kept in the headline, not in its quotes: "99"',
    ]
    assert lines[-1] == "_m · prompt summarize@v1 · schema v1_"
    html = GFM.render(out)
    assert "<b>" not in html
    assert "<code>" not in html
    text = to_text(summary).splitlines()
    assert text[text.index("NOTES") :] == [
        "NOTES",
        "  * Warning: headline <b>is</b> odd",
        "  * Dropped from key points: Moscow | denied `it`. (quote not found in the "
        "article: 'The Kremlin denied it all.')",
        '  * Dropped from commitments: meet Putin 77 times (unsupported: "77" not in its quotes)',
        '  * Kept in the headline, not in its quotes: "99"',
    ]


def test_no_notes_section_without_anything_to_note(seed_summary: dict[str, Any]) -> None:
    summary = ArticleSummary.model_validate(seed_summary)
    summary.meta = {"model": "m", "warnings": [], "grounding": {"dropped": [], "supported": {}}}
    assert "## Notes" not in to_markdown(summary)
    assert "NOTES" not in to_text(summary)


@pytest.mark.parametrize(
    "meta",
    [
        {"warnings": "not a list", "grounding": "nor a dict"},
        {"grounding": {"dropped": ["a string", {"text": "t"}], "supported": {"unsupported": 3}}},
        {"grounding": {"supported": {"unsupported": ["no separator"]}}, "prompt": "p"},
    ],
)
def test_odd_meta_never_breaks_rendering(
    meta: dict[str, Any], seed_summary: dict[str, Any]
) -> None:
    """``meta`` is free-form and a file may carry anything: render what makes sense."""
    summary = ArticleSummary.model_validate({**seed_summary, "meta": meta})
    out = to_markdown(summary)
    text = to_text(summary)
    if "dropped" in str(meta):
        assert "- Dropped: a string" in out
        assert "  * Dropped from ?: t" in text
    if "no separator" in str(meta):
        assert "- Kept in no separator, not in its quotes: ?" in out
    assert out.rstrip().endswith("· schema v1_")


def test_a_kept_item_is_named_by_its_path(seed_summary: dict[str, Any]) -> None:
    """Only the headline is kept unsupported by the grounder today, but a merged or
    hand-made ``meta`` may list any item: its path says which."""
    unsupported = ['key_summary.key_points[2]: "24"', 'commitments[0]: "7"']
    dropped = [
        {"section": "commitments", "item": "x", "reason": 'unsupported: "7" not in its quotes'}
    ]
    meta = {"grounding": {"dropped": dropped, "supported": {"unsupported": unsupported}}}
    summary = ArticleSummary.model_validate({**seed_summary, "meta": meta})
    out = to_markdown(summary).splitlines()
    assert out[out.index("## Notes") + 2 : out.index("---") - 1] == [
        '- Dropped from commitments: x — unsupported: "7" not in its quotes',
        '- Kept in key points, not in its quotes: "24" — key\\_summary.key\\_points\\[2\\]',
    ]
    assert to_text(summary).endswith(
        '  * Kept in key points, not in its quotes: "24" (key_summary.key_points[2])\n'
    )
