"""The model options that ``summarize``, ``batch`` and ``eval run`` share, and the one
place that turns them into :class:`~summarizer.settings.Settings`.

Typer reads options from a command's signature, so a dozen shared options used to be
declared in full in each command and passed on positionally to a ``_settings``
helper: two lists to keep in step per command. Here each option is declared once, as
a field of :class:`ModelOptions`; a command takes ``options: ModelOptions`` and
:func:`with_model_options` shows typer the fields as options in its place, then
hands the parsed values to the command as one :class:`ModelOptions`.

Nothing here imports a model SDK: these modules load for ``summarizer --version``.

Importing this module also makes ``--help`` show flags without a value placeholder
(see :func:`_flags_take_no_value`); value options name what they take with
``metavar`` where the type alone (``<str>``) says nothing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from summarizer.settings import Settings

R = TypeVar("R")


def _flags_take_no_value() -> None:
    """Show no type after a flag in ``--help``: ``--strict``, not ``--strict <bool>``.

    typer 0.29's rich help prints every option's type in a column of its own, flags
    included, so ``--help``, ``--version`` and every ``--x/--no-x`` read as if they took
    a ``<bool>`` value (its plain help does skip them). The column comes from one
    method, which flags now answer with nothing. Older typers lack the method and
    never showed flags' types: nothing to do there. The CLI imports this module for
    every command, typer's own options (``--help``, completion) included.
    """
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "flags_take_no_value", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        result: str | None = shown(self, ctx)
        return result

    display_type_rich.flags_take_no_value = True  # type: ignore[attr-defined]
    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010


_flags_take_no_value()


class ModeOption(StrEnum):
    """Instructor's modes, as ``--mode`` accepts them."""

    tools = "tools"
    json_schema = "json_schema"
    json = "json"
    md_json = "md_json"


ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="<provider/name>",
        help="provider/name (openai/gpt-4o-mini, ollama/llama3.1, vllm/NAME), a "
        "bare name for --base-url, or local[:PATH.gguf]. Env: SUMMARIZER_MODEL.",
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        metavar="<url>",
        help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1. Env: OPENAI_BASE_URL.",
    ),
]
PromptOpt = Annotated[
    str | None,
    typer.Option(metavar="<name@version|file>", help="NAME@VERSION or a .toml prompt file."),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        help="Fail (exit 41) instead of dropping items whose quotes are not in the article."
    ),
]
ModeOpt = Annotated[
    ModeOption | None,
    typer.Option(help="Instructor mode; default: tools for OpenAI, json_schema elsewhere."),
]
MaxReasksOpt = Annotated[
    int | None, typer.Option(help="Re-asks after an invalid or ungrounded answer.")
]
TemperatureOpt = Annotated[float | None, typer.Option(help="Override the prompt's default.")]
MaxTokensOpt = Annotated[int | None, typer.Option(help="Override the prompt's default.")]
RetriesOpt = Annotated[
    int | None,
    typer.Option(help="Transport retries per request (429, 5xx, timeouts, connection errors)."),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        help="Seconds for each model request as a whole, a slow answer included (default 120)."
    ),
]
RetryMaxWaitOpt = Annotated[
    float | None,
    typer.Option(
        min=0,
        help="Longest wait in seconds before a transport retry, a server's Retry-After "
        "included (default 30).",
    ),
]
ContextWindowOpt = Annotated[
    int | None,
    typer.Option(help="The model's context in tokens, when the built-in table does not know it."),
]
MaxPartsOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Split an article over the context into at most this many parts (default "
        "16; 1: never split).",
    ),
]
# Not a model setting (the cache is the command's business), but shared all the same.
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache", help="Always call the model (answers are cached by default; see `cache`)."
    ),
]


@dataclass(frozen=True)
class ModelOptions:
    """The model options as parsed; ``None`` (or ``False``) means "not given", so the
    environment and then the defaults decide (see :meth:`Settings.resolve`).

    The fields are the options, in the order ``--help`` lists them.
    """

    model: ModelOpt = None
    base_url: BaseUrlOpt = None
    prompt: PromptOpt = None
    strict: StrictOpt = False
    mode: ModeOpt = None
    max_reasks: MaxReasksOpt = None
    temperature: TemperatureOpt = None
    max_tokens: MaxTokensOpt = None
    retries: RetriesOpt = None
    retry_max_wait: RetryMaxWaitOpt = None
    timeout: TimeoutOpt = None
    context_window: ContextWindowOpt = None
    max_parts: MaxPartsOpt = None

    def settings(self) -> Settings:
        """The settings these options ask for (raises ConfigurationError if invalid)."""
        return Settings.resolve(
            context_window=self.context_window,
            max_parts=self.max_parts,
            model=self.model,
            base_url=self.base_url,
            prompt=self.prompt,
            strict=self.strict or None,
            mode=self.mode.value if self.mode else None,
            max_reasks=self.max_reasks,
            max_transport_retries=self.retries,
            retry_max_wait=self.retry_max_wait,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout=self.timeout,
        )


# Resolved once: the fields' annotations are strings (``from __future__ import annotations``).
_OPTION_TYPES = get_type_hints(ModelOptions, include_extras=True)
_OPTIONS = [
    inspect.Parameter(
        f.name,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=f.default,
        annotation=_OPTION_TYPES[f.name],
    )
    for f in fields(ModelOptions)
]

DEFAULT_OPTIONS = ModelOptions()


def with_model_options(command: Callable[..., R]) -> Callable[..., R]:
    """Show typer the fields of :class:`ModelOptions` in place of the command's
    ``ModelOptions`` parameter, and call the command with them gathered into one.

    The parameter needs a default in Python (it follows options that have one); use
    :data:`DEFAULT_OPTIONS`, which typer never sees.
    """
    signature = inspect.signature(command, eval_str=True)
    (name,) = (p.name for p in signature.parameters.values() if p.annotation is ModelOptions)
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        parameters.extend(_OPTIONS if parameter.name == name else [parameter])

    @functools.wraps(command)
    def gather_options(**kwargs: Any) -> R:
        options = ModelOptions(**{p.name: kwargs.pop(p.name) for p in _OPTIONS})
        return command(**kwargs, **{name: options})

    # typer reads both; they must describe the options, not the ModelOptions parameter.
    gather_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    gather_options.__annotations__ = {p.name: p.annotation for p in parameters} | {
        "return": signature.return_annotation
    }
    return gather_options
