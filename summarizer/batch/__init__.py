"""Many articles at once: inputs, scheduling, worker processes, rate limits, the
results file and its cost ledger. See :mod:`summarizer.batch.runner`."""
