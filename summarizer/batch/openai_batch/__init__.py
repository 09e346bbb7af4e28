"""The provider's Batch API as a batch engine (``summarizer batch --engine
openai-batch``); see :mod:`summarizer.batch.openai_batch.engine`."""

from summarizer.batch.openai_batch.engine import OpenAIBatchEngine
from summarizer.batch.openai_batch.job import EngineStats, Limits
from summarizer.batch.openai_batch.manifest import manifest_path, running

__all__ = ["EngineStats", "Limits", "OpenAIBatchEngine", "manifest_path", "running"]
