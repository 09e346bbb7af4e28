"""URLs as input, against a local web server: limits, redirects, types, charsets, errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from summarizer import (
    ConfigurationError,
    FetchContentError,
    FetchError,
    FetchStatusError,
    InputDecodeError,
    __version__,
    read_article,
)
from summarizer.inputs.fetch import fetch, is_url
from tests.conftest import SEED
from tests.fakeserver import FakeOpenAI, summary_reply
from tests.pageserver import Page, PageServer, redirect
from tests.test_cli import _one_line_error, run_cli

ARTICLE = b"""<!DOCTYPE html>
<html lang="en"><head><title>Harbour reopens after storm | Coast News</title>
<script>trackEverything();</script></head>
<body><nav><a href="/">Home</a> <a href="/weather">Weather</a></nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour reopened on Monday morning after three days of closure caused by the storm.</p>
<p>Port director Ana Lima said that all damaged moorings had been replaced overnight.</p>
</article><footer>Coast News, all rights reserved.</footer></body></html>"""

LATIN1 = (
    "<html><head><title>Caf\xe9 M\xfcller</title></head><body><article>"
    "<p>Le caf\xe9 de la place a rouvert ses portes apr\xe8s des travaux de plusieurs mois.</p>"
    "<p>Herr M\xfcller, le propri\xe9taire, a remerci\xe9 les habitants du quartier.</p>"
    "</article></body></html>"
).encode("latin-1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pages() -> Iterator[PageServer]:
    routes = {
        "/article": Page(ARTICLE),
        "/r1": redirect("/r2", 301),
        "/r2": redirect("/article", 307),
        "/loop": redirect("/loop"),
        "/missing": Page(b"<h1>Not Found</h1>", 404),
        "/broken": Page(b"oops", 500, "text/plain"),
        "/report.pdf": Page(b"%PDF-1.7\n...", content_type="application/pdf"),
        "/photo": Page(b"\x89PNG\r\n", content_type="image/png"),
        "/big": Page(b"<html>" + b"x" * 5000, content_length=True),
        "/big-stream": Page(b"<html>" + b"x" * 5000, content_length=False),
        "/slow": Page(ARTICLE, delay=2.0),
        "/latin1": Page(LATIN1, content_type="text/html; charset=ISO-8859-1"),
        "/latin1-meta": Page(
            LATIN1.replace(b"<head>", b'<head><meta charset="iso-8859-1">'),
            content_type="text/html",
        ),
        "/plain": Page("Plain news: the café opened.\n".encode(), content_type="text/plain"),
        "/plain-latin1": Page(
            "Plain news: the caf\xe9 opened.\n".encode("latin-1"),
            content_type="text/plain; charset=latin-1",
        ),
        "/plain-bad": Page(b"Plain \xff\xfe news", content_type="text/plain"),
        "/untyped": Page(ARTICLE, content_type=None),
    }
    with PageServer(routes) as server:
        yield server


def test_is_url() -> None:
    assert is_url("https://example.org/a")
    assert is_url("HTTP://example.org")
    assert not is_url("article.txt")
    assert not is_url("ftp://example.org/a")


def test_html_page_from_url(pages: PageServer) -> None:
    article = read_article(pages.url("/article"))
    assert article.title == "Harbour reopens after storm"
    assert "three days of closure" in article.text
    assert "Home" not in article.text
    assert "trackEverything" not in article.text
    assert "all rights reserved" not in article.text
    assert article.source == pages.url("/article")
    assert article.meta["kind"] == "url"
    assert article.meta["final_url"] == pages.url("/article")
    assert article.meta["content_type"] == "text/html"
    assert article.meta["charset"] == "utf-8"
    assert article.meta["extractor"].startswith("trafilatura ")
    assert pages.requests[0]["user-agent"] == f"summarizer/{__version__}"


def test_redirect_chain_is_followed_and_recorded(pages: PageServer) -> None:
    article = read_article(pages.url("/r1"))
    assert article.meta["url"] == pages.url("/r1")
    assert article.meta["final_url"] == pages.url("/article")
    assert len(pages.requests) == 3
    assert "Port director Ana Lima" in article.text


def test_too_many_redirects(pages: PageServer) -> None:
    with pytest.raises(FetchError, match="more than 3 redirects") as info:
        fetch(pages.url("/loop"), max_redirects=3)
    assert info.value.exit_code == 17


@pytest.mark.parametrize(("path", "status"), [("/missing", "404 Not Found"), ("/broken", "500")])
def test_http_errors_name_the_status(pages: PageServer, path: str, status: str) -> None:
    with pytest.raises(FetchStatusError, match=f"HTTP {status}") as info:
        read_article(pages.url(path))
    assert info.value.exit_code == 18


def test_status_error_after_redirect_names_both_addresses(pages: PageServer) -> None:
    pages.routes["/moved"] = redirect("/missing")
    with pytest.raises(FetchStatusError, match=r"/moved \(redirected to .*/missing\)"):
        read_article(pages.url("/moved"))


@pytest.mark.parametrize(
    ("path", "kind"), [("/report.pdf", "application/pdf"), ("/photo", "image/png")]
)
def test_unsupported_content_types(pages: PageServer, path: str, kind: str) -> None:
    with pytest.raises(FetchContentError, match=f"sent {kind}, not a web page") as info:
        read_article(pages.url(path))
    assert info.value.exit_code == 19


@pytest.mark.parametrize("path", ["/big", "/big-stream"])
def test_size_cap(pages: PageServer, path: str) -> None:
    with pytest.raises(FetchContentError, match="over the 1000 bytes size cap"):
        fetch(pages.url(path), max_bytes=1000)
    assert fetch(pages.url(path), max_bytes=6000).body.endswith(b"x" * 10)


def test_slow_server_times_out(pages: PageServer) -> None:
    with pytest.raises(FetchError, match=r"no answer within 0\.3 s") as info:
        fetch(pages.url("/slow"), timeout=0.3)
    assert info.value.exit_code == 17


def test_timeout_from_the_environment(pages: PageServer) -> None:
    with pytest.raises(FetchError, match=r"no answer within 0\.2 s"):
        fetch(pages.url("/slow"), env={"SUMMARIZER_FETCH_TIMEOUT": "0.2"})
    with pytest.raises(ConfigurationError, match="SUMMARIZER_FETCH_TIMEOUT='soon'"):
        fetch(pages.url("/slow"), env={"SUMMARIZER_FETCH_TIMEOUT": "soon"})


@pytest.mark.parametrize("path", ["/latin1", "/latin1-meta"])
def test_latin1_pages(pages: PageServer, path: str) -> None:
    article = read_article(pages.url(path))
    assert article.title == "Café Müller"
    assert "Le café de la place a rouvert" in article.text
    assert "Herr Müller, le propriétaire" in article.text


def test_plain_text_urls(pages: PageServer) -> None:
    plain = read_article(pages.url("/plain"))
    assert plain.text == "Plain news: the café opened.\n"
    assert plain.title is None
    assert plain.meta["content_type"] == "text/plain"
    assert "extractor" not in plain.meta
    assert read_article(pages.url("/plain-latin1")).text == "Plain news: the café opened.\n"
    with pytest.raises(InputDecodeError, match="not UTF-8"):
        read_article(pages.url("/plain-bad"))


def test_untyped_html_is_sniffed(pages: PageServer) -> None:
    article = read_article(pages.url("/untyped"))
    assert article.meta["content_type"] is None
    assert article.title == "Harbour reopens after storm"


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{_free_port()}/a"
    with pytest.raises(FetchError, match=r"cannot connect .*refused.*check the address"):
        read_article(url)


def test_dns_failure_is_one_clear_error() -> None:
    def no_dns(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    with pytest.raises(FetchError, match=r"cannot connect \(\[Errno -2\] Name or service"):
        fetch("https://news.invalid/a", transport=httpx.MockTransport(no_dns))


def test_invalid_url() -> None:
    with pytest.raises(FetchError, match="not a valid http"):
        fetch("http://")


# -- through the command line --------------------------------------------------------


def test_summarize_a_url(
    pages: PageServer, fake_openai: FakeOpenAI, seed_summary: dict[str, Any]
) -> None:
    paragraphs = SEED.read_text(encoding="utf-8").splitlines()
    pages.routes["/seed"] = Page(
        (
            "<!doctype html><html><head><title>Trump and Putin talk | Site</title></head>"
            "<body><nav><a href='/'>Home</a></nav><article>"
            + "".join(f"<p>{p}</p>" for p in paragraphs if p.strip())
            + "</article></body></html>"
        ).encode()
    )
    fake_openai.queue(summary_reply(seed_summary))
    url = pages.url("/r-seed")
    pages.routes["/r-seed"] = redirect("/seed")
    proc = run_cli("summarize", url, "--model", "m", "--base-url", fake_openai.url)
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    meta_input = out["meta"]["input"]
    assert meta_input["source"] == url
    assert meta_input["kind"] == "url"
    assert meta_input["final_url"] == pages.url("/seed")
    assert meta_input["title"] == "Trump and Putin talk"
    text = read_article(url).text
    quotes = [ev for kp in out["key_summary"]["key_points"] for ev in kp["evidence"]]
    assert quotes
    for ev in quotes:
        assert text[ev["start"] : ev["end"]] == ev["quote"]
    # the model was given the extracted article, not the page
    prompt = json.dumps(fake_openai.requests[0]["messages"])
    assert "Home" not in prompt.replace("White House", "")
    assert "Trump and Putin talk" in prompt


FAKE = ["--model", "m", "--base-url", "http://127.0.0.1:9/v1"]


@pytest.mark.parametrize(
    ("path", "env", "code", "fragment"),
    [
        ("/missing", {}, 18, "HTTP 404 Not Found"),
        ("/report.pdf", {}, 19, "application/pdf"),
        ("/big", {"SUMMARIZER_FETCH_MAX_BYTES": "1000"}, 19, "size cap"),
        ("/loop", {}, 17, "more than 10 redirects"),
        ("/slow", {"SUMMARIZER_FETCH_TIMEOUT": "0.3"}, 17, "no answer within 0.3 s"),
        (None, {}, 17, "cannot connect"),
    ],
    ids=["404", "pdf", "oversize", "redirect-loop", "timeout", "refused"],
)
def test_fetch_errors_exit_with_their_code_in_one_line(
    pages: PageServer, path: str | None, env: dict[str, str], code: int, fragment: str
) -> None:
    url = pages.url(path) if path else f"http://127.0.0.1:{_free_port()}/a"
    proc = run_cli("summarize", url, *FAKE, env=env)
    _one_line_error(proc, code, fragment)
