"""The command line: a thin layer over the public library API (see :mod:`summarizer`)."""

from summarizer.cli.app import app, run

__all__ = ["app", "run"]
