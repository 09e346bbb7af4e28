"""Shards (#15, part 2): ``batch --shard K/N`` on a stable partition of the article
ids, and ``merge``, which joins the shards' outputs and ledgers or refuses them.

The proof: 4 shards run one after another and merged give the same ids, statuses,
summaries and ledger totals as one run over all the inputs, with the offline default
(``rules``) through the command line and with the fake model server (non-zero tokens
and cost) through the library.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from summarizer.batch import BatchItem, BatchOptions, OutputLock, collect_items, run_batch
from summarizer.batch.ledger import ledger_path
from summarizer.batch.pricing import Price
from summarizer.batch.shards import Shard, merge_outputs, shard_items, shard_of
from summarizer.cli import app
from summarizer.errors import ConfigurationError, ShardMismatchError
from summarizer.settings import Settings
from tests.fakeserver import FakeOpenAI, Reply, completion, summary_reply
from tests.test_cli import run_cli

runner = CliRunner()
PRICES = {"compatible/fake-model": Price(1.0, 2.0)}  # USD per 1M tokens


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _statuses(path: Path) -> dict[str, str]:
    rows = _rows(path)
    assert len(rows) == len({r["id"] for r in rows}), "an id has two lines"
    return {r["id"]: r["status"] for r in rows}


def _ledger(out: Path) -> dict[str, Any]:
    return json.loads(ledger_path(out).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# -- the partition ---------------------------------------------------------------------


def test_every_id_is_in_exactly_one_shard_whatever_n() -> None:
    ids = [f"doc-{i}" for i in range(1000)] + ["", "Zürich", "sub/b", "a\ud800b", "x" * 5000]
    for n in (1, 2, 3, 4, 7, 16, 100):
        counts = [0] * n
        for item_id in ids:
            holders = [k for k in range(1, n + 1) if Shard(k, n).holds(item_id)]
            assert holders == [shard_of(item_id, n)], (item_id, n, holders)
            counts[holders[0] - 1] += 1
        if n <= 16:  # and spread evenly: 1000 ids, no shard far from its share
            assert min(counts) > 0.6 * len(ids) / n, (n, counts)
            assert max(counts) < 1.4 * len(ids) / n, (n, counts)


def test_the_assignment_is_sha256_of_the_id_and_never_changes() -> None:
    """Fixed expectations: a machine with another Python (whose ``hash()`` is salted
    per process) or a later version of this code must put these ids in these shards."""
    expected = {
        "000-seed-trump-putin-call": (1, 4, 773),
        "sub/b": (3, 1, 27),
        "https://example.org/story.html": (1, 2, 633),
        "feed.jsonl:3": (3, 1, 515),
        "Zürich": (2, 7, 654),
        "": (1, 2, 653),
    }
    for item_id, shards in expected.items():
        assert tuple(shard_of(item_id, n) for n in (4, 7, 1000)) == shards, item_id
        digest = hashlib.sha256(item_id.encode()).digest()
        assert shard_of(item_id, 7) == int.from_bytes(digest[:8], "big") % 7 + 1


def test_shard_specs_are_checked_in_the_library_and_the_cli(tmp_path: Path) -> None:
    assert Shard.parse("2/4") == Shard(2, 4)
    assert Shard.parse(" 1 / 1 ") == Shard(1, 1)
    assert str(Shard.parse("10/12")) == "10/12"
    with pytest.raises(ConfigurationError):
        shard_of("a", 0)
    article = tmp_path / "a.txt"
    article.write_text("The mayor said the bridge will reopen in May.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    bad = ["0/4", "5/4", "a/b", "4", "1/0", "0/0", "-1/4", "+1/4", "1/4/2", "", "١/٤", "1_0/20",
           "1" * 5000 + "/2"]  # fmt: skip
    for spec in bad:
        with pytest.raises(ConfigurationError, match="numbered from 1"):
            Shard.parse(spec)
        result = runner.invoke(app, ["batch", str(article), "-o", str(out), "--shard", spec])
        assert result.exit_code == 20, (spec, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (spec, result.stderr)
        assert "expected K/N" in lines[0], (spec, result.stderr)
        assert not out.exists()
    helped = runner.invoke(app, ["batch", "--help"], env={"COLUMNS": "200"}).stdout
    assert "<K/N>" in helped
    assert "numbered from 1" in helped
    assert "merge" in runner.invoke(app, ["--help"]).stdout


def test_files_and_urls_of_other_shards_are_not_read(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N shards read each file and fetch each URL once between them; directories and
    JSONL files are read whole by each, and every article lands in one shard."""
    import summarizer.batch.items as items_module

    files = [str(p) for p in sorted(corpus.glob("*.txt"))[:6]]
    urls = [f"http://127.0.0.1:9/story-{i}" for i in range(6)]  # port 9: refused at once
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    for name in ("x.txt", "sub/y.txt", "z.html"):
        (folder / name).write_text(f"{name}: the council will vote on Friday.", encoding="utf-8")
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps({"id": f"j{i}", "text": "Text."}) for i in range(8)))
    targets = [*files, *urls, str(folder), str(feed)]
    everything = {item.id for item in collect_items(targets)}
    assert len(everything) == 6 + 6 + 3 + 8

    real = items_module.read_article  # type: ignore[attr-defined]
    read: list[str] = []

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(items_module, "read_article", counting)
    seen: list[str] = []
    for k in (1, 2, 3):
        read.clear()
        shard = Shard(k, 3)
        ids = [item.id for item in shard_items(targets, None, shard, tmp_path / f"o{k}.jsonl")]
        assert all(shard.holds(i) for i in ids)
        seen += ids
        read_here = [r for r in read if r in files or r in urls]
        assert sorted(read_here) == sorted(t for t in files + urls if shard.holds(_id(t))), k
    assert sorted(seen) == sorted(everything)


