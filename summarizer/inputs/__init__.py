"""Inputs: article text from a file, stdin, a saved HTML page or a URL.

:func:`read_article` is the one entry point; :mod:`~summarizer.inputs.html` reduces a
page to its article text and :mod:`~summarizer.inputs.fetch` downloads one, bounded.
"""

from summarizer.inputs.read import Article, check_text, decode, read_article

__all__ = ["Article", "check_text", "decode", "read_article"]
