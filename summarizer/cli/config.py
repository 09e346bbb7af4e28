"""``summarizer config show|set|unset|path``: the config file (:mod:`summarizer.config`).

The file is read by :meth:`~summarizer.settings.Settings.resolve`, so it applies to
every command and to the library alike; these commands only look at it and edit it.
``show`` takes the model options too, to show what a command given them would use.
None of them calls a model or imports an SDK.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.options import DEFAULT_OPTIONS, ModelOptions, with_model_options
from summarizer.cli.output import write_output
from summarizer.errors import ConfigurationError

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
    from summarizer.settings import CONFIG_KEYS, Settings

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
    missing; comments and other keys are kept)."""
    from summarizer.config import edit_config, toml_value
    from summarizer.settings import config_value

    path = _path()
    typed = config_value(key, value)
    edit_config(path, key, typed)
    typer.echo(f"{key} = {toml_value(typed)}  ({path})")


@config_app.command("unset")
@handle_errors
def config_unset(key: KeyArg) -> None:
    """Remove KEY from the config file (an unknown key too, to repair a file that
    every command now refuses)."""
    from summarizer.config import edit_config, read_config
    from summarizer.settings import CONFIG_KEYS

    path = _path()
    file = read_config(path)
    if file is None or key not in file.data:
        if key not in CONFIG_KEYS:
            raise ConfigurationError(f"unknown key {key!r}; the keys are: {', '.join(CONFIG_KEYS)}")
        typer.echo(f"{key} is not set in {path}")
        return
    edit_config(path, key, None)
    typer.echo(f"removed {key} from {path}")
