"""``summarizer serve`` (the library as an HTTP service) and ``summarizer keys`` (its keys).

Both are thin: the service is :mod:`summarizer.serve`, imported inside the command
(FastAPI and uvicorn cost a few hundred milliseconds, and are an optional extra:
without ``[serve]`` the command is one line saying how to install it, exit 22).
``keys`` needs no extra. Every option of ``serve`` can also come from an environment
variable (``SUMMARIZER_SERVE_PORT``...), for containers configured by environment
alone; the model comes from ``--model``/``--base-url`` or, as for every command,
``SUMMARIZER_MODEL``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` and the config file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from summarizer.cli.errors import handle_errors
from summarizer.cli.options import BaseUrlOpt, ModelOpt
from summarizer.errors import BackendUnavailableError, ConfigurationError

keys_app = typer.Typer(help="Make and remove the keys `summarizer serve` accepts.",
                       no_args_is_help=True)  # fmt: skip


def _env(name: str) -> str:
    return f"SUMMARIZER_SERVE_{name}"


KeysFileOpt = Annotated[
    Path,
    typer.Option("--keys", metavar="<file>", envvar=_env("KEYS"),
                 help="The keys file (names and hashes; TOML)."),
]  # fmt: skip


@handle_errors(interrupted="summarizer: stopped")
def serve(
    host: Annotated[str, typer.Option(metavar="<address>", envvar=_env("HOST"),
                    help="Address to listen on; 0.0.0.0 for every interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, envvar=_env("PORT"),
                    help="Port (0: any free one, said on stderr).")] = 8080,
    keys: Annotated[Path | None, typer.Option("--keys", metavar="<file>", envvar=_env("KEYS"),
                    help="The keys file (`summarizer keys add NAME --keys FILE`); "
                    "required.")] = None,
    max_inflight: Annotated[int, typer.Option(min=1, envvar=_env("MAX_INFLIGHT"),
                            help="Summaries running at once.")] = 32,
    max_queue: Annotated[int, typer.Option(min=0, envvar=_env("MAX_QUEUE"),
                         help="Summaries waiting for a slot; beyond: 429.")] = 64,
    timeout: Annotated[float, typer.Option(envvar=_env("TIMEOUT"),
                       help="Seconds a summary may take in all; then 504.")] = 120.0,
    max_body: Annotated[str, typer.Option(metavar="<size>", envvar=_env("MAX_BODY"),
                        help="Largest request body, e.g. 2MB, 512KB; beyond: 413.")] = "2MB",
    allow_url: Annotated[bool, typer.Option("--allow-url", envvar=_env("ALLOW_URL"),
                         help="Fetch url inputs (public addresses only).")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, envvar=_env("WORKERS"),
                       help="Processes that summarize; beyond 1, this one keeps the keys, "
                       "limits, metrics and jobs and hands the summaries out.")] = 1,
    grace: Annotated[int, typer.Option(min=0, envvar=_env("GRACE"),
                     help="Seconds summaries in flight get to finish after SIGTERM.")] = 30,
    max_job_body: Annotated[str, typer.Option(metavar="<size>", envvar=_env("MAX_JOB_BODY"),
                            help="Largest body of POST /v1/jobs; beyond: 413.")] = "32MB",
    max_job_articles: Annotated[int, typer.Option(min=1, envvar=_env("MAX_JOB_ARTICLES"),
                                help="Most articles in one job; beyond: 413.")] = 1000,
    job_concurrency: Annotated[int, typer.Option(min=1, envvar=_env("JOB_CONCURRENCY"),
                               help="Articles of the running job summarized at once (one "
                               "job runs at a time; at most --max-inflight).")] = 8,
    job_ttl: Annotated[str, typer.Option(metavar="<duration>", envvar=_env("JOB_TTL"),
                       help="How long a job is kept once it has ended, e.g. 7d, 12h, "
                       "30m; then 404.")] = "7d",
    max_jobs_per_key: Annotated[int, typer.Option(min=1, envvar=_env("MAX_JOBS_PER_KEY"),
                                help="Jobs a key may have kept (any status, until they "
                                "expire); beyond: 429.")] = 250,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    print_openapi: Annotated[bool, typer.Option("--print-openapi",
                             help="Print the OpenAPI document and exit.")] = False,
) -> None:  # fmt: skip
    """Serve summaries over HTTP: POST /v1/summaries and /v1/jobs, with bearer keys and limits."""
    try:
        from summarizer.serve.app import create_app, openapi_document
        from summarizer.serve.run import listen, run
    except ImportError as e:
        raise _missing(e) from e
    if print_openapi:
        typer.echo(json.dumps(openapi_document(), indent=2))
        return
    if keys is None:
        raise ConfigurationError(
            "--keys FILE is required (env SUMMARIZER_SERVE_KEYS); make one with "
            "`summarizer keys add NAME --keys keys.toml`"
        )
    from summarizer import calllog
    from summarizer.serve.auth import KeyRing
    from summarizer.serve.config import ServeConfig, parse_duration, parse_size

    ring = KeyRing.load(keys)
    if not ring.entries:
        raise ConfigurationError(f"keys file {keys} has no keys: `summarizer keys add NAME`")
    config = ServeConfig(
        keys=ring, max_inflight=max_inflight, max_queue=max_queue, timeout=timeout,
        max_body=parse_size(max_body), allow_url=allow_url,
        settings={k: v for k, v in (("model", model), ("base_url", base_url)) if v},
        max_job_body=parse_size(max_job_body, "--max-job-body"),
        max_job_articles=max_job_articles, job_concurrency=job_concurrency,
        job_ttl=parse_duration(job_ttl), max_jobs_per_key=max_jobs_per_key, workers=workers,
    )  # fmt: skip
    # The call log keeps every article and answer; a service's are its clients'.
    calllog.enable(False)
    app = create_app(config)
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"summarizer: serving on http://{shown}:{bound} (model "
        f"{app.state.service.pool.default_summarizer.backend.model}, {len(ring.entries)} key(s), "
        f"--max-inflight {max_inflight}, --max-queue {max_queue}, "
        + (f"{workers} worker processes, " if workers > 1 else "")
        + f"URLs {'allowed' if allow_url else 'refused'})",
        err=True,
    )
    run(app, sock, grace=grace)


_EXTRA = ("fastapi", "starlette", "uvicorn", "prometheus_client")


def _missing(error: ImportError) -> Exception:
    """The one line for a missing ``[serve]`` extra; any other ImportError as it is."""
    if (error.name or "").partition(".")[0] not in _EXTRA:
        return error
    return BackendUnavailableError(
        f"summarizer serve needs the [serve] extra ({error.name} is missing): install "
        "summarizer[serve], e.g. pip install 'summarizer[serve]'"
    )


@keys_app.command("add")
@handle_errors
def keys_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Who the key is for.")],
    keys: KeysFileOpt,
) -> None:
    """Make a key: printed once on stdout, only its hash is stored."""
    from summarizer.serve.auth import add_key

    key = add_key(keys, name)
    typer.echo(key)
    typer.echo(f"summarizer: key {name!r} added to {keys}; it is shown only now", err=True)


@keys_app.command("list")
@handle_errors
def keys_list(keys: KeysFileOpt) -> None:
    """The keys' names (the keys themselves are not stored)."""
    from summarizer.serve.auth import KeyRing

    for name in KeyRing.load(keys).names:
        typer.echo(name)


@keys_app.command("remove")
@handle_errors
def keys_remove(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The key's name.")],
    keys: KeysFileOpt,
) -> None:
    """Remove a key (a running server refuses it within a second)."""
    from summarizer.serve.auth import remove_key

    remove_key(keys, name)
    typer.echo(f"summarizer: key {name!r} removed from {keys}", err=True)
