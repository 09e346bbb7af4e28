"""What ``summarizer schema`` and ``summarizer prompts list|show`` print, recorded
ahead of time, so that they start without pydantic and jinja2.

Computing it means importing pydantic, building the contract's or the prompt files'
models and, for prompts, jinja2: 0.12 to 0.14 s of the 0.3 s a command that calls no
model may take to start (issue #11; ``benchmarks/startup.py``), to print text that
changes only when code or prompt files do. It is a pure function of files: the
contract's source (``summarizer/contract/``), the prompt loader's (``prompts.py``),
every prompt file, and the installed major releases of pydantic, pydantic-core and
jinja2.

So the snapshot (``reference_snapshot.json``, beside this module) holds the schemas
and the prompts' fields under the sha256 of all of those, and is used only while every
one of them is byte for byte what it was when the snapshot was written. After any
change, or with no snapshot or an unreadable one, the commands compute their output
as before, only slower, until ``python -m summarizer.cli.reference_snapshot`` writes
it again; ``tests/test_startup_imports.py`` fails until then, and checks that the
snapshot prints what the computation prints and that its key covers every module the
computation loads. The text itself is formatted by :mod:`summarizer.cli.reference` from
these fields either way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from summarizer.prompts import Prompt

_PACKAGE = Path(__file__).resolve().parent.parent  # summarizer/
SNAPSHOT = Path(__file__).with_suffix(".json")
_FORMAT = 1  # the layout of the snapshot file; part of every key
_SCHEMA_DISTRIBUTIONS = ("pydantic", "pydantic_core")
_PROMPT_DISTRIBUTIONS = ("pydantic", "pydantic_core", "jinja2")
# Besides summarizer/contract/*.py: the summarizer modules that computing the schema
# (for the prompts: the prompts' fields) loads; the test checks that none is missing.
# errors.py is loaded too but left out: it only defines what a failure raises, and only
# what the computation printed when it succeeded is stored.
_SCHEMA_SOURCES = ("text.py",)
_PROMPT_SOURCES = ("prompts.py",)


def prompt_dirs() -> list[Path]:
    """The folders :func:`summarizer.prompts.prompt_dirs` searches (a test checks that
    they agree), without importing that module and its pydantic and jinja2."""
    return [d for d in (_PACKAGE / "_prompts", _PACKAGE.parent / "prompts") if d.is_dir()]


def schema_inputs() -> list[Path]:
    """The source files the schemas are computed from."""
    return [*sorted((_PACKAGE / "contract").glob("*.py")), *(_PACKAGE / n for n in _SCHEMA_SOURCES)]


def prompt_inputs() -> list[Path]:
    """The source files the prompts' fields are computed from (besides the prompts)."""
    return [_PACKAGE / name for name in _PROMPT_SOURCES]


def _release(distribution: str) -> bytes | None:
    """The installed ``distribution``'s major release, from the name of its
    ``.dist-info`` folder (``pydantic-2.14.4.dist-info`` -> ``pydantic-2``), or ``None``
    if there is none beside it (then nothing is served from the snapshot).

    The major version only: a key with the full version would go stale with every
    patch release, and CI, which installs the newest release in range, would fail on a
    change it did not make. Within a major release the output is checked instead:
    ``tests/test_startup_imports.py`` compares the snapshot with what the installed
    libraries compute, so a release that changes a schema fails there, in CI, with the
    command that rewrites the snapshot. Not its files' hashes either: those differ by
    platform, Python and installer for the same release."""
    try:
        spec = importlib.util.find_spec(distribution)  # finds it; does not import it
    except (ImportError, ValueError, AttributeError):  # e.g. sys.modules[name] = None
        return None
    if spec is None or spec.origin is None:
        return None
    site = Path(spec.origin).parent.parent
    prefix = f"{distribution.lower()}-"
    try:
        infos = sorted(
            name.lower() for name in os.listdir(site)
            if name.lower().startswith(prefix) and name.endswith(".dist-info")
        )  # fmt: skip
    except OSError:
        return None
    majors = []
    for info in infos:  # name-VERSION.dist-info
        name, _, version = info.removesuffix(".dist-info").rpartition("-")
        majors.append(f"{name}-{version.split('.')[0]}")
    return "\n".join(majors).encode() or None


