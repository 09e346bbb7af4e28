"""Versioned prompt files: load, validate, hash, render.

A prompt is a TOML file ``<name>/<version>.toml`` holding the system and user
templates (Jinja2), the response shape it targets and default generation parameters.
A released file is never edited: a change is a new version, so every result can be
explained by the ``name@version`` and content hash recorded in its ``meta``.

Prompts are looked up in, in order: the ``_prompts`` folder packaged inside the wheel,
then the repository's ``prompts/`` folder (checkouts and editable installs). A path to
a ``.toml`` file works too, for users' own prompts.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer.errors import PromptError

# Variables a template may use. ``article`` must appear in the user template.
TEMPLATE_VARIABLES = frozenset({"article", "title", "language", "schema_json"})
REQUIRED_VARIABLES = frozenset({"article"})
ARTICLE_TAG = "article"
# A closing tag inside the article, in any case, would end the data section early.
_CLOSING_TAG = re.compile(rf"</({ARTICLE_TAG})", re.IGNORECASE)
# The title and language go outside the data section (the language into the system
# message): there neither tag, opening or closing, may appear, nor a line break.
_ANY_TAG = re.compile(rf"<(/?{ARTICLE_TAG})", re.IGNORECASE)

_PACKAGED = Path(__file__).resolve().parent / "_prompts"
_CHECKOUT = Path(__file__).resolve().parent.parent / "prompts"


class GenerationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=4096, gt=0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    # Local (llama.cpp) decoding knobs; ignored by remote endpoints.
    repeat_penalty: float | None = Field(default=None, gt=0.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)


class PromptLimits(BaseModel):
    """Tighter list sizes for the schema the model fills (e.g. for a small local model)."""

    model_config = ConfigDict(extra="forbid")

    key_points: int | None = Field(default=None, ge=1, le=7)
    actors: int | None = Field(default=None, ge=1)
    commitments: int | None = Field(default=None, ge=0)
    open_questions: int | None = Field(default=None, ge=0)
    evidence: int | None = Field(default=None, ge=1)
    aliases: int | None = Field(default=None, ge=0)
    quote_chars: int | None = Field(default=None, ge=20)
    text_chars: int | None = Field(default=None, ge=20)
    evidence_first: bool = Field(
        default=False,
        description="Ask for each item's evidence before its text, and key points first.",
    )
    quotes_from_article: bool = Field(
        default=False,
        description=(
            "Offer the article's own sentences as the only allowed quotes (a JSON-schema "
            "enum, so grammar-constrained backends cannot invent a quote)."
        ),
    )

    def as_tuple(self) -> tuple[tuple[str, int], ...]:
        values = self.model_dump(exclude_none=True)
        # Switches go in as 1 when on, and not at all when off.
        for switch in ("evidence_first", "quotes_from_article"):
            if values.pop(switch):
                values[switch] = 1
        return tuple(sorted(values.items()))


class PromptFile(BaseModel):
    """The on-disk shape of a prompt; unknown keys are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: str = Field(pattern=r"^v[0-9]+[a-z0-9._-]*$")
    description: str
    response_model: Literal["ArticleSummary"] = "ArticleSummary"
    format: Literal["chat", "completion"] = Field(
        default="chat",
        description=(
            "chat: system + user messages; completion: one raw text prompt (the "
            "system and user templates concatenated), for base models."
        ),
    )
    parameters: GenerationParams = Field(default_factory=GenerationParams)
    limits: PromptLimits = Field(default_factory=PromptLimits)
    system: str
    user: str


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


@dataclass(frozen=True)
class Prompt:
    """A loaded, validated prompt with its content hash."""

    spec: PromptFile
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    @cached_property
    def _templates(self) -> tuple[jinja2.Template, jinja2.Template]:
        return _ENV.from_string(self.spec.system), _ENV.from_string(self.spec.user)

    def render(
        self,
        article: str,
        *,
        title: str | None = None,
        language: str | None = None,
        schema_json: str = "",
    ) -> list[dict[str, str]]:
        """Chat messages for one article.

        The article is wrapped by the template in ``<article>`` tags as data; a closing
        tag inside the article itself is defused so the text cannot end the data
        section early and smuggle in instructions. The title and the language, which
        come from the page or the user too, are rendered outside that section: they
        are defused the same way (``</article`` becomes ``<\\/article``, in any case;
        ``<article`` becomes ``<\\article``) and kept on one line, so that neither
        can open or close the data section or start a line of instructions of its own.
        """
        safe = _CLOSING_TAG.sub(lambda m: "<\\/" + m.group(1), article)
        variables = {
            "article": safe,
            "title": _one_line(title),
            "language": _one_line(language),
            "schema_json": schema_json,
        }
        system_t, user_t = self._templates
        return [
            {"role": "system", "content": system_t.render(**variables).strip()},
            {"role": "user", "content": user_t.render(**variables).strip()},
        ]

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "description": self.spec.description,
            "format": self.spec.format,
            "parameters": self.spec.parameters.model_dump(exclude_none=True),
            "path": str(self.path),
        }


