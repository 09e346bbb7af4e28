"""The HTML eval report: what a person sees, checked as a page (structure, links,
escaping) and in headless Chromium (it opens on the article table, the filters hide
rows, links reach their targets, and a hostile model answer never runs)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.cli import app
from summarizer.evals.report import render_html
from summarizer.evals.report_html import article_anchor, perf
from tests.conftest import DATASET, ROOT, copy_dataset

runner = CliRunner()
IDS = ["001-annapolis-joint-understanding", "004-rio-group-andean-border-dispute-ends"]
#: What a hostile model or file would inject: if it ran, the body would carry it.
PWN = "document.body.setAttribute('data-pwned','1')"
HOSTILE_ID = f"x<img src=x onerror={PWN}>"
SCRIPT = f"<script>{PWN}</script>"


# --- helpers the compare tests share ------------------------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="needs chromium (apt-get install chromium)"
)


def browse(page: Path, tmp_path: Path, *args: str, fragment: str = "") -> str:
    """Headless Chromium on ``page``: ``--dump-dom`` (the DOM after the page's script
    ran) or ``--screenshot=...``; returns stdout. No network, no profile of the user's."""
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,900",
    ]  # fmt: skip
    proc = subprocess.run(
        [chromium() or "chromium", *flags, *args, page.as_uri() + fragment],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def png_rows(data: bytes, max_rows: int) -> tuple[int, int, list[bytes]]:
    """The first ``max_rows`` pixel rows of an 8-bit RGB(A) PNG (what Chromium writes):
    width, bytes per pixel, rows. A tiny reader: zlib and the five PNG filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8, depth
    assert color in (2, 6), color
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(min(height, max_rows)):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind in (0, 2):  # none, or "up" (most rows): bytewise sums, no carries
            line = bytearray(_add_bytes(line, prev) if kind == 2 else line)
            rows.append(bytes(line))
            prev = line
            continue
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


def _add_bytes(x: bytes, y: bytes) -> bytes:
    """Each byte of ``x`` plus the same byte of ``y``, mod 256, as two big integers."""
    n, a, b = len(x), int.from_bytes(x, "big"), int.from_bytes(y, "big")
    low, high = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    return (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(n, "big")


def colour_stats(png: Path, max_rows: int = 900) -> tuple[int, float, float]:
    """Distinct colours, the share of non-white pixels and the share of coloured
    (not grey) pixels, sampled every 3rd pixel of every 3rd row of the first ``max_rows``."""
    _, bpp, rows = png_rows(png.read_bytes(), max_rows)
    colours, ink, hue, n = set(), 0, 0, 0
    for row in rows[::3]:
        for x in range(0, len(row), 3 * bpp):
            r, g, b = row[x], row[x + 1], row[x + 2]
            colours.add((r, g, b))
            n += 1
            ink += (r, g, b) != (255, 255, 255)
            hue += max(r, g, b) - min(r, g, b) > 12
    return len(colours), ink / n, hue / n


class Page(HTMLParser):
    """The page's start tags, in order, with their attributes (values unescaped)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.elements if "id" in a]

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]


# --- a run to look at -----------------------------------------------------------------


def _candidate(case_id: str) -> dict[str, Any]:
    return json.loads((DATASET / "golden" / f"{case_id}.json").read_text("utf-8"))


