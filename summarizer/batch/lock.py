"""One writer per output file: a batch holds an exclusive lock on ``<out>.lock``.

Two batches on one ``--out`` used to lose results silently: the one starting
replaced the file (dropping its error lines) while the other kept appending to the
file it had open, which was no longer the one on disk. So a batch takes the lock
before it reads or rewrites the output, and holds it until its ledger entry is
final; a second batch is refused at once with :class:`OutputLockedError`, which
names the process holding it. The lock is an ``flock`` on the sidecar file, which
holds the holder's PID: the kernel releases it when the holder exits, however it
dies, so a killed batch never leaves a lock behind, only the file with its PID
(which the next run takes over). The holder removes the file when it is done.

Forked workers inherit the lock's descriptor; they close it at once
(:meth:`OutputLock.close_in_child`), so that a worker outliving its parent cannot
keep the output locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from summarizer.errors import ConfigurationError, OutputLockedError

# The locks this process holds, by lock file: a nested OutputLock on the same output
# in the same thread (the CLI locks before reading inputs, run_batch locks again) is
# the same lock.
_held: dict[str, OutputLock] = {}


class OutputLock:
    """``with OutputLock(out):`` — this process is the only writer of ``out``.

    Raises :class:`OutputLockedError` at once when another process (or another thread
    of this one) holds it. ``stale_pid`` is the PID left in the lock file by a holder
    that died, if any.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        real = Path(os.path.realpath(out))  # two names for one file are one output
        self.path = real.with_name(real.name + ".lock")
        self.stale_pid: int | None = None
        self._fd = -1
        self._outer: OutputLock | None = None
        self._thread = threading.get_ident()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        key = str(self.path)
        outer = _held.get(key)
        if outer is not None:
            if outer._thread != threading.get_ident():
                raise OutputLockedError(_locked_message(self.out, os.getpid()))
            self._outer = outer
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):  # only a holder removing the file at that moment retries
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_pid(fd)
                os.close(fd)
                raise OutputLockedError(_locked_message(self.out, holder)) from None
            except OSError as e:  # ENOLCK: a file system without locks
                os.close(fd)
                raise ConfigurationError(
                    f"{self.path}: cannot lock it ({e.strerror}); choose an --out on a "
                    "local file system"
                ) from e
            if _same_file(fd, self.path):
                break
            os.close(fd)  # its holder removed it as we opened it: take the new one
        else:
            raise OutputLockedError(_locked_message(self.out, None))
        self.stale_pid = _holder_pid(fd, wait=0.0)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        _held[key] = self

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise ConfigurationError(
                f"{self.path}: cannot create the lock file next to the output "
                f"({e.strerror}); choose another --out"
            ) from e

    def release(self) -> None:
        if self._outer is not None:
            self._outer = None
            return
        if self._fd < 0:
            return
        _held.pop(str(self.path), None)
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # still ours: whoever opened it will see it is gone
        os.close(self._fd)
        self._fd = -1

    def close_in_child(self) -> None:
        """In a forked child: close the inherited descriptor without unlocking (the
        lock belongs to the open file, which the parent keeps)."""
        holder = self._outer or self
        if holder._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(holder._fd)
            holder._fd = -1


def _locked_message(out: Path, pid: int | None) -> str:
    who = f"another batch (pid {pid})" if pid is not None else "another batch"
    stop = f" (or stop it: kill {pid})" if pid is not None and pid != os.getpid() else ""
    return (
        f"{out} is being written by {who}; wait for it to finish{stop} and run the "
        "same command again to continue, or choose another --out"
    )


def _holder_pid(fd: int, wait: float = 0.5) -> int | None:
    """The PID in the lock file; a holder writes it just after locking, so an empty
    file is read again for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return None
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)
