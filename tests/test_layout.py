"""Rules that keep the package easy to live in. The layer contracts themselves are in
pyproject.toml ([tool.importlinter]) and run by `make lint` (lint-imports); these
are the ones import-linter does not state."""

from __future__ import annotations

import ast

import grimp

from tests.conftest import ROOT

PACKAGE = ROOT / "summarizer"
MAX_LINES = 400


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("summarizer", include_external_packages=False)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if module == imported or module.startswith(imported + "."):
                continue  # a package's __init__ importing its own submodules
            if imported.startswith(module + "."):
                continue
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain and not any(c.startswith(module + ".") for c in chain[1:]):
                cycles.append(" -> ".join((module, *chain)))
    assert not cycles, "\n".join(cycles)


def test_modules_stay_small_or_say_why() -> None:
    """A module over 400 lines says in its docstring why it is one module."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if "one module because" not in doc:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, long


def test_the_readme_lists_the_whole_public_api() -> None:
    import summarizer

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in summarizer.__all__ if f"`{name}`" not in readme]
    assert not missing, f"README's API section does not mention: {missing}"


def test_the_readme_lists_every_exit_code() -> None:
    import re

    from summarizer.errors import EXIT_CODES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert set(EXIT_CODES) <= listed, f"README's exit-code table lacks {set(EXIT_CODES) - listed}"
