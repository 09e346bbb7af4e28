"""Start-up of the commands that call no model (issue #11: at most 0.3 s each).

Time itself is measured by ``benchmarks/startup.py``, not here (a timed test fails on a
busy machine); these tests guard what the speed rests on: which modules a command
imports; the snapshot that lets ``schema`` and ``prompts`` print without pydantic
and jinja2 (:mod:`summarizer.cli.reference_snapshot`) printing exactly what the
library computes, and only while nothing it was computed from has changed; commands
built only when used (:mod:`summarizer.cli.lazy_commands`) reading exactly as when
they were all built at import; and the eval table drawn without rich
(:mod:`summarizer.cli.eval_table`) exactly as rich draws it to a pipe.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from summarizer.cli import app, reference_snapshot
from tests.conftest import ROOT

runner = CliRunner()
REGENERATE = "run `python -m summarizer.cli.reference_snapshot` and commit the file"
SDKS = ("openai", "instructor", "llama_cpp", "trafilatura", "httpx")
PIPELINE = ("summarizer.pipeline", "summarizer.batch", "summarizer.backends")
LOOKUPS = [
    ["schema"],
    ["schema", "--llm"],
    ["prompts", "list"],
    ["prompts", "show", "summarize@v1"],
    ["prompts", "show", "summarize-local"],
]


@pytest.fixture(autouse=True)
def _fresh_snapshot() -> Iterator[None]:
    """The snapshot file is read once per process: each test reads it as it set it."""
    reference_snapshot._snapshot.cache_clear()
    yield
    reference_snapshot._snapshot.cache_clear()


def _imported(args: list[str], cache: Path) -> list[str]:
    """The top-level packages and summarizer modules ``summarizer ARGS`` imports."""
    script = (
        "import json, sys\nfrom summarizer.cli import app\n"
        f"try:\n    app({args!r})\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print(json.dumps(sorted({m if m.startswith('summarizer') else m.split('.')[0]\n"
        "                         for m in sys.modules})))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cache), "SUMMARIZER_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=ROOT,
                          env=env, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    modules: list[str] = json.loads(proc.stdout.decode().splitlines()[-1])
    return modules


def test_the_snapshot_holds_what_the_library_computes_now() -> None:
    """Fails after a change to the contract, the prompt loader, a prompt file or
    pydantic/jinja2 until the snapshot is written again (the commands are then slow,
    not wrong). Compared as text: the schema prints in the snapshot's key order."""
    stored = json.loads(reference_snapshot.SNAPSHOT.read_text(encoding="utf-8"))
    assert json.dumps(stored) == json.dumps(reference_snapshot.build()), REGENERATE


@pytest.mark.parametrize("args", LOOKUPS, ids=" ".join)
def test_lookup_commands_import_neither_pydantic_nor_jinja2(
    args: list[str], tmp_path: Path
) -> None:
    modules = _imported(args, tmp_path)
    heavy = [m for m in modules if m in (*SDKS, "pydantic", "pydantic_core", "jinja2", "rich")]
    assert heavy == [], f"{heavy}: is the snapshot stale? {REGENERATE}"
    assert not [m for m in modules if m.startswith((*PIPELINE, "summarizer.contract",
                                                    "summarizer.prompts"))]  # fmt: skip


# Every command module but the eval command's own: the app builds only the command it
# runs (summarizer.cli.lazy_commands), not batch's or eval run's model options.
OTHER_COMMANDS = tuple(
    f"summarizer.cli.{name}"
    for name in ("batch", "merge", "models", "serve", "config", "cache", "logs", "summarize",
                 "reference", "options", "eval_run", "eval_baseline", "eval_compare")
)  # fmt: skip


def _one_article(tmp_path: Path) -> Path:
    case = "000-seed-trump-putin-call"
    for folder, suffix in (("articles", ".txt"), ("golden", ".json")):
        (tmp_path / "one" / folder).mkdir(parents=True)
        shutil.copy(ROOT / "evals" / "wikinews" / folder / f"{case}{suffix}",
                    tmp_path / "one" / folder)  # fmt: skip
    return tmp_path / "one"


