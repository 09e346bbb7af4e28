"""The installed distribution's version, in a module of its own so that reading it
imports nothing else (``summarizer --version`` must start fast)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("summarizer")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
