"""The eval table printed to a pipe or a file, byte for byte as rich prints it there,
without importing rich.

``eval score`` and ``eval run`` end with :func:`summarizer.evals.report.print_table`,
and rich, imported and drawing one table, was a tenth of the 0.3 s that ``eval score``
of one article may take to start and finish (issue #11). Where the output is not a
terminal (CI logs, ``> scores.txt``, ``| less``), rich draws the table without colour
at 150 columns, and for the table the commands print (one line per article and a few
numbers) that is plain box drawing: :func:`print_plain_table` draws it, and declines
(it prints nothing and returns False, and rich draws the table) whenever rich could
draw something else: on a terminal or with ``FORCE_COLOR`` (colour), with an encoding
that is not UTF-8 (rich draws an ASCII box), under Jupyter or Windows, in a table wider
than 150 columns (rich wraps cells), or for text it would measure or clean in a way
this module does not (anything but printable ASCII and the dash that stands for "no
figure", or spaces at the ends of a cell). ``tests/test_startup_imports.py`` compares
the two on many tables.

The rows are the ones :func:`~summarizer.evals.report.print_table` builds, in the
same order; a change there needs the same change here (the test fails until then).
"""

from __future__ import annotations

import builtins
import os
import sys
from typing import Any, NamedTuple, TextIO

from summarizer.evals.report import ERROR_CHARS, mean_supported, supported_rate
from summarizer.evals.runs import SECTIONS

WIDTH = 150  # what print_table gives rich when the output is not a terminal
_NO_FIGURE = "—"  # print_table's cell for a rate it does not have
_PLAIN = frozenset(map(chr, range(0x20, 0x7F))) | {_NO_FIGURE}  # one column each


class _Table(NamedTuple):
    """What ``print_table`` draws: the title, the header, each column's justification,
    the rows (cells, and whether a section rule follows) and the lines under it."""

    title: str
    header: list[str]
    justify: list[str]
    rows: list[tuple[list[str], bool]]
    under: list[str]


def print_plain_table(report: dict[str, Any]) -> bool:
    """Print ``report``'s table and errors on stdout as ``print_table`` would, if this
    is a case it draws exactly like rich (see the module docstring); False, having
    printed nothing, otherwise."""
    out = sys.stdout
    if not _plain_output(out):
        return False
    try:
        table = _table(report)
    except Exception:  # noqa: BLE001 - rich fails on it too, with the error to show
        return False
    cells = [table.header, *(cells for cells, _ in table.rows)]
    if not all(_fits(cell) for cell in (table.title, *(c for row in cells for c in row))):
        return False
    widths = [max(len(row[k]) for row in cells) + 2 for k in range(len(table.header))]
    width = sum(widths) + len(widths) + 1
    if width > WIDTH or len(table.title) > width or not all(map(_clean, table.under)):
        return False
    lines = [
        _centered(table.title, width),
        _rule("┏━┳┓", widths),
        _row("┃┃┃", table.header, widths, table.justify),
        _rule("┡━╇┩", widths),
    ]
    for row, section_ends in table.rows:
        lines.append(_row("│││", row, widths, table.justify))
        if section_ends:
            lines.append(_rule("├─┼┤", widths))
    lines.append(_rule("└─┴┘", widths))
    _write(out, "\n".join(lines) + "\n")
    for line in table.under:  # one print each, as print_table does
        _write(out, line + "\n")
    return True


def _table(report: dict[str, Any]) -> _Table:
    """The table as ``print_table`` builds it, row by row."""
    header = ["article", "overall", *(s.replace("_", " ") for s in SECTIONS), "supported"]
    rows: list[tuple[list[str], bool]] = []
    for case_id, result in sorted(report["articles"].items()):
        name = case_id + (" (error, below)" if "error" in result else "")
        scores = [result["score"], *(result["sections"][s]["score"] for s in SECTIONS)]
        rows.append(([name, *(f"{x:.3f}" for x in scores), _rate(supported_rate(result))], False))
    if rows:  # rich's add_section() ends the articles' section; with none, no rule
        rows[-1] = (rows[-1][0], True)
    agg = report["aggregate"]
    means = [f"{agg['sections'][s]:.3f}" for s in SECTIONS]
    mean_row = [f"mean of {agg['articles']}", f"{agg['score']:.3f}", *means]
    rows.append(([*mean_row, _rate(mean_supported(report))], False))
    floor = report.get("floor")
    if floor:
        fagg = floor["aggregate"]
        floors = [f"{fagg['sections'][s]:.3f}" for s in SECTIONS]
        floor_row = [f"{floor['method']} baseline (no model)", f"{fagg['score']:.3f}", *floors]
        rows.append(([*floor_row, _rate(fagg.get("supported"))], False))
    errors = {i: r["error"] for i, r in sorted(report["articles"].items()) if "error" in r}
    under = [f"errors (scored 0): {len(errors)} of {agg['articles']}"] if errors else []
    for case_id, error in errors.items():
        line = " ".join(str(error).split())
        line = line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 3] + "..."
        under.append(f"  {case_id}: {line}")
    title = f"eval: {report['run'].get('dataset', '')}"
    return _Table(title, header, ["left", *["right"] * (len(header) - 1)], rows, under)


def _rate(value: float | None) -> str:
    return _NO_FIGURE if value is None else f"{value:.3f}"


def _plain_output(out: TextIO) -> bool:
    """Whether rich, given ``out``, draws without colour at ``WIDTH`` columns in UTF-8:
    its ``Console.is_terminal`` is False (checked as it checks it) and nothing else
    changes how it draws."""
    if sys.platform == "win32" or hasattr(builtins, "get_ipython"):
        return False  # legacy Windows consoles and Jupyter: rich's own ways
    if hasattr(out, "rich_proxied_file"):  # a live rich display holds stdout
        return False
    if getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return False
    if not (getattr(out, "encoding", "utf-8") or "utf-8").lower().startswith("utf"):
        return False  # rich draws an ASCII box
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "0"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color == ""
    isatty = getattr(out, "isatty", None)
    try:
        return isatty is None or not isatty()
    except ValueError:  # closed: rich says "not a terminal" too
        return True


def _fits(cell: str) -> bool:
    """One column a character, nothing rich would strip or wrap: measured and drawn
    here as rich does."""
    return _PLAIN.issuperset(cell) and cell == cell.strip() and "  " not in cell


def _clean(line: str) -> bool:
    """A line under the table that rich prints as it is (no control character to
    strip, no trailing space to trim)."""
    return _PLAIN.issuperset(line) and line == line.rstrip()


def _centered(text: str, width: int) -> str:
    left = (width - len(text)) // 2
    return " " * left + text + " " * (width - len(text) - left)


def _rule(box: str, widths: list[int]) -> str:
    left, line, cross, right = box[0], box[1], box[2], box[3]
    return left + cross.join(line * width for width in widths) + right


def _row(box: str, cells: list[str], widths: list[int], justify: list[str]) -> str:
    left, vertical, right = box[0], box[1], box[2]
    padded = [
        f" {cell.ljust(width - 2) if how == 'left' else cell.rjust(width - 2)} "
        for cell, width, how in zip(cells, widths, justify, strict=True)
    ]
    return left + vertical.join(padded) + right


def _write(out: TextIO, text: str) -> None:
    """Write and flush as rich does, and on a closed pipe (``| head``) exit as rich
    does: status 1, with stdout pointed at /dev/null so that nothing more fails."""
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1) from None