def _id(target: str) -> str:
    return target if target.startswith("http") else Path(target).stem


# -- the proof: shards merged = one run ------------------------------------------------


def test_four_shards_merged_equal_one_run_and_a_batch_resumes_into_it(
    tmp_path: Path, corpus: Path
) -> None:
    """Through the command line, as a scheduler would run it, with the offline default."""
    shards = [tmp_path / f"out-{k}.jsonl" for k in range(1, 5)]
    for k, out in enumerate(shards, 1):
        proc = run_cli("batch", str(corpus), "-o", str(out), "--shard", f"{k}/4", "--workers",
                       "1", "--rate-limit", "400rpm,80000tpm", "--max-cost", "2")  # fmt: skip
        err = proc.stderr.decode()
        assert proc.returncode in (0, 60), err
        assert f"(shard {k}/4)" in err
        (run,) = _ledger(out)["runs"]
        assert run["shard"] == f"{k}/4"
        assert run["rate_limit"] == {"rpm": 100.0, "tpm": 20000.0}  # 1/4 of the job's
        assert run["max_cost"] == 0.5
        assert run["model"] == "rules"
        assert run["schema_version"] == "1"
    single = tmp_path / "all.jsonl"
    proc = run_cli("batch", str(corpus), "-o", str(single), "--workers", "1")
    assert proc.returncode == 60, proc.stderr.decode()

    per_shard = [set(_statuses(out)) for out in shards]
    assert sum(len(ids) for ids in per_shard) == len(set().union(*per_shard)) == 13
    assert all(per_shard), "4 shards of 13 articles: none empty with these ids"

    merged = tmp_path / "out.jsonl"
    proc = run_cli("merge", *map(str, shards), "-o", str(merged))
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "shards 1/4, 2/4, 3/4, 4/4; 13 article(s): 12 ok, 1 failed" in err
    assert _statuses(merged) == _statuses(single)
    assert _statuses(merged)["empty"] == "error"
    whole = {r["id"]: r["summary"] for r in _rows(single) if r["status"] == "ok"}
    for row in _rows(merged):  # the same summaries (rules are deterministic), meta aside
        if row["status"] == "ok":
            assert {k: v for k, v in row["summary"].items() if k != "meta"} == {
                k: v for k, v in whole[row["id"]].items() if k != "meta"
            }
    one, joined = _ledger(single), _ledger(merged)
    assert joined["total"]["runs"] == 4
    for key in ("total_tokens", "cost_usd"):
        assert joined["total"][key] == one["total"][key]
    articles = one["runs"][0]["articles"]
    assert joined["merged"]["articles"] == {"total": 13, "ok": articles["ok"],
                                            "failed": articles["failed"]}  # fmt: skip
    assert joined["merged"]["shards"] == ["1/4", "2/4", "3/4", "4/4"]
    assert joined["merged"]["missing_shards"] == []
    assert [r["merged_from"] for r in joined["runs"]] == [str(p) for p in shards]

    # The merged output is a batch output: fix the bad input, and a batch resumes into
    # it, running that article only; the ledger goes on, its merge section kept.
    (corpus / "empty.txt").write_text("The mayor said the bridge will reopen.", encoding="utf-8")
    proc = run_cli("batch", str(corpus), "-o", str(merged), "--workers", "1")
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "1 ok, 0 failed, 12 already done" in err
    assert set(_statuses(merged).values()) == {"ok"}
    assert len(_statuses(merged)) == 13
    resumed = _ledger(merged)
    assert resumed["total"]["runs"] == 5
    assert resumed["merged"] == joined["merged"]
    # ... but not as a shard: it holds all four.
    proc = run_cli("batch", str(corpus), "-o", str(merged), "--shard", "1/4")
    assert proc.returncode == 20
    assert "holds the results of shard 2/4, shard 3/4, shard 4/4, an unsharded batch" in (
        proc.stderr.decode()
    )


