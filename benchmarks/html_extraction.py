"""Benchmark HTML-to-article extraction on real saved news pages.

Run from the repo root, with the candidates installed
(``pip install trafilatura readability-lxml justext``)::

    .venv/bin/python benchmarks/html_extraction.py                  # ../shared/html-pages
    .venv/bin/python benchmarks/html_extraction.py --pages DIR

It measures on the publishers' own pages, which stay outside the repository (their
content belongs to the publishers; only the numbers are kept here): without
``../shared/html-pages`` (or ``--pages DIR``) it stops with a one-line message. The
test suite builds its own pages instead (``tests/pages.py``).

Each page folder holds ``source.html`` (the page as its site served it),
``expected.html`` (the article a reader should see, judged by Readability's
maintainers) and ``expected-metadata.json`` (title, lang).

Per page and extractor:

- recall: share of the expected article's word tokens found in the extracted text
  (multiset overlap), i.e. how much of the article survives;
- precision: share of the extracted tokens that belong to the expected article,
  i.e. how little navigation, teasers, comments and captions got in;
- title: 1 if the extracted title equals the expected one after case, whitespace and
  quote normalization, else 0 (``title_f1`` gives partial credit);
- seconds: wall time of the extraction.

Tokens are lowercase ``\\w+`` runs, so the numbers are comparable across languages
written with spaces (all pages here). Results go to
``benchmarks/results/html_extraction.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import lxml.html

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT.parent / "shared" / "html-pages"  # 29 pages, kept outside the repository
RESULTS = ROOT / "benchmarks" / "results"

_BLOCKS = {
    "p", "div", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
    "ol", "blockquote", "pre", "table", "tr", "td", "th", "br", "figure", "figcaption",
    "header", "footer", "main", "aside", "dd", "dt",
}  # fmt: skip

Extracted = tuple[str, str | None]  # (text, title)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, one line per block element."""
    root = lxml.html.fromstring(markup)
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    parts: list[str] = []

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _BLOCKS:
            parts.append("\n")
        if el.text and tag:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag in _BLOCKS:
            parts.append("\n")

    walk(root)
    return re.sub(r"\n\s*\n+", "\n", "".join(parts)).strip()


def tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))


def norm_title(title: str | None) -> str:
    t = unicodedata.normalize("NFKC", title or "").casefold()
    t = re.sub(r"[\u2018\u2019\u201c\u201d\"'`´]", "'", t)
    return re.sub(r"\s+", " ", t).strip()


def score(expected: str, got: str) -> tuple[float, float]:
    want, have = tokens(expected), tokens(got)
    common = sum((want & have).values())
    recall = common / max(1, sum(want.values()))
    precision = common / sum(have.values()) if have else 0.0
    return recall, precision


def title_scores(expected: str | None, got: str | None) -> tuple[float, float]:
    exact = float(bool(expected) and norm_title(expected) == norm_title(got))
    want, have = tokens(expected or ""), tokens(got or "")
    common = sum((want & have).values())
    if not common:
        return exact, 0.0
    p, r = common / sum(have.values()), common / sum(want.values())
    return exact, 2 * p * r / (p + r)


# -- candidates ----------------------------------------------------------------------


def run_trafilatura(html: str, **options: Any) -> Extracted:
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, include_tables=True, **options
    )
    if doc is None:
        return "", None
    return getattr(doc, "text", None) or "", getattr(doc, "title", None)


def run_readability(html: str) -> Extracted:
    from readability import Document

    doc = Document(html)
    return html_to_text(doc.summary(html_partial=True)), doc.short_title()


def _page_language(html: str) -> str:
    match = re.search(r"<html[^>]*\blang=[\"']?([a-zA-Z]{2})", html)
    return (match.group(1) if match else "en").lower()


_JUSTEXT_STOPLISTS = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish",
    "pt": "Portuguese", "cs": "Czech",
}  # fmt: skip


def run_justext(html: str) -> Extracted:
    """jusText needs the page's language (stop words); taken from <html lang>."""
    import justext

    stoplist = justext.get_stoplist(_JUSTEXT_STOPLISTS.get(_page_language(html), "English"))
    paragraphs = justext.justext(html.encode("utf-8"), stoplist)
    text = "\n".join(p.text for p in paragraphs if not p.is_boilerplate)
    title = lxml.html.fromstring(html).findtext(".//title")
    return text, title.strip() if title else None