@pytest.fixture
def run(tmp_path: Path) -> dict[str, Any]:
    """A dataset of three articles (one named by an attacker) scored twice with
    ``eval score``: first perfect (the baseline), then with one candidate degraded
    and carrying hostile text, one perfect, one missing."""
    data = copy_dataset(tmp_path / "data", IDS)
    shutil.copy(DATASET / "articles" / f"{IDS[1]}.txt", data / "articles" / f"{HOSTILE_ID}.txt")
    shutil.copy(DATASET / "golden" / f"{IDS[1]}.json", data / "golden" / f"{HOSTILE_ID}.json")
    with (data / "articles" / f"{IDS[0]}.txt").open("a", encoding="utf-8") as f:
        f.write(f"\n{SCRIPT}\n")  # the article itself is hostile too (after the quotes)
    cands = tmp_path / "cands"
    cands.mkdir()
    for case_id in [*IDS, HOSTILE_ID]:
        src = IDS[1] if case_id == HOSTILE_ID else case_id
        (cands / f"{case_id}.json").write_text(json.dumps(_candidate(src)), "utf-8")
    base = tmp_path / "base.json"
    first = runner.invoke(app, ["eval", "score", "--dataset", str(data), "--candidates",
                                str(cands), "--report", str(base)])  # fmt: skip
    assert first.exit_code == 0, first.output

    worse = _candidate(IDS[0])
    worse["actors"] = worse["actors"][:3]  # 16 actors missed
    worse["key_summary"]["headline"] = SCRIPT
    worse["key_summary"]["key_points"].append(
        {"text": SCRIPT, "evidence": [{"quote": "</mark><b>not in the article</b>"}]}
    )
    worse["meta"] = {
        "model": "openai/gpt-4o-mini",
        "usage": {"prompt_tokens": 2000, "completion_tokens": 1000, "total_tokens": 3000},
        "latency_s": 2.5,
    }
    (cands / f"{IDS[0]}.json").write_text(json.dumps(worse), "utf-8")
    (cands / f"{IDS[1]}.json").unlink()
    report, page = tmp_path / "report.json", tmp_path / "report.html"
    second = runner.invoke(
        app,
        ["eval", "score", "--dataset", str(data), "--candidates", str(cands), "--report",
         str(report), "--html", str(page), "--baseline", str(base), "--allow-missing"],
    )  # fmt: skip
    assert second.exit_code == 50, second.output  # the drop fails the gate; pages written
    return {"data": data, "cands": cands, "report": report, "page": page, "base": base}


def test_the_page_opens_on_the_article_table_and_every_link_lands(run: dict[str, Any]) -> None:
    text = run["page"].read_text("utf-8")
    page = Page(text)
    tags = [t for t, _ in page.elements]
    assert tags.index("table") < tags.index("details")  # the table first, details after
    rows = page.find("tr", **{"data-id": IDS[0]}) + page.find("tr", **{"data-id": HOSTILE_ID})
    assert len(rows) == 2
    assert not page.find("tr", **{"data-id": IDS[1]})
    ids = page.ids()
    assert len(ids) == len(set(ids)), "duplicate element ids"
    links = [a["href"][1:] for t, a in page.elements if t == "a" and a.get("href", "")[:1] == "#"]
    assert links
    assert not set(links) - set(ids)  # every link lands
    # Each item that has evidence links to it, and that label links back to the item.
    evidence = [a["href"][1:] for a in page.find("a", class_="evl")]
    items = {a["id"] for t, a in page.elements if t == "li" and "data-key" in a}
    assert evidence
    assert all(target.removesuffix("-ev") in items for target in evidence)
    tags_in_text = [a for a in page.find("a") if a.get("class", "").startswith("tag ")]
    assert {a["href"][1:] for a in tags_in_text} <= items
    assert any(a.get("id") == f"{a['href'][1:]}-ev" for a in tags_in_text)
    # The detail of each article is reachable from its row, by a safe anchor.
    assert page.find("details", id=article_anchor(HOSTILE_ID))
    assert article_anchor(HOSTILE_ID).replace("-", "").replace("_", "").isalnum()


def test_hostile_text_is_escaped_and_no_script_but_ours(run: dict[str, Any]) -> None:
    text = run["page"].read_text("utf-8")
    page = Page(text)
    assert [t for t, _ in page.elements].count("script") == 1
    assert not [(t, k) for t, a in page.elements for k in a if k.startswith("on")]
    assert not page.find("img")
    assert "&lt;script&gt;" in text  # shown as text, from the article and the candidate
    assert "<b>not in the article</b>" not in text
    # One file that works offline: nothing to fetch (no stylesheet, script or image
    # from elsewhere), every link within the page.
    assert not page.find("link")
    assert not [a for _, a in page.elements if "src" in a]
    assert all(a["href"].startswith("#") for t, a in page.elements if t == "a")


def test_scores_floor_baseline_missing_and_costs(run: dict[str, Any]) -> None:
    text = run["page"].read_text("utf-8")
    page = Page(text)
    report = json.loads(run["report"].read_text("utf-8"))
    assert report["baseline"]["regressions"] == [IDS[0]]
    row = page.find("tr", **{"data-id": IDS[0]})[0]
    assert set(row["data-flags"].split()) >= {"missed", "extra", "regressed"}
    assert "regressed" not in page.find("tr", **{"data-id": HOSTILE_ID})[0]["data-flags"]
    assert page.find("button", **{"data-f": "regressed"})  # there is a baseline
    assert "lead baseline (no model: the floor)" in text
    assert 'id="missing"' in text
    assert IDS[1] in text.split('id="missing"')[1].split("</div>")[0]
    # gpt-4o-mini at its built-in price: 2000 in, 1000 out = 0.0003 + 0.0006
    assert ">3,000<" in text
    assert ">0.0009<" in text
    assert ">2.50<" in text