def test_shards_with_a_model_sum_tokens_and_cost(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """With the fake server: tokens and cost are not zero, one article fails after
    spending its tokens, and the merged ledger adds up to the single run's."""
    good = summary_reply(seed_summary)

    def answer(body: dict[str, Any]) -> Reply:
        sent = json.dumps(body["messages"])
        return Reply(body=completion(content="not json")) if "number 3." in sent else good

    fake_openai.responder = answer
    items = [BatchItem(f"n{i}", f"n{i}", f"{seed_text}\n\nThis copy is number {i}.")
             for i in range(10)]  # fmt: skip
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url, max_reasks=0)
    options = BatchOptions(concurrency=4, use_cache=False, rpm=600)
    single = tmp_path / "all.jsonl"
    whole = run_batch([], single, settings, options, prices=PRICES, items=items)
    assert whole.tokens == 10_000
    assert whole.failed == 1
    shards = [tmp_path / f"out-{k}.jsonl" for k in range(1, 5)]
    for k, out in enumerate(shards, 1):
        run_batch([], out, settings, options, prices=PRICES, items=items, shard=Shard(k, 4))
        assert _ledger(out)["runs"][0]["rate_limit"]["rpm"] == 150.0
    assert len(fake_openai.requests) == 20  # every article asked once per configuration

    merged = tmp_path / "out.jsonl"
    result = merge_outputs(shards, merged)
    assert (result.articles, result.ok, result.failed, result.duplicates) == (10, 9, 1, 0)
    assert result.total_tokens == 10_000
    assert result.cost_usd == pytest.approx(whole.cost_usd)
    assert result.cost_usd is not None
    assert result.cost_usd > 0
    assert _statuses(merged) == _statuses(single)
    assert next(r for r in _rows(merged) if r["id"] == "n3")["error"]["kind"] == (
        "InvalidOutputError"
    )
    one, joined = _ledger(single), _ledger(merged)
    assert joined["total"]["total_tokens"] == one["total"]["total_tokens"] == 10_000
    assert joined["total"]["cost_usd"] == pytest.approx(one["total"]["cost_usd"])
    assert joined["merged"]["usage"] == one["runs"][0]["usage"]
    assert joined["merged"]["cost_usd"] == pytest.approx(one["runs"][0]["cost_usd"])
    assert joined["merged"]["attempts"]["responses"] == one["runs"][0]["attempts"]["responses"]

    # Merged in two steps, or with a shard missing: the runs are counted once each.
    half = merge_outputs(shards[:2], tmp_path / "half.jsonl")
    assert half.missing == ["3/4", "4/4"]
    again = merge_outputs([tmp_path / "half.jsonl", *shards[1:]], tmp_path / "again.jsonl")
    assert again.runs == 4
    assert again.total_tokens == 10_000
    assert again.duplicates == len(_statuses(shards[1]))  # shard 2 came in twice
    assert _statuses(tmp_path / "again.jsonl") == _statuses(single)
    assert _ledger(tmp_path / "again.jsonl")["total"] == joined["total"]


