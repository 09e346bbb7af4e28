"""Option values of plain types turned into Python values without pydantic.

typer 0.29 coerces every option that is not a flag through a pydantic ``TypeAdapter``,
and building the first one imports ``typer._adapters`` (about 0.11 s, a third of the
start-up budget of a command that calls no model). The options of this CLI are plain:
``str``, ``int``, ``float``, ``bool``, ``Path`` and lists of ``str``, some with
``min``/``max``.
Those are converted here, with typer's own messages; anything else (enums, clamps)
still goes to typer. Applied once, when the CLI is imported; ``tests/test_cli.py``
fails loudly if typer's internals move and the adapters come back.

``--help`` shows a positional list the way it is given, as ``INPUTS...``, not as
typer 0.29 shows it (``inputs... <list[str]>``, a Python type): see
:func:`_list_arguments_by_name`.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TRUTH = {
    **dict.fromkeys(("true", "1", "yes", "on", "t", "y"), True),
    **dict.fromkeys(("false", "0", "no", "off", "f", "n"), False),
}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return _TRUTH[str(value).strip().lower()]  # KeyError: not a boolean


_PLAIN: dict[Any, Callable[[Any], Any]] = {
    str: str, int: int, float: float, Path: Path, bool: _boolean,
}  # fmt: skip
_KIND = {int: "a valid integer", float: "a valid number", _boolean: "a valid boolean"}


def _converter(annotation: Any) -> tuple[Callable[[Any], Any], bool] | None:
    """The conversion for ``annotation`` and whether it is a list, or ``None``."""
    if annotation in _PLAIN:
        return _PLAIN[annotation], False
    if typing.get_origin(annotation) is list and typing.get_args(annotation) == (str,):
        return str, True
    return None


def _list_arguments_by_name() -> None:
    """Show a positional list in ``--help`` by its name in capitals: ``INPUTS...``.

    typer 0.29 prints it as ``inputs... <list[str]>`` (an argument with a ``metavar``
    even loses its ``...``), the Python annotation where the reader wants to know what
    to type. The name now reads ``INPUTS...`` in the arguments panel, ``{INPUTS}...``
    in the usage line and ``'INPUTS'`` in a "Missing argument" error, and no type is
    shown. A ``metavar`` given for the list is its name (upper-cased). Older typers
    lack the hooks: nothing to do there.
    """
    try:
        from typer.core import TyperArgument
    except ImportError:  # pragma: no cover - another typer
        return
    if getattr(TyperArgument, "summarizer_lists", False):
        return
    named = getattr(TyperArgument, "display_name_raw", None)
    shown = getattr(TyperArgument, "display_type_rich", None)
    if not isinstance(named, property) or named.fget is None or shown is None:
        return  # pragma: no cover - another typer
    raw, init = named.fget, TyperArgument.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if self.nargs == -1:  # typer adds "..." itself only without a metavar
            self.summarizer_name = str(self.metavar or self.name or "").upper()
            self.metavar = None

    def display_name_raw(self: Any) -> str:
        name: str = getattr(self, "summarizer_name", None) or raw(self)
        return name

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "summarizer_name", None):
            return None
        result: str | None = shown(self, ctx)
        return result

    TyperArgument.__init__ = __init__  # type: ignore[method-assign]
    setattr(TyperArgument, "display_name_raw", property(display_name_raw))  # noqa: B010
    setattr(TyperArgument, "display_type_rich", display_type_rich)  # noqa: B010
    TyperArgument.summarizer_lists = True  # type: ignore[attr-defined]


def install() -> None:
    """Route plain options past the pydantic adapters, and name positional lists in
    ``--help`` (:func:`_list_arguments_by_name`); the former is a no-op on a typer
    without the hook (the adapters then do the work, only slower)."""
    _list_arguments_by_name()
    try:
        from typer import _coercion, core
        from typer._click.exceptions import BadParameter
    except ImportError:  # pragma: no cover - another typer
        return
    if getattr(core.build_runtime_param, "summarizer_plain", False):  # type: ignore[attr-defined]
        return
    real = core.build_runtime_param  # type: ignore[attr-defined]
    base: Any = _coercion.RuntimeParam

    @dataclass(frozen=True)
    class PlainRuntimeParam(base):  # type: ignore[misc]
        convert: Callable[[Any], Any] = str
        many: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.many:
                return [self._one(v, param, ctx) for v in value]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, str) or not isinstance(value, (int, float, Path)):
                try:
                    value = self.convert(value.strip() if self.convert in _KIND else value)
                except (TypeError, ValueError, KeyError):
                    kind = _KIND.get(self.convert, "valid")
                    raise BadParameter(
                        f"Input should be {kind}, unable to parse {value!r}", ctx=ctx, param=param
                    ) from None
            info = self.parameter_info
            low, high = getattr(info, "min", None), getattr(info, "max", None)
            if low is not None and value < low:
                raise BadParameter(
                    f"Input should be greater than or equal to {low}", ctx=ctx, param=param
                )
            if high is not None and value > high:
                raise BadParameter(
                    f"Input should be less than or equal to {high}", ctx=ctx, param=param
                )
            return value

    def build(descriptor: Any) -> Any:
        plain = _converter(descriptor.annotation)
        info = descriptor.parameter_info
        if plain is None or descriptor.file_annotation is not None or getattr(info, "clamp", False):
            return real(descriptor)
        convert, many = plain
        return PlainRuntimeParam(
            annotation=descriptor.annotation, parameter_info=info, convert=convert, many=many
        )

    build.summarizer_plain = True  # type: ignore[attr-defined]
    core.build_runtime_param = build  # type: ignore[attr-defined]
