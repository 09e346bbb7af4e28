"""Fetching an article from a hostile web server (#12): a page that arrives a byte
at a time, headers that never end, a body that never ends.

The fetch timeout bounds each read, so each of these used to hold `summarize URL`
(and a whole batch, which fetches its URLs before it starts) until the server gave
up; the fetch deadline (``SUMMARIZER_FETCH_DEADLINE``) now ends it. Servers listen
on 127.0.0.1 and stop by themselves after 20 s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from summarizer.errors import FetchError
from summarizer.inputs.fetch import DEFAULT_DEADLINE, fetch
from tests.faults.hostile import GOOD, PAGE_MODES, HostileModel, HostilePages
from tests.faults.test_hostile_model import model_args, run

pytestmark = pytest.mark.timeout(120)

DEADLINE = {"SUMMARIZER_FETCH_DEADLINE": "2"}


@pytest.mark.parametrize("mode", PAGE_MODES)
def test_fetch_ends_at_its_deadline(mode: str) -> None:
    with HostilePages(mode) as pages:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"did not finish within 1\.5 s") as caught:
            fetch(pages.url(), deadline=1.5, env={})
        took = time.monotonic() - started
    assert caught.value.exit_code == 17
    assert took < 4, f"{mode}: {took:.1f}s"
    assert DEFAULT_DEADLINE == 60.0


@pytest.mark.parametrize("mode", PAGE_MODES)
def test_summarize_a_url_that_never_finishes(mode: str) -> None:
    with HostilePages(mode) as pages:
        proc, took = run(
            "summarize", pages.url(), *model_args("http://127.0.0.1:9/v1"), env=DEADLINE
        )
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 17, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0] == (
        f"summarizer: error: {pages.url()}: the download did not finish within 2 s; try "
        "again later, raise SUMMARIZER_FETCH_DEADLINE, or save the page and pass the file"
    )
    assert took < 12, f"{mode}: {took:.1f}s"


def test_batch_with_a_url_that_never_finishes_keeps_the_others(
    seed_summary: dict[str, Any], seed_text: str, tmp_path: Path
) -> None:
    articles = tmp_path / "articles.jsonl"
    rows = [{"id": f"good{i}", "text": f"{seed_text}\n\n{GOOD} {i}"} for i in (1, 2)]
    articles.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    with HostilePages("drip") as pages, HostileModel("deep", good=seed_summary) as model:
        proc, took = run(
            "batch", str(articles), pages.url(), "--out", str(out), *model_args(model.url),
            env=DEADLINE,
        )  # fmt: skip
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 60, err
    assert "Traceback" not in err
    assert took < 15, f"{took:.1f}s"
    lines = {row["id"]: row for row in map(json.loads, out.read_text("utf-8").splitlines())}
    assert [lines[f"good{i}"]["status"] for i in (1, 2)] == ["ok", "ok"]
    (url_line,) = (row for row in lines.values() if row["status"] == "error")
    assert url_line["source"] == pages.url()
    assert url_line["error"]["exit_code"] == 17
    assert "did not finish within 2 s" in url_line["error"]["message"]