# -- merge: which line wins --------------------------------------------------------------


def _shard_files(tmp_path: Path) -> dict[str, Any]:
    """An ok line and an error line per id, from a real run of the offline default."""
    items = [BatchItem(i, i, f"Talks on {i}. The mayor said {i} will reopen.") for i in "xyz"]
    base = tmp_path / "base.jsonl"
    run_batch([], base, Settings.resolve(model="rules"), BatchOptions(workers=1),
              prices={}, items=items)  # fmt: skip
    ok = {r["id"]: r for r in _rows(base)}
    run = _ledger(base)["runs"][0]

    def write(name: str, rows: list[tuple[str, str]], tokens: int, cost: float | None) -> Path:
        lines = []
        for item_id, mark in rows:
            if mark == "error":
                error = {"kind": "InvalidOutputError", "exit_code": 40, "message": "no"}
                record = {**ok[item_id], "status": "error", "error": error}
                record.pop("summary")
            else:
                record = json.loads(json.dumps(ok[item_id]))
                record["summary"]["meta"]["created_at"] = mark  # which file it came from
            lines.append(json.dumps(record))
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        entry = {**run, "shard": name, "usage": {"total_tokens": tokens}, "cost_usd": cost}
        ledger_path(path).write_text(json.dumps({"runs": [entry]}), encoding="utf-8")
        return path

    return {"write": write}


def _kept(path: Path) -> dict[str, str]:
    return {
        r["id"]: r["summary"]["meta"]["created_at"] if r["status"] == "ok" else "error"
        for r in _rows(path)
    }


def test_merge_keeps_a_summary_over_an_error_and_the_first_given(tmp_path: Path) -> None:
    write = _shard_files(tmp_path)["write"]
    a = write("a.jsonl", [("x", "A"), ("y", "error")], 100, 0.1)
    b = write("b.jsonl", [("x", "error"), ("y", "B"), ("z", "B")], 200, 0.2)
    c = write("c.jsonl", [("z", "C")], 300, 0.3)
    result = merge_outputs([a, b, c], tmp_path / "abc.jsonl")
    assert _kept(tmp_path / "abc.jsonl") == {"x": "A", "y": "B", "z": "B"}
    assert list(_kept(tmp_path / "abc.jsonl")) == ["x", "y", "z"]  # first seen, first
    assert (result.ok, result.failed, result.duplicates) == (3, 0, 3)
    assert (result.runs, result.total_tokens, result.cost_usd) == (3, 600, 0.6)
    listing = _ledger(tmp_path / "abc.jsonl")["merged"]["inputs"]
    assert [(e["lines"], e["kept"]) for e in listing] == [(2, 1), (3, 2), (1, 0)]
    # Given the other way round, the other summary of z wins; x keeps A's summary.
    merge_outputs([c, b, a], tmp_path / "cba.jsonl")
    assert _kept(tmp_path / "cba.jsonl") == {"z": "C", "x": "A", "y": "B"}
    # Two errors: the first given; a cost unknown anywhere is unknown in the sum.
    d = write("d.jsonl", [("x", "error")], 5, None)
    result = merge_outputs([d, b], tmp_path / "db.jsonl")
    assert _kept(tmp_path / "db.jsonl") == {"x": "error", "y": "B", "z": "B"}
    assert result.cost_usd is None
    assert _ledger(tmp_path / "db.jsonl")["total"]["cost_usd"] is None
    # A copy of a shard (same runs) adds its lines once and its cost once.
    shutil.copy(a, tmp_path / "a-copy.jsonl")
    shutil.copy(ledger_path(a), ledger_path(tmp_path / "a-copy.jsonl"))
    result = merge_outputs([a, tmp_path / "a-copy.jsonl"], tmp_path / "aa.jsonl")
    assert (result.runs, result.total_tokens, result.duplicates) == (1, 100, 2)


