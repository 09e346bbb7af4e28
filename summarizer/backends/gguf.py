"""A GGUF file's metadata, read from its header without loading the model, and the
kind of prompt the model it holds is made for.

Which prompt a GGUF gets depends on what kind of model it is (a chat-tuned model
follows instructions through its chat template; a base model continues documents),
and that must be known before anything is loaded: the prompt is part of the cache
key, and a cache hit never loads the model. llama.cpp only tells after a load, and
the ``gguf`` package is not a dependency, so this module reads the header's
key-value section itself (about 0.1 s for a 262,144-token vocabulary, which is
skipped, not kept). Every length is checked against the file, so a truncated or
hostile file is a :class:`GGUFError`, never a huge allocation or a long loop.

The format: ``GGUF``, a uint32 version (2 or 3), uint64 tensor and key-value counts,
then the key-value pairs (a string key, a uint32 type, the value); little-endian,
or big-endian (detected by the version). See
https://github.com/ggml-org/ggml/blob/master/docs/gguf.md.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

PromptStyle = Literal["chat", "completion"]

MAGIC = b"GGUF"
# Value types: the struct format of each fixed-size one; 8 is a string, 9 an array.
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
# Far above any real file (Gemma 3 has 33 keys): a bound on a hostile count.
MAX_KEYS = 1 << 16
# String arrays this short (general.tags, languages) are kept; longer ones skipped.
_KEEP_STRINGS = 64
# Words in a model's names or tags that say how it was trained.
_CHAT_WORDS = frozenset(
    {"it", "instruct", "instruction", "chat", "conversational", "assistant", "rlhf", "sft", "dpo"}
)
_BASE_WORDS = frozenset({"base", "pt", "pretrained", "pretrain", "foundation"})


class GGUFError(ValueError):
    """The file is not a GGUF this reader understands (wrong magic or version, a
    header cut short). Not a user-facing error: the prompt choice then falls back to
    the base-model prompt, and loading the file says what is wrong with it."""


@dataclass(frozen=True)
class ArrayInfo:
    """An array value, skipped: its element type and length only."""

    type: int
    length: int


class _Reader:
    def __init__(self, data: Any) -> None:
        self.data = data
        self.size = len(data)
        self.pos = 0
        self.order = "<"

    def take(self, fmt: str) -> Any:
        try:
            value = struct.unpack_from(self.order + fmt, self.data, self.pos)[0]
        except struct.error:
            raise GGUFError("the header is cut short") from None
        self.pos += struct.calcsize(fmt)
        return value

    def skip(self, size: int) -> None:
        if size < 0 or self.pos + size > self.size:
            raise GGUFError("the header is cut short")
        self.pos += size

    def string(self) -> str:
        length = self.take("Q")
        start = self.pos
        self.skip(length)
        return bytes(self.data[start : self.pos]).decode("utf-8", "replace")

    def value(self, kind: int) -> Any:
        if kind in _FIXED:
            return self.take(_FIXED[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            return self.array()
        raise GGUFError(f"unknown value type {kind}")

    def array(self) -> ArrayInfo | tuple[str, ...]:
        kind = self.take("I")
        length = self.take("Q")
        if kind in _FIXED:
            self.skip(length * struct.calcsize(_FIXED[kind]))
        elif kind == _STRING and length <= _KEEP_STRINGS:
            return tuple(self.string() for _ in range(length))
        elif kind == _STRING:
            self._skip_strings(length)
        elif kind == _ARRAY:
            if length > self.size:  # each element takes at least 12 bytes
                raise GGUFError("the header is cut short")
            for _ in range(length):
                self.array()
        else:
            raise GGUFError(f"unknown array type {kind}")
        return ArrayInfo(kind, length)

    def _skip_strings(self, count: int) -> None:
        """The vocabulary: hundreds of thousands of strings, so a tight loop."""
        if count * 8 > self.size - self.pos:
            raise GGUFError("the header is cut short")
        unpack = struct.Struct(self.order + "Q").unpack_from
        data, pos = self.data, self.pos
        try:
            for _ in range(count):
                pos += 8 + unpack(data, pos)[0]
        except struct.error:
            raise GGUFError("the header is cut short") from None
        if pos > self.size:
            raise GGUFError("the header is cut short")
        self.pos = pos


def read_metadata(path: Path) -> dict[str, Any]:
    """The header's key-value pairs: numbers and strings as values, short string
    arrays as tuples, other arrays as :class:`ArrayInfo`.

    Raises :class:`GGUFError` for anything but a readable GGUF v2/v3 (with the reason),
    and for a file that cannot be opened.
    """
    try:
        stat = path.stat()
    except OSError as e:
        raise GGUFError(f"cannot read {path}: {e.strerror or e}") from e
    return dict(_read_cached(str(path), stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=16)
def _read_cached(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    """Read once per file version: the backend asks for its prompt and its ``meta``."""
    del mtime_ns  # part of the cache key only
    if size < 24:
        raise GGUFError("too short for a GGUF header")
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(data)
    except OSError as e:
        raise GGUFError(f"cannot read {path}: {e.strerror or e}") from e


def _parse(data: Any) -> dict[str, Any]:
    reader = _Reader(data)
    if bytes(data[:4]) != MAGIC:
        raise GGUFError("no GGUF magic number")
    reader.pos = 4
    version = reader.take("I")
    if version > 0xFFFF:  # written big-endian
        reader.order, reader.pos = ">", 4
        version = reader.take("I")
    if version not in (2, 3):
        raise GGUFError(f"GGUF version {version} is not supported")
    reader.take("Q")  # tensor count: the tensors are not read
    count = reader.take("Q")
    if count > MAX_KEYS:
        raise GGUFError(f"{count} metadata keys")
    metadata: dict[str, Any] = {}
    for _ in range(count):
        key = reader.string()
        metadata[key] = reader.value(reader.take("I"))
    return metadata


def chat_template(metadata: dict[str, Any]) -> str | None:
    """The model's default chat template, if its file carries one."""
    template = metadata.get("tokenizer.chat_template")
    return template if isinstance(template, str) and template.strip() else None


