"""The version, in a module of its own so that reading it imports nothing else
(``summarizer --version`` must start fast). pyproject.toml reads it from here
(``[tool.hatch.version]``): one place to change it, and no importlib.metadata at
start, which cost 21 ms per command."""

__version__ = "0.1.0"