# -- merge: what it refuses --------------------------------------------------------------


def _refused(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    """The merge fails with one line and ``code``, writes nothing, changes no input."""
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["merge", *args])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, (args, result.stderr)
    assert len(lines) == 1, lines
    assert words in lines[0], lines
    assert "Traceback" not in result.stderr
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, "a refused merge wrote or changed a file"


def _rules_shards(tmp_path: Path, corpus: Path, n: int = 2, **overrides: Any) -> list[Path]:
    outs = []
    for k in range(1, n + 1):
        settings = Settings.resolve(**{"model": "rules", **overrides.get(str(k), {})})
        out = tmp_path / f"out-{k}.jsonl"
        run_batch([corpus], out, settings, BatchOptions(workers=1), prices={}, shard=Shard(k, n))
        outs.append(out)
    return outs


def _edit(path: Path, change: Any, line: int = 0) -> None:
    rows = path.read_text(encoding="utf-8").splitlines()
    row = json.loads(rows[line])
    change(row)
    rows[line] = json.dumps(row)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_merge_refuses_shards_of_another_model_prompt_or_schema(
    tmp_path: Path, corpus: Path
) -> None:
    (corpus / "empty.txt").unlink()
    one, two = _rules_shards(tmp_path, corpus, 2, **{"2": {"model": "baseline/lead"}})
    out = str(tmp_path / "merged.jsonl")
    _refused(tmp_path, [str(one), str(two), "-o", out], 64, "with model 'baseline/lead'")
    with pytest.raises(ShardMismatchError, match=r"out-2\.jsonl was made with model"):
        merge_outputs([one, two], out)

    def check(edit: Any, target: Path, words: str, line: bool = False) -> None:
        saved = target.read_bytes()
        if line:
            _edit(target, edit)
        else:
            ledger = json.loads(target.read_text())
            edit(ledger["runs"][0])
            target.write_text(json.dumps(ledger))
        _refused(tmp_path, [str(one), str(three), "-o", out], 64, words)
        target.write_bytes(saved)

    (three,) = [p for p in _rules_shards(tmp_path / "b", corpus, 2) if p.name == "out-2.jsonl"]
    assert merge_outputs([one, three], out).articles == 12  # these two do belong together
    Path(out).unlink()
    ledger_path(Path(out)).unlink()
    three_ledger = ledger_path(three)
    check(lambda run: run.update(prompt="summarize@v2"), three_ledger, "prompt 'summarize@v2'")
    check(lambda run: run.update(prompt_sha256="0" * 64), three_ledger, "prompt sha256 '000")
    check(lambda run: run.update(schema_version="2"), three_ledger, "schema version '2'")

    def schema_two(row: dict[str, Any]) -> None:
        row["summary"]["schema_version"] = "2"

    def prompt_v9(row: dict[str, Any]) -> None:
        row["summary"]["meta"]["prompt"] = {"name": "summarize", "version": "v9"}

    check(schema_two, three, "schema version '2'", line=True)
    check(prompt_v9, three, "'summarize@v9'", line=True)