def _words(metadata: dict[str, Any], filename: str) -> set[str]:
    texts = [filename.rsplit(".", 1)[0]]
    for key in ("general.name", "general.finetune", "general.basename"):
        if isinstance(metadata.get(key), str):
            texts.append(metadata[key])
    tags = metadata.get("general.tags")
    if isinstance(tags, tuple):
        texts.extend(tags)
    words: set[str] = set()
    for text in texts:
        for sep in "-_./:,()[]":
            text = text.replace(sep, " ")
        words.update(text.lower().split())
    return words


def prompt_style(metadata: dict[str, Any], filename: str) -> tuple[PromptStyle, str]:
    """``"chat"`` or ``"completion"`` for a GGUF, and why, in a few words.

    * no chat template: a document to continue (``completion``); llama.cpp would
      otherwise fall back to a format the model was never trained on;
    * a template, and the names or tags say instruction/chat-tuned (``-it``,
      ``Instruct``, ``chat``): ``chat``;
    * a template, and the names say base (``Base``, ``pt``): ``completion``, since
      base GGUFs often carry their family's template too;
    * a template, and the names say neither: ``chat``. Chat models often carry no
      such word (Qwen3-4B, phi-4, the DeepSeek-R1 distills) while base releases
      usually say ``Base``/``pt``; ``--prompt`` overrides a wrong guess.
    """
    if chat_template(metadata) is None:
        return "completion", "the GGUF has no chat template"
    words = _words(metadata, filename)
    if words & _CHAT_WORDS:
        return "chat", "the GGUF has a chat template and its name says chat/instruct-tuned"
    if words & _BASE_WORDS:
        return "completion", "the GGUF has a chat template but its name says base model"
    return "chat", "the GGUF has a chat template (its name does not say base model)"