def test_no_baseline_block_no_regression_filter_and_odd_blocks_do_not_crash(
    run: dict[str, Any],
) -> None:
    report = json.loads(run["report"].read_text("utf-8"))
    plain = {k: v for k, v in report.items() if k not in ("baseline", "missing")}
    page = Page(render_html(plain, run["data"], run["cands"]))
    assert not page.find("button", **{"data-f": "regressed"})
    assert not page.find("div", id="missing")
    odd = report | {
        "baseline": {"article_delta": "x", "regressions": 5, "aggregate": [], "passed": "no"},
        "missing": {"gone": "deleted by hand"},
        "floor": {"method": "lead", "aggregate": report["floor"]["aggregate"], "articles": 3},
    }
    result = odd["articles"][IDS[0]]["sections"]["actors"]
    result["matched"] = [[99, 0, 1.0], "junk", [0, 99, 0.5], [0, 0, 0.8]]  # goldens changed
    result["missed"] = [42, "x"]
    html = render_html(odd, run["data"], run["cands"])
    assert "deleted by hand" in html
    row = Page(html).find("tr", **{"data-id": IDS[0]})[0]
    assert "regressed" not in row["data-flags"]  # no usable baseline figures: no verdict
    # The one usable match (golden 0 with a candidate actor) stands; the rest is ignored.
    assert Page(html).find("li", id="i0-gA1", class_="matched")


def test_perf_reads_what_meta_has() -> None:
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 10}
    paid = {"model": "openai/gpt-4o-mini", "latency_s": 1.5, "usage": usage}
    assert perf(paid)["cost"] == pytest.approx(0.15)
    assert perf(paid)["latency"] == 1.5
    assert perf(paid)["tokens"] == 10
    assert perf({"model": "vllm/unknown", "usage": {"prompt_tokens": 5}})["cost"] is None
    assert perf({"model": "rules", "method": {"model_calls": 0}})["cost"] == 0.0
    assert perf({"model": "local:/m.gguf", "usage": {"prompt_tokens": 9}})["cost"] == 0.0
    assert perf({"model": "openai/gpt-4o", "cost_usd": 0.0123})["cost"] == 0.0123
    assert perf({}) == {"tokens": None, "prompt_tokens": None, "completion_tokens": None,
                        "latency": None, "cost": None, "cached": False}  # fmt: skip
    assert perf({"usage": "junk", "latency_s": "slow", "cache": {"hit": True}})["cached"] is True


def test_the_committed_reports_render() -> None:
    """A report of the embedded model (an old one, before floors) and of the rules."""
    for name in ("eval-local", "eval-rules"):
        folder = ROOT / "benchmarks" / "results" / name
        report = json.loads((folder / "report.json").read_text("utf-8"))
        report["articles"] = dict(list(report["articles"].items())[:2])
        page = Page(render_html(report, DATASET, folder / "candidates"))
        assert len(page.find("details", class_="art")) == 2
        assert len(page.find("li")) > 10


@needs_chromium
def test_in_chromium_the_page_opens_on_the_coloured_table(
    run: dict[str, Any], tmp_path: Path
) -> None:
    shot = tmp_path / "shot.png"
    browse(run["page"], tmp_path, f"--screenshot={shot}")
    colours, ink, hue = colour_stats(shot)
    assert colours > 100, colours  # a page, not a blank one
    assert ink > 0.05, ink
    assert hue > 0.02, hue  # the coloured score cells of the table are on screen


@needs_chromium
def test_in_chromium_a_filter_hides_rows_and_a_link_opens_its_article(
    run: dict[str, Any], tmp_path: Path
) -> None:
    dom = browse(run["page"], tmp_path, "--dump-dom", fragment="#filter=regressed")
    page = Page(dom)
    rows = page.find("tr", **{"data-id": IDS[0]}) + page.find("tr", **{"data-id": HOSTILE_ID})
    assert ["hidden" in r for r in rows] == [False, True]  # only the regression shows
    assert page.find("body", **{"data-filter": "regressed"})
    assert "1 of 2 articles" in dom
    assert 'data-pwned="1"' not in dom  # nothing hostile ran

    target = next(a["href"] for a in Page(run["page"].read_text("utf-8")).find("a", class_="evl"))
    dom = browse(run["page"], tmp_path, "--dump-dom", fragment=target)
    details = dom.split(f'id="{target[1:]}"')[0].rsplit("<details", 1)[1]
    assert " open" in details.split(">")[0]  # the article holding the evidence opened
