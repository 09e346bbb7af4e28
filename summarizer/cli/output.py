"""Writing a command's result: to stdout or to the file given with ``--output``.

One helper so that every result ends with exactly one newline wherever it goes, and
stdout is flushed inside the command, where a closed pipe is still handled by
:func:`summarizer.cli.errors.handle_errors` (not at exit, where it would print a
traceback).

``--output`` is checked with :func:`check_output` before the command does any work (a
summary is a paid model call: it must not be thrown away for want of a directory),
and written atomically: to a temporary file beside it, then renamed over it, so that
a failure half-way never leaves a half-written file, nor destroys the one that was
there. A path that exists and is not a regular file (``/dev/null``, ``/dev/stdout``,
a FIFO) is written to as it is, since renaming over it would replace the device.

A bad ``--output`` is a :class:`~summarizer.errors.ConfigurationError` (exit 20): it
is an option with a bad value, found before anything ran, like any other. (The
:class:`~summarizer.errors.OutputError` family means the model answered without a
usable summary, and carries that call's costs.) A write that fails later, after the
check (the disk is full, the directory went away), is reported the same way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from pathlib import Path

from summarizer.errors import ConfigurationError


def check_output(output: Path) -> None:
    """Raise ConfigurationError unless ``output`` can be written: an existing writable
    file or special file, or a new name in an existing, writable directory."""
    target, info = _target(output)
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise _bad(output, "is a directory; give a file name")
        if not os.access(target, os.W_OK):
            raise _bad(output, "permission denied")
        if not stat.S_ISREG(info.st_mode):
            return  # /dev/null, /dev/stdout, a FIFO: written in place
    parent = target.parent
    if not parent.exists():
        raise _bad(output, f"directory {parent} does not exist; create it first")
    if not parent.is_dir():
        raise _bad(output, f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _bad(output, f"directory {parent} is not writable")


def write_output(text: str, output: Path | None = None) -> None:
    """Write ``text`` (plus a final newline if it lacks one) to ``output`` or stdout."""
    text = text if text.endswith("\n") else text + "\n"
    if output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # a closed pipe (`| head`): silence and 141, see cli/errors.py
        except OSError as e:  # a full disk behind `> file`, /dev/full
            raise ConfigurationError(
                f"stdout cannot be written ({e.strerror or type(e).__name__})"
            ) from e
        return
    data = text.encode("utf-8")
    target, info = _target(output)
    try:
        if info is not None and not stat.S_ISREG(info.st_mode):
            with open(target, "wb") as stream:  # a device or FIFO: no rename over it
                stream.write(data)
        else:
            _replace_atomically(target, data, None if info is None else info.st_mode)
    except OSError as e:
        raise _bad(output, f"cannot be written ({e.strerror or type(e).__name__})") from e


class Results:
    """Several results of one command, e.g. one summary per input, to one place.

    To stdout each is written as it comes, so a reader (a pipe, a person) has it at
    once and an interruption keeps what was printed. To ``--output`` they are written
    together by :meth:`close`, still whole or not at all; after a failure or Ctrl-C
    too, so that one bad input or an interruption never loses the results finished
    before it. ``separator`` goes between two results (a rule between
    summaries for people; nothing between JSON lines).
    """

    def __init__(self, output: Path | None, separator: str = "") -> None:
        self.output = output
        self.separator = separator
        self.count = 0
        self._kept: list[str] = []

    def add(self, text: str) -> None:
        text = (self.separator if self.count else "") + text
        text = text if text.endswith("\n") else text + "\n"
        self.count += 1
        if self.output is None:
            write_output(text)
        else:
            self._kept.append(text)

    def close(self) -> None:
        """Write what is kept to ``--output``; nothing is written when nothing was added."""
        if self.output is not None and self._kept:
            write_output("".join(self._kept), self.output)
            self._kept.clear()


def _target(output: Path) -> tuple[Path, os.stat_result | None]:
    """Where to write ``output``, and what is there now (None: nothing yet).

    A symlink to a file, or a dangling one, is followed, so that the file it points
    to is replaced, not the link. Anything else that exists (a device, a FIFO; also
    ``/dev/stdout``, whose real path names no file) is used as given.
    """
    try:
        info = os.stat(output)
    except (FileNotFoundError, NotADirectoryError):
        info = None
    except OSError as e:  # a symlink loop, a name too long...
        raise _bad(output, e.strerror or type(e).__name__) from e
    if info is not None and not stat.S_ISREG(info.st_mode):
        return output, info
    return Path(os.path.realpath(output)), info


def _replace_atomically(target: Path, data: bytes, mode: int | None) -> None:
    """Write ``data`` to a new file beside ``target``, then rename it over ``target``.

    The new file is created with the umask's permissions, or the replaced file's.
    """
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), stat.S_IMODE(mode))
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _bad(output: Path, reason: str) -> ConfigurationError:
    return ConfigurationError(f"--output {output}: {reason}")
