"""Option values of plain types turned into Python values without pydantic.

typer 0.29 coerces every option that is not a flag through a pydantic ``TypeAdapter``,
and building the first one imports ``typer._adapters`` (about 0.11 s, a third of the
start-up budget of a command that calls no model). The options of this CLI are plain:
``str``, ``int``, ``float``, ``bool``, ``Path`` and lists of ``str``, some with
``min``/``max``.
Those are converted here, with typer's own messages; anything else (enums, clamps)
still goes to typer. Applied once, when the CLI is imported; ``tests/test_cli.py``
fails loudly if typer's internals move and the adapters come back.
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


def install() -> None:
    """Route plain options past the pydantic adapters; a no-op on a typer without the
    hook (the adapters then do the work, only slower)."""
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