def _key(files: list[tuple[str, Path]], distributions: tuple[str, ...]) -> str | None:
    """sha256 of every (label, file content) and distribution release, or ``None`` if
    one cannot be read."""
    digest = hashlib.sha256(f"summarizer reference snapshot {_FORMAT}".encode())

    def add(label: str, data: bytes) -> None:
        digest.update(f"\0{label}\0{len(data)}\0".encode())
        digest.update(data)

    try:
        for label, path in files:
            add(label, path.read_bytes())
    except OSError:
        return None
    for name in distributions:
        release = _release(name)
        if release is None:
            return None
        add(f"dist:{name}", release)
    return digest.hexdigest()


def schema_key() -> str | None:
    """The key the schemas are valid under (``None``: not servable)."""
    files = [(p.relative_to(_PACKAGE).as_posix(), p) for p in schema_inputs()]
    return _key(files, _SCHEMA_DISTRIBUTIONS)


def prompts_key() -> str | None:
    """The key the prompts' fields are valid under. A prompt file counts by its
    content, its place in its folder and the folder's rank, not the folder's location:
    a wheel's ``_prompts`` and a checkout's ``prompts`` list the same prompts."""
    files = [(name, _PACKAGE / name) for name in _PROMPT_SOURCES]
    for rank, base in enumerate(prompt_dirs()):
        files.extend((f"{rank}:{p.relative_to(base).as_posix()}", p)
                     for p in sorted(base.glob("*/*.toml")))  # fmt: skip
    return _key(files, _PROMPT_DISTRIBUTIONS)


@cache
def _snapshot() -> dict[str, Any]:
    try:
        data = json.loads(SNAPSHOT.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == _FORMAT else {}


def _part(name: str, key: str | None) -> dict[str, Any] | None:
    part = _snapshot().get(name)
    if key is None or not isinstance(part, dict) or part.get("key") != key:
        return None
    return part


def schema(llm: bool) -> dict[str, Any] | None:
    """The contract's JSON schema (``llm``: the one the model fills), if the snapshot
    holds it for the current sources; ``None``: compute it."""
    part = _part("schema", schema_key())
    return None if part is None else part["llm" if llm else "contract"]


def listed_prompts() -> list[dict[str, Any]] | None:
    """Every prompt's fields, as ``prompts list`` orders them, or ``None``."""
    part = _part("prompts", prompts_key())
    if part is None:
        return None
    return [_fields(part["prompts"][ref]) for ref in part["listed"]]


def shown_prompt(ref: str) -> dict[str, Any] | None:
    """The fields of the prompt ``ref`` (``NAME@VERSION`` or ``NAME``) names, or
    ``None`` (compute it: a path, an unknown name, or no valid snapshot)."""
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:  # a file: load_prompt reads it
        return None
    part = _part("prompts", prompts_key())
    if part is None:
        return None
    name = part["latest"].get(ref, ref)
    return _fields(part["prompts"][name]) if name in part["prompts"] else None


def _fields(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored prompt with its ``path`` where the prompt loader would find it now."""
    rank, relative = stored["file"]
    return {**stored, "path": str(prompt_dirs()[rank] / relative)}


def prompt_fields(prompt: Prompt) -> dict[str, Any]:
    """What ``prompts list|show`` print of a loaded :class:`summarizer.prompts.Prompt`."""
    info = prompt.info()
    return {
        "ref": prompt.ref,
        "sha256": prompt.sha256,
        "description": info["description"],
        "format": info["format"],
        "parameters": info["parameters"],
        "path": info["path"],
        "system": prompt.spec.system,
        "user": prompt.spec.user,
    }


def build() -> dict[str, Any]:
    """The snapshot of the current sources, computed by the library itself."""
    from summarizer.contract import contract_json_schema
    from summarizer.contract.llm_schema import llm_json_schema
    from summarizer.prompts import list_prompts

    dirs = prompt_dirs()
    prompts: dict[str, dict[str, Any]] = {}
    latest: dict[str, str] = {}
    for prompt in list_prompts():
        fields = prompt_fields(prompt)
        rank = next(i for i, d in enumerate(dirs) if prompt.path.is_relative_to(d))
        fields["file"] = [rank, prompt.path.relative_to(dirs[rank]).as_posix()]
        del fields["path"]
        prompts[prompt.ref] = fields
        latest[prompt.name] = prompt.ref  # list_prompts orders versions oldest first
    return {
        "format": _FORMAT,
        "schema": {"key": schema_key(), "contract": contract_json_schema(),
                   "llm": llm_json_schema()},
        "prompts": {"key": prompts_key(), "listed": list(prompts), "prompts": prompts,
                    "latest": latest},
    }  # fmt: skip


def write() -> None:
    """(Re)write the snapshot file from the current sources."""
    SNAPSHOT.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    _snapshot.cache_clear()


if __name__ == "__main__":
    write()
    print(f"wrote {SNAPSHOT}")
