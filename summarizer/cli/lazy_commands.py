"""Commands that are imported when they are used, not when the CLI starts.

typer imports every registered command's module and turns every command's signature
into click parameters before it runs any one of them: for ``summarizer eval score``
that was a fifth of its start-up (issue #11: at most 0.3 s), spent on ``batch``,
``config``, ``serve``... A :class:`LazyTyper` knows its commands by name and by where
they live (``"module:attribute"``), and its click group imports and builds one only
when it is looked up: to run it, for ``--help`` (which lists every command with its
help line, so it builds them all) and for shell completion. The "did you mean" hint
for a mistyped command needs only the names.

Each command is built by typer's own functions, from the same information
``app.command()`` and ``app.add_typer()`` record, so its options, help and
completion are what they were when the app registered it at import;
``tests/test_startup_imports.py`` compares every command's help and completion with
an app that registers them all at import, and fails if typer's internals move.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import typer
from typer import _click
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


class Lazy(NamedTuple):
    """A command by name: ``target`` is ``"module:attribute"``, a command function or a
    ``typer.Typer`` of sub-commands; ``options`` are what ``app.command(name, ...)``
    (or ``app.add_typer(..., name=name)``) would be given."""

    name: str
    target: str
    options: Mapping[str, Any] = _NO_OPTIONS


class _Settings(NamedTuple):
    """What typer passes down from the top-level app to every command it builds."""

    pretty_exceptions_short: bool
    rich_markup_mode: Any
    suggest_commands: bool


def _target(entry: Lazy) -> Any:
    """The command function or ``typer.Typer`` that ``entry`` names, imported."""
    module, _, attribute = entry.target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _build(entry: Lazy, settings: _Settings) -> _click.Command:
    """The click command of ``entry``, imported and built as typer builds a command (or
    a sub-app) that the app registered at import."""
    target = _target(entry)
    scratch = typer.Typer()  # only to record the entry as typer records a registration
    if isinstance(target, typer.Typer):
        scratch.add_typer(target, name=entry.name, **entry.options)
        group = get_group_from_info(
            scratch.registered_groups[0],
            pretty_exceptions_short=settings.pretty_exceptions_short,
            rich_markup_mode=settings.rich_markup_mode,
            suggest_commands=settings.suggest_commands,
        )
        if isinstance(group, LazyGroup):  # its commands are built as the app's are
            group.settings = settings
        return group
    scratch.command(entry.name, **entry.options)(target)
    return get_command_from_info(
        scratch.registered_commands[0],
        pretty_exceptions_short=settings.pretty_exceptions_short,
        rich_markup_mode=settings.rich_markup_mode,
    )


class _Commands(MutableMapping[str, _click.Command]):
    """A group's commands by name, in the order they are listed: the lazy ones built on
    first access, then any the app registered at import (typer builds those itself)."""

    def __init__(self, group: LazyGroup, built: MutableMapping[str, _click.Command]) -> None:
        self._group = group
        self._lazy = {entry.name: entry for entry in group.lazy if entry.name not in built}
        self._built = dict(built)

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self._built and name in self._lazy:
            self._built[name] = _build(self._lazy[name], self._group.settings)
        return self._built[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self._lazy.pop(name, None)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if self._lazy.pop(name, None) is None or name in self._built:
            del self._built[name]  # KeyError: no such command

    def __iter__(self) -> Iterator[str]:
        yield from self._lazy
        yield from (name for name in self._built if name not in self._lazy)

    def __len__(self) -> int:
        return len(self._lazy) + sum(name not in self._lazy for name in self._built)

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or name in self._built


class LazyGroup(TyperGroup):
    """The click group of a :class:`LazyTyper`: ``commands`` builds a command when it
    is looked up (see the module's docstring)."""

    lazy: Sequence[Lazy] = ()
    settings: _Settings  # set by the LazyTyper that makes it, or by its parent group

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _Commands(self, self.commands)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.commands)  # the names: nothing is built to list them


class LazyTyper(typer.Typer):
    """A ``typer.Typer`` whose commands are :class:`Lazy` entries, listed by ``--help``
    in the order given (commands registered with ``app.command()`` come after them)."""

    def __init__(self, *, commands: Sequence[Lazy], **kwargs: Any) -> None:
        self.lazy = tuple(commands)
        self._kwargs = kwargs
        app = self

        class Group(LazyGroup):
            lazy = app.lazy

            def __init__(self, **group_kwargs: Any) -> None:
                super().__init__(**group_kwargs)
                # The top-level app's own settings; a sub-app gets its parent's (_build).
                self.settings = _Settings(
                    app.pretty_exceptions_short, self.rich_markup_mode, self.suggest_commands
                )

        super().__init__(cls=Group, **kwargs)

    def eager(self) -> typer.Typer:
        """The same app as a plain ``typer.Typer`` with every command registered now
        (their modules imported): for code that reads typer's ``registered_commands``,
        and to check that the lazy app prints what the plain one does. (A plain Typer
        lists commands before sub-apps, whatever the order they were registered in.)"""
        plain = typer.Typer(**self._kwargs)
        plain.registered_callback = self.registered_callback
        for entry in self.lazy:
            target = _target(entry)
            if isinstance(target, LazyTyper):
                target = target.eager()
            if isinstance(target, typer.Typer):
                plain.add_typer(target, name=entry.name, **entry.options)
            else:
                plain.command(entry.name, **entry.options)(target)
        plain.registered_commands += self.registered_commands
        plain.registered_groups += self.registered_groups
        return plain