def _one_line(field: str | None) -> str:
    """A short user-supplied field (title, language) as the prompt shows it: one
    line, whitespace runs as single spaces, no ``<article>``/``</article>`` tag."""
    text = " ".join((field or "").split())
    return _ANY_TAG.sub(lambda m: "<\\" + m.group(1), text)


def prompt_dirs() -> list[Path]:
    """Folders searched for ``name/version.toml``, packaged first."""
    return [d for d in (_PACKAGED, _CHECKOUT) if d.is_dir()]


def _validate_templates(spec: PromptFile, path: Path) -> None:
    used: set[str] = set()
    for which in ("system", "user"):
        source = getattr(spec, which)
        try:
            ast = _ENV.parse(source)
        except jinja2.TemplateSyntaxError as e:
            raise PromptError(f"{path}: {which} template line {e.lineno}: {e.message}") from e
        names = jinja2.meta.find_undeclared_variables(ast)
        unknown = names - TEMPLATE_VARIABLES
        if unknown:
            raise PromptError(
                f"{path}: {which} template uses unknown variable(s) "
                f"{', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TEMPLATE_VARIABLES))}"
            )
        used |= names
    missing = REQUIRED_VARIABLES - used
    if missing:
        raise PromptError(
            f"{path}: the templates never use {', '.join(sorted(missing))}; "
            "the article must go into the prompt"
        )


def load_prompt_file(path: Path) -> Prompt:
    """Load and validate one prompt file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PromptError(f"cannot read prompt file {path}: {e.strerror}") from e
    return _parse_prompt(path, raw)


@lru_cache(maxsize=256)
def _parse_prompt(path: Path, raw: bytes) -> Prompt:
    """Parsed once per file content: every ``Summarizer`` loads its prompt (each
    batch worker, each eval run), and parsing, validating and compiling the
    templates cost milliseconds that a batch worker would spend before its first
    request. A ``Prompt`` is immutable, so sharing one is safe."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise PromptError(f"{path}: not valid TOML: {e}") from e
    try:
        spec = PromptFile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise PromptError(f"{path}: {where}: {first['msg']}") from e
    _validate_templates(spec, path)
    return Prompt(spec=spec, path=path, sha256=hashlib.sha256(raw).hexdigest())


def load_prompt(ref: str) -> Prompt:
    """Load ``name@version`` (``name`` alone means its latest version) or a file path."""
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        path = Path(ref)
        if not path.is_file():
            raise PromptError(f"prompt file not found: {ref}")
        return load_prompt_file(path)
    name, _, version = ref.partition("@")
    available = [p for p in list_prompts() if p.name == name]
    if not available:
        raise PromptError(
            f"unknown prompt {ref!r}; `summarizer prompts list` shows the available ones"
        )
    if not version:
        return available[-1]
    for prompt in available:
        if prompt.version == version:
            return prompt
    versions = ", ".join(p.version for p in available)
    raise PromptError(f"prompt {name!r} has no version {version!r}; it has: {versions}")


def _version_key(prompt: Prompt) -> tuple[int, str]:
    digits = "".join(ch for ch in prompt.version[1:] if ch.isdigit())
    return (int(digits or 0), prompt.version)


def list_prompts() -> list[Prompt]:
    """Every prompt found, by name then version; a packaged copy shadows the checkout."""
    found: dict[tuple[str, str], Prompt] = {}
    for base in prompt_dirs():
        for path in sorted(base.glob("*/*.toml")):
            prompt = load_prompt_file(path)
            if (path.parent.name, path.stem) != (prompt.name, prompt.version):
                raise PromptError(
                    f"{path}: file says {prompt.ref}; it must live at "
                    f"{prompt.name}/{prompt.version}.toml"
                )
            found.setdefault((prompt.name, prompt.version), prompt)
    return sorted(found.values(), key=lambda p: (p.name, _version_key(p)))
