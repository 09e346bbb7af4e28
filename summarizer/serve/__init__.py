"""``summarizer serve``: the library as an HTTP service (the ``[serve]`` extra).

Two kinds of route do the work: ``POST /v1/summaries`` (one article, answered at
once) and ``/v1/jobs`` (many, on the batch engine, read back later), through the same
:class:`~summarizer.pipeline.Summarizer`, settings resolution, prompts and answer
cache as the command line, so a summary from the service and one from
``summarizer summarize`` are the same document. What only a network service needs
lives here, one concept a module:

* :mod:`~summarizer.serve.config`: the service's own settings (limits, keys, URL policy);
* :mod:`~summarizer.serve.auth`: bearer keys, stored as hashes, re-read when the file changes;
* :mod:`~summarizer.serve.limits`: requests in flight and waiting, the body size cap;
* :mod:`~summarizer.serve.errors`: one error shape, the CLI's error classes;
* :mod:`~summarizer.serve.ssrf`: which addresses a URL may lead the server to;
* :mod:`~summarizer.serve.metrics`: Prometheus metrics;
* :mod:`~summarizer.serve.pool`: one reusable ``Summarizer`` per settings a request asks for;
* :mod:`~summarizer.serve.service`: what one process holds (the above, draining, readiness);
* :mod:`~summarizer.serve.readiness`: whether the model endpoint answers (for ``/readyz``);
* :mod:`~summarizer.serve.summaries`: the summaries route;
* :mod:`~summarizer.serve.jobs_requests`, :mod:`~summarizer.serve.jobs_store`,
  :mod:`~summarizer.serve.jobs_runner`, :mod:`~summarizer.serve.jobs_routes`: a job's
  request, its files beside the cache, running it on the batch engine, its routes;
* :mod:`~summarizer.serve.app`: the FastAPI app (``create_app``), health, the request log;
* :mod:`~summarizer.serve.run`: running it under uvicorn, draining on SIGTERM.

Only this package imports FastAPI, uvicorn and prometheus-client (an import-linter
contract in pyproject.toml), and this ``__init__`` imports none of them, so that
``summarizer keys add`` (:mod:`~summarizer.serve.auth`) works without the extra.
"""
