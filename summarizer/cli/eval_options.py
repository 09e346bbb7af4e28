"""The options the ``eval`` commands share: which dataset and which of its articles
(``--dataset/-d``, ``--only``, ``--limit``), and the gates of ``run`` and ``score``.

They are declared once, here, so that they are spelled and mean the same in
``check``, ``baseline``, ``score`` and ``run``: the dataset used to be an argument of
one command, ``--golden`` of another and ``--dataset`` of the rest, and ``--limit``
existed in two. A command takes ``selection: Selection`` and :func:`with_selection`
shows typer the three options in its place (as
:func:`~summarizer.cli.options.with_model_options` does for the model options). The
old spellings keep working, hidden from ``--help``, with a one-line notice on stderr,
so that scripts do not break.

Nothing here imports the goldens or the scorer: ``summarizer --version`` loads this.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, get_type_hints

import typer
from typer.core import TyperCommand

from summarizer.cli import verbosity

R = TypeVar("R")

DatasetOpt = Annotated[
    Path | None,
    typer.Option(
        "--dataset",
        "-d",
        help="Dataset folder: articles/<id>.txt (or .html) and golden/<id>.json. Required.",
        show_default=False,
    ),
]
OnlyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        metavar="ID[,ID]",
        help="Only these article ids (--only a,b or --only a --only b).",
        show_default=False,
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=1,
        metavar="N",
        help="Only the first N articles, in id order (after --only): the same N in every "
        "eval command.",
        show_default=False,
    ),
]
# The old spellings, hidden from --help and still accepted (with a notice).
LegacyArgument = Annotated[Path | None, typer.Argument(hidden=True, metavar="DATASET")]
LegacyGolden = Annotated[Path | None, typer.Option("--golden", hidden=True)]

BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        help="A previous report.json (or the run folder holding it) to compare with, on "
        "the articles both scored: fail (exit 50) on a drop over --max-drop (exit 51 if "
        "it has no scores or none of these articles). The comparison goes in report.json."
    ),
]
MaxDropOpt = Annotated[
    float,
    typer.Option(help="Fail (exit 50) if overall or a section drops more than this."),
]
GateFloorOpt = Annotated[
    bool,
    typer.Option(
        "--gate-floor",
        help="Fail (exit 50) if overall or a section scores below the lead baseline.",
    ),
]


class HiddenArgumentCommand(TyperCommand):
    """A command whose usage line leaves out hidden arguments, as ``--help`` does
    (typer hides them from the list but still shows them in ``Usage:``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not getattr(param, "hidden", False):
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class Selection(NamedTuple):
    """The dataset and the articles of it a command works on, as the options gave them.

    (A named tuple, not a dataclass: this module loads for ``summarizer --version``.)
    """

    dataset: Path
    only: list[str] | None = None
    limit: int | None = None

    def ids(self, *, need_golden: bool = False) -> list[str]:
        """The selected ids (see :func:`summarizer.evals.goldens.select_ids`)."""
        from summarizer.evals.goldens import select_ids

        return select_ids(self.dataset, self.only, limit=self.limit, need_golden=need_golden)

    def flags(self) -> str:
        """The options that select the same articles again, for a hint to print."""
        only = f" --only {','.join(self.only)}" if self.only else ""
        limit = f" --limit {self.limit}" if self.limit is not None else ""
        return f"--dataset {self.dataset}{only}{limit}"

    def run_info(self) -> dict[str, Any]:
        """What a report records of the selection, to tell a subset's means from the
        whole dataset's."""
        return {"only": self.only, "limit": self.limit}


def parse_only(values: list[str] | None) -> list[str] | None:
    """``--only`` values, comma-separated or repeated, as ids; ``None`` when not given.
    Given but naming no id (``--only ""``) is an empty list, which selects nothing and
    fails, rather than everything."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


Legacy = Literal["argument", "--golden"]

_LEGACY_NAME = "legacy_dataset"
_LEGACY_SPELLING = {"argument": "the DATASET argument", "--golden": "--golden"}


def _parameters(legacy: Legacy | None) -> list[inspect.Parameter]:
    def parameter(name: str, annotation: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                 annotation=annotation)  # fmt: skip

    hints = get_type_hints(_Hints, include_extras=True)
    params = [parameter("dataset", hints["dataset"])]
    if legacy is not None:
        params.append(
            parameter(_LEGACY_NAME, hints["argument" if legacy == "argument" else "golden"])
        )
    return [*params, parameter("only", hints["only"]), parameter("limit", hints["limit"])]


class _Hints:
    """The option types, resolved once (annotations are strings in this module)."""

    dataset: DatasetOpt
    argument: LegacyArgument
    golden: LegacyGolden
    only: OnlyOpt
    limit: LimitOpt


_CONTEXT = "selection_context"
_HINT = "'--dataset' / '-d'"


def _dataset(
    ctx: typer.Context, dataset: Path | None, legacy_value: Path | None, legacy: Legacy | None
) -> Path:
    """The one dataset the options name; a usage error (exit 2) when none, or two."""
    if legacy is not None and legacy_value is not None:
        verbosity.notice(  # silenced by -q, as every notice
            f"warning: {_LEGACY_SPELLING[legacy]} is deprecated; use --dataset (-d) DATASET"
        )
        if dataset is not None and dataset != legacy_value:
            raise typer.BadParameter(
                f"two datasets, {dataset} and {legacy_value}; pass one, with --dataset",
                ctx=ctx,
                param_hint=_HINT,
            )
        return legacy_value
    if dataset is None:
        raise typer.BadParameter(
            "missing; pass the dataset folder (articles/ and golden/), e.g. -d evals/wikinews",
            ctx=ctx,
            param_hint=_HINT,
        )
    return dataset


def with_selection(
    *, legacy: Legacy | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Show typer ``--dataset/-d``, ``--only`` and ``--limit`` (and the hidden
    ``legacy`` spelling of the dataset) in place of the command's ``Selection``
    parameter, and call the command with them gathered into one :class:`Selection`.

    Put it above :func:`~summarizer.cli.errors.handle_errors`: a missing dataset is a
    usage error, which typer reports (exit 2, with the usage) as it does a bad option.
    """

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(command, eval_str=True)
        (name,) = (p.name for p in signature.parameters.values() if p.annotation is Selection)
        # typer passes the click context to a parameter of this type, whatever its name.
        context = inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY,
                                    annotation=typer.Context)  # fmt: skip
        mine = [context, *_parameters(legacy)]
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            parameters.extend(mine if parameter.name == name else [parameter])
        # Keyword-only, so that the options keep their order whatever their defaults.
        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters]

        @functools.wraps(command)
        def gather_selection(**kwargs: Any) -> R:
            dataset = _dataset(
                kwargs.pop(_CONTEXT),
                kwargs.pop("dataset"),
                kwargs.pop(_LEGACY_NAME, None),
                legacy,
            )
            selection = Selection(dataset, parse_only(kwargs.pop("only")), kwargs.pop("limit"))
            return command(**kwargs, **{name: selection})

        # typer reads both; they must describe the options, not the Selection parameter.
        gather_selection.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        gather_selection.__annotations__ = {p.name: p.annotation for p in parameters} | {
            "return": signature.return_annotation
        }
        return gather_selection

    return decorate
