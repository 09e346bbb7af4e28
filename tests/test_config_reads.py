"""The config file is read once while it is unchanged (the call log asks for the cache
dir per model call), and again as soon as it changes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import summarizer.config as config_module
from summarizer import calllog
from summarizer.config_keys import user_config


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """Every read of a config file, by path."""
    seen: list[Path | None] = []
    real = config_module.read_config

    def counting(path: Path | None) -> config_module.ConfigFile | None:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(config_module, "read_config", counting)
    return seen


def _settled(path: Path, text: str) -> None:
    """Write ``path`` and age it past the window in which a file is re-read anyway."""
    path.write_text(text, encoding="utf-8")
    old = time.time() - 10
    os.utime(path, (old, old))


def _age_ctime(monkeypatch: pytest.MonkeyPatch) -> None:
    """ctime cannot be set: move the clock the freshness check reads instead."""
    later = time.time_ns() + 5_000_000_000
    monkeypatch.setattr("summarizer.config_keys.time.time_ns", lambda: later)


def test_unchanged_file_is_read_once(
    tmp_path: Path, reads: list[Path | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.toml"
    _settled(cfg, 'cache_dir = "answers"\n')
    _age_ctime(monkeypatch)
    env = {"SUMMARIZER_CONFIG": str(cfg)}
    first = user_config(env)
    for _ in range(50):
        assert user_config(env) == first
    assert first["cache_dir"] == str(tmp_path / "answers")
    assert reads == [cfg]


def test_changed_file_is_read_again(
    tmp_path: Path, reads: list[Path | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.toml"
    _settled(cfg, 'cache_dir = "one"\n')
    _age_ctime(monkeypatch)
    env = {"SUMMARIZER_CONFIG": str(cfg)}
    assert user_config(env)["cache_dir"] == str(tmp_path / "one")
    _settled(cfg, 'cache_dir = "two-longer"\n')  # another size and mtime
    assert user_config(env)["cache_dir"] == str(tmp_path / "two-longer")
    assert len(reads) == 2


def test_a_fresh_file_is_never_trusted(tmp_path: Path, reads: list[Path | None]) -> None:
    """Two writes of one size within a clock tick look alike to stat: a file changed
    in the last seconds is read every time."""
    cfg = tmp_path / "config.toml"
    env = {"SUMMARIZER_CONFIG": str(cfg)}
    cfg.write_text('cache_dir = "aaa"\n', encoding="utf-8")
    assert user_config(env)["cache_dir"] == str(tmp_path / "aaa")
    cfg.write_text('cache_dir = "bbb"\n', encoding="utf-8")  # same size, same tick maybe
    assert user_config(env)["cache_dir"] == str(tmp_path / "bbb")
    assert len(reads) == 2


def test_a_file_turned_bad_is_an_error_not_the_old_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.toml"
    _settled(cfg, 'cache_dir = "one"\n')
    _age_ctime(monkeypatch)
    env = {"SUMMARIZER_CONFIG": str(cfg)}
    user_config(env)
    _settled(cfg, "cache_dir = [\n")
    with pytest.raises(config_module.ConfigurationError, match="not valid TOML"):
        user_config(env)


def test_the_call_log_reads_the_config_once_per_change(
    tmp_path: Path, reads: list[Path | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path: ``calllog.current()`` per model call, the cache dir from the file."""
    cfg = tmp_path / "config.toml"
    _settled(cfg, f'cache_dir = "{tmp_path / "cache"}"\n')
    _age_ctime(monkeypatch)
    monkeypatch.setenv("SUMMARIZER_CONFIG", str(cfg))
    monkeypatch.delenv("SUMMARIZER_CACHE_DIR", raising=False)
    monkeypatch.delenv("SUMMARIZER_LOG", raising=False)
    monkeypatch.setattr(calllog, "_enabled", True)
    try:
        logs = {calllog.current() for _ in range(20)}
    finally:
        calllog.close_all()
    assert len(logs) == 1
    assert None not in logs
    assert reads == [cfg]