@pytest.mark.parametrize("command", ["score", "check"])
def test_eval_score_and_check_import_only_what_they_use(command: str, tmp_path: Path) -> None:
    """Both import pydantic (they validate the goldens) and their own command module,
    but no SDK, no pipeline, no other command's module, and no rich: their output here
    is a pipe, where the table is drawn without it (summarizer.cli.eval_table).
    ``score`` computes the lead floor (the lead method), ``check`` runs no extractive
    rule, and jinja2 is for --html only."""
    one = _one_article(tmp_path)
    args = {
        "score": ["eval", "score", "-d", str(one), "--candidates", str(one / "golden")],
        "check": ["eval", "check", "-d", str(one)],
    }[command]
    modules = _imported(args, tmp_path / "cache")
    assert {"pydantic", f"summarizer.cli.eval_{command}"} <= set(modules)
    assert [m for m in modules if m in OTHER_COMMANDS] == []
    assert [m for m in modules if m in (*SDKS, "jinja2", "rich") or m.startswith(PIPELINE)] == []
    rules = [m for m in modules if m.startswith("summarizer.extractive")]
    if command == "score":
        assert "summarizer.evals.baselines" in modules  # the floor was computed
    else:
        assert rules == []


@pytest.mark.parametrize(
    "args",
    [*LOOKUPS, ["prompts", "show", "summarize"], ["prompts", "show", "nope@v1"],
     ["prompts", "show", "summarize@v9"], ["prompts", "show", "{root}/summarize/v1.toml"]],
    ids=" ".join,
)  # fmt: skip
def test_snapshot_and_computation_print_the_same(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [arg.format(root=ROOT / "prompts") for arg in args]
    served = runner.invoke(app, args)
    monkeypatch.setattr(reference_snapshot, "SNAPSHOT", tmp_path / "none.json")  # compute
    reference_snapshot._snapshot.cache_clear()
    computed = runner.invoke(app, args)
    assert (served.exit_code, served.stdout, served.stderr) == (
        computed.exit_code, computed.stdout, computed.stderr,
    )  # fmt: skip
    assert computed.exit_code == (21 if args[-1] in ("nope@v1", "summarize@v9") else 0)


def test_the_snapshot_serves_the_current_sources() -> None:
    assert reference_snapshot.schema(llm=False) is not None, REGENERATE
    assert reference_snapshot.schema(llm=True) is not None, REGENERATE
    assert reference_snapshot.listed_prompts() is not None, REGENERATE
    # Names that load_prompt reads as files or does not know are never served.
    for ref in ("nope@v1", "summarize@", "summarize@v1.toml", "prompts/summarize/v1.toml"):
        assert reference_snapshot.shown_prompt(ref) is None, ref


def _copy_sources(tmp_path: Path, prompts_folder: str = "prompts") -> Path:
    """The snapshot's inputs copied to ``tmp_path`` as a package and its prompts."""
    package = tmp_path / "summarizer"
    source = reference_snapshot._PACKAGE
    for path in (*reference_snapshot.schema_inputs(), *reference_snapshot.prompt_inputs()):
        target = package / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    base = package / "_prompts" if prompts_folder == "_prompts" else tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", base)
    return package


def test_a_change_to_any_input_is_computed_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _copy_sources(tmp_path)
    monkeypatch.setattr(reference_snapshot, "_PACKAGE", package)
    # Byte for byte the same sources elsewhere: served (the key is content, not place).
    assert reference_snapshot.schema(llm=False) is not None
    assert reference_snapshot.listed_prompts() is not None
    shown = reference_snapshot.shown_prompt("summarize")
    assert shown is not None
    assert shown["path"] == str(tmp_path / "prompts" / "summarize" / "v1.toml")

    (package / "contract" / "models.py").write_text(
        (package / "contract" / "models.py").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    assert reference_snapshot.schema(llm=True) is None
    assert reference_snapshot.listed_prompts() is not None  # the prompts do not depend on it

    prompt = tmp_path / "prompts" / "summarize" / "v1.toml"
    prompt.write_bytes(prompt.read_bytes().replace(b"description", b"description ", 1))
    assert reference_snapshot.listed_prompts() is None
    assert reference_snapshot.shown_prompt("summarize@v1") is None


@pytest.mark.parametrize(
    "change",
    [
        "new prompt",
        "prompt loader",
        "text.py",
        "pydantic",
        "jinja2",
        "no release found",
        "no snapshot",
    ],
)
def test_what_else_the_output_depends_on_is_in_the_key(
    change: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _copy_sources(tmp_path)
    monkeypatch.setattr(reference_snapshot, "_PACKAGE", package)
    assert reference_snapshot.listed_prompts() is not None
    assert reference_snapshot.schema(llm=False) is not None
    if change == "new prompt":
        shutil.copy(ROOT / "prompts" / "summarize" / "v1.toml",
                    tmp_path / "prompts" / "summarize" / "v2.toml")  # fmt: skip
    elif change in ("prompt loader", "text.py"):
        name = "prompts.py" if change == "prompt loader" else change
        with (package / name).open("a", encoding="utf-8") as source:
            source.write("# changed\n")
    elif change == "no release found":  # not installed from a wheel: cannot tell
        monkeypatch.setattr(reference_snapshot, "_release", lambda name: None)
    elif change == "no snapshot":
        monkeypatch.setattr(reference_snapshot, "SNAPSHOT", tmp_path / "missing.json")
        reference_snapshot._snapshot.cache_clear()
    else:  # another release of the library
        real = reference_snapshot._release

        def _other_release(name: str) -> bytes | None:
            release = real(name)
            return None if release is None else release + b".post1" * (name == change)

        monkeypatch.setattr(reference_snapshot, "_release", _other_release)
    schema_changes = change in ("text.py", "pydantic", "no release found", "no snapshot")
    assert (reference_snapshot.schema(llm=False) is None) is schema_changes
    assert (reference_snapshot.listed_prompts() is None) is (change != "text.py")


def test_a_wheels_packaged_prompts_are_served_from_their_own_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _copy_sources(tmp_path, prompts_folder="_prompts")
    monkeypatch.setattr(reference_snapshot, "_PACKAGE", package)
    shown = reference_snapshot.shown_prompt("summarize-local@v1")
    assert shown is not None
    assert shown["path"] == str(package / "_prompts" / "summarize-local" / "v1.toml")


def test_an_unreadable_snapshot_is_computed_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for content in (b"{not json", b"[]", b'{"format": 0}', b"\xff"):
        broken = tmp_path / "snapshot.json"
        broken.write_bytes(content)
        monkeypatch.setattr(reference_snapshot, "SNAPSHOT", broken)
        reference_snapshot._snapshot.cache_clear()
        assert reference_snapshot.schema(llm=False) is None, content
        assert reference_snapshot.listed_prompts() is None, content
        result = runner.invoke(app, ["schema"])
        assert result.exit_code == 0
        assert json.loads(result.stdout)["title"] == "ArticleSummary"


def test_prompt_folders_are_the_prompt_loaders() -> None:
    from summarizer.prompts import prompt_dirs

    assert reference_snapshot.prompt_dirs() == prompt_dirs()


@pytest.mark.parametrize(
    ("compute", "inputs"),
    [
        ("from summarizer.contract import contract_json_schema as f; f()\n"
         "from summarizer.contract.llm_schema import llm_json_schema as g; g()", "schema_inputs"),
        ("from summarizer.prompts import list_prompts as f; f()", "prompt_inputs"),
    ],
    ids=["schema", "prompts"],
)  # fmt: skip
def test_the_key_covers_every_module_the_computation_loads(compute: str, inputs: str) -> None:
    """A module the computation loads but the key leaves out could change what the
    command prints while the snapshot still looked current. Exempt:
    ``summarizer/__init__.py``, which only maps public names to the modules that define
    them, lazily, and ``errors.py``, which only defines what a failure raises (only
    output that was computed without one is stored)."""
    script = (
        f"import json, sys\n{compute}\n"
        "print(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items())\n"
        "    if n.startswith('summarizer.') and getattr(m, '__file__', None))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=ROOT,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    loaded = {Path(f).resolve() for f in json.loads(proc.stdout.decode().splitlines()[-1])}
    keyed = {p.resolve() for p in getattr(reference_snapshot, inputs)()}
    assert loaded - keyed == {(ROOT / "summarizer" / "errors.py").resolve()} & loaded


# -- commands built when used (summarizer.cli.lazy_commands) ----------------------------


def _paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command under ``command``, in the order --help lists them."""
    commands = getattr(command, "commands", {})
    return [path, *(p for name in commands for p in _paths(commands[name], (*path, name)))]


def _same(lazy: Any, eager: Any, args: list[str], **kwargs: Any) -> None:
    got, want = runner.invoke(lazy, args, **kwargs), runner.invoke(eager, args, **kwargs)
    assert (got.exit_code, got.stdout, got.stderr) == (want.exit_code, want.stdout,
                                                       want.stderr), args  # fmt: skip


def test_version_builds_no_command(tmp_path: Path) -> None:
    modules = _imported(["--version"], tmp_path)
    assert [m for m in modules if m.startswith("summarizer.cli.")] == [
        "summarizer.cli.app", "summarizer.cli.coercion", "summarizer.cli.lazy_commands",
    ]  # fmt: skip


COMPLETED = ("summarizer ", "summarizer e", "summarizer eval ", "summarizer eval s",
             "summarizer eval score --", "summarizer summarize --format ")  # fmt: skip


def test_the_lazy_app_prints_what_an_app_built_at_import_prints() -> None:
    """The app builds each command with typer's own functions when it is looked up:
    every --help, usage error and completion must read as they do from the same
    commands registered at import (``app.eager()``). If typer's internals move, this
    fails rather than a help page changing unseen."""
    eager = app.eager()
    paths = _paths(typer.main.get_command(eager))
    assert paths == _paths(typer.main.get_command(app))  # the same commands, in order
    assert {("eval", "score"), ("eval", "check"), ("keys", "add"), ("summarize",)} < set(paths)
    for path in paths:
        _same(app, eager, [*path, "--help"], terminal_width=100)
    for args in ([], ["eval"], ["nope"], ["eval", "scor"], ["summarise"], ["--bogus"]):
        _same(app, eager, args)
    for shell in ("complete_bash", "complete_zsh", "complete_fish"):
        for words in COMPLETED:
            cword = str(len(words.split(" ")) - 1)
            env = {"_SUMMARIZER_COMPLETE": shell, "COMP_WORDS": words, "COMP_CWORD": cword,
                   "_TYPER_COMPLETE_ARGS": words}  # fmt: skip
            _same(app, eager, [], prog_name="summarizer", env=env)


def test_the_eval_commands_are_listed_in_the_order_they_are_named() -> None:
    from summarizer.cli.evals import eval_app, eval_commands

    assert [c.name for c in eval_app.registered_commands] == [e.name for e in eval_commands.lazy]
    assert [e.name for e in eval_commands.lazy][:4] == ["check", "baseline", "score", "run"]


def test_a_pattern_compiled_on_first_use_matches_as_re_compile_does() -> None:
    from summarizer.extractive.lazy_patterns import lazy_compile

    source, text = r"\b(?P<verb>will|may)\b\s+(\w+)", "They WILL meet; she may go. Will they?"
    lazy, compiled = lazy_compile(source, re.I), re.compile(source, re.I)
    assert "search" not in vars(lazy)  # not compiled yet
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in compiled.finditer(text)]
    assert "search" in vars(lazy)  # compiled once, and its methods are the pattern's own
    found, expected = lazy.search(text, 10), compiled.search(text, 10)
    assert found is not None
    assert expected is not None
    assert found.group("verb") == expected.group("verb") == "may"
    assert lazy.sub("X", text) == compiled.sub("X", text)
    assert lazy.match(text) is None
    assert lazy.fullmatch("may go") is not None
    assert (lazy.pattern, lazy.flags, lazy.groups) == (source, compiled.flags, 2)


# -- the eval table without rich (summarizer.cli.eval_table) ----------------------------


def _report(
    ids: list[str],
    *,
    errors: dict[str, str] | None = None,
    dataset: str = "evals/x",
    floor: bool = True,
    rates: bool = True,
    below: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A report as build_report makes it, with only what the table shows."""
    from summarizer.evals.runs import SECTIONS

    def scores(k: int) -> dict[str, Any]:
        return {"score": (k * 0.137) % 1, "sections": {s: {"score": (k * 0.071 + i / 7) % 1}
                                                        for i, s in enumerate(SECTIONS)},
                "supported": {"rate": (k * 0.29) % 1} if rates else None}  # fmt: skip

    articles = {i: scores(k) for k, i in enumerate(ids)}
    for i, error in (errors or {}).items():
        articles[i] = {**articles.get(i, scores(0)), "error": error}
    sections = {s: 0.5 + i / 100 for i, s in enumerate(SECTIONS)}
    report: dict[str, Any] = {
        "run": {"dataset": dataset},
        "articles": articles,
        "aggregate": {
            "score": 0.6129,
            "sections": sections,
            "articles": len(ids),
            "supported": 0.875 if rates else None,
        },
        "below_floor": [f"{name} 0.100 < 0.200" for name in below],
    }
    if floor:
        report["floor"] = {"method": "lead", "aggregate": {"score": 0.534, "sections": sections,
                                                           "supported": None}}  # fmt: skip
    return report


IDS = ["000-seed-trump-putin-call", "001-annapolis-joint-understanding", "b", "z" * 40]
BELOW = ("overall", "actors")  # sections below the floor (rich draws them red on a terminal)
# name -> (report, whether the table without rich draws it: else rich does)
TABLES: dict[str, tuple[dict[str, Any], bool]] = {
    "one article": (_report(IDS[:1]), True),
    "several, errors, below the floor": (
        _report(IDS, errors={"b": "invalid: key_summary: Field required " * 9}, below=BELOW),
        True,
    ),
    "no floor, no supported rates": (_report(IDS[:2], floor=False, rates=False), True),
    "markup and emoji codes stay text": (_report(["[/red]", ":smile:", "a b"]), True),
    "no articles": (_report([]), True),
    "a long id: exactly 150 columns": (_report(["x" * 58]), True),
    "a longer id: rich shrinks the columns": (_report(["x" * 59]), False),
    "a dataset name wider than the table": (_report(IDS[:1], dataset="d" * 200), False),
    "no dataset: a title ending in a space": (_report(IDS[:1], dataset=""), False),
    "an id out of ASCII": (_report(["Zürich"]), False),
    "a wide character": (_report(["東京"]), False),
    "two spaces in an id": (_report(["a  b"]), False),
    "an error with a control character": (_report(IDS[:2], errors={IDS[0]: "bell\x07"}), False),
    "an error out of ASCII": (_report(IDS[:2], errors={IDS[0]: "Zürich — «x»"}), False),
    "a broken report": ({"run": {}, "articles": {"a": {"score": "high"}}}, False),
}


def _printed(
    draw: Any, report: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[Any, str]:
    """What ``draw(report)`` returned (or raised) and printed."""
    capsys.readouterr()
    try:
        result = draw(report)
    except Exception as error:  # noqa: BLE001 - compared with what rich raises
        result = repr(error)
    return result, capsys.readouterr().out


@pytest.mark.parametrize("name", TABLES)
def test_the_table_without_rich_is_what_rich_prints_to_a_pipe(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarizer.cli.eval_table import print_plain_table
    from summarizer.evals.report import print_table

    for var in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(var, raising=False)
    report, plain = TABLES[name]
    drawn, ours = _printed(print_plain_table, report, capsys)
    assert drawn is plain, ours
    if drawn:
        _, theirs = _printed(print_table, report, capsys)
        assert ours == theirs
    else:
        assert ours == ""  # declined before printing anything: rich draws it all


@pytest.mark.parametrize(
    ("env", "plain"),
    [({"FORCE_COLOR": "1"}, False), ({"TTY_COMPATIBLE": "1"}, False), ({"FORCE_COLOR": ""}, True),
     ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, True)],
    ids=str,
)  # fmt: skip
def test_the_table_is_left_to_rich_where_rich_would_colour_it(
    env: dict[str, str], plain: bool, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from summarizer.cli.eval_table import print_plain_table
    from summarizer.evals.report import print_table

    for var in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    report = _report(IDS)
    drawn, ours = _printed(print_plain_table, report, capsys)
    _, theirs = _printed(print_table, report, capsys)
    assert drawn is plain
    assert ours == (theirs if plain else "")
    assert ("\x1b[" in theirs) is not plain  # rich coloured it: not for us to draw


@pytest.mark.parametrize("stream", ["a terminal", "latin-1"])
def test_the_table_is_left_to_rich_on_a_terminal_or_without_utf8(
    stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from summarizer.cli.eval_table import print_plain_table

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal() if stream == "a terminal" else io.TextIOWrapper(io.BytesIO(), "latin-1")
    monkeypatch.setattr(sys, "stdout", out)
    assert print_plain_table(_report(IDS)) is False
    out.flush()
    assert (out.getvalue() if isinstance(out, io.StringIO) else out.buffer.getvalue()) in ("", b"")


def test_the_table_without_rich_matches_rich_on_many_random_tables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from summarizer.cli.eval_table import print_plain_table
    from summarizer.evals.report import print_table

    for var in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(var, raising=False)
    rng = random.Random(11)
    ascii_ = "".join(map(chr, range(0x20, 0x7F))) + "—"
    drawn = 0
    for _ in range(150):
        ids = ["".join(rng.choices(ascii_, k=rng.randint(1, 50))) for _ in range(rng.randint(0, 5))]
        errors = {i: "".join(rng.choices(ascii_, k=rng.randint(0, 400))) for i in ids
                  if rng.random() < 0.3}  # fmt: skip
        dataset = rng.choice(["evals/x", "a [b] :c:"])
        floor, rates = rng.random() < 0.7, rng.random() < 0.7
        report = _report(sorted(set(ids)), errors=errors, floor=floor, rates=rates, dataset=dataset)
        plain, ours = _printed(print_plain_table, report, capsys)
        if plain:
            drawn += 1
            assert ours == _printed(print_table, report, capsys)[1], report
    assert drawn > 50  # most of them: the ones with a space at an end or two are rich's
