"""`summarizer batch` under process and file-system faults (#12): two runs on one
``--out``, a worker killed, the parent killed, symlink loops and unreadable entries
in an input directory.

Each case asserts the exit code, a one-line message and that no finished result is
lost. The fake server listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from summarizer.batch import BatchItem, BatchOptions, collect_items, run_batch
from summarizer.batch.ledger import ledger_path
from summarizer.settings import Settings
from tests.fakeserver import FakeOpenAI, Reply, summary_reply
from tests.test_cli import run_cli, start_cli

LOCKED = 63  # OutputLockedError


def _article(seed_text: str, i: int) -> str:
    """A distinct article that the seed summary's quotes still ground in."""
    return f"{seed_text}\n\nEditor's note {i}: this copy is number {i}."


def _jsonl(tmp_path: Path, seed_text: str, prefix: str, n: int) -> Path:
    rows = [json.dumps({"id": f"{prefix}{i}", "text": _article(seed_text, i)}) for i in range(n)]
    path = tmp_path / f"{prefix}.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    """Every line of a results file; each must parse (no line cut short)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _slow(seed_summary: dict[str, Any], delay: float) -> Reply:
    return Reply(**{**summary_reply(seed_summary).__dict__, "delay": delay})


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(c) for c in path.read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def _error_lines(stderr: bytes) -> list[str]:
    err = stderr.decode()
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("summarizer: error:")]


def _batch_args(inp: Path, out: Path, url: str, *more: str) -> list[str]:
    return ["batch", str(inp), "-o", str(out), "--model", "fake-model", "--base-url", url, *more]


