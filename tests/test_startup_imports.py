"""Start-up of the commands that call no model (issue #11: at most 0.3 s each).

Time itself is measured by ``benchmarks/startup.py``, not here (a timed test fails on a
busy machine); these tests guard what the speed rests on: which modules a command
imports, and the snapshot that lets ``schema`` and ``prompts`` print without pydantic
and jinja2 (:mod:`summarizer.cli.reference_snapshot`) printing exactly what the
library computes, and only while nothing it was computed from has changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
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


def test_eval_score_imports_no_model_sdk_and_no_html_template(tmp_path: Path) -> None:
    """``eval score`` must import pydantic (it validates), rich (the table) and the
    lead method (the floor), but no SDK, no pipeline, and jinja2 only for --html."""
    case = "000-seed-trump-putin-call"
    for folder, suffix in (("articles", ".txt"), ("golden", ".json")):
        (tmp_path / "one" / folder).mkdir(parents=True)
        shutil.copy(ROOT / "evals" / "wikinews" / folder / f"{case}{suffix}",
                    tmp_path / "one" / folder)  # fmt: skip
    one = tmp_path / "one"
    modules = _imported(["eval", "score", "-d", str(one), "--candidates", str(one / "golden")],
                        tmp_path / "cache")  # fmt: skip
    assert "summarizer.evals.baselines" in modules  # the floor was computed
    assert [m for m in modules if m in (*SDKS, "jinja2") or m.startswith(PIPELINE)] == []


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
