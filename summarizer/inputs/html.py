"""Saved web pages as article input: the article's text and title, without the page around it.

A news page is mostly furniture (menus, teasers, cookie banners, comments, scripts);
summarizing it whole would spend the model's context on it and let it quote a
headline from a "related stories" box. So the page is reduced to its article first,
and that text, not the HTML, is what the summary's quotes are located in.

Why trafilatura: measured on 29 real saved news pages (Mozilla Readability's test
pages, five of them in fr, es, pt, de, cs; ``benchmarks/html_extraction.py``,
results in ``benchmarks/results/html_extraction.md``). Mean token recall of the
expected article, precision (share of the output that is article), exact title
match, and the worst page's recall:

=====================================  ======  =========  =====  ==========
extractor                              recall  precision  title  min recall
=====================================  ======  =========  =====  ==========
trafilatura 2.3.1, ``favor_recall``     0.954      0.982   0.86        0.81
trafilatura 2.3.1, default              0.958      0.962   0.86        0.81
readability-lxml 0.9                    0.959      0.992   0.76        0.71
jusText 3.0.2 (stoplist by html lang)   0.833      0.895   0.28        0.00
=====================================  ======  =========  =====  ==========

readability-lxml and trafilatura tie on the means, and the expected texts were
made by Readability itself, which may favour its port. trafilatura wins where it
counts here: its worst page keeps 81 % of the article (readability-lxml keeps 71 %
and 73 % on two pages), its titles are better (token F1 0.99 vs 0.89: it drops
suffixes such as "- Breitbart"), it returns text rather than HTML we would have to
flatten ourselves, and it reads the page's metadata. ``favor_recall`` costs 0.004
recall and buys 0.02 precision: on one page (yahoo-2) the default took in a long
list of links.

The text is plain paragraphs separated by blank lines, so that the model sees the
article's structure (headline, paragraphs, list items each on their own) rather
than one run of words, and a reader can check a quote's offsets in any editor.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from summarizer.errors import NoArticleTextError

#: A page whose text has no paragraph this long is navigation, a form or an error
#: page, not an article (trafilatura falls back to whatever text it finds).
MIN_PARAGRAPH_WORDS = 8

_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HTML_LANG = re.compile(
    r"""<html\b[^>]*?\blang\s*=\s*["']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)""", re.I
)
_SNIFF_BYTES = 4096
# Byte-order marks, longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Page:
    """The article found in an HTML page."""

    text: str
    title: str | None
    language: str | None
    extractor: str


def extractor_name() -> str:
    """``trafilatura X.Y.Z``, as recorded in ``meta.input.extractor``."""
    from importlib.metadata import version  # here: reading plain text must not pay for it

    return f"trafilatura {version('trafilatura')}"


def bom_encoding(data: bytes) -> str | None:
    """The codec a byte-order mark at the start of ``data`` names, else None.

    ``utf-8-sig``, ``utf-16`` or ``utf-32``: each removes the mark while decoding, and
    the last two read the byte order from it.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def looks_like_html(data: bytes) -> bool:
    """True for a document that starts like an HTML page (after a BOM, spaces, comments)."""
    head = data[:_SNIFF_BYTES]
    encoding = bom_encoding(head)
    if encoding is not None:
        # A UTF-16/32 page is sniffed as the text it is, not as bytes with NULs between.
        head = head.decode(encoding, errors="ignore").encode("utf-8")
    return _HTML_START.match(head) is not None


def decode_html(data: bytes, charset: str | None = None) -> str:
    """Decode a page: its byte-order mark, else the HTTP charset, else the page's
    ``<meta charset>``, else UTF-8 (a mark wins over both labels, as in browsers).

    Undecodable bytes become U+FFFD rather than an error: browsers render such
    pages, and the extracted text, not these bytes, is what quotes must match.
    """
    for name in (bom_encoding(data), charset, _meta_charset(data)):
        if name:
            try:
                return data.decode(codecs.lookup(name).name, errors="replace").removeprefix(
                    "\ufeff"
                )
            except LookupError:
                continue
    return data.decode("utf-8-sig", errors="replace")


def _meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:_SNIFF_BYTES])
    return match.group(1).decode("ascii") if match else None


def extract(html: str, *, source: str = "<html>", url: str | None = None) -> Page:
    """The article text and title of an HTML page; ``url`` helps resolve metadata."""
    import trafilatura  # imported here: plain-text runs should not pay for it

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        favor_recall=True,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
    )
    raw = (getattr(doc, "text", None) or "") if doc is not None else ""
    paragraphs = [" ".join(line.split()) for line in raw.splitlines()]
    paragraphs = [p for p in paragraphs if p]
    if not any(len(p.split()) >= MIN_PARAGRAPH_WORDS for p in paragraphs):
        raise NoArticleTextError(
            f"{source}: no article text found in this HTML page (only menus or "
            "nothing readable); save the article's text to a file and pass that instead"
        )
    title = getattr(doc, "title", None)
    language = getattr(doc, "language", None) or _page_language(html)
    return Page(
        text="\n\n".join(paragraphs),
        title=" ".join(title.split()) or None if isinstance(title, str) else None,
        language=language if isinstance(language, str) and language else None,
        extractor=extractor_name(),
    )


def _page_language(html: str) -> str | None:
    match = _HTML_LANG.search(html[: _SNIFF_BYTES * 4])
    return match.group(1) if match else None
