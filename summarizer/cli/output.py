"""Writing a command's result: to stdout or to the file given with ``--output``.

One helper so that every result ends with exactly one newline wherever it goes, and
stdout is flushed inside the command, where a closed pipe is still handled by
:func:`summarizer.cli.errors.handle_errors` (not at exit, where it would print a
traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_output(text: str, output: Path | None = None) -> None:
    """Write ``text`` (plus a final newline if it lacks one) to ``output`` or stdout."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
