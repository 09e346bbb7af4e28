"""``summarizer config show|set|unset|path``: the config file (:mod:`summarizer.config`).

The file is read by :meth:`~summarizer.settings.Settings.resolve`, so it applies to
every command and to the library alike; these commands only look at it and edit it.
``show`` takes the model options too, to show what a command given them would use.
None of them calls a model or imports an SDK.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.options import DEFAULT_OPTIONS, ModelOptions, with_model_options
from summarizer.cli.output import write_output
from summarizer.errors import ConfigurationError

if TYPE_CHECKING:
    from summarizer.config import ConfigFile

config_app = typer.Typer(
    help="The config file: settings every command uses unless a flag or an environment "
    "variable says otherwise.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="For scripts: one JSON object.")]
KeyArg = Annotated[
    str, typer.Argument(metavar="KEY", help="A key, e.g. model (see `summarizer config show`).")
]


def explicit_settings(options: ModelOptions) -> dict[str, Any]:
    """The model options as :meth:`Settings.resolve` takes them (``None``: not given)."""
    return {
        "model": options.model,
        "base_url": options.base_url,
        "prompt": options.prompt,
        "strict": options.strict or None,
        "mode": options.mode.value if options.mode else None,
        "max_reasks": options.max_reasks,
        "max_transport_retries": options.retries,
        "retry_max_wait": options.retry_max_wait,
        "temperature": options.temperature,
        "max_tokens": options.max_tokens,
        "timeout": options.timeout,
        "context_window": options.context_window,
        "max_parts": options.max_parts,
    }


def source_label(source: str) -> str:
    """``explicit`` is a flag on the command line."""
    return "flag" if source == "explicit" else source


def _path() -> Path:
    from summarizer.config import ENV, config_path

    path = config_path()
    if path is None:
        raise ConfigurationError(
            f"no config file: {ENV} is set to the empty string (or there is no home "
            f"directory); set {ENV}=PATH to use one"
        )
    return path


@config_app.command("path")
@handle_errors
def config_path_command() -> None:
    """Print where the config file is ($SUMMARIZER_CONFIG, else under $XDG_CONFIG_HOME or
    ~/.config); it need not exist yet."""
    write_output(str(_path()))


@config_app.command("show")
@handle_errors
@with_model_options
def config_show(as_json: JsonOpt = False, options: ModelOptions = DEFAULT_OPTIONS) -> None:
    """Each setting's effective value and where it came from: flag, env, config or default.

    A bad config file is reported here as it would be by any command (exit 20).
    """
    from summarizer.config import config_path
    from summarizer.config_keys import CONFIG_KEYS
    from summarizer.settings import Settings

    path = config_path()
    settings = Settings.explain(**explicit_settings(options))
    if as_json:
        doc = {
            "config_file": str(path) if path else None,
            "exists": bool(path and path.is_file()),
            "settings": {
                k: {"value": r.value, "source": source_label(r.source)} for k, r in settings.items()
            },
        }
        write_output(json.dumps(doc, indent=2))
        return
    state = "not created yet" if path and not path.exists() else ""
    lines = [f"config file: {path or 'none'}" + (f" ({state})" if state else "")]
    for key, r in settings.items():
        spec = CONFIG_KEYS.get(key)
        value = "-" if r.value is None else json.dumps(r.value)
        source = source_label(r.source)
        if r.value is None and spec and spec.unset:
            source += f": {spec.unset}"
        lines.append(f"{key:<15} {value:<32} {source}")
    write_output("\n".join(lines))


@config_app.command("set")
@handle_errors
def config_set(
    key: KeyArg,
    value: Annotated[
        str, typer.Argument(metavar="VALUE", help="Its value: checked against the key's type.")
    ],
) -> None:
    """Set KEY to VALUE in the config file (the file and its folder are created if
    missing; comments and other keys are kept; a relative path is made absolute from
    here). The value is checked as a run would use it: a prompt must exist, a price
    file must read, a cache folder must be creatable. A file every command refuses is
    not edited: fix it, or `config unset` the bad key."""
    from summarizer.config import edit_config, read_config, toml_value
    from summarizer.config_keys import config_value

    path = _path()
    typed = _usable(key, config_value(key, value))
    file = read_config(path)
    if file is not None:
        _check_others(file, key)
    edit_config(path, key, typed)
    typer.echo(f"{key} = {toml_value(typed)}  ({path})")


def _check_others(file: ConfigFile, key: str) -> None:
    """Raise the error every command would raise for ``file``, ``key`` aside (which
    is about to be replaced), saying how to repair it: a file the reader refuses must
    not be edited into one that still looks fine to ``config set``."""
    from summarizer.config_keys import checked_file

    for name, value in file.data.items():
        if name != key:
            try:
                checked_file(replace(file, data={name: value}))
            except ConfigurationError as e:
                raise ConfigurationError(
                    f"{e}; fix the file first, or `summarizer config unset {name}`"
                ) from e


def _usable(key: str, value: Any) -> Any:
    """``value`` once it is known to work for ``key`` (a prompt file made absolute),
    the checks that need more than the value's type (and modules above settings)."""
    if key == "prompt":
        from summarizer.prompts import load_prompt

        load_prompt(value)  # PromptError (exit 21) says what is wrong and what exists
        if value.endswith(".toml") or "/" in value or "\\" in value:
            return str(Path(value).expanduser().resolve())
    elif key == "prices":
        from summarizer.batch.pricing import read_price_file

        read_price_file(Path(value))
    elif key == "cache_dir":
        _check_creatable(Path(value))
    return value


def _check_creatable(folder: Path) -> None:
    """Raise unless ``folder`` is a folder or can be made one; what is made to find
    out is removed again (the cache makes it on first use)."""
    if folder.exists():
        if not folder.is_dir():
            raise ConfigurationError(f"cache_dir {folder} is not a folder")
        return
    made = []
    try:
        for parent in reversed([folder, *folder.parents]):
            if not parent.exists():
                parent.mkdir()
                made.append(parent)
    except OSError as e:
        raise ConfigurationError(f"cache_dir {folder} cannot be created: {e.strerror or e}") from e
    finally:
        for created in reversed(made):
            with contextlib.suppress(OSError):
                created.rmdir()


@config_app.command("unset")
@handle_errors
def config_unset(key: KeyArg) -> None:
    """Remove KEY from the config file (an unknown key too, to repair a file that
    every command now refuses)."""
    from summarizer.config import edit_config, read_config
    from summarizer.config_keys import CONFIG_KEYS

    path = _path()
    file = read_config(path)
    if file is None or key not in file.data:
        if key not in CONFIG_KEYS:
            raise ConfigurationError(f"unknown key {key!r}; the keys are: {', '.join(CONFIG_KEYS)}")
        typer.echo(f"{key} is not set in {path}")
        return
    edit_config(path, key, None)
    typer.echo(f"removed {key} from {path}")