def test_merge_refuses_missing_malformed_or_busy_shards(tmp_path: Path, corpus: Path) -> None:
    one, two = _rules_shards(tmp_path, corpus, 2)
    out = str(tmp_path / "merged.jsonl")
    good = [str(one), str(two)]

    def broken(name: str, data: bytes, ledger: bytes | None = None) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        if ledger is not None:
            ledger_path(path).write_bytes(ledger)
        return str(path)

    whole = one.read_bytes()
    ledger = ledger_path(one).read_bytes()
    first, rest = whole.split(b"\n", 1)
    cases = [
        (str(tmp_path / "nope.jsonl"), 11, "no such shard output"),
        (broken("no-ledger.jsonl", whole), 11, "no such file; merge sums the shards' ledgers"),
        (str(corpus), 12, "a directory, not a shard output"),
        (broken("middle.jsonl", first + b"\n{oops\n" + rest, ledger), 15, "line 2 is not JSON"),
        (broken("cut.jsonl", whole + b'{"id": "late", "sta', ledger), 15, "is cut short"),
        (broken("binary.jsonl", b"\xff\xfe\x00garbage\n", ledger), 15, "is not UTF-8"),
        (broken("deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n", ledger), 15, "not JSON"),
        (broken("input.jsonl", b'{"id": "a", "text": "An article."}\n', ledger), 15,
         "line 1 is not a batch result"),
        (broken("nosummary.jsonl", b'{"id": "a", "status": "ok"}\n', ledger), 15,
         "status ok without a summary"),
        (broken("badledger.jsonl", whole, b"{not json"), 15, "not a batch ledger"),
        (broken("runs.jsonl", whole, b'{"runs": {"a": 1}}'), 15, "not a batch ledger"),
        (broken("deepledger.jsonl", whole, b"[" * 100_000), 15, "not a batch ledger"),
    ]  # fmt: skip
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    cases.append((str(fifo), 23, "not a regular file"))
    for shard, code, words in cases:
        _refused(tmp_path, [*good, shard, "-o", out], code, words)
    # -o among the inputs or their ledgers, an input twice, an existing -o
    _refused(tmp_path, [*good, "-o", str(two)], 20, "is one of the shards being merged")
    _refused(tmp_path, [*good, "-o", str(ledger_path(one))], 20, "is one of the shards")
    _refused(tmp_path, [*good, str(tmp_path / "." / "out-1.jsonl"), "-o", out], 20, "given twice")
    # a shard that a batch is still writing
    with OutputLock(two):
        _refused(tmp_path, [*good, "-o", out], 63, "out-2.jsonl is still being written")
    ledger_path(Path(out)).write_text("{}", encoding="utf-8")  # left from something else
    _refused(tmp_path, [*good, "-o", out], 20, "exists; merge writes a new file")
    done = runner.invoke(app, ["merge", *good, "-o", out, "--force"])
    assert done.exit_code == 0, done.stderr
    assert len(_statuses(Path(out))) == 13
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".lock"))]


def test_an_output_holds_one_shard(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "out-2.jsonl"
    settings, options = Settings.resolve(model="rules"), BatchOptions(workers=1)
    run_batch([corpus], out, settings, options, prices={}, shard=Shard(2, 4))
    again = run_batch([corpus], out, settings, options, prices={}, shard=Shard(2, 4))
    assert again.done == 0
    assert again.skipped == again.total > 0
    with pytest.raises(ConfigurationError, match="holds the results of shard 2/4"):
        run_batch([corpus], out, settings, options, prices={}, shard=Shard(3, 4))
    whole = tmp_path / "whole.jsonl"
    run_batch([corpus], whole, settings, options, prices={})
    with pytest.raises(ConfigurationError, match="holds the results of an unsharded batch"):
        run_batch([corpus], whole, settings, options, prices={}, shard=Shard(1, 4))
