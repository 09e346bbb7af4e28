"""Keys added or removed with ``summarizer keys`` work without a restart (#14); a keys
file broken while the server runs keeps the keys it had: never open, never a 500."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from summarizer.cli import app as cli
from summarizer.serve import auth
from summarizer.serve.app import create_app
from summarizer.serve.auth import KeyRing, add_key
from summarizer.serve.config import ServeConfig

runner = CliRunner()


@asynccontextmanager
async def serving(ring: KeyRing) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ServeConfig(keys=ring))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve.test") as client:
        yield client
    await app.state.service.aclose()


async def status(client: httpx.AsyncClient, key: str) -> int:
    """What a summary request with ``key`` gets: 200, or 401 for a key not taken."""
    response = await client.post("/v1/summaries", json={"text": "A council met. It voted."},
                                 headers={"authorization": f"Bearer {key}"})  # fmt: skip
    assert response.status_code in (200, 401), response.text
    return response.status_code


def keys(*args: str) -> str:
    """``summarizer keys ...``, as an operator runs it; its stdout."""
    result = runner.invoke(cli, ["keys", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


async def test_keys_added_and_removed_work_at_once(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    alice = add_key(path, "alice")
    async with serving(KeyRing.load(path, recheck=0)) as client:
        bob = keys("add", "bob", "--keys", str(path))
        assert await status(client, bob) == 200
        assert await status(client, alice) == 200
        keys("remove", "alice", "--keys", str(path))
        assert await status(client, alice) == 401
        assert await status(client, bob) == 200
        keys("remove", "bob", "--keys", str(path))  # no key left: nobody, not everybody
        assert await status(client, bob) == 401
        assert await status(client, "") == 401


async def test_the_file_is_looked_at_once_a_second_at_most(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.toml"
    add_key(path, "alice")
    looks: list[Path] = []
    stamp = auth._stamp

    def counted(where: Path) -> tuple[int, ...]:
        looks.append(where)
        return stamp(where)

    monkeypatch.setattr(auth, "_stamp", counted)
    ring = KeyRing.load(path)  # the default: 1 s
    looks.clear()
    bob = add_key(path, "bob")
    started = time.monotonic()
    answers = [ring.identify(bob) for _ in range(200)]
    if time.monotonic() - started < 0.9:  # (a slow machine may pass the second meanwhile)
        assert answers == [None] * 200
        assert looks == []
    time.sleep(1.05)
    assert ring.identify(bob) == "bob"
    assert len(looks) <= 2


def _not_toml(path: Path) -> None:
    path.write_text('[keys."alice"\nsha256 = ', encoding="utf-8")


def _binary(path: Path) -> None:
    path.write_bytes(b"\xff\xfe\x00garbage")


def _bad_hash(path: Path) -> None:
    path.write_text('[keys."eve"]\nsha256 = "abc"\n', encoding="utf-8")


def _other_shape(path: Path) -> None:
    path.write_text('keys = "everyone"\n', encoding="utf-8")


def _deleted(path: Path) -> None:
    path.unlink()


def _a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize(
    "breaks", [_not_toml, _binary, _bad_hash, _other_shape, _deleted, _a_directory]
)
async def test_a_broken_file_keeps_the_keys_it_had(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, breaks: Any
) -> None:
    caplog.set_level(logging.INFO, logger="summarizer.serve")
    path = tmp_path / "keys.toml"
    alice = add_key(path, "alice")
    async with serving(KeyRing.load(path, recheck=0)) as client:
        breaks(path)
        answers = [await status(client, alice) for _ in range(3)]
        wrong = [await status(client, key) for key in ("", "sk-sum-guess", "abc")]
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            os.unlink(path)
        bob = add_key(path, "bob")  # a good file again: read as usual
        fixed = (await status(client, bob), await status(client, alice))
    assert answers == [200, 200, 200]
    assert wrong == [401, 401, 401]
    assert fixed == (200, 401)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # one line, not one a request
    assert warnings[0].startswith(f"keys file {path}")
    assert warnings[0].endswith("keeping the 1 key(s) read before")
    assert alice not in caplog.text
    assert "read again: 1 key(s)" in caplog.text