def run_summarizer(html: str) -> Extracted:
    """What ships: summarizer.inputs.html.extract (the winner plus our post-processing)."""
    sys.path.insert(0, str(ROOT))
    from summarizer.inputs.html import NoArticleTextError, extract

    try:
        page = extract(html)
    except NoArticleTextError:
        return "", None
    return page.text, page.title


CANDIDATES: dict[str, tuple[Callable[[str], Extracted], str]] = {
    "trafilatura": (run_trafilatura, "trafilatura"),
    "trafilatura-recall": (
        lambda h: run_trafilatura(h, favor_recall=True),
        "trafilatura",
    ),
    "trafilatura-precision": (
        lambda h: run_trafilatura(h, favor_precision=True),
        "trafilatura",
    ),
    "readability-lxml": (run_readability, "readability-lxml"),
    "justext": (run_justext, "justext"),
    "summarizer.html": (run_summarizer, "trafilatura"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=PAGES)
    parser.add_argument("--only", nargs="*", help="extractors to run (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    found = args.pages.iterdir() if args.pages.is_dir() else ()
    pages = sorted(p for p in found if (p / "source.html").is_file())
    if not pages:
        sys.exit(
            f"html_extraction: no saved pages in {args.pages} (the publishers' pages stay "
            "outside the repository); put them in ../shared/html-pages or pass --pages DIR"
        )
    names = args.only or list(CANDIDATES)
    rows: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    for page in pages:
        source = (page / "source.html").read_text(encoding="utf-8")
        expected = html_to_text((page / "expected.html").read_text(encoding="utf-8"))
        meta = json.loads((page / "expected-metadata.json").read_text(encoding="utf-8"))
        for name in names:
            fn, _ = CANDIDATES[name]
            start = time.perf_counter()
            text, title = fn(source)
            seconds = time.perf_counter() - start
            recall, precision = score(expected, text)
            exact, f1 = title_scores(meta.get("title"), title)
            rows[name][page.name] = {
                "recall": round(recall, 4),
                "precision": round(precision, 4),
                "title": exact,
                "title_f1": round(f1, 4),
                "seconds": round(seconds, 3),
            }
        print(page.name, {n: rows[n][page.name]["recall"] for n in names}, file=sys.stderr)

    means = {
        name: {
            key: round(statistics.fmean(r[key] for r in per_page.values()), 4)
            for key in ("recall", "precision", "title", "title_f1", "seconds")
        }
        | {
            "min_recall": min(r["recall"] for r in per_page.values()),
            "pages_recall_below_0.8": sum(r["recall"] < 0.8 for r in per_page.values()),
            "pages_empty": sum(r["recall"] == 0 for r in per_page.values()),
        }
        for name, per_page in rows.items()
    }
    versions = {lib: version(lib) for lib in ("trafilatura", "readability-lxml", "justext", "lxml")}
    report = {
        "pages": len(pages),
        "pages_dir": "shared/html-pages (Mozilla Readability test pages)",
        "versions": versions,
        "python": platform.python_version(),
        "mean": means,
        "per_page": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "html_extraction.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    (args.out / "html_extraction.md").write_text(markdown(report), "utf-8")
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    names = list(report["mean"])
    lines = [
        "# HTML extraction benchmark",
        "",
        f"{report['pages']} saved news pages ({report['pages_dir']}); "
        "generated by `benchmarks/html_extraction.py`.",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items())
        + f", Python {report['python']}.",
        "",
        "recall = share of the expected article's tokens extracted; precision = share "
        "of extracted tokens that are article; title = exact title match.",
        "",
        "## Means",
        "",
        "| extractor | recall | precision | title | title F1 | min recall "
        "| pages recall < 0.8 | pages empty | s/page |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        m = report["mean"][name]
        lines.append(
            f"| {name} | {m['recall']:.3f} | {m['precision']:.3f} | {m['title']:.2f} "
            f"| {m['title_f1']:.2f} | {m['min_recall']:.2f} "
            f"| {m['pages_recall_below_0.8']} | {m['pages_empty']} "
            f"| {m['seconds']:.3f} |"
        )
    lines += [
        "",
        "## Per page (recall / precision / title)",
        "",
        "| page | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for page in next(iter(report["per_page"].values())):
        cells = []
        for name in names:
            r = report["per_page"][name][page]
            cells.append(f"{r['recall']:.2f} / {r['precision']:.2f} / {int(r['title'])}")
        lines.append(f"| {page} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