@pytest.mark.timeout(180)
def test_a_second_batch_on_the_same_out_refuses_and_the_first_loses_nothing(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """Before: the second run rewrote the file the first was appending to; both said
    "ok" and exited 0, and the first run's later summaries were gone."""
    fake_openai.default = _slow(seed_summary, 0.3)
    out = tmp_path / "r.jsonl"
    first = start_cli(*_batch_args(_jsonl(tmp_path, seed_text, "a", 60), out, fake_openai.url,
                                   "-c", "2"))  # fmt: skip
    try:
        _wait_for(lambda: len(_rows(out)) >= 2, 60, "the first batch's first lines")
        second = run_cli(*_batch_args(_jsonl(tmp_path, seed_text, "b", 5), out, fake_openai.url))
        assert first.poll() is None, "the first batch ended before the second was refused"
        errors = _error_lines(second.stderr)
        assert second.returncode == LOCKED, second.stderr.decode()
        assert len(errors) == 1, second.stderr.decode()
        assert f"pid {first.pid}" in errors[0]
        assert str(out) in errors[0]
        _, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=10)
    assert first.returncode == 0, stderr.decode()
    rows = _rows(out)
    assert sorted(r["id"] for r in rows) == sorted(f"a{i}" for i in range(60))
    assert all(r["status"] == "ok" for r in rows)
    runs = json.loads(ledger_path(out).read_text())["runs"]
    assert [r["status"] for r in runs] == ["finished"]  # the refused run left no entry
    assert not Path(f"{out}.lock").exists()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_worker_fails_only_its_own_articles(
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    seed_text: str,
    seed_summary: dict[str, Any],
    victim: int,
) -> None:
    """Before: the parent usually died of ConnectionResetError or BrokenPipeError."""
    fake_openai.default = _slow(seed_summary, 0.3)
    out = tmp_path / "r.jsonl"
    args = _batch_args(_jsonl(tmp_path, seed_text, "d", 16), out, fake_openai.url,
                       "-c", "2", "--workers", "2")  # fmt: skip
    proc = start_cli(*args)
    try:
        _wait_for(lambda: len(_children(proc.pid)) == 2, 60, "two workers")
        workers = _children(proc.pid)
        _wait_for(lambda: len(fake_openai.requests) >= 2, 60, "requests in flight")
        os.kill(workers[victim], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 60, stderr.decode()
    errors = _error_lines(stderr)
    assert len(errors) == 1
    assert "article(s) failed" in errors[0]
    rows = _rows(out)
    assert sorted(r["id"] for r in rows) == sorted(f"d{i}" for i in range(16))
    died = [r for r in rows if r["status"] == "error"]
    # Only what the killed worker held: at most its window (1 slot, 2 tasks, 2 queued).
    assert 1 <= len(died) <= 4
    for row in died:
        assert row["error"]["kind"] == "WorkerDiedError"
        assert row["error"]["exit_code"] == 62
        assert f"worker process {workers[victim]}" in row["error"]["message"]
    ok = [r["id"] for r in rows if r["status"] == "ok"]

    before = len(fake_openai.requests)
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr.decode()
    # The finished ones are kept; a died one may have had its answer cached.
    cached = json.loads(ledger_path(out).read_text())["runs"][-1]["articles"]["cached"]
    assert len(fake_openai.requests) - before + cached == len(died)
    rows = _rows(out)
    assert sorted(r["id"] for r in rows) == sorted(f"d{i}" for i in range(16))
    assert all(r["status"] == "ok" for r in rows)
    assert set(ok) <= {r["id"] for r in rows}


@pytest.mark.timeout(120)
def test_a_worker_dying_with_unread_articles_does_not_take_the_parent_down(
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    seed_text: str,
    seed_summary: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The case the parent used to crash on (ConnectionResetError): a worker dies with
    articles the parent sent still unread in its pipe. Here one never reads them."""
    from summarizer.batch import workers

    fake_openai.default = summary_reply(seed_summary)
    marker = tmp_path / "victim"
    real_main = workers._worker_main

    def worker_main(*args: Any) -> None:
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:  # the other worker: a real one
            real_main(*args)
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        time.sleep(1.0)  # the parent deals this worker its window meanwhile
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(workers, "_worker_main", worker_main)
    items = [BatchItem(f"u{i}", f"u{i}", _article(seed_text, i)) for i in range(12)]
    settings = Settings.resolve(model="fake-model", base_url=fake_openai.url)
    options = BatchOptions(concurrency=4, workers=2, use_cache=False)
    out = tmp_path / "r.jsonl"
    stats = run_batch([], out, settings, options, prices={}, items=items)
    victim = int(marker.read_text())
    rows = _rows(out)
    assert sorted(r["id"] for r in rows) == sorted(item.id for item in items)
    died = [r for r in rows if r["status"] == "error"]
    assert 1 <= len(died) == stats.failed <= 5  # its window: 2 slots, 3 tasks, 2 queued
    for row in died:
        assert row["error"]["kind"] == "WorkerDiedError"
        message = row["error"]["message"]
        assert message.startswith(f"worker process {victim} died (killed by SIGKILL)")
    assert json.loads(ledger_path(out).read_text())["runs"][0]["status"] == "finished"

    monkeypatch.setattr(workers, "_worker_main", real_main)
    again = run_batch([], out, settings, options, prices={}, items=items)
    assert (again.skipped, again.done, again.failed) == (12 - len(died), len(died), 0)
    assert all(r["status"] == "ok" for r in _rows(out))


@pytest.mark.timeout(180)
def test_a_killed_parent_takes_its_workers_along_and_the_ledger_keeps_its_spend(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """Before: the workers lived on, and the killed run was missing from the ledger."""
    fake_openai.default = _slow(seed_summary, 0.25)
    out = tmp_path / "r.jsonl"
    prices = tmp_path / "prices.toml"
    prices.write_text('["compatible/fake-model"]\ninput = 1\noutput = 2\n')
    args = _batch_args(_jsonl(tmp_path, seed_text, "k", 60), out, fake_openai.url,
                       "-c", "2", "--workers", "2", "--prices", str(prices))  # fmt: skip
    proc = start_cli(*args)
    workers: list[int] = []
    try:
        _wait_for(lambda: len(_children(proc.pid)) == 2, 60, "two workers")
        workers = _children(proc.pid)

        def ledger_counts_four() -> bool:
            try:
                run = json.loads(ledger_path(out).read_text())["runs"][-1]
            except (OSError, ValueError, LookupError):
                return False
            return bool(run["articles"]["ok"] >= 4)

        _wait_for(lambda: len(_rows(out)) >= 4, 60, "four summaries in the output")
        # Kept current while the run goes on (every RunLedger.INTERVAL at most).
        _wait_for(ledger_counts_four, 5, "four summaries in the ledger")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        _wait_for(lambda: not any(_alive(w) for w in workers), 5, "the workers to exit")
    finally:  # nothing of the batch outlives the test, whatever failed
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # the workers held its pipes too
    done = _rows(out)  # every line parses
    assert 4 <= len(done) < 60
    assert all(r["status"] == "ok" for r in done)
    killed = json.loads(ledger_path(out).read_text())["runs"]
    assert len(killed) == 1
    assert killed[0]["status"] == "running"
    assert killed[0]["pid"] == proc.pid
    ok = killed[0]["articles"]["ok"]
    assert 4 <= ok <= len(done)
    assert killed[0]["usage"]["total_tokens"] == 1000 * ok  # 700 + 300 per answer
    assert killed[0]["cost_usd"] == pytest.approx(ok * (700 * 1 + 300 * 2) / 1e6)

    fake_openai.default = summary_reply(seed_summary)
    before = len(fake_openai.requests)
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert f"{len(done)} already done" in rerun.stderr.decode()
    assert sorted(r["id"] for r in _rows(out)) == sorted(f"k{i}" for i in range(60))
    runs = json.loads(ledger_path(out).read_text())["runs"]
    assert [r["status"] for r in runs] == ["killed", "finished"]
    # Only the unfinished are asked again; answers the killed workers had already
    # cached (but could no longer report) cost nothing now.
    assert len(fake_openai.requests) - before + runs[1]["articles"]["cached"] == 60 - len(done)
    assert runs[0]["usage"] == killed[0]["usage"]  # what the killed run spent stays


@pytest.mark.timeout(120)
def test_a_symlink_loop_in_an_input_directory_is_that_articles_error_line(
    fake_openai: FakeOpenAI, tmp_path: Path, seed_text: str, seed_summary: dict[str, Any]
) -> None:
    """Before: a looping link as an input was an internal error (exit 1) that stopped
    the batch, and one inside a directory was skipped without a word."""
    fake_openai.default = summary_reply(seed_summary)
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(_article(seed_text, 1), encoding="utf-8")
    (folder / "sub" / "b.txt").write_text(_article(seed_text, 2), encoding="utf-8")
    (folder / "loop.txt").symlink_to("loop.txt")
    (folder / "sub" / "up").symlink_to("..")  # a directory cycle: not followed
    (tmp_path / "self.txt").symlink_to("self.txt")
    out = tmp_path / "r.jsonl"
    args = ["batch", str(folder), str(tmp_path / "self.txt"), "-o", str(out),
            "--model", "fake-model", "--base-url", fake_openai.url]  # fmt: skip
    proc = run_cli(*args)
    assert proc.returncode == 60, proc.stderr.decode()
    errors = _error_lines(proc.stderr)
    assert len(errors) == 1
    assert "2 of 4 article(s) failed" in errors[0]
    by_id = {r["id"]: r for r in _rows(out)}
    assert sorted(by_id) == ["a", "loop", "self", "sub/b"]
    assert by_id["a"]["status"] == by_id["sub/b"]["status"] == "ok"
    for name in ("loop", "self"):
        assert by_id[name]["status"] == "error"
        assert "symbolic link loop" in by_id[name]["error"]["message"]
        assert by_id[name]["error"]["exit_code"] == 11

    for n, link in enumerate((folder / "loop.txt", tmp_path / "self.txt"), 3):
        link.unlink()
        link.write_text(_article(seed_text, n), encoding="utf-8")
    before = len(fake_openai.requests)
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert len(fake_openai.requests) - before == 2
    assert all(r["status"] == "ok" for r in _rows(out))


def test_an_unreadable_directory_is_an_error_item(
    tmp_path: Path, seed_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory that cannot be listed was skipped without a word (pathlib swallows
    PermissionError), its articles silently missing from the batch; a broken link was
    skipped the same way."""
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "c.txt").write_text(seed_text, encoding="utf-8")
    (folder / "a.txt").write_text(seed_text, encoding="utf-8")
    (folder / "dangling.txt").symlink_to("nowhere.txt")
    (folder / "cycle").symlink_to(".")  # a link to a directory: not followed
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "locked":  # tests run as root, who reads everything
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    items = {item.id: item for item in collect_items([folder])}
    assert sorted(items) == ["a", "dangling", "locked/"]
    assert items["a"].error is None
    assert "cannot list this directory (permission denied)" in str(items["locked/"].error)
    assert "no such file" in str(items["dangling"].error)


def test_finished_lines_survive_unicode_line_breaks_and_a_missing_line_end(tmp_path: Path) -> None:
    """JSON keeps U+2028 and U+0085 raw inside strings; splitting lines on them made a
    rerun refuse the file as "not a batch result". A last line whole but without its
    line end would have had the next result glued onto it."""
    from summarizer.batch.ledger import load_finished

    out = tmp_path / "r.jsonl"
    ok = [json.dumps({"id": f"x{i}", "status": "ok", "summary": {"text": "a\u2028b\x85c"}},
                     ensure_ascii=False) for i in range(2)]  # fmt: skip
    failed = json.dumps({"id": "y", "status": "error"})
    out.write_text(f"{ok[0]}\n{failed}\n{ok[1]}", encoding="utf-8")
    assert load_finished(out) == {"x0", "x1"}
    assert out.read_text(encoding="utf-8") == f"{ok[0]}\n{ok[1]}\n"


def test_the_lock_message_names_the_holder(tmp_path: Path) -> None:
    """The lock on its own: a second holder is refused with the first one's pid, and
    a lock left by a dead process is taken over."""
    from summarizer.batch.lock import OutputLock
    from summarizer.errors import OutputLockedError

    out = tmp_path / "r.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(out) + '.lock'!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "os.write(fd, str(os.getpid()).encode())\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(OutputLockedError) as caught, OutputLock(out):
            pass
        assert f"pid {holder.pid}" in str(caught.value)
        assert caught.value.exit_code == LOCKED
        assert "\n" not in str(caught.value)
    finally:
        holder.kill()
        holder.communicate(timeout=10)
    with OutputLock(out) as lock:  # the holder died: its lock went with it
        assert Path(f"{out}.lock").read_text() == str(os.getpid())
        assert lock.stale_pid == holder.pid
    assert not Path(f"{out}.lock").exists()
